/**
 * A small seeded PRNG for the simulation channel: mulberry32 (Tommy Ettinger's 32-bit generator,
 * period 2³², passes gjrand/PractRand at the sizes we draw) and Box–Muller normals. Our own so a seed
 * gives the same photo in Node, the browser and in ten years.
 */
import { mulberry32 } from '../seeded-random.js';
import type { Random } from '../seeded-random.js';

export class SeededRandom {
  private readonly next: Random;
  private spare: number | undefined;

  constructor(seed: number) {
    // Mix the seed so 0, 1, 2… start far apart (splitmix32-style finaliser).
    let s = (Math.floor(seed) ^ 0x9e3779b9) >>> 0;
    s = Math.imul(s ^ (s >>> 16), 0x85ebca6b) >>> 0;
    s = Math.imul(s ^ (s >>> 13), 0xc2b2ae35) >>> 0;
    this.next = mulberry32((s ^ (s >>> 16)) >>> 0);
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.next();
  }

  /** Uniform in [low, high). */
  between(low: number, high: number): number {
    return low + (high - low) * this.uniform();
  }

  /** Standard normal N(0, 1) by Box–Muller, using both values of each pair. */
  normal(): number {
    if (this.spare !== undefined) {
      const value = this.spare;
      this.spare = undefined;
      return value;
    }
    let u = this.uniform();
    while (u <= Number.MIN_VALUE) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}
