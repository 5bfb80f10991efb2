/**
 * One long host job as the UI shows it: label, progress, cancel, and its one-line error. The job runs
 * on the host (worker threads); we only listen to its events, so the UI never freezes. Besides the
 * events we ask jobs.get once a second: an event sent before the stream (re)connected is not lost.
 */
import type { FoolprintApi } from '../../../app/api/client.js';
import { jobResultSchemas } from '../../../app/api/methods.js';
import type { JobResult } from '../../../app/api/methods.js';
import type { JobKind } from '../../../app/api/system.js';
import { errorMessage } from '../api.js';

const POLL_MS = 1000;

export class JobProgress {
  jobId = $state<string | null>(null);
  label = $state('');
  done = $state(0);
  total = $state(0);
  running = $state(false);
  error = $state<string | null>(null);
  /** Wall time of the last finished run, ms (the benchmark reads it from the page). */
  lastDurationMs = $state<number | null>(null);

  readonly fraction = $derived(this.total > 0 ? Math.min(1, this.done / this.total) : 0);

  constructor(private readonly api: FoolprintApi) {}

  /**
   * Follows the host's running job of `kind` in `experimentId`, if there is one this bar does not
   * follow yet: after a reload, or after coming back to a screen, progress and Cancel come from the
   * host's job list, not from what a component remembered. Resolves with its result once it ends.
   * experimentId null finds work outside any experiment (a model's evaluation, a sweep with none open).
   */
  async resume<K extends JobKind>(kind: K, experimentId: string | null): Promise<JobResult<K> | undefined> {
    if (this.running) return undefined;
    const jobs = await this.api.jobs.list().catch(() => []);
    const job = jobs.find((j) => j.kind === kind && j.status === 'running' && (j.experimentId ?? null) === experimentId);
    if (!job || this.running) return undefined;
    return this.run(kind, job.label, async () => ({ jobId: job.jobId }), { done: job.done, total: job.total });
  }

  /** Starts a job and resolves with its result, or undefined when it failed or was cancelled (error set). */
  async run<K extends JobKind>(kind: K, label: string, start: () => Promise<{ jobId: string }>, progress = { done: 0, total: 0 }): Promise<JobResult<K> | undefined> {
    this.error = null;
    this.label = label;
    this.done = progress.done;
    this.total = progress.total;
    this.running = true;
    const started = performance.now();
    const cleanups: (() => void)[] = [];
    try {
      const ended = new Promise<{ status: string; error: string | null; result?: unknown }>((resolve, reject) => {
        let jobId: string | null = null;
        const early: { status: string; error: string | null; result?: unknown; jobId: string }[] = [];
        cleanups.push(
          this.api.onJobFinished((event) => {
            if (jobId === null) early.push(event);
            else if (event.jobId === jobId) resolve(event);
          }),
          this.api.onProgress((p) => {
            if (p.jobId !== jobId) return;
            this.done = p.done;
            this.total = p.total;
            if (p.label) this.label = p.label;
          }),
        );
        start().then((answer) => {
          jobId = this.jobId = answer.jobId;
          const seen = early.find((e) => e.jobId === jobId);
          if (seen) return resolve(seen);
          const timer = setInterval(() => {
            this.api.jobs.get({ jobId: answer.jobId }).then((job) => {
              if (job.status !== 'running') resolve(job);
              else if (job.total > 0) {
                this.done = Math.max(this.done, job.done);
                this.total = job.total;
              }
            }, reject);
          }, POLL_MS);
          cleanups.push(() => clearInterval(timer));
        }, reject);
      });
      const outcome = await ended;
      if (outcome.status === 'cancelled') {
        this.error = 'Cancelled.';
        return undefined;
      }
      if (outcome.status !== 'succeeded') {
        this.error = outcome.error ?? `${label} failed.`;
        return undefined;
      }
      this.lastDurationMs = performance.now() - started;
      return jobResultSchemas[kind].parse(outcome.result) as JobResult<K>;
    } catch (error) {
      this.error = errorMessage(error);
      return undefined;
    } finally {
      for (const cleanup of cleanups) cleanup();
      this.running = false;
      this.jobId = null;
    }
  }

  async cancel(): Promise<void> {
    if (!this.jobId) return;
    try {
      await this.api.jobs.cancel({ jobId: this.jobId });
    } catch (error) {
      this.error = errorMessage(error);
    }
  }
}
