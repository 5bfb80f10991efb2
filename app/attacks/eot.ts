/**
 * Expectation over Transformation (Athalye, Engstrom, Ilyas & Kwok 2018, "Synthesizing robust
 * adversarial examples", eq. 1-2): instead of the loss of the image itself, each step ascends the
 * loss averaged over N transformations t ~ T of the current image,
 *
 *   ∇x E_{t~T}[ J(t(x), y) ] ≈ (1/N) Σ_s ∇x J(t_s(x), y),   t_s drawn afresh at every step,
 *
 * with T the print-and-photo channel of a ChannelProfile (eot-channel.ts). The projection onto the
 * ε-ball stays as in iterative.ts, so BIM, least-likely and PGD keep their update rule and budget.
 *
 * Draws are seeded per image: image i at step k of restart r draws from (seed, indexOffset + i, r, k),
 * so results do not depend on batching or workers, and step 0 draws the same transformations at
 * every ε (the step-0 gradient memo of iterative.ts stays valid).
 *
 * With loss 'ce', losses.ts returns each image's CE gradient divided by (1 − p_y) (the float-safe
 * direction); averaged over draws, that is the gradient of Σ_s log((1 − p_y)/p_y) of each draw: a
 * draw the model still classifies confidently weighs more, which is what a robust attack needs.
 * With loss 'margin' and a confidence κ, each draw's margin is capped at κ before the average: the
 * expectation of Carlini & Wagner's f_6, so draws already fooled by κ drop out of the step and it
 * goes to the transformations under which the image is still (or barely not) classified right.
 *
 * Which iterate is returned (EotOptions.keep): the last, or per image the one most often adversarial
 * under its sampled transformations ('most-robust'), the expected adversariality by which Athalye et
 * al. judge success. Each step's gradient pass already runs the model on N draws of the current
 * iterate, so scoring it costs an argmax; only the final iterate takes one more (forward) pass.
 */
import * as tf from '@tensorflow/tfjs';
import type { Classifier } from '../engine/classifier.js';
import { defaultChannelProfile } from '../physical/channel-profile.js';
import type { ChannelProfile } from '../physical/channel-profile.js';
import { SeededRandom } from '../physical/random.js';
import { applyChannel, drawChannel } from './eot-channel.js';
import type { ChannelDraw } from './eot-channel.js';
import { inputGradient } from './iterative.js';
import { attackObjective } from './losses.js';
import { imageSeed } from './random-start.js';
import type { AttackLoss, EotKeep, EotOptions } from './types.js';

/** The layout's default printed cell (layout.ts cellMm): what a profile's millimetres are scaled to when none is given. */
export const DEFAULT_EOT_CELL_MM = 30;
/** At most this many input values go through the model in one EOT pass (draws are grouped up to it). */
const MAX_VALUES_PER_PASS = 2 ** 21;
/** Salt that keeps EOT's streams apart from PGD's random start, which uses (seed, image, restart) too. */
const EOT_STREAM = 0x454f54;

/** EOT as the iterative core runs it. */
export interface EotSettings {
  samples: number;
  channel: ChannelProfile;
  cellMm: number;
  seed: number;
  /** Global index of the chunk's first image. */
  firstImageIndex: number;
  /** Global index of each image of the batch, where it is not firstImageIndex + its position (a subset of the chunk). */
  imageIndices?: Int32Array;
  /** PGD restart (0 otherwise). */
  restart: number;
  /** Loss 'margin': each draw's margin capped at κ (EotOptions.confidence). */
  confidence?: number;
  /** Which iterate is returned (EotOptions.keep; absent: the last). */
  keep?: EotKeep;
  /** Extra steps for the fragile examples (EotOptions.refine; absent: none). */
  refine?: number;
  /**
   * At most this many transformed images per model pass: the gradient tapes that fit the memory budget
   * (chunk-size.ts). A chunk sized for one pass of its images would otherwise run its draws several
   * chunks at a time (a 224x224 model: 12 images' tapes where 3 fit). Absent: MAX_VALUES_PER_PASS alone.
   */
  imagesPerPass?: number;
  /** Salt of the draws' random streams (default: EOT's own); print survival draws from another. */
  stream?: number;
}

/** EOT options with the defaults filled in: the default channel profile, a 30 mm cell, no confidence cap, the last iterate, no extra steps. */
export function resolveEot(eot: EotOptions): { samples: number; channel: ChannelProfile; cellMm: number; confidence?: number; keep: EotKeep; refine: number } {
  return {
    samples: eot.samples,
    channel: eot.channel ?? defaultChannelProfile(),
    cellMm: eot.cellMm ?? DEFAULT_EOT_CELL_MM,
    ...(eot.confidence === undefined ? {} : { confidence: eot.confidence }),
    keep: eot.keep ?? 'last',
    refine: eot.refine ?? 0,
  };
}

/** The draws of step `step` for n images, sample-major: draw s of image i at s·n + i. */
export function eotDraws(s: EotSettings, n: number, height: number, width: number, step: number): ChannelDraw[] {
  const draws: ChannelDraw[] = new Array(s.samples * n);
  const geometry = { height, width, cellMm: s.cellMm };
  for (let i = 0; i < n; i++) {
    const image = s.imageIndices ? s.imageIndices[i] : s.firstImageIndex + i;
    const random = new SeededRandom(imageSeed(imageSeed(s.seed, image, s.restart), step, s.stream ?? EOT_STREAM));
    for (let k = 0; k < s.samples; k++) draws[k * n + i] = drawChannel(s.channel, geometry, random);
  }
  return draws;
}

/**
 * The draws of `step` for a batch of `shape`, in model passes of whole samples (all images of a sample
 * together, as many samples as fit both MAX_VALUES_PER_PASS and s.imagesPerPass): each pass's draws,
 * the image each draw transforms, and its sample count.
 */
export function* drawPasses(s: EotSettings, shape: readonly number[], step: number): Generator<{ group: ChannelDraw[]; sourceOf: Int32Array; count: number }> {
  const [n, height, width, channels] = shape;
  const draws = eotDraws(s, n, height, width, step);
  const byValues = Math.floor(MAX_VALUES_PER_PASS / Math.max(1, n * height * width * channels));
  const byTape = s.imagesPerPass === undefined ? Infinity : Math.floor(s.imagesPerPass / Math.max(1, n));
  const perPass = Math.max(1, Math.min(s.samples, byValues, byTape));
  for (let first = 0; first < s.samples; first += perPass) {
    const count = Math.min(perPass, s.samples - first);
    const group = draws.slice(first * n, (first + count) * n);
    yield { group, sourceOf: Int32Array.from(group, (_, b) => b % n), count };
  }
}

/**
 * Adds to counts[i] how many rows of `logits` (sample-major: row b is image b mod n) are adversarial:
 * untargeted, top-1 ≠ the class; targeted, top-1 = the target.
 */
export function countAdversarial(logits: tf.Tensor2D, classes: Int32Array, targeted: boolean, counts: Float32Array): void {
  const top1 = tf.tidy(() => logits.argMax(1));
  const predicted = top1.dataSync();
  top1.dispose();
  const n = counts.length;
  for (let b = 0; b < predicted.length; b++) {
    if ((predicted[b] === classes[b % n]) === targeted) counts[b % n]++;
  }
}

/**
 * (1/N) Σ_s ∇x objective(t_s(x)) for a batch x [n,H,W,C]: the draws of `step` are run through the
 * model in groups of whole samples (all images of a sample together), as many per pass as fit.
 * With `adversarialDraws` (length n), adds to it per image how many of the draws the model got wrong
 * (targeted: took for the target), read off the logits of the same pass.
 */
export function eotGradient(
  classifier: Classifier,
  x: tf.Tensor4D,
  classes: tf.Tensor1D,
  loss: AttackLoss,
  targeted: boolean,
  s: EotSettings,
  step: number,
  adversarialDraws?: Float32Array,
): tf.Tensor4D {
  const classValues = adversarialDraws && (classes.dataSync() as Int32Array);
  let sum: tf.Tensor4D | undefined;
  try {
    for (const { group, sourceOf, count } of drawPasses(s, x.shape, step)) {
      const tiled = count === 1 ? classes : (tf.tile(classes, [count]) as tf.Tensor1D);
      const objective = (logits: tf.Tensor2D) => {
        if (adversarialDraws) countAdversarial(logits, classValues!, targeted, adversarialDraws);
        return attackObjective(logits, tiled, loss, targeted, s.confidence);
      };
      try {
        const g = inputGradient(classifier, x, objective, (xi) => applyChannel(xi, group, sourceOf, s.channel));
        if (sum) {
          const next = sum.add(g) as tf.Tensor4D;
          sum.dispose();
          g.dispose();
          sum = next;
        } else sum = g;
      } finally {
        if (tiled !== classes) tiled.dispose();
      }
    }
    const total = sum!;
    sum = undefined;
    if (s.samples === 1) return total;
    const mean = total.div(s.samples) as tf.Tensor4D;
    total.dispose();
    return mean;
  } finally {
    sum?.dispose();
  }
}

/**
 * Per image, how many of the draws of `step` the model gets wrong (targeted: takes for the target):
 * a forward pass only, for an iterate no gradient pass has seen (the last one).
 */
export function eotAdversarialDraws(classifier: Classifier, x: tf.Tensor4D, classes: Int32Array, targeted: boolean, s: EotSettings, step: number): Float32Array {
  const counts = new Float32Array(x.shape[0]);
  for (const { group, sourceOf } of drawPasses(s, x.shape, step)) {
    const logits = tf.tidy(() => classifier.logits(applyChannel(x, group, sourceOf, s.channel)));
    try {
      countAdversarial(logits, classes, targeted, counts);
    } finally {
      logits.dispose();
    }
  }
  return counts;
}

/**
 * Keeps per image the iterate most often adversarial under its draws (ties: the later one), as
 * iterates are offered in step order: EotOptions.keep 'most-robust'.
 */
export class MostRobustIterate {
  readonly images: Float32Array;
  /** Per image: adversarial draws of the kept iterate (−1 before any). */
  readonly adversarialDraws: Float32Array;

  constructor(n: number, size: number) {
    this.images = new Float32Array(n * size);
    this.adversarialDraws = new Float32Array(n).fill(-1);
  }

  /** `only`: offer just the images it marks (the rest of `iterate` is ignored). */
  offer(iterate: Float32Array, adversarialDraws: Float32Array, only?: Uint8Array): void {
    const n = adversarialDraws.length;
    const size = n === 0 ? 0 : iterate.length / n;
    for (let i = 0; i < n; i++) {
      if ((only && !only[i]) || adversarialDraws[i] < this.adversarialDraws[i]) continue;
      this.adversarialDraws[i] = adversarialDraws[i];
      this.images.set(iterate.subarray(i * size, (i + 1) * size), i * size);
    }
  }
}
