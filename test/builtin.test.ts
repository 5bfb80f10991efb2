/**
 * The built-in model and sample set as shipped in assets/: they load, they are what the manifest
 * says, and the model reaches the bar (≥ 97%) on the real MNIST test set, also through the
 * dataset loader. Runs on WASM (SIMD, one thread) for speed, as the app does.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Classifier } from '../app/engine/classifier.js';
import { gaussianBlur, warpAffine } from '../app/data/augment.js';
import type { Dataset } from '../app/data/dataset.js';
import { parseModelSource } from '../app/models/source.js';
import { loadDataset } from '../app/node/dataset-loader.js';
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
