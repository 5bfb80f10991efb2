/**
 * What the built-in models' training scripts share (train-mnist.ts, train-fashion.ts): the seeded
 * hold-out of the sample set, the augmented batches, the Adam loop with cosine decay on the WASM
 * backend, the accuracy tables under print-and-photo distortions, and the sample files. Each script
 * keeps only what is its own: where its images come from, its architecture and its TRAINING.md.
 *
 * Seeding: one seed drives the hold-out choice and the augmentation PRNG; Math.random is replaced by
 * a PRNG derived from it (`seedMathRandom`), because TF.js's initialisers, dropout masks and the
 * batch order take their seeds from Math.random. A run is repeatable on one machine; float summation
 * order may differ elsewhere.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Command } from 'commander';
import * as tf from '@tensorflow/tfjs';
import { gaussian, gaussianBlur, seededRandom, shuffleInPlace, warpAffine, type Random } from '../app/data/augment.js';
import { encodeIdxUint8 } from '../app/data/idx.js';
import { trainingLogits } from '../app/models/training-forward.js';

/** Single-channel square images in [0,1], row-major, one after another, with their class indices. */
export interface LabelledImages {
  images: Float32Array;
  labels: Int32Array;
  count: number;
  /** Side of the square images, pixels. */
  size: number;
}

export function subset(d: LabelledImages, indices: readonly number[]): LabelledImages {
  const pixels = d.size * d.size;
  const images = new Float32Array(indices.length * pixels);
  indices.forEach((k, i) => images.set(d.images.subarray(k * pixels, (k + 1) * pixels), i * pixels));
  return { images, labels: Int32Array.from(indices, (k) => d.labels[k]), count: indices.length, size: d.size };
}

/** TF.js draws initialiser and dropout seeds from Math.random: seed it (see header). */
export function seedMathRandom(seed: number): void {
  Math.random = seededRandom(seed ^ 0x5bd1e995);
}

/**
 * Holds out `perClass` images of each class, chosen by `random`, as a sample set. `samples` lists
 * them interleaved by class (0, 1, …, 9, 0, 1, …) so that the first N span every class; `train` is
 * every other index, in order.
 */
export function holdOut(labels: Int32Array, classes: number, perClass: number, random: Random): { samples: number[]; train: number[] } {
  const chosen: number[][] = [];
  for (let c = 0; c < classes; c++) {
    const ofClass = Array.from({ length: labels.length }, (_, i) => i).filter((i) => labels[i] === c);
    if (ofClass.length < perClass) throw new Error(`class ${c} has ${ofClass.length} images, fewer than the ${perClass} to hold out`);
    shuffleInPlace(ofClass, random);
    chosen.push(ofClass.slice(0, perClass).sort((a, b) => a - b));
  }
  const samples = Array.from({ length: classes * perClass }, (_, i) => chosen[i % classes][Math.floor(i / classes)]);
  const held = new Set(samples);
  return { samples, train: Array.from({ length: labels.length }, (_, i) => i).filter((i) => !held.has(i)) };
}

/** Writes images `order` of `bytes` (size x size each) and their labels as the gzipped IDX pair `samples-*-idx?-ubyte.gz`. */
export async function writeSampleSet(folder: string, bytes: Uint8Array, labels: Int32Array, size: number, order: readonly number[]): Promise<void> {
  const pixels = size * size;
  await mkdir(folder, { recursive: true });
  const sampleBytes = new Uint8Array(order.length * pixels);
  order.forEach((k, i) => sampleBytes.set(bytes.subarray(k * pixels, (k + 1) * pixels), i * pixels));
  await writeFile(path.join(folder, 'samples-images-idx3-ubyte.gz'), gzipSync(encodeIdxUint8([order.length, size, size], sampleBytes), { level: 9 }));
  await writeFile(path.join(folder, 'samples-labels-idx1-ubyte.gz'), gzipSync(encodeIdxUint8([order.length], Uint8Array.from(order, (k) => labels[k])), { level: 9 }));
}

export function accuracy(model: tf.LayersModel, d: LabelledImages): number {
  const pixels = d.size * d.size;
  let correct = 0;
  for (let start = 0; start < d.count; start += 1000) {
    const end = Math.min(d.count, start + 1000);
    const predicted = tf.tidy(() => (model.predict(tf.tensor4d(d.images.subarray(start * pixels, end * pixels), [end - start, d.size, d.size, 1])) as tf.Tensor).argMax(-1).dataSync());
    for (let i = 0; i < end - start; i++) if (predicted[i] === d.labels[start + i]) correct++;
  }
  return correct / d.count;
}

/** A test set under the distortions a printed-and-photographed image suffers, one at a time and all at once. */
export function testVariants(test: LabelledImages, random: Random): { name: string; data: LabelledImages }[] {
  const { size } = test;
  const pixels = size * size;
  const map = (f: (img: Float32Array) => Float32Array): LabelledImages => {
    const images = new Float32Array(test.images.length);
    for (let i = 0; i < test.count; i++) images.set(f(test.images.subarray(i * pixels, (i + 1) * pixels)), i * pixels);
    return { images, labels: test.labels, count: test.count, size };
  };
  const clip = (x: Float32Array) => x.map((v) => (v < 0 ? 0 : v > 1 ? 1 : v));
  const contrast = (x: Float32Array) => x.map((v) => 0.2 + 0.5 * v);
  const noise = (x: Float32Array) => clip(x.map((v) => v + 0.05 * gaussian(random)));
  return [
    { name: 'shifted 2 px right and down', data: map((x) => warpAffine(x, size, size, { angle: 0, scale: 1, dx: 2, dy: 2 })) },
    { name: 'rotated 10°', data: map((x) => warpAffine(x, size, size, { angle: (10 * Math.PI) / 180, scale: 1, dx: 0, dy: 0 })) },
    { name: 'scaled 0.9', data: map((x) => warpAffine(x, size, size, { angle: 0, scale: 0.9, dx: 0, dy: 0 })) },
    { name: 'Gaussian blur σ=1 px', data: map((x) => gaussianBlur(x, size, size, 1)) },
    { name: 'low contrast (paper 0.2, ink 0.7)', data: map(contrast) },
    { name: 'noise σ=0.05', data: map(noise) },
    {
      name: 'all at once (shift 1 px, rotate 5°, blur σ=0.8, low contrast, noise σ=0.03)',
      data: map((x) => clip(contrast(gaussianBlur(warpAffine(x, size, size, { angle: (5 * Math.PI) / 180, scale: 1, dx: 1, dy: 1 }), size, size, 0.8)).map((v) => v + 0.03 * gaussian(random)))),
    },
  ];
}

/** The clean test set and its distorted variants as a Markdown table, with each row logged. */
export function accuracyTable(model: tf.LayersModel, test: LabelledImages, testName: string, random: Random): string {
  const rows = [{ name: 'clean', acc: accuracy(model, test) }, ...testVariants(test, random).map((v) => ({ name: v.name, acc: accuracy(model, v.data) }))];
  for (const r of rows) console.log(`${testName}, ${r.name}: ${(r.acc * 100).toFixed(2)}%`);
  return [`| ${testName} (${test.count.toLocaleString('en')}) | accuracy |`, '|---|---|', ...rows.map((r) => `| ${r.name} | ${(r.acc * 100).toFixed(2)}% |`)].join('\n');
}

/**
 * WASM (SIMD, one thread) is ~15x faster than the CPU backend here; it lacks Conv2DBackpropFilter,
 * which `trainingLogits` avoids by computing the filter gradient as a forward convolution.
 */
export async function useWasmBackend(): Promise<string> {
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const require = createRequire(import.meta.url);
    wasm.setWasmPaths(path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep);
    wasm.setThreadsCount(1);
    if ((await tf.setBackend('wasm')) && tf.getBackend() === 'wasm') return 'wasm';
  } catch (error) {
    console.error(`WASM backend unavailable (${(error as Error).message.split('\n')[0]}): training on the CPU backend, much slower`);
  }
  await tf.setBackend('cpu');
  return 'cpu';
}

export type Augment = (image: Float32Array, random: Random) => Float32Array;

/**
 * One epoch's batches: `order` shuffled in place by `random`, then each image augmented (drawing
 * from the same `random`) in the order it is used. The buffer `images` is reused from batch to batch.
 */
export function* augmentedBatches(train: LabelledImages, order: number[], batchSize: number, augment: Augment, random: Random): Generator<{ images: Float32Array; labels: Int32Array; n: number }> {
  const pixels = train.size * train.size;
  const images = new Float32Array(batchSize * pixels);
  shuffleInPlace(order, random);
  for (let start = 0; start < order.length; start += batchSize) {
    const n = Math.min(batchSize, order.length - start);
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const k = order[start + i];
      images.set(augment(train.images.subarray(k * pixels, (k + 1) * pixels), random), i * pixels);
      labels[i] = train.labels[k];
    }
    yield { images: images.subarray(0, n * pixels), labels, n };
  }
}

/** Cosine decay from the peak to 5% of it (Loshchilov & Hutter, SGDR, without restarts). */
export function cosineLearningRate(peak: number, epoch: number, epochs: number): number {
  return peak * (0.05 + 0.95 * 0.5 * (1 + Math.cos((Math.PI * epoch) / epochs)));
}

export interface TrainingRun {
  epochs: number;
  batchSize: number;
  peakLr: number;
  classes: number;
  augment: Augment;
  /** The augmentation and batch-order PRNG (the hold-out drew from it first). */
  random: Random;
  /** Watched after every epoch (never used to choose anything: the run has a fixed length). */
  heldOut: LabelledImages;
  /**
   * Carved from the training images and left out of `train`: scored after every epoch (and before
   * the first), and the weights of the best-scoring epoch are the ones the run ends with, so the
   * checkpoint is chosen without looking at the test set.
   */
  validation?: LabelledImages;
  /** Seconds between progress lines within an epoch (default 60). */
  progressEverySeconds?: number;
}

/**
 * Trains `model` (plain layers, see `trainingLogits`) with Adam on softmax cross-entropy, the
 * learning rate decaying by `cosineLearningRate` epoch by epoch; returns one log line per epoch.
 */
export async function trainModel(model: tf.Sequential, train: LabelledImages, run: TrainingRun): Promise<string[]> {
  const { size } = train;
  const log: string[] = [];
  const validation = run.validation;
  // Epoch 0 (the starting weights) competes too: with --init they may already be the best.
  let best = validation ? { epoch: 0, acc: accuracy(model, validation), weights: model.getWeights().map((w) => w.clone()) } : null;
  if (best) {
    const line = `start  validation ${best.acc.toFixed(4)}`;
    console.log(line);
    log.push(line);
  }
  const optimizer = tf.train.adam(run.peakLr);
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const order = Array.from({ length: train.count }, (_, i) => i);
  const every = (run.progressEverySeconds ?? 60) * 1000;
  for (let epoch = 0; epoch < run.epochs; epoch++) {
    const t0 = Date.now();
    let lastProgress = t0;
    const lr = cosineLearningRate(run.peakLr, epoch, run.epochs);
    (optimizer as unknown as { learningRate: number }).learningRate = lr;
    let lossSum = 0;
    let seen = 0;
    for (const batch of augmentedBatches(train, order, run.batchSize, run.augment, run.random)) {
      const loss = tf.tidy((): tf.Scalar => {
        const xs = tf.tensor4d(batch.images, [batch.n, size, size, 1]);
        const ys = tf.oneHot(tf.tensor1d(batch.labels, 'int32'), run.classes);
        return optimizer.minimize(() => tf.losses.softmaxCrossEntropy(ys, trainingLogits(model, xs, true)) as tf.Scalar, true, variables) as tf.Scalar;
      });
      lossSum += (await loss.data())[0] * batch.n;
      loss.dispose();
      seen += batch.n;
      if (Date.now() - lastProgress > every) {
        lastProgress = Date.now();
        console.log(`  epoch ${epoch + 1}: ${seen}/${train.count} images, loss ${(lossSum / seen).toFixed(4)}, ${((lastProgress - t0) / 1000).toFixed(0)} s`);
      }
    }
    const seconds = ((Date.now() - t0) / 1000).toFixed(1);
    const validationAcc = validation ? accuracy(model, validation) : null;
    const line = `epoch ${String(epoch + 1).padStart(2)}/${run.epochs}  lr ${lr.toFixed(5)}  loss ${(lossSum / train.count).toFixed(4)}  held-out samples ${accuracy(model, run.heldOut).toFixed(4)}${validationAcc === null ? '' : `  validation ${validationAcc.toFixed(4)}`}  ${seconds} s`;
    console.log(line);
    log.push(line);
    if (best && validationAcc !== null && validationAcc > best.acc) {
      for (const w of best.weights) w.dispose();
      best = { epoch: epoch + 1, acc: validationAcc, weights: model.getWeights().map((w) => w.clone()) };
    }
  }
  optimizer.dispose();
  if (best) {
    model.setWeights(best.weights);
    for (const w of best.weights) w.dispose();
    const line = `kept epoch ${best.epoch} (validation ${best.acc.toFixed(4)})${best.epoch === 0 ? ': the starting weights' : ''}`;
    console.log(line);
    log.push(line);
  }
  return log;
}

/** A positive number from a command-line option, or a one-line error naming it. */
/** The loop's flags, as every built-in model's script words them; each script passes its own defaults. */
export function withLoopOptions(command: Command, defaults: { seed: string; epochs: string; batch: string; lr: string }): Command {
  return command
    .option('--seed <n>', 'seed of the hold-out choice, initialisation, dropout, batch order and augmentation', defaults.seed)
    .option('--epochs <n>', 'training epochs', defaults.epochs)
    .option('--batch <n>', 'batch size', defaults.batch)
    .option('--lr <x>', 'peak Adam learning rate (cosine decay to 5% of it)', defaults.lr);
}

/** The values of withLoopOptions' flags, checked. */
export function loopOptions(opts: { seed: string; epochs: string; batch: string; lr: string }): { seed: number; epochs: number; batchSize: number; peakLr: number } {
  return {
    seed: positiveOption(opts.seed, 'seed', true),
    epochs: positiveOption(opts.epochs, 'epochs', true),
    batchSize: positiveOption(opts.batch, 'batch', true),
    peakLr: positiveOption(opts.lr, 'lr', false),
  };
}

export function positiveOption(text: string, name: string, integer: boolean): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) throw new Error(`--${name} must be a positive ${integer ? 'whole ' : ''}number, got "${text}"`);
  return value;
}

/** The backend line of TRAINING.md. */
export function backendNote(backend: string): string {
  return `${backend}${backend === 'wasm' ? ' (SIMD, one thread); the conv filter gradient WASM lacks (Conv2DBackpropFilter) is computed as a forward convolution, conv2dValid in app/models/training-forward.ts, checked against tf.conv2d\'s gradient to 1e-5 in test/models.test.ts' : ''}`;
}
