/**
 * The defenses.* methods of the API on the service: each evaluation runs as a job on a worker
 * thread of its own (defense-jobs.ts) and its result is stored in the workspace:
 *   defenses/robustness-<id>.json, defenses/transfer-<id>.json   reports
 *   detectors/<id>/detector.json                                  a SafetyNet detector (manifest + SVM)
 */
import { mkdir, readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { z } from 'zod';
import { ApiError } from '../api/errors.js';
import { detectorInfoSchema, robustnessReportSchema, transferReportSchema } from '../api/defenses.js';
import type { DetectorInfo, RobustnessReportInfo, TransferReportInfo } from '../api/defenses.js';
import type { ApiParsedInput } from '../api/methods.js';
import { DefenseEvaluationError } from '../defenses/robustness.js';
import type { ModelSource } from '../models/source.js';
import { writeJsonAtomic } from './atomic-write.js';
import type { DefendedModelSpec } from './defense-models.js';
import { runDefenseJobInWorker } from './defense-jobs.js';
import type { DefenseJob, DefenseJobResult } from './defense-jobs.js';
import type { JobContext } from './service-jobs.js';
import { loadSelection } from './service-images.js';
import type { ParsedImageSelection } from './service-images.js';
import type { Handlers, ServiceCore } from './service.js';

/** What the worker refuses because of what was asked (answered as invalid input, not as our failure). */
const INPUT_ERRORS = new Set(['DefenseEvaluationError', 'DetectorScoreError', 'InputTransformError', 'AttackInputError', 'GradientUnavailableError', 'ModelError', 'DatasetError']);

type DefenseHandlers = Pick<Handlers, 'defenses.robustness' | 'defenses.transfer' | 'defenses.detect' | 'defenses.list'>;
type ParsedTransform = NonNullable<ApiParsedInput<'defenses.robustness'>['params']['models'][number]['transform']>;

const newReportId = (kind: string) => `${kind}-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}-${Math.random().toString(16).slice(2, 8)}`;

async function readJsonFiles<T>(files: string[], schema: z.ZodType<T>): Promise<T[]> {
  const out: T[] = [];
  for (const file of files) {
    const parsed = schema.safeParse(JSON.parse(await readFile(file, 'utf8').catch(() => 'null')));
    if (parsed.success) out.push(parsed.data);
  }
  return out;
}

export function createDefenseHandlers(core: ServiceCore): DefenseHandlers {
  const workspaceDir = () => path.resolve(core.options.workspaceDir);

  async function sourceOf(modelId: string): Promise<ModelSource> {
    const info = await core.modelInfo(modelId);
    // Its attacks and transfers would measure the base model alone: the detector's own report holds its figures.
    if (info.protection) throw new ApiError('invalid-input', `"${modelId}" is a protected model (${info.protection.baseModelId} behind a detector): evaluate ${info.protection.baseModelId} here; the detector's report gives its detections`);
    return info.source === 'builtin' ? { kind: 'builtin', id: modelId } : { kind: 'folder', path: info.folder };
  }

  async function specs(models: { modelId: string; transform?: ParsedTransform }[]): Promise<DefendedModelSpec[]> {
    return Promise.all(models.map(async (m) => ({ id: m.modelId, source: await sourceOf(m.modelId), ...(m.transform ? { transform: m.transform } : {}) })));
  }

  /** The images at the first model's input size; every model must take the same input. */
  async function images(selection: unknown, modelIds: string[], context: JobContext) {
    const infos = await Promise.all(modelIds.map((id) => core.modelInfo(id)));
    const shape = infos[0].inputShape.join('x');
    const other = infos.find((i) => i.inputShape.join('x') !== shape);
    if (other) throw new ApiError('invalid-input', `models ${infos[0].id} (${shape}) and ${other.id} (${other.inputShape.join('x')}) take different inputs: compare models of one input size`);
    const { dataset } = await loadSelection(selection as ParsedImageSelection, infos[0], undefined, { signal: context.signal, onProgress: context.progress });
    if (dataset.count === 0) throw new ApiError('invalid-input', 'images: the selection is empty');
    return dataset;
  }

  async function run(job: DefenseJob, context: JobContext): Promise<DefenseJobResult> {
    try {
      // Sub-runs in hundredths, so the job bar counts whole units.
      return await runDefenseJobInWorker(job, { signal: context.signal, onProgress: (p) => context.progress(Math.round(p.done * 100), p.total * 100, p.label) });
    } catch (error) {
      if (error instanceof DefenseEvaluationError || (error instanceof Error && INPUT_ERRORS.has(error.name))) {
        throw new ApiError('invalid-input', error.message);
      }
      throw error;
    }
  }

  async function store(file: string, value: unknown): Promise<void> {
    await core.workspace(); // holds the workspace lock
    await mkdir(path.dirname(file), { recursive: true });
    await writeJsonAtomic(file, value);
  }

  return {
    'defenses.robustness': async ({ images: selection, params }) => {
      const ids = params.models.map((m) => m.modelId);
      const surrogateModelId = params.surrogateModelId ?? params.models.find((m) => !m.transform)?.modelId;
      const models = await specs(params.models);
      if (surrogateModelId !== undefined && !ids.includes(surrogateModelId)) models.push({ id: surrogateModelId, source: await sourceOf(surrogateModelId) });
      return core.jobs.start('robustness', `Robustness of ${params.models.length} model${params.models.length === 1 ? '' : 's'}`, async (context) => {
        const started = Date.now();
        const dataset = await images(selection, ids, context);
        const { models: _, surrogateModelId: __, ...plan } = params;
        const result = await run({ kind: 'robustness', models, images: dataset.images, labels: dataset.labels, backend: core.options.backend, plan: { ...plan, surrogateId: surrogateModelId } }, context);
        if (result.kind !== 'robustness') throw new Error('the defense worker answered another job');
        // The surrogate only crafts transfer examples: report the models asked about.
        const report: RobustnessReportInfo = { reportId: newReportId('robustness'), createdAt: new Date().toISOString(), ...result.report, models: result.report.models.slice(0, params.models.length), durationMs: Date.now() - started };
        await store(path.join(workspaceDir(), 'defenses', `${report.reportId}.json`), report);
        return report;
      });
    },
    'defenses.transfer': async ({ images: selection, params }) => {
      const models = await specs(params.models);
      return core.jobs.start('transfer', `Transfer matrix of ${params.models.length} models`, async (context) => {
        const started = Date.now();
        const dataset = await images(selection, params.models.map((m) => m.modelId), context);
        const { models: _, ...plan } = params;
        const result = await run({ kind: 'transfer', models, images: dataset.images, labels: dataset.labels, backend: core.options.backend, plan }, context);
        if (result.kind !== 'transfer') throw new Error('the defense worker answered another job');
        const report: TransferReportInfo = { reportId: newReportId('transfer'), createdAt: new Date().toISOString(), ...result.matrix, durationMs: Date.now() - started };
        await store(path.join(workspaceDir(), 'defenses', `${report.reportId}.json`), report);
        return report;
      });
    },
    'defenses.detect': async ({ images: selection, params }) => {
      const [model] = await specs([{ modelId: params.modelId }]);
      return core.jobs.start('detector', `SafetyNet detector for ${params.modelId}`, async (context) => {
        const dataset = await images(selection, [params.modelId], context);
        const { modelId: _, layer, trainAttack, epsilon, ...rest } = params;
        const result = await run({ kind: 'detect', models: [model], images: dataset.images, labels: dataset.labels, backend: core.options.backend, ...(layer ? { layer } : {}), plan: { ...rest, train: { attack: trainAttack, epsilon } } }, context);
        if (result.kind !== 'detect') throw new Error('the defense worker answered another job');
        const detectorId = newReportId('detector');
        const folder = path.join(workspaceDir(), 'detectors', detectorId);
        const { svm, codebook, ...summary } = result.detector;
        const info: DetectorInfo = { detectorId, createdAt: new Date().toISOString(), folder, ...summary };
        // The manifest says how the detector was made; the SVM and codebook make it usable again.
        await store(path.join(folder, 'detector.json'), { schemaVersion: 1, ...info, codebook, svm });
        return info;
      });
    },
    'defenses.list': async () => {
      const dir = path.join(workspaceDir(), 'defenses');
      const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.json')).sort().reverse();
      const detectorsDir = path.join(workspaceDir(), 'detectors');
      const detectorIds = (await readdir(detectorsDir).catch(() => [] as string[])).sort().reverse();
      return {
        robustness: await readJsonFiles(files.filter((f) => f.startsWith('robustness-')).map((f) => path.join(dir, f)), robustnessReportSchema),
        transfer: await readJsonFiles(files.filter((f) => f.startsWith('transfer-')).map((f) => path.join(dir, f)), transferReportSchema),
        detectors: await readJsonFiles(detectorIds.map((id) => path.join(detectorsDir, id, 'detector.json')), detectorInfoSchema),
      };
    },
  };
}
