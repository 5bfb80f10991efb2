/**
 * A SafetyNet-style detector of adversarial examples (Lu, Issaranon & Forsyth 2017, "SafetyNet:
 * Detecting and Rejecting Adversarial Examples Robustly"): the ReLU activations of a late layer are
 * quantised into discrete codes (binary: active or not; quaternary: off, or which third of the unit's
 * clean positive range it falls in) and an RBF-kernel SVM tells the codes of clean images from those
 * of adversarial ones. The protected model answers only where the detector does not flag the input;
 * what it rejects is counted apart from what it classifies.
 */
import { runAttack } from '../attacks/index.js';
import type { AttackMethod, AttackOptions } from '../attacks/types.js';
import type { Classifier } from '../engine/classifier.js';
import { predictLogits } from '../engine/predict.js';
import { protectedCounts as countProtected } from '../eval/rejections.js';
import type { ProtectedCounts } from '../eval/rejections.js';
import { mulberry32 } from '../seeded-random.js';
import { operatingPointAtFpr, rocAuc, thresholdAtFpr } from './roc.js';
import { DefenseEvaluationError, SubRunProgress, checkImages } from './robustness.js';
import type { DefenseControl } from './robustness.js';

export type Quantisation = 'binary' | 'quaternary';
export const DETECTOR_ATTACKS = ['fgsm', 'bim', 'pgd', 'deepfool'] as const;
export type DetectorAttack = (typeof DETECTOR_ATTACKS)[number];

/** Per unit the ascending thresholds a code counts: binary [0]; quaternary [0, t₁, t₂]. */
export interface ActivationCodebook {
  quantisation: Quantisation;
  units: number;
  thresholds: number[][];
}

/** A late layer's activations of N images, row-major [N, units]. */
export interface ActivationProbe {
  layer: string;
  units: number;
  activations(images: Float32Array): Float32Array;
}

export interface TrainedSvm {
  /** Per example the detector's score, higher = more likely adversarial (Platt probability). */
  scores(features: number[][]): Float64Array;
  serialize(): string;
  dispose(): void;
}

export interface SvmTrainer {
  train(features: number[][], labels: number[], options: { gamma: number; cost: number }): TrainedSvm;
}

export class DetectorError extends DefenseEvaluationError {}

/** The quaternary thresholds are the terciles of each unit's positive activations on clean images. */
export function fitCodebook(activations: Float32Array, units: number, quantisation: Quantisation): ActivationCodebook {
  if (quantisation !== 'binary' && quantisation !== 'quaternary') throw new DetectorError(`quantisation must be "binary" or "quaternary", got "${String(quantisation)}"`);
  if (!(Number.isInteger(units) && units > 0) || activations.length % units !== 0 || activations.length === 0) throw new DetectorError(`${activations.length} activations are not rows of ${units} units`);
  const n = activations.length / units;
  const thresholds: number[][] = [];
  for (let u = 0; u < units; u++) {
    if (quantisation === 'binary') {
      thresholds.push([0]);
      continue;
    }
    const positive: number[] = [];
    for (let i = 0; i < n; i++) if (activations[i * units + u] > 0) positive.push(activations[i * units + u]);
    positive.sort((a, b) => a - b);
    const at = (q: number) => (positive.length === 0 ? 0 : positive[Math.min(positive.length - 1, Math.floor(q * positive.length))]);
    thresholds.push([0, at(1 / 3), at(2 / 3)]);
  }
  return { quantisation, units, thresholds };
}

/** Codes in [0,1] per unit: (number of thresholds strictly below the activation) / levels − 1. */
export function encodeActivations(activations: Float32Array, codebook: ActivationCodebook): number[][] {
  const { units, thresholds } = codebook;
  if (activations.length % units !== 0) throw new DetectorError(`${activations.length} activations are not rows of ${units} units`);
  const levels = codebook.quantisation === 'binary' ? 1 : 3;
  const rows: number[][] = [];
  for (let i = 0; i < activations.length / units; i++) {
    const row = new Array<number>(units);
    for (let u = 0; u < units; u++) {
      const a = activations[i * units + u];
      let code = 0;
      for (const t of thresholds[u]) if (a > t) code++;
      row[u] = code / levels;
    }
    rows.push(row);
  }
  return rows;
}

export interface DetectorPlan {
  quantisation: Quantisation;
  /** The attack whose examples the SVM learns from. */
  train: { attack: DetectorAttack; epsilon: number };
  /** Attacks the detector is evaluated on (held-out images); the training attack is always one. */
  evaluate: { attack: DetectorAttack; epsilon: number }[];
  /** RBF γ (default 1/units) and C (default 1). */
  gamma?: number;
  cost?: number;
  /** The protected model's operating point: the clean false-positive rate it allows (default 0.05). */
  falsePositiveRate?: number;
  seed?: number;
  pgdSteps?: number;
  batchSize?: number;
}

export type { ProtectedCounts };

/** The protected model's rule, one for evaluation and use: refuse where the score is above the threshold. */
export function detectorRejects(scores: ArrayLike<number>, threshold: number): Uint8Array {
  return Uint8Array.from({ length: scores.length }, (_, i) => Number(scores[i] > threshold));
}

/** What a stored detector needs to screen inputs again (detector.json, from foolprint detect or the API). */
export interface DetectorScreen {
  layer: string;
  codebook: ActivationCodebook;
  threshold: number;
  /** libsvm's text serialisation of the trained SVM. */
  svm: string;
}

/** The detector's scores of N images (higher = more likely adversarial) and its verdicts. */
export function screenImages(images: Float32Array, probe: ActivationProbe, svm: TrainedSvm, screen: Pick<DetectorScreen, 'codebook' | 'threshold'>): { scores: Float64Array; rejected: Uint8Array } {
  if (probe.units !== screen.codebook.units) throw new DetectorError(`the detector's codebook has ${screen.codebook.units} units but layer "${probe.layer}" has ${probe.units}: it was trained on another model`);
  const scores = svm.scores(encodeActivations(probe.activations(images), screen.codebook));
  return { scores, rejected: detectorRejects(scores, screen.threshold) };
}

export interface DetectorEvaluation {
  attack: DetectorAttack;
  epsilon: number;
  /** Held-out clean images and successful adversarial ones scored. */
  clean: number;
  adversarial: number;
  /** Null when there is nothing to separate (no successful attack, or no clean image right). */
  auc: number | null;
  /** TPR at the highest threshold whose FPR is ≤ 5% on these held-out images. */
  tprAt5: number | null;
  fprAt5: number | null;
  /** The protected model at its fixed threshold, on every held-out image, clean and attacked. */
  protected: { clean: ProtectedCounts; adversarial: ProtectedCounts };
}

export interface DetectorReport {
  modelId: string;
  layer: string;
  units: number;
  quantisation: Quantisation;
  gamma: number;
  cost: number;
  train: { attack: DetectorAttack; epsilon: number; clean: number; adversarial: number };
  /** Flag above this score; chosen on the training images' clean scores at `falsePositiveRate`. */
  threshold: number;
  falsePositiveRate: number;
  evaluations: DetectorEvaluation[];
  codebook: ActivationCodebook;
  /** libsvm's text serialisation of the trained SVM. */
  svm: string;
}

function attackOptions(attack: DetectorAttack, epsilon: number, plan: DetectorPlan): AttackOptions {
  const options: AttackOptions = { method: attack as AttackMethod, epsilons: [attack === 'deepfool' ? 0 : epsilon], keepImages: true, topK: 1, seed: plan.seed ?? 0 };
  if (attack === 'pgd') options.steps = plan.pgdSteps ?? 40;
  if (plan.batchSize !== undefined) options.batchSize = plan.batchSize;
  return options;
}

function top1(classifier: Classifier, images: Float32Array, batchSize?: number): Int32Array {
  const logits = predictLogits(classifier, images, batchSize);
  const k = classifier.numClasses;
  const out = new Int32Array(logits.length / k);
  for (let i = 0; i < out.length; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (logits[i * k + c] > logits[i * k + best]) best = c;
    out[i] = best;
  }
  return out;
}

function take(images: Float32Array, size: number, indices: readonly number[]): Float32Array {
  const out = new Float32Array(indices.length * size);
  indices.forEach((index, j) => out.set(images.subarray(index * size, (index + 1) * size), j * size));
  return out;
}

/**
 * Trains the detector on a seeded random half of the images and evaluates it on the other half. Clean
 * examples are the images the model classifies correctly; adversarial examples are the attacks on
 * them that succeed (a failed attack is just another clean image).
 */
export async function trainAndEvaluateDetector(
  classifier: Classifier,
  probe: ActivationProbe,
  svmTrainer: SvmTrainer,
  images: Float32Array,
  labels: Int32Array,
  plan: DetectorPlan,
  control?: DefenseControl,
): Promise<DetectorReport> {
  checkImages(classifier, images, labels);
  if (labels.length < 8) throw new DetectorError(`a detector needs at least 8 images (half to train, half to test), got ${labels.length}`);
  const attacks = [plan.train, ...plan.evaluate.filter((e) => !(e.attack === plan.train.attack && e.epsilon === plan.train.epsilon))];
  for (const { attack, epsilon } of attacks) {
    if (!(DETECTOR_ATTACKS as readonly string[]).includes(attack)) throw new DetectorError(`unknown attack "${attack}" (one of ${DETECTOR_ATTACKS.join(', ')})`);
    if (!(Number.isFinite(epsilon) && epsilon > 0 && epsilon <= 1) && attack !== 'deepfool') throw new DetectorError(`ε must be in (0,1] pixel units, got ${epsilon}`);
  }
  const falsePositiveRate = plan.falsePositiveRate ?? 0.05;
  const cost = plan.cost ?? 1;
  const gamma = plan.gamma ?? 1 / probe.units;
  if (!(gamma > 0 && cost > 0)) throw new DetectorError(`the SVM's γ and C must be > 0, got γ ${gamma}, C ${cost}`);
  const [h, w, c] = classifier.inputShape;
  const size = h * w * c;
  // A seeded shuffle, not even/odd: datasets interleave their classes (the built-in samples go 0, 1, …, 9).
  const order = Array.from({ length: labels.length }, (_, i) => i);
  const random = mulberry32(plan.seed ?? 0);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const half = Math.ceil(labels.length / 2);
  const trainIdx = order.slice(0, half).sort((a, b) => a - b);
  const testIdx = order.slice(half).sort((a, b) => a - b);
  const split = (indices: number[]) => ({ images: take(images, size, indices), labels: Int32Array.from(indices, (i) => labels[i]) });
  const trainSet = split(trainIdx);
  const testSet = split(testIdx);
  const progress = new SubRunProgress(attacks.length + 1, control);

  const craft = async (set: { images: Float32Array; labels: Int32Array }, attack: DetectorAttack, epsilon: number) => {
    const result = await progress.run(`${attack.toUpperCase()}${attack === 'deepfool' ? '' : ` ε ${epsilon}`} for the detector`, (cc) => runAttack(classifier, set.images, set.labels, attackOptions(attack, epsilon, plan), cc));
    return result.perEpsilon[0].adversarial!;
  };
  const correctIndices = (set: { images: Float32Array; labels: Int32Array }, predicted: Int32Array) => Array.from(set.labels.keys()).filter((i) => predicted[i] === set.labels[i]);

  // Train: clean activations fix the codebook; the SVM learns clean (0) vs successful adversarial (1).
  const trainPredicted = top1(classifier, trainSet.images, plan.batchSize);
  const trainCorrect = correctIndices(trainSet, trainPredicted);
  const trainAdversarial = await craft(trainSet, plan.train.attack, plan.train.epsilon);
  const trainAdvPredicted = top1(classifier, trainAdversarial, plan.batchSize);
  const trainFooled = trainCorrect.filter((i) => trainAdvPredicted[i] !== trainSet.labels[i]);
  if (trainCorrect.length < 2 || trainFooled.length < 2) {
    throw new DetectorError(`too few training examples: ${trainCorrect.length} clean images classified right, ${trainFooled.length} successful ${plan.train.attack} examples (use more images or a larger ε)`);
  }
  const cleanActivations = probe.activations(take(trainSet.images, size, trainCorrect));
  const codebook = fitCodebook(cleanActivations, probe.units, plan.quantisation);
  const cleanFeatures = encodeActivations(cleanActivations, codebook);
  const advFeatures = encodeActivations(probe.activations(take(trainAdversarial, size, trainFooled)), codebook);
  const svm = await progress.run('training the RBF-SVM', async () =>
    svmTrainer.train([...cleanFeatures, ...advFeatures], [...cleanFeatures.map(() => 0), ...advFeatures.map(() => 1)], { gamma, cost }),
  );
  try {
    const threshold = thresholdAtFpr(svm.scores(cleanFeatures), falsePositiveRate);
    const score = (imgs: Float32Array) => svm.scores(encodeActivations(probe.activations(imgs), codebook));

    const testPredicted = top1(classifier, testSet.images, plan.batchSize);
    const testCorrect = correctIndices(testSet, testPredicted);
    const testCleanScores = score(testSet.images);
    const protectedCounts = (scores: Float64Array, predicted: Int32Array): ProtectedCounts => countProtected(detectorRejects(scores, threshold), (i) => predicted[i] === testSet.labels[i]);
    const evaluations: DetectorEvaluation[] = [];
    for (const { attack, epsilon } of attacks) {
      const adversarial = await craft(testSet, attack, epsilon);
      const advPredicted = top1(classifier, adversarial, plan.batchSize);
      const advScores = score(adversarial);
      const fooled = testCorrect.filter((i) => advPredicted[i] !== testSet.labels[i]);
      const scores = [...testCorrect.map((i) => testCleanScores[i]), ...fooled.map((i) => advScores[i])];
      const positive = [...testCorrect.map(() => 0), ...fooled.map(() => 1)];
      const enough = testCorrect.length > 0 && fooled.length > 0;
      const point = enough ? operatingPointAtFpr(scores, positive, 0.05) : { truePositiveRate: null, falsePositiveRate: null };
      evaluations.push({
        attack,
        epsilon: attack === 'deepfool' ? 0 : epsilon,
        clean: testCorrect.length,
        adversarial: fooled.length,
        auc: enough ? rocAuc(scores, positive) : null,
        tprAt5: point.truePositiveRate,
        fprAt5: point.falsePositiveRate,
        protected: { clean: protectedCounts(testCleanScores, testPredicted), adversarial: protectedCounts(advScores, advPredicted) },
      });
    }
    return {
      modelId: classifier.id,
      layer: probe.layer,
      units: probe.units,
      quantisation: plan.quantisation,
      gamma,
      cost,
      train: { attack: plan.train.attack, epsilon: plan.train.epsilon, clean: trainCorrect.length, adversarial: trainFooled.length },
      threshold,
      falsePositiveRate,
      evaluations,
      codebook,
      svm: svm.serialize(),
    };
  } finally {
    svm.dispose();
  }
}
