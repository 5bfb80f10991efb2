/**
 * The Foolprint service: the API contract (app/api) implemented on the core, in one Node process.
 * Every host adapts it to its transport (Electron IPC in main/electron, HTTP in main/server, direct
 * calls in tests): `invoke(method, input)` validates the input with the contract's schema (an
 * 'invalid-input' ApiError names the field), runs the method, and maps failures to one-line
 * ApiErrors; `subscribe(event, handler)` delivers onProgress / onJobFinished / onFrameAnalyzed.
 *
 * It owns the compute pools (one per model, opened on first use, reused; plus a one-worker "live"
 * pool per model for the live view's crops, so they never wait behind a running attack), the jobs (progress,
 * cancel) and the experiments on disk (app/node/experiment-store.ts). Inside an experiment folder:
 *   images/<runId>/     an attack run: record.json + clean/adversarial/perturbation PNGs + run.json
 *   sheets/<setId>/     sheet.pdf, sheet[-n].png, sheet[-n].manifest.json, sheet-set.json
 *   captures/<id>/      photo.<ext>, analysis.json (PhotoAnalysis with crops), capture.json
 *   results/            sweeps and compare exports (CSV, JSON, HTML)
 * Calibration sheets and channel profiles sit beside the experiments, in calibration/ (service-calibration.ts).
 * Jobs on one experiment run one after another (the store allows one run at a time per experiment).
 */
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readFile, readdir, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { apiMethods, isApiMethodName } from '../api/methods.js';
import type { ApiMethodName, ApiOutput, ApiParsedInput } from '../api/methods.js';
import type { ApiEventName, ApiEventPayload } from '../api/events.js';
import { ApiError, describeZodError } from '../api/errors.js';
import { describeInvalidInput } from '../api/invalid-input.js';
import type { ApiTransport } from '../api/client.js';
import type { ModelInfo } from '../api/models.js';
import type { ExperimentInfo as ApiExperimentInfo } from '../api/experiments.js';
import type { AttackRun, EpsilonSummary } from '../api/attacks.js';
import type { AttackOptions, AttackResult } from '../attacks/types.js';
import { EOT_METHODS, methodLabel } from '../attacks/method-label.js';
import { summarizeAttack, topKAccuracy } from '../eval/summary.js';
import { parseManifest, listBuiltinModels, loadClassifier, MANIFEST_FILE as MODEL_MANIFEST_FILE, repoRoot } from './model-loader.js';
import { UPLOADED_MODELS_DIR, describeUploadFailure, installStagedModel, modelIdFromName, removeStaleStaging, stageModelFiles, uniqueModelId } from './model-upload.js';
import { ModelError } from '../models/errors.js';
import type { ModelSource } from '../models/source.js';
import { modelManifestSchema, suggestedEpsilons } from '../models/manifest.js';
import type { ModelManifest } from '../models/manifest.js';
import { ComputePool } from './compute-pool.js';
import type { BackendName } from './backend.js';
import { ExperimentNotFoundError, openWorkspace } from './experiment-store.js';
import type { Experiment, ExperimentInfo as StoreExperimentInfo, Workspace } from './experiment-store.js';
import { writeJsonAtomic } from './atomic-write.js';
import { confinedPath } from './confined-path.js';
import { WorkspaceLockedError, acquireWorkspaceLock } from './workspace-lock.js';
import type { WorkspaceLock } from './workspace-lock.js';
import { JobTable, isCancellation, oneLine } from './service-jobs.js';
import type { JobContext } from './service-jobs.js';
import { describeSelection, loadSelection, pngDataUrl, bytesDataUrl } from './service-images.js';
import type { ParsedImageSelection } from './service-images.js';
import { writeAttackFiles } from './attack-files.js';
import { perturbationAmplification } from './png-encode.js';
import { parseAttackRecord } from '../experiments/attack-record.js';
import { createPhysicalHandlers } from './service-physical.js';
import { createCalibrationHandlers } from './service-calibration.js';
import { createTrainingHandlers } from './service-training.js';
import { createDefenseHandlers } from './service-defenses.js';
import { idSchema } from '../api/common.js';
import type { StoredDetector } from '../defenses/stored-detector.js';
import { DefenseWorker } from './defense-jobs.js';
import { ProtectedPool, StoredDetectorCache } from './protected-pool.js';
import type { ModelPool } from './protected-pool.js';

export interface FoolprintServiceOptions {
  /** The experiment workspace folder (created if missing). */
  workspaceDir: string;
  /** Which host serves the API (system.info reports it). Default 'direct'. */
  host?: 'electron' | 'browser' | 'direct';
  /** Worker threads per compute pool (default: the pool's own default, 2 or the core count). */
  workers?: number;
  /** Force a TF.js backend in every pool. */
  backend?: BackendName;
  /** Validate every answer against the contract's output schema too (tests; costs a parse per call). */
  checkOutputs?: boolean;
}

export interface FoolprintService extends ApiTransport {
  invoke(method: ApiMethodName, input: unknown): Promise<unknown>;
  subscribe(event: ApiEventName, handler: (payload: unknown) => void): () => void;
  /** Cancels running jobs and closes every compute pool. */
  close(): Promise<void>;
  /** TF.js tensor counts of every open pool's workers, by model id (tests check nothing leaks). */
  memory(): Promise<Record<string, number[]>>;
}

export type Handlers = { [M in ApiMethodName]: (input: ApiParsedInput<M>) => Promise<ApiOutput<M>> };

/** What the feature handlers share. */
export interface ServiceCore {
  readonly options: FoolprintServiceOptions;
  readonly jobs: JobTable;
  emit<E extends ApiEventName>(event: E, payload: ApiEventPayload<E>): void;
  workspace(): Promise<Workspace>;
  experiment(id: string): Promise<Experiment>;
  /** Runs `body` as a run of the experiment, after the experiment's earlier jobs (the store allows one run at a time). */
  inExperimentRun<T>(experiment: Experiment, kind: string, body: () => Promise<T>): Promise<T>;
  /** The model's pool; for a protected model (a detector's id) its base model's pool behind the detector. */
  pool(modelId: string): Promise<ModelPool>;
  /** A one-worker pool of the model for direct, latency-bound calls (capture.classifyCrops); a protected model's base is not screened here. */
  livePool(modelId: string): Promise<ComputePool>;
  modelInfo(modelId: string): Promise<ModelInfo>;
  runFolder(experiment: Experiment, runId: string): string;
}

/** How a second writer is told who holds the workspace. */
export function workspaceLockOwner(host: FoolprintServiceOptions['host']): string {
  return host === 'browser' ? 'foolprint serve (browser mode)' : host === 'electron' ? 'the Foolprint desktop app' : 'a Foolprint process';
}

export const newId = (prefix: string): string => `${prefix}-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}-${randomBytes(3).toString('hex')}`;

/** Imported models; `manifest` is the one the loader inferred for a folder without foolprint.json (we never write into the user's folder). */
const importedModelsSchema = z.array(z.object({ id: z.string(), folder: z.string(), manifest: modelManifestSchema.optional() }));
type ImportedModel = z.infer<typeof importedModelsSchema>[number];
const IMPORTED_MODELS_FILE = '.foolprint-models.json';

/** Subfolders of `dir` that hold `file`, oldest name first (ids start with a timestamp). */
export async function foldersWith(dir: string, file: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory() && existsSync(path.join(dir, e.name, file))).map((e) => e.name).sort();
}

function attackOptionsFrom(params: ReturnType<typeof apiMethods['attacks.start']['input']['parse']>['params'], count: number, numClasses: number, keepImages: boolean): AttackOptions {
  const { targetClass, ...rest } = params;
  if (params.eot && !EOT_METHODS.includes(params.method)) throw new ApiError('invalid-input', `params.eot: robust-to-print (EOT) applies to ${EOT_METHODS.join(', ')}, not ${params.method}`);
  const options: AttackOptions = { ...rest, keepImages };
  for (const key of Object.keys(options) as (keyof AttackOptions)[]) if (options[key] === undefined) delete options[key];
  if (targetClass !== undefined) {
    if (targetClass >= numClasses) throw new ApiError('invalid-input', `params.targetClass: ${targetClass} is not a class of this model (0..${numClasses - 1})`);
    if (params.method === 'll' || params.method === 'deepfool') throw new ApiError('invalid-input', `params.targetClass: ${params.method} chooses its own target; leave targetClass out`);
    options.criterion = { kind: 'targeted', targets: new Int32Array(count).fill(targetClass) };
  }
  return options;
}

/** "BIM", "LL", … as the progress texts name a method. */
const methodTitle = (method: string): string => (method === 'll' ? 'Least-likely' : method.toUpperCase());
/** ε in grey levels, as the Attack screen writes it: "8/255", "25.5/255". */
const epsilonLevels = (epsilon: number): string => `${Number((epsilon * 255).toFixed(2))}/255`;

/** Per ε what the API reports: accuracy and norms, and for iterative methods the schedule really run. */
function epsilonSummaries(result: AttackResult, summary: ReturnType<typeof summarizeAttack>): EpsilonSummary[] {
  return summary.perEpsilon.map(({ epsilon, float, quantized }, e) => {
    const { steps, stepSize } = result.perEpsilon[e];
    return { epsilon, float, quantized, ...(steps !== undefined && stepSize !== undefined && result.method !== 'deepfool' ? { steps, stepSize } : {}) };
  });
}

export function createFoolprintService(options: FoolprintServiceOptions): FoolprintService {
  const listeners = new Map<ApiEventName, Set<(payload: unknown) => void>>();
  const emit = <E extends ApiEventName>(event: E, payload: ApiEventPayload<E>) => {
    for (const handler of listeners.get(event) ?? []) {
      try {
        handler(payload);
      } catch {
        // A failing listener must not break the job that emitted.
      }
    }
  };
  const jobs = new JobTable(emit);
  const pools = new Map<string, Promise<ComputePool>>();
  const livePools = new Map<string, Promise<ComputePool>>();
  /** Per protected model (detector id), the defense worker that screens its inputs. */
  const screeners = new Map<string, DefenseWorker>();
  const detectors = new StoredDetectorCache();
  const experimentQueues = new Map<string, Promise<unknown>>();
  let workspacePromise: Promise<Workspace> | null = null;
  let uploads: Promise<unknown> = Promise.resolve();
  let closed = false;

  // One writer per workspace (workspace-lock.ts): taken on first use, shared with the host in this process, released by close().
  let lockPromise: Promise<WorkspaceLock> | null = null;
  const lockWorkspace = (): Promise<WorkspaceLock> => {
    if (!lockPromise) {
      const pending = acquireWorkspaceLock(options.workspaceDir, workspaceLockOwner(options.host));
      lockPromise = pending;
      // Refused: ask again next time (the other writer may have closed).
      pending.catch(() => void (lockPromise === pending && (lockPromise = null)));
    }
    return lockPromise.catch((error: unknown) => {
      throw error instanceof WorkspaceLockedError ? new ApiError('failed', error.message) : error;
    });
  };
  const workspace = (): Promise<Workspace> => {
    if (!workspacePromise) {
      const pending = lockWorkspace().then(() => openWorkspace(options.workspaceDir));
      workspacePromise = pending;
      pending.catch(() => void (workspacePromise === pending && (workspacePromise = null)));
    }
    return workspacePromise;
  };
  const importedFile = () => path.join(path.resolve(options.workspaceDir), IMPORTED_MODELS_FILE);

  async function importedModels(): Promise<ImportedModel[]> {
    const text = await readFile(importedFile(), 'utf8').catch(() => null);
    if (text === null) return [];
    const parsed = importedModelsSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : [];
  }

  /**
   * The detector a protected model's id names: detectors/<id>/detector.json in the workspace (written by
   * defenses.detect, or a `foolprint detect --out` folder put there). Null for any other model id.
   */
  async function protectingDetector(modelId: string): Promise<StoredDetector | null> {
    if (listBuiltinModels().some((m) => m.id === modelId) || !idSchema.safeParse(modelId).success) return null;
    const file = path.join(path.resolve(options.workspaceDir), 'detectors', modelId, 'detector.json');
    try {
      const detector = await detectors.get(file);
      return detector && !(await importedModels()).some((m) => m.id === modelId) ? detector : null;
    } catch (error) {
      throw new ApiError('invalid-input', oneLine(error));
    }
  }
  const detectorIds = async (): Promise<string[]> => (await readdir(path.join(path.resolve(options.workspaceDir), 'detectors')).catch(() => [] as string[])).sort();

  async function modelSource(modelId: string): Promise<{ source: ModelSource; folder: string; kind: 'builtin' | 'imported'; inferred?: ModelManifest }> {
    const detector = await protectingDetector(modelId);
    if (detector) return modelSource(detector.modelId);
    const builtin = listBuiltinModels().find((m) => m.id === modelId);
    if (builtin) return { source: { kind: 'builtin', id: modelId }, folder: builtin.folder, kind: 'builtin' };
    const imported = (await importedModels()).find((m) => m.id === modelId);
    if (imported) return { source: { kind: 'folder', path: imported.folder }, folder: imported.folder, kind: 'imported', inferred: imported.manifest };
    throw new ApiError('not-found', `no model "${modelId}": use models.list for the built-in and imported ones`);
  }

  function openPool(table: Map<string, Promise<ComputePool>>, modelId: string, workers: number | undefined): Promise<ComputePool> {
    if (closed) return Promise.reject(new ApiError('failed', 'the service is closed'));
    let pending = table.get(modelId);
    if (!pending) {
      pending = modelSource(modelId).then(({ source }) => ComputePool.create({ model: source, workers, backend: options.backend }));
      table.set(modelId, pending);
      pending.catch(() => table.delete(modelId));
    }
    return pending;
  }
  // A protected model shares its base model's workers; the wrapper screens what they classify, on
  // the protected model's defense worker, which lives as long as the service (closed by close()).
  const pool = async (modelId: string): Promise<ModelPool> => {
    const detector = await protectingDetector(modelId);
    if (!detector) return openPool(pools, modelId, options.workers);
    const base = await openPool(pools, detector.modelId, options.workers);
    const source = (await modelSource(detector.modelId)).source;
    if (closed) throw new ApiError('failed', 'the service is closed');
    let screener = screeners.get(modelId);
    if (!screener) screeners.set(modelId, (screener = new DefenseWorker()));
    return new ProtectedPool(base, detector, source, { ...(options.backend ? { backend: options.backend } : {}), ownsPool: false, screener });
  };
  // A pool runs its requests one after another: a live frame queued behind a minute-long attack would
  // freeze the live view, so live crops get a worker of their own.
  const livePool = async (modelId: string) => openPool(livePools, (await protectingDetector(modelId))?.modelId ?? modelId, 1);

  async function modelInfo(modelId: string): Promise<ModelInfo> {
    const detector = await protectingDetector(modelId);
    if (detector) {
      const base = await modelInfo(detector.modelId);
      const { attack, epsilon } = detector.train;
      return {
        ...base,
        id: modelId,
        name: `${base.name} + SafetyNet detector (${attack.toUpperCase()} ε ${epsilon}, ${Math.round(100 * detector.falsePositiveRate)}% FPR)`,
        description: `${base.name} behind the SafetyNet detector ${modelId}: inputs the detector flags are rejected and counted apart`,
        protection: { detectorId: modelId, baseModelId: detector.modelId, attack, epsilon, falsePositiveRate: detector.falsePositiveRate, threshold: detector.threshold },
      };
    }
    const { folder, kind, inferred } = await modelSource(modelId);
    const file = path.join(folder, MODEL_MANIFEST_FILE);
    const manifest = inferred && !existsSync(file) ? inferred : parseManifest(await readFile(file, 'utf8'), file);
    const opened = pools.get(modelId);
    const backend = opened ? await opened.then((p) => p.info().backend.name, () => null) : null;
    return {
      id: modelId,
      name: manifest.name,
      ...(manifest.description ? { description: manifest.description } : {}),
      source: kind,
      folder,
      inputShape: [manifest.inputSize[0], manifest.inputSize[1], manifest.channels],
      labels: [...manifest.labels],
      suggestedEpsilons: suggestedEpsilons(manifest),
      backend,
      ...(manifest.training ? { training: manifest.training } : {}),
    };
  }

  async function experiment(id: string): Promise<Experiment> {
    try {
      return await (await workspace()).open(id);
    } catch (error) {
      if (error instanceof ExperimentNotFoundError) throw new ApiError('not-found', error.message);
      throw error;
    }
  }

  function inExperimentRun<T>(target: Experiment, kind: string, body: () => Promise<T>): Promise<T> {
    const previous = experimentQueues.get(target.id) ?? Promise.resolve();
    const current = previous.then(async () => {
      const run = await target.startRun(kind);
      try {
        const result = await body();
        await run.finish('completed');
        return result;
      } catch (error) {
        await run.finish(isCancellation(error) ? 'cancelled' : 'failed', oneLine(error)).catch(() => undefined);
        throw error;
      }
    });
    experimentQueues.set(target.id, current.catch(() => undefined));
    return current;
  }

  const runFolder = (target: Experiment, runId: string) => path.join(target.paths.images, runId);

  function uploadedManifestName(files: readonly { path: string; base64: string }[]): string | null {
    const manifest = files.find((f) => f.path === MODEL_MANIFEST_FILE);
    if (!manifest) return null;
    try {
      const { name } = JSON.parse(Buffer.from(manifest.base64, 'base64').toString('utf8')) as { name?: unknown };
      return typeof name === 'string' && name.trim() !== '' ? name.trim() : null;
    } catch {
      return null; // the loader reports a broken foolprint.json with its own message
    }
  }

  function refuseBuiltinId(modelId: string): void {
    if (listBuiltinModels().some((m) => m.id === modelId)) throw new ApiError('invalid-input', `id: "${modelId}" is a built-in model's id; choose another`);
  }

  // Load it once in a pool, as every later use will: a folder that is not a usable model fails here, with the loader's message.
  async function trialLoad(folder: string): Promise<void> {
    // What the loader refuses is the user's model, not our failure: a 4xx with its message.
    const trial = await ComputePool.create({ model: { kind: 'folder', path: folder }, workers: 1, backend: options.backend }).catch((error: unknown) => {
      throw error instanceof ModelError ? new ApiError('invalid-input', error.message) : error;
    });
    await trial.close();
  }

  /** Adds (or re-points) an imported model in the workspace's list and drops its stale pools. */
  async function registerImported(modelId: string, folder: string, inferred?: ModelManifest): Promise<void> {
    await lockWorkspace();
    const list = (await importedModels()).filter((m) => m.id !== modelId);
    list.push({ id: modelId, folder, ...(inferred ? { manifest: inferred } : {}) });
    await mkdir(path.dirname(importedFile()), { recursive: true });
    await writeJsonAtomic(importedFile(), list);
    for (const table of [pools, livePools]) {
      const stale = table.get(modelId);
      table.delete(modelId);
      await stale?.then((p) => p.close(), () => undefined);
    }
  }

  /**
   * A model without foolprint.json: the manifest the loader infers from it (input size, outputs), kept
   * so models.list can describe the model without loading it again.
   */
  async function inferredManifest(folder: string, name: string): Promise<ModelManifest> {
    const classifier = await loadClassifier({ kind: 'folder', path: folder });
    classifier.dispose();
    return { ...classifier.manifest, name };
  }

  const core: ServiceCore = { options, jobs, emit, workspace, experiment, inExperimentRun, pool, livePool, modelInfo, runFolder };

  async function experimentInfo(info: StoreExperimentInfo): Promise<ApiExperimentInfo> {
    const count = async (folder: string, file: string) => (await foldersWith(path.join(info.dir, folder), file)).length;
    return {
      id: info.id,
      name: info.name ?? info.id,
      modelId: info.modelId ?? null,
      createdAt: info.createdAt ?? '',
      updatedAt: info.updatedAt ?? '',
      state: info.status,
      message: info.message ?? null,
      folder: info.dir,
      counts: { attacks: await count('images', 'run.json'), sheets: await count('sheets', 'sheet-set.json'), captures: await count('captures', 'capture.json') },
    };
  }

  async function findExperimentInfo(id: string): Promise<ApiExperimentInfo> {
    await experiment(id);
    const info = (await (await workspace()).list()).find((e) => e.id === id);
    if (!info) throw new ApiError('not-found', `no experiment "${id}"`);
    return experimentInfo(info);
  }

  async function runAttackJob(input: ApiParsedInput<'attacks.start'>, context: JobContext): Promise<AttackRun> {
    const target = await experiment(input.experimentId);
    return inExperimentRun(target, 'attack', async () => {
      const started = Date.now();
      const computePool = await pool(input.modelId);
      const model = computePool.info().model;
      const title = `${methodTitle(methodLabel(input.params.method, input.params))} on ${(await modelInfo(input.modelId)).name}`;
      const { dataset } = await loadSelection(input.images as ParsedImageSelection, { ...model, samplesOf: input.modelId }, undefined, { signal: context.signal, onProgress: context.progress });
      const attackOptions = attackOptionsFrom(input.params, dataset.count, model.numClasses, true);
      const result = await computePool.attack(dataset.images, dataset.labels, attackOptions, {
        signal: context.signal,
        onProgress: (p) => context.progress(p.done, p.total, `${title}${p.epsilon === undefined ? '' : `, ε ${epsilonLevels(p.epsilon)}`}`),
      });
      const runId = newId('run');
      const folder = runFolder(target, runId);
      await writeAttackFiles(folder, dataset, result, model, describeSelection(input.images as ParsedImageSelection), (done, total) => context.progress(done, total, 'saving PNGs'), context.signal);
      const summary = summarizeAttack(result);
      const run: AttackRun = {
        runId,
        experimentId: target.id,
        modelId: input.modelId,
        method: result.method,
        options: JSON.parse(JSON.stringify({ ...result.options, criterion: undefined, targetClass: input.params.targetClass })) as Record<string, unknown>,
        epsilons: result.perEpsilon.map((e) => e.epsilon),
        count: summary.count,
        createdAt: new Date().toISOString(),
        cleanAccuracy: summary.cleanAccuracy,
        ...(summary.cleanProtected ? { cleanProtected: summary.cleanProtected } : {}),
        perEpsilon: epsilonSummaries(result, summary),
        durationMs: Date.now() - started,
      };
      await writeJsonAtomic(path.join(folder, 'run.json'), run);
      if (target.manifest.modelId === null) await target.update((draft) => void (draft.modelId = input.modelId));
      return run;
    });
  }

  async function readRun(target: Experiment, runId: string): Promise<AttackRun> {
    const file = path.join(runFolder(target, runId), 'run.json');
    const text = await readFile(file, 'utf8').catch(() => null);
    if (text === null) throw new ApiError('not-found', `no attack run "${runId}" in experiment "${target.id}"`);
    return JSON.parse(text) as AttackRun;
  }

  const handlers: Handlers = {
    'system.info': async () => {
      const pkg = JSON.parse(await readFile(path.join(repoRoot(), 'package.json'), 'utf8')) as { version?: string };
      const first = [...pools.values()][0];
      const info = first ? await first.then((p) => p.info(), () => null) : null;
      return {
        version: pkg.version ?? '0.0.0',
        host: options.host ?? 'direct',
        workspaceDir: path.resolve(options.workspaceDir),
        backend: info?.backend.name ?? null,
        workers: info?.workers ?? null,
      };
    },
    'jobs.list': async () => jobs.list(),
    'jobs.get': async ({ jobId }) => jobs.get(jobId),
    'jobs.cancel': async ({ jobId }) => ({ cancelled: jobs.cancel(jobId) }),

    'experiments.list': async () => Promise.all((await (await workspace()).list()).map(experimentInfo)),
    'experiments.create': async ({ name, modelId }) => {
      if (modelId !== undefined) await modelSource(modelId);
      const created = await (await workspace()).create({ name, modelId: modelId ?? null });
      return findExperimentInfo(created.id);
    },
    'experiments.get': async ({ experimentId }) => findExperimentInfo(experimentId),

    'models.list': async () => {
      // Protected models last: each detector in the workspace guards the model it was trained on.
      const ids = [...listBuiltinModels().map((m) => m.id), ...(await importedModels()).map((m) => m.id), ...(await detectorIds())];
      const infos = await Promise.all(ids.map((id) => modelInfo(id).catch(() => null)));
      return infos.filter((m): m is ModelInfo => m !== null);
    },
    'models.import': async ({ path: folder, id }) => {
      const target = path.resolve(folder);
      // model.json itself may be given: the model is its folder.
      const resolved = existsSync(target) && statSync(target).isFile() ? path.dirname(target) : target;
      const modelId = id ?? modelIdFromName(path.basename(resolved));
      refuseBuiltinId(modelId);
      await trialLoad(resolved);
      const inferred = existsSync(path.join(resolved, MODEL_MANIFEST_FILE)) ? undefined : await inferredManifest(resolved, path.basename(resolved));
      await registerImported(modelId, resolved, inferred);
      return modelInfo(modelId);
    },
    'models.upload': async ({ name, id, files }) => {
      // Loose files dropped without their folder have no name: the manifest's, when there is one.
      const label = name?.trim() || uploadedManifestName(files) || 'model';
      const modelsDir = path.join(path.resolve(options.workspaceDir), UPLOADED_MODELS_DIR);
      // One upload at a time: two drops of "my-model" would otherwise both take the id "my-model".
      const upload = uploads.then(async () => {
        await lockWorkspace();
        const derived = id === undefined;
        const modelId = derived ? uniqueModelId(modelIdFromName(label), new Set((await importedModels()).map((m) => m.id))) : id;
        refuseBuiltinId(modelId);
        await removeStaleStaging(modelsDir);
        const staging = await stageModelFiles(modelsDir, files);
        const folder = path.join(modelsDir, modelId);
        try {
          await trialLoad(staging);
          // Our own copy: the inferred manifest is written into it, beside the model.
          if (!existsSync(path.join(staging, MODEL_MANIFEST_FILE))) await writeJsonAtomic(path.join(staging, MODEL_MANIFEST_FILE), await inferredManifest(staging, label));
          await installStagedModel(staging, folder);
        } catch (error) {
          await rm(staging, { recursive: true, force: true });
          throw new ApiError(error instanceof ApiError ? error.code : 'failed', describeUploadFailure(oneLine(error), staging));
        }
        try {
          await registerImported(modelId, folder);
        } catch (error) {
          await rm(folder, { recursive: true, force: true });
          throw error;
        }
        return modelInfo(modelId);
      });
      uploads = upload.catch(() => undefined);
      return upload;
    },
    'models.inspectOnnx': async ({ name, base64, externalData = [] }) => {
      const scratch = await mkdtemp(path.join(os.tmpdir(), 'foolprint-onnx-inspect-'));
      // Under the name it was chosen by, so the loader's messages and notes name it as the person knows it.
      const file = path.join(scratch, `${modelIdFromName(path.basename(name, path.extname(name)))}.onnx`);
      try {
        await writeFile(file, Buffer.from(base64, 'base64'));
        // Beside it, as the graph names them (plain names: the contract refuses "/", "\\" and "..").
        for (const data of externalData) {
          const target = path.join(scratch, data.path);
          if (target === file) throw new ApiError('invalid-input', `externalData: "${data.path}" is the model's own name`);
          await writeFile(target, Buffer.from(data.base64, 'base64'));
        }
        const classifier = await loadClassifier({ kind: 'folder', path: file }).catch((error: unknown) => {
          throw new ApiError(error instanceof ModelError ? 'invalid-input' : 'failed', describeUploadFailure(oneLine(error), scratch));
        });
        const { inputSize, channels, labels, outputs } = classifier.manifest;
        const notes = classifier.notes.map((note) => describeUploadFailure(note, scratch));
        classifier.dispose();
        return { inputSize, channels, classes: labels.length, outputs, notes };
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
    },
    'models.evaluate': async ({ modelId, images }) =>
      jobs.start('evaluate', `Evaluating ${(await modelInfo(modelId)).name}`, async (context) => {
        const computePool = await pool(modelId);
        const model = computePool.info().model;
        const { dataset } = await loadSelection(images as ParsedImageSelection, { ...model, samplesOf: modelId }, undefined, { signal: context.signal, onProgress: context.progress });
        const top = await computePool.predict(dataset.images, Math.min(5, model.numClasses), { signal: context.signal, onProgress: (p) => context.progress(p.done, p.total, 'classifying') });
        return { modelId, count: dataset.count, top1: topKAccuracy(top, dataset.labels, 1), top5: topKAccuracy(top, dataset.labels, 5), notes: [...dataset.notes] };
      }),

    'samples.list': async ({ modelId, images, offset, limit }) => {
      const info = await modelInfo(modelId);
      // Only the page is read: a selection of 1.9 M images costs what its first 48 cost.
      const { dataset, selectionCount } = await loadSelection(images as ParsedImageSelection, { ...info, samplesOf: modelId }, { offset, limit });
      const { height, width, channels } = dataset;
      const size = height * width * channels;
      const items = [];
      for (let i = 0; i < dataset.count; i++) {
        items.push({ index: offset + i, imageId: dataset.ids[i] ?? String(offset + i), label: dataset.labels[i], png: await pngDataUrl(dataset.images.subarray(i * size, (i + 1) * size), width, height, channels) });
      }
      return { count: selectionCount, shape: [height, width, channels] as [number, number, number], // Labels index the model's classes (the loader maps names in the data onto them): name them so.
      classNames: dataset.classNames ? [...dataset.classNames] : [...info.labels], notes: [...dataset.notes], items };
    },

    'samples.datasets': async () => {
      const folder = path.join(path.resolve(options.workspaceDir), 'datasets');
      const entries = await readdir(folder, { withFileTypes: true }).catch(() => []);
      const datasets = entries.filter((e) => !e.name.startsWith('.') && (e.isDirectory() || e.isFile())).map((e) => ({ name: e.name, path: path.join(folder, e.name) }));
      return { folder, datasets: datasets.sort((a, b) => a.name.localeCompare(b.name)) };
    },

    'attacks.start': async (input) => {
      await experiment(input.experimentId);
      const model = await modelInfo(input.modelId);
      return jobs.start('attack', `${methodTitle(methodLabel(input.params.method, input.params))} on ${model.name}`, (context) => runAttackJob(input, context), input.experimentId);
    },
    'attacks.list': async ({ experimentId }) => {
      const target = await experiment(experimentId);
      const ids = await foldersWith(target.paths.images, 'run.json');
      return Promise.all(ids.map((id) => readRun(target, id)));
    },
    'attacks.gallery': async ({ experimentId, runId, offset, limit }) => {
      const target = await experiment(experimentId);
      const run = await readRun(target, runId);
      const folder = runFolder(target, runId);
      const record = parseAttackRecord(JSON.parse(await readFile(path.join(folder, 'record.json'), 'utf8')), path.join(folder, 'record.json'));
      const png = async (file: string) => bytesDataUrl(await readFile(await confinedPath(folder, file, { what: 'record.json image', folderName: `the folder of run "${runId}"` })));
      const items = [];
      for (const image of record.images.slice(offset, offset + limit)) {
        items.push({
          index: image.index,
          imageId: image.id,
          label: image.label,
          target: image.target ?? null,
          clean: { png: await png(image.clean.file), top5: image.clean.top5 },
          adversarial: await Promise.all(
            image.adversarial.map(async (a) => ({
              epsilon: a.epsilon,
              png: await png(a.file),
              perturbationPng: await png(a.perturbationFile),
              // The float view's ‖δ‖∞ is the very largest change amplifyPerturbation scaled by.
              amplification: perturbationAmplification(a.epsilon, a.float.linf),
              float: a.float,
              quantized: a.quantized,
            })),
          ),
        });
      }
      return { run, labels: record.model.labels, total: record.images.length, items };
    },

    'sweeps.start': async (input) => {
      if (input.experimentId !== undefined) await experiment(input.experimentId);
      const info = await modelInfo(input.modelId);
      return jobs.start('sweep', `${methodTitle(methodLabel(input.params.method, input.params))} ε-sweep on ${info.name}`, async (context) => {
        const started = Date.now();
        const computePool = await pool(input.modelId);
        const model = computePool.info().model;
        const { dataset } = await loadSelection(input.images as ParsedImageSelection, { ...model, samplesOf: input.modelId }, undefined, { signal: context.signal, onProgress: context.progress });
        const result = await computePool.attack(dataset.images, dataset.labels, attackOptionsFrom(input.params, dataset.count, model.numClasses, false), {
          signal: context.signal,
          onProgress: (p) => context.progress(p.done, p.total, `${methodTitle(methodLabel(input.params.method, input.params))} ε-sweep on ${info.name}${p.epsilon === undefined ? '' : `, ε ${epsilonLevels(p.epsilon)}`}`),
        });
        const summary = summarizeAttack(result);
        const sweep = {
          modelId: input.modelId,
          method: result.method,
          count: summary.count,
          cleanAccuracy: summary.cleanAccuracy,
          ...(summary.cleanProtected ? { cleanProtected: summary.cleanProtected } : {}),
          perEpsilon: epsilonSummaries(result, summary),
          durationMs: Date.now() - started,
        };
        if (input.experimentId !== undefined) {
          const target = await experiment(input.experimentId);
          await target.writeJson(`results/${newId('sweep')}.json`, sweep);
        }
        return sweep;
      }, input.experimentId ?? null);
    },

    ...createPhysicalHandlers(core, readRun),
    ...createCalibrationHandlers(core),
    ...createTrainingHandlers(core, {
      modelIds: async () => [...listBuiltinModels().map((m) => m.id), ...(await importedModels()).map((m) => m.id)],
      modelFolder: async (modelId) => (await modelSource(modelId)).folder,
      isBuiltin: (modelId) => listBuiltinModels().some((m) => m.id === modelId),
      register: (modelId, folder) => registerImported(modelId, folder),
    }),
    ...createDefenseHandlers(core),
  };

  async function invoke(method: ApiMethodName, input: unknown): Promise<unknown> {
    if (!isApiMethodName(method)) throw new ApiError('invalid-input', `unknown method "${String(method)}"`);
    const spec = apiMethods[method];
    const parsed = spec.input.safeParse(input ?? undefined);
    if (!parsed.success) throw new ApiError('invalid-input', describeInvalidInput(parsed.error, { input }));
    let output: unknown;
    try {
      output = await (handlers[method] as (input: unknown) => Promise<unknown>)(parsed.data);
    } catch (error) {
      if (error instanceof ApiError) throw error;
      if (error instanceof ExperimentNotFoundError) throw new ApiError('not-found', error.message);
      if (isCancellation(error)) throw new ApiError('cancelled', 'cancelled');
      throw new ApiError('failed', oneLine(error));
    }
    if (options.checkOutputs) {
      const checked = spec.output.safeParse(output);
      if (!checked.success) throw new ApiError('failed', `${method} broke its own contract: ${describeZodError(checked.error, 'output')}`);
    }
    return output;
  }

  return {
    invoke,
    subscribe(event, handler) {
      let set = listeners.get(event);
      if (!set) listeners.set(event, (set = new Set()));
      set.add(handler);
      return () => void set.delete(handler);
    },
    async memory() {
      const counts: Record<string, number[]> = {};
      for (const [suffix, table] of [['', pools], [' (live)', livePools]] as const) {
        for (const [modelId, pending] of table) {
          const opened = await pending.catch(() => null);
          if (opened) counts[modelId + suffix] = (await opened.memory()).map((m) => m.numTensors);
        }
      }
      return counts;
    },
    async close() {
      closed = true;
      await jobs.close();
      await Promise.all([...pools.values(), ...livePools.values()].map((p) => p.then((opened) => opened.close(), () => undefined)));
      await Promise.all([...screeners.values()].map((screener) => screener.close()));
      pools.clear();
      livePools.clear();
      screeners.clear();
      await lockPromise?.then((lock) => lock.release(), () => undefined);
      lockPromise = null;
    },
  };
}
