/**
 * One defense evaluation as a job: robust accuracy vs ε, a transfer matrix, or a SafetyNet
 * detector. `runDefenseJob` runs it on this thread; `runDefenseJobInWorker` on a worker thread of
 * its own (the app and the server keep answering meanwhile), with progress and cancel by message.
 * The images travel with the job, so hosts load datasets their own way (CLI flags, API selections).
 */
import { Worker } from 'node:worker_threads';
import { CancelledError } from '../attacks/types.js';
import { evaluateRobustness } from '../defenses/robustness.js';
import type { DefenseProgress, RobustnessPlan, RobustnessReport } from '../defenses/robustness.js';
import { screenImages, trainAndEvaluateDetector } from '../defenses/safetynet.js';
import type { DetectorPlan, DetectorReport, DetectorScreen } from '../defenses/safetynet.js';
import { transferMatrix } from '../defenses/transfer.js';
import type { TransferMatrix, TransferPlan } from '../defenses/transfer.js';
import { initBackend } from './backend.js';
import type { BackendName } from './backend.js';
import { transferablesOf } from './compute-protocol.js';
import { openActivationProbe, openDefendedModels } from './defense-models.js';
import type { DefendedModelSpec } from './defense-models.js';
import { libsvmTrainer, loadSvm } from './libsvm.js';
import { workerScriptUrl } from './worker-script.js';

interface JobData {
  models: DefendedModelSpec[];
  images: Float32Array;
  labels: Int32Array;
  backend?: BackendName;
}

export type DefenseJob =
  | (JobData & { kind: 'robustness'; plan: Omit<RobustnessPlan, 'surrogate'> & { surrogateId?: string } })
  | (JobData & { kind: 'transfer'; plan: TransferPlan })
  | (JobData & { kind: 'detect'; plan: DetectorPlan; layer?: string })
  /** A stored detector's verdicts on images, for a protected model (protected-pool.ts); labels unused. */
  | (JobData & { kind: 'screen'; detector: DetectorScreen });

export type DefenseJobResult =
  | { kind: 'robustness'; report: RobustnessReport }
  | { kind: 'transfer'; matrix: TransferMatrix }
  | { kind: 'detect'; detector: DetectorReport }
  | { kind: 'screen'; scores: Float64Array; rejected: Uint8Array };

export interface DefenseJobControl {
  signal?: AbortSignal;
  onProgress?: (p: DefenseProgress) => void;
}

let backendReady: Promise<unknown> | undefined;

export async function runDefenseJob(job: DefenseJob, control: DefenseJobControl = {}): Promise<DefenseJobResult> {
  backendReady ??= initBackend({ prefer: job.backend });
  await backendReady;
  const opened = await openDefendedModels(job.models);
  try {
    if (job.kind === 'robustness') {
      const surrogateId = job.plan.surrogateId;
      const surrogateBase = surrogateId === undefined ? undefined : opened.bases.get(surrogateId);
      const { surrogateId: _, ...plan } = job.plan;
      const report = await evaluateRobustness(opened.models, job.images, job.labels, {
        ...plan,
        ...(surrogateBase ? { surrogate: { id: surrogateId!, classifier: surrogateBase } } : {}),
      }, control);
      return { kind: 'robustness', report };
    }
    if (job.kind === 'transfer') return { kind: 'transfer', matrix: await transferMatrix(opened.models, job.images, job.labels, job.plan, control) };
    const base = opened.bases.get(job.models[0].id)!;
    const probe = await openActivationProbe(base, job.kind === 'screen' ? job.detector.layer : job.layer);
    try {
      if (job.kind === 'screen') {
        const svm = await loadSvm(job.detector.svm);
        try {
          return { kind: 'screen', ...screenImages(job.images, probe, svm, job.detector) };
        } finally {
          svm.dispose();
        }
      }
      const detector = await trainAndEvaluateDetector(base, probe, await libsvmTrainer(), job.images, job.labels, job.plan, control);
      return { kind: 'detect', detector: { ...detector, modelId: job.models[0].id } };
    } finally {
      probe.dispose();
    }
  } finally {
    opened.dispose();
  }
}

export type DefenseWorkerRequest = { type: 'run'; job: DefenseJob } | { type: 'cancel' };
export type DefenseWorkerResponse =
  | { type: 'progress'; progress: DefenseProgress }
  | { type: 'result'; result: DefenseJobResult }
  | { type: 'error'; name: string; message: string };

export class DefenseJobError extends Error {
  constructor(message: string, name = 'DefenseJobError') {
    super(message);
    this.name = name;
  }
}

/** The same job on a worker thread of its own, ended when the job ends. */
export function runDefenseJobInWorker(job: DefenseJob, control: DefenseJobControl = {}): Promise<DefenseJobResult> {
  if (control.signal?.aborted) return Promise.reject(new CancelledError());
  const script = workerScriptUrl(import.meta.url, 'defense-worker', (message) => new DefenseJobError(message));
  const worker = new Worker(script);
  return new Promise<DefenseJobResult>((resolve, reject) => {
    let settled = false;
    const onAbort = () => worker.postMessage({ type: 'cancel' } satisfies DefenseWorkerRequest);
    control.signal?.addEventListener('abort', onAbort, { once: true });
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      control.signal?.removeEventListener('abort', onAbort);
      fn();
      void worker.terminate();
    };
    worker.on('message', (message: DefenseWorkerResponse) => {
      if (message.type === 'progress') control.onProgress?.(message.progress);
      else if (message.type === 'result') settle(() => resolve(message.result));
      else settle(() => reject(message.name === 'CancelledError' ? new CancelledError() : new DefenseJobError(message.message, message.name)));
    });
    worker.on('error', (error) => settle(() => reject(new DefenseJobError(`the defense worker failed: ${error.message.split('\n')[0]}`))));
    worker.on('exit', (code) => settle(() => reject(new DefenseJobError(`the defense worker stopped (exit code ${code})`))));
    worker.postMessage({ type: 'run', job } satisfies DefenseWorkerRequest, transferablesOf(job));
  });
}
