/**
 * Attacks want ∇x only, but TF.js's fused convolution (what every Layers Conv2D with a bias runs)
 * computes all its input gradients eagerly in its customGrad, the filter's and the bias's included:
 * about a quarter of an FGSM step on LeNet. The engine then discards them, since the weights are
 * not on the path from x to the loss. Inside `withoutWeightGradients` our filter-gradient kernels
 * return zeros of the right shape instead of computing them, and so does the bias gradient's Sum.
 *
 * Only for gradients w.r.t. inputs: code that trains weights must never run inside this scope.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, SumAttrs, TensorInfo } from '@tensorflow/tfjs';
import { asKernelFunc, float32View } from './wasm-backend.js';
import type { KernelArgs, WasmBackend, WasmKernelFunc } from './wasm-backend.js';

let depth = 0;

/**
 * The dy whose filter gradient was just skipped. The fused ops' customGrad (tfjs-core
 * ops/fused/conv2d.ts, depthwise_conv2d.ts) runs, in this order, the input gradient, the filter
 * gradient of dy, then the bias gradient: a Sum of that same dy over every axis but the channels.
 * Only that next Sum is skipped: any Sum clears the mark.
 */
let skippedFilterDy: object | undefined;

export function withoutWeightGradients<T>(compute: () => T): T {
  depth++;
  try {
    return compute();
  } finally {
    depth--;
    if (depth === 0) skippedFilterDy = undefined;
  }
}

export function weightGradientsWanted(): boolean {
  return depth === 0;
}

function zeros(backend: WasmBackend, shape: number[]): TensorInfo {
  const out = backend.makeOutput(shape, 'float32');
  float32View(backend, out).fill(0);
  return out;
}

/** What a filter-gradient kernel returns inside the scope: zeros of the filter's shape. */
export function zeroFilterGradient(backend: WasmBackend, filterShape: number[], dy: TensorInfo): TensorInfo {
  skippedFilterDy = dy.dataId;
  return zeros(backend, filterShape);
}

/**
 * Sum on WASM, returning zeros for the bias gradient of a fused op whose filter gradient was skipped
 * (5.8 + 2.1 ms of the 256-image FGSM step on LeNet). Every other Sum runs the original.
 */
export function makeSumKernel(original: WasmKernelFunc): KernelConfig {
  const kernelFunc = (args: KernelArgs<SumAttrs>): TensorInfo => {
    const { inputs: { x }, backend, attrs: { axis, keepDims } } = args;
    const skipped = skippedFilterDy;
    skippedFilterDy = undefined;
    if (skipped === undefined || skipped !== x.dataId || weightGradientsWanted() || keepDims || x.dtype !== 'float32') {
      return original(args);
    }
    const rank = x.shape.length;
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
    const allButChannels = axes.length === rank - 1 && axes.every((a, i) => a === i);
    return allButChannels ? zeros(backend, [x.shape[rank - 1]]) : original(args);
  };
  return { kernelName: tf.Sum, backendName: 'wasm', kernelFunc: asKernelFunc(kernelFunc) };
}
