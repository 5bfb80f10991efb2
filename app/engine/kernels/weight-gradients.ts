/**
 * Attacks want ∇x only, but TF.js's fused convolution (what every Layers Conv2D with a bias runs)
 * computes all its input gradients eagerly in its customGrad, the filter's included: about a
 * quarter of an FGSM step on LeNet. The engine then discards that gradient, since the weights are
 * not on the path from x to the loss. Inside `withoutWeightGradients` our filter-gradient kernels
 * return zeros of the right shape instead of computing it.
 *
 * Only for gradients w.r.t. inputs: code that trains weights must never run inside this scope.
 */
import type { TensorInfo } from '@tensorflow/tfjs';
import { float32View } from './wasm-backend.js';
import type { WasmBackend } from './wasm-backend.js';

let depth = 0;

export function withoutWeightGradients<T>(compute: () => T): T {
  depth++;
  try {
    return compute();
  } finally {
    depth--;
  }
}

export function weightGradientsWanted(): boolean {
  return depth === 0;
}

/** What a filter-gradient kernel returns inside the scope: zeros of the filter's shape. */
export function zeroFilterGradient(backend: WasmBackend, filterShape: number[]): TensorInfo {
  const out = backend.makeOutput(filterShape, 'float32');
  float32View(backend, out).fill(0);
  return out;
}
