/**
 * What most commands share: open a model in the worker pool and load a dataset at the model's input
 * size. Kept in one place so every command reads --model/--data/--limit/--backend/--workers alike.
 */
import type { Command } from 'commander';
import { ComputePool } from '../../app/node/compute-pool.js';
import type { BackendName } from '../../app/node/backend.js';
import { loadDataset } from '../../app/node/dataset-loader.js';
import { parseModelSource } from '../../app/models/source.js';
import type { Dataset } from '../../app/data/dataset.js';
import { UsageError, parsePositiveInt } from './failure.js';

export interface WorkbenchOptions {
  model: string;
  data?: string;
  limit?: string;
  backend?: string;
  workers?: string;
  json?: boolean;
}

export function addModelOptions(command: Command): Command {
  return command
    .option('--model <id|folder>', 'built-in model id, a folder with model.json or model.onnx + foolprint.json, or an .onnx file', 'lenet-mnist')
    .option('--backend <name>', 'force a TF.js backend: tensorflow, wasm or cpu (also FOOLPRINT_BACKEND)')
    .option('--workers <n>', 'worker threads (default: 2, or the core count if lower)');
}

export function addDataOptions(command: Command): Command {
  return command
    .option('--data <path>', 'dataset: "samples" (built-in), MNIST IDX file or folder, or a folder of images', 'samples')
    .option('--limit <n>', 'use only the first n images');
}

const backends = ['tensorflow', 'wasm', 'cpu'] as const;

export async function openPool(options: WorkbenchOptions): Promise<ComputePool> {
  if (options.backend !== undefined && !(backends as readonly string[]).includes(options.backend)) {
    throw new UsageError(`--backend must be one of ${backends.join(', ')}, got "${options.backend}"`);
  }
  const pool = await ComputePool.create({
    model: parseModelSource(options.model),
    backend: options.backend as BackendName | undefined,
    workers: options.workers === undefined ? undefined : parsePositiveInt(options.workers, '--workers'),
  });
  for (const note of pool.info().model.notes) if (!options.json) process.stderr.write(`note: ${note}\n`);
  return pool;
}

export async function openDataset(options: WorkbenchOptions, pool: ComputePool): Promise<Dataset> {
  const [height, width, channels] = pool.info().model.inputShape;
  const limit = options.limit === undefined ? undefined : parsePositiveInt(options.limit, '--limit');
  const dataset = await loadDataset(options.data ?? 'samples', { height, width, channels: channels as 1 | 3, limit });
  const numClasses = pool.info().model.numClasses;
  const outOfRange = dataset.labels.findIndex((label) => label < 0 || label >= numClasses);
  if (outOfRange >= 0) {
    throw new UsageError(`label ${dataset.labels[outOfRange]} of image ${dataset.ids[outOfRange]} is out of range for a model with ${numClasses} classes`);
  }
  for (const note of dataset.notes) if (!options.json) process.stderr.write(`note: ${note}\n`);
  return dataset;
}

/** Fixed-width text table for terminals. */
export function formatTable(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, column) => Math.max(...cells.map((row) => row[column]?.length ?? 0)));
  const line = (row: string[]) => row.map((cell, column) => cell.padStart(widths[column])).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}
