import * as tf from '@tensorflow/tfjs';
import type {
  DepthwiseConv2dNativeBackpropFilterAttrs, DepthwiseConv2dNativeBackpropInputAttrs, KernelConfig, TensorInfo,
} from '@tensorflow/tfjs';
import { asKernelFunc, dilateByStride, disposeAll, float32View, runWasmKernel } from './wasm-backend.js';
import type { KernelArgs, WasmBackend } from './wasm-backend.js';
import { weightGradientsWanted, zeroFilterGradient } from './weight-gradients.js';

/**
 * The depthwise-convolution gradients TF.js's WASM backend lacks (attacks on MobileNet-style models
 * failed there with "kernel not registered").
 *
 * Input gradient: per channel it is the convolution identity of Conv2DBackpropInput (see
 * conv2d-backprop-input.ts): dx_c = Σ_m conv(dilate_s(dy_{c·M+m}) padded by (k−1)·d−p, flip(W[:,:,c,m])),
 * run as one XNNPACK depthwise convolution over the C·M channels of dy, then summed over the channel
 * multiplier M. Filter gradient: a direct sum over the heap (it is only needed for training).
 */
function flippedDepthwiseFilter(backend: WasmBackend, filter: TensorInfo): TensorInfo {
  const [kh, kw, c, m] = filter.shape;
  const out = backend.makeOutput([kh, kw, c * m, 1], 'float32');
  const w = float32View(backend, filter);
  const wf = float32View(backend, out);
  for (let a = 0; a < kh; a++) {
    for (let b = 0; b < kw; b++) {
      const src = ((kh - 1 - a) * kw + (kw - 1 - b)) * c * m;
      wf.set(w.subarray(src, src + c * m), (a * kw + b) * c * m);
    }
  }
  return out;
}

function depthwiseBackpropInput(args: KernelArgs<DepthwiseConv2dNativeBackpropInputAttrs>): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs;
  const { strides, dilations, pad, dimRoundingMode, inputShape } = attrs;
  const info = tf.backend_util.computeConv2DInfo(
    inputShape, filter.shape as [number, number, number, number], strides, dilations, pad, dimRoundingMode, true);
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, strideHeight, strideWidth } = info;
  const { dilationHeight, dilationWidth, effectiveFilterHeight: ekh, effectiveFilterWidth: ekw } = info;
  const multiplier = filter.shape[3];
  if (dy.dtype !== 'float32' || filter.dtype !== 'float32') {
    throw new Error('DepthwiseConv2dNativeBackpropInput on WASM supports float32 only');
  }
  const top = ekh - 1 - info.padInfo.top;
  const left = ekw - 1 - info.padInfo.left;
  const bottom = inHeight + ekh - 1 - ((outHeight - 1) * strideHeight + 1) - top;
  const right = inWidth + ekw - 1 - ((outWidth - 1) * strideWidth + 1) - left;
  if (Math.min(top, left, bottom, right) < 0) {
    throw new Error(`DepthwiseConv2dNativeBackpropInput on WASM: padding ${JSON.stringify(info.padInfo)} larger than the filter is not supported`);
  }
  const dyDilated = dilateByStride(backend, dy, strideHeight, strideWidth);
  const wf = flippedDepthwiseFilter(backend, filter);
  let perChannel: TensorInfo | undefined;
  try {
    perChannel = runWasmKernel('DepthwiseConv2dNative', {
      inputs: { x: dyDilated, filter: wf },
      backend,
      attrs: { strides: [1, 1], pad: [[0, 0], [top, bottom], [left, right], [0, 0]], dilations: [dilationHeight, dilationWidth], dataFormat: 'NHWC' },
    });
    if (multiplier === 1) {
      const result = perChannel;
      perChannel = undefined;
      return result;
    }
    const out = backend.makeOutput([batchSize, inHeight, inWidth, inChannels], 'float32');
    const src = float32View(backend, perChannel);
    const dst = float32View(backend, out);
    const pixels = batchSize * inHeight * inWidth;
    for (let p = 0; p < pixels; p++) {
      for (let ch = 0; ch < inChannels; ch++) {
        let sum = 0;
        const base = (p * inChannels + ch) * multiplier;
        for (let k = 0; k < multiplier; k++) sum += src[base + k];
        dst[p * inChannels + ch] = sum;
      }
    }
    return out;
  } finally {
    disposeAll(backend, [wf, dyDilated === dy ? undefined : dyDilated, perChannel]);
  }
}

function depthwiseBackpropFilter(args: KernelArgs<DepthwiseConv2dNativeBackpropFilterAttrs>): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { x, dy } = inputs;
  const { strides, dilations, pad, dimRoundingMode, filterShape } = attrs;
  if (!weightGradientsWanted()) return zeroFilterGradient(backend, filterShape, dy);
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], filterShape, strides, dilations, pad, dimRoundingMode, true);
  const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth, outChannels } = info;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw, filterHeight: kh, filterWidth: kw } = info;
  const m = outChannels / c;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  const out = backend.makeOutput(filterShape, 'float32');
  const xs = float32View(backend, x);
  const g = float32View(backend, dy);
  // Accumulate in float64 (as TF.js's CPU kernel does in JS numbers): sums run over N·H·W terms.
  const acc = new Float64Array(kh * kw * outChannels);
  // dW[a,b,c,m] = Σ_{n,y,x} x[n, y·sh+a·dh−pt, x·sw+b·dw−pl, c] · dy[n,y,x,c·M+m]
  for (let n = 0; n < batchSize; n++) {
    for (let y = 0; y < outHeight; y++) {
      for (let a = 0; a < kh; a++) {
        const r = y * sh + a * dh - padTop;
        if (r < 0 || r >= inHeight) continue;
        for (let xo = 0; xo < outWidth; xo++) {
          const gBase = ((n * outHeight + y) * outWidth + xo) * outChannels;
          for (let b = 0; b < kw; b++) {
            const col = xo * sw + b * dw - padLeft;
            if (col < 0 || col >= inWidth) continue;
            const xBase = ((n * inHeight + r) * inWidth + col) * c;
            const wBase = (a * kw + b) * outChannels;
            for (let ch = 0; ch < c; ch++) {
              const v = xs[xBase + ch];
              for (let k = 0; k < m; k++) acc[wBase + ch * m + k] += v * g[gBase + ch * m + k];
            }
          }
        }
      }
    }
  }
  float32View(backend, out).set(acc);
  return out;
}

export const depthwiseBackpropInputKernel: KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropInput, backendName: 'wasm', kernelFunc: asKernelFunc(depthwiseBackpropInput),
};
export const depthwiseBackpropFilterKernel: KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropFilter, backendName: 'wasm', kernelFunc: asKernelFunc(depthwiseBackpropFilter),
};
