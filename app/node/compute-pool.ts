/**
 * ComputePool: attacks and predictions on worker threads, off the host's event loop (issue 2,
 * "Compute engine"). Each worker has its own single-threaded WASM SIMD backend (Node cannot run
 * multithreaded WASM), so N workers give N cores: a batch is split into contiguous image ranges, one
 * per worker, and the parts are merged back in image order. Jobs run one at a time, each on all workers.
 *
 * Measured on 2 cores (issue 2): two such workers run LeNet FGSM at batch 256 at about PyTorch's
 * 2-thread speed before the faster kernels of app/engine/kernels; one alone about half.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { AttackInputError } from '../attacks/errors.js';
import { CancelledError } from '../attacks/types.js';
import type { AttackOptions, AttackProgress, AttackResult, RunControl, TopK } from '../attacks/types.js';
import { ModelError } from '../models/errors.js';
import type { ModelSource } from '../models/source.js';
import type { BackendInfo, BackendName } from './backend.js';
import { transferablesOf } from './compute-protocol.js';
import type { WorkerErrorInfo, WorkerMemory, WorkerModelInfo, WorkerRequest, WorkerResponse } from './compute-protocol.js';
import { traceStartup } from './startup-trace.js';
import { workerScriptUrl } from './worker-script.js';

/** Pool problems a user can hit: not built, closed, a worker that died. One-line messages. */
export class ComputePoolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ComputePoolError';
  }
}

export interface ComputePoolOptions {
  model: ModelSource;
  /** Worker threads; default min(2, os.availableParallelism()). */
  workers?: number;
  /** Force a backend in every worker (else FOOLPRINT_BACKEND or the usual order). */
  backend?: BackendName;
}

export interface ComputePoolInfo {
  backend: BackendInfo;
  workers: number;
  model: WorkerModelInfo;
}

export function defaultWorkerCount(): number {
  return Math.max(1, Math.min(2, os.availableParallelism()));
}

/**
 * A worker count someone asked for, capped at the cores: each worker is a whole TF.js runtime with
 * its own model copy, so more workers than cores only add memory and contention (issue 7: 64
 * workers on 2 cores took 66 s and 2.85 GB for what 2 do in seconds). The note says so.
 */
export function boundedWorkerCount(requested: number, cores = os.availableParallelism()): { workers: number; note?: string } {
  if (requested <= cores) return { workers: requested };
  return { workers: cores, note: `${requested} workers asked for, but this machine has ${cores} core${cores === 1 ? '' : 's'}: using ${cores}` };
}

/** The error a worker reported, rebuilt on this side: the same class where it is a known one. */
function remoteError(info: WorkerErrorInfo): Error {
  if (info.name === 'CancelledError') return new CancelledError();
  if (info.name === 'AttackInputError') return new AttackInputError(info.message);
  if (info.name === 'ModelError') return new ModelError(info.message);
  const error = new Error(info.message);
  error.name = info.name;
  return error;
}

interface PendingPart {
  resolve(value: unknown): void;
  reject(error: Error): void;
  onProgress?: (progress: AttackProgress) => void;
}

interface Slot {
  index: number;
  worker?: Worker;
  pending: Map<number, PendingPart>;
  lastError?: string;
  /** The worker while it loads the model (create's signal stops it). */
  booting?: Worker;
}

/** Contiguous [start, end) image ranges, as even as possible, one per part. */
export function splitRanges(count: number, parts: number): [number, number][] {
  const ranges: [number, number][] = [];
  const n = Math.max(1, Math.min(parts, count));
  for (let i = 0; i < n; i++) ranges.push([Math.floor((i * count) / n), Math.floor(((i + 1) * count) / n)]);
  return ranges;
}

type TypedArray = Float32Array | Int32Array | Uint8Array;

/**
 * One worker's images: a view when they live in shared memory (the worker reads the caller's
 * pixels, nothing is copied: 31 MB less for the MNIST test set), else a copy that is transferred
 * (the caller keeps its array).
 */
function imageRange(images: Float32Array, start: number, end: number): Float32Array {
  return images.buffer instanceof SharedArrayBuffer ? images.subarray(start, end) : images.slice(start, end);
}

function concatTyped<T extends TypedArray>(parts: T[]): T {
  const Ctor = parts[0].constructor as new (length: number) => T;
  const out = new Ctor(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p as never, offset);
    offset += p.length;
  }
  return out;
}

/**
 * Per-image fields concatenated in part order (every typed array), nested objects merged key by key,
 * arrays index by index, and anything else (ε, k, step counts) taken from the first part.
 */
function mergeInImageOrder(parts: unknown[]): unknown {
  const first = parts[0];
  if (ArrayBuffer.isView(first)) return concatTyped(parts as TypedArray[]);
  if (Array.isArray(first)) return first.map((_, i) => mergeInImageOrder(parts.map((p) => (p as unknown[])[i])));
  if (first !== null && typeof first === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(first)) out[key] = mergeInImageOrder(parts.map((p) => (p as Record<string, unknown>)[key]));
    return out;
  }
  return first;
}

export function mergeAttackResults(parts: AttackResult[], options: AttackOptions): AttackResult {
  if (parts.length === 1) return parts[0];
  const n = parts.reduce((sum, p) => sum + p.shape[0], 0);
  const [, h, w, c] = parts[0].shape;
  const merged: AttackResult = {
    method: parts[0].method,
    // The part's options carry its slice of the targets; the caller's criterion is the whole one.
    options: { ...parts[0].options, ...(options.criterion ? { criterion: options.criterion } : {}) },
    shape: [n, h, w, c],
    labels: concatTyped(parts.map((p) => p.labels)),
    before: mergeInImageOrder(parts.map((p) => p.before)) as TopK,
    perEpsilon: mergeInImageOrder(parts.map((p) => p.perEpsilon)) as AttackResult['perEpsilon'],
  };
  if (parts[0].targets) merged.targets = concatTyped(parts.map((p) => p.targets as Int32Array));
  return merged;
}

export function mergeTopK(parts: TopK[]): TopK {
  if (parts.length === 1) return parts[0];
  return { k: parts[0].k, labels: concatTyped(parts.map((p) => p.labels)), probs: concatTyped(parts.map((p) => p.probs)) };
}

type Ready = Extract<WorkerResponse, { type: 'ready' }>;

export class ComputePool {
  private nextJobId = 1;
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly options: ComputePoolOptions,
    private readonly script: URL,
    private readonly slots: Slot[],
    private readonly ready: Ready,
    /** Shared with the workers' exit handlers, which word their rejection by it. */
    private readonly state: { closed: boolean },
  ) {}

  /**
   * Starts the workers and loads the model in each. `signal` gives up while they boot (the CLI's
   * workers boot while it checks its flags, and a bad flag should not wait for them): the booting
   * workers are stopped and the promise rejects.
   */
  static async create(options: ComputePoolOptions, signal?: AbortSignal): Promise<ComputePool> {
    const count = options.workers ?? defaultWorkerCount();
    if (!Number.isInteger(count) || count < 1) throw new ComputePoolError(`workers must be a positive integer, got ${count}`);
    signal?.throwIfAborted();
    const script = workerScriptUrl(import.meta.url, 'compute-worker', (message) => new ComputePoolError(message.replace('the compute-worker is', 'the compute worker is')));
    const slots: Slot[] = Array.from({ length: count }, (_, index) => ({ index, pending: new Map() }));
    const state = { closed: false };
    const giveUp = () => slots.forEach((slot) => void slot.booting?.terminate());
    signal?.addEventListener('abort', giveUp, { once: true });
    const started = await Promise.allSettled(slots.map((slot) => ComputePool.start(script, options, slot, state)));
    signal?.removeEventListener('abort', giveUp);
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed || signal?.aborted) {
      await Promise.all(slots.map((slot) => slot.worker?.terminate()));
      throw signal?.aborted ? new ComputePoolError('the compute pool was closed while it started') : (failed as PromiseRejectedResult).reason;
    }
    return new ComputePool(options, script, slots, (started[0] as PromiseFulfilledResult<Ready>).value, state);
  }

  /** Starts the slot's worker, loads the model there, and wires its messages to the slot's pending parts. */
  private static start(script: URL, options: ComputePoolOptions, slot: Slot, state: { closed: boolean }): Promise<Ready> {
    let worker: Worker;
    try {
      worker = new Worker(script);
    } catch (error) {
      return Promise.reject(new ComputePoolError(`cannot start a compute worker: ${(error as Error).message}`));
    }
    slot.lastError = undefined;
    slot.booting = worker;
    return new Promise<Ready>((resolve, reject) => {
      let loading = true;
      worker.on('message', (message: WorkerResponse) => {
        if (message.type === 'ready') {
          traceStartup(`compute worker ${slot.index + 1} ready`);
          loading = false;
          slot.booting = undefined;
          slot.worker = worker;
          worker.unref();
          resolve(message);
        } else if (message.type === 'init-error') {
          loading = false;
          void worker.terminate();
          reject(remoteError(message.error));
        } else {
          const part = slot.pending.get(message.jobId);
          if (!part) return;
          if (message.type === 'progress') {
            part.onProgress?.(message.progress);
            return;
          }
          slot.pending.delete(message.jobId);
          if (message.type === 'error') part.reject(remoteError(message.error));
          else part.resolve(message.result);
        }
      });
      worker.on('error', (error) => {
        slot.lastError = error.message.split('\n')[0];
      });
      worker.on('exit', (code) => {
        if (slot.worker === worker) slot.worker = undefined;
        if (slot.booting === worker) slot.booting = undefined;
        if (loading) {
          loading = false;
          reject(new ComputePoolError(`a compute worker exited (code ${code}) while loading the model${slot.lastError ? `: ${slot.lastError}` : ''}`));
        }
        const why = state.closed
          ? new ComputePoolError('the compute pool was closed')
          : new ComputePoolError(`compute worker ${slot.index + 1} stopped unexpectedly (exit code ${code}${slot.lastError ? `, ${slot.lastError}` : ''}); it is restarted on the next call`);
        for (const part of slot.pending.values()) part.reject(why);
        slot.pending.clear();
      });
      worker.postMessage({ type: 'init', model: options.model, backend: options.backend } satisfies WorkerRequest);
    });
  }

  info(): ComputePoolInfo {
    return { backend: this.ready.backend, workers: this.slots.length, model: this.ready.model };
  }

  async attack(images: Float32Array, labels: Int32Array, options: AttackOptions, control?: RunControl): Promise<AttackResult> {
    const n = labels.length;
    this.checkImages(images, n);
    const targets = options.criterion?.kind === 'targeted' ? options.criterion.targets : undefined;
    if (targets && targets.length !== n) throw new AttackInputError(`targeted attack: ${targets.length} targets for ${n} images`);
    const pixels = this.pixelsPerImage();
    return this.enqueue(n, control, ([start, end], jobId) => ({
      type: 'attack',
      jobId,
      images: imageRange(images, start * pixels, end * pixels),
      labels: labels.slice(start, end),
      progress: control?.onProgress !== undefined,
      options: {
        ...options,
        // Random starts are seeded per global image index, so a split batch starts where one call would.
        indexOffset: (options.indexOffset ?? 0) + start,
        ...(targets ? { criterion: { kind: 'targeted' as const, targets: targets.slice(start, end) } } : {}),
      },
    }), (parts) => mergeAttackResults(parts as AttackResult[], options));
  }

  async predict(images: Float32Array, k?: number, control?: RunControl): Promise<TopK> {
    const pixels = this.pixelsPerImage();
    const n = Math.floor(images.length / pixels);
    this.checkImages(images, n);
    return this.enqueue(n, control, ([start, end], jobId) => ({
      type: 'predict', jobId, images: imageRange(images, start * pixels, end * pixels), k,
    }), (parts) => mergeTopK(parts as TopK[]));
  }

  /** TF.js memory of every worker (tests check numTensors returns to its start value). */
  memory(): Promise<WorkerMemory[]> {
    return this.enqueue(this.slots.length, undefined, (_range, jobId) => ({ type: 'memory', jobId }), (parts) => parts as WorkerMemory[], this.slots.length);
  }

  async close(): Promise<void> {
    if (this.state.closed) return;
    this.state.closed = true;
    await Promise.all(this.slots.map((slot) => slot.worker?.terminate()));
  }

  private pixelsPerImage(): number {
    const [h, w, c] = this.ready.model.inputShape;
    return h * w * c;
  }

  private checkImages(images: Float32Array, n: number): void {
    const [h, w, c] = this.ready.model.inputShape;
    if (images.length !== n * h * w * c) {
      throw new AttackInputError(`images hold ${images.length} values, expected ${n} images of ${h}x${w}x${c} = ${n * h * w * c}`);
    }
  }

  /** Jobs run one after another; a failed or cancelled job does not stop the next. */
  private enqueue<R>(
    count: number,
    control: RunControl | undefined,
    request: (range: [number, number], jobId: number) => WorkerRequest,
    merge: (parts: unknown[]) => R,
    parts = this.slots.length,
  ): Promise<R> {
    const job = this.tail.then(() => this.execute(count, control, request, merge, parts));
    this.tail = job.catch(() => undefined);
    return job;
  }

  /** Restarts workers that died since the last job (same model, same backend). */
  private async revive(): Promise<void> {
    await Promise.all(this.slots.filter((slot) => !slot.worker).map((slot) => ComputePool.start(this.script, this.options, slot, this.state)));
  }

  private async execute<R>(
    count: number,
    control: RunControl | undefined,
    request: (range: [number, number], jobId: number) => WorkerRequest,
    merge: (parts: unknown[]) => R,
    parts: number,
  ): Promise<R> {
    if (this.state.closed) throw new ComputePoolError('the compute pool is closed');
    if (control?.signal?.aborted) throw new CancelledError();
    await this.revive();
    const ranges = splitRanges(count, parts);
    const progress: (AttackProgress | undefined)[] = ranges.map(() => undefined);
    const jobs: { slot: Slot; jobId: number }[] = [];
    const promises = ranges.map((range, i) => {
      const slot = this.slots[i];
      const worker = slot.worker;
      if (!worker) return Promise.reject(new ComputePoolError(`compute worker ${i + 1} is not running`));
      const jobId = this.nextJobId++;
      jobs.push({ slot, jobId });
      return new Promise<unknown>((resolve, reject) => {
        slot.pending.set(jobId, {
          resolve,
          reject,
          onProgress: control?.onProgress && ((p) => {
            progress[i] = p;
            // Totals are known once every part has reported; until then a sum would jump.
            if (progress.every((q) => q !== undefined)) {
              control.onProgress!({
                done: progress.reduce((sum, q) => sum + q!.done, 0),
                total: progress.reduce((sum, q) => sum + q!.total, 0),
                epsilon: p.epsilon,
              });
            }
          }),
        });
        const message = request(range, jobId);
        worker.ref();
        worker.postMessage(message, transferablesOf(message));
      });
    });
    const cancel = () => {
      for (const { slot, jobId } of jobs) {
        if (slot.pending.has(jobId)) slot.worker?.postMessage({ type: 'cancel', jobId } satisfies WorkerRequest);
      }
    };
    control?.signal?.addEventListener('abort', cancel);
    // Aborted while workers were being restarted: the event has already fired.
    if (control?.signal?.aborted) cancel();
    try {
      // One failed part fails the job: stop the others rather than wait for them.
      const settled = await Promise.allSettled(promises.map((p) => p.catch((error: unknown) => {
        cancel();
        throw error;
      })));
      if (control?.signal?.aborted) throw new CancelledError();
      const failures = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => s.reason as Error);
      // The parts we cancelled because another failed report CancelledError: report the cause.
      if (failures.length > 0) throw failures.find((e) => !(e instanceof CancelledError)) ?? failures[0];
      return merge(settled.map((s) => (s as PromiseFulfilledResult<unknown>).value));
    } finally {
      control?.signal?.removeEventListener('abort', cancel);
      for (const slot of this.slots) slot.worker?.unref();
    }
  }
}
