/**
 * The transfer matrix (Szegedy et al. 2013; Papernot, McDaniel & Goodfellow 2016): adversarial
 * examples crafted on a source model (row) and classified by a target model (column). The
 * diagonal is the white-box attack; off the diagonal, the target's gradient is never used.
 */
import { runAttack } from '../attacks/index.js';
import type { AttackLoss, AttackOptions } from '../attacks/types.js';
import { DefenseEvaluationError, SubRunProgress, accuracyOn, checkImages } from './robustness.js';
import type { DefenseControl, ModelUnderTest } from './robustness.js';

export const TRANSFER_ATTACKS = ['fgsm', 'bim', 'pgd'] as const;
export type TransferAttack = (typeof TRANSFER_ATTACKS)[number];

export interface TransferPlan {
  attack: TransferAttack;
  epsilon: number;
  loss?: AttackLoss;
  pgdSteps?: number;
  pgdRestarts?: number;
  seed?: number;
  batchSize?: number;
}

export interface TransferMatrix {
  attack: TransferAttack;
  epsilon: number;
  loss: AttackLoss;
  count: number;
  /** Model ids, in the order of rows (sources) and columns (targets). */
  models: { id: string; title: string }[];
  /** Clean accuracy of each target. */
  cleanAccuracy: number[];
  /** accuracy[source][target]: the target's accuracy on the source's adversarial examples. */
  accuracy: number[][];
}

export async function transferMatrix(
  models: readonly ModelUnderTest[],
  images: Float32Array,
  labels: Int32Array,
  plan: TransferPlan,
  control?: DefenseControl,
): Promise<TransferMatrix> {
  if (models.length === 0) throw new DefenseEvaluationError('choose at least one model for the transfer matrix');
  if (!(TRANSFER_ATTACKS as readonly string[]).includes(plan.attack)) throw new DefenseEvaluationError(`transfer attack must be one of ${TRANSFER_ATTACKS.join(', ')}, got "${plan.attack}"`);
  if (!(Number.isFinite(plan.epsilon) && plan.epsilon >= 0 && plan.epsilon <= 1)) throw new DefenseEvaluationError(`ε must be in [0,1] pixel units, got ${plan.epsilon}`);
  const shape = models[0].classifier.inputShape.join('x');
  for (const m of models) {
    if (m.classifier.inputShape.join('x') !== shape) throw new DefenseEvaluationError(`models ${models[0].id} (${shape}) and ${m.id} (${m.classifier.inputShape.join('x')}) take different inputs: no transfer between them`);
    checkImages(m.classifier, images, labels);
  }
  const loss = plan.loss ?? 'ce';
  const options: AttackOptions = { method: plan.attack, epsilons: [plan.epsilon], loss, keepImages: true, topK: 1, seed: plan.seed ?? 0 };
  if (plan.batchSize !== undefined) options.batchSize = plan.batchSize;
  if (plan.attack === 'pgd') Object.assign(options, { steps: plan.pgdSteps ?? 40, restarts: plan.pgdRestarts ?? 1 });
  const progress = new SubRunProgress(models.length, control);
  const accuracy: number[][] = [];
  for (const source of models) {
    // A transform defense is attacked as a source through its straight-through gradient.
    const crafting = source.bpda ?? source.classifier;
    const result = await progress.run(`${plan.attack.toUpperCase()} on ${source.title}`, (c) => runAttack(crafting, images, labels, options, c));
    const adversarial = result.perEpsilon[0].adversarial!;
    accuracy.push(models.map((target) => accuracyOn(target.classifier, adversarial, labels, plan.batchSize)));
  }
  return {
    attack: plan.attack,
    epsilon: plan.epsilon,
    loss,
    count: labels.length,
    models: models.map(({ id, title }) => ({ id, title })),
    cleanAccuracy: models.map((m) => accuracyOn(m.classifier, images, labels, plan.batchSize)),
    accuracy,
  };
}
