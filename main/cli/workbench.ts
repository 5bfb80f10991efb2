/**
 * What most commands share: open a model in the worker pool and load a dataset at the model's input
 * size. Kept in one place so every command reads --model/--data/--limit/--backend/--workers alike.
 */
import type { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { traceStartup } from '../../app/node/startup-trace.js';
import { ComputePool, boundedWorkerCount } from '../../app/node/compute-pool.js';
import type { BackendName } from '../../app/node/backend.js';
import type { ModelPool } from '../../app/node/protected-pool.js';
import { parseModelSource } from '../../app/models/source.js';
import type { Dataset } from '../../app/data/dataset.js';
import type * as DatasetLoader from '../../app/node/dataset-loader.js';
import { UsageError, parsePositiveInt } from './failure.js';
import { createProgressBar } from './progress.js';

export interface WorkbenchOptions {
  model: string;
  data?: string;
  limit?: string;
  offset?: string;
  backend?: string;
  workers?: string;
  json?: boolean;
  /** detector.json (or its folder): the model becomes a protected model (attack, sweep, analyze). */
  detector?: string;
}

export function addModelOptions(command: Command): Command {
  return command
    .option('--model <id|folder>', 'built-in model id, a folder with model.json or model.onnx + foolprint.json, or an .onnx file', 'lenet-mnist')
    .option('--backend <name>', 'force a TF.js backend: tensorflow, wasm or cpu (also FOOLPRINT_BACKEND)')
    .option('--workers <n>', 'worker threads (default: 2, or the core count if lower; at most the core count)');
}

/** --detector: the commands that count predictions can run a protected model. */
export function addDetectorOption(command: Command): Command {
  return command.option('--detector <detector.json|folder>', 'protect the model with a SafetyNet detector (from foolprint detect --out): inputs it flags are rejected, and counted apart from accuracy');
}

export function addDataOptions(command: Command): Command {
  return command
    .option('--data <path>', 'dataset: "samples" (the model\'s 300 built-in samples: digits, or garments for cnn-fashion-mnist); a folder with MNIST IDX files, e.g. your copy of the MNIST test set (t10k-images-idx3-ubyte.gz + t10k-labels-idx1-ubyte.gz from the MNIST database), or one IDX images file; a folder of PNG/JPEG images in one sub-folder per class, or with a labels.csv (file,label)', 'samples')
    .option('--limit <n>', 'use only the first n images (after --offset)')
    .option('--offset <n>', 'skip the first n images of the dataset', '0');
}

const backends = ['tensorflow', 'wasm', 'cpu'] as const;

/**
 * The dataset loader pulls in sharp and TF.js (about a second of CPU): imported on first use, so
 * --help and light commands start fast, and started by openPool so it loads while the workers boot.
 */
let datasetLoaderModule: Promise<typeof DatasetLoader> | undefined;
function datasetLoader(): Promise<typeof DatasetLoader> {
  return (datasetLoaderModule ??= import('../../app/node/dataset-loader.js'));
}

/** What the dataset is decoded for: the model's input and its class names. */
interface DatasetTarget {
  inputShape: readonly number[];
  labels: readonly string[];
}

/** Datasets decoded while the workers boot, per command invocation (its options object). */
const earlyDatasets = new WeakMap<WorkbenchOptions, { target: DatasetTarget; dataset: Promise<Dataset> }>();

/**
 * The model's input and labels from its foolprint.json, read on this thread without TF.js or zod, so
 * the dataset can be decoded while the workers load the model. Undefined where only the loader can
 * tell (a loose .onnx file, a model without a manifest, a manifest the lean reading cannot vouch
 * for): the dataset then waits for the pool, whose loader checks the manifest in full.
 */
async function manifestTarget(modelFlag: string): Promise<DatasetTarget | undefined> {
  const source = parseModelSource(modelFlag);
  const { MANIFEST_FILE, builtinModelsDir, readManifestSummary } = await import('../../app/node/builtin-models.js');
  const folder = source.kind === 'builtin' ? path.join(builtinModelsDir(), source.id) : path.resolve(source.path);
  const file = path.join(folder, MANIFEST_FILE);
  try {
    if (!statSync(folder).isDirectory() || !existsSync(file)) return undefined;
    const { readFile } = await import('node:fs/promises');
    const manifest = readManifestSummary(await readFile(file, 'utf8'));
    return manifest && { inputShape: [...manifest.inputSize, manifest.channels], labels: manifest.labels };
  } catch {
    // The pool's loader reports a missing or bad model in its own words.
    return undefined;
  }
}

export async function openPool(options: WorkbenchOptions & { detector?: undefined }, signal?: AbortSignal): Promise<ComputePool>;
export async function openPool(options: WorkbenchOptions, signal?: AbortSignal): Promise<ModelPool>;
/** `signal` gives up while the workers boot (openPoolChecking). */
export async function openPool(options: WorkbenchOptions, signal?: AbortSignal): Promise<ModelPool> {
  // Read first: a file that is no detector is refused before the workers boot.
  const detector = options.detector === undefined ? undefined : await readDetector(options.detector);
  if (options.backend !== undefined && !(backends as readonly string[]).includes(options.backend)) {
    throw new UsageError(`--backend must be one of ${backends.join(', ')}, got "${options.backend}"`);
  }
  traceStartup('spawning the compute workers');
  const pool = ComputePool.create({
    model: parseModelSource(options.model),
    backend: options.backend as BackendName | undefined,
    workers: workerCountFromFlag(options.workers, options.json),
  }, signal);
  // Both at once: the dataset is read and decoded on this thread while the workers boot on theirs
  // (the first batch reached the workers ~1 s later when the decode waited for them).
  const early = options.data !== undefined ? decodeEarly(options) : undefined;
  const [opened] = await Promise.all([pool, early]);
  for (const note of opened.info().model.notes) if (!options.json) process.stderr.write(`note: ${note}\n`);
  if (!detector) return opened;
  if (detector.modelId !== options.model && !options.json) process.stderr.write(`note: the detector was trained on "${detector.modelId}", --model is "${options.model}"\n`);
  const { ProtectedPool } = await import('../../app/node/protected-pool.js');
  return new ProtectedPool(opened, detector, parseModelSource(options.model), { ...(options.backend ? { backend: options.backend as BackendName } : {}) });
}

/**
 * openPool, with the workers booting while `check` reads the command's other flags. An attack's flags
 * are checked against the API contract, whose zod schemas cost the main thread ~0.2 s of CPU: done
 * first, they held the workers' start back by as much (issue 12, start-up). A bad flag is still the
 * error reported, before any of the pool's, and the workers it started are stopped where they are.
 */
export async function openPoolChecking<T>(options: WorkbenchOptions, check: () => Promise<T>): Promise<{ pool: ModelPool; checked: T }> {
  const giveUp = new AbortController();
  const booting = openPool(options, giveUp.signal);
  // Handled here so a pool failing while the flags are read is not an unhandled rejection; awaited below.
  booting.catch(() => undefined);
  let checked: T;
  try {
    checked = await check();
  } catch (error) {
    giveUp.abort();
    await booting.then((pool) => pool.close(), () => undefined);
    throw error;
  }
  return { pool: await booting, checked };
}

async function readDetector(file: string) {
  const { readStoredDetector } = await import('../../app/node/protected-pool.js');
  return readStoredDetector(file).catch((error: Error) => {
    throw new UsageError(`--detector: ${error.message}`);
  });
}

async function decodeEarly(options: WorkbenchOptions): Promise<void> {
  const [target] = await Promise.all([manifestTarget(options.model), datasetLoader()]);
  if (!target) return;
  const dataset = decodeDataset(options, target);
  // Reported by openDataset, which awaits it; a pool that fails first leaves it unread.
  dataset.catch(() => undefined);
  earlyDatasets.set(options, { target, dataset });
}

/** --workers, capped at the core count with a note on stderr (not in --json output). */
export function workerCountFromFlag(text: string | undefined, quiet = false): number | undefined {
  if (text === undefined) return undefined;
  const { workers, note } = boundedWorkerCount(parsePositiveInt(text, '--workers'));
  if (note && !quiet) process.stderr.write(`note: ${note}\n`);
  return workers;
}

export async function openDataset(options: WorkbenchOptions, pool: Pick<ComputePool, 'info'>): Promise<Dataset> {
  const { inputShape, labels } = pool.info().model;
  const early = earlyDatasets.get(options);
  earlyDatasets.delete(options);
  const dataset = await (early && sameTarget(early.target, { inputShape, labels }) ? early.dataset : decodeDataset(options, { inputShape, labels }));
  // Here rather than where it is decoded: a dataset decoded early for a command that then stops (a
  // bad flag) says nothing.
  for (const note of dataset.notes) if (!options.json) process.stderr.write(`note: ${note}\n`);
  return dataset;
}

function sameTarget(a: DatasetTarget, b: DatasetTarget): boolean {
  return a.inputShape.join('x') === b.inputShape.join('x') && a.labels.length === b.labels.length && a.labels.every((l, i) => l === b.labels[i]);
}

async function decodeDataset(options: WorkbenchOptions, target: DatasetTarget): Promise<Dataset> {
  const [height, width, channels] = target.inputShape;
  const limit = options.limit === undefined ? undefined : parsePositiveInt(options.limit, '--limit');
  const offset = options.offset === undefined || options.offset === '0' ? 0 : parsePositiveInt(options.offset, '--offset');
  const progress = createProgressBar({ json: options.json });
  // The loader matches class names in the data to the model's labels and refuses labels it lacks.
  const { loadDataset } = await datasetLoader();
  const dataset = await loadDataset(options.data ?? 'samples', {
    height,
    width,
    channels: channels as 1 | 3,
    offset,
    limit,
    classNames: [...target.labels],
    samplesOf: builtinId(options.model),
    // The pool's workers read it in place instead of each getting a copy.
    sharedMemory: true,
    onProgress: (done, total, label) => progress.update(done, total, label),
  }).finally(() => progress.done());
  traceStartup(`dataset decoded (${dataset.count} images)`);
  return dataset;
}

/** The built-in model id --model names, if it names one (its own sample set is what "samples" means). */
function builtinId(model: string): string | undefined {
  const source = parseModelSource(model);
  return source.kind === 'builtin' ? source.id : undefined;
}

/** Fixed-width text table for terminals. */
export function formatTable(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, column) => Math.max(...cells.map((row) => row[column]?.length ?? 0)));
  const line = (row: string[]) => row.map((cell, column) => cell.padStart(widths[column])).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}
