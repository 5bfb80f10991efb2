/**
 * The attacks on real MNIST digits (../shared/data/mnist, skipped when absent): a softmax regression
 * trained here on 2,000 test digits, attacked on 500 others. FGSM accuracy must fall strictly with ε,
 * float and 8-bit, and the 8-bit view must not hide the attack. A linear model is far weaker than the
 * seed's LeNet (it is at 0% by ε = 0.2), so the ε list is finer than the seed's table.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Classifier } from '../app/engine/classifier.js';
import { parseIdx } from '../app/data/idx.js';
import { runAttack } from '../app/attacks/index.js';
import { summarizeAttack } from '../app/eval/summary.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const mnistDir = path.resolve(repoRoot, '../shared/data/mnist');
const imagesFile = path.join(mnistDir, 't10k-images-idx3-ubyte.gz');
const labelsFile = path.join(mnistDir, 't10k-labels-idx1-ubyte.gz');
const haveMnist = existsSync(imagesFile) && existsSync(labelsFile);
if (!haveMnist) console.warn(`MNIST not found at ${mnistDir}: skipping the MNIST attack tests`);

const TRAIN = 2000;
const HELD_OUT = 500;
let images: Float32Array;
let labels: Int32Array;
let classifier: Classifier;

beforeAll(async () => {
  if (!haveMnist) return;
  await tf.setBackend('cpu');
  const pixels = parseIdx(gunzipSync(readFileSync(imagesFile)), imagesFile).data;
  const digits = parseIdx(gunzipSync(readFileSync(labelsFile)), labelsFile).data;
  images = Float32Array.from(pixels.subarray(0, (TRAIN + HELD_OUT) * 784), (v) => v / 255);
  labels = Int32Array.from(digits.subarray(0, TRAIN + HELD_OUT));
  const net = tf.sequential();
  net.add(tf.layers.flatten({ inputShape: [28, 28, 1] }));
  net.add(tf.layers.dense({ units: 10, kernelInitializer: tf.initializers.zeros() }));
  net.compile({ optimizer: tf.train.adam(0.02), loss: tf.losses.softmaxCrossEntropy });
  const x = tf.tensor4d(images.subarray(0, TRAIN * 784), [TRAIN, 28, 28, 1]);
  const y = tf.oneHot(tf.tensor1d(labels.subarray(0, TRAIN), 'int32'), 10);
  await net.fit(x, y, { epochs: 6, batchSize: 200, shuffle: false, verbose: 0 });
  tf.dispose([x, y]);
  classifier = {
    id: 'mnist-softmax-regression',
    inputShape: [28, 28, 1],
    numClasses: 10,
    labels: [...'0123456789'],
    logits: (batch) => net.apply(batch) as tf.Tensor2D,
    dispose: () => net.dispose(),
  };
});

afterAll(() => classifier?.dispose());

describe.skipIf(!haveMnist)('attacks on MNIST digits', () => {
  const heldOut = () => ({ x: images.subarray(TRAIN * 784), y: labels.subarray(TRAIN) });

  it('FGSM: accuracy falls strictly with ε, float and 8-bit', async () => {
    const { x, y } = heldOut();
    const start = tf.memory().numTensors;
    const summary = summarizeAttack(await runAttack(classifier, x, y, { method: 'fgsm', epsilons: [0, 2, 4, 7, 10, 15, 20].map((levels) => levels / 255), keepImages: false }));
    expect(tf.memory().numTensors).toBe(start);
    expect(summary.count).toBe(HELD_OUT);
    expect(summary.cleanAccuracy).toBeGreaterThan(0.85);
    for (const view of ['float', 'quantized'] as const) {
      const accuracy = summary.perEpsilon.map((e) => e[view].accuracy);
      for (let i = 1; i < accuracy.length; i++) expect(accuracy[i], `${view} ${accuracy}`).toBeLessThan(accuracy[i - 1]);
      expect(accuracy.at(-1)).toBeLessThan(0.3);
    }
    // ε in whole grey levels: quantizing an FGSM image barely changes what it does.
    for (const e of summary.perEpsilon) expect(Math.abs(e.float.accuracy - e.quantized.accuracy)).toBeLessThan(0.03);
  });

  it('DeepFool fools every correctly classified digit with a small L2, which 8-bit rounding partly undoes', async () => {
    const { x, y } = heldOut();
    const summary = summarizeAttack(await runAttack(classifier, x.subarray(0, 60 * 784), y.subarray(0, 60), { method: 'deepfool', epsilons: [0] }));
    const e = summary.perEpsilon[0];
    expect(e.float.successRate).toBe(1);
    expect(e.float.meanL2).toBeGreaterThan(0);
    expect(e.float.meanL2).toBeLessThan(3);
    // DeepFool stops 2% past the boundary: rounding to 8 bits sends some images back.
    expect(e.quantized.successRate).toBeLessThan(1);
    expect(e.quantized.successRate).toBeGreaterThan(0.3);
  });
});
