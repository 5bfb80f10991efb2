/**
 * Runs a training job on a worker thread of its own (training-worker.ts). Cancelling terminates the
 * thread: the checkpoint of the last finished epoch is written atomically, so nothing is half
 * written, and the same run started again resumes from it.
 */
import { Worker } from 'node:worker_threads';
import { CancelledError } from '../attacks/types.js';
import type { EpochRecord } from '../defenses/training.js';
import type { TrainingWorkerData, TrainingWorkerMessage } from './training-worker.js';
import { workerScriptUrl } from './worker-script.js';

export class TrainingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrainingError';
  }
}

export interface TrainingThreadHooks {
  onBatch?: (done: number, total: number) => void;
  onEpoch?: (record: EpochRecord) => void;
  signal?: AbortSignal;
}

export function trainInWorker(data: TrainingWorkerData, hooks: TrainingThreadHooks = {}): Promise<{ history: EpochRecord[]; resumedEpochs: number }> {
  if (hooks.signal?.aborted) return Promise.reject(new CancelledError());
  const script = workerScriptUrl(import.meta.url, 'training-worker', (message) => new TrainingError(message));
  const worker = new Worker(script, { workerData: data });
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      hooks.signal?.removeEventListener('abort', abort);
      void worker.terminate();
      outcome();
    };
    const abort = () => finish(() => reject(new CancelledError()));
    hooks.signal?.addEventListener('abort', abort, { once: true });
    worker.on('message', (m: TrainingWorkerMessage) => {
      if (m.type === 'batch') hooks.onBatch?.(m.done, m.total);
      else if (m.type === 'epoch') hooks.onEpoch?.(m.record);
      else if (m.type === 'result') finish(() => resolve({ history: m.history, resumedEpochs: m.resumedEpochs }));
      else finish(() => reject(new TrainingError(m.message)));
    });
    worker.on('error', (error) => finish(() => reject(new TrainingError(`the training thread failed: ${error.message.split('\n')[0]}`))));
    worker.on('exit', (code) => finish(() => reject(new TrainingError(`the training thread stopped (exit code ${code}) before it finished`))));
  });
}
