import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import { asKernelFunc, runWasmKernel } from './wasm-backend.js';
import type { KernelArgs } from './wasm-backend.js';

/**
 * A dense layer's product x·W (+ bias, + ReLU) on rank-2 operands, as one kernel call on WASM.
 * tf.fused.matMul reshapes both operands to rank 3 for the backend's _FusedMatMul and the product
 * back to rank 2: three Reshape calls through the engine around every dense layer, about a fifth of
 * the kernel calls of LeNet's FGSM at batch 1, where per-call overhead is most of the time. This
 * kernel calls the same _FusedMatMul with the same data seen as [1, N, K] and [1, K, M] (a reshape
 * only relabels a tensor's shape), so the product is the same bits, and returns it seen as [N, M].
 * Not differentiable: layer-chain.ts calls it off the tape or inside its own custom gradients. Other
 * backends take tf.fused.matMul.
 */
export const DENSE_PRODUCT = 'FoolprintDenseProduct';

interface DenseAttrs extends NamedAttrMap {
  activation: 'linear' | 'relu';
}

/** What tf.fused.matMul passes to _FusedMatMul besides the activation (its default leakyreluAlpha). */
const FUSED_DEFAULTS = { transposeA: false, transposeB: false, leakyreluAlpha: 0.2 };

export const denseProductKernel: KernelConfig = {
  kernelName: DENSE_PRODUCT,
  backendName: 'wasm',
  kernelFunc: asKernelFunc((args: KernelArgs<DenseAttrs>): TensorInfo => {
    const { inputs: { a, b, bias }, backend, attrs } = args;
    const [n, k] = a.shape;
    const m = b.shape[1];
    const product = runWasmKernel(tf._FusedMatMul, {
      inputs: { a: { ...a, shape: [1, n, k] }, b: { ...b, shape: [1, k, m] }, ...(bias ? { bias } : {}) },
      backend,
      attrs: { ...FUSED_DEFAULTS, activation: attrs.activation },
    });
    return { ...product, shape: [n, m] };
  }),
};

/** x·W (+ bias) (+ ReLU) for rank-2 x and W, the bits of tf.fused.matMul, in one kernel call where there is one. */
export function denseProduct(x: tf.Tensor2D, kernel: tf.Tensor2D, bias: tf.Tensor | undefined, activation: 'linear' | 'relu'): tf.Tensor2D {
  if (x.dtype === 'float32' && kernel.dtype === 'float32' && tf.getBackend() === 'wasm' && tf.getKernel(DENSE_PRODUCT, 'wasm')) {
    return tf.engine().runKernel(DENSE_PRODUCT, { a: x, b: kernel, ...(bias ? { bias } : {}) }, { activation }) as tf.Tensor2D;
  }
  return tf.fused.matMul({ a: x, b: kernel, bias, activation }) as tf.Tensor2D;
}
