import * as tf from '@tensorflow/tfjs';
import type { Classifier } from './classifier.js';
import type { TopK } from '../attacks/types.js';

/** A prediction request the classifier cannot serve (wrong image buffer length, bad k). */
export class PredictionInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PredictionInputError';
  }
}

/** Images per forward pass: bounds the memory of one call whatever N is. */
export const DEFAULT_PREDICT_BATCH = 256;

/**
 * Top-k softmax probabilities from row-major logits [n, numClasses]. The softmax is taken in float64
 * after subtracting the row maximum, so large logits cannot overflow; log-probabilities (models ending
 * in softmax) give back the same probabilities. Ties keep the lower class index first.
 */
export function topKFromLogits(logits: ArrayLike<number>, numClasses: number, k: number): TopK {
  if (!Number.isInteger(numClasses) || numClasses < 1 || logits.length % numClasses !== 0) {
    throw new PredictionInputError(`logits of length ${logits.length} are not rows of ${numClasses} classes`);
  }
  if (!Number.isInteger(k) || k < 1 || k > numClasses) {
    throw new PredictionInputError(`top-k needs 1 ≤ k ≤ ${numClasses}, got ${k}`);
  }
  const n = logits.length / numClasses;
  const labels = new Int32Array(n * k);
  const probs = new Float32Array(n * k);
  const exps = new Float64Array(numClasses);
  const taken = new Uint8Array(numClasses);
  for (let i = 0; i < n; i++) {
    const row = i * numClasses;
    let max = -Infinity;
    for (let c = 0; c < numClasses; c++) max = Math.max(max, logits[row + c]);
    let sum = 0;
    for (let c = 0; c < numClasses; c++) {
      exps[c] = Math.exp(logits[row + c] - max);
      sum += exps[c];
    }
    taken.fill(0);
    // k selection passes: O(k·C) beats a full sort for the usual k = 5.
    for (let j = 0; j < k; j++) {
      let best = -1;
      for (let c = 0; c < numClasses; c++) {
        if (!taken[c] && (best < 0 || exps[c] > exps[best])) best = c;
      }
      taken[best] = 1;
      labels[i * k + j] = best;
      probs[i * k + j] = exps[best] / sum;
    }
  }
  return { k, labels, probs };
}

/** Logits of N images ([N·H·W·C] NHWC in [0,1]) as one row-major [N, numClasses] array, in batches. */
export function predictLogits(classifier: Classifier, images: Float32Array, batchSize = DEFAULT_PREDICT_BATCH): Float32Array {
  const [h, w, c] = classifier.inputShape;
  const size = h * w * c;
  if (images.length % size !== 0) {
    throw new PredictionInputError(
      `image buffer of length ${images.length} is not a whole number of ${h}x${w}x${c} images for model "${classifier.id}"`,
    );
  }
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new PredictionInputError(`batch size must be a positive integer, got ${batchSize}`);
  const n = images.length / size;
  const out = new Float32Array(n * classifier.numClasses);
  for (let start = 0; start < n; start += batchSize) {
    const b = Math.min(batchSize, n - start);
    const logits = tf.tidy(() => classifier.logits(tf.tensor4d(images.subarray(start * size, (start + b) * size), [b, h, w, c])));
    try {
      if (logits.shape.length !== 2 || logits.shape[0] !== b || logits.shape[1] !== classifier.numClasses) {
        throw new PredictionInputError(
          `model "${classifier.id}" returned logits of shape [${logits.shape.join(',')}], expected [${b},${classifier.numClasses}]`,
        );
      }
      out.set(logits.dataSync(), start * classifier.numClasses);
    } finally {
      logits.dispose();
    }
  }
  return out;
}

/**
 * Top-k softmax predictions of N images (NHWC in [0,1], the classifier's input shape), computed in
 * batches of `batchSize`. Synchronous: it reads each batch back with dataSync.
 */
export function predictTopK(classifier: Classifier, images: Float32Array, k = Math.min(5, classifier.numClasses), batchSize = DEFAULT_PREDICT_BATCH): TopK {
  if (!Number.isInteger(k) || k < 1 || k > classifier.numClasses) {
    throw new PredictionInputError(`top-k needs 1 ≤ k ≤ ${classifier.numClasses} for model "${classifier.id}", got ${k}`);
  }
  return topKFromLogits(predictLogits(classifier, images, batchSize), classifier.numClasses, k);
}
