/**
 * runAttack scores the clean images (the prediction "before") in the same forward call as the first
 * ε's adversarial views, or once up front where the attack needs them first (least-likely targets,
 * DeepFool's candidates). Either way it must be bit for bit the prediction of a plain forward pass:
 * the built-in LeNet on WASM (the product's backend), chunks of odd sizes, one image alone. The
 * gradient step's own forward pass skips what it does not need (the cross-entropy's value) and must
 * give the same gradient.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { runAttack } from '../app/attacks/index.js';
import type { AttackOptions } from '../app/attacks/types.js';
import type { Classifier } from '../app/engine/classifier.js';
import { predictLogits, topKFromLogits } from '../app/engine/predict.js';
import { inputGradient, objectiveGradient } from '../app/attacks/iterative.js';
import { attackObjective } from '../app/attacks/losses.js';
import { initBackend } from '../app/node/backend.js';
import { loadDataset } from '../app/node/dataset-loader.js';
import { loadClassifier } from '../app/node/model-loader.js';
import * as tf from '@tensorflow/tfjs';

let classifier: Classifier;
let images: Float32Array;
let labels: Int32Array;

beforeAll(async () => {
  await initBackend({ prefer: 'wasm' });
  classifier = await loadClassifier({ kind: 'builtin', id: 'lenet-mnist' });
  const samples = await loadDataset('samples', { samplesOf: 'lenet-mnist', limit: 20 });
  images = samples.images;
  labels = samples.labels;
});

const methods: [string, AttackOptions][] = [
  ['fgsm', { method: 'fgsm', epsilons: [0.1, 0.2] }],
  ['bim', { method: 'bim', epsilons: [0.1], steps: 2, stepSize: 0.05 }],
  ['pgd', { method: 'pgd', epsilons: [0.1], steps: 2, restarts: 2 }],
  ['ll', { method: 'll', epsilons: [0.1], steps: 2, stepSize: 0.05 }],
  ['deepfool', { method: 'deepfool', epsilons: [0], maxIterations: 3 }],
];

describe('the clean prediction of runAttack', () => {
  it.each(methods)('%s: equals a plain forward pass bit for bit, in chunks of 7 and for one image', async (_name, options) => {
    const expected = topKFromLogits(predictLogits(classifier, images, 256), classifier.numClasses, 5);
    const start = tf.memory().numTensors;
    const chunked = await runAttack(classifier, images, labels, { ...options, batchSize: 7, keepImages: false });
    expect(chunked.before.labels).toEqual(expected.labels);
    expect(chunked.before.probs).toEqual(expected.probs);
    const one = await runAttack(classifier, images.subarray(0, 784), labels.subarray(0, 1), { ...options, keepImages: false });
    expect(one.before.labels).toEqual(expected.labels.subarray(0, 5));
    expect(one.before.probs).toEqual(expected.probs.subarray(0, 5));
    expect(tf.memory().numTensors).toBe(start);
  });

  it('the adversarial views scored with it equal a plain forward pass of the adversarial images', async () => {
    const result = await runAttack(classifier, images, labels, { method: 'fgsm', epsilons: [0.1], batchSize: 7, keepImages: true });
    const e = result.perEpsilon[0];
    const after = topKFromLogits(predictLogits(classifier, e.adversarial!, 256), classifier.numClasses, 5);
    expect(e.float.after.labels).toEqual(after.labels);
    expect(e.float.after.probs).toEqual(after.probs);
  });
});

describe("the gradient step's objective", () => {
  it("'ce' without its value gives the same input gradient on WASM LeNet, untargeted and targeted", () => {
    for (const targeted of [false, true]) {
      const [fast, full] = tf.tidy(() => {
        const x = tf.tensor4d(images, [labels.length, 28, 28, 1]);
        const classes = tf.tensor1d(targeted ? labels.map((y) => (y + 1) % 10) : labels, 'int32');
        return [
          objectiveGradient(classifier, x, classes, 'ce', targeted).dataSync(),
          inputGradient(classifier, x, (logits) => attackObjective(logits, classes, 'ce', targeted)).dataSync(),
        ];
      });
      expect(fast).toEqual(full);
    }
  });
});
