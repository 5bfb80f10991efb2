import * as tf from '@tensorflow/tfjs';
import type { BatchMatMulAttrs, KernelConfig, TensorInfo } from '@tensorflow/tfjs';
import { asKernelFunc, disposeAll, runWasmKernel } from './wasm-backend.js';
import type { KernelArgs, WasmBackend, WasmKernelFunc } from './wasm-backend.js';
import { transposeMatrix } from './kept-transpose.js';

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
 * A transposed weight (b a variable: the dense layers' dy·Wᵀ) is kept across calls (kept-transpose.ts).
 */

function swapLastTwo(backend: WasmBackend, x: TensorInfo): TensorInfo {
  const rank = x.shape.length;
  const perm = [...Array(rank).keys()];
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return runWasmKernel('Transpose', { inputs: { x }, backend, attrs: { perm } });
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
    const [rows, columns] = b.shape.slice(-2);
    const bT = transposeB ? transposeMatrix(backend, b, rows, columns, [...b.shape.slice(0, -2), columns, rows]) : undefined;
    try {
      return original({ inputs: { a: aN, b: bT ? bT.transposed : b }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } });
    } finally {
      disposeAll(backend, [aN === a ? undefined : aN, bT?.owned ? bT.transposed : undefined]);
    }
  };
  return { kernelName: tf.BatchMatMul, backendName: 'wasm', kernelFunc: asKernelFunc(kernelFunc) };
}
