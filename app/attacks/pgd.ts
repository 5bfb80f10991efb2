/**
 * PGD, projected gradient descent. Madry, Makelov, Schmidt, Tsipras & Vladu 2017, "Towards Deep
 * Learning Models Resistant to Adversarial Attacks", eq. (2).
 *
 *   x₀ = x + U(B_ε),  x_{t+1} = Π_{x+B_ε ∩ [0,1]}( x_t + α·sign(∇x L(x_t, y)) )   (L2: α·∇L/‖∇L‖₂)
 *
 * Targeted and untargeted, L∞ and L2, random restarts (per image the restart that succeeds is kept,
 * else the one with the highest objective; with EOT, first the one that the most of one common set of
 * channel draws misclassify, since a robust-to-print run is judged by that and not by the image itself). The random start of image i is drawn from
 * (seed, indexOffset + i, restart), so it does not depend on batching or workers.
 * Defaults: steps 40, α = 2.5·ε/steps, random start on, restarts 1, seed 0, loss 'ce', norm 'linf'.
 */
import * as tf from '@tensorflow/tfjs';
import { eotAdversarialDraws } from './eot.js';
import { eotSettings, iterativeAttack, scoreImages } from './iterative.js';
import type { AttackChunk, ChunkOutcome } from './iterative.js';
import type { ResolvedOptions } from './options.js';
import { randomStartPerturbations } from './random-start.js';
import { pgdSchedule } from './schedule.js';

export async function pgdChunk(chunk: AttackChunk, epsilon: number, o: ResolvedOptions): Promise<ChunkOutcome> {
  const { classifier, images, labels } = chunk;
  const targeted = o.criterion.kind === 'targeted';
  const classes = targeted ? chunk.targets! : labels;
  const n = labels.length;
  const size = n === 0 ? 0 : images.length / n;
  const schedule = pgdSchedule(epsilon, o);
  let best: Float32Array | undefined;
  let bestSuccess: Uint8Array = new Uint8Array(n);
  let bestObjective: Float32Array = new Float32Array(n);
  let bestRobust: Float32Array = new Float32Array(n);
  for (let restart = 0; restart < o.restarts; restart++) {
    const start = o.randomStart
      ? randomStartPerturbations(n, size, epsilon, o.norm, o.seed, chunk.firstImageIndex, restart)
      : undefined;
    const adversarial = await iterativeAttack(
      classifier,
      images,
      classes,
      { ...schedule, epsilon, norm: o.norm, loss: o.loss, targeted, start, eot: eotSettings(chunk, o, restart), momentum: o.momentum },
      chunk.onStep,
    );
    if (o.restarts === 1) return { adversarial };
    const { objective, top1 } = scoreImages(classifier, adversarial, classes, o.loss, targeted);
    const success = new Uint8Array(n);
    for (let i = 0; i < n; i++) success[i] = targeted ? Number(top1[i] === classes[i]) : Number(top1[i] !== classes[i]);
    const robust = o.eot ? robustness(chunk, adversarial, classes, targeted, o, schedule.steps) : new Float32Array(n);
    if (!best) {
      best = adversarial;
      bestSuccess = success;
      bestObjective = objective;
      bestRobust = robust;
      continue;
    }
    for (let i = 0; i < n; i++) {
      const better =
        robust[i] > bestRobust[i] ||
        (robust[i] === bestRobust[i] && (success[i] > bestSuccess[i] || (success[i] === bestSuccess[i] && objective[i] > bestObjective[i])));
      if (!better) continue;
      best.set(adversarial.subarray(i * size, (i + 1) * size), i * size);
      bestSuccess[i] = success[i];
      bestObjective[i] = objective[i];
      bestRobust[i] = robust[i];
    }
  }
  return { adversarial: best ?? new Float32Array(images) };
}

/**
 * Per image, how many EOT draws misclassify (targeted: take for the target) a restart's result. Every
 * restart is scored on the same draws, restart 0's of the step after the last, which no restart's
 * own steps used: its counts compare restarts without favouring the one whose draws they were.
 */
function robustness(chunk: AttackChunk, adversarial: Float32Array, classes: Int32Array, targeted: boolean, o: ResolvedOptions, steps: number): Float32Array {
  const x = tf.tensor4d(adversarial, [classes.length, ...chunk.classifier.inputShape]);
  try {
    return eotAdversarialDraws(chunk.classifier, x, classes, targeted, eotSettings(chunk, o, 0)!, steps + 1);
  } finally {
    x.dispose();
  }
}
