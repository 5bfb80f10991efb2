/**
 * The one seeded PRNG of the lab: PGD's random starts, training augmentation and the print-and-photo
 * simulation all draw from it, so a seed gives the same numbers in Node, the browser and worker
 * threads. (tf.randomUniform seeds per call and per backend, which is not enough.)
 */

/** A uniform [0, 1) source. */
export type Random = () => number;

/** mulberry32 (Tommy Ettinger, public domain): a 32-bit state PRNG, uniform in [0, 1). */
export function mulberry32(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
