/**
 * Defense evaluation on real models: the built-in LeNet and the 300 built-in digits (always
 * present), on WASM as the product runs. Kept small (a few dozen images) for the shared CPU.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAttack } from '../app/attacks/index.js';
import type { Classifier } from '../app/engine/classifier.js';
import { applyInputTransform, checkInputTransform, transformedClassifier } from '../app/defenses/input-transforms.js';
import type { InputTransform } from '../app/defenses/input-transforms.js';
import { operatingPointAtFpr, rocAuc } from '../app/defenses/roc.js';
import { accuracyOn, evaluateRobustness, maskingVerdict } from '../app/defenses/robustness.js';
import { encodeActivations, fitCodebook, trainAndEvaluateDetector } from '../app/defenses/safetynet.js';
import { transferMatrix } from '../app/defenses/transfer.js';
import { initBackend } from '../app/node/backend.js';
import { loadDataset } from '../app/node/dataset-loader.js';
import { openActivationProbe, openDefendedModels } from '../app/node/defense-models.js';
import type { OpenedModels } from '../app/node/defense-models.js';
import { libsvmTrainer } from '../app/node/libsvm.js';

const mnistDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../shared/data/mnist');
const haveMnist = existsSync(path.join(mnistDir, 't10k-images-idx3-ubyte.gz'));
if (!haveMnist) console.warn(`MNIST test set not found at ${mnistDir}: skipping the defense evaluation on it`);

let opened: OpenedModels;
let lenet: Classifier;
let images: Float32Array;
let labels: Int32Array;

/**
 * Distilled-style: the LeNet's logits at a high temperature's scale (×1000), deployed as softmax
 * probabilities. The softmax saturates in float32, so every gradient through it is exactly zero,
 * yet its top-1 is LeNet's: it looks robust to white-box attacks and is not.
 */
function saturatedSoftmax(base: Classifier): Classifier {
  return { ...base, id: 'lenet-saturated', logits: (x) => tf.tidy(() => tf.log(tf.softmax(base.logits(x).mul(1000)).add(1e-12)) as tf.Tensor2D) };
}

beforeAll(async () => {
  await initBackend({ prefer: 'wasm' });
  opened = await openDefendedModels([{ id: 'lenet-mnist', source: { kind: 'builtin', id: 'lenet-mnist' } }]);
  lenet = opened.models[0].classifier;
  const data = await loadDataset('samples', { height: 28, width: 28, channels: 1, limit: 64 });
  images = data.images;
  labels = data.labels;
});

afterAll(() => opened?.dispose());

describe('ROC', () => {
  it('AUC is the Mann–Whitney statistic, ties counting one half', () => {
    expect(rocAuc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])).toBe(1);
    expect(rocAuc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1])).toBe(0);
    expect(rocAuc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1])).toBe(0.5);
    // Positives 0.4, 0.7 against negatives 0.3, 0.7: pairs (0.4, 0.3) 1, (0.4, 0.7) 0, (0.7, 0.3) 1, (0.7, 0.7) ½.
    expect(rocAuc([0.4, 0.7, 0.3, 0.7], [1, 1, 0, 0])).toBe(0.625);
    expect(() => rocAuc([0.1, 0.2], [1, 1])).toThrow(/both classes/);
  });

  it('TPR at 5% FPR lets at most ⌊0.05·negatives⌋ clean examples through', () => {
    const negatives = Array.from({ length: 40 }, (_, i) => i / 40);
    const positives = [0.2, 0.96, 0.97, 0.99];
    const point = operatingPointAtFpr([...negatives, ...positives], [...negatives.map(() => 0), ...positives.map(() => 1)], 0.05);
    expect(point.falsePositiveRate).toBeLessThanOrEqual(0.05);
    expect(point.threshold).toBe(37 / 40);
    expect(point.falsePositiveRate).toBe(0.05);
    expect(point.truePositiveRate).toBe(0.75);
  });
});

describe('input transformations', () => {
  it('bit-depth reduction and the median filter give their known values', () => {
    const shape = [1, 2, 3, 1] as const;
    expect(Array.from(applyInputTransform(new Float32Array([0, 0.2, 0.3, 0.6, 0.8, 1]), shape, { kind: 'bitDepth', bits: 1 }))).toEqual([0, 0, 0, 1, 1, 1]);
    const spike = new Float32Array(9);
    spike[4] = 1;
    expect(Array.from(applyInputTransform(spike, [1, 3, 3, 1], { kind: 'median', size: 3 }))).toEqual(Array(9).fill(0));
    const flat = new Float32Array(28 * 28).fill(0.5);
    const jpeg = applyInputTransform(flat, [1, 28, 28, 1], { kind: 'jpeg', quality: 75 });
    expect(Math.max(...jpeg.map((v) => Math.abs(v - 128 / 255)))).toBeLessThan(2 / 255);
  });

  it.each<[InputTransform, RegExp]>([
    [{ kind: 'jpeg', quality: 0 }, /JPEG quality/],
    [{ kind: 'bitDepth', bits: 9 }, /bit depth/],
    [{ kind: 'median', size: 1 }, /median/],
    [{ kind: 'printPhoto', seed: -1 }, /seed/],
    [{ kind: 'blur' } as unknown as InputTransform, /unknown input transformation/],
  ])('refuses %o', (t, message) => expect(() => checkInputTransform(t)).toThrow(message));

  it('a naive attack sees no gradient through the transform; BPDA sees the model at the transformed image', () => {
    const t: InputTransform = { kind: 'bitDepth', bits: 2 };
    const x = tf.tensor4d(images.subarray(0, 2 * 784), [2, 28, 28, 1]);
    const y = tf.tensor1d([labels[0], labels[1]], 'int32');
    const loss = (c: Classifier) => (v: tf.Tensor) => tf.losses.softmaxCrossEntropy(tf.oneHot(y, 10), c.logits(v as tf.Tensor4D));
    const naive = tf.grad(loss(transformedClassifier(lenet, t, 'none')))(x);
    const bpda = tf.grad(loss(transformedClassifier(lenet, t, 'bpda')))(x);
    const atTransformed = tf.grad(loss(lenet))(tf.tensor4d(applyInputTransform(images.subarray(0, 2 * 784), [2, 28, 28, 1], t), [2, 28, 28, 1]));
    expect(naive.abs().max().dataSync()[0]).toBe(0);
    expect(bpda.abs().max().dataSync()[0]).toBeGreaterThan(0);
    expect(Array.from(bpda.dataSync())).toEqual(Array.from(atTransformed.dataSync()));
    tf.dispose([x, y, naive, bpda, atTransformed]);
  });
});

describe('gradient masking', () => {
  it('flags a saturated-softmax model (robust to white-box CE and margin, broken by transfer) and not the undefended LeNet', async () => {
    const saturated = saturatedSoftmax(lenet);
    const n = 48;
    const x = images.subarray(0, n * 784);
    const y = labels.subarray(0, n);
    const before = tf.memory().numTensors;
    const report = await evaluateRobustness(
      [{ id: 'lenet-mnist', title: 'LeNet', classifier: lenet }, { id: 'lenet-saturated', title: 'saturated', classifier: saturated }],
      x, y,
      { attacks: ['fgsm'], epsilons: [0, 0.25], surrogate: { id: 'lenet-mnist', classifier: lenet } },
    );
    expect(tf.memory().numTensors).toBe(before);
    const [plain, masked] = report.models;
    const curve = (m: typeof plain, view: string) => m.curves.find((c) => c.view === view)!.accuracy;
    // Same predictions, so the same clean accuracy; FGSM at 0.25 hurts the LeNet.
    expect(masked.cleanAccuracy).toBe(plain.cleanAccuracy);
    expect(masked.cleanAccuracyCost).toBe(0);
    expect(curve(plain, 'ce')[1]).toBeLessThan(plain.cleanAccuracy - 0.3);
    expect(plain.masking.suspected).toBe(false);
    // Zero gradients: the white-box attack changes nothing, the transferred one does.
    expect(curve(masked, 'ce')[1]).toBe(masked.cleanAccuracy);
    expect(curve(masked, 'transfer')[1]).toBeCloseTo(curve(plain, 'ce')[1], 10);
    expect(masked.masking.suspected).toBe(true);
    expect(masked.masking.reasons.join(' ')).toMatch(/transfer from lenet-mnist/);
    // The robust accuracy reported is the worst view, the transfer one.
    expect(masked.robust[0].accuracy[1]).toBe(curve(masked, 'transfer')[1]);
  });

  it('a model robust under cross-entropy but not under the logit margin is flagged, and the reason names both', () => {
    const verdict = maskingVerdict(
      [{ attack: 'pgd', view: 'ce', accuracy: [0.99, 0.9] }, { attack: 'pgd', view: 'margin', accuracy: [0.99, 0.1] }],
      [0, 0.3], 0.1,
    );
    expect(verdict.suspected).toBe(true);
    expect(verdict.reasons).toEqual(['PGD, ε 0.3: accuracy 0.90 under cross-entropy, 0.10 under the logit margin']);
    expect(maskingVerdict([{ attack: 'pgd', view: 'ce', accuracy: [0.99, 0.5] }, { attack: 'pgd', view: 'margin', accuracy: [0.99, 0.45] }], [0, 0.3], 0.1).suspected).toBe(false);
  });

  it('BPDA breaks a median-filter defense the naive attack cannot touch', async () => {
    const extra = await openDefendedModels([{ id: 'lenet-mnist', source: { kind: 'builtin', id: 'lenet-mnist' }, transform: { kind: 'median', size: 2 } }]);
    const [defended] = extra.models;
    const n = 32;
    const report = await evaluateRobustness([defended], images.subarray(0, n * 784), labels.subarray(0, n), { attacks: ['fgsm'], epsilons: [0.3] });
    extra.dispose();
    const curve = (view: string) => report.models[0].curves.find((c) => c.view === view)!.accuracy[0];
    expect(curve('ce')).toBe(report.models[0].cleanAccuracy);
    expect(curve('bpda-ce')).toBeLessThan(curve('ce') - 0.3);
    expect(report.models[0].masking.suspected).toBe(true);
    expect(report.models[0].masking.reasons.join(' ')).toMatch(/BPDA/);
  });
});

describe('transfer matrix', () => {
  it('scores each source\'s examples on the target, not on the source', async () => {
    const squeezed = transformedClassifier(lenet, { kind: 'median', size: 3 }, 'none');
    const n = 32;
    const x = images.subarray(0, n * 784);
    const y = labels.subarray(0, n);
    const models = [{ id: 'lenet', title: 'LeNet', classifier: lenet }, { id: 'median', title: 'median', classifier: squeezed, bpda: transformedClassifier(lenet, { kind: 'median', size: 3 }, 'bpda') }];
    const matrix = await transferMatrix(models, x, y, { attack: 'fgsm', epsilon: 0.2 });
    const fromLenet = (await runAttack(lenet, x, y, { method: 'fgsm', epsilons: [0.2] })).perEpsilon[0].adversarial!;
    expect(matrix.accuracy[0][0]).toBe(accuracyOn(lenet, fromLenet, y));
    expect(matrix.accuracy[0][1]).toBe(accuracyOn(squeezed, fromLenet, y));
    expect(matrix.accuracy[0][1]).not.toBe(matrix.accuracy[0][0]);
    expect(matrix.cleanAccuracy).toEqual([accuracyOn(lenet, x, y), accuracyOn(squeezed, x, y)]);
  });

  it('refuses an empty dataset and ε outside [0,1]', async () => {
    const models = [{ id: 'lenet', title: 'LeNet', classifier: lenet }];
    await expect(transferMatrix(models, new Float32Array(0), new Int32Array(0), { attack: 'fgsm', epsilon: 0.1 })).rejects.toThrow(/empty/);
    await expect(transferMatrix(models, images, labels, { attack: 'fgsm', epsilon: 1.5 })).rejects.toThrow(/\[0,1\]/);
    await expect(evaluateRobustness(models, images, labels, { attacks: ['fgsm'], epsilons: [-0.1] })).rejects.toThrow(/\[0,1\]/);
  });
});

describe('SafetyNet detector', () => {
  it('quantises ReLU activations into binary and quaternary codes', () => {
    const acts = new Float32Array([0, 1, 2, 3, 4, 5, 6, 0, 0.5]); // 3 images × 3 units
    const binary = fitCodebook(acts, 3, 'binary');
    expect(encodeActivations(acts, binary)).toEqual([[0, 1, 1], [1, 1, 1], [1, 0, 1]]);
    const quaternary = fitCodebook(acts, 3, 'quaternary');
    const codes = encodeActivations(acts, quaternary);
    expect(codes.flat().every((v) => [0, 1 / 3, 2 / 3, 1].includes(v))).toBe(true);
    expect(codes[0][0]).toBe(0);
  });

  it('separates FGSM examples from clean ones (AUC well above 0.5) and the protected model counts rejections apart', async () => {
    const data = await loadDataset('samples', { height: 28, width: 28, channels: 1, limit: 160 });
    const base = opened.bases.get('lenet-mnist')!;
    const probe = await openActivationProbe(base);
    try {
      expect(probe.layer).toBe('fc1');
      expect(probe.units).toBe(50);
      const report = await trainAndEvaluateDetector(base, probe, await libsvmTrainer(), data.images, data.labels, {
        quantisation: 'quaternary',
        train: { attack: 'fgsm', epsilon: 0.25 },
        evaluate: [],
      });
      const [fgsm] = report.evaluations;
      expect(fgsm.adversarial).toBeGreaterThan(20);
      expect(fgsm.auc!).toBeGreaterThan(0.8);
      const { clean, adversarial } = fgsm.protected;
      expect(clean.correct + clean.wrong + clean.rejected).toBe(80);
      expect(adversarial.correct + adversarial.wrong + adversarial.rejected).toBe(80);
      expect(adversarial.rejected).toBeGreaterThan(clean.rejected);
      expect(report.svm).toMatch(/kernel_type rbf/);
    } finally {
      probe.dispose();
    }
  });
});

describe.skipIf(!haveMnist)('on the MNIST test set', () => {
  it('the undefended LeNet: FGSM near the README table, PGD with restarts at least as strong, no masking flag', async () => {
    const data = await loadDataset(mnistDir, { height: 28, width: 28, channels: 1, limit: 200 });
    const report = await evaluateRobustness([{ id: 'lenet-mnist', title: 'LeNet', classifier: lenet }], data.images, data.labels, {
      attacks: ['fgsm', 'pgd'], epsilons: [0.1], pgdSteps: 10, pgdRestarts: 2,
    });
    const [m] = report.models;
    const at = (attack: string, view: string) => m.curves.find((c) => c.attack === attack && c.view === view)!.accuracy;
    expect(m.cleanAccuracy).toBeGreaterThanOrEqual(0.95);
    // The README's table: 0.840 at ε 0.1 on all 10,000 images.
    expect(at('fgsm', 'ce')[0]).toBeGreaterThan(0.7);
    expect(at('fgsm', 'ce')[0]).toBeLessThan(0.95);
    expect(at('pgd', 'ce')[0]).toBeLessThanOrEqual(at('fgsm', 'ce')[0]);
    expect(m.masking.suspected).toBe(false);
  });
});
