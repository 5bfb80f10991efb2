/**
 * FGSM, the fast gradient sign method. Goodfellow, Shlens & Szegedy 2014, "Explaining and
 * Harnessing Adversarial Examples", eq. (3).
 *
 *   untargeted: x_adv = clip_[0,1](x + ε·sign(∇x J(x, y)));   targeted: x − ε·sign(∇x J(x, t))
 *
 * The one-step case of the iterative core (step size α = ε, no random start), as Foolbox's
 * LinfFastGradientAttack. Defaults: loss 'ce'; norm 'linf' ('l2' gives the fast gradient method
 * x + ε·∇J/‖∇J‖₂).
 */
import { iterativeAttack } from './iterative.js';
import type { AttackChunk, ChunkOutcome } from './iterative.js';
import type { ResolvedOptions } from './options.js';
import { fgsmSchedule } from './schedule.js';

export async function fgsmChunk(chunk: AttackChunk, epsilon: number, o: ResolvedOptions): Promise<ChunkOutcome> {
  const targeted = o.criterion.kind === 'targeted';
  let cleanLogits: Float32Array | undefined;
  const adversarial = await iterativeAttack(
    chunk.classifier,
    chunk.images,
    targeted ? chunk.targets! : chunk.labels,
    { ...fgsmSchedule(epsilon), epsilon, norm: o.norm, loss: o.loss, targeted, firstGradient: chunk.firstGradient, onCleanLogits: chunk.cleanLogits ? undefined : (logits) => (cleanLogits = logits) },
    chunk.onStep,
  );
  return cleanLogits ? { adversarial, cleanLogits } : { adversarial };
}
