import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLeNet } from '../app/models/lenet.js';
import { initBackend } from '../app/node/backend.js';
import { setWasmLoopsEnabled } from '../app/engine/kernels/wasm-loops.js';
import { keptTransposeCount } from '../app/engine/kernels/kept-transpose.js';

/**
 * Every kernel app/engine/kernels registers for WASM, checked against TF.js's CPU backend (the
 * reference implementation) over a table of shapes, strides, paddings and channel counts.
 */

type Shape4 = [number, number, number, number];
type Pad = 'valid' | 'same' | number | [[0, 0], [number, number], [number, number], [0, 0]];

/** Deterministic pseudo-random values (LCG) so every run checks the same numbers. */
function values(size: number, seed: number, scale = 1, levels = 0): Float32Array {
  const out = new Float32Array(size);
  let s = seed >>> 0;
  for (let i = 0; i < size; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = s / 2 ** 32;
    out[i] = levels > 0 ? Math.floor(u * levels) * scale : (u * 2 - 1) * scale;
  }
  return out;
}

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

async function on(backend: 'wasm' | 'cpu', run: () => tf.Tensor): Promise<Float32Array> {
  await tf.setBackend(backend);
  const before = tf.memory();
  const t = run();
  const data = (await t.data()) as Float32Array;
  t.dispose();
  const after = tf.memory();
  expect(after.numTensors).toBe(before.numTensors);
  // Intermediate heap buffers a kernel allocates must be freed too.
  expect(after.numDataBuffers).toBe(before.numDataBuffers);
  return data;
}

/** max |a−b| ≤ 1e-5 · max(1, max |b|): absolute for O(1) values, relative where values are large. */
function expectClose(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).toBe(expected.length);
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < expected.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(actual[i] - expected[i]));
    maxRef = Math.max(maxRef, Math.abs(expected[i]));
  }
  expect(Number.isFinite(maxDiff)).toBe(true);
  expect(maxDiff).toBeLessThanOrEqual(1e-5 * Math.max(1, maxRef));
  // A kernel that returns zeros would pass against zeros: make sure the case has signal.
  expect(maxRef).toBeGreaterThan(0);
}

async function compare(run: () => tf.Tensor): Promise<void> {
  const fast = await on('wasm', run);
  const reference = await on('cpu', run);
  expectClose(fast, reference);
}

beforeAll(async () => {
  const info = await initBackend({ prefer: 'wasm' });
  expect(info.name).toBe('wasm');
});

describe.each([
  ['GEMM + col2im in WebAssembly SIMD', true],
  ['fallback without the WebAssembly loops: convolution with the flipped kernel', false],
])('Conv2DBackpropInput on WASM, %s', (_route, loops) => {
  beforeAll(() => setWasmLoopsEnabled(loops));
  afterAll(() => setWasmLoopsEnabled(true));
  const cases: [string, Shape4, [number, number], number, [number, number], Pad, number][] = [
    ['LeNet conv1', [3, 28, 28, 1], [5, 5], 10, [1, 1], 'valid', 1],
    ['LeNet conv2', [3, 12, 12, 10], [5, 5], 20, [1, 1], 'valid', 1],
    ['3x3 same stride 1', [2, 9, 9, 3], [3, 3], 4, [1, 1], 'same', 1],
    ['3x3 same stride 2, odd size', [2, 9, 9, 3], [3, 3], 5, [2, 2], 'same', 1],
    ['3x3 valid stride 2, uncovered edge', [2, 10, 11, 2], [3, 3], 4, [2, 2], 'valid', 1],
    ['1x1 same stride 2', [1, 8, 8, 4], [1, 1], 6, [2, 2], 'same', 1],
    ['2x2 valid stride 3', [2, 11, 10, 3], [2, 2], 3, [3, 3], 'valid', 1],
    ['3x2 kernel, strides 2x1, same', [2, 7, 8, 3], [3, 2], 4, [2, 1], 'same', 1],
    ['explicit padding', [2, 8, 7, 2], [3, 3], 3, [1, 1], [[0, 0], [1, 2], [2, 1], [0, 0]], 1],
    ['large values (relative)', [2, 10, 10, 8], [3, 3], 16, [1, 1], 'same', 1000],
    ['5x5 same, batch 1 (windows clipped on every border)', [1, 9, 10, 3], [5, 5], 4, [1, 1], 'same', 1],
    ['3x3 same stride 2, 16 input channels (SIMD runs), odd sizes', [2, 9, 7, 16], [3, 3], 8, [2, 2], 'same', 1],
    ['LeNet conv2, batch 40 (several column chunks)', [40, 12, 12, 10], [5, 5], 20, [1, 1], 'valid', 1],
    ['padding beyond the kernel (falls back to the original)', [1, 6, 6, 2], [2, 2], 3, [1, 1], [[0, 0], [3, 0], [0, 0], [0, 0]], 1],
  ];
  it.each(cases)('%s', async (_name, xShape, [kh, kw], outC, strides, pad, scale) => {
    const filterShape = [kh, kw, xShape[3], outC] as [number, number, number, number];
    const yShape = tf.tidy(() => tf.conv2d(tf.zeros(xShape) as tf.Tensor4D, tf.zeros(filterShape) as tf.Tensor4D, strides, pad as any).shape);
    const dy = values(size(yShape), 7, scale);
    const w = values(size(filterShape), 11, 1);
    await compare(() => tf.tidy(() => tf.engine().runKernel('Conv2DBackpropInput',
      { dy: tf.tensor(dy, yShape), filter: tf.tensor(w, filterShape) },
      { strides, pad, dataFormat: 'NHWC', inputShape: xShape, dimRoundingMode: undefined } as any) as tf.Tensor));
  });
});

describe('Conv2DBackpropFilter on WASM (added)', () => {
  const cases: [string, Shape4, [number, number], number, [number, number], Pad][] = [
    ['LeNet conv2', [4, 12, 12, 10], [5, 5], 20, [1, 1], 'valid'],
    ['LeNet conv1, batch 64 (long sums)', [64, 28, 28, 1], [5, 5], 10, [1, 1], 'valid'],
    ['1x1 pointwise', [2, 7, 7, 16], [1, 1], 8, [1, 1], 'same'],
    ['3x3 same stride 2', [2, 9, 9, 3], [3, 3], 5, [2, 2], 'same'],
    ['3x3 valid stride 2, uncovered edge', [2, 10, 11, 2], [3, 3], 4, [2, 2], 'valid'],
    ['3x2 kernel, strides 2x1, same', [2, 7, 8, 3], [3, 2], 4, [2, 1], 'same'],
  ];
  it.each(cases)('%s', async (_name, xShape, [kh, kw], outC, strides, pad) => {
    const filterShape = [kh, kw, xShape[3], outC] as [number, number, number, number];
    const yShape = tf.tidy(() => tf.conv2d(tf.zeros(xShape) as tf.Tensor4D, tf.zeros(filterShape) as tf.Tensor4D, strides, pad as any).shape);
    const x = values(size(xShape), 3);
    const dy = values(size(yShape), 5);
    await compare(() => tf.tidy(() => tf.engine().runKernel('Conv2DBackpropFilter',
      { x: tf.tensor(x, xShape), dy: tf.tensor(dy, yShape) },
      { strides, pad, dataFormat: 'NHWC', filterShape, dimRoundingMode: undefined } as any) as tf.Tensor));
  });
});

describe.each([
  ['WebAssembly SIMD for 2x2/2 with 4+ channels', true],
  ['JS loops only', false],
])('MaxPoolGrad on WASM (one scan per window, first maximum wins), %s', (_route, loops) => {
  beforeAll(() => setWasmLoopsEnabled(loops));
  afterAll(() => setWasmLoopsEnabled(true));
  const cases: [string, Shape4, [number, number], [number, number], 'valid' | 'same', number][] = [
    ['LeNet pool1 2x2/2, many ties', [3, 24, 24, 10], [2, 2], [2, 2], 'valid', 3],
    ['LeNet pool2 2x2/2, distinct values', [3, 8, 8, 20], [2, 2], [2, 2], 'valid', 0],
    ['2x2/2 on odd size (last row and column dropped)', [2, 25, 25, 3], [2, 2], [2, 2], 'valid', 0],
    ['2x2/2, 4 channels (one SIMD group)', [2, 6, 6, 4], [2, 2], [2, 2], 'valid', 2],
    ['2x2/2, 6 channels (overlapping last SIMD group), odd size, batch 1', [1, 9, 7, 6], [2, 2], [2, 2], 'valid', 3],
    ['2x2/2, 13 channels, distinct values', [2, 4, 6, 13], [2, 2], [2, 2], 'valid', 0],
    ['3x3/2 same, overlapping windows with ties', [2, 9, 9, 4], [3, 3], [2, 2], 'same', 4],
    ['3x3/1 same, overlapping', [2, 7, 7, 2], [3, 3], [1, 1], 'same', 0],
    ['2x3/1x2 valid', [2, 8, 9, 3], [2, 3], [1, 2], 'valid', 0],
  ];
  it.each(cases)('%s', async (_name, xShape, filterSize, strides, pad, levels) => {
    const x = values(size(xShape), 13, 1, levels);
    await compare(() => tf.tidy(() => {
      const input = tf.tensor(x, xShape) as tf.Tensor4D;
      const output = tf.maxPool(input, filterSize, strides, pad);
      const dy = tf.tensor(values(output.size, 17), output.shape);
      return tf.engine().runKernel('MaxPoolGrad', { dy, input, output },
        { filterSize, strides, pad, dimRoundingMode: undefined } as any) as tf.Tensor;
    }));
  });
});

describe.each([
  ['WebAssembly SIMD loops on', true],
  ['JS loops only', false],
])('MaxPoolGrad with NaN and −∞ (no maximum, or a NaN that never wins), %s', (_route, loops) => {
  beforeAll(() => setWasmLoopsEnabled(loops));
  afterAll(() => setWasmLoopsEnabled(true));
  it.each([
    ['2x2/2 (unrolled path)', [2, 2], [2, 2], 'valid', 3],
    ['2x2/2, 7 channels (WASM SIMD path)', [2, 2], [2, 2], 'valid', 7],
    ['3x3/2 same (general path)', [3, 3], [2, 2], 'same', 3],
  ] as [string, [number, number], [number, number], 'valid' | 'same', number][])('%s', async (_name, filterSize, strides, pad, channels) => {
    const xShape: Shape4 = [2, 8, 8, channels];
    const x = values(size(xShape), 83, 1, 3);
    // A whole 2x2 window of −∞ in channel 0, NaNs scattered elsewhere.
    for (const [r, col] of [[0, 0], [0, 1], [1, 0], [1, 1]]) x[(r * 8 + col) * channels] = Number.NEGATIVE_INFINITY;
    for (let i = 7; i < x.length; i += 29) x[i] = Number.NaN;
    await compare(() => tf.tidy(() => {
      const input = tf.tensor(x, xShape) as tf.Tensor4D;
      const output = tf.maxPool(input, filterSize, strides, pad);
      const dy = tf.tensor(values(output.size, 89), output.shape);
      return tf.engine().runKernel('MaxPoolGrad', { dy, input, output },
        { filterSize, strides, pad, dimRoundingMode: undefined } as any) as tf.Tensor;
    }));
  });
});

describe('DepthwiseConv2dNative gradients on WASM (added)', () => {
  const cases: [string, Shape4, [number, number], number, [number, number], 'valid' | 'same', [number, number]][] = [
    ['3x3 s1 same', [2, 8, 8, 4], [3, 3], 1, [1, 1], 'same', [1, 1]],
    ['3x3 s2 same (MobileNet downsampling)', [2, 9, 9, 4], [3, 3], 1, [2, 2], 'same', [1, 1]],
    ['3x3 s2 same, even size', [2, 8, 8, 3], [3, 3], 1, [2, 2], 'same', [1, 1]],
    ['3x3 s1 valid, multiplier 2', [2, 7, 7, 3], [3, 3], 2, [1, 1], 'valid', [1, 1]],
    ['3x3 s2 valid, uncovered edge', [2, 10, 11, 2], [3, 3], 1, [2, 2], 'valid', [1, 1]],
    ['5x5 s2 same, multiplier 3', [1, 11, 11, 2], [5, 5], 3, [2, 2], 'same', [1, 1]],
  ];
  it.each(cases)('input gradient: %s', async (_name, xShape, [kh, kw], m, strides, pad, dilations) => {
    const filterShape = [kh, kw, xShape[3], m] as [number, number, number, number];
    const yShape = tf.tidy(() => tf.depthwiseConv2d(tf.zeros(xShape) as tf.Tensor4D, tf.zeros(filterShape) as tf.Tensor4D, strides, pad, 'NHWC', dilations).shape);
    const dy = values(size(yShape), 19);
    const w = values(size(filterShape), 23);
    await compare(() => tf.tidy(() => tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput',
      { dy: tf.tensor(dy, yShape), filter: tf.tensor(w, filterShape) },
      { strides, dilations, pad, inputShape: xShape, dimRoundingMode: undefined } as any) as tf.Tensor));
  });
  it.each(cases)('filter gradient: %s', async (_name, xShape, [kh, kw], m, strides, pad, dilations) => {
    const filterShape = [kh, kw, xShape[3], m] as [number, number, number, number];
    const yShape = tf.tidy(() => tf.depthwiseConv2d(tf.zeros(xShape) as tf.Tensor4D, tf.zeros(filterShape) as tf.Tensor4D, strides, pad, 'NHWC', dilations).shape);
    const x = values(size(xShape), 29);
    const dy = values(size(yShape), 31);
    await compare(() => tf.tidy(() => tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter',
      { x: tf.tensor(x, xShape), dy: tf.tensor(dy, yShape) },
      { strides, dilations, pad, filterShape, dimRoundingMode: undefined } as any) as tf.Tensor));
  });
});

/** W with d−1 zeros inserted between taps: a dilation-d convolution with W is a dilation-1 one with this. */
function zeroInsertedFilter(w: Float32Array, [kh, kw, c, m]: number[], d: number): { data: Float32Array; shape: number[] } {
  const ekh = (kh - 1) * d + 1;
  const ekw = (kw - 1) * d + 1;
  const out = new Float32Array(ekh * ekw * c * m);
  for (let a = 0; a < kh; a++) {
    for (let b = 0; b < kw; b++) {
      out.set(w.subarray((a * kw + b) * c * m, (a * kw + b + 1) * c * m), (a * d * ekw + b * d) * c * m);
    }
  }
  return { data: out, shape: [ekh, ekw, c, m] };
}

describe('DepthwiseConv2dNative gradients with dilation 2 on WASM', () => {
  // TF.js's own kernels do not support dilation in these gradients, so the reference is the CPU
  // gradient of the equivalent dilation-1 convolution with a zero-inserted 5x5 filter.
  const xShape = [2, 9, 9, 3];
  const filterShape = [3, 3, 3, 2];
  const yShape = [2, 9, 9, 6];
  const w = values(size(filterShape), 37);
  const dy = values(size(yShape), 39);
  const x = values(size(xShape), 41);
  const wide = zeroInsertedFilter(w, filterShape, 2);

  it('input gradient, 3x3 same, multiplier 2', async () => {
    const fast = await on('wasm', () => tf.tidy(() => tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput',
      { dy: tf.tensor(dy, yShape), filter: tf.tensor(w, filterShape) },
      { strides: [1, 1], dilations: [2, 2], pad: 'same', inputShape: xShape } as any) as tf.Tensor));
    const reference = await on('cpu', () => tf.tidy(() => tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput',
      { dy: tf.tensor(dy, yShape), filter: tf.tensor(wide.data, wide.shape) },
      { strides: [1, 1], dilations: [1, 1], pad: 'same', inputShape: xShape } as any) as tf.Tensor));
    expectClose(fast, reference);
  });

  it('filter gradient, 3x3 same, multiplier 2', async () => {
    const fast = await on('wasm', () => tf.tidy(() => tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter',
      { x: tf.tensor(x, xShape), dy: tf.tensor(dy, yShape) },
      { strides: [1, 1], dilations: [2, 2], pad: 'same', filterShape } as any) as tf.Tensor));
    const wideGradient = await on('cpu', () => tf.tidy(() => tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter',
      { x: tf.tensor(x, xShape), dy: tf.tensor(dy, yShape) },
      { strides: [1, 1], dilations: [1, 1], pad: 'same', filterShape: wide.shape } as any) as tf.Tensor));
    // The taps of the wide filter that exist in the dilated one.
    const reference = new Float32Array(size(filterShape));
    const cm = 6;
    for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) {
      reference.set(wideGradient.subarray((a * 2 * 5 + b * 2) * cm, (a * 2 * 5 + b * 2 + 1) * cm), (a * 3 + b) * cm);
    }
    expectClose(fast, reference);
  });
});

describe('BatchMatMul with a transposed operand on WASM (transposed first, then the fast untransposed product)', () => {
  const cases: [string, number[], number[], boolean, boolean][] = [
    ['dense input gradient dy·Wᵀ', [256, 50], [320, 50], false, true],
    ['weight gradient xᵀ·dy', [256, 320], [256, 50], true, false],
    ['both transposed, odd sizes', [129, 37], [65, 129], true, true],
    ['rank 3, batch 1', [1, 64, 33], [1, 97, 33], false, true],
    ['batch 2 (original kernel)', [2, 64, 40], [2, 50, 40], false, true],
    ['small product (original kernel)', [3, 5], [4, 5], false, true],
  ];
  it.each(cases)('%s', async (_name, aShape, bShape, transposeA, transposeB) => {
    await compare(() => tf.tidy(() => tf.matMul(
      tf.tensor(values(size(aShape), 19), aShape), tf.tensor(values(size(bShape), 23), bShape), transposeA, transposeB)));
  });

  it('NaN and ±∞ reach the same outputs as on the CPU backend', async () => {
    const a = values(96 * 40, 29);
    a[5] = Number.NaN;
    a[40 * 7 + 3] = Number.POSITIVE_INFINITY;
    const b = values(80 * 40, 31);
    const run = () => tf.tidy(() => tf.matMul(tf.tensor(a, [96, 40]), tf.tensor(b, [80, 40]), false, true));
    const fast = await on('wasm', run);
    const reference = await on('cpu', run);
    expect(Array.from(fast, Number.isNaN)).toEqual(Array.from(reference, Number.isNaN));
    const finite = (v: Float32Array) => v.map((e) => (Number.isFinite(e) ? e : 0));
    expectClose(finite(fast), finite(reference));
  });
});

describe('BatchMatMul with a transposed weight on WASM (its transpose kept per weight data)', () => {
  type Backend = Parameters<typeof keptTransposeCount>[0] & {
    move(dataId: object, values: Float32Array, shape: number[], dtype: 'float32', refCount: number): void;
    numDataIds(): number;
  };
  const backend = () => tf.backend() as unknown as Backend;
  const bits = async (t: tf.Tensor) => Array.from(new Uint32Array(((await t.data()) as Float32Array).slice().buffer));
  /** A weight as Layers holds it (the initial tensor freed: the variable then owns the data alone). */
  function variable(w: Float32Array, shape: number[]): tf.Variable {
    const initial = tf.tensor(w, shape);
    const v = tf.variable(initial, false);
    initial.dispose();
    return v;
  }
  /** dy·Wᵀ as the dense layer's input gradient runs it, W a variable; and with W a plain tensor of the same values. */
  async function product(dy: Float32Array, w: tf.Variable | tf.Tensor, shape: number[]): Promise<number[]> {
    const out = tf.tidy(() => tf.matMul(tf.tensor(dy, shape), w, false, true));
    const result = await bits(out);
    out.dispose();
    return result;
  }

  it('batch 1 and batch 7 give the bits of a fresh transpose, call after call, and the copy goes with the weight', async () => {
    await tf.setBackend('wasm');
    const idsBefore = backend().numDataIds();
    const w = values(320 * 50, 41);
    const weight = variable(w, [320, 50]);
    const plain = tf.tensor(w, [320, 50]);
    for (const n of [1, 7, 1]) {
      const dy = values(n * 50, 43 + n);
      const fresh = await product(dy, plain, [n, 50]);
      expect(await product(dy, weight, [n, 50])).toEqual(fresh);
      expect(await product(dy, weight, [n, 50])).toEqual(fresh);
    }
    expect(keptTransposeCount(backend())).toBe(1);
    tf.dispose([weight, plain]);
    expect(keptTransposeCount(backend())).toBe(0);
    expect(backend().numDataIds()).toBe(idsBefore);
  });

  it("a convolution's input gradient (GEMM + col2im) against a kept filter gives the bits of a fresh transpose", async () => {
    await tf.setBackend('wasm');
    const idsBefore = backend().numDataIds();
    const w = values(5 * 5 * 10 * 20, 61);
    const filter = variable(w, [5, 5, 10, 20]);
    const plain = tf.tensor(w, [5, 5, 10, 20]);
    const inputGradient = async (f: tf.Tensor, n: number) => {
      const out = tf.tidy(() => tf.engine().runKernel('Conv2DBackpropInput',
        { dy: tf.tensor(values(n * 8 * 8 * 20, 67 + n), [n, 8, 8, 20]), filter: f },
        { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', inputShape: [n, 12, 12, 10], dimRoundingMode: undefined } as any) as tf.Tensor);
      const result = await bits(out);
      out.dispose();
      return result;
    };
    for (const n of [1, 3, 1]) expect(await inputGradient(filter, n)).toEqual(await inputGradient(plain, n));
    expect(keptTransposeCount(backend())).toBe(1);
    tf.dispose([filter, plain]);
    expect(keptTransposeCount(backend())).toBe(0);
    expect(backend().numDataIds()).toBe(idsBefore);
  });

  it('a weight disposed and replaced by another of the same shape, or rewritten under its dataId, is never read stale', async () => {
    await tf.setBackend('wasm');
    const dy = values(50, 47);
    const first = values(320 * 50, 53);
    const second = values(320 * 50, 59);
    const a = variable(first, [320, 50]);
    await product(dy, a, [1, 50]);
    a.dispose();
    const b = variable(second, [320, 50]);
    const plainSecond = tf.tensor(second, [320, 50]);
    expect(await product(dy, b, [1, 50])).toEqual(await product(dy, plainSecond, [1, 50]));
    // The backend writes new bytes under a kept dataId when data moves between backends.
    backend().disposeData(b.dataId, true);
    backend().move(b.dataId, first, [320, 50], 'float32', 1);
    const plainFirst = tf.tensor(first, [320, 50]);
    expect(await product(dy, b, [1, 50])).toEqual(await product(dy, plainFirst, [1, 50]));
    tf.dispose([b, plainSecond, plainFirst]);
    expect(keptTransposeCount(backend())).toBe(0);
  });
});

describe('Identity on WASM (shares the buffer under a reference count)', () => {
  it('a clone has the same values, survives disposing its source, and frees the buffer with the last user', async () => {
    await tf.setBackend('wasm');
    const start = tf.memory();
    const a = tf.tensor([1.5, -2, 3], [3]);
    const b = tf.clone(a);
    const buffers = tf.memory().numDataBuffers;
    expect(Array.from(await b.data())).toEqual([1.5, -2, 3]);
    a.dispose();
    expect(Array.from(await b.data())).toEqual([1.5, -2, 3]);
    // An op on the clone writes a new buffer; the clone itself is unchanged.
    const c = b.add(1);
    expect(Array.from(await c.data())).toEqual([2.5, -1, 4]);
    expect(Array.from(await b.data())).toEqual([1.5, -2, 3]);
    tf.dispose([b, c]);
    expect(tf.memory().numTensors).toBe(start.numTensors);
    expect(tf.memory().numDataBuffers).toBe(start.numDataBuffers);
    expect(buffers).toBeGreaterThan(start.numDataBuffers);
  });
  it('int32 and bool tensors clone too', async () => {
    await tf.setBackend('wasm');
    const i = tf.tensor1d([1, 2, 3], 'int32');
    const ib = tf.clone(i);
    const m = tf.tensor1d([1, 0, 1], 'bool');
    const mb = tf.clone(m);
    expect(Array.from(await ib.data())).toEqual([1, 2, 3]);
    expect(Array.from(await mb.data())).toEqual([1, 0, 1]);
    tf.dispose([i, ib, m, mb]);
  });
});

describe('full gradients on WASM equal the CPU backend', () => {
  /** A small MobileNet-style stack: conv s2, depthwise s1 same, depthwise s2 valid (multiplier 2), pointwise, pooled logits. */
  function depthwiseModelGradient(): tf.Tensor {
    return tf.tidy(() => {
      const x = tf.tensor(values(2 * 17 * 17 * 3, 41, 0.5), [2, 17, 17, 3]).add(0.5) as tf.Tensor4D;
      const w1 = tf.tensor4d(values(3 * 3 * 3 * 8, 43, 0.4), [3, 3, 3, 8]);
      const d1 = tf.tensor4d(values(3 * 3 * 8 * 1, 47, 0.4), [3, 3, 8, 1]);
      const d2 = tf.tensor4d(values(3 * 3 * 8 * 2, 53, 0.4), [3, 3, 8, 2]);
      const p = tf.tensor4d(values(16 * 5, 59, 0.4), [1, 1, 16, 5]);
      const target = tf.oneHot(tf.tensor1d([1, 3], 'int32'), 5);
      const loss = (img: tf.Tensor) => {
        let h = tf.relu(tf.conv2d(img as tf.Tensor4D, w1, 2, 'same'));
        h = tf.relu(tf.depthwiseConv2d(h, d1, 1, 'same'));
        h = tf.relu(tf.depthwiseConv2d(h, d2, 2, 'valid'));
        h = tf.conv2d(h, p, 1, 'valid');
        const logits = tf.mean(h, [1, 2]) as tf.Tensor2D;
        return tf.losses.softmaxCrossEntropy(target, logits) as tf.Scalar;
      };
      return tf.grad(loss)(x);
    });
  }
  it('a depthwise-separable model (strides 1 and 2, same and valid)', async () => {
    await compare(depthwiseModelGradient);
  });

  it('the LeNet Layers model (fused conv2d with bias, whose customGrad also takes filter gradients)', async () => {
    await tf.setBackend('wasm');
    const model = createLeNet();
    try {
      const gradient = () => tf.tidy(() => {
        const x = tf.tensor(values(8 * 28 * 28, 79, 1, 4), [8, 28, 28, 1]).div(3);
        const target = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], 'int32'), 10);
        return tf.grad((img: tf.Tensor) => tf.losses.softmaxCrossEntropy(target, model.apply(img) as tf.Tensor2D))(x);
      });
      await compare(gradient);
    } finally {
      model.dispose();
    }
  });

  it('LeNet (conv 5x5, max-pool 2, dense) input gradient', async () => {
    await compare(() => tf.tidy(() => {
      const x = tf.tensor(values(4 * 28 * 28, 61, 1, 4), [4, 28, 28, 1]).div(3) as tf.Tensor4D;
      const c1 = tf.tensor4d(values(5 * 5 * 1 * 10, 67, 0.3), [5, 5, 1, 10]);
      const c2 = tf.tensor4d(values(5 * 5 * 10 * 20, 71, 0.1), [5, 5, 10, 20]);
      const f1 = tf.tensor2d(values(320 * 10, 73, 0.1), [320, 10]);
      const target = tf.oneHot(tf.tensor1d([0, 3, 7, 9], 'int32'), 10);
      return tf.grad((img: tf.Tensor) => {
        let h = tf.relu(tf.maxPool(tf.conv2d(img as tf.Tensor4D, c1, 1, 'valid'), 2, 2, 'valid'));
        h = tf.relu(tf.maxPool(tf.conv2d(h, c2, 1, 'valid'), 2, 2, 'valid'));
        return tf.losses.softmaxCrossEntropy(target, tf.matMul(h.reshape([4, 320]), f1)) as tf.Scalar;
      })(x);
    }));
  });
});

describe('ClipByValue gradient on WASM (one pass)', () => {
  // Bounds, values on them, NaN, ±0 and values either side; dy with NaN and -0 too: where() passes dy through unchanged.
  const xs = [-1, -0, 0, 0.1, 0.099999994, 0.5, 0.7, 0.70000005, 6, 6.0000005, 5.9999995, Number.NaN, 3, -7, 100, 0.3];
  const dys = [1, -2, 0.5, -0, 4, Number.NaN, 7, -1, 2, 3, -5, 6, 0.25, 1, -3, 9];
  const gradient = (lo: number, hi: number) => () => tf.tidy(() => {
    const x = tf.tensor(Float32Array.from({ length: 64 }, (_, i) => xs[i % xs.length]), [2, 4, 4, 2]);
    const dy = tf.tensor(Float32Array.from({ length: 64 }, (_, i) => dys[(i * 7) % dys.length]), [2, 4, 4, 2]);
    return tf.grad((t: tf.Tensor) => tf.clipByValue(t, lo, hi))(x, dy);
  });
  const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

  it.each([[0, 6], [0.1, 0.7], [-0, 0.3]])('equals TF.js\'s where(min ≤ x ≤ max, dy, 0) bit for bit on [%s, %s], and runs as one kernel', async (lo, hi) => {
    const fast = await on('wasm', gradient(lo, hi));
    const reference = await on('cpu', gradient(lo, hi));
    expect(bits(fast)).toEqual(bits(reference));
    expect(fast.some((v) => v !== 0)).toBe(true);
    await tf.setBackend('wasm');
    const info = await tf.profile(() => gradient(lo, hi)());
    (info.result as tf.Tensor).dispose();
    const names = info.kernels.map((k) => k.name);
    expect(names).toContain('FoolprintClipByValueGrad');
    expect(names).not.toContain('Select');
  });

  // 225 values: 56 groups of four in the WebAssembly loop and one left for JS; and all in JS without the loops.
  it.each([[true], [false]])('bit for bit over a length that is not a multiple of 4 (WebAssembly loops: %s)', async (loops) => {
    const run = () => tf.tidy(() => {
      const x = tf.tensor(Float32Array.from({ length: 225 }, (_, i) => xs[(i * 5) % xs.length]), [3, 5, 5, 3]);
      const dy = tf.tensor(Float32Array.from({ length: 225 }, (_, i) => dys[(i * 3) % dys.length]), [3, 5, 5, 3]);
      return tf.grad((t: tf.Tensor) => tf.clipByValue(t, -0, 6))(x, dy);
    });
    setWasmLoopsEnabled(loops);
    try {
      const fast = await on('wasm', run);
      const reference = await on('cpu', run);
      expect(bits(fast)).toEqual(bits(reference));
      expect(fast.some((v) => v !== 0)).toBe(true);
      expect(fast.some((v) => Object.is(v, -0))).toBe(true);
    } finally {
      setWasmLoopsEnabled(true);
    }
  });
});
