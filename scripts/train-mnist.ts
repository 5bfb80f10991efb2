/**
 * Trains the built-in model (`npm run train:mnist -- --test FOLDER`, or FOOLPRINT_MNIST=FOLDER; the
 * folder holds the user's copy of the MNIST test set, t10k-*-ubyte[.gz], for the accuracy table of
 * TRAINING.md): the seed's LeNet on the 10,000 MNIST training
 * digits of the `mnist` npm package (none of them in the MNIST test set), minus 300 held out (30 per
 * class, chosen by the seed) that become the built-in sample set in assets/samples/.
 *
 * Augmented (shift ±2 px, scale 0.9–1.1, rotation ±10°, blur σ ≤ 1, contrast/brightness, noise) so
 * the model also reads printed-and-photographed digits. Adam, cosine learning-rate decay.
 * The loop, the backend and the seeding are training.ts's, shared with train-fashion.ts.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Command, Option } from 'commander';
import * as tf from '@tensorflow/tfjs';
import { augmentDigit, seededRandom } from '../app/data/augment.js';
import { createLeNet } from '../app/models/lenet.js';
import type { ModelManifest } from '../app/models/manifest.js';
import { DIGIT_EPSILONS } from '../app/models/manifest.js';
import { loadDataset } from '../app/node/dataset-loader.js';
import { packageDigits } from '../app/node/mnist-package.js';
import { saveLayersModel } from '../app/node/model-io.js';
import { repoRoot } from '../app/node/model-loader.js';
import { accuracy, accuracyTable, backendNote, holdOut, loopOptions, seedMathRandom, subset, trainModel, useWasmBackend, withLoopOptions, writeSampleSet, type LabelledImages } from './training.js';

const SIZE = 28;
const HOLDOUT_PER_CLASS = 30;

/** The MNIST test set from the user's folder (IDX, raw or gzipped), read by the app's own dataset loader. */
async function mnistTestSet(folder: string): Promise<LabelledImages> {
  const dataset = await loadDataset(folder, { height: SIZE, width: SIZE, channels: 1 }).catch((error: unknown) => {
    throw new Error(`the MNIST test set (--test or FOOLPRINT_MNIST) is unreadable: ${(error as Error).message}`);
  });
  return { images: dataset.images, labels: dataset.labels, count: dataset.count, size: SIZE };
}

async function main(): Promise<void> {
  const root = repoRoot();
  const program = withLoopOptions(new Command('train-mnist'), { seed: '20261128', epochs: '20', batch: '64', lr: '0.002' })
    .option('--out <folder>', 'model folder', path.join(root, 'assets/models/lenet-mnist'))
    .option('--samples <folder>', 'built-in sample set folder', path.join(root, 'assets/samples'))
    .addOption(new Option('--test <folder>', 'your folder with the MNIST test set: t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz] from the MNIST database')
      .env('FOOLPRINT_MNIST').makeOptionMandatory())
    .parse(process.argv);
  const opts = program.opts<{ seed: string; epochs: string; batch: string; lr: string; out: string; samples: string; test: string }>();
  const { seed, epochs, batchSize, peakLr } = loopOptions(opts);
  // Read before training, so a wrong folder fails in a second rather than after the whole run.
  const test = await mnistTestSet(opts.test);

  seedMathRandom(seed);
  const random = seededRandom(seed);
  const backend = await useWasmBackend();
  console.log(`backend: ${backend}`);
  const started = Date.now();

  const fromPackage = await packageDigits();
  const { bytes, indexInPackage } = fromPackage;
  const digits: LabelledImages = { ...fromPackage.digits, size: SIZE };
  // Hold out 30 digits per class, chosen by the seed, as the built-in sample set.
  const held = holdOut(digits.labels, 10, HOLDOUT_PER_CLASS, random);
  const holdout = held.samples;
  const train = subset(digits, held.train);
  const samples = subset(digits, held.samples);
  await writeSampleSet(opts.samples, bytes, digits.labels, SIZE, held.samples);
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
  const log = await trainModel(model, train, {
    epochs,
    batchSize,
    peakLr,
    classes: 10,
    augment: (image, r) => augmentDigit(image, SIZE, SIZE, r),
    random,
    heldOut: samples,
  });
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

  const results = accuracyTable(model, test, 'MNIST test set', seededRandom(seed + 1));
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
      `- Backend: ${backendNote(backend)}.`,
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
