/**
 * A confident model must not blind the gradient attacks: with a logit gap of ~40 the float32
 * cross-entropy gradient p − e_y loses its true-class term (p_y rounds to 1), and with a gap past ~90
 * it vanishes altogether. The attacks must still step along the exact direction, computed here in
 * float64 in closed form for an affine model.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Classifier } from '../app/engine/classifier.js';
import { runAttack } from '../app/attacks/index.js';
import { mulberry32 } from '../app/attacks/random-start.js';

const D = 16;
const C = 4;

function affineClassifier(W: number[][], b: number[]): Classifier {
  const weights = tf.tensor2d(W);
  const bias = tf.tensor1d(b);
  return {
    id: 'confident-affine',
    inputShape: [4, 4, 1],
    numClasses: C,
    labels: ['a', 'b', 'c', 'd'],
    logits: (x) => tf.tidy(() => x.reshape([x.shape[0], D]).matMul(weights).add(bias) as tf.Tensor2D),
    dispose: () => tf.dispose([weights, bias]),
  };
}

/** sign of ∇x CE in float64: Σ_j p_j (w_j − w_y), scaled by the positive 1/(1 − p_y). */
function exactGradientSign(W: number[][], z: number[], y: number): number[] {
  const others = z.map((v, k) => (k === y ? -Infinity : v));
  const m = Math.max(...others);
  const e = others.map((v) => Math.exp(v - m));
  const s = e.reduce((a, v) => a + v, 0);
  return W.map((row) => Math.sign(row.reduce((acc, w, k) => acc + (k === y ? 0 : (e[k] / s) * (w - row[y])), 0)));
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('gradient attacks on a saturated softmax', () => {
  it.each([40, 120])('FGSM follows the exact CE direction at a logit gap of %i', async (gap) => {
    const random = mulberry32(7);
    const W = Array.from({ length: D }, () => Array.from({ length: C }, () => 2 * random() - 1));
    const b = [gap, 0, 0, 0];
    const classifier = affineClassifier(W, b);
    const image = Float32Array.from({ length: D }, () => 0.3 + 0.4 * random());
    const z = b.map((bk, k) => bk + W.reduce((acc, row, j) => acc + image[j] * row[k], 0));
    const expected = exactGradientSign(W, z, 0);
    // The naive float32 gradient drops the −w_y term: check the case really differs from it.
    const naive = W.map((row) => Math.sign(row.reduce((acc, w, k) => acc + (k === 0 ? 0 : Math.fround(Math.exp(z[k] - z[0])) * w), 0)));
    expect(naive).not.toEqual(expected);

    const result = await runAttack(classifier, image, new Int32Array([0]), { method: 'fgsm', epsilons: [0.05] });
    const delta = result.perEpsilon[0].adversarial!.map((v, j) => v - image[j]);
    for (let j = 0; j < D; j++) expect(delta[j]).toBeCloseTo(0.05 * expected[j], 6);
    classifier.dispose();
  });
});
