/**
 * Effect, not just invariants: on a small convolutional classifier trained here (seeded, synthetic
 * separable data, about a second on CPU) each attack must actually hurt: accuracy falls strictly as
 * ε grows, targeted success rises, DeepFool finds near-minimal perturbations, restarts never hurt.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Classifier } from '../app/engine/classifier.js';
import { runAttack } from '../app/attacks/index.js';
import { mulberry32 } from '../app/attacks/random-start.js';
import type { AttackOptions, AttackResult } from '../app/attacks/types.js';
import { summarizeAttack } from '../app/eval/summary.js';
import { predictTopK } from '../app/engine/predict.js';

const S = 8;
const C = 3;
const D = S * S;

/** Class 0: a horizontal bar, 1: a vertical bar, 2: a diagonal; random position, contrast and noise. */
function syntheticBars(n: number, seed: number): { images: Float32Array; labels: Int32Array } {
  const random = mulberry32(seed);
  const images = new Float32Array(n * D);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const label = i % C;
    labels[i] = label;
    const at = 1 + Math.floor(random() * (S - 2));
    const contrast = 0.35 + 0.5 * random();
    for (let r = 0; r < S; r++) {
      for (let c = 0; c < S; c++) {
        const on = label === 0 ? r === at : label === 1 ? c === at : (r - c + S) % S === at;
        const v = 0.3 + (on ? contrast : 0) + 0.25 * (random() - 0.5);
        images[i * D + r * S + c] = Math.min(1, Math.max(0, v));
      }
    }
  }
  return { images, labels };
}

let model: tf.LayersModel;
let classifier: Classifier;
const test = syntheticBars(90, 2);

beforeAll(async () => {
  await tf.setBackend('cpu');
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  const net = tf.sequential();
  net.add(tf.layers.conv2d({ inputShape: [S, S, 1], filters: 6, kernelSize: 3, activation: 'relu', kernelInitializer: init(1) }));
  net.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  net.add(tf.layers.flatten());
  net.add(tf.layers.dense({ units: C, kernelInitializer: init(2) }));
  net.compile({ optimizer: tf.train.adam(0.02), loss: tf.losses.softmaxCrossEntropy });
  const train = syntheticBars(240, 1);
  const x = tf.tensor4d(train.images, [240, S, S, 1]);
  const y = tf.oneHot(tf.tensor1d(train.labels, 'int32'), C);
  await net.fit(x, y, { epochs: 12, batchSize: 40, shuffle: false, verbose: 0 });
  x.dispose();
  y.dispose();
  model = net;
  classifier = {
    id: 'bars-cnn',
    inputShape: [S, S, 1],
    numClasses: C,
    labels: ['horizontal', 'vertical', 'diagonal'],
    logits: (images) => model.apply(images, { training: false }) as tf.Tensor2D,
    dispose: () => model.dispose(),
  };
});

afterAll(() => classifier.dispose());

async function attack(options: AttackOptions): Promise<AttackResult> {
  const start = tf.memory().numTensors;
  const result = await runAttack(classifier, test.images, test.labels, options);
  expect(tf.memory().numTensors).toBe(start);
  return result;
}

function strictlyDecreasing(values: number[]): void {
  for (let i = 1; i < values.length; i++) expect(values[i], `${values}`).toBeLessThan(values[i - 1]);
}

function strictlyIncreasing(values: number[]): void {
  for (let i = 1; i < values.length; i++) expect(values[i], `${values}`).toBeGreaterThan(values[i - 1]);
}

describe('attacks on a trained CNN', () => {
  const epsilons = [0, 0.03, 0.06, 0.1, 0.15];

  it('the model has learnt the task', () => {
    const top = predictTopK(classifier, test.images, 1);
    const correct = test.labels.filter((y, i) => top.labels[i] === y).length;
    expect(correct / test.labels.length).toBeGreaterThan(0.95);
  });

  it.each([
    ['fgsm', { method: 'fgsm' }],
    ['fgsm margin', { method: 'fgsm', loss: 'margin' }],
    // The paper's schedule (up to 1.25·ε·255 steps) is checked elsewhere; 8 larger steps keep this quick.
    ['bim', { method: 'bim', steps: 8, stepSize: 0.025 }],
    // The least-likely class is the hardest target: it needs a larger first budget to move anything.
    ['ll', { method: 'll', epsilons: [0, 0.06, 0.1, 0.15, 0.2], steps: 8, stepSize: 0.03 }],
    ['pgd', { method: 'pgd', steps: 10 }],
  ] as [string, Omit<AttackOptions, 'epsilons'> & { epsilons?: number[] }][])('%s: accuracy falls strictly as ε grows (float and 8-bit)', async (_name, options) => {
    const summary = summarizeAttack(await attack({ epsilons, ...options, keepImages: false }));
    const float = summary.perEpsilon.map((e) => e.float.accuracy);
    expect(float[0]).toBe(summary.cleanAccuracy);
    strictlyDecreasing(float);
    strictlyDecreasing(summary.perEpsilon.map((e) => e.quantized.accuracy));
    expect(float.at(-1)).toBeLessThan(0.5);
  });

  it('iterating beats one step: BIM and PGD fool at least as many images as FGSM at each ε', async () => {
    const fgsm = summarizeAttack(await attack({ method: 'fgsm', epsilons: [0.06, 0.1], keepImages: false }));
    const bim = summarizeAttack(await attack({ method: 'bim', epsilons: [0.06, 0.1], steps: 10, stepSize: 0.015, keepImages: false }));
    const pgd = summarizeAttack(await attack({ method: 'pgd', epsilons: [0.06, 0.1], steps: 20, keepImages: false }));
    for (let e = 0; e < 2; e++) {
      expect(bim.perEpsilon[e].float.accuracy).toBeLessThanOrEqual(fgsm.perEpsilon[e].float.accuracy);
      expect(pgd.perEpsilon[e].float.accuracy).toBeLessThanOrEqual(fgsm.perEpsilon[e].float.accuracy);
    }
  });

  it.each(['fgsm', 'bim', 'pgd'] as const)('%s targeted: success rises strictly with ε', async (method) => {
    const targets = Int32Array.from(test.labels, (y) => (y + 1) % C);
    const summary = summarizeAttack(
      await attack({ method, epsilons: [0.03, 0.06, 0.1, 0.15], criterion: { kind: 'targeted', targets }, steps: method === 'fgsm' ? undefined : 8, stepSize: method === 'bim' ? 0.02 : undefined, keepImages: false }),
    );
    strictlyIncreasing(summary.perEpsilon.map((e) => e.float.targetHitRate!));
  });

  it('least-likely: the target is reached more often as ε grows', async () => {
    const summary = summarizeAttack(await attack({ method: 'll', epsilons: [0.03, 0.1, 0.2], steps: 8, stepSize: 0.03, keepImages: false }));
    strictlyIncreasing(summary.perEpsilon.map((e) => e.float.targetHitRate!));
  });

  it('PGD restarts keep, per image, a restart at least as good as the first', async () => {
    const one = await attack({ method: 'pgd', epsilons: [0.05], steps: 5, seed: 3, keepImages: false });
    const three = await attack({ method: 'pgd', epsilons: [0.05], steps: 5, seed: 3, restarts: 3, keepImages: false });
    for (let i = 0; i < test.labels.length; i++) expect(three.perEpsilon[0].float.success[i]).toBeGreaterThanOrEqual(one.perEpsilon[0].float.success[i]);
  });

  it('DeepFool fools nearly every correctly classified image, and half its perturbation mostly does not', async () => {
    const result = await attack({ method: 'deepfool', epsilons: [0] });
    const r = result.perEpsilon[0];
    const summary = summarizeAttack(result);
    expect(summary.perEpsilon[0].float.successRate).toBeGreaterThan(0.95);
    const half = r.adversarial!.map((v, j) => test.images[j] + 0.5 * (v - test.images[j]));
    const top = predictTopK(classifier, half, 1);
    let fooled = 0;
    let stillRight = 0;
    for (let i = 0; i < test.labels.length; i++) {
      if (!r.float.success[i] || result.before.labels[i * result.before.k] !== test.labels[i]) continue;
      fooled++;
      if (top.labels[i] === test.labels[i]) stillRight++;
    }
    // Near-minimal: DeepFool stops just past the boundary, so half the step mostly stays on the clean side.
    expect(stillRight / fooled).toBeGreaterThan(0.8);
    // Images leave the working set as they are fooled: the result must not depend on who shares a chunk.
    const chunked = await attack({ method: 'deepfool', epsilons: [0], batchSize: 7 });
    const a = r.adversarial!;
    const b = chunked.perEpsilon[0].adversarial!;
    for (let j = 0; j < a.length; j++) expect(Math.abs(a[j] - b[j])).toBeLessThan(1e-5);
    expect(Array.from(chunked.perEpsilon[0].iterations!)).toEqual(Array.from(r.iterations!));
    expect(Math.max(...r.iterations!)).toBeGreaterThan(1);
  });
});
