/**
 * BIM, the basic iterative method. Kurakin, Goodfellow & Bengio 2016, "Adversarial examples in the
 * physical world", §2.2.
 *
 *   X₀ = X,  X_{N+1} = Clip_{X,ε}{ X_N + α·sign(∇X J(X_N, y_true)) }   (targeted: − α·sign(∇X J(X_N, t)))
 *
 * Defaults from the paper: α = 1/255 (one grey level), steps = min(ε·255 + 4, 1.25·ε·255) rounded,
 * at least 1; loss 'ce'; norm 'linf' ('l2' takes L2-normalised steps and projects on the L2 ball).
 */
import { eotSettings, iterativeAttack } from './iterative.js';
import type { AttackChunk, ChunkOutcome } from './iterative.js';
import type { ResolvedOptions } from './options.js';
import { bimSchedule } from './schedule.js';

export async function bimChunk(chunk: AttackChunk, epsilon: number, o: ResolvedOptions): Promise<ChunkOutcome> {
  const targeted = o.criterion.kind === 'targeted';
  let cleanLogits: Float32Array | undefined;
  const adversarial = await iterativeAttack(
    chunk.classifier,
    chunk.images,
    targeted ? chunk.targets! : chunk.labels,
    { ...bimSchedule(epsilon, o), epsilon, norm: o.norm, loss: o.loss, targeted, firstGradient: chunk.firstGradient, onCleanLogits: chunk.cleanLogits ? undefined : (logits) => (cleanLogits = logits), eot: eotSettings(chunk, o, 0), momentum: o.momentum },
    chunk.onStep,
  );
  return cleanLogits ? { adversarial, cleanLogits } : { adversarial };
}
