/**
 * How adversarial images are judged: top-k after the attack, the success flag of the criterion and
 * the perturbation norms, once on the float images and once after 8-bit quantisation, the form
 * saved to PNG and printed (an attack that only works in float does not survive saving).
 */
import type { Classifier } from '../engine/classifier.js';
import { predictLogits, topKFromLogits } from '../engine/predict.js';
import type { TopK } from './types.js';
import type { AdversarialView } from './types.js';

/** The 8-bit levels k/255 as float32, what round(x·255)/255 stores. */
const LEVELS = Float32Array.from({ length: 256 }, (_, k) => k / 255);

/**
 * round(x·255)/255 per pixel, half away from zero as an 8-bit PNG writer rounds (Math.round), into
 * `out` (default: a new array). On [0,1] it is a table read: x·255 is exact in float64 (a float32
 * times 255 needs 32 bits), so x·255 + 0.5 never rounds up onto the next integer and truncating it
 * is Math.round (checked against the formula on every float32 in [0,1]); about a third faster on a
 * chunk of 256 digits. A zero stays itself, sign included (as round(±0)/255 does), and values outside
 * [0,1] (and NaN) take the formula.
 */
export function quantize8bit(images: Float32Array, out = new Float32Array(images.length)): Float32Array {
  for (let i = 0; i < images.length; i++) {
    const x = images[i];
    out[i] = x > 0 && x <= 1 ? LEVELS[(x * 255 + 0.5) | 0] : x === 0 ? x : Math.round(x * 255) / 255;
  }
  return out;
}

/** Per-image ‖adv − clean‖∞ and ‖adv − clean‖₂ (accumulated in float64). */
export function perturbationNorms(clean: Float32Array, adversarial: Float32Array, n: number): { linf: Float32Array; l2: Float32Array } {
  const linf = new Float32Array(n);
  const l2 = new Float32Array(n);
  const size = n === 0 ? 0 : clean.length / n;
  for (let i = 0; i < n; i++) {
    let max = 0;
    let sq = 0;
    for (let j = i * size; j < (i + 1) * size; j++) {
      const d = Math.abs(adversarial[j] - clean[j]);
      if (d > max) max = d;
      sq += d * d;
    }
    linf[i] = max;
    l2[i] = Math.sqrt(sq);
  }
  return { linf, l2 };
}

export interface ViewCriterion {
  labels: Int32Array;
  /** Targets (targeted criterion or least-likely classes): fills targetHit. */
  targets?: Int32Array;
  /** Success means top-1 = target (targeted) rather than top-1 ≠ label. */
  targeted: boolean;
}

/**
 * The float view and the 8-bit view of one chunk of adversarial images, and with `scoreClean` the
 * clean images' logits too, scored in one forward pass over all of them (3n images rather than three
 * passes of n: fewer kernel launches, the same per-image logits, since no layer mixes images). On
 * LeNet at n = 256 (one WASM thread, 2-core machine under load, fastest of 20-25) one pass of 768 took
 * 76 ms of CPU against 84 for three of 256, and a whole FGSM chunk 234 against 246 ms.
 */
export function evaluateViews(
  classifier: Classifier,
  clean: Float32Array,
  adversarial: Float32Array,
  criterion: ViewCriterion,
  k: number,
  batchSize: number,
  scoreClean = false,
): { float: AdversarialView; quantized: AdversarialView; quantizedImages: Float32Array; cleanLogits?: Float32Array } {
  // [clean,] float, 8-bit: the 8-bit view is quantised straight into its place in the batch.
  const parts = scoreClean ? 3 : 2;
  const size = adversarial.length;
  const all = new Float32Array(size * parts);
  if (scoreClean) all.set(clean);
  all.set(adversarial, (parts - 2) * size);
  const quantized = quantize8bit(adversarial, all.subarray((parts - 1) * size));
  const n = criterion.labels.length;
  const logits = predictLogits(classifier, all, Math.max(batchSize, parts * n));
  const rows = n * classifier.numClasses;
  const first = scoreClean ? rows : 0;
  const views = {
    float: judgeView(topKFromLogits(logits.subarray(first, first + rows), classifier.numClasses, k), clean, adversarial, criterion),
    quantized: judgeView(topKFromLogits(logits.subarray(first + rows), classifier.numClasses, k), clean, quantized, criterion),
    // The 8-bit images themselves, for the print survival estimate (a view of the batch scored here).
    quantizedImages: quantized,
  };
  return scoreClean ? { ...views, cleanLogits: logits.subarray(0, rows) } : views;
}

function judgeView(after: TopK, clean: Float32Array, adversarial: Float32Array, criterion: ViewCriterion): AdversarialView {
  const n = criterion.labels.length;
  const k = after.k;
  const success = new Uint8Array(n);
  const targetHit = criterion.targets ? new Uint8Array(n) : undefined;
  for (let i = 0; i < n; i++) {
    const top1 = after.labels[i * k];
    success[i] = criterion.targeted ? Number(top1 === criterion.targets![i]) : Number(top1 !== criterion.labels[i]);
    if (targetHit) targetHit[i] = Number(top1 === criterion.targets![i]);
  }
  const view: AdversarialView = { after, success, ...perturbationNorms(clean, adversarial, n) };
  if (targetHit) view.targetHit = targetHit;
  return view;
}

/** An empty view for n images, filled chunk by chunk with writeView. */
export function allocateView(n: number, k: number, withTargets: boolean, withSurvival = false): AdversarialView {
  const view: AdversarialView = {
    after: { k, labels: new Int32Array(n * k), probs: new Float32Array(n * k) },
    success: new Uint8Array(n),
    linf: new Float32Array(n),
    l2: new Float32Array(n),
  };
  if (withTargets) view.targetHit = new Uint8Array(n);
  if (withSurvival) view.survival = new Float32Array(n);
  return view;
}

/** Copies a chunk's view into the whole-run view at image `offset`. */
export function writeView(into: AdversarialView, chunk: AdversarialView, offset: number): void {
  const k = into.after.k;
  into.after.labels.set(chunk.after.labels, offset * k);
  into.after.probs.set(chunk.after.probs, offset * k);
  into.success.set(chunk.success, offset);
  into.linf.set(chunk.linf, offset);
  into.l2.set(chunk.l2, offset);
  if (into.targetHit && chunk.targetHit) into.targetHit.set(chunk.targetHit, offset);
  if (into.survival && chunk.survival) into.survival.set(chunk.survival, offset);
}
