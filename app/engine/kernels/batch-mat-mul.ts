import * as tf from '@tensorflow/tfjs';
import type { BatchMatMulAttrs, KernelConfig, TensorInfo } from '@tensorflow/tfjs';
import { asKernelFunc, disposeAll, runWasmKernel } from './wasm-backend.js';
import type { KernelArgs, WasmBackend, WasmKernelFunc } from './wasm-backend.js';

/**
 * BatchMatMul on WASM with a transposed operand, through the backend's fast path. The backend hands
 * only a single untransposed product to XNNPACK; with transposeA or transposeB it runs a scalar loop,
 * 10-20x slower: the dense layer's input gradient dy·Wᵀ ([256,50]×[320,50]ᵀ) took 6.1 ms where the
 * forward product of the same size takes 0.6 ms. Transposing the operand first (the backend's C++
 * Transpose, linear in its size) and multiplying untransposed does the same sums in XNNPACK's order.
 * Batched products (the backend has no fast path for them either) keep the original. Every unbatched
 * one takes the fast path, however small: a size threshold would give a chunk of 3 images another
 * summation order than a chunk of 7, and an attack that reads gradient magnitudes (DeepFool) other
 * images depending on how a job was split.
 *
 * A transposed weight (b is a variable: the dense layers' dy·Wᵀ) is kept rather than made on every
 * call. The backend caches its XNNPACK operator, with the weights packed, under the id of b's data;
 * a fresh transpose has a fresh id, so every call packed the weights anew: at batch 1 the product took
 * ~280 µs where the forward one takes ~25 µs. The kept copy holds the same numbers, so the sums and
 * their order are those of the fresh one.
 */

function swapLastTwo(backend: WasmBackend, x: TensorInfo): TensorInfo {
  const rank = x.shape.length;
  const perm = [...Array(rank).keys()];
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return runWasmKernel('Transpose', { inputs: { x }, backend, attrs: { perm } });
}

interface KeptTranspose {
  /**
   * The backend's record of the weight's data when it was transposed. The backend makes a new record
   * (with a new id) whenever data is written, even under a reused dataId, and deletes it when the data
   * is freed: while the dataId still maps to this very record, its bytes are the ones we transposed.
   */
  source: object;
  transposed: TensorInfo;
}

const kept = new WeakMap<WasmBackend, Map<object, KeptTranspose>>();

function isVariable(dataId: object): boolean {
  const variables = tf.engine().registeredVariables;
  for (const name in variables) if (variables[name].dataId === dataId) return true;
  return false;
}

/**
 * Frees the transposes of weights that were freed or rewritten since (at most a handful: one per
 * dense layer of the loaded models), so a disposed model's copies go at the next transposed product.
 */
function dropStale(backend: WasmBackend, copies: Map<object, KeptTranspose>): void {
  for (const [dataId, copy] of copies) {
    // `get` of a freed dataId would ask the engine to move the data in from another backend: `has` first.
    if (backend.dataIdMap.has(dataId) && backend.dataIdMap.get(dataId) === copy.source) continue;
    backend.disposeData(copy.transposed.dataId);
    copies.delete(dataId);
  }
}

/** bᵀ of a weight, made once per weight data (the caller must not dispose it). */
function transposedWeight(backend: WasmBackend, b: TensorInfo): TensorInfo {
  let copies = kept.get(backend);
  if (!copies) kept.set(backend, (copies = new Map()));
  dropStale(backend, copies);
  const copy = copies.get(b.dataId);
  if (copy) return copy.transposed;
  const source = backend.dataIdMap.get(b.dataId);
  if (!source) throw new Error('BatchMatMul: the weight has no data on the WASM backend');
  const transposed = swapLastTwo(backend, b);
  copies.set(b.dataId, { source, transposed });
  return transposed;
}

/** How many transposed weights are kept (for tests that check they are freed). */
export function keptTransposeCount(backend: WasmBackend): number {
  const copies = kept.get(backend);
  if (copies) dropStale(backend, copies);
  return copies?.size ?? 0;
}

export function makeBatchMatMulKernel(original: WasmKernelFunc): KernelConfig {
  const kernelFunc = (args: KernelArgs<BatchMatMulAttrs>): TensorInfo => {
    const { inputs, backend, attrs } = args;
    const { a, b } = inputs;
    const { transposeA, transposeB } = attrs;
    if ((!transposeA && !transposeB) || a.dtype !== 'float32' || b.dtype !== 'float32') return original(args);
    const batch = (shape: number[]) => shape.slice(0, -2).reduce((p, d) => p * d, 1);
    if (batch(a.shape) !== 1 || batch(b.shape) !== 1) return original(args);
    const aN = transposeA ? swapLastTwo(backend, a) : a;
    const keepB = transposeB && isVariable(b.dataId);
    const bN = !transposeB ? b : keepB ? transposedWeight(backend, b) : swapLastTwo(backend, b);
    try {
      return original({ inputs: { a: aN, b: bN }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } });
    } finally {
      disposeAll(backend, [aN === a ? undefined : aN, bN === b || keepB ? undefined : bN]);
    }
  };
  return { kernelName: tf.BatchMatMul, backendName: 'wasm', kernelFunc: asKernelFunc(kernelFunc) };
}
