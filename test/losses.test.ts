/**
 * The three attack objectives on hand-made logits, where the gradient is known in closed form:
 * 'ce-float32' (autodiff's p − e_y) vanishes once softmax saturates, 'ce' and 'margin' do not;
 * on unsaturated logits all three push the true class down and its best rival up.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { attackObjective } from '../app/attacks/losses.js';
import { ATTACK_LOSSES, type AttackLoss } from '../app/attacks/types.js';
import { mulberry32 } from '../app/attacks/random-start.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** ∂(objective)/∂logits of one image, untargeted, as the attacks ascend it. */
function gradient(logits: number[], label: number, loss: AttackLoss, targeted = false): Float32Array {
  return tf.tidy(() => {
    const z = tf.tensor2d(logits, [1, logits.length]);
    const classes = tf.tensor1d([label], 'int32');
    return tf.grad((v: tf.Tensor) => attackObjective(v as tf.Tensor2D, classes, loss, targeted).sum())(z).dataSync() as Float32Array;
  });
}

describe('attack losses on saturated logits', () => {
  // A distilled network deployed at T = 1: logit gaps of a hundred and more (e^−100 underflows float32).
  const saturated = [0, 0, 120, -5, 3, 0, 0, 1, 0, 2];

  it('the float32 textbook cross-entropy gradient is exactly 0 untargeted (not so towards another class)', () => {
    expect([...gradient(saturated, 2, 'ce-float32')]).toEqual(new Array(10).fill(0));
    // Targeted at class 4 it is p − e_4 ≈ e_2 − e_4: the masking is the untargeted attack's.
    const towards4 = gradient(saturated, 4, 'ce-float32', true);
    expect([towards4[2], towards4[4]]).toEqual([-1, 1]);
  });

  it("'ce' and 'margin' still push the true class down and a rival up", () => {
    const ce = gradient(saturated, 2, 'ce');
    // Closed form: q − e_y with q the softmax over the other classes.
    const others = saturated.map((z, j) => (j === 2 ? 0 : Math.exp(z)));
    const sum = others.reduce((a, b) => a + b, 0);
    ce.forEach((g, j) => expect(g).toBeCloseTo(j === 2 ? -1 : others[j] / sum, 6));
    const margin = gradient(saturated, 2, 'margin');
    expect([...margin]).toEqual([0, 0, -1, 0, 1, 0, 0, 0, 0, 0]);
  });
});

describe('attack losses on unsaturated logits', () => {
  const logits = [1, 3, 0.5, -1, 2.2];
  const label = 1;

  it('all three lower the true logit and raise its best rival', () => {
    for (const loss of ATTACK_LOSSES) {
      const g = gradient(logits, label, loss);
      expect(Math.sign(g[label]), loss).toBe(-1);
      expect(Math.sign(g[4]), loss).toBe(1);
      for (const j of [0, 2, 3]) expect(g[j], `${loss} ${j}`).toBeGreaterThanOrEqual(0);
    }
  });

  it("the textbook gradient is p − e_y, and 'ce' is it divided by 1 − p_y (same direction)", () => {
    const exp = logits.map(Math.exp);
    const sum = exp.reduce((a, b) => a + b, 0);
    const p = exp.map((e) => e / sum);
    const textbook = gradient(logits, label, 'ce-float32');
    const ce = gradient(logits, label, 'ce');
    p.forEach((pj, j) => {
      expect(textbook[j]).toBeCloseTo(pj - (j === label ? 1 : 0), 6);
      expect(ce[j]).toBeCloseTo(textbook[j] / (1 - p[label]), 5);
    });
  });
});

describe("'ce' for a gradient only", () => {
  it('gives the same gradient bit for bit, untargeted and targeted, and zeros for a value', () => {
    const random = mulberry32(11);
    const logits = Array.from({ length: 8 * 10 }, () => 30 * random() - 15);
    const labels = [0, 1, 2, 3, 4, 5, 6, 9];
    for (const targeted of [false, true]) {
      const [full, only, value] = tf.tidy(() => {
        const z = tf.tensor2d(logits, [8, 10]);
        const classes = tf.tensor1d(labels, 'int32');
        const of = (gradientOnly: boolean) =>
          tf.grad((v: tf.Tensor) => attackObjective(v as tf.Tensor2D, classes, 'ce', targeted, undefined, gradientOnly).sum())(z).dataSync();
        return [of(false), of(true), attackObjective(z, classes, 'ce', targeted, undefined, true).dataSync()];
      });
      expect(only).toEqual(full);
      expect([...value].every((v) => v === 0)).toBe(true);
    }
  });
});
