import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs';
import { asKernelFunc, float32View } from './wasm-backend.js';
import type { KernelArgs } from './wasm-backend.js';
import { wasmLoops } from './wasm-loops.js';

/**
 * ReLU's gradient dy·step(x) in one kernel call on WASM. TF.js computes it as mul(dy, cast(step(x)))
 * (tfjs-core gradients/Relu_grad): three kernel calls and two temporaries per ReLU, six calls of
 * LeNet's FGSM step at batch 1 where per-call overhead is most of the time. The loop gives the same
 * values: dy·1 is dy, dy·0 is +0 or −0 by dy's sign (NaN for an infinite or NaN dy), and a NaN x gives
 * NaN, as the backend's Step does. Not differentiable: for layer-chain.ts's backward passes. Other
 * backends take TF.js's three ops.
 */
export const RELU_GRADIENT = 'FoolprintReluGradient';

export const reluGradientKernel: KernelConfig = {
  kernelName: RELU_GRADIENT,
  backendName: 'wasm',
  kernelFunc: asKernelFunc((args: KernelArgs): TensorInfo => {
    const { inputs: { dy, x }, backend } = args;
    const out = backend.makeOutput(dy.shape, 'float32');
    // Views after makeOutput: allocating may grow the heap and detach views taken before.
    const g = float32View(backend, dy);
    const v = float32View(backend, x);
    const o = float32View(backend, out);
    const loops = wasmLoops(backend);
    const groups = loops ? Math.floor(o.length / 4) : 0;
    // Four at a time in WebAssembly where the loops run: the JS loop costs ~19 ns a value on the heap's view.
    if (loops && groups > 0) loops.reluGradient(g.byteOffset, v.byteOffset, o.byteOffset, groups);
    // The last values (fewer than four) or, without the loops, all of them.
    for (let i = groups * 4; i < o.length; i++) {
      const value = v[i];
      o[i] = value > 0 ? g[i] : value === value ? g[i] * 0 : NaN;
    }
    return out;
  }),
};

/** dy·step(x) for same-shaped float32 tensors: the bits of mul(dy, cast(step(x), 'float32')). */
export function reluGradient(dy: tf.Tensor, x: tf.Tensor): tf.Tensor {
  if (dy.dtype === 'float32' && x.dtype === 'float32' && tf.util.arraysEqual(dy.shape, x.shape) && tf.getBackend() === 'wasm' && tf.getKernel(RELU_GRADIENT, 'wasm')) {
    return tf.engine().runKernel(RELU_GRADIENT, { dy, x }, {}) as tf.Tensor;
  }
  return tf.mul(dy, tf.cast(tf.step(x), 'float32'));
}
