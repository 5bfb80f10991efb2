/**
 * DeepFool, multi-class, L2. Moosavi-Dezfooli, Fawzi & Frossard 2016, "DeepFool: a simple and
 * accurate method to fool deep neural networks", Algorithm 2.
 *
 *   w_k = ∇f_k(x_i) − ∇f_y(x_i), f'_k = f_k(x_i) − f_y(x_i), l = argmin_k |f'_k|/‖w_k‖₂,
 *   r_i = (|f'_l| + 1e-4)/‖w_l‖₂²·w_l,  x_{i+1} = clip(x + (1+η)·Σ r_i, 0, 1)
 *
 * until the top-1 leaves the true label y or maxIterations. Candidates k are the top `candidates`
 * classes of the clean logits other than y (the reference implementation's I[1:num_classes]).
 * Images already misclassified are left unchanged (0 iterations). DeepFool has no budget ε: runAttack
 * runs it once and reports the same result under every ε of the list.
 * Defaults: overshoot η = 0.02, maxIterations 50, candidates 10 (at most numClasses).
 */
import * as tf from '@tensorflow/tfjs';
import { predictLogits } from '../engine/predict.js';
import { imageL2Norm, inputGradient } from './iterative.js';
import type { AttackChunk, ChunkOutcome } from './iterative.js';
import type { ResolvedOptions } from './options.js';

/** The 1e-4 of Algorithm 2's reference code: lands just past the linearised boundary, not on it. */
const BOUNDARY_STEP = 1e-4;
const TINY = 1e-12;

/** Per image, the `count` classes with the largest clean logits other than its label, rank-major. */
function candidateClasses(logits: Float32Array, labels: Int32Array, numClasses: number, count: number): Int32Array[] {
  const n = labels.length;
  const byRank = Array.from({ length: count }, () => new Int32Array(n));
  const order = Array.from({ length: numClasses }, (_, k) => k);
  for (let i = 0; i < n; i++) {
    const row = logits.subarray(i * numClasses, (i + 1) * numClasses);
    order.sort((a, b) => row[b] - row[a] || a - b);
    let rank = 0;
    for (const k of order) {
      if (rank === count) break;
      if (k !== labels[i]) byRank[rank++][i] = k;
    }
  }
  return byRank;
}

function top1Of(logits: Float32Array, numClasses: number, i: number): number {
  let best = 0;
  for (let k = 1; k < numClasses; k++) if (logits[i * numClasses + k] > logits[i * numClasses + best]) best = k;
  return best;
}

/** The images of the chunk still classified as their label, and their tensors (row j = image ids[j]). */
interface WorkingSet {
  ids: number[];
  clean: tf.Tensor4D;
  x: tf.Tensor4D;
  total: tf.Tensor4D;
  labels: tf.Tensor1D;
  candidates: tf.Tensor1D[];
}

function disposeWorkingSet(w: WorkingSet): void {
  tf.dispose([w.clean, w.x, w.total, w.labels, ...w.candidates]);
}

/** Keeps rows `keep` of every tensor of the working set (the images that are not fooled yet). */
function shrinkWorkingSet(w: WorkingSet, keep: number[]): WorkingSet {
  const rows = tf.tensor1d(keep, 'int32');
  try {
    return {
      ids: keep.map((j) => w.ids[j]),
      clean: tf.gather(w.clean, rows),
      x: tf.gather(w.x, rows),
      total: tf.gather(w.total, rows),
      labels: tf.gather(w.labels, rows),
      candidates: w.candidates.map((c) => tf.gather(c, rows)),
    };
  } finally {
    rows.dispose();
    disposeWorkingSet(w);
  }
}

/**
 * One DeepFool iteration on the working set: the linearised distance to every candidate boundary,
 * the nearest one, and the step that crosses it. Returns the new Σr and the new iterate.
 */
function deepfoolStep(classifier: AttackChunk['classifier'], w: WorkingSet, overshoot: number): { total: tf.Tensor4D; x: tf.Tensor4D } {
  const m = w.ids.length;
  const numClasses = classifier.numClasses;
  return tf.tidy(() => {
    const ownHot = tf.oneHot(w.labels, numClasses).toFloat();
    const z = classifier.logits(w.x);
    const ownLogit = z.mul(ownHot).sum(1);
    let bestRatio: tf.Tensor1D | undefined;
    let bestF: tf.Tensor1D | undefined;
    let bestW: tf.Tensor4D | undefined;
    for (const classes of w.candidates) {
      const otherHot = tf.oneHot(classes, numClasses).toFloat();
      const f = z.mul(otherHot).sum(1).sub(ownLogit) as tf.Tensor1D;
      const grad = inputGradient(classifier, w.x, (logits) => logits.mul(otherHot).sum(1).sub(logits.mul(ownHot).sum(1)) as tf.Tensor1D);
      const ratio = f.abs().div(imageL2Norm(grad).reshape([m]).maximum(TINY)) as tf.Tensor1D;
      if (!bestRatio || !bestF || !bestW) {
        [bestRatio, bestF, bestW] = [ratio, f, grad];
        continue;
      }
      const closer = ratio.less(bestRatio);
      bestRatio = tf.where(closer, ratio, bestRatio);
      bestF = tf.where(closer, f, bestF);
      // tf.where broadcasts numpy-style: the per-image condition must be [m,1,1,1], not [m].
      bestW = tf.where(closer.reshape([m, 1, 1, 1]), grad, bestW);
    }
    const scale = bestF!.abs().add(BOUNDARY_STEP).reshape([m, 1, 1, 1]).div(imageL2Norm(bestW!).square().maximum(TINY));
    const total = w.total.add(bestW!.mul(scale)) as tf.Tensor4D;
    return { total, x: w.clean.add(total.mul(1 + overshoot)).clipByValue(0, 1) as tf.Tensor4D };
  });
}

export async function deepfoolChunk(chunk: AttackChunk, o: ResolvedOptions): Promise<ChunkOutcome> {
  const { classifier, images, labels, onStep } = chunk;
  const n = labels.length;
  const size = n === 0 ? 0 : images.length / n;
  const numClasses = classifier.numClasses;
  const cleanLogits = chunk.cleanLogits ?? predictLogits(classifier, images, o.batchSize);
  const candidates = candidateClasses(cleanLogits, labels, numClasses, o.candidates - 1);
  // Misclassified images are already adversarial: they keep their clean pixels and 0 iterations.
  const adversarial = new Float32Array(images);
  const iterations = new Int32Array(n);
  const ids: number[] = [];
  for (let i = 0; i < n; i++) if (top1Of(cleanLogits, numClasses, i) === labels[i]) ids.push(i);
  const budget = n * o.maxIterations;
  let reported = 0;
  if (ids.length === 0) {
    if (budget > 0) await onStep(budget);
    return { adversarial, iterations };
  }

  const rows = new Float32Array(ids.length * size);
  ids.forEach((i, j) => rows.set(images.subarray(i * size, (i + 1) * size), j * size));
  const clean = tf.tensor4d(rows, [ids.length, ...classifier.inputShape]);
  let w: WorkingSet = {
    ids,
    clean,
    x: clean.clone(),
    total: tf.zerosLike(clean),
    labels: tf.tensor1d(ids.map((i) => labels[i]), 'int32'),
    candidates: candidates.map((classes) => tf.tensor1d(ids.map((i) => classes[i]), 'int32')),
  };
  /** Copies the current iterate of working rows `js` into the result. */
  const settle = (js: number[]): void => {
    const current = w.x.dataSync();
    for (const j of js) adversarial.set(current.subarray(j * size, (j + 1) * size), w.ids[j] * size);
  };
  try {
    for (let iteration = 0; iteration < o.maxIterations && w.ids.length > 0; iteration++) {
      const next = deepfoolStep(classifier, w, o.overshoot);
      tf.dispose([w.total, w.x]);
      w.total = next.total;
      w.x = next.x;
      const logits = tf.tidy(() => classifier.logits(w.x));
      let current: Float32Array;
      try {
        current = logits.dataSync() as Float32Array;
      } finally {
        logits.dispose();
      }
      const fooled: number[] = [];
      const keep: number[] = [];
      w.ids.forEach((i, j) => {
        iterations[i]++;
        (top1Of(current, numClasses, j) !== labels[i] ? fooled : keep).push(j);
      });
      if (fooled.length > 0) {
        settle(fooled);
        // Only the images not fooled yet go on: each iteration costs in proportion to them.
        w = shrinkWorkingSet(w, keep);
      }
      reported += fooled.length + keep.length;
      await onStep(fooled.length + keep.length);
    }
    // The images left hit maxIterations: their last iterate is the result.
    settle(w.ids.map((_, j) => j));
    // Images that stopped early did their share of the maxIterations budget.
    if (reported < budget) await onStep(budget - reported);
    return { adversarial, iterations };
  } finally {
    disposeWorkingSet(w);
  }
}
