/**
 * runAttack's default chunk size comes from a probe of the model's gradient tape per image
 * (app/attacks/chunk-size.ts): LeNet keeps 256, a model with large activations gets fewer images per
 * chunk, and chunking never changes a result on WASM (no image depends on another).
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ATTACK_BATCH, TAPE_BUDGET_BYTES, defaultChunkSize, runAttack, tapeBytesPerImage } from '../app/attacks/index.js';
import type { AttackOptions } from '../app/attacks/types.js';
import { mulberry32 } from '../app/attacks/random-start.js';
import type { Classifier } from '../app/engine/classifier.js';
import { initBackend } from '../app/node/backend.js';
import { loadDataset } from '../app/node/dataset-loader.js';
import { loadClassifier } from '../app/node/model-loader.js';

let lenet: Classifier;

beforeAll(async () => {
  await initBackend({ prefer: 'wasm' });
  lenet = await loadClassifier({ kind: 'builtin', id: 'lenet-mnist' });
});

/** A 1x1 convolution to 128 channels on 96x96x3: each activation is 96·96·128 floats, 4.7 MB per image. */
function wideClassifier(): Classifier {
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  const net = tf.sequential();
  net.add(tf.layers.conv2d({ inputShape: [96, 96, 3], filters: 128, kernelSize: 1, activation: 'relu', kernelInitializer: init(1) }));
  net.add(tf.layers.globalAveragePooling2d({}));
  net.add(tf.layers.dense({ units: 3, kernelInitializer: init(2) }));
  return {
    id: 'wide', inputShape: [96, 96, 3], numClasses: 3, labels: ['a', 'b', 'c'],
    logits: (x) => net.apply(x, { training: false }) as tf.Tensor2D,
    dispose: () => net.dispose(),
  };
}

describe('the default chunk size', () => {
  it('stays 256 for the built-in LeNet: its tape holds at least conv1\'s output per image, well under 1 MB', async () => {
    const perImage = tapeBytesPerImage(lenet);
    expect(perImage).toBeGreaterThanOrEqual(24 * 24 * 10 * 4);
    expect(perImage).toBeLessThan(2 ** 20);
    expect(defaultChunkSize(lenet)).toBe(DEFAULT_ATTACK_BATCH);
    const result = await runAttack(lenet, new Float32Array(3 * 784).fill(0.5), new Int32Array(3), { method: 'fgsm', epsilons: [0.1], keepImages: false });
    expect(result.options.batchSize).toBe(DEFAULT_ATTACK_BATCH);
  });

  it('shrinks to the tape budget for a model with large activations, and runAttack uses it', async () => {
    const wide = wideClassifier();
    const start = tf.memory().numTensors;
    const activation = 96 * 96 * 128 * 4;
    // The tape holds the convolution's output and the ReLU's at least.
    expect(tapeBytesPerImage(wide)).toBeGreaterThanOrEqual(2 * activation);
    const size = defaultChunkSize(wide);
    expect(size).toBe(Math.floor(TAPE_BUDGET_BYTES / tapeBytesPerImage(wide)));
    expect(size).toBeLessThanOrEqual(Math.floor(TAPE_BUDGET_BYTES / (2 * activation)));
    const random = mulberry32(7);
    const images = Float32Array.from({ length: 2 * 96 * 96 * 3 }, () => random());
    const result = await runAttack(wide, images, new Int32Array([0, 1]), { method: 'fgsm', epsilons: [0.05], keepImages: false });
    expect(result.options.batchSize).toBe(size);
    // An explicit batch size is the caller's.
    const asked = await runAttack(wide, images, new Int32Array([0, 1]), { method: 'fgsm', epsilons: [0.05], keepImages: false, batchSize: 64 });
    expect(asked.options.batchSize).toBe(64);
    expect(tf.memory().numTensors).toBe(start);
    wide.dispose();
  });

  it.each<[string, AttackOptions]>([
    ['fgsm', { method: 'fgsm', epsilons: [0.1] }],
    ['bim', { method: 'bim', epsilons: [0.1], steps: 3, stepSize: 0.04 }],
    ['pgd', { method: 'pgd', epsilons: [0.1], steps: 2, restarts: 2 }],
    ['deepfool', { method: 'deepfool', epsilons: [0], maxIterations: 3 }],
  ])('%s on WASM LeNet: chunks of 7 give the same images and predictions as one chunk', async (_name, options) => {
    const samples = await loadDataset('samples', { samplesOf: 'lenet-mnist', limit: 17 });
    const chunked = await runAttack(lenet, samples.images, samples.labels, { ...options, batchSize: 7 });
    const whole = await runAttack(lenet, samples.images, samples.labels, { ...options, batchSize: 256 });
    expect(chunked.perEpsilon[0].adversarial).toEqual(whole.perEpsilon[0].adversarial);
    expect(chunked.perEpsilon[0].float.after).toEqual(whole.perEpsilon[0].float.after);
    expect(chunked.perEpsilon[0].quantized.after).toEqual(whole.perEpsilon[0].quantized.after);
  });
});
