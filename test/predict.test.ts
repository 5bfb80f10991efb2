import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Classifier } from '../app/engine/classifier.js';
import { PredictionInputError, predictLogits, predictTopK, topKFromLogits } from '../app/engine/predict.js';

/** logits = x·W + b on flattened 2x2x1 images, a model whose answers are computed by hand below. */
function affineClassifier(W: number[][], b: number[]): Classifier {
  const weights = tf.tensor2d(W);
  const bias = tf.tensor1d(b);
  return {
    id: 'affine',
    inputShape: [2, 2, 1],
    numClasses: b.length,
    labels: b.map((_, k) => `c${k}`),
    logits: (x) => tf.tidy(() => x.reshape([x.shape[0], 4]).matMul(weights).add(bias) as tf.Tensor2D),
    dispose: () => {
      weights.dispose();
      bias.dispose();
    },
  };
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('topKFromLogits', () => {
  it('gives softmax probabilities in decreasing order', () => {
    const logits = [1, 3, 2, 0, 0, Math.log(3)];
    const top = topKFromLogits(logits, 3, 2);
    const e = [Math.exp(1), Math.exp(3), Math.exp(2)];
    const s = e[0] + e[1] + e[2];
    expect(Array.from(top.labels)).toEqual([1, 2, 2, 0]);
    expect(top.probs[0]).toBeCloseTo(e[1] / s, 6);
    expect(top.probs[1]).toBeCloseTo(e[2] / s, 6);
    expect(top.probs[2]).toBeCloseTo(3 / 5, 6);
    expect(top.probs[3]).toBeCloseTo(1 / 5, 6);
  });

  it('does not overflow on huge logits and keeps the lower index first on ties', () => {
    const top = topKFromLogits([1000, 1000, -1000], 3, 3);
    expect(Array.from(top.labels)).toEqual([0, 1, 2]);
    expect(top.probs[0]).toBeCloseTo(0.5, 6);
    expect(top.probs[2]).toBe(0);
  });

  it('rejects k outside [1, numClasses] and ragged rows', () => {
    expect(() => topKFromLogits([1, 2, 3], 3, 4)).toThrow(PredictionInputError);
    expect(() => topKFromLogits([1, 2, 3], 3, 0)).toThrow(/1 ≤ k ≤ 3/);
    expect(() => topKFromLogits([1, 2, 3, 4], 3, 1)).toThrow(/not rows of 3/);
  });
});

describe('predictTopK', () => {
  const W = [
    [1, 0, -1],
    [0, 2, 0],
    [0.5, 0, 1],
    [-1, 1, 0],
  ];
  const b = [0.1, -0.2, 0.3];

  it('equals the hand-computed softmax of x·W + b, whatever the batch size', () => {
    const model = affineClassifier(W, b);
    const images = new Float32Array(7 * 4);
    for (let i = 0; i < images.length; i++) images[i] = ((i * 37) % 11) / 10;
    const start = tf.memory().numTensors;
    const whole = predictTopK(model, images, 3);
    const batched = predictTopK(model, images, 3, 2);
    expect(tf.memory().numTensors).toBe(start);
    expect(Array.from(batched.labels)).toEqual(Array.from(whole.labels));
    expect(Array.from(batched.probs)).toEqual(Array.from(whole.probs));
    for (let i = 0; i < 7; i++) {
      const z = [0, 1, 2].map((k) => b[k] + [0, 1, 2, 3].reduce((s, j) => s + images[i * 4 + j] * W[j][k], 0));
      const m = Math.max(...z);
      const e = z.map((v) => Math.exp(v - m));
      const s = e.reduce((a, v) => a + v, 0);
      const order = [0, 1, 2].sort((p, q) => z[q] - z[p]);
      expect(Array.from(whole.labels.subarray(i * 3, i * 3 + 3))).toEqual(order);
      for (let j = 0; j < 3; j++) expect(whole.probs[i * 3 + j]).toBeCloseTo(e[order[j]] / s, 5);
    }
    model.dispose();
  });

  it('defaults to k = min(5, numClasses) and handles zero images', () => {
    const model = affineClassifier(W, b);
    expect(predictTopK(model, new Float32Array(8)).k).toBe(3);
    expect(predictTopK(model, new Float32Array(0)).labels.length).toBe(0);
    model.dispose();
  });

  it('rejects a buffer that is not whole images, without leaking', () => {
    const model = affineClassifier(W, b);
    const start = tf.memory().numTensors;
    expect(() => predictLogits(model, new Float32Array(5))).toThrow(/not a whole number of 2x2x1 images/);
    expect(() => predictTopK(model, new Float32Array(4), 4)).toThrow(PredictionInputError);
    expect(tf.memory().numTensors).toBe(start);
    model.dispose();
  });

  it('rejects a model whose logits have the wrong shape, without leaking', () => {
    const bad: Classifier = { ...affineClassifier(W, b), numClasses: 4, labels: ['a', 'b', 'c', 'd'] };
    const start = tf.memory().numTensors;
    expect(() => predictTopK(bad, new Float32Array(8))).toThrow(/returned logits of shape \[2,3\], expected \[2,4\]/);
    expect(tf.memory().numTensors).toBe(start);
    bad.dispose();
  });
});
