/**
 * Photometric and geometric augmentation of single-channel digit images, so a model trained on
 * MNIST also reads digits that were printed and photographed: small shifts, scale and rotation
 * (imperfect cropping and perspective), Gaussian blur (defocus, print spread), contrast and
 * brightness changes (paper is not black, ink is not white) and sensor noise. Pure and seeded.
 */

import { mulberry32 } from '../seeded-random.js';
import type { Random } from '../seeded-random.js';

export type { Random };

/** The lab's seeded PRNG (mulberry32), good enough for shuffles and augmentation. */
export const seededRandom: (seed: number) => Random = mulberry32;

/** A standard normal draw (Box–Muller). */
export function gaussian(random: Random): number {
  const u = 1 - random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

export function uniform(random: Random, lo: number, hi: number): number {
  return lo + (hi - lo) * random();
}

/** Fisher–Yates, in place. */
export function shuffleInPlace<T>(items: T[] | Int32Array, random: Random): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = items[i];
    items[i] = items[j];
    items[j] = t;
  }
}

export interface AffineParams {
  /** Rotation in radians (its sign convention does not matter to augmentation: ranges are symmetric). */
  angle: number;
  scale: number;
  /** Shift in pixels (x right, y down). */
  dx: number;
  dy: number;
}

/**
 * Rotates and scales about the image centre, then shifts; bilinear sampling, zero (background)
 * outside. Inverse mapping: each output pixel p reads the source at R⁻¹(p − c − t)/s + c.
 */
export function warpAffine(src: Float32Array, height: number, width: number, p: AffineParams, out = new Float32Array(height * width)): Float32Array {
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  const cos = Math.cos(p.angle) / p.scale;
  const sin = Math.sin(p.angle) / p.scale;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const ux = x - cx - p.dx;
      const uy = y - cy - p.dy;
      const sx = cos * ux - sin * uy + cx;
      const sy = sin * ux + cos * uy + cy;
      out[y * width + x] = bilinear(src, height, width, sx, sy);
    }
  }
  return out;
}

function bilinear(src: Float32Array, height: number, width: number, x: number, y: number): number {
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const fx = x - x0;
  const fy = y - y0;
  const at = (xi: number, yi: number) => (xi < 0 || yi < 0 || xi >= width || yi >= height ? 0 : src[yi * width + xi]);
  return (at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx) * (1 - fy) + (at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx) * fy;
}

/** Separable Gaussian blur (kernel radius ⌈3σ⌉, edges clamped). σ ≤ 0 copies. */
export function gaussianBlur(src: Float32Array, height: number, width: number, sigma: number, out = new Float32Array(height * width)): Float32Array {
  if (sigma <= 0) {
    out.set(src);
    return out;
  }
  const radius = Math.max(1, Math.ceil(3 * sigma));
  const kernel = new Float32Array(2 * radius + 1);
  let total = 0;
  for (let i = -radius; i <= radius; i++) total += kernel[i + radius] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < kernel.length; i++) kernel[i] /= total;
  const tmp = new Float32Array(height * width);
  const clamp = (v: number, n: number) => (v < 0 ? 0 : v >= n ? n - 1 : v);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (let k = -radius; k <= radius; k++) s += kernel[k + radius] * src[y * width + clamp(x + k, width)];
      tmp[y * width + x] = s;
    }
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (let k = -radius; k <= radius; k++) s += kernel[k + radius] * tmp[clamp(y + k, height) * width + x];
      out[y * width + x] = s;
    }
  }
  return out;
}

export interface DigitAugmentation {
  /** Largest shift, pixels (default 2). */
  maxShift: number;
  /** Scale range (default [0.9, 1.1]). */
  scale: [number, number];
  /** Largest rotation, degrees (default 10). */
  maxRotationDegrees: number;
  /** Probability of a blur, and its largest σ in pixels (defaults 0.5, 1). */
  blurProbability: number;
  maxBlurSigma: number;
  /** Probability of a contrast/brightness change: ink and paper levels move towards each other. */
  contrastProbability: number;
  /** Largest background level (paper) and smallest ink level, in [0,1] (defaults 0.2, 0.6). */
  maxBackground: number;
  minInk: number;
  /** Probability of Gaussian noise, and its largest σ (defaults 0.5, 0.06). */
  noiseProbability: number;
  maxNoiseSigma: number;
  /** Probability that an image is left untouched (keeps clean accuracy; default 0.2). */
  cleanProbability: number;
}

export const DEFAULT_DIGIT_AUGMENTATION: DigitAugmentation = {
  maxShift: 2,
  scale: [0.9, 1.1],
  maxRotationDegrees: 10,
  blurProbability: 0.5,
  maxBlurSigma: 1,
  contrastProbability: 0.5,
  maxBackground: 0.2,
  minInk: 0.6,
  noiseProbability: 0.5,
  maxNoiseSigma: 0.06,
  cleanProbability: 0.2,
};

/** One random augmentation of a single-channel image in [0,1]; the result stays in [0,1]. */
export function augmentDigit(src: Float32Array, height: number, width: number, random: Random, a: DigitAugmentation = DEFAULT_DIGIT_AUGMENTATION): Float32Array {
  if (random() < a.cleanProbability) return Float32Array.from(src);
  let x = warpAffine(src, height, width, {
    angle: (uniform(random, -1, 1) * a.maxRotationDegrees * Math.PI) / 180,
    scale: uniform(random, a.scale[0], a.scale[1]),
    dx: uniform(random, -a.maxShift, a.maxShift),
    dy: uniform(random, -a.maxShift, a.maxShift),
  });
  if (random() < a.blurProbability) x = gaussianBlur(x, height, width, uniform(random, 0.3, a.maxBlurSigma));
  if (random() < a.contrastProbability) {
    const background = uniform(random, 0, a.maxBackground);
    const ink = uniform(random, a.minInk, 1);
    for (let i = 0; i < x.length; i++) x[i] = background + (ink - background) * x[i];
  }
  if (random() < a.noiseProbability) {
    const sigma = uniform(random, 0, a.maxNoiseSigma);
    for (let i = 0; i < x.length; i++) x[i] += sigma * gaussian(random);
  }
  for (let i = 0; i < x.length; i++) x[i] = x[i] < 0 ? 0 : x[i] > 1 ? 1 : x[i];
  return x;
}
