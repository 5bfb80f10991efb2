/**
 * Input-transformation defenses: the classifier sees transform(x) instead of x.
 *
 * - JPEG compression (Dziugaite et al. 2016; Guo et al. 2018), through app/physical/jpeg.ts.
 * - Bit-depth reduction and median smoothing, the squeezers of feature squeezing (Xu, Evans & Qi 2018).
 * - The print-and-photo channel as a transformation: blur, sensor noise and JPEG in a row, the
 *   artificial transformations of app/physical/simulate.ts that Kurakin et al. found to destroy
 *   many adversarial examples.
 *
 * None of them has a useful gradient (rounding and sorting are flat almost everywhere), which is
 * exactly how such defenses fool a gradient attack (Athalye, Carlini & Wagner 2018, "obfuscated
 * gradients"). `transformedClassifier` therefore comes in two gradients: 'none', what a naive attack
 * sees (zero), and 'bpda', the Backward Pass Differentiable Approximation with the identity
 * (straight-through): forward transform(x), backward ∂/∂x ≈ ∂/∂transform(x). Both forwards are the same.
 */
import * as tf from '@tensorflow/tfjs';
import type { Classifier } from '../engine/classifier.js';
import { transformImages } from '../physical/simulate.js';

export type InputTransform =
  | { kind: 'jpeg'; quality: number }
  | { kind: 'bitDepth'; bits: number }
  | { kind: 'median'; size: number }
  | { kind: 'printPhoto'; seed: number };

export const INPUT_TRANSFORM_KINDS = ['jpeg', 'bitDepth', 'median', 'printPhoto'] as const;

export class InputTransformError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputTransformError';
  }
}

/** The print-and-photo channel's strengths: the middle of the `transforms` experiment's sweeps. */
export const PRINT_PHOTO_CHANNEL = { blurSigma: 0.75, noiseSigma: 0.03, jpegQuality: 75 } as const;

export function checkInputTransform(t: InputTransform): void {
  switch (t.kind) {
    case 'jpeg':
      if (!(Number.isInteger(t.quality) && t.quality >= 1 && t.quality <= 100)) throw new InputTransformError(`JPEG quality must be an integer from 1 to 100, got ${t.quality}`);
      return;
    case 'bitDepth':
      if (!(Number.isInteger(t.bits) && t.bits >= 1 && t.bits <= 8)) throw new InputTransformError(`bit depth must be an integer from 1 to 8, got ${t.bits}`);
      return;
    case 'median':
      if (!(Number.isInteger(t.size) && t.size >= 2 && t.size <= 7)) throw new InputTransformError(`median filter size must be an integer from 2 to 7, got ${t.size}`);
      return;
    case 'printPhoto':
      if (!(Number.isInteger(t.seed) && t.seed >= 0)) throw new InputTransformError(`print-and-photo seed must be an integer ≥ 0, got ${t.seed}`);
      return;
    default:
      throw new InputTransformError(`unknown input transformation "${String((t as { kind: unknown }).kind)}" (one of ${INPUT_TRANSFORM_KINDS.join(', ')})`);
  }
}

/** "JPEG q75", "4-bit", "median 2x2", "print-and-photo": how reports and the screen name a transform. */
export function transformTitle(t: InputTransform): string {
  switch (t.kind) {
    case 'jpeg':
      return `JPEG q${t.quality}`;
    case 'bitDepth':
      return `${t.bits}-bit`;
    case 'median':
      return `median ${t.size}x${t.size}`;
    case 'printPhoto':
      return 'print-and-photo';
  }
}

/** A short id suffix: "jpeg75", "bits4", "median2", "printphoto". */
export function transformSlug(t: InputTransform): string {
  switch (t.kind) {
    case 'jpeg':
      return `jpeg${t.quality}`;
    case 'bitDepth':
      return `bits${t.bits}`;
    case 'median':
      return `median${t.size}`;
    case 'printPhoto':
      return 'printphoto';
  }
}

/**
 * A model written with a transform in front, as the CLI takes it: "lenet-mnist+jpeg75",
 * "lenet-mnist+bits4", "lenet-mnist+median2", "lenet-mnist+printphoto" (the slugs transformSlug writes).
 * Text without a known suffix is the model alone.
 */
export function parseDefendedModel(text: string): { model: string; transform?: InputTransform } {
  const match = /^(.+)\+(jpeg(\d+)|bits(\d+)|median(\d+)|printphoto)$/.exec(text.trim());
  if (!match) return { model: text.trim() };
  const [, model, , quality, bits, size] = match;
  const transform: InputTransform =
    quality !== undefined ? { kind: 'jpeg', quality: Number(quality) } : bits !== undefined ? { kind: 'bitDepth', bits: Number(bits) } : size !== undefined ? { kind: 'median', size: Number(size) } : { kind: 'printPhoto', seed: 0 };
  checkInputTransform(transform);
  return { model, transform };
}

/**
 * Median over a size×size window per channel, edges replicated. An even size takes the window
 * [−⌊(s−1)/2⌋, ⌈(s−1)/2⌉] and the upper median, as Xu et al.'s 2x2 squeezer on MNIST does.
 */
function medianFilter(images: Float32Array, shape: readonly [number, number, number, number], size: number): Float32Array {
  const [count, height, width, channels] = shape;
  const out = new Float32Array(images.length);
  const before = Math.floor((size - 1) / 2);
  const window = new Float32Array(size * size);
  for (let n = 0; n < count; n++) {
    const base = n * height * width * channels;
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < channels; c++) {
      let k = 0;
      for (let dy = 0; dy < size; dy++) {
        const yy = Math.min(height - 1, Math.max(0, y - before + dy));
        for (let dx = 0; dx < size; dx++) {
          const xx = Math.min(width - 1, Math.max(0, x - before + dx));
          window[k++] = images[base + (yy * width + xx) * channels + c];
        }
      }
      window.sort();
      out[base + (y * width + x) * channels + c] = window[Math.floor(k / 2)];
    }
  }
  return out;
}

/** transform(images), NHWC in [0,1] → NHWC in [0,1]; a new array. */
export function applyInputTransform(images: Float32Array, shape: readonly [number, number, number, number], t: InputTransform): Float32Array {
  checkInputTransform(t);
  const [count, height, width, channels] = shape;
  if (images.length !== count * height * width * channels) throw new InputTransformError(`images hold ${images.length} values, shape ${shape.join('x')} needs ${count * height * width * channels}`);
  switch (t.kind) {
    case 'bitDepth': {
      const levels = 2 ** t.bits - 1;
      return Float32Array.from(images, (v) => Math.round(Math.min(1, Math.max(0, v)) * levels) / levels);
    }
    case 'median':
      return medianFilter(images, shape, t.size);
    case 'jpeg':
      if (channels !== 1 && channels !== 3) throw new InputTransformError(`JPEG needs 1 or 3 channels, got ${channels}`);
      return transformImages(images, shape, 'jpeg', t.quality);
    case 'printPhoto': {
      const blurred = transformImages(images, shape, 'blur', PRINT_PHOTO_CHANNEL.blurSigma);
      const noisy = transformImages(blurred, shape, 'noise', PRINT_PHOTO_CHANNEL.noiseSigma, t.seed);
      return channels === 1 || channels === 3 ? transformImages(noisy, shape, 'jpeg', PRINT_PHOTO_CHANNEL.jpegQuality) : noisy;
    }
  }
}

export type TransformGradient = 'none' | 'bpda';

/**
 * A defended classifier, transform then model. Its forward pass is the same for both gradients;
 * 'none' gives attacks the zero gradient the framework would, 'bpda' the straight-through one.
 */
export function transformedClassifier(base: Classifier, t: InputTransform, gradient: TransformGradient): Classifier {
  checkInputTransform(t);
  const transform = tf.customGrad(((x: tf.Tensor4D, save: tf.GradSaveFunc) => {
    save([]);
    const shape = x.shape as [number, number, number, number];
    return {
      value: tf.tensor4d(applyInputTransform(x.dataSync() as Float32Array, shape, t), shape),
      gradFunc: (dy: tf.Tensor) => (gradient === 'bpda' ? dy.clone() : tf.zerosLike(dy)),
    };
  }) as unknown as Parameters<typeof tf.customGrad<tf.Tensor4D>>[0]);
  return {
    id: `${base.id}+${transformSlug(t)}`,
    inputShape: base.inputShape,
    numClasses: base.numClasses,
    labels: base.labels,
    logits(images: tf.Tensor4D): tf.Tensor2D {
      return tf.tidy(() => base.logits(transform(images) as tf.Tensor4D));
    },
    dispose(): void {
      // The base model belongs to the caller.
    },
  };
}
