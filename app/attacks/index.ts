/**
 * runAttack: the one entry point of every attack (FGSM, BIM, least-likely, PGD, DeepFool).
 *
 * Images are N×H×W×C in [0,1] (the classifier's inputShape), labels N true classes. The work runs in
 * internal chunks of `batchSize` images (default 256, fewer for a model whose gradient tape would not
 * fit: chunk-size.ts); every per-image array of the result is image-major and no image depends on
 * another (PGD's random start of image i comes from (seed, indexOffset + i)), so a caller may split a
 * batch across workers and concatenate the results.
 * Between steps it yields to the event loop, reports progress in image-steps and honours
 * `control.signal` by throwing CancelledError; no tensor outlives a call, whether it succeeds or throws.
 */
import type { Classifier } from '../engine/classifier.js';
import { predictLogits, topKFromLogits } from '../engine/predict.js';
import { allocateView, evaluateViews, writeView } from './adversarial-view.js';
import type { ViewCriterion } from './adversarial-view.js';
import { bimChunk } from './bim.js';
import { defaultChunkSize, tapeImageCapacity } from './chunk-size.js';
import { deepfoolChunk } from './deepfool.js';
import { fgsmChunk } from './fgsm.js';
import type { AttackChunk, ChunkOutcome, StepHook } from './iterative.js';
import { leastLikelyChunk, leastLikelyFromLogits } from './least-likely.js';
import { reportedOptions, resolveAttackInputs } from './options.js';
import type { ResolvedOptions } from './options.js';
import { pgdChunk } from './pgd.js';
import { stepSchedule } from './schedule.js';
import { estimateSurvival } from './survival.js';
import { CancelledError } from './types.js';
import type { AttackControl, AttackOptions, AttackResult, EpsilonResult } from './types.js';

export { AttackInputError, GradientUnavailableError } from './errors.js';
export { CancelledError } from './types.js';
export { ATTACK_METHODS, DEFAULT_ATTACK_BATCH } from './options.js';
export { defaultChunkSize, tapeBytesPerImage, TAPE_BUDGET_BYTES } from './chunk-size.js';
export { leastLikelyClasses } from './least-likely.js';
export { quantize8bit, perturbationNorms } from './adversarial-view.js';

/**
 * Lets a worker thread receive a cancel message between steps. setImmediate (Node) runs right after
 * the poll phase that delivers worker messages, without setTimeout's 1 ms floor, which would cost a
 * third of a batch-1 FGSM; browsers fall back to setTimeout.
 */
function yieldToEventLoop(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: (callback: () => void) => unknown }).setImmediate;
  return new Promise((resolve) => (immediate ? immediate(resolve) : setTimeout(resolve, 0)));
}

type ChunkAttack = (chunk: AttackChunk) => Promise<ChunkOutcome>;

/**
 * The print survival estimate's work per image, in the image-steps progress counts: a draw is one
 * forward pass, and a gradient step costs about three (forward, and a backward pass of about twice
 * the work), so the bar moves with the time it takes.
 */
function survivalStepEquivalents(o: ResolvedOptions): number {
  return o.survival ? Math.ceil(o.survival.draws / 3) : 0;
}

const MAX_KEPT_GRADIENT_BYTES = 64 * 2 ** 20;

/**
 * The clean images' logits (the prediction before the attack): known before the attack where it
 * needs them (least-likely targets, DeepFool's candidates), else taken from the first gradient
 * step's forward pass where the classifier gives them off the tape too (FGSM, BIM), else scored by
 * the first pass over the images in the same forward call as its adversarial views.
 */
interface CleanLogits {
  values: Float32Array;
  known: boolean;
}

/** Attacks all images chunk by chunk and judges each chunk (float and 8-bit) as soon as it is done. */
async function attackInChunks(
  classifier: Classifier,
  images: Float32Array,
  labels: Int32Array,
  criterion: ViewCriterion,
  o: ResolvedOptions,
  cleanLogits: CleanLogits,
  attack: ChunkAttack,
  onStep: StepHook,
  firstGradients?: Map<number, Float32Array>,
): Promise<Omit<EpsilonResult, 'epsilon'>> {
  const n = labels.length;
  const size = classifier.inputShape[0] * classifier.inputShape[1] * classifier.inputShape[2];
  const withTargets = criterion.targets !== undefined;
  const classes = classifier.numClasses;
  const float = allocateView(n, o.topK, withTargets);
  const quantized = allocateView(n, o.topK, withTargets, o.survival !== undefined);
  const adversarial = o.keepImages ? new Float32Array(n * size) : undefined;
  let iterations: Int32Array | undefined;
  // EOT runs a chunk's draws through the model together: as many as the tape budget holds per pass.
  const eotImagesPerPass = o.eot && n > 0 ? tapeImageCapacity(classifier) : undefined;
  for (let start = 0; start < n; start += o.batchSize) {
    const end = Math.min(n, start + o.batchSize);
    const clean = images.subarray(start * size, end * size);
    const chunkCriterion: ViewCriterion = {
      labels: labels.subarray(start, end),
      targets: criterion.targets?.subarray(start, end),
      targeted: criterion.targeted,
    };
    const outcome = await attack({
      classifier,
      images: clean,
      labels: chunkCriterion.labels,
      targets: chunkCriterion.targets,
      firstImageIndex: o.indexOffset + start,
      ...(eotImagesPerPass === undefined ? {} : { eotImagesPerPass }),
      cleanLogits: cleanLogits.known ? cleanLogits.values.subarray(start * classes, end * classes) : undefined,
      onStep,
      firstGradient: firstGradients && { get: () => firstGradients.get(start), set: (g) => firstGradients.set(start, g) },
    });
    if (outcome.cleanLogits) cleanLogits.values.set(outcome.cleanLogits, start * classes);
    const views = evaluateViews(classifier, clean, outcome.adversarial, chunkCriterion, o.topK, o.batchSize, !cleanLogits.known && !outcome.cleanLogits);
    if (views.cleanLogits) cleanLogits.values.set(views.cleanLogits, start * classes);
    if (o.survival) {
      views.quantized.survival = estimateSurvival(classifier, views.quantizedImages, chunkCriterion, o.survival, o.seed, o.indexOffset + start);
      await onStep((end - start) * survivalStepEquivalents(o));
    }
    writeView(float, views.float, start);
    writeView(quantized, views.quantized, start);
    adversarial?.set(outcome.adversarial, start * size);
    if (outcome.iterations) {
      iterations ??= new Int32Array(n);
      iterations.set(outcome.iterations, start);
    }
  }
  cleanLogits.known = true;
  const result: Omit<EpsilonResult, 'epsilon'> = { float, quantized };
  if (adversarial) {
    result.adversarial = adversarial;
    const perturbation = new Float32Array(adversarial.length);
    for (let j = 0; j < perturbation.length; j++) perturbation[j] = adversarial[j] - images[j];
    result.perturbation = perturbation;
  }
  if (iterations) result.iterations = iterations;
  return result;
}

/**
 * Runs one attack over a list of ε and returns per-ε results (always an array, even for one ε).
 * DeepFool has no budget: it runs once and the same result is reported under every ε of the list
 * (pass [0] when the budget means nothing to you).
 * Throws AttackInputError on bad inputs, GradientUnavailableError when the model has no input
 * gradient, CancelledError when `control.signal` aborts.
 */
export async function runAttack(
  classifier: Classifier,
  images: Float32Array,
  labels: Int32Array,
  options: AttackOptions,
  control?: AttackControl,
): Promise<AttackResult> {
  const resolved = resolveAttackInputs(classifier, images, labels, options);
  if (control?.signal?.aborted) throw new CancelledError();
  const n = labels.length;
  // One image needs no chunking, and the live view should not wait for the probe.
  const o = options.batchSize === undefined && n > 1 ? { ...resolved, batchSize: defaultChunkSize(classifier) } : resolved;
  const [h, w, c] = classifier.inputShape;

  // One clean pass serves the prediction before the attack, the least-likely classes and DeepFool's
  // candidates. (The first gradient step's forward pass alone cannot stand in for it: under a gradient
  // tape TF.js unfuses a dense layer's bias+ReLU, which moves 2 in 3 of LeNet's clean logits on the
  // MNIST test set by up to 1.5e-5, and results must stay bit-identical; logitsBesideTape reruns
  // those layers off the tape.) Methods that do not need it first take it from their first gradient
  // step, or score it with the first ε's views, in the same forward call.
  const cleanFirst = o.method === 'll' || o.method === 'deepfool';
  const cleanLogits: CleanLogits = cleanFirst
    ? { values: predictLogits(classifier, images, o.batchSize), known: true }
    : { values: new Float32Array(n * classifier.numClasses), known: false };
  const targets =
    o.method === 'll'
      ? leastLikelyFromLogits(cleanLogits.values, classifier.numClasses)
      : o.criterion.kind === 'targeted'
        ? o.criterion.targets
        : undefined;
  const criterion: ViewCriterion = { labels, targets, targeted: o.criterion.kind === 'targeted' };

  const schedules = o.epsilons.map((eps) => stepSchedule(o.method, eps, o));
  const runsPerEpsilon = o.method === 'pgd' ? o.restarts : 1;
  const survivalWork = n * survivalStepEquivalents(o) * (o.method === 'deepfool' ? 1 : o.epsilons.length);
  const total =
    (o.method === 'deepfool'
      ? n * o.maxIterations
      : schedules.reduce((sum, s) => sum + n * (s!.steps + (o.eot?.refine ?? 0)) * runsPerEpsilon, 0)) + survivalWork;
  let done = 0;
  let currentEpsilon: number | undefined;
  const onStep: StepHook = async (imageSteps) => {
    done += imageSteps;
    control?.onProgress?.({ done, total, epsilon: currentEpsilon });
    await yieldToEventLoop();
    if (control?.signal?.aborted) throw new CancelledError();
  };

  // FGSM and BIM take their first step from the clean images, so its gradient is the same for every
  // ε: over several ε it is computed once per chunk and kept (up to 64 MB; beyond, recomputed).
  const firstGradients = (o.method === 'fgsm' || o.method === 'bim') && o.epsilons.length > 1 && images.length * 4 <= MAX_KEPT_GRADIENT_BYTES
    ? new Map<number, Float32Array>()
    : undefined;
  const perEpsilon: EpsilonResult[] = [];
  if (o.method === 'deepfool') {
    const once = await attackInChunks(classifier, images, labels, criterion, o, cleanLogits, (chunk) => deepfoolChunk(chunk, o), onStep);
    for (const epsilon of o.epsilons) perEpsilon.push({ epsilon, ...once });
  } else {
    for (let e = 0; e < o.epsilons.length; e++) {
      const epsilon = o.epsilons[e];
      const schedule = schedules[e]!;
      currentEpsilon = epsilon;
      const attack: ChunkAttack =
        o.method === 'fgsm'
          ? (chunk) => fgsmChunk(chunk, epsilon, o)
          : o.method === 'bim'
            ? (chunk) => bimChunk(chunk, epsilon, o)
            : o.method === 'll'
              ? (chunk) => leastLikelyChunk(chunk, epsilon, o)
              : (chunk) => pgdChunk(chunk, epsilon, o);
      const result = await attackInChunks(classifier, images, labels, criterion, o, cleanLogits, attack, onStep, firstGradients);
      perEpsilon.push({
        epsilon,
        ...result,
        iterations: new Int32Array(n).fill(schedule.steps),
        steps: schedule.steps,
        stepSize: schedule.stepSize,
      });
    }
  }

  const result: AttackResult = {
    method: o.method,
    options: reportedOptions(o, options),
    shape: [n, h, w, c],
    labels: new Int32Array(labels),
    before: topKFromLogits(cleanLogits.values, classifier.numClasses, o.topK),
    perEpsilon,
  };
  if (targets) result.targets = new Int32Array(targets);
  return result;
}
