/**
 * layer-chain.ts runs a Sequential model's known layers by their kernels: off the tape for logits, and
 * as custom-gradient ops for an attack's input gradient. Everything must keep the bits of Layers' own
 * `model.apply` and of the gradient tf.grad takes through it: every built-in model, random chains
 * with the options the links read (strides, padding, bias or none, ReLU fused or not), chains with
 * layers the links do not know, every preprocessing and a probabilities output. Checked on WASM, the
 * product's backend.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { inputGradient, objectiveGradient } from '../app/attacks/iterative.js';
import { attackObjective } from '../app/attacks/losses.js';
import type { AttackLoss } from '../app/attacks/types.js';
import type { Classifier } from '../app/engine/classifier.js';
import { denseProduct } from '../app/engine/kernels/dense-product.js';
import { reluGradient } from '../app/engine/kernels/relu-gradient.js';
import { setWasmLoopsEnabled } from '../app/engine/kernels/wasm-loops.js';
import { applyPreprocessing, classifierFromModel } from '../app/models/classifier.js';
import type { ModelManifest, Preprocessing } from '../app/models/manifest.js';
import { initBackend } from '../app/node/backend.js';
import { builtinModelsDir, listBuiltinModels } from '../app/node/model-loader.js';
import { seededValues } from './seeded-values.js';

beforeAll(async () => {
  await initBackend({ prefer: 'wasm' });
});

async function loadBuiltin(id: string): Promise<{ model: tf.LayersModel; manifest: ModelManifest }> {
  const folder = path.join(builtinModelsDir(), id);
  const json = JSON.parse(readFileSync(path.join(folder, 'model.json'), 'utf8'));
  const specs = json.weightsManifest.flatMap((group: { weights: unknown[] }) => group.weights);
  const bytes = Buffer.concat(json.weightsManifest.flatMap((group: { paths: string[] }) => group.paths.map((p) => readFileSync(path.join(folder, p)))));
  const weightData = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: specs, weightData }));
  return { model, manifest: JSON.parse(readFileSync(path.join(folder, 'foolprint.json'), 'utf8')) as ModelManifest };
}

/** MNIST-like digits: mostly black, some strokes, so ReLUs and max pools see ties and zeros. */
function digits(n: number, size: number, seed: number): Float32Array {
  const u = seededValues(n * size, seed);
  return u.map((v, i) => (v < 0.6 ? 0 : (u[(i * 7919) % u.length] + 1) / 2));
}

/**
 * The reference: tf.grad through the classifier where weight gradients are wanted, which runs Layers'
 * own model.apply on the tape (what every attack ran before layer-chain.ts).
 */
function tapeGradient(classifier: Classifier, x: tf.Tensor4D, classes: tf.Tensor1D, loss: AttackLoss, targeted: boolean): Float32Array {
  return tf.tidy(() =>
    tf.grad((xi: tf.Tensor) => attackObjective(classifier.logits(xi as tf.Tensor4D), classes, loss, targeted, undefined, true).sum())(x).dataSync() as Float32Array,
  );
}

function manifestFor(shape: [number, number, number], classes: number, preprocessing: Preprocessing, extra: Partial<ModelManifest> = {}): ModelManifest {
  return { schemaVersion: 1, name: 'chain', inputSize: [shape[0], shape[1]], channels: shape[2], labels: Array.from({ length: classes }, (_, i) => `c${i}`), preprocessing, outputs: 'logits', ...extra } as ModelManifest;
}

/** Every way the classifier gives logits and gradients, against Layers' own. */
function expectLayersBits(model: tf.LayersModel, manifest: ModelManifest, n: number, seed: number): void {
  const classifier = classifierFromModel(model, manifest, 'chain');
  const [h, w] = manifest.inputSize;
  const c = manifest.channels;
  const classes = manifest.labels.length;
  const start = tf.memory().numTensors;
  const x = tf.tensor4d(digits(n, h * w * c, seed), [n, h, w, c]);
  const y = tf.tensor1d(Int32Array.from({ length: n }, (_, i) => (i * 3) % classes), 'int32');
  try {
    const applied = tf.tidy(() => {
      let input: tf.Tensor4D = x;
      if (manifest.channelOrder === 'BGR') input = tf.reverse(input, -1);
      const out = model.predict(applyPreprocessing(input, manifest.preprocessing)) as tf.Tensor;
      return (manifest.outputs === 'probabilities' ? tf.log(tf.add(out, 1e-12)) : out).dataSync() as Float32Array;
    });
    expect(tf.tidy(() => classifier.logits(x).dataSync())).toEqual(applied);
    for (const loss of ['ce', 'margin'] as const) {
      for (const targeted of [false, true]) {
        const reference = tapeGradient(classifier, x, y, loss, targeted);
        let untaped: Float32Array | undefined;
        const [plain, beside, throughOps] = tf.tidy(() => [
          // 'ce' goes without a tape where the classifier can (logitsBesideTape.gradient), 'margin' through custom ops.
          objectiveGradient(classifier, x, y, loss, targeted).dataSync() as Float32Array,
          objectiveGradient(classifier, x, y, loss, targeted, (logits) => (untaped = logits.slice())).dataSync() as Float32Array,
          inputGradient(classifier, x, (logits) => attackObjective(logits, y, loss, targeted, undefined, true)).dataSync() as Float32Array,
        ]);
        expect(plain).toEqual(reference);
        expect(beside).toEqual(reference);
        expect(throughOps).toEqual(reference);
        expect(untaped).toEqual(applied);
        // A gradient of zeros would pass the comparisons too.
        expect(reference.filter((v) => v !== 0).length).toBeGreaterThan(reference.length / 4);
      }
    }
  } finally {
    tf.dispose([x, y]);
  }
  expect(tf.memory().numTensors).toBe(start);
  classifier.dispose();
}

const init = (seed: number) => ({ kernelInitializer: tf.initializers.glorotUniform({ seed }), biasInitializer: tf.initializers.randomNormal({ seed: seed + 1, stddev: 0.3 }) });

describe('layer-chain: the bits of Layers and of the tape', () => {
  it.each(listBuiltinModels().map((m) => m.id))('built-in %s', async (id) => {
    const { model, manifest } = await loadBuiltin(id);
    expectLayersBits(model, manifest, 24, 11);
  });

  it('strides, same padding, no bias, fused ReLU convolutions and dense, pools that overlap', () => {
    const model = tf.sequential();
    model.add(tf.layers.conv2d({ inputShape: [20, 18, 3], filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', useBias: false, ...init(1) }));
    model.add(tf.layers.conv2d({ filters: 5, kernelSize: [3, 2], padding: 'same', activation: 'relu', ...init(3) }));
    model.add(tf.layers.maxPooling2d({ poolSize: 3, strides: 1, padding: 'same' }));
    model.add(tf.layers.conv2d({ filters: 4, kernelSize: 3, activation: 'linear', ...init(5) }));
    model.add(tf.layers.maxPooling2d({ poolSize: [2, 3], strides: [2, 1] }));
    model.add(tf.layers.reLU());
    model.add(tf.layers.dropout({ rate: 0.5 }));
    model.add(tf.layers.flatten());
    model.add(tf.layers.dense({ units: 12, activation: 'relu', useBias: false, ...init(7) }));
    model.add(tf.layers.dense({ units: 9, activation: 'relu', ...init(9) }));
    model.add(tf.layers.dense({ units: 7, ...init(11) }));
    expectLayersBits(model, manifestFor([20, 18, 3], 7, { kind: 'meanStd', mean: [0.4, 0.5, 0.6], std: [0.2, 0.25, 0.3] }, { channelOrder: 'BGR' }), 9, 21);
  });

  it('a layer the links do not know ends them: the rest runs through Layers, on the tape as before', () => {
    const model = tf.sequential();
    model.add(tf.layers.conv2d({ inputShape: [12, 12, 1], filters: 4, kernelSize: 3, ...init(13) }));
    model.add(tf.layers.activation({ activation: 'tanh' }));
    model.add(tf.layers.conv2d({ filters: 3, kernelSize: 3, activation: 'relu', ...init(15) }));
    model.add(tf.layers.flatten());
    model.add(tf.layers.dense({ units: 10, activation: 'relu', ...init(17) }));
    model.add(tf.layers.dense({ units: 5, activation: 'softmax', ...init(19) }));
    expectLayersBits(model, manifestFor([12, 12, 1], 5, { kind: 'symmetric' }, { outputs: 'probabilities' }), 8, 23);
  });

  it('a dense layer on an image (no flatten) stays with Layers, which reshapes around the product', () => {
    const model = tf.sequential();
    model.add(tf.layers.conv2d({ inputShape: [10, 10, 1], filters: 3, kernelSize: 3, activation: 'relu', ...init(25) }));
    model.add(tf.layers.dense({ units: 4, activation: 'relu', ...init(27) }));
    model.add(tf.layers.flatten());
    model.add(tf.layers.dense({ units: 6, ...init(29) }));
    expectLayersBits(model, manifestFor([10, 10, 1], 6, { kind: 'byte' }), 6, 31);
  });
});

describe('layer-chain: what it saves', () => {
  it('an FGSM step on LeNet at batch 1 runs under 70% of the kernel calls of the tape through Layers (55 against 87)', async () => {
    const { model, manifest } = await loadBuiltin('lenet-mnist');
    const classifier = classifierFromModel(model, manifest, 'lenet');
    // What the attacks took the gradient through before: Layers' model.apply on the tape.
    const throughLayers: Classifier = { ...classifier, logits: (images) => tf.tidy(() => model.apply(images, { training: false }) as tf.Tensor2D) };
    const x = tf.tensor4d(digits(1, 784, 41), [1, 28, 28, 1]);
    const y = tf.tensor1d([3], 'int32');
    try {
      const calls = async (on: Classifier) => {
        const { kernels } = await tf.profile(() => tf.tidy(() => void objectiveGradient(on, x, y, 'ce', false)));
        // tf.profile also lists the ops around kernels and tidy scopes.
        return kernels.filter((k) => !k.name.endsWith('__op') && k.name !== 'unnamed scope').length;
      };
      expect(await calls(classifier)).toBeLessThan(0.7 * (await calls(throughLayers)));
      expect(tf.tidy(() => objectiveGradient(classifier, x, y, 'ce', false).dataSync())).toEqual(tf.tidy(() => objectiveGradient(throughLayers, x, y, 'ce', false).dataSync()));
    } finally {
      tf.dispose([x, y]);
      classifier.dispose();
    }
  });

  it('weights being trained keep Layers\' ops: their gradients flow as before', async () => {
    const { model, manifest } = await loadBuiltin('mlp-mnist');
    const classifier = classifierFromModel(model, manifest, 'mlp');
    const x = tf.tensor4d(digits(4, 784, 43), [4, 28, 28, 1]);
    try {
      const { grads } = tf.variableGrads(() => classifier.logits(x).square().sum() as tf.Scalar);
      const norms = Object.values(grads).map((g) => g.abs().sum().dataSync()[0]);
      tf.dispose(Object.values(grads));
      expect(norms.length).toBe(model.trainableWeights.length);
      expect(norms.every((v) => v > 0)).toBe(true);
    } finally {
      x.dispose();
      classifier.dispose();
    }
  });
});

describe('denseProduct: tf.fused.matMul in one kernel call', () => {
  it.each([
    [1, 320, 50, 'relu', true],
    [37, 50, 10, 'linear', true],
    [5, 9, 4, 'relu', false],
    [300, 16, 7, 'linear', false],
  ] as const)('[%i,%i]x[%i,%i] %s (bias %s): the same bits, no reshapes', async (n, k, m, activation, withBias) => {
    const [x, w, b] = [tf.tensor2d(seededValues(n * k, 51, 2), [n, k]), tf.tensor2d(seededValues(k * m, 52), [k, m]), tf.tensor1d(seededValues(m, 53))];
    try {
      const bias = withBias ? b : undefined;
      const expected = tf.tidy(() => tf.fused.matMul({ a: x, b: w, bias, activation }).dataSync());
      const profile = await tf.profile(() => tf.tidy(() => void denseProduct(x, w, bias, activation).dataSync()));
      expect(profile.kernels.map((kernel) => kernel.name)).toEqual(['FoolprintDenseProduct']);
      const product = tf.tidy(() => {
        const out = denseProduct(x, w, bias, activation);
        expect(out.shape).toEqual([n, m]);
        return out.dataSync();
      });
      expect(product).toEqual(expected);
    } finally {
      tf.dispose([x, w, b]);
    }
  });
});

describe('reluGradient: dy·step(x) in one kernel call', () => {
  it.each([['WebAssembly loops', true], ['JS loop', false]] as const)('%s: the values of mul(dy, cast(step(x))) on signed zeros, infinities, NaN and ordinary values', async (_route, loops) => {
    setWasmLoopsEnabled(loops);
    const special = [0, -0, 1e-30, -1e-30, 2.5, -2.5, Infinity, -Infinity, NaN];
    const xs: number[] = [];
    const dys: number[] = [];
    for (const x of special) {
      for (const dy of special) {
        xs.push(x);
        dys.push(dy);
      }
    }
    const random = seededValues(4000, 61, 3);
    xs.push(...random.subarray(0, 2000));
    dys.push(...random.subarray(2000));
    const [x, dy] = [tf.tensor2d(xs, [xs.length, 1]), tf.tensor2d(dys, [dys.length, 1])];
    try {
      const expected = tf.tidy(() => tf.mul(dy, tf.cast(tf.step(x), 'float32')).dataSync());
      const profile = await tf.profile(() => tf.tidy(() => void reluGradient(dy, x).dataSync()));
      expect(profile.kernels.map((kernel) => kernel.name)).toEqual(['FoolprintReluGradient']);
      const got = tf.tidy(() => reluGradient(dy, x).dataSync());
      // Object.is tells −0 from +0 (and takes every NaN as NaN).
      const differ = Array.from(got).filter((v, i) => !Object.is(v, expected[i]));
      expect(differ).toEqual([]);
    } finally {
      setWasmLoopsEnabled(true);
      tf.dispose([x, dy]);
    }
  });
});

