/**
 * The one gradient core every gradient attack runs on (after Foolbox 3's base gradient-descent attack):
 * take the gradient of a per-image objective (losses.ts) w.r.t. the image in [0,1], step along its
 * sign (L∞) or its L2-normalised direction (L2), project back onto the ε-ball around the clean image
 * and onto [0,1]. FGSM is the one-step case with step size ε; BIM, least-likely and PGD iterate.
 *
 *   X_{N+1} = Clip_{X,ε}{ X_N + α·sign(∇X J(X_N)) }            (L∞)
 *   X_{N+1} = Π_{B₂(X,ε)∩[0,1]}{ X_N + α·∇X J / ‖∇X J‖₂ }     (L2)
 *
 * Tensor shapes are NHWC, batch first; everything is tidied or disposed, also on a throw.
 */
import * as tf from '@tensorflow/tfjs';
import type { Classifier } from '../engine/classifier.js';
import { attackObjective, objectiveLogitGradient } from './losses.js';
import { GradientUnavailableError } from './errors.js';
import { withoutWeightGradients } from '../engine/kernels/weight-gradients.js';
import { MostRobustIterate, countAdversarial, eotAdversarialDraws, eotGradient } from './eot.js';
import type { EotSettings } from './eot.js';
import type { ResolvedOptions } from './options.js';
import type { AttackLoss, Norm } from './types.js';

/** Called after every step with the number of images stepped: reports progress, yields, checks cancel. */
export type StepHook = (imageSteps: number) => Promise<void>;

export interface IterativeSettings {
  epsilon: number;
  stepSize: number;
  steps: number;
  norm: Norm;
  loss: AttackLoss;
  /** true: `classes` are targets to move towards; false: true labels to move away from. */
  targeted: boolean;
  /** Starting perturbation δ₀ (NHWC, same length as the images), e.g. PGD's random start. */
  start?: Float32Array;
  /**
   * Without a start, step 0 takes the gradient at the clean images whatever ε is: a caller running
   * several ε over the same images keeps it here and the later ε skip that forward and backward pass.
   */
  firstGradient?: GradientMemo;
  /** Expectation over Transformation (eot.ts): each step's gradient is averaged over sampled channel draws. */
  eot?: EotSettings;
  /** Momentum μ (MI-FGSM, Dong et al. 2018): steps follow the decayed sum of L1-normalised gradients; 0 or absent: none. */
  momentum?: number;
  /**
   * Without a start or EOT, receives the clean images' logits (as classifier.logits gives them) from
   * step 0's forward pass, where the classifier can tell them (logitsBesideTape); else never called.
   */
  onCleanLogits?: (logits: Float32Array) => void;
}

/** Holds the step-0 gradient of one chunk across the ε of a run. */
export interface GradientMemo {
  get(): Float32Array | undefined;
  set(gradient: Float32Array): void;
}

/** Guards against division by zero for a vanishing gradient or perturbation. */
const TINY = 1e-12;

/** TF.js reports a missing gradient (null or no kernel gradient) by throwing an error that names it. */
function isGradientFailure(error: unknown): boolean {
  return error instanceof Error && /gradient/i.test(error.message);
}

/** Per-image L2 norm over H, W, C, kept as [N,1,1,1] so it broadcasts against images. */
export function imageL2Norm(t: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => t.square().sum([1, 2, 3], true).sqrt() as tf.Tensor4D);
}

/**
 * ∇x Σ_i objective_i(x): images are independent, so row i of the gradient is ∇x_i objective_i.
 * `untapedLogits`, where the classifier can (logitsBesideTape), receives the logits of x as
 * `classifier.logits` gives them off the tape, from the gradient's own forward pass.
 */
export function objectiveGradient(
  classifier: Classifier,
  x: tf.Tensor4D,
  classes: tf.Tensor1D,
  loss: AttackLoss,
  targeted: boolean,
  untapedLogits?: (logits: Float32Array) => void,
): tf.Tensor4D {
  const logitGradient = objectiveLogitGradient(loss, targeted);
  const direct = classifier.logitsBesideTape?.of === classifier.logits ? classifier.logitsBesideTape.gradient : undefined;
  if (logitGradient && direct) {
    // Without a tape: the classifier's layers backward from the objective's known logit gradient.
    return tf.tidy(() => {
      // The clean logits only where the caller takes them (step 0), not at every step.
      const { gradient, untaped } = direct(x, (logits) => logitGradient(logits, classes), untapedLogits !== undefined);
      if (untaped) untapedLogits!(untaped.dataSync() as Float32Array);
      return gradient;
    });
  }
  return inputGradient(classifier, x, (logits) => attackObjective(logits, classes, loss, targeted, undefined, true), undefined, untapedLogits);
}

/**
 * ∇x Σ_i φ(logits(view(x)))_i for a per-image function φ of the logits, where `view` (default: none)
 * is a differentiable map of the batch before the model, e.g. EOT's channel draws; a missing
 * gradient becomes a GradientUnavailableError naming the model. Without a view, `untapedLogits` is
 * as in objectiveGradient.
 */
export function inputGradient(
  classifier: Classifier,
  x: tf.Tensor4D,
  perImage: (logits: tf.Tensor2D) => tf.Tensor1D,
  view?: (x: tf.Tensor4D) => tf.Tensor4D,
  untapedLogits?: (logits: Float32Array) => void,
): tf.Tensor4D {
  // Only while the pass is still this classifier's own: a wrapper that replaced `logits` carries it along.
  const besideTape = untapedLogits && !view && classifier.logitsBesideTape?.of === classifier.logits ? classifier.logitsBesideTape : undefined;
  let untaped: tf.Tensor2D | undefined;
  const gradient = tf.grad((xi: tf.Tensor) => {
    if (!besideTape) return perImage(classifier.logits(view ? view(xi as tf.Tensor4D) : (xi as tf.Tensor4D))).sum();
    const both = besideTape.run(xi as tf.Tensor4D);
    // Kept past the forward pass's tidy, and disposed below.
    untaped = tf.keep(both.untaped);
    return perImage(both.logits).sum();
  });
  try {
    // Only ∇x is wanted: the fused convolutions' eager filter gradients are skipped.
    const g = withoutWeightGradients(() => gradient(x) as tf.Tensor4D);
    if (untaped) untapedLogits!(untaped.dataSync() as Float32Array);
    return g;
  } catch (error) {
    discardGradientTape();
    if (isGradientFailure(error)) throw new GradientUnavailableError(classifier.id, error);
    throw error;
  } finally {
    untaped?.dispose();
  }
}

/**
 * When tf.grad throws (no path from x to y, or a kernel without a gradient), TF.js 4.22 leaves its
 * tape behind (Engine.gradients only clears it on success): the tensors saved for the backward pass
 * would leak. Dispose them and drop the tape, as the success path does.
 */
function discardGradientTape(): void {
  const state = (tf.engine() as unknown as { state?: { gradientDepth: number; activeTape: { saved?: tf.Tensor[] }[] | null } }).state;
  if (!state || state.gradientDepth !== 0 || !state.activeTape) return;
  for (const node of state.activeTape) for (const t of node.saved ?? []) t.dispose();
  state.activeTape = null;
}

/** Π onto {x : ‖x − x₀‖ ≤ ε} ∩ [0,1]. Clipping to [0,1] after the ball never leaves the ball (x₀ ∈ [0,1]). */
export function projectToBall(x: tf.Tensor4D, clean: tf.Tensor4D, epsilon: number, norm: Norm): tf.Tensor4D {
  return tf.tidy(() => {
    const delta = x.sub(clean) as tf.Tensor4D;
    const bounded =
      norm === 'linf'
        ? delta.clipByValue(-epsilon, epsilon)
        : delta.mul(tf.minimum(1, tf.scalar(epsilon).div(imageL2Norm(delta).maximum(TINY))));
    return clean.add(bounded).clipByValue(0, 1) as tf.Tensor4D;
  });
}

/**
 * The gradient step `step` follows: of the image itself, or averaged over the EOT draws of that step
 * (which then add to `adversarialDraws`, when given, how many of them each image fools).
 */
function stepGradient(classifier: Classifier, x: tf.Tensor4D, classes: tf.Tensor1D, s: IterativeSettings, step: number, adversarialDraws?: Float32Array): tf.Tensor4D {
  return s.eot
    ? eotGradient(classifier, x, classes, s.loss, s.targeted, s.eot, step, adversarialDraws)
    : objectiveGradient(classifier, x, classes, s.loss, s.targeted, step === 0 && !s.start ? s.onCleanLogits : undefined);
}

/**
 * The accumulated gradient of MI-FGSM (Dong et al. 2018, eq. 6): g_t = μ·g_{t−1} + ∇_t / mean|∇_t|,
 * the mean per image over its pixels, as torchattacks' MIFGSM computes it. Normalising each step's
 * gradient keeps one large gradient from drowning the history; the sign of the sum damps the steps
 * that flip back and forth between iterations (with EOT, between one step's draws and the next's).
 */
class Velocity {
  private sum: tf.Tensor4D | undefined;

  constructor(private readonly decay: number) {}

  /** Adds a step's gradient and returns the new sum, which the velocity owns (a caller must not dispose or return it from a tidy). */
  add(gradient: tf.Tensor4D): tf.Tensor4D {
    const normalised = gradient.div(gradient.abs().mean([1, 2, 3], true).maximum(TINY)) as tf.Tensor4D;
    const next = this.sum ? (this.sum.mul(this.decay).add(normalised) as tf.Tensor4D) : normalised;
    this.sum?.dispose();
    this.sum = tf.keep(next);
    return next;
  }

  dispose(): void {
    this.sum?.dispose();
    this.sum = undefined;
  }
}

/** One ascent step of size α followed by the projection. */
function ascentStep(
  classifier: Classifier,
  x: tf.Tensor4D,
  clean: tf.Tensor4D,
  classes: tf.Tensor1D,
  s: IterativeSettings,
  step: number,
  gradient?: tf.Tensor4D,
  adversarialDraws?: Float32Array,
  velocity?: Velocity,
): tf.Tensor4D {
  return tf.tidy(() => {
    const raw = gradient ?? stepGradient(classifier, x, classes, s, step, adversarialDraws);
    const g = velocity ? velocity.add(raw) : raw;
    const direction = s.norm === 'linf' ? g.sign() : g.div(imageL2Norm(g).maximum(TINY));
    return projectToBall(x.add(direction.mul(s.stepSize)) as tf.Tensor4D, clean, s.epsilon, s.norm);
  });
}

/**
 * Runs `settings.steps` projected ascent steps on a batch of images (NHWC [0,1], the classifier's
 * input shape) and returns the adversarial images as a new array.
 */
export async function iterativeAttack(
  classifier: Classifier,
  images: Float32Array,
  classes: Int32Array,
  settings: IterativeSettings,
  onStep: StepHook,
): Promise<Float32Array> {
  const n = classes.length;
  const shape: [number, number, number, number] = [n, ...classifier.inputShape];
  const clean = tf.tensor4d(images, shape);
  const classTensor = tf.tensor1d(classes, 'int32');
  let x: tf.Tensor4D | undefined;
  // EOT keep 'most-robust': the iterates after step 1..T are scored by the draws of the step that reads them.
  const robust = settings.eot?.keep === 'most-robust' ? new MostRobustIterate(n, images.length / Math.max(1, n)) : undefined;
  const velocity = settings.momentum ? new Velocity(settings.momentum) : undefined;
  try {
    const start = settings.start;
    x = start
      ? tf.tidy(() => projectToBall(clean.add(tf.tensor4d(start, shape)) as tf.Tensor4D, clean, settings.epsilon, settings.norm))
      : clean.clone();
    for (let step = 0; step < settings.steps; step++) {
      let first: tf.Tensor4D | undefined;
      if (step === 0 && !start && settings.firstGradient) {
        const known = settings.firstGradient.get();
        first = known ? tf.tensor4d(known, shape) : stepGradient(classifier, x, classTensor, settings, 0);
        if (!known) settings.firstGradient.set(new Float32Array(first.dataSync()));
      }
      const adversarialDraws = robust && step > 0 ? new Float32Array(n) : undefined;
      let next: tf.Tensor4D;
      try {
        next = ascentStep(classifier, x, clean, classTensor, settings, step, first, adversarialDraws, velocity);
      } finally {
        first?.dispose();
      }
      if (adversarialDraws) robust!.offer(x.dataSync() as Float32Array, adversarialDraws);
      x.dispose();
      x = next;
      await onStep(n);
    }
    if (settings.eot?.refine) {
      const refined = await refineFragile(classifier, x, clean, classTensor, classes, settings, robust, velocity, onStep);
      if (refined !== x) {
        x.dispose();
        x = refined;
      }
      if (robust) return robust.images;
    }
    if (robust) {
      robust.offer(x.dataSync() as Float32Array, eotAdversarialDraws(classifier, x, classes, settings.targeted, settings.eot!, settings.steps));
      return robust.images;
    }
    return new Float32Array(x.dataSync());
  } finally {
    x?.dispose();
    velocity?.dispose();
    clean.dispose();
    classTensor.dispose();
  }
}

/**
 * EotOptions.refine: after the budget's steps, up to `refine` more for the images that fool the model
 * (targeted: are taken for the target) but not all their draws, each until every draw of a step is
 * adversarial; every other image keeps the iterate it has. Only the images still stepping go through
 * the model, with the draws they would have in the whole batch (EotSettings.imageIndices); a step's
 * draw counts come from its own gradient pass, as for 'most-robust' (which is offered each iterate
 * the extra steps make, and the last one scored by one more forward pass when they run out).
 * Reports `refine` steps of progress however many run. Returns x itself when no image takes a step.
 */
async function refineFragile(
  classifier: Classifier,
  x: tf.Tensor4D,
  clean: tf.Tensor4D,
  classTensor: tf.Tensor1D,
  classes: Int32Array,
  settings: IterativeSettings,
  robust: MostRobustIterate | undefined,
  velocity: Velocity | undefined,
  onStep: StepHook,
): Promise<tf.Tensor4D> {
  const eot = settings.eot!;
  const refine = eot.refine!;
  const n = classes.length;
  // The images that may take the next step: at first those the model gets wrong, then those that took the last one
  // (none once every one of them has all of a step's draws adversarial).
  let candidates = fooledByItself(classifier, x, classes, settings.targeted);
  let current = x;
  let stepsRun = 0;
  try {
    if (robust) {
      // The budget's last iterate of every other image is scored as it would be without refine.
      const others = candidates.map((c) => 1 - c);
      robust.offer(current.dataSync() as Float32Array, subsetDraws(classifier, current, classes, settings, eot, others, settings.steps), others);
    }
    for (let run = 0; run < refine && candidates.includes(1); run++) {
      const step = settings.steps + run;
      const { gradient, counts } = subsetGradient(classifier, current, classTensor, settings, eot, candidates, step);
      robust?.offer(current.dataSync() as Float32Array, counts, candidates);
      candidates = candidates.map((c, i) => (c && counts[i] < eot.samples ? 1 : 0));
      if (!candidates.includes(1)) {
        gradient.dispose();
        break;
      }
      let next: tf.Tensor4D;
      try {
        next = ascentStep(classifier, current, clean, classTensor, settings, step, gradient, undefined, velocity);
      } finally {
        gradient.dispose();
      }
      const mask = tf.tensor4d(candidates, [n, 1, 1, 1], 'bool');
      const stepped = tf.where(mask, next, current) as tf.Tensor4D;
      tf.dispose([mask, next]);
      if (current !== x) current.dispose();
      current = stepped;
      stepsRun++;
      await onStep(n);
    }
    // Images still stepping when the extra steps ran out: their last iterate, scored by the draws of the step after it.
    if (robust && candidates.includes(1)) {
      robust.offer(current.dataSync() as Float32Array, subsetDraws(classifier, current, classes, settings, eot, candidates, settings.steps + stepsRun), candidates);
    }
    if (stepsRun < refine) await onStep(n * (refine - stepsRun));
    return current;
  } catch (error) {
    if (current !== x) current.dispose();
    throw error;
  }
}

/** The positions `marked` flags, and the EOT settings that give those images the draws they have in the whole batch. */
function subset(eot: EotSettings, marked: Uint8Array): { positions: Int32Array; eot: EotSettings } {
  const positions = Int32Array.from(Array.from(marked).flatMap((m, i) => (m ? [i] : [])));
  const global = positions.map((i) => (eot.imageIndices ? eot.imageIndices[i] : eot.firstImageIndex + i));
  return { positions, eot: { ...eot, imageIndices: global } };
}

/** Per image of the batch, how many draws of `step` fool the model: counted for the `marked` images only (0 elsewhere). */
function subsetDraws(classifier: Classifier, x: tf.Tensor4D, classes: Int32Array, settings: IterativeSettings, eot: EotSettings, marked: Uint8Array, step: number): Float32Array {
  const counts = new Float32Array(classes.length);
  const { positions, eot: some } = subset(eot, marked);
  if (positions.length === 0) return counts;
  const xs = tf.gather(x, positions);
  try {
    const found = eotAdversarialDraws(classifier, xs, Int32Array.from(positions, (i) => classes[i]), settings.targeted, some, step);
    positions.forEach((i, k) => (counts[i] = found[k]));
    return counts;
  } finally {
    xs.dispose();
  }
}

/**
 * The EOT gradient of `step` for the `marked` images of the batch (zero for the others), and per
 * image how many of that step's draws fool the model (0 for the others).
 */
function subsetGradient(
  classifier: Classifier,
  x: tf.Tensor4D,
  classTensor: tf.Tensor1D,
  settings: IterativeSettings,
  eot: EotSettings,
  marked: Uint8Array,
  step: number,
): { gradient: tf.Tensor4D; counts: Float32Array } {
  const n = x.shape[0];
  const counts = new Float32Array(n);
  const { positions, eot: some } = subset(eot, marked);
  const found = new Float32Array(positions.length);
  const [xs, classes] = tf.tidy(() => [tf.gather(x, positions), tf.gather(classTensor, positions)] as [tf.Tensor4D, tf.Tensor1D]);
  try {
    const part = eotGradient(classifier, xs, classes, settings.loss, settings.targeted, some, step, found);
    positions.forEach((i, k) => (counts[i] = found[k]));
    if (positions.length === n) return { gradient: part, counts };
    const gradient = tf.tidy(() => tf.scatterND(tf.tensor2d(positions, [positions.length, 1], 'int32'), part, x.shape) as tf.Tensor4D);
    part.dispose();
    return { gradient, counts };
  } finally {
    tf.dispose([xs, classes]);
  }
}

/** Per image, whether the model itself misclassifies it (targeted: takes it for the target): one draw, the identity. */
function fooledByItself(classifier: Classifier, x: tf.Tensor4D, classes: Int32Array, targeted: boolean): Uint8Array {
  const fooled = new Float32Array(classes.length);
  const logits = tf.tidy(() => classifier.logits(x));
  try {
    countAdversarial(logits, classes, targeted, fooled);
  } finally {
    logits.dispose();
  }
  return Uint8Array.from(fooled);
}

/** Per-image objective value and top-1 class of a batch of images (used to keep PGD's best restart). */
export function scoreImages(
  classifier: Classifier,
  images: Float32Array,
  classes: Int32Array,
  loss: AttackLoss,
  targeted: boolean,
): { objective: Float32Array; top1: Int32Array } {
  const shape: [number, number, number, number] = [classes.length, ...classifier.inputShape];
  const [objective, top1] = tf.tidy(() => {
    const logits = classifier.logits(tf.tensor4d(images, shape));
    return [attackObjective(logits, tf.tensor1d(classes, 'int32'), loss, targeted), logits.argMax(1)];
  });
  try {
    return { objective: new Float32Array(objective.dataSync()), top1: new Int32Array(top1.dataSync()) };
  } finally {
    objective.dispose();
    top1.dispose();
  }
}

/** The EOT settings of one chunk and restart, or undefined for a plain attack. */
export function eotSettings(chunk: AttackChunk, o: ResolvedOptions, restart: number): EotSettings | undefined {
  return o.eot && { ...o.eot, seed: o.seed, firstImageIndex: chunk.firstImageIndex, restart, ...(chunk.eotImagesPerPass === undefined ? {} : { imagesPerPass: chunk.eotImagesPerPass }) };
}

/** One chunk of images as each method file sees it. */
export interface AttackChunk {
  classifier: Classifier;
  /** Clean images of the chunk, NHWC in [0,1]. */
  images: Float32Array;
  labels: Int32Array;
  /** Targets of a targeted attack, or the least-likely classes. */
  targets?: Int32Array;
  /** Global index of the chunk's first image (indexOffset + position in the call). */
  firstImageIndex: number;
  /** EOT: at most this many transformed images per model pass (the tape budget's, chunk-size.ts). */
  eotImagesPerPass?: number;
  /** The clean images' logits [n, numClasses] when runAttack has them before the attack (DeepFool). */
  cleanLogits?: Float32Array;
  onStep: StepHook;
  /** The chunk's step-0 gradient kept across ε (FGSM, BIM), when the caller runs several. */
  firstGradient?: GradientMemo;
}

export interface ChunkOutcome {
  adversarial: Float32Array;
  /** The clean images' logits when the attack's first forward pass gave them (onCleanLogits). */
  cleanLogits?: Float32Array;
  /** Per image iterations (DeepFool); iterative methods report their step count instead. */
  iterations?: Int32Array;
}

export type { StepSchedule } from './schedule.js';
