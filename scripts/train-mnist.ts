/**
 * Trains the built-in model (`npm run train:mnist -- --test FOLDER`, or FOOLPRINT_MNIST=FOLDER; the
 * folder holds the user's copy of the MNIST test set, t10k-*-ubyte[.gz], for the accuracy table of
 * TRAINING.md): the seed's LeNet on the 10,000 MNIST training
 * digits of the `mnist` npm package (none of them in the MNIST test set), minus 300 held out (30 per
 * class, chosen by the seed) that become the built-in sample set in assets/samples/.
 *
 * Augmented (shift ±2 px, scale 0.9–1.1, rotation ±10°, blur σ ≤ 1, contrast/brightness, noise) so
 * the model also reads printed-and-photographed digits. Adam, cosine learning-rate decay.
 * Runs on the WASM backend, with the conv filter gradient computed as a forward convolution
 * (WASM has no Conv2DBackpropFilter kernel; the CPU backend, which has one, is ~15x slower).
 *
 * Seeding: one seed drives the hold-out choice and the augmentation PRNG; Math.random is replaced by
 * a PRNG derived from it, because TF.js's initialisers, dropout masks and the batch order take their
 * seeds from Math.random. A run is repeatable on one machine; float summation order may differ
 * elsewhere.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { Command, Option } from 'commander';
import * as tf from '@tensorflow/tfjs';
import { augmentDigit, gaussian, gaussianBlur, seededRandom, shuffleInPlace, warpAffine, type Random } from '../app/data/augment.js';
import { encodeIdxUint8 } from '../app/data/idx.js';
import { createLeNet, leNetLogits } from '../app/models/lenet.js';
import type { ModelManifest } from '../app/models/manifest.js';
import { DIGIT_EPSILONS } from '../app/models/manifest.js';
import { loadDataset } from '../app/node/dataset-loader.js';
import { HOLDOUT_PER_CLASS, holdoutSplit, packageDigits, subset, type Digits } from '../app/node/mnist-package.js';
import { saveLayersModel } from '../app/node/model-io.js';
import { repoRoot } from '../app/node/model-loader.js';

const SIZE = 28;
const PIXELS = SIZE * SIZE;

/** The MNIST test set from the user's folder (IDX, raw or gzipped), read by the app's own dataset loader. */
async function mnistTestSet(folder: string): Promise<Digits> {
  const dataset = await loadDataset(folder, { height: SIZE, width: SIZE, channels: 1 }).catch((error: unknown) => {
    throw new Error(`the MNIST test set (--test or FOOLPRINT_MNIST) is unreadable: ${(error as Error).message}`);
  });
  return { images: dataset.images, labels: dataset.labels, count: dataset.count };
}

function accuracy(model: tf.LayersModel, d: Digits): number {
  let correct = 0;
  for (let start = 0; start < d.count; start += 1000) {
    const end = Math.min(d.count, start + 1000);
    const predicted = tf.tidy(() => (model.predict(tf.tensor4d(d.images.subarray(start * PIXELS, end * PIXELS), [end - start, SIZE, SIZE, 1])) as tf.Tensor).argMax(-1).dataSync());
    for (let i = 0; i < end - start; i++) if (predicted[i] === d.labels[start + i]) correct++;
  }
  return correct / d.count;
}

/** The MNIST test set under the distortions a printed-and-photographed digit suffers. */
function testVariants(test: Digits, random: Random): { name: string; data: Digits }[] {
  const map = (f: (img: Float32Array) => Float32Array): Digits => {
    const images = new Float32Array(test.images.length);
    for (let i = 0; i < test.count; i++) images.set(f(test.images.subarray(i * PIXELS, (i + 1) * PIXELS)), i * PIXELS);
    return { images, labels: test.labels, count: test.count };
  };
  const clip = (x: Float32Array) => x.map((v) => (v < 0 ? 0 : v > 1 ? 1 : v));
  const contrast = (x: Float32Array) => x.map((v) => 0.2 + 0.5 * v);
  const noise = (x: Float32Array) => clip(x.map((v) => v + 0.05 * gaussian(random)));
  return [
    { name: 'shifted 2 px right and down', data: map((x) => warpAffine(x, SIZE, SIZE, { angle: 0, scale: 1, dx: 2, dy: 2 })) },
    { name: 'rotated 10°', data: map((x) => warpAffine(x, SIZE, SIZE, { angle: (10 * Math.PI) / 180, scale: 1, dx: 0, dy: 0 })) },
    { name: 'scaled 0.9', data: map((x) => warpAffine(x, SIZE, SIZE, { angle: 0, scale: 0.9, dx: 0, dy: 0 })) },
    { name: 'Gaussian blur σ=1 px', data: map((x) => gaussianBlur(x, SIZE, SIZE, 1)) },
    { name: 'low contrast (paper 0.2, ink 0.7)', data: map(contrast) },
    { name: 'noise σ=0.05', data: map(noise) },
    {
      name: 'all at once (shift 1 px, rotate 5°, blur σ=0.8, low contrast, noise σ=0.03)',
      data: map((x) => clip(contrast(gaussianBlur(warpAffine(x, SIZE, SIZE, { angle: (5 * Math.PI) / 180, scale: 1, dx: 1, dy: 1 }), SIZE, SIZE, 0.8)).map((v) => v + 0.03 * gaussian(random)))),
    },
  ];
}

/**
 * WASM (SIMD, one thread) is ~15x faster than the CPU backend here; it lacks Conv2DBackpropFilter,
 * which `leNetLogits` avoids by computing the filter gradient as a forward convolution.
 */
async function useWasmBackend(): Promise<string> {
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

async function main(): Promise<void> {
  const root = repoRoot();
  const program = new Command('train-mnist')
    .option('--seed <n>', 'seed of the hold-out choice, initialisation, dropout, batch order and augmentation', '20261128')
    .option('--epochs <n>', 'training epochs', '20')
    .option('--batch <n>', 'batch size', '64')
    .option('--lr <x>', 'peak Adam learning rate (cosine decay to 5% of it)', '0.002')
    .option('--out <folder>', 'model folder', path.join(root, 'assets/models/lenet-mnist'))
    .option('--samples <folder>', 'built-in sample set folder', path.join(root, 'assets/samples'))
    .addOption(new Option('--test <folder>', 'your folder with the MNIST test set: t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz] from the MNIST database')
      .env('FOOLPRINT_MNIST').makeOptionMandatory())
    .parse(process.argv);
  const opts = program.opts<{ seed: string; epochs: string; batch: string; lr: string; out: string; samples: string; test: string }>();
  const positive = (text: string, name: string, integer: boolean): number => {
    const value = Number(text);
    if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) throw new Error(`--${name} must be a positive ${integer ? 'whole ' : ''}number, got "${text}"`);
    return value;
  };
  const seed = positive(opts.seed, 'seed', true);
  const epochs = positive(opts.epochs, 'epochs', true);
  const batchSize = positive(opts.batch, 'batch', true);
  const peakLr = positive(opts.lr, 'lr', false);
  // Read before training, so a wrong folder fails in a second rather than after the whole run.
  const test = await mnistTestSet(opts.test);

  // TF.js draws initialiser and dropout seeds from Math.random: seed it (see header).
  Math.random = seededRandom(seed ^ 0x5bd1e995);
  const random = seededRandom(seed);
  const backend = await useWasmBackend();
  console.log(`backend: ${backend}`);
  const started = Date.now();

  const { digits, bytes, indexInPackage } = await packageDigits();
  // Hold out 30 digits per class, chosen by the seed, as the built-in sample set.
  const { holdout, trainIndices } = holdoutSplit(digits, random);
  // Stored interleaved by class (0, 1, …, 9, 0, 1, …) so that the first N samples span every class.
  const sampleOrder = Array.from({ length: holdout.length }, (_, i) => holdout[(i % 10) * HOLDOUT_PER_CLASS + Math.floor(i / 10)]);
  const train = subset(digits, trainIndices);
  const samples = subset(digits, sampleOrder);

  await mkdir(opts.samples, { recursive: true });
  const sampleBytes = new Uint8Array(sampleOrder.length * PIXELS);
  sampleOrder.forEach((k, i) => sampleBytes.set(bytes.subarray(k * PIXELS, (k + 1) * PIXELS), i * PIXELS));
  await writeFile(path.join(opts.samples, 'samples-images-idx3-ubyte.gz'), gzipSync(encodeIdxUint8([holdout.length, SIZE, SIZE], sampleBytes), { level: 9 }));
  await writeFile(path.join(opts.samples, 'samples-labels-idx1-ubyte.gz'), gzipSync(encodeIdxUint8([sampleOrder.length], Uint8Array.from(sampleOrder, (k) => digits.labels[k])), { level: 9 }));
  await writeFile(
    path.join(opts.samples, 'README.md'),
    [
      '# Built-in sample set',
      '',
      `${holdout.length} MNIST digits (${HOLDOUT_PER_CLASS} per class, interleaved 0, 1, …, 9, 0, 1, … so the first N span every class), 28x28 grey, white on black, as IDX files`,
      '(`samples-images-idx3-ubyte.gz`, `samples-labels-idx1-ubyte.gz`; load them with `--data samples`).',
      '',
      `Provenance: drawn from the 10,000 MNIST training digits of the \`mnist\` npm package (v1.1.0) by \`npm run train:mnist\``,
      `with seed ${seed}, and held out of the built-in model's training, so the model never saw them. None is in the MNIST test set.`,
      'Pixel values are the package\'s values ×255, rounded.',
      '',
      'Index in the package, per sample (class: indices into `mnist[class]`):',
      '',
      ...Array.from({ length: 10 }, (_, d) => `- ${d}: ${holdout.filter((k) => digits.labels[k] === d).map((k) => indexInPackage[k]).join(', ')}`),
      '',
    ].join('\n'),
  );

  const model = createLeNet();
  const optimizer = tf.train.adam(peakLr);
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const log: string[] = [];
  const order = Array.from({ length: train.count }, (_, i) => i);
  const batchImages = new Float32Array(batchSize * PIXELS);
  for (let epoch = 0; epoch < epochs; epoch++) {
    const t0 = Date.now();
    // Cosine decay from the peak to 5% of it (Loshchilov & Hutter, SGDR, without restarts).
    const lr = peakLr * (0.05 + 0.95 * 0.5 * (1 + Math.cos((Math.PI * epoch) / epochs)));
    (optimizer as unknown as { learningRate: number }).learningRate = lr;
    shuffleInPlace(order, random);
    let lossSum = 0;
    for (let start = 0; start < train.count; start += batchSize) {
      const n = Math.min(batchSize, train.count - start);
      const labels = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const k = order[start + i];
        batchImages.set(augmentDigit(train.images.subarray(k * PIXELS, (k + 1) * PIXELS), SIZE, SIZE, random), i * PIXELS);
        labels[i] = train.labels[k];
      }
      const loss = tf.tidy((): tf.Scalar => {
        const xs = tf.tensor4d(batchImages.subarray(0, n * PIXELS), [n, SIZE, SIZE, 1]);
        const ys = tf.oneHot(tf.tensor1d(labels, 'int32'), 10);
        return optimizer.minimize(() => tf.losses.softmaxCrossEntropy(ys, leNetLogits(model, xs, true)) as tf.Scalar, true, variables) as tf.Scalar;
      });
      lossSum += (await loss.data())[0] * n;
      loss.dispose();
    }
    const line = `epoch ${String(epoch + 1).padStart(2)}/${epochs}  lr ${lr.toFixed(5)}  loss ${(lossSum / train.count).toFixed(4)}  held-out samples ${accuracy(model, samples).toFixed(4)}  ${((Date.now() - t0) / 1000).toFixed(1)} s`;
    console.log(line);
    log.push(line);
  }
  const trainSeconds = (Date.now() - started) / 1000;

  await saveLayersModel(model, opts.out);
  const manifest: ModelManifest = {
    schemaVersion: 1,
    name: 'LeNet (seed) on MNIST',
    description: `The seed's LeNet, trained by npm run train:mnist (seed ${seed}) on 9,700 augmented MNIST training digits; logits out, pixels in [0,1], white digit on black.`,
    format: 'layers',
    inputSize: [SIZE, SIZE],
    channels: 1,
    preprocessing: { kind: 'unit' },
    channelOrder: 'RGB',
    outputs: 'logits',
    labels: Array.from({ length: 10 }, (_, i) => String(i)),
    epsilons: [...DIGIT_EPSILONS],
  };
  await writeFile(path.join(opts.out, 'foolprint.json'), JSON.stringify(manifest, null, 2) + '\n');

  const rows = [{ name: 'clean', acc: accuracy(model, test) }, ...testVariants(test, seededRandom(seed + 1)).map((v) => ({ name: v.name, acc: accuracy(model, v.data) }))];
  for (const r of rows) console.log(`MNIST test, ${r.name}: ${(r.acc * 100).toFixed(2)}%`);
  const results = [`| MNIST test set (${test.count.toLocaleString('en')}) | accuracy |`, '|---|---|', ...rows.map((r) => `| ${r.name} | ${(r.acc * 100).toFixed(2)}% |`)].join('\n');
  const samplesAcc = accuracy(model, samples);
  await writeFile(
    path.join(opts.out, 'TRAINING.md'),
    [
      '# lenet-mnist: how it was trained',
      '',
      `Command: \`npm run train:mnist -- --seed ${seed} --epochs ${epochs} --batch ${batchSize} --lr ${peakLr}\` (TF.js ${tf.version.tfjs}, ${tf.getBackend()} backend, Node ${process.version}).`,
      '',
      `- Architecture: the seed's LeNet (app/models/lenet.ts), ${model.countParams()} parameters, logits out.`,
      `- Data: the \`mnist\` npm package's 10,000 MNIST *training* digits; ${samples.count} held out (30 per class, by the seed) as assets/samples/, ${train.count} trained on.`,
      '- Augmentation (app/data/augment.ts, per image per epoch, 20% left clean): shift ±2 px, scale 0.9–1.1, rotation ±10°;',
      '  with probability 0.5 each: Gaussian blur σ 0.3–1 px, contrast/brightness (paper up to 0.2, ink down to 0.6), noise σ ≤ 0.06.',
      `- Adam, batch ${batchSize}, ${epochs} epochs, learning rate ${peakLr} with cosine decay to 5%; softmax cross-entropy on logits.`,
      `- Seed ${seed}: hold-out choice, augmentation, and (through a seeded Math.random) initialisation and dropout masks; batch order.`,
      `- Backend: ${backend}${backend === 'wasm' ? ' (SIMD, one thread); the conv filter gradient WASM lacks (Conv2DBackpropFilter) is computed as a forward convolution, conv2dValid in app/models/lenet.ts, checked against tf.conv2d\'s gradient to 1e-5 in test/models.test.ts' : ''}.`,
      `- Training time: ${(trainSeconds / 60).toFixed(1)} min on this machine (2 shared cores).`,
      '',
      '## Accuracy',
      '',
      results,
      '',
      `Held-out built-in samples (${samples.count}): ${(samplesAcc * 100).toFixed(2)}%.`,
      '',
      '## Epochs',
      '',
      '```',
      ...log,
      '```',
      '',
    ].join('\n'),
  );
  console.log(`saved to ${opts.out} (${(trainSeconds / 60).toFixed(1)} min)`);
}

main().catch((error: unknown) => {
  console.error(`train-mnist: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
