/** The worker thread of defense jobs (defense-jobs.ts), one at a time: runs each, reports progress, honours cancel. */
import { parentPort } from 'node:worker_threads';
import { transferablesOf } from './compute-protocol.js';
import { ScreenCache, runDefenseJob } from './defense-jobs.js';
import type { DefenseWorkerRequest, DefenseWorkerResponse } from './defense-jobs.js';

if (!parentPort) throw new Error('defense-worker.js runs only as a worker thread (started by DefenseWorker, defense-jobs.ts)');
const port = parentPort;
// The host sends the next job only after this one answered, so a cancel is for the job running.
let controller = new AbortController();
const screens = new ScreenCache();
const post = (message: DefenseWorkerResponse) => port.postMessage(message, transferablesOf(message));

port.on('message', (message: DefenseWorkerRequest) => {
  if (message.type === 'cancel') {
    controller.abort();
    return;
  }
  controller = new AbortController();
  runDefenseJob(message.job, { signal: controller.signal, onProgress: (progress) => post({ type: 'progress', progress }) }, screens).then(
    (result) => post({ type: 'result', result }),
    (error: unknown) => post({ type: 'error', name: error instanceof Error ? error.name : 'Error', message: (error instanceof Error ? error.message : String(error)).split('\n')[0] }),
  );
});
