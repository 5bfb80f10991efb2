import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs';
import { asKernelFunc, disposeAll, float32View } from './wasm-backend.js';
import type { KernelArgs, WasmKernelFunc } from './wasm-backend.js';
import { directConvolution } from './wasm-loops.js';

/**
 * Conv2D and FusedConv2D on WASM for the image layer (one input channel: MNIST's conv1) as a direct
 * convolution in WebAssembly SIMD (wasm-loops.ts), four output pixels per vector. XNNPACK, which the
 * backend calls, packs output channels into tiles 8 wide (10 channels fill 16 lanes) and walks its
 * indirection buffer once per tap for a single multiply-add when there is one input channel.
 *
 * Results are bit-identical to the backend's: the loop accumulates every output in XNNPACK's order
 * (bias, then taps row by row, input channels innermost, separate rounding of product and sum; checked
 * against a scalar emulation and the backend over random shapes in test/kernels.test.ts), and that
 * order does not depend on the batch size. Everything else (strides across, dilation, other
 * activations, more input channels) runs the backend's kernel.
 */

/** Input channels up to which the direct convolution runs: it loses to XNNPACK's GEMM tiles beyond. */
const MAX_IN_CHANNELS = 1;

let directRuns = 0;

/** How many convolutions took the direct route so far: tests check the route LeNet's conv1 takes. */
export function directConvolutionRuns(): number {
  return directRuns;
}

interface ConvAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dilations: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  activation?: string;
}

function viaDirectConvolution(args: KernelArgs<ConvAttrs>): TensorInfo | undefined {
  const { inputs: { x, filter, bias, preluActivationWeights }, backend, attrs } = args;
  const activation = attrs.activation ?? 'linear';
  if (activation !== 'linear' && activation !== 'relu') return undefined;
  if (preluActivationWeights || x.dtype !== 'float32' || filter.dtype !== 'float32') return undefined;
  if (x.shape.length !== 4 || filter.shape.length !== 4) return undefined;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], filter.shape as [number, number, number, number],
    attrs.strides, attrs.dilations, attrs.pad, attrs.dimRoundingMode, false,
    tf.backend_util.convertConv2DDataFormat(attrs.dataFormat));
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight, strideWidth } = info;
  if (info.dataFormat !== 'channelsLast' || info.dilationHeight !== 1 || info.dilationWidth !== 1) return undefined;
  // One input and one output channel is a depthwise convolution to XNNPACK, with its own order of sums.
  if (outChannels < 2) return undefined;
  if (strideWidth !== 1 || inChannels > MAX_IN_CHANNELS || outWidth < 4 || batchSize === 0 || outHeight === 0) return undefined;
  if (bias && (bias.dtype !== 'float32' || bias.shape.length !== 1 || bias.shape[0] !== outChannels)) return undefined;
  const { top, bottom, left, right } = info.padInfo;
  const paddedHeight = inHeight + top + bottom;
  const paddedWidth = inWidth + left + right;
  // The last output row and pixel must read inside the padded planes.
  if ((outHeight - 1) * strideHeight + kh > paddedHeight || outWidth - 1 + kw > paddedWidth || Math.min(top, bottom, left, right) < 0) {
    return undefined;
  }
  const run = directConvolution(backend, {
    filterHeight: kh, filterWidth: kw, inChannels, outChannels, paddedHeight, paddedWidth,
    outHeight, outWidth, strideHeight, relu: activation === 'relu', bias: bias !== undefined,
  });
  if (!run) return undefined;

  const padded = top + bottom + left + right > 0 || inChannels > 1
    ? backend.makeOutput([batchSize, inChannels, paddedHeight, paddedWidth], 'float32')
    : undefined;
  try {
    const out = backend.makeOutput(info.outShape, 'float32');
    // Views after every allocation: allocating may grow the heap and detach earlier views.
    const src = float32View(backend, x);
    let input = src;
    if (padded) {
      input = float32View(backend, padded);
      input.fill(0);
      for (let n = 0; n < batchSize; n++) {
        for (let c = 0; c < inChannels; c++) {
          const plane = (n * inChannels + c) * paddedHeight;
          for (let y = 0; y < inHeight; y++) {
            let to = (plane + top + y) * paddedWidth + left;
            let from = ((n * inHeight + y) * inWidth) * inChannels + c;
            for (let col = 0; col < inWidth; col++, from += inChannels) input[to++] = src[from];
          }
        }
      }
    }
    const biasAt = bias ? float32View(backend, bias).byteOffset : 0;
    run(input.byteOffset, float32View(backend, filter).byteOffset, biasAt, float32View(backend, out).byteOffset, batchSize);
    directRuns++;
    return out;
  } finally {
    disposeAll(backend, [padded]);
  }
}

function make(kernelName: string, original: WasmKernelFunc): KernelConfig {
  const kernelFunc = (args: KernelArgs<ConvAttrs>): TensorInfo => viaDirectConvolution(args) ?? original(args);
  return { kernelName, backendName: 'wasm', kernelFunc: asKernelFunc(kernelFunc) };
}

export function makeConv2DKernel(original: WasmKernelFunc): KernelConfig {
  return make(tf.Conv2D, original);
}

export function makeFusedConv2DKernel(original: WasmKernelFunc): KernelConfig {
  return make(tf.FusedConv2D, original);
}
