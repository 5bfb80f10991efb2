/**
 * Attacks skip the filter gradients TF.js's fused convolution computes eagerly (weight-gradients.ts).
 * The image gradient must not change, and outside the scope weight gradients (training) are intact.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../app/node/backend.js';
import { withoutWeightGradients } from '../app/engine/kernels/weight-gradients.js';
import { createLeNet } from '../app/models/lenet.js';
import { mulberry32 } from '../app/attacks/random-start.js';

function depthwiseModel(): tf.Sequential {
  const model = tf.sequential();
  model.add(tf.layers.depthwiseConv2d({ inputShape: [12, 12, 3], kernelSize: 3, strides: 2, padding: 'same', useBias: true, activation: 'relu' }));
  model.add(tf.layers.conv2d({ kernelSize: 1, filters: 4, useBias: true }));
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ units: 5 }));
  return model;
}

function seededImages(shape: [number, number, number, number], seed: number): tf.Tensor4D {
  const random = mulberry32(seed);
  return tf.tensor4d(Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () => random()), shape);
}

beforeAll(async () => {
  const info = await initBackend({ prefer: 'wasm' });
  expect(info.name).toBe('wasm');
});

describe('input gradients without weight gradients', () => {
  it.each([
    ['LeNet (fused conv2d with bias)', () => createLeNet(), [6, 28, 28, 1] as [number, number, number, number]],
    ['depthwise + pointwise', depthwiseModel, [4, 12, 12, 3] as [number, number, number, number]],
  ])('%s: ∇x is the same inside the scope, weight gradients outside it are non-zero', (_name, build, shape) => {
    const model = build();
    const x = seededImages(shape, 3);
    const loss = (input: tf.Tensor) => tf.tidy(() => (model.apply(input, { training: false }) as tf.Tensor).square().sum() as tf.Scalar);
    const start = tf.memory().numTensors;
    const full = tf.grad(loss)(x);
    const fast = withoutWeightGradients(() => tf.grad(loss)(x));
    const diff = tf.tidy(() => full.sub(fast).abs().max().dataSync()[0]);
    expect(diff).toBe(0);
    expect(tf.tidy(() => full.abs().max().dataSync()[0])).toBeGreaterThan(0);
    tf.dispose([full, fast]);
    expect(tf.memory().numTensors).toBe(start);

    // Training's weight gradients, outside the scope, are real.
    const { grads } = tf.variableGrads(() => loss(x));
    const kernelGradient = Object.entries(grads).find(([name]) => /kernel/.test(name))!;
    expect(tf.tidy(() => kernelGradient[1].abs().max().dataSync()[0])).toBeGreaterThan(0);
    tf.dispose([...Object.values(grads), x]);
    model.dispose();
  });
});

describe('bias gradients of fused ops are skipped too, other sums are not', () => {
  it('inside the scope the conv biases get zeros (skipped), outside their true gradient', () => {
    const model = createLeNet();
    const x = seededImages([4, 28, 28, 1], 5);
    const loss = () => tf.tidy(() => (model.apply(x, { training: false }) as tf.Tensor).square().sum() as tf.Scalar);
    const convBiases = (grads: tf.NamedTensorMap) => Object.entries(grads).filter(([name]) => /conv.*bias/.test(name));
    const outside = tf.variableGrads(loss).grads;
    const inside = withoutWeightGradients(() => tf.variableGrads(loss).grads);
    expect(convBiases(outside)).toHaveLength(2);
    for (const [name, g] of convBiases(outside)) {
      expect(tf.tidy(() => g.abs().max().dataSync()[0])).toBeGreaterThan(0);
      expect(tf.tidy(() => inside[name].abs().max().dataSync()[0])).toBe(0);
    }
    tf.dispose([...Object.values(outside), ...Object.values(inside), x]);
    model.dispose();
  });

  it('a per-channel input offset (a Sum over all axes but the channels, on the path) keeps its gradient', () => {
    const model = depthwiseModel();
    const x = seededImages([4, 12, 12, 3], 7);
    const offset = tf.tensor1d([0.1, -0.2, 0.3]);
    const loss = (c: tf.Tensor) => tf.tidy(() => (model.apply(x.add(c), { training: false }) as tf.Tensor).square().sum() as tf.Scalar);
    const full = tf.grad(loss)(offset);
    const fast = withoutWeightGradients(() => tf.grad(loss)(offset));
    expect(Array.from(fast.dataSync())).toEqual(Array.from(full.dataSync()));
    expect(tf.tidy(() => full.abs().max().dataSync()[0])).toBeGreaterThan(0);
    tf.dispose([full, fast, x, offset]);
    model.dispose();
  });
});
