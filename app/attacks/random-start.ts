/**
 * Seeded random starts for PGD (Madry et al. 2017, §2: "starting from a random point in the ε-ball").
 * tf.randomUniform seeds per call and per backend, so the start is drawn here in plain JS from a
 * mulberry32 stream seeded by (seed, global image index, restart): an image gets the same start
 * whether it is attacked alone, in a batch, or in another worker thread.
 */
import type { Norm } from './types.js';
import { mulberry32 } from '../seeded-random.js';

export { mulberry32 };

/** Mixes (seed, image index, restart) into one 32-bit seed (murmur3 finaliser on each word). */
export function imageSeed(seed: number, imageIndex: number, restart: number): number {
  let h = seed >>> 0;
  for (const word of [imageIndex >>> 0, Math.floor(imageIndex / 4294967296) >>> 0, restart >>> 0]) {
    h = Math.imul(h ^ word, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/**
 * Starting perturbations δ for n images of `size` values each: L∞ uniform in [−ε, ε]^d; L2 uniform
 * in the ball (Gaussian direction, radius ε·u^(1/d)).
 */
export function randomStartPerturbations(
  n: number,
  size: number,
  epsilon: number,
  norm: Norm,
  seed: number,
  firstImageIndex: number,
  restart: number,
): Float32Array {
  const out = new Float32Array(n * size);
  for (let i = 0; i < n; i++) {
    const random = mulberry32(imageSeed(seed, firstImageIndex + i, restart));
    const base = i * size;
    if (norm === 'linf') {
      for (let j = 0; j < size; j++) out[base + j] = (2 * random() - 1) * epsilon;
      continue;
    }
    let sq = 0;
    for (let j = 0; j < size; j += 2) {
      // Box–Muller: two independent standard normals per pair of uniforms.
      const r = Math.sqrt(-2 * Math.log(1 - random()));
      const theta = 2 * Math.PI * random();
      const g0 = r * Math.cos(theta);
      out[base + j] = g0;
      sq += g0 * g0;
      if (j + 1 < size) {
        const g1 = r * Math.sin(theta);
        out[base + j + 1] = g1;
        sq += g1 * g1;
      }
    }
    const radius = epsilon * Math.pow(random(), 1 / size);
    const scale = sq > 0 ? radius / Math.sqrt(sq) : 0;
    for (let j = 0; j < size; j++) out[base + j] *= scale;
  }
  return out;
}
