/**
 * The training scripts' shared loop (scripts/training.ts) and the generic training forward pass:
 * the seed decides the hold-out and every batch (same seed, same batches and same weights; another
 * seed, others), the hold-out is disjoint from training and interleaved by class, and the forward
 * pass written with conv2dValid is the model itself, value and weight gradients, for both built-in
 * architectures; and the loop's flags both scripts share, with each script's defaults.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { augmentDigit, seededRandom } from '../app/data/augment.js';
import { createFashionCnn } from '../app/models/fashion-cnn.js';
import { createLeNet } from '../app/models/lenet.js';
import { trainingLogits } from '../app/models/training-forward.js';
import { augmentedBatches, cosineLearningRate, holdOut, loopOptions, seedMathRandom, subset, trainModel, withLoopOptions, type LabelledImages } from '../scripts/training.js';

const SIZE = 28;

/** Images whose pixels say which image they are (image k is filled with its own random values). */
function syntheticSet(count: number, classes: number, seed: number): LabelledImages {
  const random = seededRandom(seed);
  const images = Float32Array.from({ length: count * SIZE * SIZE }, () => random());
  return { images, labels: Int32Array.from({ length: count }, (_, i) => (i * 7) % classes), count, size: SIZE };
}

describe('holdOut', () => {
  const labels = syntheticSet(500, 10, 1).labels;

  it('holds out perClass images of each class, interleaved by class, disjoint from the training indices', () => {
    const { samples, train } = holdOut(labels, 10, 6, seededRandom(5));
    expect(samples).toHaveLength(60);
    samples.forEach((k, i) => expect(labels[k]).toBe(i % 10));
    expect(new Set(samples).size).toBe(60);
    expect(train).toHaveLength(440);
    expect(train.filter((k) => samples.includes(k))).toEqual([]);
    expect([...train].sort((a, b) => a - b)).toEqual(train);
  });

  it('is chosen by the seed: the same seed the same images, another seed others', () => {
    const a = holdOut(labels, 10, 6, seededRandom(5)).samples;
    expect(holdOut(labels, 10, 6, seededRandom(5)).samples).toEqual(a);
    expect(holdOut(labels, 10, 6, seededRandom(6)).samples).not.toEqual(a);
  });

  it('refuses a class too small to hold out from', () => {
    expect(() => holdOut(Int32Array.from([0, 0, 1]), 2, 2, seededRandom(1))).toThrow('class 1 has 1 images, fewer than the 2 to hold out');
  });
});

describe('augmentedBatches', () => {
  const data = syntheticSet(50, 10, 2);
  const augment = (image: Float32Array, random: () => number) => augmentDigit(image, SIZE, SIZE, random);
  const firstBatches = (seed: number, n: number) => {
    const order = Array.from({ length: data.count }, (_, i) => i);
    const out: { images: Float32Array; labels: number[] }[] = [];
    for (const batch of augmentedBatches(data, order, 16, augment, seededRandom(seed))) {
      out.push({ images: Float32Array.from(batch.images), labels: [...batch.labels] });
      if (out.length === n) break;
    }
    return out;
  };

  it('gives the same first batches for the same seed, pixel for pixel, and other batches for another seed', () => {
    const a = firstBatches(9, 2);
    const b = firstBatches(9, 2);
    expect(b.map((x) => x.labels)).toEqual(a.map((x) => x.labels));
    for (let i = 0; i < 2; i++) expect(Buffer.from(b[i].images.buffer).equals(Buffer.from(a[i].images.buffer))).toBe(true);
    const c = firstBatches(10, 2);
    expect(Buffer.from(c[0].images.buffer).equals(Buffer.from(a[0].images.buffer))).toBe(false);
  });

  it('covers every image once per epoch, the last batch short', () => {
    const order = Array.from({ length: data.count }, (_, i) => i);
    const sizes: number[] = [];
    for (const batch of augmentedBatches(data, order, 16, (x) => Float32Array.from(x), seededRandom(3))) sizes.push(batch.n);
    expect(sizes).toEqual([16, 16, 16, 2]);
    expect([...order].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('draws every image of a batch from the set, with its own label (no augmentation: bit for bit)', () => {
    const order = Array.from({ length: data.count }, (_, i) => i);
    const pixels = SIZE * SIZE;
    const batch = augmentedBatches(data, order, 8, (x) => Float32Array.from(x), seededRandom(4)).next().value!;
    for (let i = 0; i < batch.n; i++) {
      const k = order[i];
      expect(batch.labels[i]).toBe(data.labels[k]);
      expect(batch.images.subarray(i * pixels, (i + 1) * pixels)).toEqual(data.images.subarray(k * pixels, (k + 1) * pixels));
    }
  });
});

describe('trainModel', () => {
  it('decays the learning rate from the peak to 5% of it along a cosine', () => {
    expect(cosineLearningRate(0.002, 0, 10)).toBeCloseTo(0.002, 12);
    expect(cosineLearningRate(0.002, 5, 10)).toBeCloseTo(0.002 * (0.05 + 0.95 * 0.5), 12);
    expect(cosineLearningRate(0.002, 10, 10)).toBeCloseTo(0.0001, 12);
  });

  it('is repeatable from its seed: the same weights after an epoch, other weights from another seed', async () => {
    const data = syntheticSet(48, 10, 7);
    const run = async (seed: number) => {
      seedMathRandom(seed);
      const model = createLeNet();
      const log = await trainModel(model, subset(data, Array.from({ length: 32 }, (_, i) => i)), {
        epochs: 1,
        batchSize: 16,
        peakLr: 0.01,
        classes: 10,
        augment: (x, r) => augmentDigit(x, SIZE, SIZE, r),
        random: seededRandom(seed),
        heldOut: subset(data, Array.from({ length: 16 }, (_, i) => 32 + i)),
        progressEverySeconds: 3600,
      });
      const weights = model.getWeights().map((w) => Float32Array.from(w.dataSync()));
      model.dispose();
      return { log, weights };
    };
    const saved = Math.random;
    try {
      const a = await run(11);
      const b = await run(11);
      const c = await run(12);
      a.weights.forEach((w, i) => expect(Buffer.from(b.weights[i].buffer).equals(Buffer.from(w.buffer))).toBe(true));
      expect(Buffer.from(c.weights[0].buffer).equals(Buffer.from(a.weights[0].buffer))).toBe(false);
      expect(a.log).toHaveLength(1);
      expect(a.log[0]).toMatch(/^epoch {2}1\/1 {2}lr 0\.01000 {2}loss \d+\.\d{4} {2}held-out samples [01]\.\d{4} {2}\d+\.\d s$/);
      expect(a.log[0].replace(/\S+ s$/, '')).toBe(b.log[0].replace(/\S+ s$/, ''));
    } finally {
      Math.random = saved;
    }
  });
});

describe('trainModel with a validation split', () => {
  it('ends with the weights of the epoch best on it, the starting ones counting as epoch 0', async () => {
    const data = syntheticSet(48, 10, 7);
    const saved = Math.random;
    try {
      seedMathRandom(5);
      const model = createLeNet();
      const start = model.getWeights().map((w) => Float32Array.from(w.dataSync()));
      // Labelled with the starting model's own predictions, the validation split scores 1 before
      // training: no epoch can beat that, so the run must hand back the starting weights bit for bit.
      const validation = subset(data, Array.from({ length: 16 }, (_, i) => 32 + i));
      validation.labels = Int32Array.from(tf.tidy(() => (model.predict(tf.tensor4d(validation.images, [16, SIZE, SIZE, 1])) as tf.Tensor).argMax(-1).dataSync()));
      const log = await trainModel(model, subset(data, Array.from({ length: 32 }, (_, i) => i)), {
        epochs: 2,
        batchSize: 16,
        peakLr: 0.05,
        classes: 10,
        augment: (x, r) => augmentDigit(x, SIZE, SIZE, r),
        random: seededRandom(5),
        heldOut: validation,
        validation,
        progressEverySeconds: 3600,
      });
      expect(log[0]).toBe('start  validation 1.0000');
      expect(log[1]).toMatch(/^epoch {2}1\/2 .* validation [01]\.\d{4} {2}\d+\.\d s$/);
      expect(log.at(-1)).toBe('kept epoch 0 (validation 1.0000): the starting weights');
      model.getWeights().forEach((w, i) => expect(Buffer.from(Float32Array.from(w.dataSync()).buffer).equals(Buffer.from(start[i].buffer))).toBe(true));
      model.dispose();
    } finally {
      Math.random = saved;
    }
  });
});

describe('trainingLogits, the forward pass the scripts train through', () => {
  for (const [name, create] of [['LeNet', createLeNet], ['the Fashion-MNIST CNN', createFashionCnn]] as const) {
    it(`equals ${name} itself in inference mode, value and weight gradients`, () => {
      const model = create();
      const x = tf.randomUniform([3, 28, 28, 1], 0, 1, 'float32', 5) as tf.Tensor4D;
      const weights = model.trainableWeights.map((w) => w.read() as tf.Variable);
      const loss = (f: () => tf.Tensor) => () => tf.sum(tf.mul(f(), tf.range(0, 10).reshape([1, 10]))) as tf.Scalar;
      const ours = tf.variableGrads(loss(() => trainingLogits(model, x, false)), weights);
      const theirs = tf.variableGrads(loss(() => model.apply(x, { training: false }) as tf.Tensor), weights);
      expect(Math.abs((ours.value.arraySync() as number) - (theirs.value.arraySync() as number))).toBeLessThan(1e-3);
      for (const w of weights) {
        const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(ours.grads[w.name], theirs.grads[w.name]))).arraySync() as number);
        const scale = tf.tidy(() => tf.max(tf.abs(theirs.grads[w.name])).arraySync() as number);
        expect(diff).toBeLessThanOrEqual(1e-4 * Math.max(1, scale));
      }
      tf.dispose([x, ours.value, theirs.value, ...Object.values(ours.grads), ...Object.values(theirs.grads)]);
      model.dispose();
    });
  }

  it('refuses a layer it cannot write out, by name', () => {
    const model = tf.sequential({ layers: [tf.layers.conv2d({ name: 'padded', inputShape: [8, 8, 1], filters: 2, kernelSize: 3, padding: 'same' })] });
    expect(() => trainingLogits(model, tf.zeros([1, 8, 8, 1]) as tf.Tensor4D, false)).toThrow('padded must be a valid, stride-1, undilated convolution');
    model.dispose();
  });

  it('turns dropout on in training mode only: Dropout2d drops whole feature maps of the Fashion CNN', () => {
    const model = createFashionCnn();
    const x = tf.randomUniform([2, 28, 28, 1], 0, 1, 'float32', 8) as tf.Tensor4D;
    const a = trainingLogits(model, x, false);
    const b = trainingLogits(model, x, false);
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).arraySync())).toBe(0);
    const noisy = [0, 1, 2].map(() => trainingLogits(model, x, true));
    const differs = noisy.some((t) => (tf.tidy(() => tf.max(tf.abs(tf.sub(t, a))).arraySync()) as number) > 1e-6);
    expect(differs).toBe(true);
    tf.dispose([x, a, b, ...noisy]);
    model.dispose();
  });
});

describe('the loop flags the training scripts share (withLoopOptions)', () => {
  const defaults = { seed: '20261128', epochs: '20', batch: '64', lr: '0.002' };
  const parse = (...args: string[]) => loopOptions(withLoopOptions(new Command('train').exitOverride(), defaults).parse(args, { from: 'user' }).opts());

  it('gives the script\'s defaults, and the values given', () => {
    expect(parse()).toEqual({ seed: 20261128, epochs: 20, batchSize: 64, peakLr: 0.002 });
    expect(parse('--seed', '7', '--epochs', '3', '--batch', '128', '--lr', '1e-3')).toEqual({ seed: 7, epochs: 3, batchSize: 128, peakLr: 0.001 });
  });

  it('refuses what is no positive number, and a fraction where a whole number is due, in one line', () => {
    expect(() => parse('--epochs', '0')).toThrow('--epochs must be a positive whole number, got "0"');
    expect(() => parse('--batch', '2.5')).toThrow('--batch must be a positive whole number, got "2.5"');
    expect(() => parse('--seed', 'x')).toThrow('--seed must be a positive whole number, got "x"');
    expect(() => parse('--lr', '-1')).toThrow('--lr must be a positive number, got "-1"');
    expect(parse('--lr', '0.5').peakLr).toBe(0.5);
  });

  // The built scripts: their --help and their checks, each with its own defaults.
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const script = (name: string, ...args: string[]) =>
    new Promise<{ stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [path.join(root, 'dist/scripts', name), ...args], { cwd: root, env: { ...process.env, FOOLPRINT_MNIST: '', FOOLPRINT_FASHION_MNIST: '' } }, (_, stdout, stderr) => resolve({ stdout, stderr }));
    });

  it.each([
    ['train-mnist.js', { seed: '20261128', epochs: '20', lr: '0.002' }, ['--test', '/nonexistent']],
    ['train-fashion.js', { seed: '20261202', epochs: '3', lr: '0.003' }, ['--data', '/nonexistent']],
  ])('%s lists them with its defaults and checks them before reading any data', async (name, expected, data) => {
    const help = (await script(name, '--help')).stdout.replace(/\s+/g, ' ');
    expect(help).toContain(`batch order and augmentation (default: "${expected.seed}")`);
    expect(help).toContain(`--epochs <n> training epochs (default: "${expected.epochs}")`);
    expect(help).toContain('--batch <n> batch size (default: "64")');
    expect(help).toContain(`--lr <x> peak Adam learning rate (cosine decay to 5% of it) (default: "${expected.lr}")`);
    expect((await script(name, ...data, '--epochs', '0')).stderr).toBe(`${name.replace('.js', '')}: --epochs must be a positive whole number, got "0"\n`);
  }, 60_000);
});
