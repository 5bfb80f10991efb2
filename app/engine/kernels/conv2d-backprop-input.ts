import * as tf from '@tensorflow/tfjs';
import type { Conv2DBackpropInputAttrs, KernelConfig, TensorInfo } from '@tensorflow/tfjs';
import { transposeMatrix } from './kept-transpose.js';
import { asKernelFunc, dilateByStride, disposeAll, float32View, runWasmKernel } from './wasm-backend.js';
import type { KernelArgs, WasmBackend, WasmKernelFunc } from './wasm-backend.js';
import { col2imRows, wasmLoops } from './wasm-loops.js';
import type { WasmLoops } from './wasm-loops.js';

/**
 * Conv2DBackpropInput on WASM as a forward convolution (through XNNPACK, SIMD) instead of the
 * backend's scalar loop, which took 61% of an FGSM step on LeNet.
 *
 * The input gradient of y = conv(x, W; stride s, pad p) is itself a convolution (e.g. Dumoulin &
 * Visin, "A guide to convolution arithmetic", §4): dx = conv(dilate_s(dy) padded by k−1−p, W'), stride 1,
 * where W'[a,b,o,i] = W[k−1−a, k−1−b, i, o] (kernel flipped spatially, in/out channels swapped).
 *
 * We replace the kernel (unregister + register) rather than override Conv2D's gradient, because the
 * kernel is also what tf.conv2dTranspose runs forward, and every model's gradient reaches it through
 * the same op. Cases the identity does not cover directly (NCHW, padding larger than k−1) run the
 * original kernel. Where our WebAssembly loops run (wasm-loops.ts), a GEMM and col2im (viaGemm)
 * replace the convolution with the forward's multiply-adds; the convolution stays as the fallback.
 */
export function flippedTransposedFilter(backend: WasmBackend, filter: TensorInfo): TensorInfo {
  const [kh, kw, inC, outC] = filter.shape;
  const out = backend.makeOutput([kh, kw, outC, inC], 'float32');
  const w = float32View(backend, filter);
  const wt = float32View(backend, out);
  for (let a = 0; a < kh; a++) {
    for (let b = 0; b < kw; b++) {
      const src = ((kh - 1 - a) * kw + (kw - 1 - b)) * inC * outC;
      const dst = (a * kw + b) * outC * inC;
      for (let i = 0; i < inC; i++) {
        for (let o = 0; o < outC; o++) wt[dst + o * inC + i] = w[src + i * outC + o];
      }
    }
  }
  return out;
}

/**
 * Below this many input channels (the image layer: 1 for MNIST, 3 for RGB) the convolution above has
 * that few output channels, which XNNPACK's GEMM tiles (8+ channels wide) mostly waste. There, a
 * depthwise convolution of dy with each (o, i) kernel flipped, summed over o, is 2-3x faster.
 */
const FEW_CHANNELS = 4;

function viaDepthwise(
  backend: WasmBackend, dy: TensorInfo, dyDilated: TensorInfo, filter: TensorInfo,
  pads: [[0, 0], [number, number], [number, number], [0, 0]],
): TensorInfo {
  const [kh, kw, inC, outC] = filter.shape;
  // Depthwise filter [kh, kw, outC, inC]: channel o of dy, multiplier i, holds W[k−1−a, k−1−b, i, o].
  const wd = backend.makeOutput([kh, kw, outC, inC], 'float32');
  const w = float32View(backend, filter);
  const wdv = float32View(backend, wd);
  for (let a = 0; a < kh; a++) {
    for (let b = 0; b < kw; b++) {
      const src = ((kh - 1 - a) * kw + (kw - 1 - b)) * inC * outC;
      const dst = (a * kw + b) * outC * inC;
      for (let i = 0; i < inC; i++) {
        for (let o = 0; o < outC; o++) wdv[dst + o * inC + i] = w[src + i * outC + o];
      }
    }
  }
  let perPair: TensorInfo | undefined;
  try {
    perPair = runWasmKernel('DepthwiseConv2dNative', {
      inputs: { x: dyDilated, filter: wd },
      backend,
      attrs: { strides: [1, 1], pad: pads, dilations: [1, 1], dataFormat: 'NHWC' },
    });
    if (inC === 1) return runWasmKernel('Sum', { inputs: { x: perPair }, backend, attrs: { axis: [3], keepDims: true } });
    // Output channel o·inC + i: sum over o for each i.
    const [n, h, wid] = perPair.shape;
    const out = backend.makeOutput([n, h, wid, inC], 'float32');
    const src = float32View(backend, perPair);
    const dst = float32View(backend, out);
    for (let p = 0; p < n * h * wid; p++) {
      for (let i = 0; i < inC; i++) {
        let sum = 0;
        for (let o = 0; o < outC; o++) sum += src[(p * outC + o) * inC + i];
        dst[p * inC + i] = sum;
      }
    }
    return out;
  } finally {
    disposeAll(backend, [wd, perPair, dyDilated === dy ? undefined : dyDilated]);
  }
}

/**
 * Columns per product (256 KB), so col2im reads them from cache: on LeNet's conv2 at batch 256,
 * 16k-float chunks took 12.6 ms, 64k 9.7, 256k 13.0, 1M 15.4 (one interleaved run, loaded machine).
 */
const COLUMN_CHUNK_FLOATS = 65536;

let rowRuns = 0;

/** How many input gradients took col2imRows so far: tests check which route LeNet's conv1 takes. */
export function col2imRowsRuns(): number {
  return rowRuns;
}

/**
 * The input gradient as a GEMM followed by col2im, the forward convolution's work: every dy pixel's
 * contribution to the kh·kw·inC input values under its window is one row of
 * cols = dy [N·outH·outW, outC] × Wᵀ [outC, kh·kw·inC] (the backend's XNNPACK product), and col2im
 * adds each row into dx at the window's place (a WebAssembly SIMD loop, wasm-loops.ts: in JS it cost
 * more than the product). The convolution route below pads dy by k−1 and so does
 * ((outH+k−1)/outH)² times the multiply-adds: 2.25x on LeNet's conv2. Strides and padding fall out
 * of the window arithmetic; taps that land in padding are dropped. The sums over outC run in
 * XNNPACK's GEMM, the sums over taps in float32 in window order, so results differ from the
 * convolution route's in the last bits.
 */
function viaGemm(
  backend: WasmBackend, loops: WasmLoops, dy: TensorInfo, filter: TensorInfo, info: tf.backend_util.Conv2DInfo,
): TensorInfo {
  const { batchSize, inHeight, inWidth, inChannels: inC, outHeight, outWidth, outChannels: outC } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  const rowLength = kh * kw * inC;
  const dyRows = batchSize * outHeight;
  // One input channel, stride 1, no padding (the image layer, LeNet's conv1): col2im row by row with
  // dx in registers, whole images per product.
  const byRows = inC === 1 && sh === 1 && sw === 1 && padTop === 0 && padLeft === 0
    && inHeight === outHeight + kh - 1 && inWidth === outWidth + kw - 1
    ? col2imRows(backend, { filterHeight: kh, filterWidth: kw, outHeight, outWidth })
    : undefined;
  // Whole rows of dy per product, its columns small enough to stay in cache for col2im.
  let chunkRows = Math.min(dyRows, Math.max(1, Math.floor(COLUMN_CHUNK_FLOATS / (rowLength * outWidth))));
  if (byRows) chunkRows = Math.max(1, Math.floor(chunkRows / outHeight)) * outHeight;
  // Kept across calls when the filter is a model's weight, so the backend's XNNPACK operator (its
  // packed weights) is reused (kept-transpose.ts).
  const wT = transposeMatrix(backend, filter, rowLength, outC, [outC, rowLength]);
  const dyChunk = backend.makeOutput([chunkRows * outWidth, outC], 'float32');
  let cols: TensorInfo | undefined;
  try {
    const out = backend.makeOutput([batchSize, inHeight, inWidth, inC], 'float32');
    float32View(backend, out).fill(0);
    const rowStride = inWidth * inC;
    // Windows whose taps all land inside the row: x in [xFirst, xEnd).
    const xFirst = Math.min(outWidth, Math.ceil(padLeft / sw));
    const xEnd = Math.max(xFirst, Math.min(outWidth, Math.floor((inWidth + padLeft - kw) / sw) + 1));
    for (let first = 0; first < dyRows; first += chunkRows) {
      const rows = Math.min(chunkRows, dyRows - first);
      const chunk: TensorInfo = rows === chunkRows ? dyChunk : { dataId: dyChunk.dataId, shape: [rows * outWidth, outC], dtype: 'float32' };
      float32View(backend, dyChunk).set(float32View(backend, dy).subarray(first * outWidth * outC, (first + rows) * outWidth * outC));
      cols = runWasmKernel('BatchMatMul', { inputs: { a: chunk, b: wT.transposed }, backend, attrs: { transposeA: false, transposeB: false } });
      // Addresses after the product's allocation, which may have grown the heap.
      const srcBase = float32View(backend, cols).byteOffset;
      const dxBase = float32View(backend, out).byteOffset;
      if (byRows) {
        byRows(srcBase, dxBase + (first / outHeight) * inHeight * inWidth * 4, rows / outHeight);
        rowRuns++;
        disposeAll(backend, [cols]);
        cols = undefined;
        continue;
      }
      for (let row = 0; row < rows; row++) {
        const n = Math.floor((first + row) / outHeight);
        const y = (first + row) % outHeight;
        const aLo = Math.max(0, padTop - y * sh);
        const aHi = Math.min(kh, inHeight + padTop - y * sh);
        if (aLo >= aHi) continue;
        const dxRow = dxBase + ((n * inHeight + y * sh + aLo - padTop) * rowStride) * 4;
        const colRow = srcBase + (row * outWidth * rowLength + aLo * kw * inC) * 4;
        const addWindows = (x: number, count: number, bLo: number, bHi: number) => loops.col2imRuns(
          dxRow + ((x * sw - padLeft + bLo) * inC) * 4, colRow + (x * rowLength + bLo * inC) * 4, count, aHi - aLo,
          (bHi - bLo) * inC, sw * inC * 4, rowLength * 4, rowStride * 4, kw * inC * 4);
        for (let x = 0; x < outWidth; x++) {
          if (x === xFirst && xEnd > xFirst) {
            addWindows(x, xEnd - xFirst, 0, kw);
            x = xEnd - 1;
            continue;
          }
          const c0 = x * sw - padLeft;
          const bLo = Math.max(0, -c0);
          const bHi = Math.min(kw, inWidth - c0);
          if (bLo < bHi) addWindows(x, 1, bLo, bHi);
        }
      }
      disposeAll(backend, [cols]);
      cols = undefined;
    }
    return out;
  } finally {
    disposeAll(backend, [wT.owned ? wT.transposed : undefined, dyChunk, cols]);
  }
}

export function makeConv2DBackpropInputKernel(original: WasmKernelFunc): KernelConfig {
  const kernelFunc = (args: KernelArgs<Conv2DBackpropInputAttrs>): TensorInfo => {
    const { inputs, backend, attrs } = args;
    const dy = inputs.dy;
    const filter = inputs.filter;
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs;
    const info = tf.backend_util.computeConv2DInfo(
      inputShape, filter.shape as [number, number, number, number], strides, 1, pad, dimRoundingMode, false,
      tf.backend_util.convertConv2DDataFormat(dataFormat));
    const { inHeight, inWidth, outHeight, outWidth, filterHeight: kh, filterWidth: kw, strideHeight, strideWidth } = info;
    const top = kh - 1 - info.padInfo.top;
    const left = kw - 1 - info.padInfo.left;
    // Whatever the stride left uncovered at the bottom/right of x gets zero gradient: padding makes
    // the stride-1 convolution's output exactly inHeight x inWidth.
    const bottom = inHeight + kh - 1 - ((outHeight - 1) * strideHeight + 1) - top;
    const right = inWidth + kw - 1 - ((outWidth - 1) * strideWidth + 1) - left;
    if (info.dataFormat !== 'channelsLast' || Math.min(top, left, bottom, right) < 0 || dy.dtype !== 'float32') {
      return original(args);
    }
    const loops = filter.dtype === 'float32' ? wasmLoops(backend) : undefined;
    if (loops) return viaGemm(backend, loops, dy, filter, info);
    const dyDilated = dilateByStride(backend, dy, strideHeight, strideWidth);
    const pads: [[0, 0], [number, number], [number, number], [0, 0]] = [[0, 0], [top, bottom], [left, right], [0, 0]];
    if (info.inChannels <= FEW_CHANNELS) return viaDepthwise(backend, dy, dyDilated, filter, pads);
    const wt = flippedTransposedFilter(backend, filter);
    try {
      return runWasmKernel('Conv2D', {
        inputs: { x: dyDilated, filter: wt },
        backend,
        attrs: { strides: [1, 1], pad: pads, dataFormat: 'NHWC', dilations: [1, 1] },
      });
    } finally {
      disposeAll(backend, [wt, dyDilated === dy ? undefined : dyDilated]);
    }
  };
  return { kernelName: tf.Conv2DBackpropInput, backendName: 'wasm', kernelFunc: asKernelFunc(kernelFunc) };
}
