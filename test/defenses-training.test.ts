/**
 * Training defended models (app/defenses/training.ts) on real MNIST digits from the `mnist`
 * package, small and seeded: adversarial training raises PGD accuracy over plain training of the
 * same network and seed; distillation's soft labels are distributions and the student is fitted at
 * T; bad settings and inputs are refused by name; a run resumed from a stored checkpoint ends with
 * exactly the weights of the uninterrupted run; a run continued from a saved model starts from its
 * weights, and a saved model of another width is refused.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNetwork } from '../app/defenses/architectures.js';
import {
  DEFAULT_TRAINING, TrainingInputError, checkTrainingSettings, defaultAdversarialSettings, networkLogits, rampedEpsilon, robustAccuracy, softLabels, trainDefense, validationSplit,
  type LabelledImages, type TrainingCheckpoint, type TrainingSettings,
} from '../app/defenses/training.js';
import { modelManifestSchema } from '../app/models/manifest.js';
import { initBackend } from '../app/node/backend.js';
import { builtinTrainingDigits } from '../app/node/mnist-package.js';
import { baseNetwork } from '../app/node/trainable-model.js';
import { decodeCheckpoint, encodeCheckpoint, loadInitialWeights, saveTrainedModel } from '../app/node/trained-model.js';

const SHAPE = [28, 28, 1] as const;
const PIXELS = 784;
let train: LabelledImages;
let held: LabelledImages;
let dir: string;

function slice(all: LabelledImages, from: number, count: number): LabelledImages {
  return { images: all.images.slice(from * PIXELS, (from + count) * PIXELS), labels: all.labels.slice(from, from + count), count };
}

/** Every 8th digit: the package stores its digits by class, so a stride keeps all ten classes. */
function strided(all: LabelledImages, offset: number, count: number): LabelledImages {
  const indices = Array.from({ length: count }, (_, i) => offset + 8 * i);
  const images = new Float32Array(count * PIXELS);
  indices.forEach((k, i) => images.set(all.images.subarray(k * PIXELS, (k + 1) * PIXELS), i * PIXELS));
  return { images, labels: Int32Array.from(indices, (k) => all.labels[k]), count };
}

beforeAll(async () => {
  await initBackend({ prefer: 'wasm' });
  const digits = await builtinTrainingDigits();
  train = strided(digits, 0, 1000);
  held = strided(digits, 3, 200);
  dir = await mkdtemp(path.join(os.tmpdir(), 'fp-train-'));
}, 60_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const mlp = () => createNetwork({ architecture: 'mlp', width: 1 }, SHAPE, 10);
const settings = (over: Partial<TrainingSettings>): TrainingSettings => ({ ...DEFAULT_TRAINING, epochs: 3, augment: false, seed: 5, evaluation: { epsilon: 0.1, steps: 0 }, ...over });

describe('adversarial training', () => {
  it('raises PGD accuracy over plain training of the same network and seed (FGSM-RS, ε 0.1, 3 epochs on 1000 digits)', async () => {
    const before = tf.memory().numTensors;
    const input = { createNetwork: mlp, inputShape: SHAPE, numClasses: 10, train, evaluation: slice(held, 0, 0) };
    const plain = await trainDefense(input, settings({ method: 'plain' }));
    const adversarial = await trainDefense(input, settings({ method: 'adversarial', adversarial: defaultAdversarialSettings('fgsm-rs', 0.1) }));
    const pgd = { epsilon: 0.1, steps: 10, restarts: 1, loss: 'ce' as const, seed: 3 };
    const plainRobust = await robustAccuracy(plain.model, SHAPE, 10, held, pgd);
    const adversarialRobust = await robustAccuracy(adversarial.model, SHAPE, 10, held, pgd);
    const adversarialClean = await robustAccuracy(adversarial.model, SHAPE, 10, held, { ...pgd, epsilon: 0 });
    // Measured (seed 5): PGD-10 at ε 0.1, plain 0.195, adversarial 0.835 (clean 0.955).
    expect(adversarialRobust).toBeGreaterThan(plainRobust + 0.2);
    expect(adversarialClean).toBeGreaterThan(0.7);
    plain.model.dispose();
    adversarial.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  }, 240_000);

  it('robust accuracy with restarts never exceeds one restart, and is 0 for ε = 1', async () => {
    const { model } = await trainDefense({ createNetwork: mlp, inputShape: SHAPE, numClasses: 10, train: slice(train, 0, 300), evaluation: slice(held, 0, 0) }, settings({ method: 'plain', epochs: 1 }));
    const one = await robustAccuracy(model, SHAPE, 10, held, { epsilon: 0.05, steps: 5, restarts: 1, loss: 'margin', seed: 1 });
    const three = await robustAccuracy(model, SHAPE, 10, held, { epsilon: 0.05, steps: 5, restarts: 3, loss: 'margin', seed: 1 });
    expect(three).toBeLessThanOrEqual(one);
    expect(await robustAccuracy(model, SHAPE, 10, held, { epsilon: 1, steps: 5, restarts: 1, loss: 'margin', seed: 1 })).toBe(0);
    model.dispose();
  }, 120_000);
});

describe('defensive distillation', () => {
  it('soft labels sum to 1, and the student is fitted to them at T (its softmax at T, not at 1, matches the teacher)', async () => {
    const T = 20;
    let teacher: TrainingCheckpoint['teacher'];
    const input = { createNetwork: mlp, inputShape: SHAPE, numClasses: 10, train: slice(train, 0, 600), evaluation: slice(held, 0, 0) };
    const { model: student, history } = await trainDefense(input, settings({ method: 'distilled', temperature: T, epochs: 3 }), {
      onEpoch: (_record, checkpoint) => void (teacher ??= checkpoint.teacher),
    });
    expect(history.map((r) => r.phase)).toEqual(['teacher', 'teacher', 'teacher', 'student', 'student', 'student']);
    const teacherModel = mlp();
    teacherModel.trainableWeights.forEach((w, i) => w.write(tf.tensor(teacher![i].values, teacher![i].shape)));
    const soft = softLabels(teacherModel, SHAPE, held.images, held.count, T);
    for (let i = 0; i < held.count; i++) expect(soft.subarray(i * 10, i * 10 + 10).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    // At T = 20 the soft labels are far from one-hot: the largest probability stays well below 1.
    expect(Math.max(...soft)).toBeLessThan(0.99);
    const crossEntropyAt = (temperature: number) =>
      tf.tidy(() => tf.losses.softmaxCrossEntropy(tf.tensor2d(soft, [held.count, 10]), networkLogits(student, tf.tensor4d(held.images, [held.count, ...SHAPE])).div(temperature)).dataSync()[0]);
    expect(crossEntropyAt(T)).toBeLessThan(crossEntropyAt(1) - 0.5);
    teacherModel.dispose();
    student.dispose();
  }, 240_000);
});

describe('ε ramp', () => {
  it('grows linearly from 0, batch by batch, to ε at the end of the ramp, and stays there', () => {
    const a = { ...defaultAdversarialSettings('pgd', 0.3), epsilonRampEpochs: 2 };
    expect(rampedEpsilon(a, 0, 0)).toBe(0);
    expect(rampedEpsilon(a, 0, 0.5)).toBeCloseTo(0.075, 12);
    expect(rampedEpsilon(a, 0)).toBeCloseTo(0.15, 12);
    expect(rampedEpsilon(a, 1, 0.5)).toBeCloseTo(0.225, 12);
    expect(rampedEpsilon(a, 1)).toBeCloseTo(0.3, 12);
    expect(rampedEpsilon(a, 4, 0.1)).toBe(0.3);
    expect(rampedEpsilon({ ...a, epsilonRampEpochs: 0 }, 0, 0)).toBe(0.3);
  });
});

describe('validation split', () => {
  /** n one-pixel "images" whose value is their index, so every part can be traced back. */
  const numbered = (n: number): LabelledImages => ({ images: Float32Array.from({ length: n }, (_, i) => i), labels: Int32Array.from({ length: n }, (_, i) => i % 10), count: n });

  it('partitions the images: disjoint, nothing lost, the training part in its order, the same split for the same seed', () => {
    fc.assert(fc.property(fc.integer({ min: 2, max: 300 }), fc.nat(), fc.nat({ max: 2 ** 31 }), (n, c, seed) => {
      const count = c % n;
      const { train: t, validation: v } = validationSplit(numbered(n), count, seed);
      expect(v.count).toBe(count);
      expect(t.count).toBe(n - count);
      expect([...t.images, ...v.images].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
      expect([...t.images]).toEqual([...t.images].sort((a, b) => a - b));
      t.images.forEach((value, i) => expect(t.labels[i]).toBe(value % 10));
      v.images.forEach((value, i) => expect(v.labels[i]).toBe(value % 10));
      expect([...validationSplit(numbered(n), count, seed).validation.images]).toEqual([...v.images]);
    }), { numRuns: 100 });
  });

  it('draws from every class of the class-ordered package digits, and another seed draws other digits', () => {
    const a = validationSplit(train, 200, 1).validation;
    const b = validationSplit(train, 200, 2).validation;
    expect([...new Set(a.labels)].sort()).toEqual([...new Set(train.labels)].sort());
    expect(new Set(a.labels).size).toBeGreaterThan(5);
    expect([...a.images.subarray(0, 784 * 5)]).not.toEqual([...b.images.subarray(0, 784 * 5)]);
  });

  it.each([-1, 1.5, 1000])('%s held-out images of 1000 are refused by name', (count) => {
    expect(() => validationSplit(train, count, 1)).toThrow(/the validation split must be a whole number from 0 to 999/);
  });
});

describe('bad inputs', () => {
  const ten = () => ({ train: slice(train, 0, 10), inputShape: SHAPE, numClasses: 10 });
  it.each([
    ['T = 0', settings({ method: 'distilled', temperature: 0 }), /temperature T must be > 0/],
    ['T < 0', settings({ method: 'distilled', temperature: -1 }), /temperature T must be > 0/],
    ['ε > 1', settings({ method: 'adversarial', adversarial: defaultAdversarialSettings('pgd', 1.5) }), /ε must be in \(0,1\]/],
    ['ε < 0', settings({ method: 'adversarial', adversarial: defaultAdversarialSettings('pgd', -0.1) }), /ε must be in \(0,1\]/],
    ['no epochs', settings({ method: 'plain', epochs: 0 }), /epochs must be a whole number/],
    ['T for plain training', settings({ method: 'plain', temperature: 5 }), /applies to distillation only/],
  ])('%s is refused', (_name, s, message) => {
    expect(() => checkTrainingSettings(s, ten())).toThrow(TrainingInputError);
    expect(() => checkTrainingSettings(s, ten())).toThrow(message);
  });

  it('an empty dataset is refused before any work', async () => {
    const empty = { images: new Float32Array(0), labels: new Int32Array(0), count: 0 };
    await expect(trainDefense({ createNetwork: mlp, inputShape: SHAPE, numClasses: 10, train: empty, evaluation: empty }, settings({ method: 'plain' }))).rejects.toThrow('the training set is empty');
  });

  it('a label outside the classes is refused', () => {
    const input = ten();
    expect(() => checkTrainingSettings(settings({ method: 'plain' }), { ...input, train: { ...input.train, labels: Int32Array.from(input.train.labels, () => 12) } })).toThrow(/label is 12/);
  });

  it('a GraphModel and an ONNX model cannot be fine-tuned, each said by name', async () => {
    const graph = path.join(dir, 'graph');
    await mkdir(graph, { recursive: true });
    await writeFile(path.join(graph, 'model.json'), JSON.stringify({ format: 'graph-model', modelTopology: { node: [] }, weightsManifest: [{ paths: [], weights: [] }] }));
    await expect(baseNetwork({ id: 'graph', folder: graph })).rejects.toThrow(/"graph" is a TF.js GraphModel: its weights are frozen/);
    const onnx = path.join(dir, 'onnx');
    await mkdir(onnx, { recursive: true });
    await writeFile(path.join(onnx, 'model.onnx'), new Uint8Array([8, 7]));
    await expect(baseNetwork({ id: 'onnx', folder: onnx })).rejects.toThrow(/"onnx" is an ONNX model/);
  });
});

describe('checkpoints', () => {
  it('a run resumed from a stored checkpoint ends with the weights of the uninterrupted run', async () => {
    const input = { createNetwork: () => createNetwork({ architecture: 'lenet', width: 1 }, SHAPE, 10), inputShape: SHAPE, numClasses: 10, train: slice(train, 0, 256), evaluation: slice(held, 0, 20) };
    const s = settings({ method: 'adversarial', epochs: 2, augment: true, dropout: true, adversarial: defaultAdversarialSettings('pgd', 0.1, 2), evaluation: { epsilon: 0.1, steps: 2 } });
    let first: Uint8Array | undefined;
    const whole = await trainDefense(input, s, { onEpoch: (record, checkpoint) => void (record.epoch === 1 && (first = encodeCheckpoint(checkpoint, 'key'))) });
    const { checkpoint, key } = decodeCheckpoint(first!, 'test.ckpt');
    expect(key).toBe('key');
    expect(checkpoint.epochsDone).toBe(1);
    const resumed = await trainDefense(input, s, {}, checkpoint);
    expect(resumed.history).toHaveLength(2);
    expect(resumed.history[1].loss).toBe(whole.history[1].loss);
    const a = whole.model.trainableWeights.map((w) => Array.from(w.read().dataSync()));
    const b = resumed.model.trainableWeights.map((w) => Array.from(w.read().dataSync()));
    expect(b).toEqual(a);

    // Saved as a model folder whose manifest carries the training record.
    const folder = path.join(dir, 'trained');
    const manifest = modelManifestSchema.parse({
      schemaVersion: 1, name: 'trained', inputSize: [28, 28], channels: 1, labels: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
      training: { method: 'adversarial', architecture: 'LeNet', epochs: 2, batchSize: 64, learningRate: 0.002, seed: 5, augment: true, dropout: true, data: 'digits', trainCount: 256, accuracies: { evaluatedOn: 'held out', clean: 0.5 } },
    });
    await saveTrainedModel(resumed.model, manifest, folder);
    await expect(saveTrainedModel(resumed.model, manifest, folder)).rejects.toThrow(/already exists/);
    whole.model.dispose();
    resumed.model.dispose();
  }, 240_000);

  it('a run continued from a saved model (train-defended --init) starts from its weights; another width is refused and changes nothing', async () => {
    const trainSet = slice(train, 0, 512);
    const input = { createNetwork: mlp, inputShape: SHAPE, numClasses: 10, train: trainSet, evaluation: slice(held, 0, 0) };
    const s = settings({ method: 'plain', epochs: 1 });
    const first = await trainDefense(input, s);
    const folder = path.join(dir, 'init-from');
    const manifest = modelManifestSchema.parse({ schemaVersion: 1, name: 'init-from', inputSize: [28, 28], channels: 1, labels: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] });
    await saveTrainedModel(first.model, manifest, folder);

    const copy = mlp();
    await loadInitialWeights(copy, folder);
    expect(copy.trainableWeights.map((w) => Array.from(w.read().dataSync()))).toEqual(first.model.trainableWeights.map((w) => Array.from(w.read().dataSync())));
    copy.dispose();

    // The continued run's first epoch starts where the saved run ended, so its loss is well under
    // a fresh run's first epoch (measured: 0.35 against 0.98).
    const continued = await trainDefense({ ...input, createNetwork: async () => { const m = mlp(); await loadInitialWeights(m, folder); return m; }, keepInitialWeights: true }, s);
    expect(continued.history[0].loss).toBeLessThan(first.history[0].loss * 0.6);

    const wider = createNetwork({ architecture: 'mlp', width: 2 }, SHAPE, 10);
    const before = wider.trainableWeights.map((w) => Array.from(w.read().dataSync()));
    await expect(loadInitialWeights(wider, folder)).rejects.toThrow(/init-from's weight .* is \d+x\d+, this network's .*: it is another architecture or width$/);
    expect(wider.trainableWeights.map((w) => Array.from(w.read().dataSync()))).toEqual(before);
    const lenet = createNetwork({ architecture: 'lenet', width: 1 }, SHAPE, 10);
    await expect(loadInitialWeights(lenet, folder)).rejects.toThrow(/has \d+ trainable weights, this network \d+: it is another architecture$/);
    for (const m of [first.model, continued.model, wider, lenet]) m.dispose();
  }, 240_000);

  it('a damaged checkpoint file is refused in one line, never crashes the reader (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          decodeCheckpoint(bytes, 'x.ckpt');
        } catch (error) {
          expect((error as Error).message).toMatch(/^x\.ckpt is not a usable training checkpoint: /);
        }
      }),
    );
    const good = encodeCheckpoint({ phaseIndex: 0, epochsDone: 1, history: [], weights: [{ name: 'w', shape: [2], values: Float32Array.of(1, 2) }], optimizer: [] }, 'k');
    expect(() => decodeCheckpoint(good.slice(0, good.length - 1), 'x.ckpt')).toThrow(/cut short/);
    expect(decodeCheckpoint(good, 'x.ckpt').checkpoint.weights[0].values).toEqual(Float32Array.of(1, 2));
  });
});
