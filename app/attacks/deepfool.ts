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

export async function deepfoolChunk(chunk: AttackChunk, o: ResolvedOptions): Promise<ChunkOutcome> {
  const { classifier, images, labels, onStep } = chunk;
  const n = labels.length;
  const numClasses = classifier.numClasses;
  const shape: [number, number, number, number] = [n, ...classifier.inputShape];
  const cleanLogits = predictLogits(classifier, images, o.batchSize);
  const candidates = candidateClasses(cleanLogits, labels, numClasses, o.candidates - 1);
  const active = new Uint8Array(n);
  for (let i = 0; i < n; i++) active[i] = Number(top1Of(cleanLogits, numClasses, i) === labels[i]);
  const iterations = new Int32Array(n);

  const clean = tf.tensor4d(images, shape);
  const labelTensor = tf.tensor1d(labels, 'int32');
  const candidateTensors = candidates.map((classes) => tf.tensor1d(classes, 'int32'));
  let totalPerturbation: tf.Tensor4D = tf.zeros(shape);
  let x: tf.Tensor4D = clean.clone();
  try {
    let iteration = 0;
    for (; iteration < o.maxIterations && active.some((a) => a === 1); iteration++) {
      const mask = Float32Array.from(active);
      const next = tf.tidy(() => {
        const ownHot = tf.oneHot(labelTensor, numClasses).toFloat();
        const z = classifier.logits(x);
        const ownLogit = z.mul(ownHot).sum(1);
        let bestRatio: tf.Tensor1D | undefined;
        let bestF: tf.Tensor1D | undefined;
        let bestW: tf.Tensor4D | undefined;
        for (const classes of candidateTensors) {
          const otherHot = tf.oneHot(classes, numClasses).toFloat();
          const f = z.mul(otherHot).sum(1).sub(ownLogit) as tf.Tensor1D;
          const w = inputGradient(classifier, x, (logits) => logits.mul(otherHot).sum(1).sub(logits.mul(ownHot).sum(1)) as tf.Tensor1D);
          const ratio = f.abs().div(imageL2Norm(w).reshape([n]).maximum(TINY)) as tf.Tensor1D;
          if (!bestRatio || !bestF || !bestW) {
            [bestRatio, bestF, bestW] = [ratio, f, w];
            continue;
          }
          const closer = ratio.less(bestRatio);
          bestRatio = tf.where(closer, ratio, bestRatio);
          bestF = tf.where(closer, f, bestF);
          // tf.where broadcasts numpy-style: the per-image condition must be [n,1,1,1], not [n].
          bestW = tf.where(closer.reshape([n, 1, 1, 1]), w, bestW);
        }
        const wNorm = imageL2Norm(bestW!);
        const scale = bestF!.abs().add(BOUNDARY_STEP).reshape([n, 1, 1, 1]).div(wNorm.square().maximum(TINY));
        const step = bestW!.mul(scale).mul(tf.tensor4d(mask, [n, 1, 1, 1]));
        const total = totalPerturbation.add(step) as tf.Tensor4D;
        return { total, x: clean.add(total.mul(1 + o.overshoot)).clipByValue(0, 1) as tf.Tensor4D };
      });
      totalPerturbation.dispose();
      totalPerturbation = next.total;
      x.dispose();
      x = next.x;
      const logits = tf.tidy(() => classifier.logits(x));
      let current: Float32Array;
      try {
        current = logits.dataSync() as Float32Array;
      } finally {
        logits.dispose();
      }
      for (let i = 0; i < n; i++) {
        if (!active[i]) continue;
        iterations[i]++;
        if (top1Of(current, numClasses, i) !== labels[i]) active[i] = 0;
      }
      await onStep(n);
    }
    // Images that stopped early did their share of the maxIterations budget.
    if (iteration < o.maxIterations && n > 0) await onStep(n * (o.maxIterations - iteration));
    return { adversarial: new Float32Array(x.dataSync()), iterations };
  } finally {
    x.dispose();
    totalPerturbation.dispose();
    clean.dispose();
    labelTensor.dispose();
    for (const t of candidateTensors) t.dispose();
  }
}
