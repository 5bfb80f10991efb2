import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { col2imRowsRuns } from '../app/engine/kernels/conv2d-backprop-input.js';
import { setCol2imRowsEnabled } from '../app/engine/kernels/wasm-loops.js';
import { initBackend } from '../app/node/backend.js';
import { elementCount, seededValues } from './seeded-values.js';

/**
 * The row-wise col2im (wasm-loops.ts col2imRows, LeNet's conv1 input gradient) against the
 * window-by-window col2im it stands in front of: every dx value bit-identical (Object.is, so -0 and
 * NaN count), over shapes, batches spanning several column chunks, and special values.
 */

type Shape4 = [number, number, number, number];

const values = seededValues;
const size = elementCount;

function inputGradient(xShape: Shape4, dy: Float32Array, w: Float32Array, filterShape: Shape4): Float32Array {
  return tf.tidy(() => {
    const yShape = [xShape[0], xShape[1] - filterShape[0] + 1, xShape[2] - filterShape[1] + 1, filterShape[3]];
    const out = tf.engine().runKernel('Conv2DBackpropInput', { dy: tf.tensor(dy, yShape), filter: tf.tensor(w, filterShape) },
      { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', inputShape: xShape, dimRoundingMode: undefined } as never) as tf.Tensor;
    return out.dataSync() as Float32Array;
  });
}

function differences(a: Float32Array, b: Float32Array): string[] {
  expect(a.length).toBe(b.length);
  const out: string[] = [];
  for (let i = 0; i < a.length && out.length < 5; i++) if (!Object.is(a[i], b[i])) out.push(`${i}: ${a[i]} vs ${b[i]}`);
  return out;
}

/** Both routes on the same inputs: the row-wise one must run and agree bit for bit. */
function check(xShape: Shape4, filterShape: Shape4, dy: Float32Array, w: Float32Array): Float32Array {
  const before = col2imRowsRuns();
  const rows = inputGradient(xShape, dy, w, filterShape);
  expect(col2imRowsRuns()).toBeGreaterThan(before);
  setCol2imRowsEnabled(false);
  const windows = inputGradient(xShape, dy, w, filterShape);
  setCol2imRowsEnabled(true);
  expect(differences(rows, windows)).toEqual([]);
  expect(rows.some((v) => v !== 0)).toBe(true);
  return rows;
}

beforeAll(async () => {
  expect((await initBackend({ prefer: 'wasm' })).name).toBe('wasm');
});

afterEach(() => {
  setCol2imRowsEnabled(true);
});

describe('Conv2DBackpropInput with one input channel: col2im row by row, bit-identical to window by window', () => {
  const table: [string, Shape4, Shape4][] = [
    ['LeNet conv1', [3, 28, 28, 1], [5, 5, 1, 10]],
    ['LeNet conv1, batch 40 (several column chunks)', [40, 28, 28, 1], [5, 5, 1, 10]],
    ['3x3, 6 channels, 12 wide', [2, 9, 12, 1], [3, 3, 1, 6]],
    ['3x5 kernel, 16 wide', [2, 7, 16, 1], [3, 5, 1, 4]],
    ['1x1 kernel', [2, 5, 8, 1], [1, 1, 1, 3]],
    ['kernel as tall as the input', [1, 6, 12, 1], [6, 4, 1, 2]],
  ];
  it.each(table)('%s', (_name, xShape, filterShape) => {
    const ySize = xShape[0] * (xShape[1] - filterShape[0] + 1) * (xShape[2] - filterShape[1] + 1) * filterShape[3];
    check(xShape, filterShape, values(ySize, xShape[0] * 7 + filterShape[3], 0.5), values(size(filterShape), 13));
  });

  it('NaN, ±∞ and -0 in dy come out as the window-by-window route gives them', () => {
    const xShape: Shape4 = [2, 12, 12, 1];
    const filterShape: Shape4 = [3, 3, 1, 4];
    const dy = values(2 * 10 * 10 * 4, 5);
    dy[0] = Number.NaN;
    dy[41] = Number.POSITIVE_INFINITY;
    dy[42] = Number.NEGATIVE_INFINITY;
    for (let i = 200; i < 240; i++) dy[i] = -0;
    const w = values(36, 6);
    w[3] = -0;
    const dx = check(xShape, filterShape, dy, w);
    expect(dx.some(Number.isNaN)).toBe(true);
  });

  it('other shapes keep the window-by-window route', () => {
    const before = col2imRowsRuns();
    inputGradient([1, 10, 10, 1], values(6 * 6 * 3, 3), values(75, 4), [5, 5, 1, 3]); // 10 wide: not a multiple of 4
    inputGradient([1, 12, 12, 2], values(8 * 8 * 3, 3), values(150, 4), [5, 5, 2, 3]); // two input channels
    expect(col2imRowsRuns()).toBe(before);
  });
});
