/**
 * Analytic cases of the attacks, on hand-written affine models whose gradients are known in closed
 * form, plus the invariants (ε-ball, [0,1], per-ε arrays), input errors and tensor leaks.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Classifier } from '../app/engine/classifier.js';
import { predictTopK } from '../app/engine/predict.js';
import { AttackInputError, CancelledError, GradientUnavailableError, runAttack } from '../app/attacks/index.js';
import { mulberry32 } from '../app/attacks/random-start.js';
import type { AttackOptions, AttackResult } from '../app/attacks/types.js';

const H = 2;
const W_ = 3;
const D = H * W_;

/** logits = flatten(x)·W + b: the input gradient of any function of the logits is known in closed form. */
function affineClassifier(W: number[][], b: number[], id = 'affine'): Classifier {
  const weights = tf.tensor2d(W);
  const bias = tf.tensor1d(b);
  return {
    id,
    inputShape: [H, W_, 1],
    numClasses: b.length,
    labels: b.map((_, k) => `c${k}`),
    logits: (x) => tf.tidy(() => x.reshape([x.shape[0], D]).matMul(weights).add(bias) as tf.Tensor2D),
    dispose: () => {
      weights.dispose();
      bias.dispose();
    },
  };
}

function randomMatrix(rows: number, cols: number, seed: number, scale = 1): number[][] {
  const random = mulberry32(seed);
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => (2 * random() - 1) * scale));
}

/** n images with pixels uniform in [lo, hi] (seeded). */
function randomImages(n: number, seed: number, lo = 0, hi = 1): Float32Array {
  const random = mulberry32(seed);
  return Float32Array.from({ length: n * D }, () => lo + (hi - lo) * random());
}

function affineLogits(W: number[][], b: number[], x: ArrayLike<number>, i: number): number[] {
  return b.map((bk, k) => bk + W.reduce((s, row, j) => s + x[i * D + j] * row[k], 0));
}

function softmax(z: number[]): number[] {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, v) => a + v, 0);
  return e.map((v) => v / s);
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('FGSM on an affine softmax model', () => {
  const C = 4;
  const W = randomMatrix(D, C, 7);
  const b = [0.2, -0.1, 0.05, 0];
  const n = 8;
  const images = randomImages(n, 11, 0.4, 0.6); // far from 0 and 1: no [0,1] clipping at ε ≤ 0.3
  const labels = Int32Array.from({ length: n }, (_, i) => i % C);

  /** ∇x CE(x, y) = W·(softmax(z) − e_y). */
  function ceGradient(i: number, y: number): number[] {
    const p = softmax(affineLogits(W, b, images, i));
    return W.map((row) => row.reduce((s, w, k) => s + w * (p[k] - (k === y ? 1 : 0)), 0));
  }

  function expectPerturbation(result: AttackResult, expected: (i: number, j: number) => number): void {
    for (const r of result.perEpsilon) {
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < D; j++) {
          // float32 images: the only difference left is one rounding of x + ε.
          expect(Math.abs(r.perturbation![i * D + j] - r.epsilon * expected(i, j))).toBeLessThan(1e-6);
        }
      }
    }
  }

  it('untargeted CE: δ = ε·sign(W(p − e_y)) for every ε', async () => {
    const model = affineClassifier(W, b);
    const result = await runAttack(model, images, labels, { method: 'fgsm', epsilons: [0.03, 0.1, 0.3] });
    for (let i = 0; i < n; i++) for (const g of ceGradient(i, labels[i])) expect(Math.abs(g)).toBeGreaterThan(1e-4);
    expectPerturbation(result, (i, j) => Math.sign(ceGradient(i, labels[i])[j]));
    expect(result.perEpsilon.map((r) => r.epsilon)).toEqual([0.03, 0.1, 0.3]);
    expect(Array.from(result.perEpsilon[2].float.linf).every((v) => Math.abs(v - 0.3) < 1e-6)).toBe(true);
    model.dispose();
  });

  it('targeted CE: δ = −ε·sign(W(p − e_t))', async () => {
    const model = affineClassifier(W, b);
    const targets = Int32Array.from({ length: n }, (_, i) => (i + 1) % C);
    const result = await runAttack(model, images, labels, {
      method: 'fgsm',
      epsilons: [0.1],
      criterion: { kind: 'targeted', targets },
    });
    expectPerturbation(result, (i, j) => -Math.sign(ceGradient(i, targets[i])[j]));
    expect(Array.from(result.targets!)).toEqual(Array.from(targets));
    model.dispose();
  });

  it('margin loss: δ = ε·sign(W_{:,j*} − W_{:,y}) with j* the best other class', async () => {
    const model = affineClassifier(W, b);
    const result = await runAttack(model, images, labels, { method: 'fgsm', epsilons: [0.05], loss: 'margin' });
    expectPerturbation(result, (i, j) => {
      const z = affineLogits(W, b, images, i);
      let best = -1;
      for (let k = 0; k < C; k++) if (k !== labels[i] && (best < 0 || z[k] > z[best])) best = k;
      return Math.sign(W[j][best] - W[j][labels[i]]);
    });
    model.dispose();
  });

  it('L2 (fast gradient method): δ = ε·g/‖g‖₂', async () => {
    const model = affineClassifier(W, b);
    const result = await runAttack(model, images, labels, { method: 'fgsm', epsilons: [0.2], norm: 'l2' });
    expectPerturbation(result, (i, j) => {
      const g = ceGradient(i, labels[i]);
      return g[j] / Math.hypot(...g);
    });
    model.dispose();
  });

  it('ε = 0 leaves the images unchanged', async () => {
    const model = affineClassifier(W, b);
    const result = await runAttack(model, images, labels, { method: 'fgsm', epsilons: [0] });
    expect(Array.from(result.perEpsilon[0].adversarial!)).toEqual(Array.from(images));
    model.dispose();
  });
});

describe('DeepFool on affine models', () => {
  /** b puts the boundary through the grey image 0.5 + offset, so the images below are close to it. */
  function boundaryNearHalf(W: number[][], offset: number): number[] {
    return [0, W.reduce((s, row) => s - 0.5 * (row[1] - row[0]), 0) + offset];
  }

  it('binary: r = −f(x)/‖w‖²·w with f = (w₁ − w₀)·x + b₁ − b₀, in one iteration', async () => {
    const W = randomMatrix(D, 2, 3, 2);
    const b = boundaryNearHalf(W, 0.05);
    const model = affineClassifier(W, b);
    const n = 6;
    const images = randomImages(n, 5, 0.45, 0.55);
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const z = affineLogits(W, b, images, i);
      labels[i] = z[1] > z[0] ? 1 : 0;
    }
    const result = await runAttack(model, images, labels, { method: 'deepfool', epsilons: [0], overshoot: 0 });
    const r = result.perEpsilon[0];
    const w = W.map((row) => row[1] - row[0]);
    const w2 = w.reduce((s, v) => s + v * v, 0);
    for (let i = 0; i < n; i++) {
      const z = affineLogits(W, b, images, i);
      const f = z[1] - z[0];
      for (let j = 0; j < D; j++) {
        const expected = (-f / w2) * w[j];
        expect(Math.abs(expected)).toBeLessThan(0.04); // stays inside [0,1]: no clipping
        expect(Math.abs(r.perturbation![i * D + j] - expected)).toBeLessThan(1e-4);
      }
      expect(r.iterations![i]).toBe(1);
      expect(r.float.success[i]).toBe(1);
    }
    model.dispose();
  });

  it('multi-class: one step to the nearest linear boundary, ‖r‖ = min_k |f_k|/‖w_k‖', async () => {
    const C = 5;
    const W = randomMatrix(D, C, 21, 2);
    const b = [0, 0.1, -0.1, 0.2, -0.2];
    const model = affineClassifier(W, b);
    const n = 6;
    const images = randomImages(n, 9, 0.45, 0.55);
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const z = affineLogits(W, b, images, i);
      labels[i] = z.indexOf(Math.max(...z));
    }
    const result = await runAttack(model, images, labels, { method: 'deepfool', epsilons: [0.1, 0.2], overshoot: 0 });
    expect(result.perEpsilon.map((r) => r.epsilon)).toEqual([0.1, 0.2]);
    const r = result.perEpsilon[0];
    for (let i = 0; i < n; i++) {
      const z = affineLogits(W, b, images, i);
      const y = labels[i];
      let nearest = Infinity;
      for (let k = 0; k < C; k++) {
        if (k === y) continue;
        const wk = W.map((row) => row[k] - row[y]);
        nearest = Math.min(nearest, Math.abs(z[k] - z[y]) / Math.hypot(...wk));
      }
      expect(r.iterations![i]).toBe(1);
      expect(Math.abs(r.float.l2[i] - nearest)).toBeLessThan(1e-4);
      expect(r.float.success[i]).toBe(1);
    }
    model.dispose();
  });

  it('leaves a misclassified image alone (0 iterations) and applies the overshoot', async () => {
    const W = randomMatrix(D, 2, 3, 2);
    const b = boundaryNearHalf(W, 0.05);
    const model = affineClassifier(W, b);
    const images = randomImages(2, 5, 0.45, 0.55);
    const z0 = affineLogits(W, b, images, 0);
    const right = z0[1] > z0[0] ? 1 : 0;
    const z1 = affineLogits(W, b, images, 1);
    const wrong = z1[1] > z1[0] ? 0 : 1;
    const labels = Int32Array.from([right, wrong]);
    const plain = await runAttack(model, images, labels, { method: 'deepfool', epsilons: [0], overshoot: 0 });
    const over = await runAttack(model, images, labels, { method: 'deepfool', epsilons: [0], overshoot: 0.5 });
    expect(Array.from(plain.perEpsilon[0].iterations!)).toEqual([1, 0]);
    expect(over.perEpsilon[0].float.l2[0]).toBeCloseTo(1.5 * plain.perEpsilon[0].float.l2[0], 5);
    expect(over.perEpsilon[0].float.l2[1]).toBe(0);
    model.dispose();
  });
});

describe('least-likely class', () => {
  it('targets argmin p(y|x) of the clean image and reports success against the true label', async () => {
    const C = 6;
    const W = randomMatrix(D, C, 31);
    const b = [0, 0.1, 0.2, -0.1, -0.2, 0.05];
    const model = affineClassifier(W, b);
    const n = 10;
    const images = randomImages(n, 13);
    const labels = Int32Array.from({ length: n }, (_, i) => i % C);
    const result = await runAttack(model, images, labels, { method: 'll', epsilons: [0.05, 0.3] });
    for (let i = 0; i < n; i++) {
      const p = softmax(affineLogits(W, b, images, i));
      expect(result.targets![i]).toBe(p.indexOf(Math.min(...p)));
    }
    for (const r of result.perEpsilon) {
      const k = r.float.after.k;
      for (let i = 0; i < n; i++) {
        expect(r.float.success[i]).toBe(Number(r.float.after.labels[i * k] !== labels[i]));
        expect(r.float.targetHit![i]).toBe(Number(r.float.after.labels[i * k] === result.targets![i]));
      }
    }
    // The attack raises p(y_LL | x) on every image.
    const adv = result.perEpsilon[1].adversarial!;
    for (let i = 0; i < n; i++) {
      const t = result.targets![i];
      expect(softmax(affineLogits(W, b, adv, i))[t]).toBeGreaterThan(softmax(affineLogits(W, b, images, i))[t]);
    }
    // One step of size ε is the targeted FGSM towards y_LL: δ = −ε·sign(W(p − e_LL)).
    const one = await runAttack(model, images, labels, { method: 'll', epsilons: [0.01], steps: 1, stepSize: 0.01 });
    for (let i = 0; i < n; i++) {
      const p = softmax(affineLogits(W, b, images, i));
      const t = one.targets![i];
      for (let j = 0; j < D; j++) {
        const g = W[j].reduce((s, w, k) => s + w * (p[k] - (k === t ? 1 : 0)), 0);
        const x = images[i * D + j];
        const expected = Math.min(1, Math.max(0, x - 0.01 * Math.sign(g))) - x;
        expect(Math.abs(one.perEpsilon[0].perturbation![i * D + j] - expected)).toBeLessThan(1e-6);
      }
    }
    model.dispose();
  });
});

describe('momentum (MI-FGSM, Dong et al. 2018)', () => {
  // One ReLU layer: the input gradient W1·diag(h > 0)·W2·(p − e_y) turns as units switch on and off,
  // which momentum is for (an affine model's gradient keeps its signs, and momentum changes nothing).
  const [C, hidden] = [4, 5];
  const W1 = randomMatrix(D, hidden, 53, 2);
  const b1 = [0.6, 0.3, 0.5, 0.4, 0.7];
  const W2 = randomMatrix(hidden, C, 59, 2);
  const n = 8;
  const images = randomImages(n, 19, 0.2, 0.8);
  const labels = Int32Array.from({ length: n }, (_, i) => i % C);
  const [epsilon, stepSize, steps] = [0.3, 0.05, 12];

  function reluClassifier(): Classifier {
    const [w1, bias, w2] = [tf.tensor2d(W1), tf.tensor1d(b1), tf.tensor2d(W2)];
    return {
      id: 'relu',
      inputShape: [H, W_, 1],
      numClasses: C,
      labels: Array.from({ length: C }, (_, k) => `c${k}`),
      logits: (x) => tf.tidy(() => x.reshape([x.shape[0], D]).matMul(w1).add(bias).relu().matMul(w2) as tf.Tensor2D),
      dispose: () => tf.dispose([w1, bias, w2]),
    };
  }

  /** The attack in float64: g_t = μ·g_{t−1} + ∇/mean|∇|, x ← clip(x + α·sign(g_t)) to the ε-box and [0,1]. */
  function reference(momentum: number): { adversarial: number[]; smallest: number } {
    const adversarial: number[] = [];
    let smallest = Infinity;
    for (let i = 0; i < n; i++) {
      const x0 = Array.from(images.subarray(i * D, (i + 1) * D));
      let x = [...x0];
      let velocity = new Array<number>(D).fill(0);
      for (let t = 0; t < steps; t++) {
        const pre = b1.map((bh, h) => bh + W1.reduce((sum, row, j) => sum + x[j] * row[h], 0));
        const z = Array.from({ length: C }, (_, k) => pre.reduce((sum, v, h) => sum + Math.max(0, v) * W2[h][k], 0));
        const dz = softmax(z).map((p, k) => p - (k === labels[i] ? 1 : 0));
        const dh = W2.map((row, h) => (pre[h] > 0 ? row.reduce((sum, w, k) => sum + w * dz[k], 0) : 0));
        const g = W1.map((row) => row.reduce((sum, w, h) => sum + w * dh[h], 0));
        const mean = g.reduce((sum, v) => sum + Math.abs(v), 0) / D;
        velocity = velocity.map((v, j) => momentum * v + g[j] / mean);
        // A component this close to 0 could take either sign in float32: the test would not be sharp.
        smallest = Math.min(smallest, ...velocity.map((v) => Math.abs(v)));
        x = x.map((v, j) => Math.min(1, Math.max(0, Math.min(x0[j] + epsilon, Math.max(x0[j] - epsilon, v + stepSize * Math.sign(velocity[j]))))));
      }
      adversarial.push(...x);
    }
    return { adversarial, smallest };
  }

  it.each([1, 0.5])('μ = %s: every image matches the float64 reference step for step, and differs from plain BIM', async (momentum) => {
    const model = reluClassifier();
    const options: AttackOptions = { method: 'bim', epsilons: [epsilon], steps, stepSize };
    const [withMomentum, plain] = [await runAttack(model, images, labels, { ...options, momentum }), await runAttack(model, images, labels, options)];
    const expected = reference(momentum);
    expect(expected.smallest).toBeGreaterThan(1e-4); // float32 errs by ~1e-6 on these unit-scale sums
    const adversarial = withMomentum.perEpsilon[0].adversarial!;
    for (let j = 0; j < n * D; j++) expect(Math.abs(adversarial[j] - expected.adversarial[j])).toBeLessThan(1e-6);
    expect(Array.from(adversarial)).not.toEqual(Array.from(plain.perEpsilon[0].adversarial!));
    expect(withMomentum.options.momentum).toBe(momentum);
    model.dispose();
  });

  it('μ = 0 is plain BIM, bit for bit; PGD and LL take momentum, FGSM and DeepFool refuse it', async () => {
    const model = reluClassifier();
    const options: AttackOptions = { method: 'bim', epsilons: [epsilon], steps, stepSize };
    const [zero, plain] = [await runAttack(model, images, labels, { ...options, momentum: 0 }), await runAttack(model, images, labels, options)];
    expect(Array.from(zero.perEpsilon[0].adversarial!)).toEqual(Array.from(plain.perEpsilon[0].adversarial!));
    for (const method of ['pgd', 'll'] as const) {
      const start = tf.memory().numTensors;
      const [mi, none] = [await runAttack(model, images, labels, { method, epsilons: [epsilon], steps, momentum: 1 }), await runAttack(model, images, labels, { method, epsilons: [epsilon], steps })];
      expect(tf.memory().numTensors).toBe(start);
      expect(Array.from(mi.perEpsilon[0].adversarial!)).not.toEqual(Array.from(none.perEpsilon[0].adversarial!));
    }
    await expect(runAttack(model, images, labels, { method: 'fgsm', epsilons: [epsilon], momentum: 1 })).rejects.toThrow(/momentum applies to the iterative methods bim, ll, pgd, not fgsm/);
    await expect(runAttack(model, images, labels, { method: 'deepfool', epsilons: [epsilon], norm: 'l2', momentum: 1 })).rejects.toThrow(/not deepfool/);
    await expect(runAttack(model, images, labels, { ...options, momentum: -0.5 })).rejects.toThrow(AttackInputError);
    await expect(runAttack(model, images, labels, { ...options, momentum: 11 })).rejects.toThrow(/momentum must be at most 10/);
    model.dispose();
  });
});

describe('invariants of the iterative attacks', () => {
  const C = 3;
  const W = randomMatrix(D, C, 41, 3);
  const b = [0, 0.1, -0.1];
  const n = 12;
  // Half the pixels sit at 0 or 1, so the [0,1] clip is exercised.
  const images = randomImages(n, 17).map((v) => (v < 0.25 ? 0 : v > 0.75 ? 1 : v));
  const labels = Int32Array.from({ length: n }, (_, i) => i % C);
  const targets = Int32Array.from({ length: n }, (_, i) => (i + 1) % C);
  const cases: [string, AttackOptions][] = [
    ['fgsm linf', { method: 'fgsm', epsilons: [0.02, 0.1] }],
    ['bim linf', { method: 'bim', epsilons: [0.02, 0.1] }],
    ['bim l2 targeted', { method: 'bim', norm: 'l2', epsilons: [0.1, 0.5], criterion: { kind: 'targeted', targets } }],
    ['ll linf margin', { method: 'll', epsilons: [0.05], loss: 'margin' }],
    ['pgd linf', { method: 'pgd', epsilons: [0.03, 0.1], steps: 10 }],
    ['pgd l2', { method: 'pgd', norm: 'l2', epsilons: [0.2, 1], steps: 10 }],
    ['pgd linf targeted restarts', { method: 'pgd', epsilons: [0.1], steps: 5, restarts: 3, criterion: { kind: 'targeted', targets } }],
    ['pgd l2 margin restarts', { method: 'pgd', norm: 'l2', loss: 'margin', epsilons: [0.5], steps: 5, restarts: 2 }],
  ];

  it.each(cases)('%s: every image stays in the ε-ball and in [0,1]; norms and views are consistent', async (_name, options) => {
    const model = affineClassifier(W, b);
    const start = tf.memory().numTensors;
    const result = await runAttack(model, images, labels, options);
    expect(tf.memory().numTensors).toBe(start);
    expect(result.shape).toEqual([n, H, W_, 1]);
    expect(result.perEpsilon.length).toBe(options.epsilons.length);
    const l2 = options.norm === 'l2';
    for (const r of result.perEpsilon) {
      const adv = r.adversarial!;
      expect(adv.length).toBe(n * D);
      for (let i = 0; i < n; i++) {
        let max = 0;
        let sq = 0;
        for (let j = i * D; j < (i + 1) * D; j++) {
          expect(adv[j]).toBeGreaterThanOrEqual(0);
          expect(adv[j]).toBeLessThanOrEqual(1);
          const d = adv[j] - images[j];
          expect(r.perturbation![j]).toBeCloseTo(d, 7);
          max = Math.max(max, Math.abs(d));
          sq += d * d;
        }
        if (l2) expect(Math.sqrt(sq)).toBeLessThanOrEqual(r.epsilon * (1 + 1e-5) + 1e-7);
        else expect(max).toBeLessThanOrEqual(r.epsilon + 1e-6);
        expect(r.float.linf[i]).toBeCloseTo(max, 6);
        expect(r.float.l2[i]).toBeCloseTo(Math.sqrt(sq), 5);
      }
      expect(r.iterations!.length).toBe(n);
      expect(r.float.success.length).toBe(n);
      expect(r.quantized.after.labels.length).toBe(n * r.quantized.after.k);
    }
    model.dispose();
  });

  it('the quantized view equals evaluating round(x·255)/255 by hand', async () => {
    const model = affineClassifier(W, b);
    const result = await runAttack(model, images, labels, { method: 'bim', epsilons: [0.01, 0.05], stepSize: 0.0037 });
    for (const r of result.perEpsilon) {
      const rounded = r.adversarial!.map((v) => Math.round(v * 255) / 255);
      const expected = predictTopK(model, rounded, r.quantized.after.k);
      expect(Array.from(r.quantized.after.labels)).toEqual(Array.from(expected.labels));
      expect(Array.from(r.quantized.after.probs)).toEqual(Array.from(expected.probs));
      for (let i = 0; i < n; i++) {
        expect(r.quantized.success[i]).toBe(Number(expected.labels[i * expected.k] !== labels[i]));
        let max = 0;
        for (let j = i * D; j < (i + 1) * D; j++) max = Math.max(max, Math.abs(rounded[j] - images[j]));
        expect(r.quantized.linf[i]).toBeCloseTo(max, 6);
      }
    }
    model.dispose();
  });
});

describe('PGD seeding', () => {
  const W = randomMatrix(D, 3, 51, 3);
  const b = [0, 0.1, -0.1];
  const n = 6;
  const images = randomImages(n, 19, 0.2, 0.8);
  const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
  const options: AttackOptions = { method: 'pgd', epsilons: [0.1], steps: 3, seed: 5 };

  it('is reproducible with the same seed and differs with another', async () => {
    const model = affineClassifier(W, b);
    const a = await runAttack(model, images, labels, options);
    const again = await runAttack(model, images, labels, options);
    const other = await runAttack(model, images, labels, { ...options, seed: 6 });
    expect(Array.from(again.perEpsilon[0].adversarial!)).toEqual(Array.from(a.perEpsilon[0].adversarial!));
    expect(Array.from(other.perEpsilon[0].adversarial!)).not.toEqual(Array.from(a.perEpsilon[0].adversarial!));
    model.dispose();
  });

  it('gives image i the same start whether it is attacked in one call or in parts (indexOffset, batchSize)', async () => {
    const model = affineClassifier(W, b);
    const whole = await runAttack(model, images, labels, options);
    const chunked = await runAttack(model, images, labels, { ...options, batchSize: 4 });
    const tail = await runAttack(model, images.subarray(2 * D), labels.subarray(2), { ...options, indexOffset: 2 });
    const tailAtZero = await runAttack(model, images.subarray(2 * D), labels.subarray(2), options);
    const adv = whole.perEpsilon[0].adversarial!;
    expect(Array.from(chunked.perEpsilon[0].adversarial!)).toEqual(Array.from(adv));
    expect(Array.from(tail.perEpsilon[0].adversarial!)).toEqual(Array.from(adv.subarray(2 * D)));
    expect(Array.from(tailAtZero.perEpsilon[0].adversarial!)).not.toEqual(Array.from(adv.subarray(2 * D)));
    expect(tail.options.indexOffset).toBe(2);
    model.dispose();
  });
});

describe('defaults reported back', () => {
  it('BIM steps follow min(ε·255 + 4, 1.25·ε·255); PGD α = 2.5·ε/40', async () => {
    const model = affineClassifier(randomMatrix(D, 2, 1), [0, 0]);
    const images = randomImages(1, 1);
    const labels = Int32Array.from([0]);
    const bim = await runAttack(model, images, labels, { method: 'bim', epsilons: [0, 2 / 255, 8 / 255, 32 / 255], keepImages: false });
    expect(bim.perEpsilon.map((r) => r.steps)).toEqual([1, 3, 10, 36]);
    expect(bim.perEpsilon[0].stepSize).toBeCloseTo(1 / 255, 12);
    expect(bim.perEpsilon[0].adversarial).toBeUndefined();
    expect(bim.options.stepSize).toBeCloseTo(1 / 255, 12);
    const pgd = await runAttack(model, images, labels, { method: 'pgd', epsilons: [0.1] });
    expect(pgd.perEpsilon[0].steps).toBe(40);
    expect(pgd.perEpsilon[0].stepSize).toBeCloseTo(0.1 * 2.5 / 40, 12);
    expect(pgd.options).toMatchObject({ restarts: 1, randomStart: true, seed: 0, loss: 'ce', norm: 'linf' });
    const df = await runAttack(model, images, labels, { method: 'deepfool', epsilons: [0] });
    expect(df.options).toMatchObject({ overshoot: 0.02, maxIterations: 50, candidates: 2, norm: 'l2' });
    model.dispose();
  });
});

describe('errors, cancellation and leaks', () => {
  const W = randomMatrix(D, 3, 61);
  const b = [0, 0, 0];
  const images = randomImages(4, 23);
  const labels = Int32Array.from([0, 1, 2, 0]);

  const bad: [string, Float32Array, Int32Array, AttackOptions, RegExp][] = [
    ['wrong image length', images.subarray(1), labels, { method: 'fgsm', epsilons: [0.1] }, /image buffer has 23 values, expected 4 labels/],
    ['label out of range', images, Int32Array.from([0, 1, 3, 0]), { method: 'fgsm', epsilons: [0.1] }, /label 3 of image 2 is out of range \[0,3\)/],
    ['negative label', images, Int32Array.from([0, -1, 2, 0]), { method: 'bim', epsilons: [0.1] }, /label -1 of image 1/],
    ['negative ε', images, labels, { method: 'pgd', epsilons: [0.1, -0.01] }, /every ε must be a finite number ≥ 0, got -0.01/],
    ['NaN ε', images, labels, { method: 'fgsm', epsilons: [Number.NaN] }, /got NaN/],
    ['no ε', images, labels, { method: 'fgsm', epsilons: [] }, /non-empty list/],
    ['NaN pixel', Float32Array.from(images, (v, i) => (i === 5 ? Number.NaN : v)), labels, { method: 'fgsm', epsilons: [0.1] }, /pixel 5 \(image 0\) is NaN/],
    ['pixel above 1', Float32Array.from(images, (v, i) => (i === 7 ? 255 : v)), labels, { method: 'fgsm', epsilons: [0.1] }, /pixel 7 \(image 1\) is 255/],
    ['unknown method', images, labels, { method: 'cw' as never, epsilons: [0.1] }, /unknown attack method "cw"/],
    ['targets of wrong length', images, labels, { method: 'fgsm', epsilons: [0.1], criterion: { kind: 'targeted', targets: new Int32Array(2) } }, /one target per image \(4\), got 2/],
    ['target out of range', images, labels, { method: 'pgd', epsilons: [0.1], criterion: { kind: 'targeted', targets: Int32Array.from([0, 0, 9, 0]) } }, /target 9 of image 2/],
    ['targeted least-likely', images, labels, { method: 'll', epsilons: [0.1], criterion: { kind: 'targeted', targets: new Int32Array(4) } }, /takes no targets/],
    ['zero steps', images, labels, { method: 'bim', epsilons: [0.1], steps: 0 }, /steps must be an integer ≥ 1/],
    ['negative step size', images, labels, { method: 'pgd', epsilons: [0.1], stepSize: -1 }, /stepSize must be a finite number > 0/],
    ['misspelt loss', images, labels, { method: 'fgsm', epsilons: [0.1], loss: 'ce-flaot32' as never }, /^loss must be one of "ce", "margin", "ce-float32", got "ce-flaot32"$/],
    ['L∞ DeepFool', images, labels, { method: 'deepfool', epsilons: [0], norm: 'linf' }, /DeepFool is an L2 attack/],
    ['topK too large', images, labels, { method: 'fgsm', epsilons: [0.1], topK: 4 }, /topK must be an integer in \[1,3\]/],
  ];

  it.each(bad)('%s gives a clear AttackInputError and leaks nothing', async (_name, x, y, options, message) => {
    const model = affineClassifier(W, b);
    const start = tf.memory().numTensors;
    const run = runAttack(model, x, y, options);
    await expect(run).rejects.toThrow(AttackInputError);
    await expect(run).rejects.toThrow(message);
    expect(tf.memory().numTensors).toBe(start);
    model.dispose();
  });

  it.each(['fgsm', 'bim', 'll', 'pgd', 'deepfool'] as const)('%s: cancelling from onProgress throws CancelledError and leaks nothing', async (method) => {
    const model = affineClassifier(W, b);
    const start = tf.memory().numTensors;
    const controller = new AbortController();
    const seen: number[] = [];
    const run = runAttack(model, images, labels, { method, epsilons: [0.1, 0.2], batchSize: 2 }, {
      signal: controller.signal,
      onProgress: (p) => {
        seen.push(p.done);
        expect(p.done).toBeLessThanOrEqual(p.total);
        controller.abort();
      },
    });
    await expect(run).rejects.toThrow(CancelledError);
    // One report, then the abort is seen: the first chunk of two images has done one step
    // (DeepFool steps only the images still classified correctly).
    expect(seen.length).toBe(1);
    if (method === 'deepfool') expect(seen[0]).toBeGreaterThan(0);
    else expect(seen[0]).toBe(2);
    expect(tf.memory().numTensors).toBe(start);
    model.dispose();
  });

  it('an already aborted signal cancels before any work', async () => {
    const model = affineClassifier(W, b);
    const controller = new AbortController();
    controller.abort();
    await expect(runAttack(model, images, labels, { method: 'fgsm', epsilons: [0.1] }, { signal: controller.signal })).rejects.toThrow(CancelledError);
    model.dispose();
  });

  it.each(['fgsm', 'bim', 'll', 'pgd', 'deepfool'] as const)('%s: progress counts image-steps up to the total', async (method) => {
    const model = affineClassifier(W, b);
    const events: { done: number; total: number }[] = [];
    await runAttack(model, images, labels, { method, epsilons: [0.05, 0.1], steps: method === 'pgd' ? 3 : undefined, maxIterations: 4, batchSize: 3 }, {
      onProgress: (p) => events.push({ done: p.done, total: p.total }),
    });
    const total = events[0].total;
    for (let i = 1; i < events.length; i++) expect(events[i].done).toBeGreaterThan(events[i - 1].done);
    expect(events.at(-1)!.done).toBe(total);
    if (method === 'fgsm') expect(total).toBe(4 * 2);
    if (method === 'pgd') expect(total).toBe(4 * 3 * 2);
    if (method === 'deepfool') expect(total).toBe(4 * 4);
    model.dispose();
  });

  it('a model without an input gradient gives GradientUnavailableError naming it, and leaks nothing', async () => {
    const inner = affineClassifier(W, b);
    // Reading the pixels back to JS cuts the graph: TF.js finds no path from the logits to the input.
    const detached: Classifier = {
      ...inner,
      id: 'detached-net',
      logits: (x) => inner.logits(tf.tensor4d(x.dataSync(), x.shape)),
    };
    const start = tf.memory().numTensors;
    for (const method of ['fgsm', 'pgd', 'deepfool'] as const) {
      const run = runAttack(detached, images, labels, { method, epsilons: [0.1] });
      await expect(run).rejects.toThrow(GradientUnavailableError);
      await expect(run).rejects.toThrow(/^Cannot take the gradient of model "detached-net" w\.r\.t\. its input: /);
    }
    expect(tf.memory().numTensors).toBe(start);
    inner.dispose();
  });

  it('a kernel without a registered gradient gives GradientUnavailableError naming it, and leaks nothing', async () => {
    const inner = affineClassifier(W, b);
    // An identity kernel registered without a gradient, as a model op TF.js cannot differentiate.
    tf.registerKernel({
      kernelName: 'FoolprintIdentityWithoutGradient',
      backendName: 'cpu',
      kernelFunc: ({ inputs, backend }) => {
        const x = inputs.x as tf.TensorInfo;
        const cpu = backend as unknown as { data: { get(id: object): { values: Float32Array } }; makeTensorInfo(shape: number[], dtype: string, values: Float32Array): tf.TensorInfo };
        return cpu.makeTensorInfo(x.shape, x.dtype, cpu.data.get(x.dataId).values.slice());
      },
    });
    const opaque: Classifier = {
      ...inner,
      id: 'opaque-net',
      logits: (x) => inner.logits(tf.engine().runKernel('FoolprintIdentityWithoutGradient', { x }) as tf.Tensor4D),
    };
    const start = tf.memory().numTensors;
    for (const method of ['bim', 'deepfool'] as const) {
      const run = runAttack(opaque, images, labels, { method, epsilons: [0.1] });
      await expect(run).rejects.toThrow(/^Cannot take the gradient of model "opaque-net" w\.r\.t\. its input: .*FoolprintIdentityWithoutGradient/);
    }
    expect(tf.memory().numTensors).toBe(start);
    // The tape left by the failure is gone: a healthy model still attacks normally.
    const fine = await runAttack(inner, images, labels, { method: 'fgsm', epsilons: [0.1] });
    expect(fine.perEpsilon[0].float.linf[0]).toBeCloseTo(0.1, 5);
    expect(tf.memory().numTensors).toBe(start);
    tf.unregisterKernel('FoolprintIdentityWithoutGradient', 'cpu');
    inner.dispose();
  });

  it('zero images give empty per-ε arrays', async () => {
    const model = affineClassifier(W, b);
    const result = await runAttack(model, new Float32Array(0), new Int32Array(0), { method: 'bim', epsilons: [0.1, 0.2] });
    expect(result.perEpsilon.length).toBe(2);
    expect(result.perEpsilon[1].float.success.length).toBe(0);
    expect(result.shape).toEqual([0, H, W_, 1]);
    model.dispose();
  });
});
