import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs';
import { asKernelFunc } from './wasm-backend.js';
import type { KernelArgs, WasmKernelFunc } from './wasm-backend.js';

/**
 * Identity (tf.clone, and the gradient machinery around customGrad ops such as fused conv2d) on WASM
 * without the copy: the output shares the input's heap buffer under a reference count, exactly as
 * TF.js's CPU backend and WASM's own Reshape do. Kernels never write into their inputs, so sharing is
 * safe; the backend frees the buffer when the last tensor using it is disposed. Strings keep the
 * original kernel. (The copy was 6-7% of an FGSM step on LeNet.)
 */
export function makeIdentityKernel(original: WasmKernelFunc): KernelConfig {
  const kernelFunc = (args: KernelArgs): TensorInfo => {
    const x = args.inputs.x;
    if (x.dtype === 'string') return original(args);
    (args.backend as unknown as { incRef(dataId: object): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  return { kernelName: tf.Identity, backendName: 'wasm', kernelFunc: asKernelFunc(kernelFunc) };
}
