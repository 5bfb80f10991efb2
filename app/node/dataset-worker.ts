/**
 * One dataset load on its own thread (started by dataset-thread.ts): inflating and converting a
 * large IDX file or decoding a folder of images never holds up the host's event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { DatasetOptions } from './dataset-loader.js';
import { loadDataset } from './dataset-loader.js';

export type DatasetWorkerMessage =
  | { type: 'progress'; done: number; total: number; label: string }
  | { type: 'result'; dataset: Awaited<ReturnType<typeof loadDataset>> }
  | { type: 'error'; name: string; message: string };

export interface DatasetWorkerData {
  spec: string;
  options: Omit<DatasetOptions, 'onProgress' | 'signal'>;
}

const port = parentPort!;
const { spec, options } = workerData as DatasetWorkerData;
const post = (message: DatasetWorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);
try {
  const dataset = await loadDataset(spec, { ...options, onProgress: (done, total, label) => post({ type: 'progress', done, total, label }) });
  post({ type: 'result', dataset }, [dataset.images.buffer as ArrayBuffer, dataset.labels.buffer as ArrayBuffer]);
} catch (error) {
  post({ type: 'error', name: (error as Error).name ?? 'Error', message: (error as Error).message ?? String(error) });
}
