/**
 * One compute worker thread: its own TF.js backend (single-threaded WASM SIMD by default), one loaded
 * classifier, and the attack and prediction calls of the pool run on it, off the host's event loop.
 * Attacks yield between steps, so a 'cancel' message is handled mid-attack: it aborts the job's
 * AbortSignal and the attack rejects with CancelledError.
 */
// First, so its 'scripts loaded' mark (FOOLPRINT_TRACE=1) comes before TF.js and the model code run.
import { traceStartup } from './startup-trace.js';
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { runAttack } from '../attacks/index.js';
import type { AttackProgress } from '../attacks/types.js';
import type { Classifier } from '../engine/classifier.js';
import { predictTopK } from '../engine/predict.js';
import { initBackend } from './backend.js';
import { markWorkerWarm } from './code-cache.js';
import { transferablesOf } from './compute-protocol.js';
import type { WorkerErrorInfo, WorkerRequest, WorkerResponse } from './compute-protocol.js';
import { loadClassifier } from './model-loader.js';

traceStartup('imports evaluated');
if (!parentPort) throw new Error('compute-worker.js runs only as a worker thread (started by ComputePool)');
const port = parentPort;

let classifier: Classifier | undefined;
/** Each running attack's cancel flag (a plain object: see AttackControl). */
const running = new Map<number, { aborted: boolean }>();

function post(message: WorkerResponse): void {
  port.postMessage(message, transferablesOf(message));
}

function errorInfo(error: unknown): WorkerErrorInfo {
  if (error instanceof Error) return { name: error.name, message: error.message.split('\n')[0] };
  return { name: 'Error', message: String(error) };
}

function loaded(): Classifier {
  if (!classifier) throw new Error('the compute worker has no model loaded');
  return classifier;
}

async function handle(message: WorkerRequest): Promise<void> {
  switch (message.type) {
    case 'init': {
      try {
        const backend = await initBackend({ prefer: message.backend });
        traceStartup(`backend ${backend.name} ready`);
        const model = await loadClassifier(message.model);
        traceStartup('model loaded');
        classifier = model;
        const { id, inputShape, numClasses, labels, notes } = model;
        markWorkerWarm();
        post({ type: 'ready', backend, model: { id, inputShape: [...inputShape], numClasses, labels: [...labels], notes: [...notes] } });
      } catch (error) {
        post({ type: 'init-error', error: errorInfo(error) });
      }
      return;
    }
    case 'attack': {
      traceStartup(`attack of ${message.labels.length} images received`);
      const cancel = { aborted: false };
      running.set(message.jobId, cancel);
      try {
        const result = await runAttack(loaded(), message.images, message.labels, message.options, {
          signal: cancel,
          ...(message.progress ? { onProgress: (progress: AttackProgress) => post({ type: 'progress', jobId: message.jobId, progress }) } : {}),
        });
        post({ type: 'attack-result', jobId: message.jobId, result });
      } catch (error) {
        post({ type: 'error', jobId: message.jobId, error: errorInfo(error) });
      } finally {
        running.delete(message.jobId);
      }
      return;
    }
    case 'predict': {
      try {
        const result = predictTopK(loaded(), message.images, message.k);
        post({ type: 'predict-result', jobId: message.jobId, result });
      } catch (error) {
        post({ type: 'error', jobId: message.jobId, error: errorInfo(error) });
      }
      return;
    }
    case 'memory': {
      const { numTensors, numDataBuffers, numBytes } = tf.memory();
      post({ type: 'memory-result', jobId: message.jobId, result: { numTensors, numDataBuffers, numBytes } });
      return;
    }
    case 'cancel': {
      const cancel = running.get(message.jobId);
      if (cancel) cancel.aborted = true;
      return;
    }
  }
}

port.on('message', (message: WorkerRequest) => {
  void handle(message);
});
