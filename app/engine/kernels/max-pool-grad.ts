import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, MaxPoolGradAttrs, TensorInfo } from '@tensorflow/tfjs';
import { asKernelFunc, float32View } from './wasm-backend.js';
import type { KernelArgs, WasmKernelFunc } from './wasm-backend.js';
import { wasmLoops } from './wasm-loops.js';

/**
 * MaxPoolGrad on WASM, written against the heap directly: each pooling window is scanned once and dy
 * is routed to the window's first maximum. The backend's own kernel loops over every dx element and
 * re-scans every window covering it (19% of an FGSM step on LeNet). Channels are the innermost loop
 * (NHWC), so every window scan walks contiguous memory.
 *
 * Semantics match TF.js's CPU kernel exactly: the first maximum in row-major window order wins
 * (ties are common: MNIST's flat background gives equal conv outputs), padding is never a maximum,
 * a window with no value above −∞ (all −∞ or NaN) passes no gradient, overlapping windows add up.
 */
/**
 * The common non-overlapping 2x2/2 window (LeNet, VGG): the four candidates are compared unrolled,
 * in the same row-major order and with the same strict '>' from −∞, so ties and NaN behave as above.
 * Windows never overlap, so each dx element receives at most one dy value. With 4 or more channels
 * the same comparisons run in WebAssembly SIMD (wasm-loops.ts), four channels at a time without
 * data-dependent branches: 26 -> 8 ms on LeNet's [256,24,24,10] (the forward MaxPool: 2.7 ms), where
 * this JS loop pays a mispredicted branch per comparison on noisy inputs.
 */
function pool2x2Backprop(
  x: Float32Array, g: Float32Array, dx: Float32Array,
  batchSize: number, inHeight: number, inWidth: number, c: number, outHeight: number, outWidth: number,
): void {
  const rowStride = inWidth * c;
  let gi = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let yr = 0; yr < outHeight; yr++) {
      for (let yc = 0; yc < outWidth; yc++) {
        const p0 = ((b * inHeight + 2 * yr) * inWidth + 2 * yc) * c;
        for (let d = 0; d < c; d++, gi++) {
          const i0 = p0 + d;
          const i1 = i0 + c;
          const i2 = i0 + rowStride;
          const i3 = i2 + c;
          let best = Number.NEGATIVE_INFINITY;
          let at = -1;
          if (x[i0] > best) { best = x[i0]; at = i0; }
          if (x[i1] > best) { best = x[i1]; at = i1; }
          if (x[i2] > best) { best = x[i2]; at = i2; }
          if (x[i3] > best) at = i3;
          if (at >= 0) dx[at] = g[gi];
        }
      }
    }
  }
}

export function makeMaxPoolGradKernel(original: WasmKernelFunc): KernelConfig {
  const kernelFunc = (args: KernelArgs<MaxPoolGradAttrs>): TensorInfo => {
    const { inputs, backend, attrs } = args;
    const { dy, input } = inputs;
    if (input.dtype !== 'float32' || dy.dtype !== 'float32') return original(args);
    const { filterSize, strides, pad, dimRoundingMode } = attrs;
    const info = tf.backend_util.computePool2DInfo(
      input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
    if (info.dataFormat !== 'channelsLast') return original(args);
    const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth, strideHeight, strideWidth } = info;
    const { effectiveFilterHeight: fh, effectiveFilterWidth: fw } = info;
    const padTop = info.padInfo.top;
    const padLeft = info.padInfo.left;

    const out = backend.makeOutput(input.shape, 'float32');
    const x = float32View(backend, input);
    const g = float32View(backend, dy);
    const dx = float32View(backend, out);
    if (fh === 2 && fw === 2 && strideHeight === 2 && strideWidth === 2 && padTop === 0 && padLeft === 0) {
      const loops = wasmLoops(backend);
      if (!loops || outWidth === 0 || c < 4) {
        dx.fill(0);
        pool2x2Backprop(x, g, dx, batchSize, inHeight, inWidth, c, outHeight, outWidth);
        return out;
      }
      // The WASM loop writes every value under a window; only rows and columns no window covers
      // (odd sizes) need zeros first.
      if (2 * outHeight !== inHeight || 2 * outWidth !== inWidth) dx.fill(0);
      const rowBytes = inWidth * c * 4;
      for (let b = 0; b < batchSize; b++) {
        for (let yr = 0; yr < outHeight; yr++) {
          const xAt = x.byteOffset + ((b * inHeight + 2 * yr) * inWidth) * c * 4;
          const gAt = g.byteOffset + ((b * outHeight + yr) * outWidth) * c * 4;
          loops.maxPool2x2Backprop(xAt, gAt, dx.byteOffset - x.byteOffset, outWidth, c, rowBytes);
        }
      }
      return out;
    }
    dx.fill(0);
    const maxValue = new Float32Array(c);
    const maxIndex = new Int32Array(c);
    for (let b = 0; b < batchSize; b++) {
      for (let yr = 0; yr < outHeight; yr++) {
        const r0 = yr * strideHeight - padTop;
        const rMin = Math.max(0, r0);
        const rMax = Math.min(inHeight, r0 + fh);
        for (let yc = 0; yc < outWidth; yc++) {
          const c0 = yc * strideWidth - padLeft;
          const cMin = Math.max(0, c0);
          const cMax = Math.min(inWidth, c0 + fw);
          maxValue.fill(Number.NEGATIVE_INFINITY);
          maxIndex.fill(-1);
          for (let r = rMin; r < rMax; r++) {
            for (let col = cMin; col < cMax; col++) {
              const base = ((b * inHeight + r) * inWidth + col) * c;
              for (let d = 0; d < c; d++) {
                const v = x[base + d];
                if (v > maxValue[d]) {
                  maxValue[d] = v;
                  maxIndex[d] = base + d;
                }
              }
            }
          }
          const dyBase = ((b * outHeight + yr) * outWidth + yc) * c;
          for (let d = 0; d < c; d++) {
            const at = maxIndex[d];
            if (at >= 0) dx[at] += g[dyBase + d];
          }
        }
      }
    }
    return out;
  };
  return { kernelName: tf.MaxPoolGrad, backendName: 'wasm', kernelFunc: asKernelFunc(kernelFunc) };
}
