/**
 * The objectives the gradient attacks ascend, per image, on logits [N, C].
 *
 * - 'ce': cross-entropy J(x, y) = −log softmax(z)_y (Goodfellow et al. 2014, Kurakin et al. 2016).
 *   Untargeted ascends J(x, y_true); targeted ascends −J(x, t), i.e. descends towards t.
 * - 'margin': the C&W logit difference (Carlini & Wagner 2017, eq. for f_6 without κ):
 *   untargeted ascends max_{j≠y} z_j − z_y; targeted ascends z_t − max_{j≠t} z_j.
 *   It does not saturate like softmax does, so a model whose CE gradient vanishes (gradient masking)
 *   can be told from one that is robust.
 * - 'ce-float32': the same cross-entropy with the gradient autodiff gives it, p − e_y in float32 —
 *   what tf.losses, PyTorch's F.cross_entropy (the seed's loop), torchattacks, ART and Foolbox compute.
 *   It is a reference, not a recommended attack: it exists to reproduce the classic gradient-masking
 *   result (Carlini & Wagner 2016, "Defensive distillation is not robust to adversarial examples"): on a
 *   distilled network deployed at T = 1 the logits are ~T times larger, the softmax saturates, this
 *   gradient rounds to 0 and FGSM/BIM do (almost) nothing, while 'ce' and 'margin' still find the way.
 */
import * as tf from '@tensorflow/tfjs';
import type { AttackLoss } from './types.js';

/** Large enough that the masked-out class is never the maximum of the other logits. */
const MASK_OFFSET = 1e9;

/**
 * Per-image cross-entropy −log p(y|x) from logits.
 *
 * Its gradient w.r.t. the logits is p − e_y, and in float32 that loses the true class: once the
 * model is confident (logit gap ≳ 17, common on MNIST), p_y rounds to 1 and p_y − 1 to 0, so the
 * computed step only raises the other logits and never lowers z_y; past a gap of ~87 every p_j
 * underflows and the gradient is 0 (a sign attack then does nothing). Both are float artefacts,
 * not robustness. We return the same direction without cancellation:
 *   ∇_z J = (1 − p_y)·(q − e_y),  q_j = softmax over the classes j ≠ y,
 * dropping the positive per-image factor (1 − p_y). Every consumer is invariant to it: FGSM, BIM,
 * least-likely and PGD-L∞ take the sign, PGD-L2 normalises each image's gradient.
 *
 * The gradient does not depend on the value, so `gradientOnly` returns zeros in its place: the
 * attacks' gradient steps skip the log-softmax's nine kernel calls (at batch 1, per-call overheads
 * are most of a step). Never use such a value as a loss.
 */
export function crossEntropy(logits: tf.Tensor2D, classes: tf.Tensor1D, gradientOnly = false): tf.Tensor1D {
  return tf.tidy(() => {
    const onehot = tf.oneHot(classes, logits.shape[1]).toFloat();
    const loss = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const z = args[0] as tf.Tensor2D;
      // The one-hot mask is saved with z: the backward pass runs after this tidy has ended.
      (args[1] as tf.GradSaveFunc)([z, onehot]);
      return {
        value: gradientOnly ? tf.zeros([z.shape[0]]) : tf.logSoftmax(z).mul(onehot).sum(1).neg(),
        gradFunc: (dy: tf.Tensor, [savedZ, mask]: tf.Tensor[]) => crossEntropyGradient(savedZ as tf.Tensor2D, mask as tf.Tensor2D).mul(dy.expandDims(1)),
      };
    });
    return loss(logits) as tf.Tensor1D;
  });
}

/** crossEntropy's gradient w.r.t. the logits z, (q − e_y) for the one-hot `mask` of y (see crossEntropy). */
function crossEntropyGradient(z: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor2D {
  return tf.softmax(z.sub(mask.mul(MASK_OFFSET))).sub(mask);
}

/**
 * The gradient w.r.t. the logits of Σ_i attackObjective(logits, classes, loss, targeted)_i, as tf.grad
 * computes it through attackObjective (bit for bit: the sum's and the negation's gradients multiply
 * by exactly ±1), for the objectives where that is simple: 'ce'. Undefined for the others, whose
 * gradient the tape takes.
 */
export function objectiveLogitGradient(loss: AttackLoss, targeted: boolean): ((logits: tf.Tensor2D, classes: tf.Tensor1D) => tf.Tensor2D) | undefined {
  if (loss !== 'ce') return undefined;
  return (logits, classes) =>
    tf.tidy(() => {
      const gradient = crossEntropyGradient(logits, tf.oneHot(classes, logits.shape[1]).toFloat() as tf.Tensor2D);
      return targeted ? gradient.neg() : gradient;
    });
}

/**
 * Per-image cross-entropy −log p(y|x) with TF.js's own gradient p − e_y (no customGrad): the
 * textbook computation, kept to show where it fails (see 'ce-float32' above and crossEntropy).
 */
export function crossEntropyFloat32(logits: tf.Tensor2D, classes: tf.Tensor1D): tf.Tensor1D {
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
 * targets (targeted). With loss 'margin', `confidence` κ caps it (Carlini & Wagner 2017, f_6 with
 * κ): min(max_{j≠y} z_j − z_y, κ) untargeted, min(z_t − max_{j≠t} z_j, κ) targeted, whose gradient
 * vanishes once the image is misclassified (or on target) by a margin of κ.
 * `gradientOnly`: the caller only differentiates it, so 'ce' may skip its value (see crossEntropy).
 */
export function attackObjective(
  logits: tf.Tensor2D,
  classes: tf.Tensor1D,
  loss: AttackLoss,
  targeted: boolean,
  confidence?: number,
  gradientOnly = false,
): tf.Tensor1D {
  return tf.tidy(() => {
    if (loss === 'ce' || loss === 'ce-float32') {
      const ce = loss === 'ce' ? crossEntropy(logits, classes, gradientOnly) : crossEntropyFloat32(logits, classes);
      return targeted ? ce.neg() : ce;
    }
    const margin = logitMargin(logits, classes);
    const objective = targeted ? margin : margin.neg();
    return confidence === undefined ? objective : objective.minimum(confidence);
  });
}
