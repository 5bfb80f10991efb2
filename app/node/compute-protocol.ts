/**
 * Messages between ComputePool (host thread) and compute-worker (one TF.js backend per thread).
 * Typed once here so both sides are checked against the same contract. Payloads are structured-clone
 * data only; typed arrays travel in transfer lists, so large batches move rather than copy.
 */
import type { AttackOptions, AttackProgress, AttackResult, TopK } from '../attacks/types.js';
import type { ModelSource } from '../models/source.js';
import type { BackendInfo, BackendName } from './backend.js';

export interface WorkerModelInfo {
  id: string;
  inputShape: [number, number, number];
  numClasses: number;
  labels: string[];
  /** What the loader assumed for want of a foolprint.json (hosts print them as notes). */
  notes: string[];
}

export interface WorkerMemory {
  numTensors: number;
  numDataBuffers: number;
  numBytes: number;
}

export type WorkerRequest =
  | { type: 'init'; model: ModelSource; backend?: BackendName }
  /**
   * `progress`: whether the caller listens. A worker posts progress messages only then: at batch 1
   * the one message of an FGSM cost the worker a structured clone and the host a dispatch for nobody.
   */
  | { type: 'attack'; jobId: number; images: Float32Array; labels: Int32Array; options: AttackOptions; progress: boolean }
  | { type: 'predict'; jobId: number; images: Float32Array; k?: number }
  | { type: 'memory'; jobId: number }
  | { type: 'cancel'; jobId: number };

/** An error as it crosses the thread boundary: class name and one-line message. */
export interface WorkerErrorInfo {
  name: string;
  message: string;
}

export type WorkerResponse =
  | { type: 'ready'; backend: BackendInfo; model: WorkerModelInfo }
  | { type: 'init-error'; error: WorkerErrorInfo }
  | { type: 'progress'; jobId: number; progress: AttackProgress }
  | { type: 'attack-result'; jobId: number; result: AttackResult }
  | { type: 'predict-result'; jobId: number; result: TopK }
  | { type: 'memory-result'; jobId: number; result: WorkerMemory }
  | { type: 'error'; jobId: number; error: WorkerErrorInfo };

/**
 * Buffers smaller than this are copied, not transferred. Transferring a buffer costs more than
 * copying a small one: a one-image attack's result holds 15 typed arrays of a few bytes each, and
 * a host-worker round trip took 78–123 µs with them transferred against 58–75 µs copied.
 */
export const MIN_TRANSFER_BYTES = 16 * 1024;

/**
 * Every distinct ArrayBuffer of at least MIN_TRANSFER_BYTES under `value` (typed arrays in nested
 * objects and arrays), for a transfer list; smaller ones travel as copies.
 */
export function transferablesOf(value: unknown, found: Set<ArrayBuffer> = new Set()): ArrayBuffer[] {
  if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof ArrayBuffer && value.buffer.byteLength >= MIN_TRANSFER_BYTES) found.add(value.buffer);
  } else if (Array.isArray(value)) {
    for (const item of value) transferablesOf(item, found);
  } else if (value !== null && typeof value === 'object') {
    for (const item of Object.values(value)) transferablesOf(item, found);
  }
  return [...found];
}
