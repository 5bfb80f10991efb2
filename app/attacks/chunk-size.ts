/**
 * How many images runAttack attacks at once when the caller does not say: as many as the default
 * (256) unless the gradient tape of that many would not fit the memory budget. The tape holds every
 * activation of the forward pass for the backward one, so its size per image is the model's, not the
 * input's: a short probe measures it once per classifier, as the bytes the tape holds when the
 * forward pass of 2 images ends minus those of 1.
 *
 * Measured (WASM): LeNet's tape holds 0.09 MB per image (256 images: 22 MB), a MobileNet-v1-style
 * 224x224x3 model's 82 MB (peak of the whole step 155 MB per image): 256 of those would need 40 GB,
 * far past WASM's 4 GB heap. On LeNet, chunks of 64 to 512 ran an FGSM equally fast within this
 * 2-core machine's noise (fastest of 15, CPU µs per image: 766, 769, 725, 671), so the default stays.
 */
import * as tf from '@tensorflow/tfjs';
import type { Classifier } from '../engine/classifier.js';
import { inputGradient } from './iterative.js';
import { DEFAULT_ATTACK_BATCH } from './options.js';

/** Bytes of gradient tape a chunk may hold: a few times that is the step's peak, within one worker's heap. */
export const TAPE_BUDGET_BYTES = 256 * 2 ** 20;

const probed = new WeakMap<Classifier, number>();

/** Bytes the tape holds once the forward pass of `n` blank images has run (the backward then runs as usual). */
function tapeBytes(classifier: Classifier, n: number): number {
  const before = tf.memory().numBytes;
  let held = 0;
  const x = tf.zeros([n, ...classifier.inputShape]) as tf.Tensor4D;
  try {
    tf.dispose(
      inputGradient(classifier, x, (logits) => {
        held = tf.memory().numBytes - before;
        return logits.sum(1) as tf.Tensor1D;
      }),
    );
  } finally {
    x.dispose();
  }
  return held;
}

/** Bytes of gradient tape per image of `classifier` (probed once; 0 when the probe fails). */
export function tapeBytesPerImage(classifier: Classifier): number {
  let perImage = probed.get(classifier);
  if (perImage === undefined) {
    try {
      perImage = Math.max(0, tapeBytes(classifier, 2) - tapeBytes(classifier, 1));
    } catch {
      // No gradient, or the model refuses the probe's blank images: the attack itself will say so.
      perImage = 0;
    }
    probed.set(classifier, perImage);
  }
  return perImage;
}

/**
 * How many images' gradient tapes fit TAPE_BUDGET_BYTES together (at least 1), or undefined when the
 * probe could not tell: the bound of one model pass, which EOT's draws of a chunk share (eot.ts).
 */
export function tapeImageCapacity(classifier: Classifier): number | undefined {
  const perImage = tapeBytesPerImage(classifier);
  return perImage > 0 ? Math.max(1, Math.floor(TAPE_BUDGET_BYTES / perImage)) : undefined;
}

/**
 * The default chunk size of `classifier`: DEFAULT_ATTACK_BATCH, or fewer (at least 1) when its tape
 * per image times that exceeds TAPE_BUDGET_BYTES.
 */
export function defaultChunkSize(classifier: Classifier): number {
  const perImage = tapeBytesPerImage(classifier);
  return perImage > 0 ? Math.max(1, Math.min(DEFAULT_ATTACK_BATCH, Math.floor(TAPE_BUDGET_BYTES / perImage))) : DEFAULT_ATTACK_BATCH;
}
