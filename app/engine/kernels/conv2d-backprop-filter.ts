import * as tf from '@tensorflow/tfjs';
import type { Conv2DBackpropFilterAttrs, KernelConfig, TensorInfo } from '@tensorflow/tfjs';
import { asKernelFunc, disposeAll, float32View, runWasmKernel } from './wasm-backend.js';
import type { KernelArgs, WasmBackend } from './wasm-backend.js';
import { weightGradientsWanted, zeroFilterGradient } from './weight-gradients.js';

/**
 * Conv2DBackpropFilter, which TF.js's WASM backend lacks. It is on the hot path of every attack:
 * tf.fused.conv2d (what a Layers Conv2D with bias runs) computes all its input gradients eagerly in
 * its customGrad, so the filter gradient is computed even when only the image gradient is wanted.
 *
 * dW[a,b,i,o] = Σ_{n,y,x} xp[n, y·sh+a, x·sw+b, i] · dy[n,y,x,o]  (xp: x with the forward padding)
 *
 * is a convolution with the roles swapped: batch ↔ channels. With X' = xp as [inC, Hp, Wp, N] and
 * F' = dy as [outH, outW, N, outC], conv(X', F'; stride 1, dilation s, valid) is [inC, kh, kw, outC],
 * i.e. dW transposed. One XNNPACK convolution replaces a scalar sum (7-20x faster on LeNet's layers).
 */
function paddedChannelsFirst(backend: WasmBackend, x: TensorInfo, rows: number, cols: number, padTop: number, padLeft: number): TensorInfo {
  const [n, h, w, c] = x.shape;
  const out = backend.makeOutput([c, rows, cols, n], 'float32');
  const src = float32View(backend, x);
  const dst = float32View(backend, out);
  dst.fill(0);
  // Read x in memory order, write each channel's plane: one strided write per element.
  const planeStride = rows * cols * n;
  let from = 0;
  for (let b = 0; b < n; b++) {
    for (let xr = 0; xr < h; xr++) {
      const r = xr + padTop;
      if (r >= rows) {
        from += w * c;
        continue;
      }
      for (let xc = 0; xc < w; xc++) {
        const col = xc + padLeft;
        if (col >= cols) {
          from += c;
          continue;
        }
        let to = (r * cols + col) * n + b;
        for (let i = 0; i < c; i++, to += planeStride) dst[to] = src[from++];
      }
    }
  }
  return out;
}

function conv2DBackpropFilter(args: KernelArgs<Conv2DBackpropFilterAttrs>): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { x, dy } = inputs;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs;
  if (!weightGradientsWanted()) return zeroFilterGradient(backend, filterShape, dy);
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false,
    tf.backend_util.convertConv2DDataFormat(dataFormat));
  if (info.dataFormat !== 'channelsLast') throw new Error('Conv2DBackpropFilter on WASM supports NHWC only');
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') throw new Error('Conv2DBackpropFilter on WASM supports float32 only');
  const { inChannels, outHeight, outWidth, outChannels, strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
  // Exactly the rows and columns some tap reads: beyond them the forward convolution never looked.
  const rows = (outHeight - 1) * sh + kh;
  const cols = (outWidth - 1) * sw + kw;
  const [, inHeight, inWidth] = x.shape;
  const unpadded = info.padInfo.top === 0 && info.padInfo.left === 0 && rows === inHeight && cols === inWidth;
  // The backend's C++ transpose is several times faster than a JS loop over the heap.
  const xT = unpadded
    ? runWasmKernel('Transpose', { inputs: { x }, backend, attrs: { perm: [3, 1, 2, 0] } })
    : paddedChannelsFirst(backend, x, rows, cols, info.padInfo.top, info.padInfo.left);
  const dyT = runWasmKernel('Transpose', { inputs: { x: dy }, backend, attrs: { perm: [1, 2, 0, 3] } });
  let swapped: TensorInfo | undefined;
  try {
    swapped = runWasmKernel('Conv2D', {
      inputs: { x: xT, filter: dyT },
      backend,
      attrs: { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [sh, sw] },
    });
    // [inC, kh, kw, outC] → [kh, kw, inC, outC]
    const out = backend.makeOutput(filterShape, 'float32');
    const src = float32View(backend, swapped);
    const dst = float32View(backend, out);
    let from = 0;
    for (let i = 0; i < inChannels; i++) {
      for (let t = 0; t < kh * kw; t++) {
        let to = (t * inChannels + i) * outChannels;
        for (let o = 0; o < outChannels; o++) dst[to++] = src[from++];
      }
    }
    return out;
  } finally {
    disposeAll(backend, [xT, dyT, swapped]);
  }
}

export const conv2DBackpropFilterKernel: KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter, backendName: 'wasm', kernelFunc: asKernelFunc(conv2DBackpropFilter),
};
