/**
 * Long work of the service as jobs: each gets an id, reports throttled progress events, can be
 * cancelled through an AbortSignal, and ends with exactly one onJobFinished event (succeeded with its
 * result, failed with a one-line message, or cancelled). Finished jobs are kept (bounded) so a client
 * that subscribes late can still ask jobs.get.
 */
import { randomBytes } from 'node:crypto';
import type { JobInfo, JobKind } from '../api/system.js';
import type { ApiEventName, ApiEventPayload } from '../api/events.js';
import { ApiError } from '../api/errors.js';
import { CancelledError } from '../attacks/types.js';

export interface JobContext {
  readonly jobId: string;
  readonly signal: AbortSignal;
  progress(done: number, total: number, label?: string): void;
}

type Emit = <E extends ApiEventName>(event: E, payload: ApiEventPayload<E>) => void;

interface JobEntry {
  info: JobInfo;
  controller: AbortController;
  done: Promise<void>;
}

/** Progress events closer together than this are dropped (the last one of a job is always sent). */
const PROGRESS_INTERVAL_MS = 50;
const KEEP_FINISHED = 200;

export function isCancellation(error: unknown, signal?: AbortSignal): boolean {
  return error instanceof CancelledError || (error instanceof Error && error.name === 'CancelledError') || (error instanceof ApiError && error.code === 'cancelled') || signal?.aborted === true;
}

export function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] || (error instanceof Error ? error.name : 'unknown error');
}

export class JobTable {
  private readonly jobs = new Map<string, JobEntry>();
  constructor(private readonly emit: Emit) {}

  start(kind: JobKind, label: string, work: (context: JobContext) => Promise<unknown>, experimentId: string | null = null): JobInfo {
    const jobId = `${kind}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
    const controller = new AbortController();
    const info: JobInfo = { jobId, kind, status: 'running', label, experimentId, done: 0, total: 0, startedAt: new Date().toISOString(), finishedAt: null, error: null };
    let lastSent = 0;
    const context: JobContext = {
      jobId,
      signal: controller.signal,
      progress: (done, total, text) => {
        if (info.status !== 'running') return;
        info.done = done;
        info.total = total;
        if (text !== undefined) info.label = text;
        const now = Date.now();
        if (done < total && now - lastSent < PROGRESS_INTERVAL_MS) return;
        lastSent = now;
        this.emit('progress', { jobId, done, total, label: info.label });
      },
    };
    const entry: JobEntry = { info, controller, done: Promise.resolve() };
    this.jobs.set(jobId, entry);
    // Run on the next tick so the caller has the job id before any event about it.
    entry.done = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => {
        if (controller.signal.aborted) throw new CancelledError();
        return work(context);
      })
      .then(
        (result) => {
          if (controller.signal.aborted) return this.finish(entry, 'cancelled', 'cancelled');
          info.result = result;
          this.finish(entry, 'succeeded', null);
        },
        (error: unknown) => {
          if (isCancellation(error, controller.signal)) this.finish(entry, 'cancelled', 'cancelled');
          else this.finish(entry, 'failed', oneLine(error));
        },
      );
    this.prune();
    return { ...info };
  }

  private finish(entry: JobEntry, status: 'succeeded' | 'failed' | 'cancelled', error: string | null): void {
    const { info } = entry;
    info.status = status;
    info.error = error;
    info.finishedAt = new Date().toISOString();
    this.emit('jobFinished', { jobId: info.jobId, kind: info.kind, status, error, ...(status === 'succeeded' ? { result: info.result } : {}) });
  }

  private prune(): void {
    const finished = [...this.jobs.values()].filter((e) => e.info.status !== 'running');
    for (const entry of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED))) this.jobs.delete(entry.info.jobId);
  }

  get(jobId: string): JobInfo {
    const entry = this.jobs.get(jobId);
    if (!entry) throw new ApiError('not-found', `no job "${jobId}"`);
    return { ...entry.info };
  }

  list(): JobInfo[] {
    // Results stay out of the list (they can be large); jobs.get has them.
    return [...this.jobs.values()].map(({ info }) => ({ ...info, result: undefined }));
  }

  cancel(jobId: string): boolean {
    const entry = this.jobs.get(jobId);
    if (!entry) throw new ApiError('not-found', `no job "${jobId}"`);
    if (entry.info.status !== 'running') return false;
    entry.controller.abort();
    return true;
  }

  /** Cancels every running job and waits until each has ended. */
  async close(): Promise<void> {
    for (const entry of this.jobs.values()) if (entry.info.status === 'running') entry.controller.abort();
    await Promise.all([...this.jobs.values()].map((e) => e.done));
  }
}
