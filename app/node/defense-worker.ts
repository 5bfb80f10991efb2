/** The worker thread of one defense job (defense-jobs.ts): runs it, reports progress, honours cancel. */
import { parentPort } from 'node:worker_threads';
import { transferablesOf } from './compute-protocol.js';
import { runDefenseJob } from './defense-jobs.js';
import type { DefenseWorkerRequest, DefenseWorkerResponse } from './defense-jobs.js';

if (!parentPort) throw new Error('defense-worker.js runs only as a worker thread (started by runDefenseJobInWorker)');
const port = parentPort;
const controller = new AbortController();
const post = (message: DefenseWorkerResponse) => port.postMessage(message, transferablesOf(message));

port.on('message', (message: DefenseWorkerRequest) => {
  if (message.type === 'cancel') {
    controller.abort();
    return;
  }
  runDefenseJob(message.job, { signal: controller.signal, onProgress: (progress) => post({ type: 'progress', progress }) }).then(
    (result) => post({ type: 'result', result }),
    (error: unknown) => post({ type: 'error', name: error instanceof Error ? error.name : 'Error', message: (error instanceof Error ? error.message : String(error)).split('\n')[0] }),
  );
});
