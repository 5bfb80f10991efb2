import * as tf from '@tensorflow/tfjs';
import type { KernelConfig } from '@tensorflow/tfjs';
import { clipByValueGradKernel, registerClipGradient, restoreClipGradient } from './clip-gradient.js';
import { makeConv2DKernel, makeFusedConv2DKernel } from './conv2d.js';
import { conv2DBackpropFilterKernel } from './conv2d-backprop-filter.js';
import { makeConv2DBackpropInputKernel } from './conv2d-backprop-input.js';
import { depthwiseBackpropFilterKernel, depthwiseBackpropInputKernel } from './depthwise-backprop.js';
import { makeIdentityKernel } from './identity.js';
import { makeMaxPoolGradKernel } from './max-pool-grad.js';
import { makeBatchMatMulKernel } from './batch-mat-mul.js';
import { denseProductKernel } from './dense-product.js';
import { reluGradientKernel } from './relu-gradient.js';
import { makeSumKernel } from './weight-gradients.js';
import type { WasmKernelFunc } from './wasm-backend.js';

export { withoutWeightGradients } from './weight-gradients.js';
export { denseProduct } from './dense-product.js';
export { reluGradient } from './relu-gradient.js';

/**
 * Faster and missing gradient kernels for TF.js's WASM backend (issue 2, "Compute engine").
 * Replacements keep the original kernel as the fallback for cases they do not cover.
 */
export const FAST_WASM_KERNELS = [
  'Conv2DBackpropInput', 'MaxPoolGrad', 'DepthwiseConv2dNativeBackpropInput',
  'DepthwiseConv2dNativeBackpropFilter', 'Conv2DBackpropFilter', 'Identity', 'BatchMatMul', 'Sum',
  'FoolprintClipByValueGrad', 'Conv2D', 'FusedConv2D', 'FoolprintDenseProduct',
  'FoolprintReluGradient',
] as const;

/** The backend's own kernels we replaced, kept for fallbacks and for tests that compare against them. */
const originals = new Map<string, KernelConfig>();

function replace(kernelName: string, make: (original: WasmKernelFunc) => KernelConfig): void {
  const current = tf.getKernel(kernelName, 'wasm');
  if (!current) return;
  originals.set(kernelName, current);
  tf.unregisterKernel(kernelName, 'wasm');
  tf.registerKernel(make(current.kernelFunc as unknown as WasmKernelFunc));
}

function add(config: KernelConfig): void {
  if (!tf.getKernel(config.kernelName, 'wasm')) tf.registerKernel(config);
}

let registered = false;

/**
 * Registers the kernels for 'wasm' (idempotent). Call after importing @tensorflow/tfjs-backend-wasm,
 * which registers the originals. Returns the names of the kernels now in place.
 */
export function registerFastWasmKernels(): string[] {
  if (registered) return [...FAST_WASM_KERNELS];
  if (!tf.getKernel('Conv2D', 'wasm')) return [];
  replace('Conv2DBackpropInput', makeConv2DBackpropInputKernel);
  replace('MaxPoolGrad', makeMaxPoolGradKernel);
  replace('Identity', makeIdentityKernel);
  replace('BatchMatMul', makeBatchMatMulKernel);
  replace('Sum', makeSumKernel);
  replace('Conv2D', makeConv2DKernel);
  replace('FusedConv2D', makeFusedConv2DKernel);
  add(depthwiseBackpropInputKernel);
  add(depthwiseBackpropFilterKernel);
  add(conv2DBackpropFilterKernel);
  add(clipByValueGradKernel);
  add(denseProductKernel);
  add(reluGradientKernel);
  registerClipGradient();
  registered = true;
  return [...FAST_WASM_KERNELS];
}

/**
 * Puts the backend's replaced kernels back (Conv2DBackpropInput, MaxPoolGrad, Identity, BatchMatMul, Sum,
 * Conv2D, FusedConv2D; the added kernels stay, they
 * had no original) and TF.js's ClipByValue gradient. For benchmarks and tests that measure the difference.
 */
export function restoreOriginalWasmKernels(): void {
  restoreClipGradient();
  for (const [name, config] of originals) {
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(config);
  }
  originals.clear();
  registered = false;
}
