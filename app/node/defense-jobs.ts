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
import type { DetectorPlan, DetectorReport, DetectorScreen, TrainedSvm } from '../defenses/safetynet.js';
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

type ScreenJob = Extract<DefenseJob, { kind: 'screen' }>;

/** What screening needs open: the protected model's hidden layer and the detector's SVM. */
interface OpenedScreen {
  probe: Awaited<ReturnType<typeof openActivationProbe>>;
  svm: TrainedSvm;
  dispose(): void;
}

async function openScreen(job: ScreenJob): Promise<OpenedScreen> {
  const opened = await openDefendedModels(job.models);
  let probe: OpenedScreen['probe'] | undefined;
  try {
    probe = await openActivationProbe(opened.bases.get(job.models[0].id)!, job.detector.layer);
    const svm = await loadSvm(job.detector.svm);
    const kept = probe;
    const dispose = () => {
      svm.dispose();
      kept.dispose();
      opened.dispose();
    };
    return { probe, svm, dispose };
  } catch (error) {
    probe?.dispose();
    opened.dispose();
    throw error;
  }
}

/**
 * The last screen job's model, probe and SVM, kept by a long-lived defense worker (DefenseWorker):
 * a protected model screens every request with the same detector, and opening them again cost more
 * than the screening. Opened anew when the job names another model, layer or SVM (a retrained detector).
 */
export class ScreenCache {
  private last?: { key: string; svm: string; opened: Promise<OpenedScreen> };

  open(job: ScreenJob): Promise<OpenedScreen> {
    const key = JSON.stringify([job.models, job.detector.layer]);
    if (this.last?.key === key && this.last.svm === job.detector.svm) return this.last.opened;
    this.dispose();
    const opened = openScreen(job);
    const entry = { key, svm: job.detector.svm, opened };
    this.last = entry;
    opened.catch(() => {
      if (this.last === entry) this.last = undefined;
    });
    return opened;
  }

  dispose(): void {
    void this.last?.opened.then((o) => o.dispose(), () => undefined);
    this.last = undefined;
  }
}

/** One job on this thread; a screen job keeps what it opened in `screens` when given (else disposes it). */
export async function runDefenseJob(job: DefenseJob, control: DefenseJobControl = {}, screens?: ScreenCache): Promise<DefenseJobResult> {
  backendReady ??= initBackend({ prefer: job.backend });
  await backendReady;
  if (job.kind === 'screen') {
    const screen = await (screens ? screens.open(job) : openScreen(job));
    try {
      return { kind: 'screen', ...screenImages(job.images, screen.probe, screen.svm, job.detector) };
    } finally {
      if (!screens) screen.dispose();
    }
  }
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
    const probe = await openActivationProbe(base, job.layer);
    try {
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

/** The same job on a worker thread of its own, ended before the job's answer is. */
export async function runDefenseJobInWorker(job: DefenseJob, control: DefenseJobControl = {}): Promise<DefenseJobResult> {
  const worker = new DefenseWorker();
  try {
    return await worker.run(job, control);
  } finally {
    await worker.close();
  }
}

const threads = { started: 0, running: 0 };
/**
 * Defense worker threads this process started so far, and those not yet exited: tests check that a
 * protected model starts one, not one per request, and that closing leaves none behind.
 */
export const defenseWorkerThreads = (): { started: number; running: number } => ({ ...threads });

interface RunningJob {
  worker: Worker;
  control: DefenseJobControl;
  settle(outcome: { result: DefenseJobResult } | { error: Error }): void;
}

/** How long a DefenseWorker's thread waits for its next job before it ends: 5 minutes. */
export const DEFENSE_WORKER_IDLE_MS = 5 * 60_000;

/**
 * A defense worker thread that outlives its jobs: it runs them one after another and keeps what a
 * screen job opened for the next (ScreenCache), so a protected model does not start a thread, a
 * TF.js backend, its model and its SVM again for every request. Idle, it does not keep the process
 * alive; a worker that fails is started again by the next job; close() ends it once the jobs queued
 * so far are done (and any job run after close ends it again when done). A thread left idle for
 * `idleMs` (default DEFENSE_WORKER_IDLE_MS) ends too, giving back its backend, model and SVM (tens
 * of MB in a desktop app left open); the next job starts another.
 */
export class DefenseWorker {
  private worker?: Worker;
  private running?: RunningJob;
  private tail: Promise<void> = Promise.resolve();
  private queued = 0;
  private closing = false;
  private stopped: Promise<unknown> = Promise.resolve();
  private idleTimer?: ReturnType<typeof setTimeout>;
  private readonly idleMs: number;

  constructor(options: { idleMs?: number } = {}) {
    this.idleMs = options.idleMs ?? DEFENSE_WORKER_IDLE_MS;
  }

  run(job: DefenseJob, control: DefenseJobControl = {}): Promise<DefenseJobResult> {
    clearTimeout(this.idleTimer);
    this.queued++;
    const result = this.tail.then(() => this.start(job, control));
    this.tail = result.then(
      () => this.done(),
      () => this.done(),
    );
    return result;
  }

  async close(): Promise<void> {
    clearTimeout(this.idleTimer);
    this.closing = true;
    if (this.queued === 0) await this.stop();
    else await this.tail;
  }

  private async done(): Promise<void> {
    if (--this.queued > 0) return;
    if (this.closing) await this.stop();
    else if (this.worker) this.idleTimer = setTimeout(() => void this.stop(), this.idleMs).unref();
  }

  /** Ends the thread; a second call waits for the first one's end. */
  private stop(): Promise<unknown> {
    const worker = this.worker;
    this.worker = undefined;
    if (worker) this.stopped = worker.terminate();
    return this.stopped;
  }

  private start(job: DefenseJob, control: DefenseJobControl): Promise<DefenseJobResult> {
    if (control.signal?.aborted) return Promise.reject(new CancelledError());
    const worker = (this.worker ??= this.spawn());
    worker.ref();
    return new Promise<DefenseJobResult>((resolve, reject) => {
      const onAbort = () => worker.postMessage({ type: 'cancel' } satisfies DefenseWorkerRequest);
      control.signal?.addEventListener('abort', onAbort, { once: true });
      this.running = {
        worker,
        control,
        settle: (outcome) => {
          this.running = undefined;
          control.signal?.removeEventListener('abort', onAbort);
          worker.unref();
          if ('result' in outcome) resolve(outcome.result);
          else reject(outcome.error);
        },
      };
      worker.postMessage({ type: 'run', job } satisfies DefenseWorkerRequest, transferablesOf(job));
    });
  }

  private spawn(): Worker {
    const script = workerScriptUrl(import.meta.url, 'defense-worker', (message) => new DefenseJobError(message));
    const worker = new Worker(script);
    threads.started++;
    threads.running++;
    // This worker's job: not one a worker started after this one failed runs.
    const job = () => (this.running?.worker === worker ? this.running : undefined);
    // A failed worker is dropped, and the job it ran fails; the next job starts another.
    const fail = (error: Error) => {
      if (this.worker === worker) this.worker = undefined;
      job()?.settle({ error });
    };
    worker.on('message', (message: DefenseWorkerResponse) => {
      if (message.type === 'progress') job()?.control.onProgress?.(message.progress);
      else if (message.type === 'result') job()?.settle({ result: message.result });
      else job()?.settle({ error: message.name === 'CancelledError' ? new CancelledError() : new DefenseJobError(message.message, message.name) });
    });
    worker.on('error', (error) => fail(new DefenseJobError(`the defense worker failed: ${error.message.split('\n')[0]}`)));
    worker.on('exit', (code) => {
      threads.running--;
      fail(new DefenseJobError(`the defense worker stopped (exit code ${code})`));
    });
    return worker;
  }
}
