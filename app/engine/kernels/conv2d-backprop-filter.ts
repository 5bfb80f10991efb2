import * as tf from '@tensorflow/tfjs';
import type { Conv2DBackpropFilterAttrs, KernelConfig, TensorInfo } from '@tensorflow/tfjs';
import { asKernelFunc, float32View } from './wasm-backend.js';
import type { KernelArgs } from './wasm-backend.js';

/**
 * Conv2DBackpropFilter, which TF.js's WASM backend lacks (training a conv net on WASM failed with
 * "kernel not registered"). A direct sum over the heap, accumulated in float64 like TF.js's CPU kernel:
 * dW[a,b,i,o] = Σ_{n,y,x} x[n, y·sh+a−pt, x·sw+b−pl, i] · dy[n,y,x,o]. Attacks never need it (they
 * differentiate w.r.t. the image), so it favours being obviously right over being fast.
 */
function conv2DBackpropFilter(args: KernelArgs<Conv2DBackpropFilterAttrs>): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { x, dy } = inputs;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false,
    tf.backend_util.convertConv2DDataFormat(dataFormat));
  if (info.dataFormat !== 'channelsLast') throw new Error('Conv2DBackpropFilter on WASM supports NHWC only');
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') throw new Error('Conv2DBackpropFilter on WASM supports float32 only');
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  const out = backend.makeOutput(filterShape, 'float32');
  const xs = float32View(backend, x);
  const g = float32View(backend, dy);
  const acc = new Float64Array(kh * kw * inChannels * outChannels);
  for (let n = 0; n < batchSize; n++) {
    for (let y = 0; y < outHeight; y++) {
      for (let a = 0; a < kh; a++) {
        const r = y * sh + a - padTop;
        if (r < 0 || r >= inHeight) continue;
        for (let xo = 0; xo < outWidth; xo++) {
          const gBase = ((n * outHeight + y) * outWidth + xo) * outChannels;
          for (let b = 0; b < kw; b++) {
            const col = xo * sw + b - padLeft;
            if (col < 0 || col >= inWidth) continue;
            const xBase = ((n * inHeight + r) * inWidth + col) * inChannels;
            const wBase = (a * kw + b) * inChannels * outChannels;
            for (let i = 0; i < inChannels; i++) {
              const v = xs[xBase + i];
              if (v === 0) continue;
              const row = wBase + i * outChannels;
              for (let o = 0; o < outChannels; o++) acc[row + o] += v * g[gBase + o];
            }
          }
        }
      }
    }
  }
  float32View(backend, out).set(acc);
  return out;
}

export const conv2DBackpropFilterKernel: KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter, backendName: 'wasm', kernelFunc: asKernelFunc(conv2DBackpropFilter),
};
