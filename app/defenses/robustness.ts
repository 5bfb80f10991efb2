/**
 * Robust accuracy against ε, measured so that gradient masking cannot pass for robustness
 * (Carlini & Wagner 2017; Athalye, Carlini & Wagner 2018; Carlini et al. 2019, "On Evaluating
 * Adversarial Robustness"). For each model and attack every figure comes in several views:
 *
 * - 'ce' and 'margin': the white-box attack on the softmax cross-entropy and on the C&W logit
 *   margin. Defensive distillation saturates the softmax, so its CE gradient vanishes while the
 *   margin's does not.
 * - 'transfer': examples crafted on an undefended surrogate, evaluated on the model. A robust model
 *   resists its own white-box attack at least as well as a transferred one.
 * - 'bpda-ce' and 'bpda-margin' (input transformations): the white-box attack through the
 *   straight-through gradient (input-transforms.ts).
 * - 'deepfool': accuracy against DeepFool's minimal perturbations whose L∞ size is at most ε.
 *
 * The robust accuracy reported is the worst view. A model is flagged "gradient masking suspected"
 * when a weaker-in-principle view beats the white-box one by more than `maskingTolerance`.
 */
import { runAttack } from '../attacks/index.js';
import { CancelledError } from '../attacks/types.js';
import type { AttackLoss, AttackOptions } from '../attacks/types.js';
import type { Classifier } from '../engine/classifier.js';
import { predictLogits } from '../engine/predict.js';

export const ROBUSTNESS_ATTACKS = ['fgsm', 'bim', 'pgd', 'deepfool'] as const;
export type RobustnessAttack = (typeof ROBUSTNESS_ATTACKS)[number];
export type RobustnessView = 'ce' | 'margin' | 'transfer' | 'bpda-ce' | 'bpda-margin' | 'deepfool';

export class DefenseEvaluationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DefenseEvaluationError';
  }
}

export interface ModelUnderTest {
  id: string;
  title: string;
  /** What the attacks differentiate: the model itself, or for a transform defense its zero-gradient view. */
  classifier: Classifier;
  /** Transform defenses: the same forward pass with the straight-through (BPDA) gradient. */
  bpda?: Classifier;
}

export interface RobustnessPlan {
  attacks: readonly RobustnessAttack[];
  /** L∞ budgets in [0,1] pixel units. */
  epsilons: readonly number[];
  /** PGD steps (default 40) and random restarts (default 1). */
  pgdSteps?: number;
  pgdRestarts?: number;
  seed?: number;
  /** The undefended model the transfer attacks are crafted on (omit: no transfer view). */
  surrogate?: { id: string; classifier: Classifier };
  /** Absolute accuracy gap that raises the masking flag (default 0.1). */
  maskingTolerance?: number;
  batchSize?: number;
}

export interface RobustnessCurve {
  attack: RobustnessAttack;
  view: RobustnessView;
  /** Top-1 accuracy under attack, one per ε of the plan. */
  accuracy: number[];
}

export interface ModelRobustness {
  id: string;
  title: string;
  cleanAccuracy: number;
  /** What the defense costs on clean images: the surrogate's (undefended) clean accuracy minus this model's; null without a surrogate. */
  cleanAccuracyCost: number | null;
  curves: RobustnessCurve[];
  /** Per attack, the worst view at each ε: the robust accuracy to report. */
  robust: { attack: RobustnessAttack; accuracy: number[] }[];
  masking: { suspected: boolean; reasons: string[] };
}

export interface RobustnessReport {
  epsilons: number[];
  count: number;
  surrogateId: string | null;
  models: ModelRobustness[];
}

export interface DefenseProgress {
  done: number;
  total: number;
  label: string;
}

export interface DefenseControl {
  signal?: AbortSignal;
  onProgress?: (p: DefenseProgress) => void;
}

const ATTACK_TITLES: Record<RobustnessAttack, string> = { fgsm: 'FGSM', bim: 'BIM', pgd: 'PGD', deepfool: 'DeepFool' };
const VIEW_TITLES: Record<RobustnessView, string> = {
  ce: 'cross-entropy',
  margin: 'the logit margin',
  transfer: 'transfer',
  'bpda-ce': 'BPDA (cross-entropy)',
  'bpda-margin': 'BPDA (logit margin)',
  deepfool: 'DeepFool',
};
export const attackTitle = (a: RobustnessAttack): string => ATTACK_TITLES[a];
export const viewTitle = (v: RobustnessView): string => VIEW_TITLES[v];

export function checkImages(classifier: Classifier, images: Float32Array, labels: Int32Array): void {
  const [h, w, c] = classifier.inputShape;
  if (labels.length === 0) throw new DefenseEvaluationError('the dataset is empty: nothing to evaluate');
  if (images.length !== labels.length * h * w * c) throw new DefenseEvaluationError(`${images.length} pixel values for ${labels.length} images of ${h}x${w}x${c}`);
}

function checkEpsilons(epsilons: readonly number[]): void {
  if (epsilons.length === 0) throw new DefenseEvaluationError('give at least one ε');
  for (const e of epsilons) if (!(Number.isFinite(e) && e >= 0 && e <= 1)) throw new DefenseEvaluationError(`ε must be in [0,1] pixel units, got ${e}`);
}

/** Fraction of `labels` the classifier gets right on `images`. */
export function accuracyOn(classifier: Classifier, images: Float32Array, labels: Int32Array, batchSize?: number): number {
  return correctMask(classifier, images, labels, batchSize).reduce((s, v) => s + v, 0) / labels.length;
}

export function correctMask(classifier: Classifier, images: Float32Array, labels: Int32Array, batchSize?: number): Uint8Array {
  const logits = predictLogits(classifier, images, batchSize);
  const k = classifier.numClasses;
  const correct = new Uint8Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (logits[i * k + c] > logits[i * k + best]) best = c;
    correct[i] = Number(best === labels[i]);
  }
  return correct;
}

function attackOptions(attack: RobustnessAttack, epsilons: readonly number[], loss: AttackLoss, plan: RobustnessPlan, keepImages: boolean): AttackOptions {
  const options: AttackOptions = { method: attack, epsilons: [...epsilons], keepImages, topK: 1, seed: plan.seed ?? 0 };
  if (plan.batchSize !== undefined) options.batchSize = plan.batchSize;
  if (attack === 'deepfool') return options;
  options.loss = loss;
  if (attack === 'pgd') {
    options.steps = plan.pgdSteps ?? 40;
    options.restarts = plan.pgdRestarts ?? 1;
  }
  return options;
}

/** Runs the sub-runs of an evaluation one after another, reporting progress as sub-runs done. */
export class SubRunProgress {
  private index = 0;
  constructor(private readonly total: number, private readonly control?: DefenseControl) {}
  async run<T>(label: string, body: (control: { signal?: AbortSignal; onProgress: (p: { done: number; total: number }) => void }) => Promise<T>): Promise<T> {
    if (this.control?.signal?.aborted) throw new CancelledError();
    const at = this.index;
    this.control?.onProgress?.({ done: at, total: this.total, label });
    const result = await body({
      signal: this.control?.signal,
      onProgress: (p) => this.control?.onProgress?.({ done: at + (p.total > 0 ? p.done / p.total : 0), total: this.total, label }),
    });
    this.index++;
    this.control?.onProgress?.({ done: this.index, total: this.total, label });
    return result;
  }
}

/** Robust accuracy vs ε for every model, every attack, every view; masking flags. */
export async function evaluateRobustness(
  models: readonly ModelUnderTest[],
  images: Float32Array,
  labels: Int32Array,
  plan: RobustnessPlan,
  control?: DefenseControl,
): Promise<RobustnessReport> {
  if (models.length === 0) throw new DefenseEvaluationError('choose at least one model to evaluate');
  checkEpsilons(plan.epsilons);
  for (const a of plan.attacks) if (!(ROBUSTNESS_ATTACKS as readonly string[]).includes(a)) throw new DefenseEvaluationError(`unknown attack "${a}" (one of ${ROBUSTNESS_ATTACKS.join(', ')})`);
  if (plan.attacks.length === 0) throw new DefenseEvaluationError('choose at least one attack');
  for (const m of models) checkImages(m.classifier, images, labels);
  const tolerance = plan.maskingTolerance ?? 0.1;
  const gradientAttacks = plan.attacks.filter((a) => a !== 'deepfool');
  const surrogate = plan.surrogate;
  const needsTransfer = surrogate !== undefined && models.some((m) => m.id !== surrogate.id);
  const perModelRuns = (m: ModelUnderTest) => gradientAttacks.length * (m.bpda ? 4 : 2) + (plan.attacks.includes('deepfool') ? 1 : 0);
  const total = models.reduce((s, m) => s + perModelRuns(m), 0) + (needsTransfer ? gradientAttacks.length : 0);
  const progress = new SubRunProgress(total, control);
  const epsilons = [...plan.epsilons];

  // Transfer examples are crafted once per attack on the surrogate and evaluated on every model.
  const transferred = new Map<RobustnessAttack, Float32Array[]>();
  if (needsTransfer) {
    for (const attack of gradientAttacks) {
      const result = await progress.run(`${attackTitle(attack)} on ${surrogate.id} (transfer source)`, (c) =>
        runAttack(surrogate.classifier, images, labels, attackOptions(attack, epsilons, 'ce', plan, true), c),
      );
      transferred.set(attack, result.perEpsilon.map((e) => e.adversarial!));
    }
  }

  const surrogateClean = surrogate ? accuracyOn(surrogate.classifier, images, labels, plan.batchSize) : null;
  const reports: ModelRobustness[] = [];
  for (const model of models) {
    const curves: RobustnessCurve[] = [];
    const cleanAccuracy = accuracyOn(model.classifier, images, labels, plan.batchSize);
    for (const attack of gradientAttacks) {
      const views: [RobustnessView, Classifier, AttackLoss][] = [['ce', model.classifier, 'ce'], ['margin', model.classifier, 'margin']];
      if (model.bpda) views.push(['bpda-ce', model.bpda, 'ce'], ['bpda-margin', model.bpda, 'margin']);
      for (const [view, classifier, loss] of views) {
        // The BPDA classifier has the model's forward pass, so runAttack's own accuracy is the model's.
        const result = await progress.run(`${attackTitle(attack)} (${viewTitle(view)}) on ${model.title}`, (c) =>
          runAttack(classifier, images, labels, attackOptions(attack, epsilons, loss, plan, false), c),
        );
        curves.push({ attack, view, accuracy: result.perEpsilon.map((e) => 1 - mean(e.float.success)) });
      }
      const crafted = transferred.get(attack);
      if (crafted && model.id !== surrogate?.id) {
        curves.push({ attack, view: 'transfer', accuracy: crafted.map((adv) => accuracyOn(model.classifier, adv, labels, plan.batchSize)) });
      }
    }
    if (plan.attacks.includes('deepfool')) {
      const result = await progress.run(`DeepFool on ${model.title}`, (c) =>
        runAttack(model.bpda ?? model.classifier, images, labels, attackOptions('deepfool', [0], 'ce', plan, false), c),
      );
      const { success, linf } = result.perEpsilon[0].float;
      curves.push({
        attack: 'deepfool',
        view: 'deepfool',
        accuracy: epsilons.map((eps) => {
          let robust = 0;
          for (let i = 0; i < labels.length; i++) if (!(success[i] && linf[i] <= eps + 1e-6)) robust++;
          return robust / labels.length;
        }),
      });
    }
    const robust = plan.attacks.map((attack) => {
      const mine = curves.filter((c) => c.attack === attack);
      return { attack, accuracy: epsilons.map((_, e) => Math.min(...mine.map((c) => c.accuracy[e]))) };
    });
    reports.push({ id: model.id, title: model.title, cleanAccuracy, cleanAccuracyCost: surrogateClean === null ? null : surrogateClean - cleanAccuracy, curves, robust, masking: maskingVerdict(curves, epsilons, tolerance, surrogate?.id) });
  }
  return { epsilons, count: labels.length, surrogateId: needsTransfer ? surrogate.id : null, models: reports };
}

function mean(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return values.length === 0 ? 0 : s / values.length;
}

const fmt = (v: number) => v.toFixed(2);

/**
 * Robustness "vanishes" when a view that should be no stronger than the white-box CE attack beats
 * it by more than `tolerance` at some ε: the margin loss (CE saturated), a transfer attack (the
 * model's own gradient misleads), or BPDA (the transform hides the gradient).
 */
export function maskingVerdict(curves: readonly RobustnessCurve[], epsilons: readonly number[], tolerance: number, surrogateId?: string): { suspected: boolean; reasons: string[] } {
  const reasons: string[] = [];
  const find = (attack: RobustnessAttack, view: RobustnessView) => curves.find((c) => c.attack === attack && c.view === view)?.accuracy;
  for (const attack of new Set(curves.map((c) => c.attack))) {
    if (attack === 'deepfool') continue;
    const ce = find(attack, 'ce');
    const margin = find(attack, 'margin');
    if (!ce || !margin) continue;
    const checks: [RobustnessView, number[] | undefined, (e: number) => number, string][] = [
      ['margin', margin, (e) => ce[e], 'under cross-entropy'],
      ['transfer', find(attack, 'transfer'), (e) => Math.min(ce[e], margin[e]), 'white-box'],
      ['bpda-ce', find(attack, 'bpda-ce'), (e) => Math.min(ce[e], margin[e]), 'with the zero gradient'],
      ['bpda-margin', find(attack, 'bpda-margin'), (e) => Math.min(ce[e], margin[e]), 'with the zero gradient'],
    ];
    for (const [view, other, whiteBox, whiteBoxWords] of checks) {
      if (!other) continue;
      for (let e = 0; e < epsilons.length; e++) {
        if (epsilons[e] === 0 || other[e] >= whiteBox(e) - tolerance) continue;
        const source = view === 'transfer' && surrogateId ? ` from ${surrogateId}` : '';
        reasons.push(`${attackTitle(attack)}, ε ${epsilons[e]}: accuracy ${fmt(whiteBox(e))} ${whiteBoxWords}, ${fmt(other[e])} under ${viewTitle(view)}${source}`);
        break;
      }
    }
  }
  return { suspected: reasons.length > 0, reasons };
}
