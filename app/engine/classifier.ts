import type * as tf from '@tensorflow/tfjs';

/**
 * What every attack, evaluation and physical analysis sees of a model: a differentiable map from
 * images in [0,1] pixel space (NHWC, the model's input size) to logits. Preprocessing (range,
 * mean/std, BGR) happens inside `logits`, so gradients are always taken w.r.t. pixels in [0,1].
 */
export interface Classifier {
  readonly id: string;
  /** [height, width, channels] of the images `logits` takes. */
  readonly inputShape: readonly [number, number, number];
  readonly numClasses: number;
  readonly labels: readonly string[];
  /** Logits (or log-probabilities when the model ends in softmax), shape [N, numClasses]. */
  logits(images: tf.Tensor4D): tf.Tensor2D;
  dispose(): void;
}
