import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { directConvolutionRuns } from '../app/engine/kernels/conv2d.js';
import { registerFastWasmKernels, restoreOriginalWasmKernels } from '../app/engine/kernels/index.js';
import { setWasmLoopsEnabled } from '../app/engine/kernels/wasm-loops.js';
import { createLeNet } from '../app/models/lenet.js';
import { initBackend } from '../app/node/backend.js';
import { elementCount, seededValues } from './seeded-values.js';

/**
 * The direct convolution (app/engine/kernels/conv2d.ts) against the WASM backend's own Conv2D and
 * FusedConv2D (XNNPACK) it stands in front of: every output bit-identical (Object.is, so -0 and NaN
 * count), and against a scalar emulation of XNNPACK's order of sums, which is what makes that possible.
 */

type Shape4 = [number, number, number, number];
type Pad = 'valid' | 'same' | [[0, 0], [number, number], [number, number], [0, 0]];

const values = seededValues;
const size = elementCount;

interface Case {
  x: Float32Array;
  xShape: Shape4;
  w: Float32Array;
  wShape: Shape4;
  bias?: Float32Array;
  strides: [number, number];
  pad: Pad;
  activation: 'linear' | 'relu';
}

function makeCase(xShape: Shape4, wShape: Shape4, strides: [number, number], pad: Pad, bias: boolean, activation: 'linear' | 'relu', seed: number): Case {
  return {
    x: values(size(xShape), seed), xShape, w: values(size(wShape), seed + 1, 0.5), wShape,
    bias: bias ? values(wShape[3], seed + 2, 0.3) : undefined, strides, pad, activation,
  };
}

/** The fused op (FusedConv2D) with bias or activation, else the plain one (Conv2D). */
function convolve(c: Case): Float32Array {
  return tf.tidy(() => {
    const x = tf.tensor4d(c.x, c.xShape);
    const w = tf.tensor4d(c.w, c.wShape);
    const y = c.bias || c.activation !== 'linear'
      ? tf.fused.conv2d({ x, filter: w, strides: c.strides, pad: c.pad, bias: c.bias ? tf.tensor1d(c.bias) : undefined, activation: c.activation })
      : tf.conv2d(x, w, c.strides, c.pad);
    return y.dataSync() as Float32Array;
  });
}

/** The backend's own kernel's result (the fast kernels taken out for the call). */
function original(c: Case): Float32Array {
  restoreOriginalWasmKernels();
  try {
    return convolve(c);
  } finally {
    registerFastWasmKernels();
  }
}

/**
 * XNNPACK's f32 igemm order, one float32 rounding per product and per sum: acc = bias (or +0), then
 * for ky, kx, ci: acc += x·w, padding taps with x = 0; ReLU an integer max with 0 on the bits.
 */
function emulate(c: Case): Float32Array {
  const info = tf.backend_util.computeConv2DInfo(c.xShape, c.wShape, c.strides, 1, c.pad);
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth } = info;
  const out = new Float32Array(size(info.outShape));
  const bits = new Int32Array(out.buffer);
  let i = 0;
  for (let n = 0; n < batchSize; n++) {
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++) {
        for (let o = 0; o < outChannels; o++, i++) {
          let acc = c.bias ? c.bias[o] : 0;
          for (let ky = 0; ky < filterHeight; ky++) {
            for (let kx = 0; kx < filterWidth; kx++) {
              const y = oy * info.strideHeight + ky - info.padInfo.top;
              const x = ox * info.strideWidth + kx - info.padInfo.left;
              const inside = y >= 0 && y < inHeight && x >= 0 && x < inWidth;
              for (let ci = 0; ci < inChannels; ci++) {
                const v = inside ? c.x[((n * inHeight + y) * inWidth + x) * inChannels + ci] : 0;
                acc = Math.fround(acc + Math.fround(v * c.w[((ky * filterWidth + kx) * inChannels + ci) * outChannels + o]));
              }
            }
          }
          out[i] = acc;
          if (c.activation === 'relu' && bits[i] < 0) out[i] = 0;
        }
      }
    }
  }
  return out;
}

/** Indices where a and b differ as Object.is sees it (-0 ≠ +0, NaN = NaN). */
function differences(a: Float32Array, b: Float32Array): number[] {
  expect(a.length).toBe(b.length);
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) out.push(i);
  return out;
}

beforeAll(async () => {
  const info = await initBackend({ prefer: 'wasm' });
  expect(info.name).toBe('wasm');
});

afterEach(() => {
  setWasmLoopsEnabled(true);
});

describe('direct convolution on WASM: bit-identical to the backend\'s XNNPACK kernel', () => {
  const table: [string, Shape4, Shape4, [number, number], Pad, boolean, 'linear' | 'relu'][] = [
    ['LeNet conv1', [3, 28, 28, 1], [5, 5, 1, 10], [1, 1], 'valid', true, 'linear'],
    ['LeNet conv1, fused ReLU', [2, 28, 28, 1], [5, 5, 1, 10], [1, 1], 'valid', true, 'relu'],
    ['no bias (Conv2D)', [2, 17, 13, 1], [5, 5, 1, 10], [1, 1], 'valid', false, 'linear'],
    ['no bias, ReLU', [2, 11, 12, 1], [3, 3, 1, 8], [1, 1], 'same', false, 'relu'],
    ['same, 3x3, 20 channels (4 passes)', [2, 15, 16, 1], [3, 3, 1, 20], [1, 1], 'same', true, 'linear'],
    ['5x5 same, 13 channels', [1, 19, 9, 1], [5, 5, 1, 13], [1, 1], 'same', true, 'relu'],
    ['stride 2 down, width 4-7 (one vector per group)', [2, 14, 10, 1], [3, 5, 1, 3], [2, 1], 'valid', true, 'linear'],
    ['width 8-15, last group overlapping', [1, 9, 15, 1], [3, 3, 1, 2], [1, 1], 'valid', true, 'linear'],
    ['explicit padding', [2, 9, 11, 1], [4, 2, 1, 6], [1, 1], [[0, 0], [2, 1], [0, 3], [0, 0]], true, 'relu'],
    ['1x1 kernel (XNNPACK\'s GEMM route)', [2, 6, 9, 1], [1, 1, 1, 5], [1, 1], 'valid', true, 'linear'],
  ];
  it.each(table)('%s', (_name, xShape, wShape, strides, pad, bias, activation) => {
    const c = makeCase(xShape, wShape, strides, pad, bias, activation, xShape[1] * 31 + wShape[3]);
    const before = directConvolutionRuns();
    const fast = convolve(c);
    expect(directConvolutionRuns()).toBe(before + 1);
    expect(differences(fast, original(c))).toEqual([]);
    expect(differences(fast, emulate(c))).toEqual([]);
    expect(fast.some((v) => v !== 0)).toBe(true);
  });

  it('NaN of either sign, ±∞ and -0 come out as XNNPACK\'s', () => {
    for (const activation of ['linear', 'relu'] as const) {
      const c = makeCase([2, 10, 10, 1], [3, 3, 1, 4], [1, 1], 'same', true, activation, 5);
      c.x[0] = Number.NaN; // positive NaN, passed through the sums
      c.x[33] = Number.POSITIVE_INFINITY; // ∞·w, and ∞·0 = a negative NaN on x86 (ReLU maps that to +0)
      c.x[150] = Number.NEGATIVE_INFINITY;
      c.w[1] = 0;
      c.w[6] = -0;
      c.bias = Float32Array.of(-0, 0, -0, 1);
      // Channel 0 over a patch of zeros: -0 + 0·(negative w)… = -0, which ReLU turns into +0.
      for (let t = 0; t < 9; t++) c.w[t * 4] = -Math.abs(c.w[t * 4]) - 0.1;
      for (let i = 50; i < 100; i++) c.x[i] = 0;
      const fast = convolve(c);
      expect(differences(fast, original(c))).toEqual([]);
      expect(fast.some(Number.isNaN)).toBe(true);
      expect(fast.some((v) => Object.is(v, -0))).toBe(activation === 'linear');
    }
  });

  it('an image\'s outputs do not depend on the batch it is in', () => {
    const c = makeCase([7, 28, 28, 1], [5, 5, 1, 10], [1, 1], 'valid', true, 'linear', 11);
    const batch = convolve(c);
    const per = 24 * 24 * 10;
    for (const n of [0, 3, 6]) {
      const one = convolve({ ...c, x: c.x.slice(n * 784, (n + 1) * 784), xShape: [1, 28, 28, 1] });
      expect(differences(one, batch.slice(n * per, (n + 1) * per))).toEqual([]);
    }
  });

  it('LeNet\'s conv1 takes the direct route, in the forward pass and under the gradient tape', () => {
    const model = createLeNet();
    try {
      const x = tf.tensor4d(values(2 * 784, 3), [2, 28, 28, 1]);
      const before = directConvolutionRuns();
      tf.tidy(() => model.predict(x));
      expect(directConvolutionRuns()).toBe(before + 1);
      tf.tidy(() => tf.grad((img: tf.Tensor) => (model.apply(img) as tf.Tensor).sum())(x));
      expect(directConvolutionRuns()).toBe(before + 2);
      x.dispose();
    } finally {
      model.dispose();
    }
  });

  it('falls back to the backend\'s kernel where it does not apply, with the same results', () => {
    const fallbacks: Case[] = [
      makeCase([2, 12, 12, 10], [5, 5, 10, 20], [1, 1], 'valid', true, 'linear', 21), // LeNet's conv2: XNNPACK is faster
      makeCase([2, 12, 12, 1], [3, 3, 1, 4], [1, 2], 'same', true, 'linear', 22), // stride across
      makeCase([2, 12, 12, 1], [3, 3, 1, 1], [1, 1], 'valid', true, 'linear', 23), // one output channel: XNNPACK's depthwise route
      makeCase([2, 6, 6, 1], [4, 4, 1, 4], [1, 1], 'valid', true, 'relu', 24), // fewer than 4 output pixels across
    ];
    for (const c of fallbacks) {
      const before = directConvolutionRuns();
      const result = convolve(c);
      const runs = directConvolutionRuns();
      expect(differences(result, original(c))).toEqual([]);
      expect(runs).toBe(before);
    }
    // Where the WebAssembly loops cannot run (threaded or non-SIMD builds).
    setWasmLoopsEnabled(false);
    const c = makeCase([2, 28, 28, 1], [5, 5, 1, 10], [1, 1], 'valid', true, 'linear', 25);
    const before = directConvolutionRuns();
    const result = convolve(c);
    expect(directConvolutionRuns()).toBe(before);
    setWasmLoopsEnabled(true);
    expect(differences(result, convolve(c))).toEqual([]);
  });

  it('reads the weights at every call: new weights in a freed filter\'s place give their own results', () => {
    // Nothing is cached per filter (the loop loads each weight from the filter tensor itself), so a
    // filter and bias allocated where the previous ones were freed, same shapes, must not see old values.
    for (let seed = 41; seed < 44; seed++) {
      const c = makeCase([1, 28, 28, 1], [5, 5, 1, 10], [1, 1], 'valid', true, 'relu', 41);
      c.w = values(c.w.length, seed * 7, 0.5);
      c.bias = values(10, seed * 7 + 1, 0.3);
      expect(differences(convolve(c), emulate(c))).toEqual([]);
    }
  });

  it('frees every buffer it allocates', () => {
    const c = makeCase([2, 12, 12, 1], [3, 3, 1, 10], [1, 1], 'same', true, 'relu', 31);
    convolve(c);
    const start = tf.memory();
    convolve(c);
    expect(tf.memory().numDataBuffers).toBe(start.numDataBuffers);
    expect(tf.memory().numTensors).toBe(start.numTensors);
  });
});
