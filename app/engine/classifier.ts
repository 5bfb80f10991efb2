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
  /**
   * Optional, for a forward pass on a gradient tape: `logits` as `logits(images)` computes them there,
   * and `untaped` the logits `logits(images)` gives off the tape, bit for bit, from the same pass.
   * They can differ: on a tape TF.js unfuses a layer's bias and non-linear activation (a Dense ReLU),
   * which moves the last bits. Layers the tape does not change are computed once for both, so the
   * clean images' prediction costs an attack little more than its first gradient step.
   */
  logitsBesideTape?: BesideTape;
  dispose(): void;
}

/** Classifier.logitsBesideTape: the pass, and the `logits` it stands for. */
export interface BesideTape {
  /**
   * The classifier's own `logits` function: the pass is used only while it still is. A wrapper that
   * spreads a classifier and replaces `logits` (a defence, a saturated softmax) carries this object
   * along, and must not have its gradient taken through the inner model's layers.
   */
  readonly of: Classifier['logits'];
  run(images: tf.Tensor4D): { logits: tf.Tensor2D; untaped: tf.Tensor2D };
  /**
   * Optional: ∇x Σ_i φ_i(logits) without a gradient tape, for a φ whose gradient w.r.t. the logits
   * the caller gives (`logitGradient`, as the tape would compute it), and with `withUntaped` the
   * logits off the tape from the same pass. The same bits as tf.grad through `run`, in fewer kernel
   * calls: the tape's bookkeeping is most of a step at batch 1.
   */
  gradient?(images: tf.Tensor4D, logitGradient: (logits: tf.Tensor2D) => tf.Tensor2D, withUntaped: boolean): { gradient: tf.Tensor4D; untaped?: tf.Tensor2D };
}
