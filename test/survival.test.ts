/**
 * Print survival (app/attacks/survival.ts): an analytic channel whose survival is known in closed
 * form, the identity channel (survival is the 8-bit success itself), independence from how a batch
 * is split, from EOT's own draws, and the summary's mean over the cells the destruction rate counts.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Classifier } from '../app/engine/classifier.js';
import { AttackInputError, runAttack } from '../app/attacks/index.js';
import { identityProfile } from '../app/attacks/eot-channel.js';
import { eotAdversarialDraws, eotDraws } from '../app/attacks/eot.js';
import { mulberry32 } from '../app/attacks/random-start.js';
import { estimateSurvival, resolveSurvival } from '../app/attacks/survival.js';
import type { AttackOptions, AttackResult } from '../app/attacks/types.js';
import { cleanCorrectMask, fooledSurvival, summarizeAttack } from '../app/eval/summary.js';
import { defaultChannelProfile } from '../app/physical/channel-profile.js';
import { experimentTable } from '../app/physical/metrics.js';
import type { ExperimentSample } from '../app/physical/metrics.js';
import type { ChannelProfile } from '../app/physical/channel-profile.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const [H, W] = [6, 6];

/** Two classes: class 1 when the image's mean grey exceeds `threshold`, else class 0 (logits linear in the mean). */
function thresholdClassifier(threshold: number): Classifier {
  return {
    id: 'threshold',
    inputShape: [H, W, 1],
    numClasses: 2,
    labels: ['dark', 'light'],
    logits: (x) => tf.tidy(() => {
      const margin = x.reshape([x.shape[0], H * W]).mean(1, true).sub(threshold).mul(50);
      return tf.concat([margin.neg(), margin], 1) as tf.Tensor2D;
    }),
    dispose: () => undefined,
  };
}

/** A channel that only shifts brightness, uniformly in [−b, b]: every other stage is the identity. */
function brightnessOnly(b: number): ChannelProfile {
  return { ...identityProfile(defaultChannelProfile()), name: 'brightness only', brightness: [-b, b] };
}

function constantImages(values: number[]): Float32Array {
  const out = new Float32Array(values.length * H * W);
  values.forEach((v, i) => out.fill(v, i * H * W, (i + 1) * H * W));
  return out;
}

/** n uniform grey images with values in [lo, hi), labelled as the 0.5 threshold classifies them. */
function randomGreys(n: number, lo: number, hi: number, seed: number): { values: number[]; images: Float32Array; labels: Int32Array } {
  const random = mulberry32(seed);
  const values = Array.from({ length: n }, () => lo + (hi - lo) * random());
  return { values, images: constantImages(values), labels: Int32Array.from(values, (v) => Number(v > 0.5)) };
}

describe('print survival', () => {
  it('matches the closed form under a uniform brightness shift: P(v + u > t) = (v + b − t) / 2b', () => {
    // A grey-v image (already past the threshold t: class 1, true label 0) stays adversarial while
    // v + u > t, u ~ U[−b, b]. Values stay inside [0,1], so the clip never bites.
    const [t, b, draws] = [0.5, 0.2, 4096];
    const values = [0.28, 0.35, 0.45, 0.5, 0.55, 0.62, 0.69, 0.75];
    const classifier = thresholdClassifier(t);
    const labels = new Int32Array(values.length);
    const survival = estimateSurvival(classifier, constantImages(values), { labels, targeted: false }, { draws, channel: brightnessOnly(b), cellMm: 30 }, 7, 0);
    values.forEach((v, i) => {
      const expected = Math.min(1, Math.max(0, (v + b - t) / (2 * b)));
      // Binomial standard error at most 0.5/√4096 ≈ 0.008: four of them.
      expect(Math.abs(survival[i] - expected), `v = ${v}`).toBeLessThan(0.032);
    });
    expect(survival[0]).toBe(0);
    expect(survival[7]).toBe(1);
    // Targeted at class 1, the same images survive exactly as often.
    const targeted = estimateSurvival(classifier, constantImages(values), { labels, targets: new Int32Array(values.length).fill(1), targeted: true }, { draws, channel: brightnessOnly(b), cellMm: 30 }, 7, 0);
    expect(Array.from(targeted)).toEqual(Array.from(survival));
  });

  it('through the identity channel is the 8-bit success itself, for untargeted and targeted attacks', async () => {
    const classifier = thresholdClassifier(0.5);
    const { values, images, labels } = randomGreys(40, 0.3, 0.7, 3);
    const channel = identityProfile(defaultChannelProfile());
    for (const criterion of [undefined, { kind: 'targeted' as const, targets: new Int32Array(values.length).fill(1) }]) {
      const result = await runAttack(classifier, images, labels, { method: 'fgsm', epsilons: [0.05, 0.15], survival: { draws: 3, channel }, ...(criterion ? { criterion } : {}) });
      for (const e of result.perEpsilon) {
        expect(Array.from(e.quantized.survival!)).toEqual(Array.from(e.quantized.success));
        expect(e.float.survival).toBeUndefined();
      }
      expect(result.perEpsilon[1].quantized.success.some((s) => s === 1)).toBe(true);
      expect(result.perEpsilon[0].quantized.success.some((s) => s === 0)).toBe(true);
    }
  });

  it('does not depend on how the batch is split into chunks or calls, and reports what ran', async () => {
    const classifier = thresholdClassifier(0.5);
    const { images, labels } = randomGreys(24, 0.35, 0.65, 5);
    const options = { method: 'bim' as const, epsilons: [0.1], steps: 3, seed: 11, survival: { draws: 32, channel: brightnessOnly(0.15) } };
    const whole = await runAttack(classifier, images, labels, options);
    const chunked = await runAttack(classifier, images, labels, { ...options, batchSize: 5 });
    const first = await runAttack(classifier, images.subarray(0, 10 * H * W), labels.subarray(0, 10), options);
    const rest = await runAttack(classifier, images.subarray(10 * H * W), labels.subarray(10), { ...options, indexOffset: 10 });
    const survival = whole.perEpsilon[0].quantized.survival!;
    expect(Array.from(chunked.perEpsilon[0].quantized.survival!)).toEqual(Array.from(survival));
    expect([...first.perEpsilon[0].quantized.survival!, ...rest.perEpsilon[0].quantized.survival!]).toEqual(Array.from(survival));
    // Not all-or-nothing: the estimate sees the spread of the channel.
    expect(survival.some((s) => s > 0 && s < 1)).toBe(true);
    // Another seed draws other transformations.
    const reseeded = await runAttack(classifier, images, labels, { ...options, seed: 12 });
    expect(Array.from(reseeded.perEpsilon[0].quantized.survival!)).not.toEqual(Array.from(survival));
    expect(whole.options.survival).toMatchObject({ draws: 32, cellMm: 30 });
    expect(whole.options.seed).toBe(11);
  });

  it('takes the EOT channel by default, but not the draws EOT optimised against', () => {
    const calibrated = { ...defaultChannelProfile(), name: 'calibrated' };
    expect(resolveSurvival({ draws: 8 }, { channel: calibrated, cellMm: 50 })).toEqual({ draws: 8, channel: calibrated, cellMm: 50 });
    expect(resolveSurvival({ draws: 8 }).channel).toEqual(defaultChannelProfile());
    expect(resolveSurvival({ draws: 8, cellMm: 20 }, { channel: calibrated, cellMm: 50 }).cellMm).toBe(20);
    const settings = { samples: 4, channel: defaultChannelProfile(), cellMm: 30, seed: 0, firstImageIndex: 0, restart: 0 };
    const eot = eotDraws(settings, 2, 28, 28, 0);
    const survival = eotDraws({ ...settings, stream: 0x535256 }, 2, 28, 28, 0);
    expect(survival.map((d) => d.inverse)).not.toEqual(eot.map((d) => d.inverse));
  });

  it('scores on its own draws: not those of EOT step 0 with the same seed', () => {
    const classifier = thresholdClassifier(0.5);
    const values = [0.42, 0.46, 0.5, 0.54, 0.58, 0.44, 0.52, 0.56];
    const images = constantImages(values);
    const labels = new Int32Array(values.length);
    const channel = brightnessOnly(0.2);
    const survival = estimateSurvival(classifier, images, { labels, targeted: false }, { draws: 64, channel, cellMm: 30 }, 4, 0);
    const x = tf.tensor4d(images, [values.length, H, W, 1]);
    const settings = { samples: 64, channel, cellMm: 30, seed: 4, firstImageIndex: 0, restart: 0 };
    const fromEot = eotAdversarialDraws(classifier, x, labels, false, settings, 0).map((c) => c / 64);
    const fromOwn = eotAdversarialDraws(classifier, x, labels, false, { ...settings, stream: 0x535256 }, 0).map((c) => c / 64);
    x.dispose();
    expect(Array.from(survival)).toEqual(Array.from(fromOwn));
    expect(Array.from(survival)).not.toEqual(Array.from(fromEot));
  });

  it('moves the progress bar while it estimates, and ends it at its total', async () => {
    const classifier = thresholdClassifier(0.5);
    const { images, labels } = randomGreys(5, 0.35, 0.65, 9);
    const cases: [AttackOptions, number][] = [
      // FGSM: one step per image and ε, and the 7 draws count as ⌈7/3⌉ = 3 steps per image and ε.
      [{ method: 'fgsm', epsilons: [0.05, 0.1] }, 5 * 1 * 2 + 5 * 3 * 2],
      // DeepFool runs (and is estimated) once for all ε: its iteration budget, and 3 per image.
      [{ method: 'deepfool', epsilons: [0.05, 0.1], maxIterations: 4 }, 5 * 4 + 5 * 3],
    ];
    for (const [options, total] of cases) {
      const seen: { done: number; total: number }[] = [];
      await runAttack(classifier, images, labels, { ...options, survival: { draws: 7 }, batchSize: 2 }, { onProgress: (p) => seen.push(p) });
      expect(seen.every((p) => p.total === total), JSON.stringify(seen.at(-1))).toBe(true);
      expect(seen.at(-1)!.done).toBe(total);
      expect(seen.every((p, i) => i === 0 || p.done >= seen[i - 1].done)).toBe(true);
    }
  });

  it('refuses bad draw counts and cell sizes in one line', async () => {
    const classifier = thresholdClassifier(0.5);
    const images = constantImages([0.4]);
    const labels = new Int32Array([0]);
    for (const [survival, message] of [
      [{ draws: 0 }, /survival.draws must be an integer ≥ 1/],
      [{ draws: 1.5 }, /survival.draws must be an integer/],
      [{ draws: 5000 }, /survival.draws must be at most 4096/],
      [{ draws: 4, cellMm: 0 }, /survival.cellMm must be a finite number > 0/],
      [{ draws: 4, channel: { name: 'broken' } }, /survival.channel is not a valid channel profile/],
    ] as const) {
      await expect(runAttack(classifier, images, labels, { method: 'fgsm', epsilons: [0.1], survival: survival as never })).rejects.toThrow(AttackInputError);
      await expect(runAttack(classifier, images, labels, { method: 'fgsm', epsilons: [0.1], survival: survival as never })).rejects.toThrow(message);
    }
  });
});

describe('the summary of a run with survival', () => {
  it('averages survival over the clean-correct images the attack fooled, the cells a destruction rate counts', () => {
    const view = (success: number[], survival?: number[]) => ({
      after: { k: 1, labels: Int32Array.from(success, (s, i) => (s ? 1 - (i % 2) : i % 2)), probs: new Float32Array(success.length).fill(1) },
      success: Uint8Array.from(success),
      linf: new Float32Array(success.length),
      l2: new Float32Array(success.length),
      ...(survival ? { survival: Float32Array.from(survival) } : {}),
    });
    // Image 3 was wrong before the attack: its survival does not count.
    const result: AttackResult = {
      method: 'fgsm',
      options: { method: 'fgsm', epsilons: [0.1] },
      shape: [4, H, W, 1],
      labels: Int32Array.from([0, 1, 0, 1]),
      before: { k: 1, labels: Int32Array.from([0, 1, 0, 0]), probs: new Float32Array(4).fill(1) },
      perEpsilon: [{ epsilon: 0.1, float: view([1, 1, 0, 1]), quantized: view([1, 1, 0, 1], [0.25, 0.75, 0.9, 0.1]) }],
    };
    const summary = summarizeAttack(result);
    expect(summary.perEpsilon[0].quantized.meanSurvival).toBeCloseTo(0.5, 6);
    expect(summary.perEpsilon[0].float.meanSurvival).toBeUndefined();
    // The attack table's count uses the same images: not image 3, which the model had wrong before.
    expect(fooledSurvival(result.perEpsilon[0].quantized, cleanCorrectMask(result))).toEqual({ fooled: 2, mean: 0.5, likely: 1 });
    expect(fooledSurvival(result.perEpsilon[0].float, cleanCorrectMask(result))).toBeUndefined();
  });
});

describe('the destruction rate predicted by survival estimates', () => {
  const top = (label: number) => [{ label, probability: 0.9 }, { label: (label + 1) % 10, probability: 0.1 }];
  const sample = (clean: number, adversarial: number, photo: number, survival?: number): ExperimentSample => ({
    method: 'bim', epsilon: 0.1, trueLabel: 3, clean: top(clean), adversarial: top(adversarial), transformedAdversarial: top(photo),
    ...(survival === undefined ? {} : { survival }),
  });

  it('is one minus the mean survival over the samples the measured rate counts, beside it', () => {
    // Counted: clean right, adversarial wrong (survival 0.2 and 0.6). Not counted: the attack failed
    // (survival 0.9), the clean image was wrong (survival 0).
    const [average] = experimentTable([sample(3, 5, 3, 0.2), sample(3, 5, 5, 0.6), sample(3, 3, 3, 0.9), sample(4, 5, 5, 0)]);
    expect(average.destructionTop1).toEqual({ rate: 0.5, destroyed: 1, eligible: 2 });
    expect(average.predictedDestructionTop1).toBeCloseTo(0.6, 6);
  });

  it('is null when a counted sample has no estimate, or nothing is counted', () => {
    expect(experimentTable([sample(3, 5, 3, 0.2), sample(3, 5, 5)])[0].predictedDestructionTop1).toBeNull();
    expect(experimentTable([sample(3, 3, 3, 0.2)])[0].predictedDestructionTop1).toBeNull();
    // A sample the rate does not count may lack one.
    expect(experimentTable([sample(3, 5, 3, 0.25), sample(3, 3, 3)])[0].predictedDestructionTop1).toBeCloseTo(0.75, 6);
  });
});

afterAll(() => {
  expect(tf.memory().numTensors).toBeLessThan(50);
});
