/**
 * Iterative least-likely class method. Kurakin, Goodfellow & Bengio 2016, "Adversarial examples in
 * the physical world", §2.2.
 *
 *   y_LL = argmin_y p(y|X) on the clean image,  X_{N+1} = Clip_{X,ε}{ X_N − α·sign(∇X J(X_N, y_LL)) }
 *
 * Success is reported as misclassification of the true label (as in the paper's accuracy tables);
 * y_LL goes into AttackResult.targets and whether it was reached into AdversarialView.targetHit.
 * Defaults as BIM: α = 1/255, steps = min(ε·255 + 4, 1.25·ε·255); loss 'ce'; norm 'linf'.
 */
import type { Classifier } from '../engine/classifier.js';
import { predictLogits } from '../engine/predict.js';
import { eotSettings, iterativeAttack } from './iterative.js';
import type { AttackChunk, ChunkOutcome } from './iterative.js';
import type { ResolvedOptions } from './options.js';
import { bimSchedule } from './schedule.js';

/** argmin_y p(y|x) per image; softmax is monotone, so this is the argmin of the logits (lowest index on ties). */
export function leastLikelyClasses(classifier: Classifier, images: Float32Array, batchSize?: number): Int32Array {
  return leastLikelyFromLogits(predictLogits(classifier, images, batchSize), classifier.numClasses);
}

/** The least-likely class of each row of row-major logits [n, c] (ties: the lower index). */
export function leastLikelyFromLogits(logits: Float32Array, c: number): Int32Array {
  const n = logits.length / c;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < c; k++) if (logits[i * c + k] < logits[i * c + best]) best = k;
    out[i] = best;
  }
  return out;
}

export async function leastLikelyChunk(chunk: AttackChunk, epsilon: number, o: ResolvedOptions): Promise<ChunkOutcome> {
  const adversarial = await iterativeAttack(
    chunk.classifier,
    chunk.images,
    chunk.targets!,
    { ...bimSchedule(epsilon, o), epsilon, norm: o.norm, loss: o.loss, targeted: true, eot: eotSettings(chunk, o, 0), momentum: o.momentum },
    chunk.onStep,
  );
  return { adversarial };
}
