/**
 * loadDataset on a worker thread, for hosts that must stay responsive (the service behind the
 * browser-mode server and Electron): a 1.5 GB IDX file or 100,000 images load while other calls are
 * answered. One short-lived worker per load, so a cancelled load is simply terminated.
 */
import { Worker } from 'node:worker_threads';
import { CancelledError } from '../attacks/types.js';
import type { Dataset } from '../data/dataset.js';
import { DatasetError } from '../data/errors.js';
import type { DatasetOptions } from './dataset-loader.js';
import type { DatasetWorkerData, DatasetWorkerMessage } from './dataset-worker.js';
import { workerScriptUrl } from './worker-script.js';

export function loadDatasetInWorker(spec: string, options: DatasetOptions = {}): Promise<Dataset> {
  const { onProgress, signal, ...plain } = options;
  if (signal?.aborted) return Promise.reject(new CancelledError());
  const script = workerScriptUrl(import.meta.url, 'dataset-worker', (message) => new DatasetError(message));
  const worker = new Worker(script, { workerData: { spec, options: { ...plain, classNames: plain.classNames ? [...plain.classNames] : undefined } } satisfies DatasetWorkerData });
  return new Promise<Dataset>((resolve, reject) => {
    let settled = false;
    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', abort);
      void worker.terminate();
      outcome();
    };
    const abort = () => finish(() => reject(new CancelledError()));
    signal?.addEventListener('abort', abort, { once: true });
    worker.on('message', (message: DatasetWorkerMessage) => {
      if (message.type === 'progress') onProgress?.(message.done, message.total, message.label);
      else if (message.type === 'result') finish(() => resolve(message.dataset));
      else finish(() => reject(message.name === 'DatasetError' ? new DatasetError(message.message) : new Error(message.message)));
    });
    worker.on('error', (error) => finish(() => reject(new DatasetError(`the dataset reader failed: ${error.message.split('\n')[0]}`))));
    worker.on('exit', (code) => finish(() => reject(new DatasetError(`the dataset reader stopped (exit code ${code}) before it finished`))));
  });
}
