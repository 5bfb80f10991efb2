/**
 * Trains the built-in Fashion-MNIST model (`npm run train:fashion`; `--data FOLDER` or
 * FOOLPRINT_FASHION_MNIST, default Debian's dataset-fashion-mnist in /usr/share/datasets/fashion-mnist,
 * with train-* and t10k-*-ubyte[.gz]): app/models/fashion-cnn.ts on the 60,000 Fashion-MNIST training
 * images minus 300 held out (30 per class, chosen by the seed) that become the model's sample set
 * (assets/samples/cnn-fashion-mnist/). The 10,000 test images are read only for the final table of
 * TRAINING.md: nothing is chosen on them.
 *
 * Augmented like the digits (training.ts, app/data/augment.ts), with milder geometry: garments fill
 * the frame and are centred the same way in every image, so a digit's ±2 px, ±10°, ×1.1 cost clean
 * accuracy without matching any print-and-photo error the markers leave.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Command, Option } from 'commander';
import * as tf from '@tensorflow/tfjs';
import { augmentDigit, DEFAULT_DIGIT_AUGMENTATION, seededRandom, type DigitAugmentation } from '../app/data/augment.js';
import { DatasetError } from '../app/data/errors.js';
import { createFashionCnn, FASHION_MNIST_LABELS } from '../app/models/fashion-cnn.js';
import type { ModelManifest } from '../app/models/manifest.js';
import { readIdxRange } from '../app/node/idx-file.js';
import { fileSystemLoadHandler, saveLayersModel } from '../app/node/model-io.js';
import { repoRoot } from '../app/node/repo-root.js';
import { accuracyTable, accuracy, backendNote, holdOut, loopOptions, positiveOption, seedMathRandom, subset, trainModel, useWasmBackend, withLoopOptions, writeSampleSet, type LabelledImages } from './training.js';

const SIZE = 28;
const HOLDOUT_PER_CLASS = 30;
const CLASSES = FASHION_MNIST_LABELS.length;

export const FASHION_AUGMENTATION: DigitAugmentation = {
  ...DEFAULT_DIGIT_AUGMENTATION,
  maxShift: 1.5,
  scale: [0.95, 1.05],
  maxRotationDegrees: 6,
  maxBlurSigma: 0.8,
  cleanProbability: 0.4,
};

/** One split of Fashion-MNIST (`train` or `t10k`) from `folder`, gzipped or raw, read with the app's IDX reader. */
async function fashionSplit(folder: string, split: 'train' | 't10k'): Promise<{ data: LabelledImages; bytes: Uint8Array }> {
  const file = (kind: string): string => {
    const base = path.join(folder, `${split}-${kind}`);
    return existsSync(base) ? base : `${base}.gz`;
  };
  const images = await readIdxRange(file('images-idx3-ubyte'));
  const labels = await readIdxRange(file('labels-idx1-ubyte'));
  const [count, height, width] = images.header.dims;
  if (images.header.typeByte !== 0x08 || height !== SIZE || width !== SIZE) throw new DatasetError(`${split} images: expected ubyte ${SIZE}x${SIZE}, got ${images.header.typeName} ${images.header.dims.join('x')}`);
  if (labels.count !== count) throw new DatasetError(`${split}: ${count} images but ${labels.count} labels`);
  const classes = Int32Array.from(labels.bytes);
  if (classes.some((c) => c >= CLASSES)) throw new DatasetError(`${split} labels: a class beyond ${CLASSES - 1}`);
  return { data: { images: Float32Array.from(images.bytes, (b) => b / 255), labels: classes, count, size: SIZE }, bytes: images.bytes };
}

async function main(): Promise<void> {
  const root = repoRoot();
  const program = withLoopOptions(new Command('train-fashion'), { seed: '20261202', epochs: '3', batch: '64', lr: '0.003' })
    .option('--out <folder>', 'model folder', path.join(root, 'assets/models/cnn-fashion-mnist'))
    .option('--samples <folder>', 'the model\'s sample set folder', path.join(root, 'assets/samples/cnn-fashion-mnist'))
    .option('--clean <p>', 'probability that a training image is left unaugmented', String(FASHION_AUGMENTATION.cleanProbability))
    .option('--validation <n>', 'images per class carved from the training images as a validation split, left out of training; the best epoch on it (or the starting weights) is kept', '0')
    .option('--init <folder>', 'continue from this model folder\'s weights (a model of this architecture) instead of a fresh initialisation')
    .addOption(new Option('--data <folder>', 'folder with Fashion-MNIST: train-{images-idx3,labels-idx1}-ubyte[.gz] and t10k-…')
      .env('FOOLPRINT_FASHION_MNIST').default('/usr/share/datasets/fashion-mnist'))
    .parse(process.argv);
  const opts = program.opts<{ seed: string; epochs: string; batch: string; lr: string; out: string; samples: string; data: string; init?: string; clean: string; validation: string }>();
  const { seed, epochs, batchSize, peakLr } = loopOptions(opts);
  const validationPerClass = opts.validation === '0' ? 0 : positiveOption(opts.validation, 'validation', true);
  const clean = Number(opts.clean);
  if (!(clean >= 0 && clean <= 1)) throw new Error(`--clean must be a probability in [0,1], got "${opts.clean}"`);
  const augmentation: DigitAugmentation = { ...FASHION_AUGMENTATION, cleanProbability: clean };
  const unreadable = (error: unknown): never => {
    throw new Error(`Fashion-MNIST (--data or FOOLPRINT_FASHION_MNIST; Debian: apt-get install dataset-fashion-mnist) is unreadable: ${(error as Error).message}`);
  };
  const all = await fashionSplit(opts.data, 'train').catch(unreadable);
  const test = (await fashionSplit(opts.data, 't10k').catch(unreadable)).data;

  seedMathRandom(seed);
  const random = seededRandom(seed);
  const backend = await useWasmBackend();
  console.log(`backend: ${backend}`);
  const started = Date.now();

  const held = holdOut(all.data.labels, CLASSES, HOLDOUT_PER_CLASS, random);
  // The validation split draws from its own PRNG, so that without it the augmentation stream is the one earlier runs had.
  const carved = validationPerClass > 0 ? holdOut(subset(all.data, held.train).labels, CLASSES, validationPerClass, seededRandom(seed + 2)) : null;
  const trainIndices = carved ? carved.train.map((i) => held.train[i]) : held.train;
  const train = subset(all.data, trainIndices);
  const validation = carved ? subset(all.data, carved.samples.map((i) => held.train[i])) : undefined;
  const samples = subset(all.data, held.samples);
  await writeSampleSet(opts.samples, all.bytes, all.data.labels, SIZE, held.samples);
  await writeFile(
    path.join(opts.samples, 'README.md'),
    [
      '# Fashion-MNIST sample set (the built-in cnn-fashion-mnist model\'s)',
      '',
      `${held.samples.length} Fashion-MNIST images (${HOLDOUT_PER_CLASS} per class, interleaved ${FASHION_MNIST_LABELS.join(', ')}, then again, so the first N span every class),`,
      '28x28 grey, white garment on black, as IDX files (`samples-images-idx3-ubyte.gz`, `samples-labels-idx1-ubyte.gz`;',
      'load them with `--model cnn-fashion-mnist --data samples`).',
      '',
      `Provenance: drawn from the 60,000 Fashion-MNIST *training* images (Debian's dataset-fashion-mnist) by \`npm run train:fashion\``,
      `with seed ${seed}, and held out of the model's training, so the model never saw them. None is in the test set. Pixel values unchanged.`,
      '',
      'Index in train-images-idx3-ubyte, per class:',
      '',
      ...FASHION_MNIST_LABELS.map((name, c) => `- ${c} (${name}): ${held.samples.filter((k) => all.data.labels[k] === c).sort((a, b) => a - b).join(', ')}`),
      '',
    ].join('\n'),
  );

  const model = createFashionCnn();
  const earlier = opts.init ? await readFile(path.join(opts.init, 'TRAINING.md'), 'utf8').catch(() => null) : null;
  if (opts.init) {
    const start = await tf.loadLayersModel(fileSystemLoadHandler(opts.init));
    model.setWeights(start.getWeights());
    start.dispose();
  }
  const log = await trainModel(model, train, {
    epochs,
    batchSize,
    peakLr,
    classes: CLASSES,
    augment: (image, r) => augmentDigit(image, SIZE, SIZE, r, augmentation),
    random,
    heldOut: samples,
    validation,
  });
  const trainSeconds = (Date.now() - started) / 1000;

  await saveLayersModel(model, opts.out);
  const manifest: ModelManifest = {
    schemaVersion: 1,
    name: 'Small CNN on Fashion-MNIST',
    description: `A LeNet-style CNN (16 filters of 5x5, 32 of 3x3, 128 hidden units) trained by npm run train:fashion (seed ${seed}) on 59,700 augmented Fashion-MNIST training images; logits out, pixels in [0,1], white garment on black.`,
    format: 'layers',
    inputSize: [SIZE, SIZE],
    channels: 1,
    preprocessing: { kind: 'unit' },
    channelOrder: 'RGB',
    outputs: 'logits',
    labels: [...FASHION_MNIST_LABELS],
    epsilons: [0.05, 0.1, 0.2],
  };
  await writeFile(path.join(opts.out, 'foolprint.json'), JSON.stringify(manifest, null, 2) + '\n');

  const results = accuracyTable(model, test, 'Fashion-MNIST test set', seededRandom(seed + 1));
  const samplesAcc = accuracy(model, samples);
  const a = augmentation;
  await writeFile(
    path.join(opts.out, 'TRAINING.md'),
    [
      '# cnn-fashion-mnist: how it was trained',
      '',
      `Command: \`npm run train:fashion -- --seed ${seed} --epochs ${epochs} --batch ${batchSize} --lr ${peakLr} --clean ${clean}${validation ? ` --validation ${validationPerClass}` : ''}${opts.init ? ' --init EARLIER_RUN_FOLDER' : ''}\` (TF.js ${tf.version.tfjs}, ${tf.getBackend()} backend, Node ${process.version}).`,
      ...(opts.init ? ['', 'Continued from an earlier run\'s weights (its TRAINING.md is kept below, under "Earlier run"), not from a fresh initialisation.'] : []),
      '',
      `- Architecture: app/models/fashion-cnn.ts (LeNet's shape, wider), ${model.countParams()} parameters, logits out.`,
      `- Data: Debian's dataset-fashion-mnist, the 60,000 *training* images; ${samples.count} held out (30 per class, by the seed) as assets/samples/cnn-fashion-mnist/, ${validation ? `${validation.count} (${validationPerClass} per class, by the seed) as a validation split, ` : ''}${train.count} trained on.`,
      ...(validation ? ['  The epoch kept is the one best on the validation split (the starting weights count as epoch 0); the test set chose nothing.'] : []),
      '  The 10,000 test images are used only for the table below.',
      `- Augmentation (app/data/augment.ts, per image per epoch, ${a.cleanProbability * 100}% left clean): shift ±${a.maxShift} px, scale ${a.scale[0]}–${a.scale[1]}, rotation ±${a.maxRotationDegrees}°;`,
      `  with probability 0.5 each: Gaussian blur σ 0.3–${a.maxBlurSigma} px, contrast/brightness (paper up to ${a.maxBackground}, ink down to ${a.minInk}), noise σ ≤ ${a.maxNoiseSigma}.`,
      `- Adam, batch ${batchSize}, ${epochs} epochs, learning rate ${peakLr} with cosine decay to 5%; softmax cross-entropy on logits.`,
      `- Seed ${seed}: hold-out choice, augmentation, and (through a seeded Math.random) initialisation and dropout masks; batch order.`,
      `- Backend: ${backendNote(backend)}.`,
      `- Training time: ${(trainSeconds / 60).toFixed(1)} min on this machine (2 cores shared with other work).`,
      '',
      '## Accuracy',
      '',
      results,
      '',
      `Held-out samples (${samples.count}): ${(samplesAcc * 100).toFixed(2)}%.`,
      '',
      '## Epochs',
      '',
      '```',
      ...log,
      '```',
      '',
      ...(earlier ? ['## Earlier run', '', earlier.replace(/^#/gm, '##'), ''] : []),
    ].join('\n'),
  );
  console.log(`saved to ${opts.out} (${(trainSeconds / 60).toFixed(1)} min)`);
}

main().catch((error: unknown) => {
  console.error(`train-fashion: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
