/**
 * The objectives the gradient attacks ascend, per image, on logits [N, C].
 *
 * - 'ce': cross-entropy J(x, y) = −log softmax(z)_y (Goodfellow et al. 2014, Kurakin et al. 2016).
 *   Untargeted ascends J(x, y_true); targeted ascends −J(x, t), i.e. descends towards t.
 * - 'margin': the C&W logit difference (Carlini & Wagner 2017, eq. for f_6 without κ):
 *   untargeted ascends max_{j≠y} z_j − z_y; targeted ascends z_t − max_{j≠t} z_j.
 *   It does not saturate like softmax does, so a model whose CE gradient vanishes (gradient masking)
 *   can be told from one that is robust.
 */
import * as tf from '@tensorflow/tfjs';
import type { AttackLoss } from './types.js';

/** Large enough that the masked-out class is never the maximum of the other logits. */
const MASK_OFFSET = 1e9;

/** Per-image cross-entropy −log p(y|x) from logits. */
export function crossEntropy(logits: tf.Tensor2D, classes: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const onehot = tf.oneHot(classes, logits.shape[1]).toFloat();
    return tf.logSoftmax(logits).mul(onehot).sum(1).neg() as tf.Tensor1D;
  });
}

/** Per-image z_c − max_{j≠c} z_j: positive exactly when class c is the top-1. */
export function logitMargin(logits: tf.Tensor2D, classes: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const onehot = tf.oneHot(classes, logits.shape[1]).toFloat();
    const own = logits.mul(onehot).sum(1);
    const bestOther = logits.sub(onehot.mul(MASK_OFFSET)).max(1);
    return own.sub(bestOther) as tf.Tensor1D;
  });
}

/**
 * The per-image objective an attack maximises: `classes` are the true labels (untargeted) or the
 * targets (targeted).
 */
export function attackObjective(logits: tf.Tensor2D, classes: tf.Tensor1D, loss: AttackLoss, targeted: boolean): tf.Tensor1D {
  return tf.tidy(() => {
    if (loss === 'ce') {
      const ce = crossEntropy(logits, classes);
      return targeted ? ce.neg() : ce;
    }
    const margin = logitMargin(logits, classes);
    return targeted ? margin : margin.neg();
  });
}
