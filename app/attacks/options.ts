/**
 * Input validation and defaults shared by every attack: what `runAttack` really runs is a
 * ResolvedOptions, and AttackResult.options reports it back.
 */
import type { Classifier } from '../engine/classifier.js';
import { AttackInputError } from './errors.js';
import { channelProfileSchema } from '../physical/channel-profile.js';
import { resolveEot } from './eot.js';
import { resolveSurvival } from './survival.js';
import type { ResolvedSurvival } from './survival.js';
import { EOT_METHODS } from './method-label.js';
import { ATTACK_LOSSES, EOT_KEEPS, MAX_MOMENTUM, MAX_SURVIVAL_DRAWS, type AttackLoss, type AttackMethod, type AttackOptions, type Criterion, type Norm } from './types.js';

/** EOT samples per step at most: the cost of a step grows linearly with them. */
export const MAX_EOT_SAMPLES = 1024;

export const ATTACK_METHODS: readonly AttackMethod[] = ['fgsm', 'bim', 'll', 'pgd', 'deepfool'];

/**
 * Images per internal chunk: bounds memory (activations and gradients of one chunk) whatever N is.
 * runAttack lowers it for models whose gradient tape per image is large (chunk-size.ts).
 */
export const DEFAULT_ATTACK_BATCH = 256;

export interface ResolvedOptions {
  method: AttackMethod;
  epsilons: number[];
  criterion: Criterion;
  loss: AttackLoss;
  norm: Norm;
  /** Given by the caller; otherwise each method derives it per ε. */
  stepSize?: number;
  steps?: number;
  restarts: number;
  randomStart: boolean;
  overshoot: number;
  maxIterations: number;
  candidates: number;
  seed: number;
  keepImages: boolean;
  topK: number;
  batchSize: number;
  indexOffset: number;
  eot?: ReturnType<typeof resolveEot>;
  /** Print survival estimate of the 8-bit views (survival.ts). */
  survival?: ResolvedSurvival;
  /** Momentum μ of BIM, LL and PGD (0: none). */
  momentum: number;
}

function requireInteger(name: string, value: number | undefined, min: number): void {
  if (value !== undefined && (!Number.isInteger(value) || value < min)) {
    throw new AttackInputError(`${name} must be an integer ≥ ${min}, got ${value}`);
  }
}

function requireFinite(name: string, value: number | undefined, min: number, exclusive = false): void {
  if (value === undefined) return;
  if (!Number.isFinite(value) || value < min || (exclusive && value === min)) {
    throw new AttackInputError(`${name} must be a finite number ${exclusive ? '>' : '≥'} ${min}, got ${value}`);
  }
}

/** Checks images, labels and options against the classifier and fills in the paper defaults. */
export function resolveAttackInputs(
  classifier: Classifier,
  images: Float32Array,
  labels: Int32Array,
  options: AttackOptions,
): ResolvedOptions {
  if (!ATTACK_METHODS.includes(options.method)) {
    throw new AttackInputError(`unknown attack method "${String(options.method)}" (expected one of ${ATTACK_METHODS.join(', ')})`);
  }
  const [h, w, c] = classifier.inputShape;
  const size = h * w * c;
  const n = labels.length;
  if (images.length !== n * size) {
    throw new AttackInputError(
      `image buffer has ${images.length} values, expected ${n} labels × ${h}x${w}x${c} = ${n * size} for model "${classifier.id}"`,
    );
  }
  for (let i = 0; i < images.length; i++) {
    const v = images[i];
    if (!(v >= 0 && v <= 1)) {
      throw new AttackInputError(`pixel ${i} (image ${Math.floor(i / size)}) is ${v}; attacks take pixels in [0,1]`);
    }
  }
  const numClasses = classifier.numClasses;
  for (let i = 0; i < n; i++) {
    if (!(labels[i] >= 0 && labels[i] < numClasses)) {
      throw new AttackInputError(`label ${labels[i]} of image ${i} is out of range [0,${numClasses}) for model "${classifier.id}"`);
    }
  }
  if (!Array.isArray(options.epsilons) || options.epsilons.length === 0) {
    throw new AttackInputError('epsilons must be a non-empty list of budgets in [0,1] pixel units');
  }
  for (const eps of options.epsilons) {
    if (typeof eps !== 'number' || !Number.isFinite(eps) || eps < 0) {
      throw new AttackInputError(`every ε must be a finite number ≥ 0, got ${eps}`);
    }
  }
  const criterion: Criterion = options.criterion ?? { kind: 'misclassification' };
  if (criterion.kind === 'targeted') {
    if (options.method === 'll' || options.method === 'deepfool') {
      throw new AttackInputError(`method "${options.method}" chooses its own direction and takes no targets; use fgsm, bim or pgd for a targeted attack`);
    }
    if (!(criterion.targets instanceof Int32Array) || criterion.targets.length !== n) {
      throw new AttackInputError(`targeted criterion needs one target per image (${n}), got ${criterion.targets?.length ?? 'none'}`);
    }
    for (let i = 0; i < n; i++) {
      const t = criterion.targets[i];
      if (!(t >= 0 && t < numClasses)) throw new AttackInputError(`target ${t} of image ${i} is out of range [0,${numClasses})`);
    }
  } else if (criterion.kind !== 'misclassification') {
    throw new AttackInputError(`unknown criterion "${String((criterion as { kind: unknown }).kind)}"`);
  }
  const loss = options.loss ?? 'ce';
  if (!(ATTACK_LOSSES as readonly unknown[]).includes(loss)) {
    throw new AttackInputError(`loss must be one of ${ATTACK_LOSSES.map((l) => `"${l}"`).join(', ')}, got "${String(loss)}"`);
  }
  const norm = options.norm ?? (options.method === 'deepfool' ? 'l2' : 'linf');
  if (norm !== 'linf' && norm !== 'l2') throw new AttackInputError(`norm must be "linf" or "l2", got "${String(norm)}"`);
  if (options.method === 'deepfool' && norm !== 'l2') throw new AttackInputError('DeepFool is an L2 attack: norm must be "l2"');
  requireFinite('stepSize', options.stepSize, 0, true);
  requireInteger('steps', options.steps, 1);
  requireInteger('restarts', options.restarts, 1);
  requireFinite('overshoot', options.overshoot, 0);
  requireInteger('maxIterations', options.maxIterations, 1);
  requireInteger('candidates', options.candidates, 2);
  requireInteger('seed', options.seed, 0);
  requireInteger('batchSize', options.batchSize, 1);
  requireInteger('indexOffset', options.indexOffset, 0);
  requireFinite('momentum', options.momentum, 0);
  if (options.momentum !== undefined && options.momentum > MAX_MOMENTUM) throw new AttackInputError(`momentum must be at most ${MAX_MOMENTUM}, got ${options.momentum}`);
  if (options.momentum && !EOT_METHODS.includes(options.method)) throw new AttackInputError(`momentum applies to the iterative methods ${EOT_METHODS.join(', ')}, not ${options.method}`);
  let eot: ResolvedOptions['eot'];
  if (options.eot !== undefined && options.eot !== null) {
    if (!EOT_METHODS.includes(options.method)) throw new AttackInputError(`EOT applies to ${EOT_METHODS.join(', ')}, not ${options.method}`);
    requireInteger('eot.samples', options.eot.samples, 1);
    if (options.eot.samples > MAX_EOT_SAMPLES) throw new AttackInputError(`eot.samples must be at most ${MAX_EOT_SAMPLES}, got ${options.eot.samples}`);
    requireFinite('eot.cellMm', options.eot.cellMm, 0, true);
    requireFinite('eot.confidence', options.eot.confidence, 0);
    if (options.eot.confidence !== undefined && loss !== 'margin') throw new AttackInputError('eot.confidence caps the logit margin: it needs loss "margin"');
    if (options.eot.keep !== undefined && !(EOT_KEEPS as readonly unknown[]).includes(options.eot.keep)) {
      throw new AttackInputError(`eot.keep must be one of ${EOT_KEEPS.map((k) => `"${k}"`).join(', ')}, got "${String(options.eot.keep)}"`);
    }
    requireInteger('eot.refine', options.eot.refine, 0);
    if (options.eot.channel !== undefined && !channelProfileSchema.safeParse(options.eot.channel).success) {
      throw new AttackInputError('eot.channel is not a valid channel profile');
    }
    eot = resolveEot(options.eot);
  }
  let survival: ResolvedSurvival | undefined;
  if (options.survival !== undefined && options.survival !== null) {
    requireInteger('survival.draws', options.survival.draws, 1);
    if (options.survival.draws > MAX_SURVIVAL_DRAWS) throw new AttackInputError(`survival.draws must be at most ${MAX_SURVIVAL_DRAWS}, got ${options.survival.draws}`);
    requireFinite('survival.cellMm', options.survival.cellMm, 0, true);
    if (options.survival.channel !== undefined && !channelProfileSchema.safeParse(options.survival.channel).success) {
      throw new AttackInputError('survival.channel is not a valid channel profile');
    }
    survival = resolveSurvival(options.survival, eot);
  }
  const topK = options.topK ?? Math.min(5, numClasses);
  if (!Number.isInteger(topK) || topK < 1 || topK > numClasses) {
    throw new AttackInputError(`topK must be an integer in [1,${numClasses}], got ${topK}`);
  }
  return {
    method: options.method,
    epsilons: [...options.epsilons],
    criterion,
    loss,
    norm,
    stepSize: options.stepSize,
    steps: options.steps,
    restarts: options.restarts ?? 1,
    randomStart: options.randomStart ?? true,
    overshoot: options.overshoot ?? 0.02,
    maxIterations: options.maxIterations ?? 50,
    candidates: Math.min(options.candidates ?? 10, numClasses),
    seed: options.seed ?? 0,
    keepImages: options.keepImages ?? true,
    topK,
    batchSize: options.batchSize ?? DEFAULT_ATTACK_BATCH,
    indexOffset: options.indexOffset ?? 0,
    ...(eot ? { eot } : {}),
    ...(survival ? { survival } : {}),
    momentum: options.momentum ?? 0,
  };
}

/** The options to report back: the caller's, with the defaults that apply to this method filled in. */
export function reportedOptions(o: ResolvedOptions, original: AttackOptions): AttackOptions {
  const out: AttackOptions = {
    ...original,
    method: o.method,
    epsilons: [...o.epsilons],
    criterion: o.criterion,
    keepImages: o.keepImages,
    topK: o.topK,
    batchSize: o.batchSize,
    indexOffset: o.indexOffset,
  };
  if (o.method === 'deepfool') {
    Object.assign(out, { norm: o.norm, overshoot: o.overshoot, maxIterations: o.maxIterations, candidates: o.candidates });
  } else {
    Object.assign(out, { loss: o.loss, norm: o.norm });
    if (o.method === 'pgd') Object.assign(out, { restarts: o.restarts, randomStart: o.randomStart, seed: o.seed });
    if (o.method === 'bim' || o.method === 'll') out.stepSize = o.stepSize ?? 1 / 255;
    if (o.eot) Object.assign(out, { eot: { ...o.eot }, seed: o.seed });
  }
  if (o.survival) Object.assign(out, { survival: { ...o.survival }, seed: o.seed });
  return out;
}
