/**
 * The built-in models and sample sets as shipped in assets/: they load, they are what the manifest
 * says, LeNet reaches its issue's bar (≥ 97% on the real MNIST test set) and the Fashion-MNIST CNN
 * its issue's (≥ 90% on Debian's Fashion-MNIST test set: 90.43%, recorded in its TRAINING.md), also
 * through the dataset loader. Runs on WASM (SIMD, one thread) for speed, as the app does.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Classifier } from '../app/engine/classifier.js';
import { gaussianBlur, warpAffine } from '../app/data/augment.js';
import type { Dataset } from '../app/data/dataset.js';
import { parseModelSource } from '../app/models/source.js';
import { builtinSamplesPath, loadDataset } from '../app/node/dataset-loader.js';
import { readIdxRange } from '../app/node/idx-file.js';
import { createFashionCnn, FASHION_MNIST_LABELS } from '../app/models/fashion-cnn.js';
import { listBuiltinModels, loadClassifier, repoRoot } from '../app/node/model-loader.js';

const mnistDir = path.resolve(repoRoot(), '../shared/data/mnist');
const mnistTest = path.join(mnistDir, 't10k-images-idx3-ubyte.gz');
const haveMnist = existsSync(mnistTest);
if (!haveMnist) console.warn(`skipping the MNIST test-set accuracy check: ${mnistTest} is absent`);

beforeAll(async () => {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const require = createRequire(import.meta.url);
  wasm.setWasmPaths(path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep);
  wasm.setThreadsCount(1);
  if (!(await tf.setBackend('wasm'))) await tf.setBackend('cpu');
});

function accuracy(classifier: Classifier, data: Dataset): number {
  const [h, w, c] = classifier.inputShape;
  const perImage = h * w * c;
  let correct = 0;
  for (let start = 0; start < data.count; start += 500) {
    const n = Math.min(500, data.count - start);
    const predicted = tf.tidy(() => classifier.logits(tf.tensor4d(data.images.subarray(start * perImage, (start + n) * perImage), [n, h, w, c])).argMax(-1).dataSync());
    for (let i = 0; i < n; i++) if (predicted[i] === data.labels[start + i]) correct++;
  }
  return correct / data.count;
}

describe('built-in model lenet-mnist', () => {
  it('is listed with its manifest', () => {
    const info = listBuiltinModels().find((m) => m.id === 'lenet-mnist');
    expect(info).toBeDefined();
    expect(info!.inputSize).toEqual([28, 28]);
    expect(info!.channels).toBe(1);
    expect(info!.labels).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(existsSync(path.join(info!.folder, 'weights.bin'))).toBe(true);
    expect(existsSync(path.join(info!.folder, 'TRAINING.md'))).toBe(true);
    expect(parseModelSource('lenet-mnist')).toEqual({ kind: 'builtin', id: 'lenet-mnist' });
  });

  it('loads as the seed LeNet with logits out, and classifies the built-in samples', async () => {
    const start = tf.memory().numTensors;
    const classifier = await loadClassifier({ kind: 'builtin', id: 'lenet-mnist' });
    expect(classifier.inputShape).toEqual([28, 28, 1]);
    expect(classifier.manifest.outputs).toBe('logits');
    expect(classifier.format).toBe('layers');
    const samples = await loadDataset('samples');
    expect([samples.count, samples.height, samples.width, samples.channels]).toEqual([300, 28, 28, 1]);
    const perClass = Array.from({ length: 10 }, (_, d) => samples.labels.filter((l) => l === d).length);
    expect(perClass).toEqual(Array(10).fill(30));
    expect(samples.notes).toEqual([]);
    expect(accuracy(classifier, samples)).toBeGreaterThanOrEqual(0.97);
    classifier.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });

  it('builtin:samples at another size and with a limit says what it did', async () => {
    const small = await loadDataset('builtin:samples', { height: 14, width: 14, limit: 10 });
    expect([small.count, small.height, small.width, small.channels]).toEqual([10, 14, 14, 1]);
    expect(small.notes).toEqual(['using the first 10 of 300 images', 'resized 10 28x28 images to 14x14']);
    // Stored interleaved by class, so the first ten hold one digit of each class.
    expect(Array.from(small.labels)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it.skipIf(!haveMnist)('reaches ≥ 97% on the full MNIST test set (10,000 digits)', async () => {
    const classifier = await loadClassifier(parseModelSource('builtin:lenet-mnist'));
    const test = await loadDataset(mnistDir);
    expect(test.count).toBe(10_000);
    const acc = accuracy(classifier, test);
    console.log(`lenet-mnist on the MNIST test set: ${(acc * 100).toFixed(2)}%`);
    expect(acc).toBeGreaterThanOrEqual(0.97);
    // What a printed-and-photographed digit suffers: blur (defocus) and an off-centre crop.
    const distorted = (f: (image: Float32Array) => Float32Array): Dataset => {
      const images = new Float32Array(test.images.length);
      for (let i = 0; i < test.count; i++) images.set(f(test.images.subarray(i * 784, (i + 1) * 784)), i * 784);
      return { ...test, images };
    };
    const blurred = accuracy(classifier, distorted((x) => gaussianBlur(x, 28, 28, 1)));
    const shifted = accuracy(classifier, distorted((x) => warpAffine(x, 28, 28, { angle: 0, scale: 1, dx: 2, dy: 0 })));
    console.log(`blurred σ=1: ${(blurred * 100).toFixed(2)}%, shifted 2 px: ${(shifted * 100).toFixed(2)}%`);
    expect(blurred).toBeGreaterThanOrEqual(0.97);
    expect(shifted).toBeGreaterThanOrEqual(0.95);
    classifier.dispose();
  });
});

const fashionDir = '/usr/share/datasets/fashion-mnist';
const haveFashion = existsSync(path.join(fashionDir, 't10k-images-idx3-ubyte.gz'));
if (!haveFashion) console.warn(`skipping the Fashion-MNIST test-set checks: ${fashionDir} is absent (apt-get install dataset-fashion-mnist)`);

describe('built-in model lenet-mnist-x2-adv', () => {
  it('is listed after lenet-mnist-adv, with the training record of its TRAINING.md', () => {
    const ids = listBuiltinModels().map((m) => m.id);
    expect(ids.indexOf('lenet-mnist-x2-adv')).toBe(ids.indexOf('lenet-mnist-adv') + 1);
    const manifest = JSON.parse(readFileSync(path.join(repoRoot(), 'assets/models/lenet-mnist-x2-adv/foolprint.json'), 'utf8')) as {
      training: { method: string; adversarial: { attack: string; steps: number; epsilon: number }; accuracies: { clean: number; robust: { loss: string; accuracy: number }[] } };
    };
    expect(manifest.training.method).toBe('adversarial');
    expect(manifest.training.adversarial).toMatchObject({ attack: 'pgd', steps: 7, epsilon: 0.3 });
    const notes = readFileSync(path.join(repoRoot(), 'assets/models/lenet-mnist-x2-adv/TRAINING.md'), 'utf8');
    for (const r of manifest.training.accuracies.robust) expect(notes).toContain(`${(r.accuracy * 100).toFixed(2)}%`);
  });

  it.skipIf(!haveMnist)('loads as LeNet 2x and reaches its recorded clean accuracy (≥ 95%) on the MNIST test set', async () => {
    const classifier = await loadClassifier({ kind: 'builtin', id: 'lenet-mnist-x2-adv' });
    expect(classifier.inputShape).toEqual([28, 28, 1]);
    expect(classifier.manifest.outputs).toBe('logits');
    const recorded = (JSON.parse(readFileSync(path.join(repoRoot(), 'assets/models/lenet-mnist-x2-adv/foolprint.json'), 'utf8')) as { training: { accuracies: { clean: number } } }).training.accuracies.clean;
    const measured = accuracy(classifier, await loadDataset(mnistDir));
    expect(measured).toBeCloseTo(recorded, 4);
    expect(measured).toBeGreaterThanOrEqual(0.95);
    classifier.dispose();
  }, 120_000);
});

describe('built-in model cnn-fashion-mnist', () => {
  it('is listed after lenet-mnist (the default stays the digits\' model), with the Fashion-MNIST class names', () => {
    const models = listBuiltinModels();
    expect(models.map((m) => m.id).slice(0, 2)).toEqual(['lenet-mnist', 'cnn-fashion-mnist']);
    const info = models.find((m) => m.id === 'cnn-fashion-mnist')!;
    expect([info.inputSize, info.channels]).toEqual([[28, 28], 1]);
    expect(info.labels).toEqual([...FASHION_MNIST_LABELS]);
    expect(info.labels[9]).toBe('Ankle boot');
    expect(existsSync(path.join(info.folder, 'TRAINING.md'))).toBe(true);
    expect(parseModelSource('cnn-fashion-mnist')).toEqual({ kind: 'builtin', id: 'cnn-fashion-mnist' });
  });

  it('loads as the architecture of app/models/fashion-cnn.ts and classifies its own held-out samples (≥ 90%)', async () => {
    const start = tf.memory().numTensors;
    const classifier = await loadClassifier({ kind: 'builtin', id: 'cnn-fashion-mnist' });
    expect(classifier.inputShape).toEqual([28, 28, 1]);
    expect(classifier.manifest.outputs).toBe('logits');
    // The shipped topology is app/models/fashion-cnn.ts's, layer for layer.
    const reference = createFashionCnn();
    const topology = JSON.parse(readFileSync(path.join(repoRoot(), 'assets/models/cnn-fashion-mnist/model.json'), 'utf8')) as { modelTopology: { config: { layers: { class_name: string; config: Record<string, unknown> }[] } } };
    const layerKey = (className: string, c: Record<string, unknown>) => [className, c.filters ?? c.units ?? c.rate ?? null, c.kernel_size ?? c.kernelSize ?? null];
    expect(topology.modelTopology.config.layers.map((l) => layerKey(l.class_name, l.config))).toEqual(reference.layers.map((l) => layerKey(l.getClassName(), l.getConfig() as Record<string, unknown>)));
    expect(classifier.numClasses).toBe(10);
    reference.dispose();

    const samples = await loadDataset('samples', { samplesOf: 'cnn-fashion-mnist' });
    expect([samples.count, samples.height, samples.width, samples.channels]).toEqual([300, 28, 28, 1]);
    // Interleaved by class: sample i is of class i mod 10.
    expect(Array.from(samples.labels)).toEqual(Array.from({ length: 300 }, (_, i) => i % 10));
    const acc = accuracy(classifier, samples);
    console.log(`cnn-fashion-mnist on its 300 held-out samples: ${(acc * 100).toFixed(2)}%`);
    expect(acc).toBeGreaterThanOrEqual(0.9);
    classifier.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });

  it('leaves "samples" the digits for every other model, and never reads outside assets/samples', async () => {
    for (const id of [undefined, 'lenet-mnist', 'no-such-model', '../samples', '..']) {
      expect(builtinSamplesPath(id)).toBe(path.join(repoRoot(), 'assets/samples/samples-images-idx3-ubyte.gz'));
    }
    expect(builtinSamplesPath('cnn-fashion-mnist')).toBe(path.join(repoRoot(), 'assets/samples/cnn-fashion-mnist/samples-images-idx3-ubyte.gz'));
    const digits = await loadDataset('samples', { samplesOf: 'lenet-mnist', limit: 10 });
    const garments = await loadDataset('samples', { samplesOf: 'cnn-fashion-mnist', limit: 10 });
    expect(Array.from(digits.labels)).toEqual(Array.from(garments.labels));
    expect(Buffer.from(digits.images.buffer).equals(Buffer.from(garments.images.buffer))).toBe(false);
  });

  it.skipIf(!haveFashion)('held out of the TRAINING set: every sample is a Fashion-MNIST training image of its class, none a test image', async () => {
    const samples = await readIdxRange(path.join(repoRoot(), 'assets/samples/cnn-fashion-mnist/samples-images-idx3-ubyte.gz'));
    const sampleLabels = (await readIdxRange(path.join(repoRoot(), 'assets/samples/cnn-fashion-mnist/samples-labels-idx1-ubyte.gz'))).bytes;
    const index = async (split: string) => {
      const images = (await readIdxRange(path.join(fashionDir, `${split}-images-idx3-ubyte.gz`))).bytes;
      const labels = (await readIdxRange(path.join(fashionDir, `${split}-labels-idx1-ubyte.gz`))).bytes;
      const byImage = new Map<string, number[]>();
      for (let i = 0; i < labels.length; i++) {
        const key = Buffer.from(images.subarray(i * 784, (i + 1) * 784)).toString('base64');
        byImage.set(key, [...(byImage.get(key) ?? []), labels[i]]);
      }
      return byImage;
    };
    const train = await index('train');
    const test = await index('t10k');
    for (let i = 0; i < samples.count; i++) {
      const key = Buffer.from(samples.bytes.subarray(i * 784, (i + 1) * 784)).toString('base64');
      expect(train.get(key), `sample ${i}`).toContain(sampleLabels[i]);
      expect(test.has(key), `sample ${i} is not a test image`).toBe(false);
    }
  });

  it.skipIf(!haveFashion)('scores on the full Fashion-MNIST test set (10,000 images, read by the dataset loader) what its TRAINING.md says', async () => {
    // The issue asks for ≥ 90%; the recorded figure must reach it, and the model must score that
    // figure to 0.01%, so a change to the weights, the loader or the engine shows.
    const training = readFileSync(path.join(repoRoot(), 'assets/models/cnn-fashion-mnist/TRAINING.md'), 'utf8');
    const recorded = Number(/^\| clean \| (\d+\.\d+)% \|$/m.exec(training)?.[1]);
    expect(recorded).toBeGreaterThanOrEqual(90);
    const classifier = await loadClassifier(parseModelSource('cnn-fashion-mnist'));
    const test = await loadDataset(fashionDir, { classNames: classifier.manifest.labels });
    expect(test.count).toBe(10_000);
    const acc = accuracy(classifier, test);
    console.log(`cnn-fashion-mnist on the Fashion-MNIST test set: ${(acc * 100).toFixed(2)}%`);
    expect(Math.abs(acc * 100 - recorded)).toBeLessThanOrEqual(0.01 + 1e-9);
    classifier.dispose();
  });
});
