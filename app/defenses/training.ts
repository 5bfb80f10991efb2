/**
 * Training defended models, in pure TF.js (no node:*): the loop scripts/train-mnist.ts trains the
 * built-in LeNet with, generalised to three methods.
 *
 * - plain: softmax cross-entropy on the (augmented) training digits.
 * - adversarial: Madry, Makelov, Schmidt, Tsipras & Vladu 2017, "Towards Deep Learning Models
 *   Resistant to Adversarial Attacks", eq. (2.1): min_θ E max_{‖δ‖∞≤ε} L(θ, x+δ, y). The inner max is
 *   the lab's own PGD core (app/attacks/iterative.ts) from a random start; `fgsm-rs` is Wong, Rice
 *   & Kolter 2020, "Fast is better than free": one step of α = 1.25ε from a uniform random start,
 *   about a PGD-7 run's robustness for a fifth of its cost. The loss mixes clean and adversarial
 *   examples, (1 − f)·L(x) + f·L(x_adv) (Goodfellow et al. 2014 use f = 0.5, Madry et al. f = 1).
 * - distilled: Papernot, McDaniel, Wu, Jha & Swami 2016, "Distillation as a Defense to Adversarial
 *   Perturbations": a teacher trained on softmax(z/T), its soft labels softmax(z_teacher/T), a
 *   student trained on them at the same T, deployed at T = 1 (the saved model outputs z).
 *
 * Determinism: one seed gives the same model. The weights are initialised from the lab's PRNG
 * (Glorot uniform, zero biases), and every epoch draws its batch order, augmentation, random starts
 * and dropout masks from a stream seeded by (seed, phase, epoch) alone, so a run resumed from an
 * epoch checkpoint continues exactly as the uninterrupted run would have. Dropout is applied here
 * with a seed per batch: TF.js's Dropout layer seeds itself from Math.random.
 */
import * as tf from '@tensorflow/tfjs';
import type { Classifier } from '../engine/classifier.js';
import { iterativeAttack } from '../attacks/iterative.js';
import { imageSeed, randomStartPerturbations } from '../attacks/random-start.js';
import { CancelledError, type AttackLoss } from '../attacks/types.js';
import { augmentDigit, shuffleInPlace } from '../data/augment.js';
import { mulberry32, type Random } from '../seeded-random.js';

export const TRAINING_METHODS = ['plain', 'adversarial', 'distilled'] as const;
export type TrainingMethod = (typeof TRAINING_METHODS)[number];
export const INNER_ATTACKS = ['pgd', 'fgsm-rs'] as const;
/** The inner maximisation of adversarial training. */
export type InnerAttack = (typeof INNER_ATTACKS)[number];

export interface AdversarialSettings {
  attack: InnerAttack;
  /** L∞ budget, [0,1] pixel units. */
  epsilon: number;
  /** PGD steps (fgsm-rs: always 1). */
  steps: number;
  /** Step size α; fgsm-rs: 1.25ε (Wong et al.), PGD: 2.5ε/steps (Madry et al.) by default. */
  stepSize: number;
  /** f of (1 − f)·L(clean) + f·L(adversarial), in [0,1]. */
  adversarialFraction: number;
  /**
   * ε grows linearly from 0 to its value over these first epochs, batch by batch (0: full ε from the
   * start): PGD-7 at a constant ε 0.15 from the first batch left the seed's LeNet at chance (loss
   * 2.307 after an epoch), a network that never learnt the clean digits before the attack hid them.
   */
  epsilonRampEpochs: number;
}

export interface TrainingSettings {
  method: TrainingMethod;
  epochs: number;
  batchSize: number;
  /** Peak Adam learning rate, cosine decay to 5% of it (as scripts/train-mnist.ts). */
  learningRate: number;
  seed: number;
  /** Distillation temperature T > 0 (1 for the other methods). */
  temperature: number;
  adversarial?: AdversarialSettings;
  /** train-mnist's digit augmentation (shift, scale, rotation, blur, contrast, noise); grey images only. */
  augment: boolean;
  /** Whether the network's dropout layers drop while training. */
  dropout: boolean;
  /** Per-epoch robust accuracy: PGD at this ε with this many steps on the evaluation set (0 steps: none). */
  evaluation: { epsilon: number; steps: number };
}

/** Images NHWC in [0,1] with their labels. */
export interface LabelledImages {
  images: Float32Array;
  labels: Int32Array;
  count: number;
}

export type TrainingPhase = 'model' | 'teacher' | 'student';

export interface EpochRecord {
  phase: TrainingPhase;
  /** 1-based epoch within its phase. */
  epoch: number;
  epochs: number;
  learningRate: number;
  /** Mean training loss over the epoch (at temperature T for distillation). */
  loss: number;
  /** On the evaluation set; null when it is empty. */
  cleanAccuracy: number | null;
  robustAccuracy: number | null;
  /** ε the adversarial examples used at the end of this epoch (ramped), when adversarial. */
  trainingEpsilon?: number;
  seconds: number;
  examplesPerSecond: number;
}

/** Weights by name, as plain arrays (serialisable, and copied out of the backend). */
export interface NamedValues {
  name: string;
  shape: number[];
  values: Float32Array;
}

/** Everything needed to continue a run after the last completed epoch. */
export interface TrainingCheckpoint {
  /** Index into the method's phases (distillation: 0 teacher, 1 student). */
  phaseIndex: number;
  /** Epochs completed in that phase. */
  epochsDone: number;
  history: EpochRecord[];
  weights: NamedValues[];
  optimizer: NamedValues[];
  /** The finished teacher's weights, once distillation reaches the student. */
  teacher?: NamedValues[];
}

export interface TrainingHooks {
  /** After every batch: progress in examples over the whole run; may yield to the event loop. */
  onBatch?: (done: number, total: number) => Promise<void> | void;
  /** After every epoch, with the checkpoint to store (the run continues after it resolves). */
  onEpoch?: (record: EpochRecord, checkpoint: TrainingCheckpoint) => Promise<void> | void;
  signal?: AbortSignal;
}

export interface TrainingInput {
  /** A fresh network of the wanted architecture (called once per phase). */
  createNetwork: () => tf.LayersModel | Promise<tf.LayersModel>;
  /** Starts from the network's own weights (fine-tuning) instead of the seeded initialisation. */
  keepInitialWeights?: boolean;
  inputShape: readonly [number, number, number];
  numClasses: number;
  train: LabelledImages;
  evaluation: LabelledImages;
}

/** A bad setting or input, in one line that names it. */
export class TrainingInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrainingInputError';
  }
}

export const DEFAULT_TRAINING: TrainingSettings = {
  method: 'plain',
  epochs: 10,
  batchSize: 64,
  learningRate: 0.002,
  seed: 1,
  temperature: 1,
  augment: true,
  dropout: true,
  evaluation: { epsilon: 0.3, steps: 10 },
};

/** Papernot et al.'s temperature for MNIST. */
export const DEFAULT_DISTILLATION_TEMPERATURE = 100;

/** Madry et al.'s MNIST budget; Wong et al.'s fgsm-rs step 1.25ε; PGD 2.5ε/steps. */
export function defaultAdversarialSettings(attack: InnerAttack, epsilon = 0.3, steps = attack === 'pgd' ? 7 : 1): AdversarialSettings {
  return {
    attack,
    epsilon,
    steps: attack === 'fgsm-rs' ? 1 : steps,
    stepSize: attack === 'fgsm-rs' ? 1.25 * epsilon : (2.5 * epsilon) / steps,
    adversarialFraction: 1,
    epsilonRampEpochs: 0,
  };
}

export function checkTrainingSettings(s: TrainingSettings, input?: Pick<TrainingInput, 'train' | 'inputShape' | 'numClasses'>): void {
  const whole = (value: number, name: string) => {
    if (!Number.isInteger(value) || value < 1) throw new TrainingInputError(`${name} must be a whole number ≥ 1, got ${value}`);
  };
  whole(s.epochs, 'epochs');
  whole(s.batchSize, 'batch size');
  if (!Number.isInteger(s.seed) || s.seed < 0) throw new TrainingInputError(`seed must be a whole number ≥ 0, got ${s.seed}`);
  if (!(s.learningRate > 0) || !Number.isFinite(s.learningRate)) throw new TrainingInputError(`learning rate must be > 0, got ${s.learningRate}`);
  if (!(s.temperature > 0) || !Number.isFinite(s.temperature)) throw new TrainingInputError(`temperature T must be > 0, got ${s.temperature}`);
  if (s.method !== 'distilled' && s.temperature !== 1) throw new TrainingInputError(`temperature T applies to distillation only (method ${s.method} trains at T = 1)`);
  if (!(s.evaluation.epsilon >= 0 && s.evaluation.epsilon <= 1)) throw new TrainingInputError(`evaluation ε must be in [0,1], got ${s.evaluation.epsilon}`);
  if (!Number.isInteger(s.evaluation.steps) || s.evaluation.steps < 0) throw new TrainingInputError(`evaluation steps must be a whole number ≥ 0, got ${s.evaluation.steps}`);
  if (s.method === 'adversarial') {
    const a = s.adversarial;
    if (!a) throw new TrainingInputError('adversarial training needs its ε, steps and step size');
    if (!(a.epsilon > 0 && a.epsilon <= 1)) throw new TrainingInputError(`ε must be in (0,1] ([0,1] pixel units), got ${a.epsilon}`);
    whole(a.steps, 'steps');
    if (!(a.stepSize > 0) || !Number.isFinite(a.stepSize)) throw new TrainingInputError(`step size must be > 0, got ${a.stepSize}`);
    if (!(a.adversarialFraction >= 0 && a.adversarialFraction <= 1)) throw new TrainingInputError(`the adversarial fraction must be in [0,1], got ${a.adversarialFraction}`);
    if (!Number.isInteger(a.epsilonRampEpochs) || a.epsilonRampEpochs < 0) throw new TrainingInputError(`ε ramp must be a whole number of epochs ≥ 0, got ${a.epsilonRampEpochs}`);
  }
  if (!input) return;
  if (input.train.count === 0) throw new TrainingInputError('the training set is empty: no images to train on');
  const [h, w, c] = input.inputShape;
  if (input.train.images.length !== input.train.count * h * w * c) {
    throw new TrainingInputError(`the training images are not ${input.train.count} of ${h}x${w}x${c} (${input.train.images.length} values)`);
  }
  if (s.augment && c !== 1) throw new TrainingInputError('the digit augmentation works on grey images only: turn it off for colour data');
  for (const label of input.train.labels) {
    if (!(label >= 0 && label < input.numClasses)) throw new TrainingInputError(`a training label is ${label}, outside the model's ${input.numClasses} classes`);
  }
}

/**
 * Holds out `count` of the training images, chosen by `seed`, for the per-epoch clean and robust
 * accuracy, so choosing a recipe never looks at the test set; the rest keeps its order. Both parts
 * keep every class in proportion on average (a seeded draw, not the first or last images: the
 * `mnist` package stores its digits by class).
 */
export function validationSplit(data: LabelledImages, count: number, seed: number): { train: LabelledImages; validation: LabelledImages } {
  if (!Number.isInteger(count) || count < 0 || count >= data.count) {
    throw new TrainingInputError(`the validation split must be a whole number from 0 to ${data.count - 1} images (the training set has ${data.count}), got ${count}`);
  }
  const size = data.images.length / data.count;
  const order = Array.from({ length: data.count }, (_, i) => i);
  shuffleInPlace(order, mulberry32(imageSeed(seed, 0, 3000)));
  const held = order.slice(0, count).sort((a, b) => a - b);
  const isHeld = new Uint8Array(data.count);
  held.forEach((k) => (isHeld[k] = 1));
  const pick = (indices: number[]): LabelledImages => {
    const images = new Float32Array(indices.length * size);
    indices.forEach((k, i) => images.set(data.images.subarray(k * size, (k + 1) * size), i * size));
    return { images, labels: Int32Array.from(indices, (k) => data.labels[k]), count: indices.length };
  };
  return { train: pick(order.map((_, k) => k).filter((k) => !isHeld[k])), validation: pick(held) };
}

/** The phases a method runs, each with its epochs. */
export function trainingPhases(method: TrainingMethod): TrainingPhase[] {
  return method === 'distilled' ? ['teacher', 'student'] : ['model'];
}

/** Cosine decay from the peak to 5% of it (Loshchilov & Hutter, SGDR, without restarts). */
export function cosineLearningRate(peak: number, epoch: number, epochs: number): number {
  return peak * (0.05 + 0.95 * 0.5 * (1 + Math.cos((Math.PI * epoch) / epochs)));
}

/**
 * ε under the linear ramp after `epoch` whole epochs (0-based) and the fraction `done` ∈ [0,1] of the
 * current one: a batch that ends at that point trains at this ε.
 */
export function rampedEpsilon(a: AdversarialSettings, epoch: number, done = 1): number {
  return a.epsilonRampEpochs === 0 ? a.epsilon : a.epsilon * Math.min(1, (epoch + done) / a.epsilonRampEpochs);
}

/** Glorot-uniform kernels and zero biases from the lab's PRNG (TF.js's initialisers use Math.random). */
function initialiseWeights(model: tf.LayersModel, random: Random): void {
  for (const weight of model.trainableWeights) {
    const shape = weight.shape as number[];
    const size = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(size);
    if (shape.length >= 2) {
      const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
      const limit = Math.sqrt(6 / (receptive * (shape[shape.length - 2] + shape[shape.length - 1])));
      for (let i = 0; i < size; i++) values[i] = (2 * random() - 1) * limit;
    }
    const initial = tf.tensor(values, shape);
    weight.write(initial);
    initial.dispose();
  }
}

/**
 * Logits of `model` on x; `training` runs the layers in training mode. A Sequential model runs layer
 * by layer so its dropout layers take a seeded mask from `dropoutSeed` (no dropout without one);
 * other Layers models run through apply, whose dropout seeds itself.
 */
export function networkLogits(model: tf.LayersModel, x: tf.Tensor4D, training = false, dropoutSeed?: () => number): tf.Tensor2D {
  if (!(model instanceof tf.Sequential)) return model.apply(x, { training: training && dropoutSeed !== undefined }) as tf.Tensor2D;
  let h: tf.Tensor = x;
  for (const layer of model.layers) {
    if (layer.getClassName() === 'Dropout') {
      if (!training || !dropoutSeed) continue;
      const config = layer.getConfig() as { rate: number; noiseShape?: (number | null)[] | null };
      const noiseShape = config.noiseShape ? config.noiseShape.map((d, i) => d ?? h.shape[i]) : undefined;
      h = tf.dropout(h, config.rate, noiseShape as number[] | undefined, dropoutSeed());
      continue;
    }
    h = layer.apply(h, { training }) as tf.Tensor;
  }
  return h as tf.Tensor2D;
}

function classifierOf(model: tf.LayersModel, inputShape: readonly [number, number, number], numClasses: number): Classifier {
  return {
    id: model.name,
    inputShape,
    numClasses,
    labels: Array.from({ length: numClasses }, (_, i) => String(i)),
    logits: (x) => networkLogits(model, x),
    dispose: () => {},
  };
}

/** Top-1 accuracy of `images` (already adversarial or clean) in batches of 500. */
function accuracyOf(model: tf.LayersModel, inputShape: readonly [number, number, number], images: Float32Array, labels: Int32Array): number {
  const size = inputShape[0] * inputShape[1] * inputShape[2];
  let correct = 0;
  for (let start = 0; start < labels.length; start += 500) {
    const end = Math.min(labels.length, start + 500);
    const top1 = tf.tidy(() => networkLogits(model, tf.tensor4d(images.subarray(start * size, end * size), [end - start, ...inputShape])).argMax(1).dataSync());
    for (let i = 0; i < end - start; i++) if (top1[i] === labels[start + i]) correct++;
  }
  return correct / labels.length;
}

export interface RobustEvaluation {
  epsilon: number;
  steps: number;
  /** Random restarts: an image counts as robust only if it survives every one. */
  restarts: number;
  loss: AttackLoss;
  seed: number;
}

/**
 * Accuracy under an untargeted L∞ PGD (random start, α = 2.5ε/steps) with restarts: each restart
 * attacks only the images every earlier one failed on, which gives the same figure as keeping the
 * best restart per image at a fraction of the cost once most images have fallen.
 */
export async function robustAccuracy(
  model: tf.LayersModel,
  inputShape: readonly [number, number, number],
  numClasses: number,
  data: LabelledImages,
  e: RobustEvaluation,
  onStep: () => Promise<void> = async () => {},
): Promise<number> {
  const classifier = classifierOf(model, inputShape, numClasses);
  const size = inputShape[0] * inputShape[1] * inputShape[2];
  const top1 = (images: Float32Array, count: number): Int32Array =>
    tf.tidy(() => networkLogits(model, tf.tensor4d(images, [count, ...inputShape])).argMax(1).dataSync() as Int32Array);
  // Survivors: images still classified correctly; clean mistakes count as non-robust at once.
  let survivors: number[] = [];
  for (let start = 0; start < data.count; start += 500) {
    const end = Math.min(data.count, start + 500);
    const predicted = top1(data.images.slice(start * size, end * size), end - start);
    for (let i = start; i < end; i++) if (predicted[i - start] === data.labels[i]) survivors.push(i);
  }
  for (let restart = 0; restart < e.restarts && survivors.length > 0 && e.epsilon > 0; restart++) {
    const still: number[] = [];
    for (let at = 0; at < survivors.length; at += 250) {
      const chunk = survivors.slice(at, at + 250);
      const images = new Float32Array(chunk.length * size);
      const labels = Int32Array.from(chunk, (k) => data.labels[k]);
      const start = new Float32Array(chunk.length * size);
      chunk.forEach((k, i) => {
        images.set(data.images.subarray(k * size, (k + 1) * size), i * size);
        // Image k's start depends on (seed, k, restart) only, as in app/attacks/pgd.ts.
        start.set(randomStartPerturbations(1, size, e.epsilon, 'linf', e.seed, k, restart), i * size);
      });
      const adversarial = await iterativeAttack(classifier, images, labels, {
        epsilon: e.epsilon, steps: e.steps, stepSize: (2.5 * e.epsilon) / e.steps, norm: 'linf', loss: e.loss, targeted: false, start,
      }, onStep);
      const predicted = top1(adversarial, chunk.length);
      chunk.forEach((k, i) => {
        if (predicted[i] === labels[i]) still.push(k);
      });
    }
    survivors = still;
  }
  return survivors.length / data.count;
}

async function namedValues(tensors: { name: string; tensor: tf.Tensor }[]): Promise<NamedValues[]> {
  return Promise.all(tensors.map(async ({ name, tensor }) => ({ name, shape: [...tensor.shape], values: new Float32Array(await tensor.data()) })));
}

/** The optimizer's state; getWeights makes a new scalar for the iteration count each call, disposed here. */
async function optimizerState(optimizer: tf.Optimizer): Promise<NamedValues[]> {
  const weights = await optimizer.getWeights();
  try {
    return await namedValues(weights);
  } finally {
    weights.filter((w) => w.name === 'iter').forEach((w) => w.tensor.dispose());
  }
}

function weightsOf(model: tf.LayersModel): Promise<NamedValues[]> {
  return namedValues(model.trainableWeights.map((w) => ({ name: w.originalName, tensor: w.read() })));
}

export function restoreWeights(model: tf.LayersModel, saved: NamedValues[], what: string): void {
  const weights = model.trainableWeights;
  if (saved.length !== weights.length) throw new TrainingInputError(`the checkpoint's ${what} has ${saved.length} weights, the network ${weights.length}: it belongs to another architecture`);
  weights.forEach((w, i) => {
    if (saved[i].shape.join('x') !== w.shape.join('x')) throw new TrainingInputError(`the checkpoint's ${what} weight ${saved[i].name} is ${saved[i].shape.join('x')}, the network's ${w.shape.join('x')}`);
    const value = tf.tensor(saved[i].values, saved[i].shape);
    w.write(value);
    value.dispose();
  });
}

/** Per-epoch PRNG: depends on (seed, phase, epoch) only, so a resumed run draws what the whole run would. */
function epochRandom(seed: number, phaseIndex: number, epoch: number): Random {
  return mulberry32(imageSeed(seed, epoch, 1000 + phaseIndex));
}

/**
 * Softmax at temperature T of the teacher's logits: the student's soft labels (Papernot et al. §4.1).
 * Each row sums to 1.
 */
export function softLabels(model: tf.LayersModel, inputShape: readonly [number, number, number], images: Float32Array, count: number, temperature: number): Float32Array {
  const size = inputShape[0] * inputShape[1] * inputShape[2];
  const out: Float32Array[] = [];
  for (let start = 0; start < count; start += 500) {
    const end = Math.min(count, start + 500);
    out.push(tf.tidy(() => tf.softmax(networkLogits(model, tf.tensor4d(images.subarray(start * size, end * size), [end - start, ...inputShape])).div(temperature)).dataSync() as Float32Array));
  }
  const all = new Float32Array(out.reduce((a, b) => a + b.length, 0));
  let at = 0;
  for (const part of out) {
    all.set(part, at);
    at += part.length;
  }
  return all;
}

/**
 * Trains with `settings` and returns the deployed network (distillation: the student, read at T = 1)
 * and the per-epoch history. `resume` continues from a checkpoint of the same settings.
 */
export async function trainDefense(
  input: TrainingInput,
  settings: TrainingSettings,
  hooks: TrainingHooks = {},
  resume?: TrainingCheckpoint,
): Promise<{ model: tf.LayersModel; history: EpochRecord[] }> {
  checkTrainingSettings(settings, input);
  const { inputShape, numClasses, train, evaluation } = input;
  const size = inputShape[0] * inputShape[1] * inputShape[2];
  const phases = trainingPhases(settings.method);
  const total = phases.length * settings.epochs * train.count;
  const history: EpochRecord[] = resume ? [...resume.history] : [];
  let done = resume ? (resume.phaseIndex * settings.epochs + resume.epochsDone) * train.count : 0;
  let teacherWeights = resume?.teacher;
  let model: tf.LayersModel | undefined;

  for (let phaseIndex = resume?.phaseIndex ?? 0; phaseIndex < phases.length; phaseIndex++) {
    const phase = phases[phaseIndex];
    model?.dispose();
    model = await input.createNetwork();
    if (!input.keepInitialWeights) initialiseWeights(model, mulberry32(imageSeed(settings.seed, 0, 2000 + phaseIndex)));
    const optimizer = tf.train.adam(settings.learningRate);
    const resuming = resume && resume.phaseIndex === phaseIndex ? resume : undefined;
    if (resuming && resuming.weights.length > 0) {
      restoreWeights(model, resuming.weights, 'network');
      if (resuming.optimizer.length > 0) {
        const state = resuming.optimizer.map((v) => ({ name: v.name, tensor: tf.tensor(v.values, v.shape, v.name === 'iter' ? 'int32' : 'float32') }));
        // setWeights copies each value into a variable of its own.
        await optimizer.setWeights(state);
        tf.dispose(state.map((v) => v.tensor));
      }
    }

    // The student's targets: the teacher's softmax at T on the clean, unaugmented digits.
    let soft: Float32Array | undefined;
    if (phase === 'student') {
      if (!teacherWeights) throw new TrainingInputError('the checkpoint reaches the student but holds no teacher');
      const teacher = await input.createNetwork();
      restoreWeights(teacher, teacherWeights, 'teacher');
      soft = softLabels(teacher, inputShape, train.images, train.count, settings.temperature);
      teacher.dispose();
    }

    const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const order = Array.from({ length: train.count }, (_, i) => i);
    const batchImages = new Float32Array(settings.batchSize * size);
    const classifier = classifierOf(model, inputShape, numClasses);
    const temperature = settings.method === 'distilled' ? settings.temperature : 1;
    try {
      for (let epoch = resuming?.epochsDone ?? 0; epoch < settings.epochs; epoch++) {
        const t0 = Date.now();
        const random = epochRandom(settings.seed, phaseIndex, epoch);
        const lr = cosineLearningRate(settings.learningRate, epoch, settings.epochs);
        (optimizer as unknown as { learningRate: number }).learningRate = lr;
        order.forEach((_, i) => (order[i] = i));
        shuffleInPlace(order, random);
        const endEpsilon = settings.adversarial ? rampedEpsilon(settings.adversarial, epoch) : 0;
        let lossSum = 0;
        for (let start = 0; start < train.count; start += settings.batchSize) {
          if (hooks.signal?.aborted) throw new CancelledError();
          const n = Math.min(settings.batchSize, train.count - start);
          const labels = new Int32Array(n);
          const targets = soft ? new Float32Array(n * numClasses) : undefined;
          for (let i = 0; i < n; i++) {
            const k = order[start + i];
            const image = train.images.subarray(k * size, (k + 1) * size);
            batchImages.set(settings.augment ? augmentDigit(image, inputShape[0], inputShape[1], random) : image, i * size);
            labels[i] = train.labels[k];
            targets?.set(soft!.subarray(k * numClasses, (k + 1) * numClasses), i * numClasses);
          }
          const clean = batchImages.slice(0, n * size);
          let adversarial: Float32Array | undefined;
          const a = settings.adversarial;
          if (settings.method === 'adversarial' && a && a.adversarialFraction > 0) {
            const epsilon = rampedEpsilon(a, epoch, (start + n) / train.count);
            adversarial = await iterativeAttack(classifier, clean, labels, {
              epsilon,
              steps: a.steps,
              // The step scales with the ramped ε, so the ratio α/ε of the settings holds at every epoch.
              stepSize: (a.stepSize * epsilon) / a.epsilon,
              norm: 'linf',
              loss: 'ce',
              targeted: false,
              start: randomStartPerturbations(n, size, epsilon, 'linf', Math.floor(random() * 2 ** 32), 0, 0),
            }, async () => {});
          }
          const batchSeed = Math.floor(random() * 2 ** 31);
          const loss = tf.tidy((): tf.Scalar => {
            const ys = targets ? tf.tensor2d(targets, [n, numClasses]) : tf.oneHot(tf.tensor1d(labels, 'int32'), numClasses);
            let dropoutCalls = 0;
            const dropoutSeed = settings.dropout ? () => batchSeed + 7919 * dropoutCalls++ : undefined;
            const lossOn = (images: Float32Array) =>
              tf.losses.softmaxCrossEntropy(ys, networkLogits(model!, tf.tensor4d(images, [n, ...inputShape]), true, dropoutSeed).div(temperature)) as tf.Scalar;
            const f = adversarial ? settings.adversarial!.adversarialFraction : 0;
            return optimizer.minimize(() => {
              if (f === 1) return lossOn(adversarial!);
              const cleanLoss = lossOn(clean);
              return f === 0 ? cleanLoss : (cleanLoss.mul(1 - f).add(lossOn(adversarial!).mul(f)) as tf.Scalar);
            }, true, variables) as tf.Scalar;
          });
          lossSum += (await loss.data())[0] * n;
          loss.dispose();
          done += n;
          await hooks.onBatch?.(done, total);
        }
        const trainedSeconds = (Date.now() - t0) / 1000;
        const cleanAccuracy = evaluation.count > 0 ? accuracyOf(model, inputShape, evaluation.images, evaluation.labels) : null;
        const robust = evaluation.count > 0 && settings.evaluation.steps > 0 && phase !== 'teacher'
          ? await robustAccuracy(model, inputShape, numClasses, evaluation, { epsilon: settings.evaluation.epsilon, steps: settings.evaluation.steps, restarts: 1, loss: 'ce', seed: settings.seed })
          : null;
        const record: EpochRecord = {
          phase,
          epoch: epoch + 1,
          epochs: settings.epochs,
          learningRate: lr,
          loss: lossSum / train.count,
          cleanAccuracy,
          robustAccuracy: robust,
          ...(settings.method === 'adversarial' ? { trainingEpsilon: endEpsilon } : {}),
          seconds: (Date.now() - t0) / 1000,
          examplesPerSecond: train.count / trainedSeconds,
        };
        history.push(record);
        if (!Number.isFinite(record.loss)) throw new TrainingInputError(`the training diverged in epoch ${epoch + 1} (loss ${record.loss}): lower the learning rate`);
        const lastOfPhase = epoch + 1 === settings.epochs;
        const checkpoint: TrainingCheckpoint = {
          phaseIndex: lastOfPhase && phaseIndex + 1 < phases.length ? phaseIndex + 1 : phaseIndex,
          epochsDone: lastOfPhase && phaseIndex + 1 < phases.length ? 0 : epoch + 1,
          history: [...history],
          weights: lastOfPhase && phaseIndex + 1 < phases.length ? [] : await weightsOf(model),
          optimizer: lastOfPhase && phaseIndex + 1 < phases.length ? [] : await optimizerState(optimizer),
          ...(phase === 'teacher' && lastOfPhase ? { teacher: await weightsOf(model) } : teacherWeights ? { teacher: teacherWeights } : {}),
        };
        if (phase === 'teacher' && lastOfPhase) teacherWeights = checkpoint.teacher;
        await hooks.onEpoch?.(record, checkpoint);
      }
    } catch (error) {
      optimizer.dispose();
      model.dispose();
      throw error;
    }
    optimizer.dispose();
  }
  return { model: model!, history };
}
