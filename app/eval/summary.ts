/**
 * What a sweep reports (`foolprint sweep --json`): per ε, for the float images and for the same
 * images saved to 8 bits, the accuracy over all evaluated images, the success rate and the mean
 * perturbation norms.
 *
 * - accuracy: images whose top-1 after the attack is the true label, over ALL images (a clean-
 *   misclassified image counts as wrong), the figure of the seed's FGSM table.
 * - successRate: images where the attack succeeded (untargeted: top-1 ≠ label; targeted: top-1 =
 *   target) over the images the model classified correctly before the attack; 0 when there are none.
 * - meanLinf, meanL2: mean ‖x_adv − x‖ over all images, in [0,1] pixel units.
 * - meanSurvival (with AttackOptions.survival, 8-bit view): mean print survival over the images the
 *   attack fooled that the model had right (the cells Kurakin's destruction rate counts): one minus it
 *   is the destruction rate the channel predicts; 0 when the attack fooled none.
 * - protected (a model behind a detector only): what the protected model accepted right, accepted
 *   wrong and rejected, apart from the figures above, which stay the classifier's own.
 */
import type { AdversarialView, AttackMethod, AttackResult, TopK } from '../attacks/types.js';
import { protectedCounts } from './rejections.js';
import type { AttackRejections, ProtectedCounts } from './rejections.js';

export interface ViewSummary {
  accuracy: number;
  successRate: number;
  meanLinf: number;
  meanL2: number;
  /** Targeted and least-likely attacks: share of ALL images whose top-1 is the target. */
  targetHitRate?: number;
  /** A protected model's counts on these adversarial images (rejected = detections). */
  protected?: ProtectedCounts;
  /** With a survival estimate: its mean over the clean-correct images the attack fooled. */
  meanSurvival?: number;
}

export interface EpsilonSummary {
  epsilon: number;
  float: ViewSummary;
  quantized: ViewSummary;
  /** Mean iterations per image (DeepFool) or the step count (iterative methods). */
  meanIterations?: number;
}

export interface AttackSummary {
  method: AttackMethod;
  /** Images evaluated. */
  count: number;
  /** Clean top-1 accuracy. */
  cleanAccuracy: number;
  /** Images correctly classified before the attack: the denominator of successRate. */
  cleanCorrect: number;
  targeted: boolean;
  /** A protected model's counts on the clean images (rejected = false positives). */
  cleanProtected?: ProtectedCounts;
  perEpsilon: EpsilonSummary[];
}

function mean(values: ArrayLike<number>, n: number): number {
  if (n === 0) return 0;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i];
  return sum / n;
}

/** Per image: the model classified it right before the attack (the denominator of successRate). */
export function cleanCorrectMask(result: Pick<AttackResult, 'labels' | 'before'>): Uint8Array {
  const { labels, before } = result;
  return Uint8Array.from(labels, (label, i) => Number(before.labels[i * before.k] === label));
}

/**
 * The print survival estimates of a view (AttackOptions.survival) over the images a destruction rate
 * counts, those the model had right and the attack fooled: how many (`fooled`), their mean (0 when
 * there are none) and how many reach one half (`likely`). Undefined for a view without estimates.
 */
export function fooledSurvival(view: AdversarialView, cleanCorrect: Uint8Array): { fooled: number; mean: number; likely: number } | undefined {
  if (!view.survival) return undefined;
  let fooled = 0;
  let sum = 0;
  let likely = 0;
  for (let i = 0; i < cleanCorrect.length; i++) {
    if (!cleanCorrect[i] || !view.success[i]) continue;
    fooled++;
    sum += view.survival[i];
    if (view.survival[i] >= 0.5) likely++;
  }
  return { fooled, mean: fooled === 0 ? 0 : sum / fooled, likely };
}

function summarizeView(view: AdversarialView, labels: Int32Array, cleanCorrect: Uint8Array, cleanCorrectCount: number, rejected?: Uint8Array): ViewSummary {
  const n = labels.length;
  const k = view.after.k;
  let correct = 0;
  let succeeded = 0;
  for (let i = 0; i < n; i++) {
    if (view.after.labels[i * k] === labels[i]) correct++;
    if (cleanCorrect[i] && view.success[i]) succeeded++;
  }
  const summary: ViewSummary = {
    accuracy: n === 0 ? 0 : correct / n,
    successRate: cleanCorrectCount === 0 ? 0 : succeeded / cleanCorrectCount,
    meanLinf: mean(view.linf, n),
    meanL2: mean(view.l2, n),
  };
  if (view.targetHit) summary.targetHitRate = mean(view.targetHit, n);
  const survival = fooledSurvival(view, cleanCorrect);
  if (survival) summary.meanSurvival = survival.mean;
  if (rejected) summary.protected = protectedCounts(rejected, (i) => view.after.labels[i * k] === labels[i]);
  return summary;
}

/** `result.rejections`: the detector's verdicts when the model is a protected one (app/node/protected-pool.ts). */
export function summarizeAttack(result: AttackResult & { rejections?: AttackRejections }): AttackSummary {
  const { labels } = result;
  const n = labels.length;
  const cleanCorrect = cleanCorrectMask(result);
  const cleanCorrectCount = cleanCorrect.reduce((sum, c) => sum + c, 0);
  const { rejections } = result;
  return {
    method: result.method,
    count: n,
    cleanAccuracy: n === 0 ? 0 : cleanCorrectCount / n,
    cleanCorrect: cleanCorrectCount,
    targeted: result.options.criterion?.kind === 'targeted',
    ...(rejections ? { cleanProtected: protectedCounts(rejections.clean, (i) => cleanCorrect[i] === 1) } : {}),
    perEpsilon: result.perEpsilon.map((e, index) => {
      const summary: EpsilonSummary = {
        epsilon: e.epsilon,
        float: summarizeView(e.float, labels, cleanCorrect, cleanCorrectCount, rejections?.perEpsilon[index].float),
        quantized: summarizeView(e.quantized, labels, cleanCorrect, cleanCorrectCount, rejections?.perEpsilon[index].quantized),
      };
      if (e.iterations) summary.meanIterations = mean(e.iterations, n);
      return summary;
    }),
  };
}

/** Fraction of images whose true label is among their first k predictions (0 for no images). */
export function topKAccuracy(top: TopK, labels: ArrayLike<number>, k: number): number {
  const depth = Math.min(k, top.k);
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    for (let j = 0; j < depth; j++) {
      if (top.labels[i * top.k + j] === labels[i]) {
        correct++;
        break;
      }
    }
  }
  return labels.length ? correct / labels.length : 0;
}
