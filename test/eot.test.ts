/**
 * Expectation over Transformation: the channel ops (warp, blur, tone, JPEG) against known answers and
 * finite differences, the EOT gradient against the plain one, and on the built-in LeNet: an EOT-BIM
 * example survives blur better than a plain BIM example. Plain attacks stay bit-identical (the other
 * attack tests hold their exact values; here: EOT off equals the same options without the key).
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Classifier } from '../app/engine/classifier.js';
import { AttackInputError, runAttack } from '../app/attacks/index.js';
import { applyChannel, drawChannel, identityDraw, identityProfile, jpegStraightThrough, rectangleToQuad } from '../app/attacks/eot-channel.js';
import type { ChannelDraw } from '../app/attacks/eot-channel.js';
import { MostRobustIterate, drawPasses, eotAdversarialDraws, eotDraws, eotGradient, resolveEot } from '../app/attacks/eot.js';
import { methodLabel } from '../app/attacks/method-label.js';
import { iterativeAttack, objectiveGradient } from '../app/attacks/iterative.js';
import { attackObjective } from '../app/attacks/losses.js';
import { mulberry32, randomStartPerturbations } from '../app/attacks/random-start.js';
import { pgdSchedule } from '../app/attacks/schedule.js';
import { defaultChannelProfile } from '../app/physical/channel-profile.js';
import { applyToneCurve } from '../app/physical/tone-curve.js';
import type { ChannelProfile } from '../app/physical/channel-profile.js';
import { applyHomography, fitHomography } from '../app/physical/homography.js';
import { SeededRandom } from '../app/physical/random.js';
import { gaussianBlur as referenceBlur, transformImages } from '../app/physical/simulate.js';
import { loadDataset } from '../app/node/dataset-loader.js';
import { loadClassifier } from '../app/node/model-loader.js';
import { initBackend } from '../app/node/backend.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function randomImages(n: number, h: number, w: number, c: number, seed: number, lo = 0, hi = 1): Float32Array {
  const random = mulberry32(seed);
  return Float32Array.from({ length: n * h * w * c }, () => lo + (hi - lo) * random());
}

/** A small random conv net: nonlinear, any size and channel count. */
function convClassifier(h: number, w: number, c: number, seed: number): Classifier {
  const random = mulberry32(seed);
  const kernel = tf.tensor4d(Float32Array.from({ length: 3 * 3 * c * 4 }, () => random() - 0.5), [3, 3, c, 4]);
  const dense = tf.tensor2d(Float32Array.from({ length: h * w * 4 * 5 }, () => (random() - 0.5) * 0.2), [h * w * 4, 5]);
  return {
    id: 'conv',
    inputShape: [h, w, c],
    numClasses: 5,
    labels: ['a', 'b', 'c', 'd', 'e'],
    logits: (x) => tf.tidy(() => tf.conv2d(x, kernel, 1, 'same').tanh().reshape([x.shape[0], h * w * 4]).matMul(dense) as tf.Tensor2D),
    dispose: () => tf.dispose([kernel, dense]),
  };
}

const plainChannel = (): ChannelProfile => identityProfile(defaultChannelProfile());

/**
 * A plain EOT-BIM run's trajectory up to iterate `last` (untargeted, seeded by options.seed, indices from 0):
 * iterates[k] is the iterate after step k (0: the clean images) and counts[k] how many draws of step k
 * fool the model on it. BIM's iterates do not depend on the step count, so the run with k steps ends at iterate k.
 */
async function eotTrajectory(
  classifier: Classifier,
  images: Float32Array,
  labels: Int32Array,
  options: { epsilons: number[]; stepSize: number; seed: number },
  eot: { samples: number; channel: ChannelProfile },
  last: number,
): Promise<{ iterates: Float32Array[]; counts: Float32Array[] }> {
  const iterates = [images];
  for (let k = 1; k <= last; k++) iterates.push((await runAttack(classifier, images, labels, { ...options, method: 'bim', steps: k, eot })).perEpsilon[0].adversarial!);
  const s = { ...eot, cellMm: 30, seed: options.seed, firstImageIndex: 0, restart: 0 };
  const shape = [labels.length, ...classifier.inputShape] as [number, number, number, number];
  const counts = iterates.map((iterate, k) => tf.tidy(() => eotAdversarialDraws(classifier, tf.tensor4d(iterate, shape), labels, false, s, k)));
  return { iterates, counts };
}
const warpImages = (x: tf.Tensor4D, draws: ChannelDraw[], sourceOf: Int32Array) => applyChannel(x, draws, sourceOf, plainChannel());
const shiftDraw = (dx: number, dy: number): ChannelDraw => ({ ...identityDraw(), inverse: [1, 0, -dx, 0, 1, -dy, 0, 0, 1] });

describe('channel ops', () => {
  it('the identity warp returns the image; a whole-pixel shift moves pixels and fills with white paper', () => {
    const [h, w, c] = [5, 7, 3];
    const data = randomImages(2, h, w, c, 1);
    const x = tf.tensor4d(data, [2, h, w, c]);
    const same = warpImages(x, [identityDraw(), identityDraw()], Int32Array.from([0, 1]));
    expect(Array.from(same.dataSync())).toEqual(Array.from(data));
    // Output pixel (x, y) shows source (x − 2, y − 1): shifted right by 2 and down by 1. Draw 0 warps image 1.
    const shifted = warpImages(x, [shiftDraw(2, 1)], Int32Array.from([1])).arraySync()[0];
    const source = x.arraySync()[1];
    for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) {
      const expected = y >= 1 && xx >= 2 ? source[y - 1][xx - 2] : [1, 1, 1];
      for (let k = 0; k < c; k++) expect(shifted[y][xx][k]).toBeCloseTo(expected[k], 6);
    }
    // A half-pixel shift averages neighbours.
    const half = warpImages(x, [shiftDraw(0.5, 0)], Int32Array.from([0])).arraySync()[0];
    const first = x.arraySync()[0];
    expect(half[2][3][0]).toBeCloseTo((first[2][3][0] + first[2][2][0]) / 2, 6);
    tf.dispose([x, same]);
  });

  it('the blur matches the simulator’s Gaussian blur (edges replicated), each image with its own σ', () => {
    const [h, w, c] = [9, 6, 3];
    const data = randomImages(2, h, w, c, 3);
    const x = tf.tensor4d(data, [2, h, w, c]);
    const out = applyChannel(x, [{ ...identityDraw(), blurPx: 0.8 }, identityDraw()], Int32Array.from([0, 1]), plainChannel());
    const values = out.dataSync();
    const reference = data.slice(0, h * w * c);
    referenceBlur({ data: reference, width: w, height: h, channels: c }, 0.8);
    for (let i = 0; i < reference.length; i++) expect(values[i]).toBeCloseTo(reference[i], 5);
    for (let i = 0; i < h * w * c; i++) expect(values[h * w * c + i]).toBeCloseTo(data[h * w * c + i], 6);
    tf.dispose([x, out]);
  });

  it('the tone curve equals applyToneCurve, and its gradient is the slope of the segment', () => {
    const knots = [0.05, 0.2, 0.6, 0.7, 0.95];
    const profile = { ...plainChannel(), tone: [knots, knots, knots] as [number[], number[], number[]] };
    const tone = (t: tf.Tensor) => applyChannel(t.reshape([t.size, 1, 1, 1]) as tf.Tensor4D, Array.from({ length: t.size }, identityDraw), Int32Array.from({ length: t.size }, (_, i) => i), profile);
    const values = [0, 0.1, 0.3, 0.49, 0.51, 0.8, 1];
    const out = tone(tf.tensor1d(values)).dataSync();
    values.forEach((value, i) => expect(out[i]).toBeCloseTo(applyToneCurve(knots, value), 6));
    const slope = tf.grad((t: tf.Tensor) => tone(t).sum())(tf.tensor1d([0.1, 0.3, 0.6, 0.9])).dataSync();
    expect(Array.from(slope).map((g) => Number(g.toFixed(4)))).toEqual([0.6, 1.6, 0.4, 1]);
  });

  it('the closed-form corner homography equals the fitted one', () => {
    const quad: [number, number][] = [[0.3, -0.9], [27.1, 0.4], [26.2, 28.3], [-1.2, 26.9]];
    const rectangle: [number, number][] = [[-0.5, -0.5], [27.5, -0.5], [27.5, 27.5], [-0.5, 27.5]];
    const closed = rectangleToQuad(28, 28, quad);
    const fitted = fitHomography(rectangle, quad);
    for (const point of [[3, 4], [20, 11], [27, 27]] as [number, number][]) {
      const [a, b] = [applyHomography(closed, point), applyHomography(fitted, point)];
      expect(a[0]).toBeCloseTo(b[0], 6);
      expect(a[1]).toBeCloseTo(b[1], 6);
    }
  });

  it('JPEG passes its gradient straight through and compresses like jpeg.ts', () => {
    const data = randomImages(1, 16, 16, 1, 5);
    const x = tf.tensor4d(data, [1, 16, 16, 1]);
    const out = jpegStraightThrough(x, [50]).dataSync();
    const reference = transformImages(data, [1, 16, 16, 1], 'jpeg', 50);
    for (let i = 0; i < data.length; i++) expect(out[i]).toBeCloseTo(reference[i], 5);
    const g = tf.grad((t: tf.Tensor) => jpegStraightThrough(t as tf.Tensor4D, [50]).mul(tf.range(0, 256).reshape([1, 16, 16, 1])).sum())(x);
    expect(Array.from(g.dataSync())).toEqual(Array.from({ length: 256 }, (_, i) => i));
    tf.dispose([x, g]);
  });

  it('a grey image goes through the three tone curves and the colour matrix and is read back as BT.601 grey', () => {
    const profile = { ...plainChannel(), tone: [[0, 1], [0, 0.5], [0.2, 1]] as [number[], number[], number[]], colourMatrix: [1, 0, 0, 0, 1, 0, 0, 0.5, 0.5], colourOffset: [0, 0.1, 0] as [number, number, number] };
    const out = applyChannel(tf.tensor4d([0.5], [1, 1, 1, 1]), [identityDraw()], Int32Array.from([0]), profile).dataSync()[0];
    const [r, g, b] = [0.5, 0.25, 0.6];
    const rgb = [r, g + 0.1, 0.5 * g + 0.5 * b];
    expect(out).toBeCloseTo(0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2], 6);
  });

  it.each([
    ['grey 12x12', 12, 12, 1],
    ['RGB 10x8', 10, 8, 3],
  ])('the whole channel’s gradient matches finite differences (%s)', (_, h, w, c) => {
    const profile = { ...defaultChannelProfile(), jpegQuality: null, noiseSigma: [0.02, 0.02] as [number, number] };
    const random = new SeededRandom(9);
    const draws = [0, 1, 2].map(() => drawChannel(profile, { height: h, width: w, cellMm: 3 }, random));
    const sourceOf = Int32Array.from([0, 1, 0]);
    const data = randomImages(2, h, w, c, 11, 0.2, 0.8);
    const weights = tf.tensor4d(randomImages(3, h, w, c, 12, -1, 1), [3, h, w, c]);
    const f = (t: tf.Tensor) => applyChannel(t as tf.Tensor4D, draws, sourceOf, profile).mul(weights).sum();
    const x = tf.tensor4d(data, [2, h, w, c]);
    const analytic = tf.grad(f)(x).dataSync();
    const at = (values: Float32Array) => tf.tidy(() => f(tf.tensor4d(values, [2, h, w, c])).dataSync()[0]);
    const probe = mulberry32(13);
    const step = 1e-2;
    let checked = 0;
    for (let k = 0; k < 40; k++) {
      const i = Math.floor(probe() * data.length);
      const plus = Float32Array.from(data);
      const minus = Float32Array.from(data);
      plus[i] += step;
      minus[i] -= step;
      const numeric = (at(plus) - at(minus)) / (2 * step);
      expect(Math.abs(numeric - analytic[i])).toBeLessThan(2e-3 + 0.02 * Math.abs(analytic[i]));
      if (Math.abs(analytic[i]) > 1e-3) checked++;
    }
    expect(checked).toBeGreaterThan(10);
    tf.dispose([x, weights]);
  });

  it('draws are seeded per image, step and restart, and differ between steps', () => {
    const s = { samples: 3, channel: defaultChannelProfile(), cellMm: 30, seed: 4, firstImageIndex: 10, restart: 0 };
    const all = eotDraws(s, 4, 28, 28, 2);
    const alone = eotDraws({ ...s, firstImageIndex: 12 }, 1, 28, 28, 2);
    expect([all[0 * 4 + 2], all[1 * 4 + 2], all[2 * 4 + 2]]).toEqual(alone);
    expect(eotDraws(s, 4, 28, 28, 3)).not.toEqual(all);
    expect(eotDraws({ ...s, seed: 5 }, 4, 28, 28, 2)).not.toEqual(all);
  });
});

describe('EOT gradient', () => {
  it('with one sample of the identity channel equals the plain gradient; N samples average the per-sample gradients', () => {
    const classifier = convClassifier(6, 5, 3, 21);
    const x = tf.tensor4d(randomImages(3, 6, 5, 3, 22), [3, 6, 5, 3]);
    const classes = tf.tensor1d([0, 3, 4], 'int32');
    const identity = { samples: 1, channel: identityProfile(defaultChannelProfile()), cellMm: 30, seed: 0, firstImageIndex: 0, restart: 0 };
    const plain = objectiveGradient(classifier, x, classes, 'ce', false);
    const eot = eotGradient(classifier, x, classes, 'ce', false, identity, 0);
    const [a, b] = [plain.dataSync(), eot.dataSync()];
    for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i], 6);
    // Four identity samples average to the same gradient.
    const four = eotGradient(classifier, x, classes, 'margin', true, { ...identity, samples: 4 }, 0).dataSync();
    const margin = objectiveGradient(classifier, x, classes, 'margin', true).dataSync();
    for (let i = 0; i < a.length; i++) expect(four[i]).toBeCloseTo(margin[i], 5);
    // Sampled channel: the mean of the per-sample gradients, each computed alone.
    const s = { ...identity, channel: defaultChannelProfile(), samples: 3, seed: 7 };
    const mean = eotGradient(classifier, x, classes, 'ce', false, s, 5).dataSync();
    const draws = eotDraws(s, 3, 6, 5, 5);
    const sum = new Float32Array(mean.length);
    for (let k = 0; k < 3; k++) {
      const g = tf.tidy(() => tf.grad((t: tf.Tensor) => {
        const seen = applyChannel(t as tf.Tensor4D, draws.slice(k * 3, k * 3 + 3), Int32Array.from([0, 1, 2]), s.channel);
        return tf.logSoftmax(classifier.logits(seen)).mul(tf.oneHot(classes, 5)).sum().neg();
      })(x));
      // losses.ts drops each image's positive factor 1/(1 − p_y): compare directions per image and sample.
      const p = tf.tidy(() => tf.softmax(classifier.logits(applyChannel(x, draws.slice(k * 3, k * 3 + 3), Int32Array.from([0, 1, 2]), s.channel))).arraySync() as number[][]);
      const values = g.dataSync();
      const size = 6 * 5 * 3;
      for (let i = 0; i < values.length; i++) sum[i] += values[i] / (1 - p[Math.floor(i / size)][[0, 3, 4][Math.floor(i / size)]]);
      g.dispose();
    }
    for (let i = 0; i < sum.length; i++) expect(mean[i]).toBeCloseTo(sum[i] / 3, 4);
    tf.dispose([x, classes, plain, eot]);
    classifier.dispose();
  });

  it('a confidence κ drops the draws already misclassified by a margin of κ from the average, and keeps the others as they were', () => {
    const classifier = convClassifier(6, 5, 3, 23);
    const x = tf.tensor4d(randomImages(2, 6, 5, 3, 24), [2, 6, 5, 3]);
    const classes = tf.tensor1d([1, 2], 'int32');
    const s = { samples: 6, channel: { ...defaultChannelProfile(), brightness: [-0.4, 0.4] as [number, number] }, cellMm: 30, seed: 3, firstImageIndex: 0, restart: 0 };
    const draws = eotDraws(s, 2, 6, 5, 1);
    const both = Int32Array.from([0, 1]);
    // Per draw: the untargeted objective max_{j≠y} z_j − z_y and its gradient, each sample alone.
    const objectives: number[][] = [];
    const gradients: Float32Array[] = [];
    for (let k = 0; k < s.samples; k++) {
      const group = draws.slice(k * 2, k * 2 + 2);
      objectives.push(tf.tidy(() => Array.from(attackObjective(classifier.logits(applyChannel(x, group, both, s.channel)), classes, 'margin', false).dataSync())));
      gradients.push(tf.tidy(() => tf.grad((t: tf.Tensor) => attackObjective(classifier.logits(applyChannel(t as tf.Tensor4D, group, both, s.channel)), classes, 'margin', false).sum())(x).dataSync() as Float32Array));
    }
    // κ between the draws' objectives of image 0, so some of its draws are past it and some are not.
    const sorted = objectives.map((o) => o[0]).sort((a, b) => a - b);
    const kappa = (sorted[2] + sorted[3]) / 2;
    const kept = objectives.map((o) => o.map((v) => v < kappa));
    expect(kept.filter((k) => k[0]).length).toBe(3);
    const capped = eotGradient(classifier, x, classes, 'margin', false, { ...s, confidence: kappa }, 1).dataSync();
    const uncapped = eotGradient(classifier, x, classes, 'margin', false, s, 1).dataSync();
    const size = 6 * 5 * 3;
    for (let i = 0; i < capped.length; i++) {
      const image = Math.floor(i / size);
      let all = 0;
      let below = 0;
      for (let k = 0; k < s.samples; k++) {
        all += gradients[k][i];
        if (kept[k][image]) below += gradients[k][i];
      }
      expect(uncapped[i]).toBeCloseTo(all / s.samples, 4);
      expect(capped[i]).toBeCloseTo(below / s.samples, 4);
    }
    // Past κ under every draw: no pull at all, so a sign step leaves the image where it is.
    const low = eotGradient(classifier, x, classes, 'margin', false, { ...s, confidence: Math.min(...objectives.flat()) - 1 }, 1).dataSync();
    expect(Array.from(low).every((v) => v === 0)).toBe(true);
    tf.dispose([x, classes]);
    classifier.dispose();
  });

  it('the confidence cap of a targeted margin is min(z_t − max_{j≠t} z_j, κ)', () => {
    const logits = tf.tensor2d([[1, 4, 2], [5, 0, 1]]);
    const targets = tf.tensor1d([1, 1], 'int32');
    expect(Array.from(attackObjective(logits, targets, 'margin', true).dataSync())).toEqual([2, -5]);
    expect(Array.from(attackObjective(logits, targets, 'margin', true, 1).dataSync())).toEqual([1, -5]);
    expect(Array.from(attackObjective(logits, targets, 'margin', false, 1).dataSync())).toEqual([-2, 1]);
    tf.dispose([logits, targets]);
  });

  it('runs at any input size and leaks no tensor; EOT off is the same attack as no EOT key', async () => {
    const classifier = convClassifier(9, 7, 3, 31);
    const images = randomImages(4, 9, 7, 3, 32, 0.1, 0.9);
    const labels = Int32Array.from([0, 1, 2, 3]);
    const before = tf.memory().numTensors;
    const eot = await runAttack(classifier, images, labels, { method: 'pgd', epsilons: [0.05, 0.1], steps: 3, eot: { samples: 5 }, seed: 2 });
    const again = await runAttack(classifier, images, labels, { method: 'pgd', epsilons: [0.05, 0.1], steps: 3, eot: { samples: 5 }, seed: 2, batchSize: 3 });
    expect(tf.memory().numTensors).toBe(before);
    expect(Array.from(again.perEpsilon[1].adversarial!)).toEqual(Array.from(eot.perEpsilon[1].adversarial!));
    for (const e of eot.perEpsilon) {
      for (let i = 0; i < images.length; i++) expect(Math.abs(e.adversarial![i] - images[i])).toBeLessThanOrEqual(e.epsilon + 1e-6);
    }
    expect(eot.options.eot?.samples).toBe(5);
    expect(methodLabel(eot.method, eot.options)).toBe('pgd+eot5');
    const plain = await runAttack(classifier, images, labels, { method: 'bim', epsilons: [0.1] });
    const undefinedKey = await runAttack(classifier, images, labels, { method: 'bim', epsilons: [0.1], eot: undefined });
    expect(Array.from(undefinedKey.perEpsilon[0].adversarial!)).toEqual(Array.from(plain.perEpsilon[0].adversarial!));
    expect(methodLabel(plain.method, plain.options)).toBe('bim');
    expect(methodLabel('bim', { momentum: 1, eot: { samples: 16 } })).toBe('bim+mi1+eot16');
    expect(methodLabel('pgd', { momentum: 0.9 })).toBe('pgd+mi0.9');
    expect(methodLabel('bim', { eot: { samples: 16, refine: 60 } })).toBe('bim+eot16+refine60');
    expect(methodLabel('bim', { eot: { samples: 16, refine: 0 } })).toBe('bim+eot16');
    expect(methodLabel('bim', { momentum: 0 })).toBe('bim');
    classifier.dispose();
  });

  it('PGD with EOT keeps per image the restart that the most of one common set of draws misclassify', async () => {
    const [h, w, c, n, epsilon, steps, seed] = [9, 7, 3, 12, 0.15, 4, 5];
    const classifier = convClassifier(h, w, c, 41);
    const images = randomImages(n, h, w, c, 42, 0.1, 0.9);
    const labels = Int32Array.from({ length: n }, (_, i) => i % 5);
    const eot = resolveEot({ samples: 6, channel: { ...defaultChannelProfile(), brightness: [-0.3, 0.3] } });
    // Each restart on its own, as pgd.ts runs it: its random start and its own draws.
    const restarts = await Promise.all(
      [0, 1, 2].map((restart) =>
        iterativeAttack(classifier, images, labels, {
          ...pgdSchedule(epsilon, { steps }), epsilon, norm: 'linf', loss: 'ce', targeted: false,
          start: randomStartPerturbations(n, h * w * c, epsilon, 'linf', seed, 0, restart),
          eot: { ...eot, seed, firstImageIndex: 0, restart },
        }, async () => {}),
      ),
    );
    const counts = restarts.map((adversarial) => {
      const x = tf.tensor4d(adversarial, [n, h, w, c]);
      const fooled = eotAdversarialDraws(classifier, x, labels, false, { ...eot, seed, firstImageIndex: 0, restart: 0 }, steps + 1);
      x.dispose();
      return fooled;
    });
    const result = await runAttack(classifier, images, labels, { method: 'pgd', epsilons: [epsilon], steps, restarts: 3, seed, eot: { samples: 6, channel: eot.channel } });
    const kept = result.perEpsilon[0].adversarial!;
    const size = h * w * c;
    let chosenLater = 0;
    for (let i = 0; i < n; i++) {
      const image = Array.from(kept.subarray(i * size, (i + 1) * size));
      const from = restarts.findIndex((r) => Array.from(r.subarray(i * size, (i + 1) * size)).every((v, j) => v === image[j]));
      expect(from).toBeGreaterThanOrEqual(0);
      expect(counts[from][i]).toBe(Math.max(...counts.map((k) => k[i])));
      if (from > 0) chosenLater++;
    }
    // The choice is not always restart 0's: the test sees restarts compete.
    expect(chosenLater).toBeGreaterThan(0);
    classifier.dispose();
  });

  it('groups a step\'s draws into model passes within both the value cap and the tape budget\'s images', () => {
    const s = { samples: 8, channel: defaultChannelProfile(), cellMm: 30, seed: 1, firstImageIndex: 0, restart: 0 };
    const counts = (imagesPerPass?: number) => [...drawPasses({ ...s, ...(imagesPerPass === undefined ? {} : { imagesPerPass }) }, [4, 8, 8, 1], 0)].map((pass) => pass.count);
    expect(counts()).toEqual([8]);
    expect(counts(8)).toEqual([2, 2, 2, 2]);
    expect(counts(13)).toEqual([3, 3, 2]);
    // Fewer than a chunk's images: still one sample, all images, per pass.
    expect(counts(2)).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
    // Every draw is used once, sample-major, whatever the grouping.
    const passes = [...drawPasses({ ...s, imagesPerPass: 13 }, [4, 8, 8, 1], 0)];
    expect(passes.flatMap((pass) => pass.group)).toEqual(eotDraws(s, 4, 8, 8, 0));
    expect(passes.map((pass) => Array.from(pass.sourceOf))).toEqual([[0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3], [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3], [0, 1, 2, 3, 0, 1, 2, 3]]);
  });

  it('refuses EOT on FGSM and DeepFool and bad sample counts in plain words', async () => {
    const classifier = convClassifier(4, 4, 1, 41);
    const images = randomImages(1, 4, 4, 1, 42);
    const labels = Int32Array.from([0]);
    await expect(runAttack(classifier, images, labels, { method: 'fgsm', epsilons: [0.1], eot: { samples: 4 } })).rejects.toThrow(/EOT applies to bim, ll, pgd, not fgsm/);
    await expect(runAttack(classifier, images, labels, { method: 'bim', epsilons: [0.1], eot: { samples: 0 } })).rejects.toThrow(AttackInputError);
    await expect(runAttack(classifier, images, labels, { method: 'bim', epsilons: [0.1], eot: { samples: 2, cellMm: -1 } })).rejects.toThrow(/cellMm/);
    await expect(runAttack(classifier, images, labels, { method: 'bim', epsilons: [0.1], eot: { samples: 2, confidence: 5 } })).rejects.toThrow(/confidence caps the logit margin: it needs loss "margin"/);
    await expect(runAttack(classifier, images, labels, { method: 'bim', epsilons: [0.1], loss: 'margin', eot: { samples: 2, confidence: -1 } })).rejects.toThrow(/eot.confidence must be/);
    classifier.dispose();
  });
});

describe("EOT's most robust iterate (keep 'most-robust')", () => {
  it('counts the draws each image fools: with the identity channel 0 or N, as the plain prediction says; the gradient pass counts what a forward pass counts', () => {
    const classifier = convClassifier(6, 5, 3, 51);
    const x = tf.tensor4d(randomImages(6, 6, 5, 3, 52), [6, 6, 5, 3]);
    const predicted = tf.tidy(() => Array.from(classifier.logits(x).argMax(1).dataSync()));
    // Labels: the prediction for images 0-2 (not fooled), another class for 3-5 (fooled).
    const labels = Int32Array.from(predicted, (p, i) => (i < 3 ? p : (p + 1) % 5));
    const identity = { samples: 4, channel: identityProfile(defaultChannelProfile()), cellMm: 30, seed: 0, firstImageIndex: 0, restart: 0 };
    expect(Array.from(eotAdversarialDraws(classifier, x, labels, false, identity, 3))).toEqual([0, 0, 0, 4, 4, 4]);
    // Targeted: a draw counts when it is read as the target.
    expect(Array.from(eotAdversarialDraws(classifier, x, labels, true, identity, 3))).toEqual([4, 4, 4, 0, 0, 0]);
    // A sampled channel: whatever the forward pass counts, the gradient pass of the same step counts too.
    const s = { ...identity, channel: { ...defaultChannelProfile(), brightness: [-0.5, 0.5] as [number, number] }, samples: 9, seed: 5 };
    const forward = eotAdversarialDraws(classifier, x, labels, false, s, 2);
    const during = new Float32Array(6);
    const classes = tf.tensor1d(labels, 'int32');
    eotGradient(classifier, x, classes, 'ce', false, s, 2, during).dispose();
    expect(Array.from(during)).toEqual(Array.from(forward));
    expect(new Set(forward).size).toBeGreaterThan(2);
    tf.dispose([x, classes]);
    classifier.dispose();
  });

  it('keeps per image the iterate with the most adversarial draws, ties to the later one', () => {
    const keeper = new MostRobustIterate(3, 2);
    keeper.offer(Float32Array.from([1, 1, 2, 2, 3, 3]), Float32Array.from([0, 5, 2]));
    keeper.offer(Float32Array.from([4, 4, 5, 5, 6, 6]), Float32Array.from([0, 4, 3]));
    keeper.offer(Float32Array.from([7, 7, 8, 8, 9, 9]), Float32Array.from([0, 5, 1]));
    expect(Array.from(keeper.images)).toEqual([7, 7, 8, 8, 6, 6]);
    expect(Array.from(keeper.adversarialDraws)).toEqual([0, 5, 3]);
  });

  it("returns per image the iterate after step k (1..T) with the most fooled draws of step k, ties to the later; the same split into batches", async () => {
    const classifier = convClassifier(6, 5, 3, 61);
    const images = randomImages(8, 6, 5, 3, 62, 0.2, 0.8);
    const labels = tf.tidy(() => Int32Array.from(classifier.logits(tf.tensor4d(images, [8, 6, 5, 3])).argMax(1).dataSync()));
    const steps = 6;
    const channel = { ...defaultChannelProfile(), brightness: [-0.3, 0.3] as [number, number], blurMm: [0, 3] as [number, number] };
    const options = { method: 'bim' as const, epsilons: [0.08], steps, stepSize: 0.03, seed: 3 };
    const robust = await runAttack(classifier, images, labels, { ...options, eot: { samples: 6, channel, keep: 'most-robust' } });
    const { iterates, counts } = await eotTrajectory(classifier, images, labels, options, { samples: 6, channel }, steps);
    const size = 6 * 5 * 3;
    const chosen: number[] = [];
    for (let i = 0; i < 8; i++) {
      let best = 1;
      for (let k = 2; k <= steps; k++) if (counts[k][i] >= counts[best][i]) best = k;
      chosen.push(best);
      expect(Array.from(robust.perEpsilon[0].adversarial!.subarray(i * size, (i + 1) * size))).toEqual(Array.from(iterates[best].subarray(i * size, (i + 1) * size)));
    }
    // The case is not trivial: some images keep an earlier iterate, some the last.
    expect(chosen.some((k) => k < steps)).toBe(true);
    expect(chosen.some((k) => k === steps)).toBe(true);
    // Seeded per image: the same in batches of 3, and as two calls (the second from index 5).
    const batched = await runAttack(classifier, images, labels, { ...options, batchSize: 3, eot: { samples: 6, channel, keep: 'most-robust' } });
    expect(Array.from(batched.perEpsilon[0].adversarial!)).toEqual(Array.from(robust.perEpsilon[0].adversarial!));
    const head = await runAttack(classifier, images.slice(0, 5 * size), labels.slice(0, 5), { ...options, eot: { samples: 6, channel, keep: 'most-robust' } });
    const tail = await runAttack(classifier, images.slice(5 * size), labels.slice(5), { ...options, indexOffset: 5, eot: { samples: 6, channel, keep: 'most-robust' } });
    expect([...head.perEpsilon[0].adversarial!, ...tail.perEpsilon[0].adversarial!]).toEqual(Array.from(robust.perEpsilon[0].adversarial!));
    classifier.dispose();
  });

  it("with the identity channel returns the plain attack's last adversarial iterate, or its last one when none is (analytic)", async () => {
    // Grey 4x4 images; the model reads class 0 as cos(2π·16·m) against 0 for class 1, m the image's
    // mean, and its gradient always says "brighter": each BIM step of α = 1/64 adds 1/64 to every pixel
    // (while the ball of ε = 4/64 and [0,1] allow), so m walks a quarter period per step and the
    // image is misclassified (class 1) exactly when frac(16·m) ∈ (1/4, 3/4).
    const h = 4;
    const period = (x: tf.Tensor4D) => tf.cos(x.mean([1, 2, 3]).mul(2 * Math.PI * 16));
    const walk = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const x = args[0] as tf.Tensor4D;
      return { value: tf.stack([period(x), tf.zerosLike(period(x))], 1), gradFunc: () => tf.onesLike(x) };
    });
    const classifier: Classifier = {
      id: 'walk', inputShape: [h, h, 1], numClasses: 2, labels: ['0', '1'],
      logits: (x) => walk(x) as tf.Tensor2D,
      dispose: () => undefined,
    };
    const base = 0.5 + 1 / 128;
    // frac(16·m) after steps 1..4 (then held by the ball): 0.375 0.625 0.875 0.125 | 0.875 0.125 0.375 0.625
    // | 0.625 0.875 0.125 0.375 | white paper, never brighter: 0 throughout.
    const starts = [base, base + 2 / 64, base + 1 / 64, 1];
    const want = [base + 2 / 64, base + 6 / 64, base + 5 / 64, 1];
    const images = Float32Array.from(starts.flatMap((v) => new Array<number>(h * h).fill(v)));
    const labels = new Int32Array(starts.length);
    const options = { method: 'bim' as const, epsilons: [4 / 64], steps: 6, stepSize: 1 / 64 };
    const plain = (await runAttack(classifier, images, labels, options)).perEpsilon[0];
    expect(Array.from(plain.float.success)).toEqual([0, 1, 1, 0]);
    const robust = (await runAttack(classifier, images, labels, { ...options, eot: { samples: 3, channel: identityProfile(defaultChannelProfile()), keep: 'most-robust' } })).perEpsilon[0];
    // Image 0: fooled after steps 1 and 2 only, so iterate 2; 1: the last (fooled); 2: fooled after
    // step 1 and from step 4 on, the tie goes to the last; 3: never fooled, the last.
    expect(Array.from(robust.adversarial!)).toEqual(Array.from(want.flatMap((v) => new Array<number>(h * h).fill(Math.fround(v)))));
    expect(Array.from(robust.float.success)).toEqual([1, 1, 1, 0]);
    const last = (await runAttack(classifier, images, labels, { ...options, eot: { samples: 3, channel: identityProfile(defaultChannelProfile()) } })).perEpsilon[0];
    expect(Array.from(last.adversarial!)).toEqual(Array.from(plain.adversarial!));
  });

  it('refuses an unknown keep in plain words', async () => {
    const classifier = convClassifier(4, 4, 1, 81);
    const images = randomImages(1, 4, 4, 1, 82);
    await expect(runAttack(classifier, images, Int32Array.from([0]), { method: 'bim', epsilons: [0.1], eot: { samples: 2, keep: 'best' as never } })).rejects.toThrow(/eot.keep must be one of "last", "most-robust", got "best"/);
    classifier.dispose();
  });
});

describe("EOT's extra steps for fragile examples (refine)", () => {
  it('steps on only the images that fool the model but not all their draws, each until all of a step\'s draws do; the rest keep iterate T; most-robust sees the extra iterates; progress adds up', async () => {
    const [n, h, w, c] = [24, 6, 5, 3];
    const size = h * w * c;
    const classifier = convClassifier(h, w, c, 61);
    const images = randomImages(n, h, w, c, 62, 0.2, 0.8);
    const labels = tf.tidy(() => Int32Array.from(classifier.logits(tf.tensor4d(images, [n, h, w, c])).argMax(1).dataSync()));
    const [steps, refine, samples] = [2, 4, 6];
    const channel = { ...defaultChannelProfile(), brightness: [-0.3, 0.3] as [number, number], blurMm: [0, 3] as [number, number] };
    const options = { method: 'bim' as const, epsilons: [0.08], steps, stepSize: 0.015, seed: 3 };
    const { iterates, counts } = await eotTrajectory(classifier, images, labels, options, { samples, channel }, steps + refine);
    const fooled = tf.tidy(() => Array.from(classifier.logits(tf.tensor4d(iterates[steps], [n, h, w, c])).argMax(1).dataSync(), (p, i) => p !== labels[i]));
    // Where each image stops: T unless fooled by fewer than all draws; else the first iterate from T all draws fool, or T + refine.
    const stops = Array.from({ length: n }, (_, i) => {
      if (!fooled[i]) return steps;
      for (let k = steps; k < steps + refine; k++) if (counts[k][i] === samples) return k;
      return steps + refine;
    });
    const image = (data: Float32Array, i: number) => Array.from(data.subarray(i * size, (i + 1) * size));
    let last = { done: 0, total: -1 };
    const refined = (await runAttack(classifier, images, labels, { ...options, eot: { samples, channel, refine } }, { onProgress: (p) => (last = p) })).perEpsilon[0];
    for (let i = 0; i < n; i++) expect(image(refined.adversarial!, i)).toEqual(image(iterates[stops[i]], i));
    expect(last.done).toBe(last.total);
    expect(last.total).toBe(n * (steps + refine));
    // The case is not trivial: images stay at T unfooled, stay at T already robust, stop on the way, run out.
    expect(stops.some((k, i) => k === steps && !fooled[i])).toBe(true);
    expect(stops.some((k, i) => k === steps && fooled[i])).toBe(true);
    expect(stops.some((k) => k > steps && k < steps + refine)).toBe(true);
    expect(stops.some((k) => k === steps + refine)).toBe(true);
    // most-robust: the iterate after step k (1 .. the image's stop) with the most fooled draws of step k, ties to the later.
    const robust = (await runAttack(classifier, images, labels, { ...options, eot: { samples, channel, refine, keep: 'most-robust' } })).perEpsilon[0];
    for (let i = 0; i < n; i++) {
      let best = 1;
      for (let k = 2; k <= stops[i]; k++) if (counts[k][i] >= counts[best][i]) best = k;
      expect(image(robust.adversarial!, i)).toEqual(image(iterates[best], i));
    }
    // Seeded per image: the same in batches of 5.
    const batched = (await runAttack(classifier, images, labels, { ...options, batchSize: 5, eot: { samples, channel, refine } })).perEpsilon[0];
    expect(Array.from(batched.adversarial!)).toEqual(Array.from(refined.adversarial!));
    classifier.dispose();
  });

  it('refuses a refine that is not a whole number of steps', async () => {
    const classifier = convClassifier(4, 4, 1, 81);
    const images = randomImages(1, 4, 4, 1, 82);
    await expect(runAttack(classifier, images, Int32Array.from([0]), { method: 'bim', epsilons: [0.1], eot: { samples: 2, refine: 1.5 } })).rejects.toThrow(/eot.refine must be an integer ≥ 0, got 1.5/);
    classifier.dispose();
  });
});

describe('EOT on the built-in LeNet', () => {
  let classifier: Classifier;
  // LeNet's convolutions on TF.js's pure-JS CPU kernels are ~20x slower than on WASM, as the app runs it.
  beforeAll(async () => {
    await initBackend({ prefer: 'wasm' });
  });
  afterAll(() => classifier?.dispose());

  it('an EOT-BIM example trained on a blurring channel survives blur better than a plain BIM example', async () => {
    classifier = await loadClassifier({ kind: 'builtin', id: 'lenet-mnist' });
    const samples = await loadDataset('samples', { limit: 20 });
    const blurChannel = { ...identityProfile(defaultChannelProfile()), blurMm: [1.5, 2.5] as [number, number] };
    const run = (eot?: { samples: number; channel: typeof blurChannel }) =>
      runAttack(classifier, samples.images, samples.labels, { method: 'bim', epsilons: [0.1], ...(eot ? { eot } : {}) });
    const plain = await run();
    const robust = await run({ samples: 8, channel: blurChannel });
    // Blur of σ = 2 mm on a 30 mm cell: 1.87 px at 28 px.
    const survivors = (adversarial: Float32Array) => {
      const blurred = transformImages(adversarial, [samples.count, 28, 28, 1], 'blur', 2 * (28 / 30));
      const predicted = tf.tidy(() => classifier.logits(tf.tensor4d(blurred, [samples.count, 28, 28, 1])).argMax(1).dataSync());
      return Array.from(predicted).filter((p, i) => p !== samples.labels[i]).length;
    };
    const plainSurvivors = survivors(plain.perEpsilon[0].adversarial!);
    const robustSurvivors = survivors(robust.perEpsilon[0].adversarial!);
    expect(robustSurvivors).toBeGreaterThan(plainSurvivors + 3);
  }, 120_000);
});
