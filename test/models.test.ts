import { mkdtemp, rm, truncate, writeFile, mkdir, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifierFromModel } from '../app/models/classifier.js';
import { ModelError } from '../app/models/errors.js';
import { createLeNet } from '../app/models/lenet.js';
import { conv2dValid, trainingLogits } from '../app/models/training-forward.js';
import { modelManifestSchema, type ModelManifest } from '../app/models/manifest.js';
import { parseModelSource } from '../app/models/source.js';
import { saveLayersModel } from '../app/node/model-io.js';
import { loadClassifier, parseManifest } from '../app/node/model-loader.js';
import fc from 'fast-check';

let root: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  root = await mkdtemp(path.join(tmpdir(), 'foolprint-models-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function manifest(overrides: Partial<Record<keyof ModelManifest, unknown>> = {}): ModelManifest {
  return modelManifestSchema.parse({ schemaVersion: 1, name: 'tiny', inputSize: [4, 4], channels: 1, labels: ['a', 'b', 'c'], ...overrides });
}

/** A tiny dense model: 4x4x1 → 3 logits. */
function tinyModel(inputShape: [number, number, number] = [4, 4, 1], units = 3): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape }),
      tf.layers.dense({ units, kernelInitializer: tf.initializers.randomNormal({ seed: 1 }), biasInitializer: 'ones' }),
    ],
  });
}

async function savedFolder(name: string, model: tf.LayersModel, m?: ModelManifest): Promise<string> {
  const folder = path.join(root, name);
  await saveLayersModel(model, folder);
  if (m) await writeFile(path.join(folder, 'foolprint.json'), JSON.stringify(m));
  return folder;
}

async function expectModelError(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(ModelError);
  expect((error as Error).message).toMatch(pattern);
  expect((error as Error).message).not.toContain('\n');
}

describe('parseModelSource', () => {
  it.each([
    ['lenet-mnist', { kind: 'builtin', id: 'lenet-mnist' }],
    ['builtin:lenet-mnist', { kind: 'builtin', id: 'lenet-mnist' }],
    ['builtin:nope', { kind: 'builtin', id: 'nope' }],
    ['./models/mine', { kind: 'folder', path: './models/mine' }],
    ['mine', { kind: 'folder', path: 'mine' }],
  ])('%s', (text, expected) => {
    expect(parseModelSource(text)).toEqual(expected);
  });
});

describe('model folder round trip', () => {
  it('saves a model, loads it back, same logits; no leaked tensors', async () => {
    const model = tinyModel();
    const folder = await savedFolder('roundtrip', model, manifest());
    const x = tf.randomUniform([5, 4, 4, 1], 0, 1, 'float32', 7) as tf.Tensor4D;
    const expected = (model.predict(x) as tf.Tensor).arraySync() as number[][];
    const start = tf.memory().numTensors;
    const classifier = await loadClassifier({ kind: 'folder', path: folder });
    expect(classifier.inputShape).toEqual([4, 4, 1]);
    expect(classifier.labels).toEqual(['a', 'b', 'c']);
    expect(classifier.format).toBe('layers');
    const logits = classifier.logits(x);
    const got = logits.arraySync();
    logits.dispose();
    for (let i = 0; i < 5; i++) for (let j = 0; j < 3; j++) expect(got[i][j]).toBeCloseTo(expected[i][j], 5);
    classifier.dispose();
    expect(tf.memory().numTensors).toBe(start);
    x.dispose();
    model.dispose();
  });

  it('without foolprint.json infers the input and labels and says what it assumed', async () => {
    const model = tinyModel();
    const folder = await savedFolder('nomanifest', model);
    const classifier = await loadClassifier({ kind: 'folder', path: folder });
    expect(classifier.inputShape).toEqual([4, 4, 1]);
    expect(classifier.labels).toEqual(['0', '1', '2']);
    expect(classifier.notes.join(' ')).toMatch(/no foolprint\.json.*assumed pixels in \[0,1\]/);
    classifier.dispose();
    model.dispose();
  });

  it('accepts the path of model.json itself', async () => {
    const model = tinyModel();
    const folder = await savedFolder('byfile', model, manifest());
    const classifier = await loadClassifier({ kind: 'folder', path: path.join(folder, 'model.json') });
    expect(classifier.numClasses).toBe(3);
    classifier.dispose();
    model.dispose();
  });
});

describe('bad models give one clear line', () => {
  let good: string;
  let model: tf.Sequential;
  beforeAll(async () => {
    model = tinyModel();
    good = await savedFolder('good', model, manifest());
  });
  afterAll(() => model.dispose());

  async function copyOfGood(name: string): Promise<string> {
    const folder = path.join(root, name);
    await cp(good, folder, { recursive: true });
    return folder;
  }

  it('missing folder', async () => {
    await expectModelError(loadClassifier({ kind: 'folder', path: path.join(root, 'absent') }), /model folder not found/);
  });
  it('folder without model.json', async () => {
    const folder = path.join(root, 'empty');
    await mkdir(folder);
    await expectModelError(loadClassifier({ kind: 'folder', path: folder }), /no model\.json in/);
  });
  it('unknown built-in id lists the real ones', async () => {
    await expectModelError(loadClassifier({ kind: 'builtin', id: 'nope' }), /no built-in model "nope"/);
  });
  it('missing shard', async () => {
    const folder = await copyOfGood('noshard');
    await rm(path.join(folder, 'weights.bin'));
    await expectModelError(loadClassifier({ kind: 'folder', path: folder }), /weights file weights\.bin is missing/);
  });
  it('shard of the wrong size', async () => {
    const folder = await copyOfGood('shortshard');
    await truncate(path.join(folder, 'weights.bin'), 40);
    // 16·3 kernel + 3 bias float32 = 204 bytes
    await expectModelError(loadClassifier({ kind: 'folder', path: folder }), /weights file weights\.bin is 40 bytes, the manifest expects 204$/);
  });
  it('model.json that is not JSON', async () => {
    const folder = await copyOfGood('notjson');
    await writeFile(path.join(folder, 'model.json'), '{ nope');
    await expectModelError(loadClassifier({ kind: 'folder', path: folder }), /model\.json is not JSON/);
  });
  it('model.json that is not a model', async () => {
    const folder = await copyOfGood('notmodel');
    await writeFile(path.join(folder, 'model.json'), JSON.stringify({ hello: 'world' }));
    await expectModelError(loadClassifier({ kind: 'folder', path: folder }), /is not a TF\.js model: no modelTopology or weightsManifest/);
  });
  it('input shape mismatch', async () => {
    const folder = await copyOfGood('shape');
    await writeFile(path.join(folder, 'foolprint.json'), JSON.stringify(manifest({ inputSize: [28, 28] })));
    await expectModelError(loadClassifier({ kind: 'folder', path: folder }), /input shape mismatch: model takes \[null,4,4,1\], manifest says 28x28x1/);
  });
  it('labels count mismatch', async () => {
    const folder = await copyOfGood('labels');
    await writeFile(path.join(folder, 'foolprint.json'), JSON.stringify(manifest({ labels: ['a', 'b'] })));
    await expectModelError(loadClassifier({ kind: 'folder', path: folder }), /the model has 3 outputs, the manifest lists 2 labels/);
  });
  it('bad manifest field is named', async () => {
    const folder = await copyOfGood('badmanifest');
    await writeFile(path.join(folder, 'foolprint.json'), JSON.stringify({ ...manifest(), channels: 2 }));
    await expectModelError(loadClassifier({ kind: 'folder', path: folder }), /foolprint\.json: field "channels"/);
  });
  it('unknown or misspelt keys in foolprint.json are named, with the nearest known key (issue 7 §7)', async () => {
    const folder = await copyOfGood('misspelt');
    const { labels, ...rest } = manifest();
    await writeFile(path.join(folder, 'foolprint.json'), JSON.stringify({ ...rest, lables: labels }));
    await expectModelError(loadClassifier({ kind: 'folder', path: folder }), /foolprint\.json: .*unknown key "lables" \(did you mean "labels"\?\)/);
    await writeFile(path.join(folder, 'foolprint.json'), JSON.stringify({ ...manifest(), preprocessing: { kind: 'unit', mean: [0.5] }, zebra: 1 }));
    await expectModelError(loadClassifier({ kind: 'folder', path: folder }), /unknown key "mean" in "preprocessing" \(known keys: kind\); unknown key "zebra" \(known keys: schemaVersion, name,/);
  });
  it('NaN or infinite weights are refused at load, naming the tensor (issue 7 §7)', async () => {
    for (const [name, bad] of [['nan', NaN], ['inf', Infinity]] as const) {
      const broken = tinyModel();
      const [kernel, bias] = broken.layers[1].getWeights();
      const values = kernel.arraySync() as number[][];
      values[5][1] = bad;
      broken.layers[1].setWeights([tf.tensor2d(values), bias]);
      const folder = await savedFolder(`weights-${name}`, broken, manifest());
      const kernelName = broken.layers[1].weights[0].originalName;
      broken.dispose();
      await expectModelError(loadClassifier({ kind: 'folder', path: folder }), new RegExp(`weight "${kernelName}" holds ${bad} at index 16 of 48`));
    }
  });
  it('parses any JSON object as foolprint.json into a manifest or one clear error naming a key, never a crash (fast-check)', () => {
    const known = Object.keys(modelManifestSchema.shape);
    const valid = { ...manifest() } as Record<string, unknown>;
    const variant = fc.record({
      drop: fc.subarray(known),
      replace: fc.dictionary(fc.constantFrom(...known), fc.jsonValue(), { maxKeys: 3 }),
      extra: fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), fc.jsonValue(), { maxKeys: 3 }),
    });
    fc.assert(
      fc.property(fc.oneof(variant, fc.dictionary(fc.string(), fc.jsonValue())), (shape) => {
        let object: Record<string, unknown>;
        if ('drop' in shape && Array.isArray(shape.drop) && 'replace' in shape && 'extra' in shape) {
          object = { ...valid, ...(shape.extra as Record<string, unknown>), ...(shape.replace as Record<string, unknown>) };
          for (const key of shape.drop as string[]) delete object[key];
        } else {
          object = shape as Record<string, unknown>;
        }
        try {
          const parsed = parseManifest(JSON.stringify(object), '/m/foolprint.json');
          // Accepted: then every key was a known one.
          for (const key of Object.keys(object)) expect(known).toContain(key);
          expect(parsed.schemaVersion).toBe(1);
        } catch (error) {
          expect(error).toBeInstanceOf(ModelError);
          const message = (error as Error).message;
          expect(message.startsWith('/m/foolprint.json: ')).toBe(true);
          expect(message).not.toMatch(/\n/);
          // It names the field or key it is about; keys are quoted and escaped.
          expect(message.slice('/m/foolprint.json: '.length)).toMatch(/^(field "[^"]+"|unknown key ")/);
          // eslint-disable-next-line no-control-regex -- raw control characters are what must not appear
          expect(message).not.toMatch(/[\u0000-\u001f]/);
        }
      }),
      { numRuns: 1500 },
    );
  });
  it('no tensors leak from a failed load', async () => {
    const folder = await copyOfGood('leak');
    await writeFile(path.join(folder, 'foolprint.json'), JSON.stringify(manifest({ labels: ['a', 'b', 'c', 'd'] })));
    const start = tf.memory().numTensors;
    await expectModelError(loadClassifier({ kind: 'folder', path: folder }), /labels count mismatch/);
    expect(tf.memory().numTensors).toBe(start);
  });
});

describe('preprocessing happens inside logits, gradients w.r.t. [0,1] pixels', () => {
  /**
   * An identity "model" over 1x1 pixels: flatten then a dense layer with the identity kernel and no
   * bias, so logits are exactly the model's input, i.e. the preprocessed pixels.
   */
  function identity(channels: number): tf.Sequential {
    const m = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [1, 1, channels] }), tf.layers.dense({ units: channels, useBias: false })] });
    m.layers[1].setWeights([tf.eye(channels)]);
    return m;
  }
  const pixel = [0.2, 0.5, 0.9];
  const labels3 = ['r', 'g', 'b'];

  it.each([
    ['unit', { kind: 'unit' }, 'RGB', [0.2, 0.5, 0.9], [1, 1, 1]],
    ['symmetric', { kind: 'symmetric' }, 'RGB', [-0.6, 0, 0.8], [2, 2, 2]],
    ['byte', { kind: 'byte' }, 'RGB', [51, 127.5, 229.5], [255, 255, 255]],
    ['meanStd', { kind: 'meanStd', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }, 'RGB',
      [(0.2 - 0.485) / 0.229, (0.5 - 0.456) / 0.224, (0.9 - 0.406) / 0.225], [1 / 0.229, 1 / 0.224, 1 / 0.225]],
    // BGR: the model's input channel 0 is the image's blue.
    ['BGR', { kind: 'unit' }, 'BGR', [0.9, 0.5, 0.2], [1, 1, 1]],
  ])('%s', (_name, preprocessing, channelOrder, expectedInput, expectedGrad) => {
    const model = identity(3);
    const c = classifierFromModel(model, manifest({ inputSize: [1, 1], channels: 3, labels: labels3, preprocessing, channelOrder }), 't');
    const start = tf.memory().numTensors;
    const x = tf.tensor4d(pixel, [1, 1, 1, 3]);
    const logits = c.logits(x);
    const got = Array.from(logits.dataSync());
    // d(sum of logits)/dx: the chain rule through the preprocessing, per channel.
    const grad = tf.grad((images: tf.Tensor) => c.logits(images as tf.Tensor4D).sum())(x);
    const g = Array.from(grad.dataSync());
    for (let i = 0; i < 3; i++) {
      expect(got[i]).toBeCloseTo(expectedInput[i], 4);
      expect(g[i]).toBeCloseTo(expectedGrad[i], 3);
    }
    tf.dispose([x, logits, grad]);
    expect(tf.memory().numTensors).toBe(start);
    c.dispose();
  });

  it('probabilities become log-probabilities', () => {
    const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [1, 1, 3] }), tf.layers.dense({ units: 3, useBias: false, activation: 'softmax' })] });
    model.layers[1].setWeights([tf.eye(3)]);
    const c = classifierFromModel(model, manifest({ inputSize: [1, 1], channels: 3, labels: labels3, outputs: 'probabilities' }), 'p');
    const x = tf.tensor4d(pixel, [1, 1, 1, 3]);
    const got = c.logits(x);
    const z = Math.log(pixel.reduce((a, v) => a + Math.exp(v), 0));
    const values = Array.from(got.dataSync());
    for (let i = 0; i < 3; i++) expect(values[i]).toBeCloseTo(pixel[i] - z, 5);
    tf.dispose([x, got]);
    c.dispose();
  });

  it('grey images feed an RGB model (tiled) and RGB images a grey model (luma)', () => {
    const rgbModel = identity(3);
    const grey = classifierFromModel(rgbModel, manifest({ inputSize: [1, 1], channels: 1, labels: labels3 }), 'g');
    expect(grey.inputShape).toEqual([1, 1, 1]);
    const x1 = tf.tensor4d([0.4], [1, 1, 1, 1]);
    const y1 = grey.logits(x1);
    expect(Array.from(y1.dataSync()).map((v) => +v.toFixed(5))).toEqual([0.4, 0.4, 0.4]);
    // A grey model with logits [v, −v] of its one input pixel v.
    const greyModel = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [1, 1, 1] }), tf.layers.dense({ units: 2, useBias: false })] });
    greyModel.layers[1].setWeights([tf.tensor2d([[1, -1]])]);
    const rgb = classifierFromModel(greyModel, manifest({ inputSize: [1, 1], channels: 3, labels: ['x', 'y'] }), 'c');
    expect(rgb.inputShape).toEqual([1, 1, 3]);
    const x3 = tf.tensor4d(pixel, [1, 1, 1, 3]);
    const y3 = rgb.logits(x3);
    const luma = 0.299 * 0.2 + 0.587 * 0.5 + 0.114 * 0.9;
    const v = Array.from(y3.dataSync());
    expect(v[0]).toBeCloseTo(luma, 5);
    expect(v[1]).toBeCloseTo(-luma, 5);
    tf.dispose([x3, y3]);
    rgb.dispose();
    tf.dispose([x1, y1]);
    grey.dispose();
  });
});

describe('the seed LeNet', () => {
  it('has the seed\'s layers, in order, and 21,840 parameters', () => {
    const model = createLeNet();
    const layers = model.layers.map((layer) => {
      const c = layer.getConfig() as Record<string, unknown>;
      return [layer.getClassName(), c.filters ?? c.units ?? c.rate ?? c.poolSize ?? null, c.kernelSize ?? c.noiseShape ?? c.activation ?? null];
    });
    expect(layers).toEqual([
      ['Conv2D', 10, [5, 5]],
      ['MaxPooling2D', [2, 2], null],
      ['ReLU', null, null],
      ['Conv2D', 20, [5, 5]],
      ['Dropout', 0.5, [null, 1, 1, 20]],
      ['MaxPooling2D', [2, 2], null],
      ['ReLU', null, null],
      ['Flatten', null, null],
      ['Dense', 50, 'relu'],
      ['Dropout', 0.5, null],
      ['Dense', 10, 'linear'],
    ]);
    expect((model.layers[0].getConfig() as { padding: string }).padding).toBe('valid');
    expect(model.inputs[0].shape).toEqual([null, 28, 28, 1]);
    expect(model.outputs[0].shape).toEqual([null, 10]);
    expect(model.countParams()).toBe(260 + 5020 + 16050 + 510);
    model.dispose();
  });

  it('Dropout2d drops whole feature maps in training and nothing at inference', () => {
    const model = createLeNet();
    const drop = model.layers[4];
    const x = tf.ones([2, 8, 8, 20]);
    const train = drop.apply(x, { training: true }) as tf.Tensor;
    const values = train.arraySync() as number[][][][];
    // Each (image, channel) is all 0 or all 2 (kept units are scaled by 1/(1−0.5)).
    for (let n = 0; n < 2; n++) for (let c = 0; c < 20; c++) {
      const map = new Set(values[n].flatMap((row) => row.map((px) => px[c])));
      expect(map.size).toBe(1);
      expect([0, 2]).toContain([...map][0]);
    }
    const infer = drop.apply(x, { training: false }) as tf.Tensor;
    expect(infer.sum().arraySync()).toBe(2 * 8 * 8 * 20);
    tf.dispose([x, train, infer]);
    model.dispose();
  });

  it('survives a save/load round trip with the same logits', async () => {
    const model = createLeNet();
    const folder = await savedFolder('lenet', model, manifest({ inputSize: [28, 28], labels: Array.from({ length: 10 }, (_, i) => String(i)) }));
    const c = await loadClassifier({ kind: 'folder', path: folder });
    const x = tf.randomUniform([3, 28, 28, 1], 0, 1, 'float32', 3) as tf.Tensor4D;
    const a = model.predict(x) as tf.Tensor;
    const b = c.logits(x);
    expect(tf.max(tf.abs(tf.sub(a, b))).arraySync()).toBeLessThan(1e-5);
    tf.dispose([x, a, b]);
    c.dispose();
    model.dispose();
  });
});

describe('training forward pass (WASM has no Conv2DBackpropFilter)', () => {
  it('conv2dValid gives the same value and gradients as tf.conv2d (to 1e-5)', () => {
    const x = tf.randomNormal([3, 9, 8, 2], 0, 1, 'float32', 11) as tf.Tensor4D;
    const w = tf.randomNormal([4, 3, 2, 5], 0, 1, 'float32', 12) as tf.Tensor4D;
    // A fixed random upstream gradient, so every output position is weighted differently.
    const up = tf.randomNormal([3, 6, 6, 5], 0, 1, 'float32', 13);
    const start = tf.memory().numTensors;
    const reference = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'valid'), up)))([x, w]);
    const ours = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv2dValid(a as tf.Tensor4D, b as tf.Tensor4D), up)))([x, w]);
    const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).arraySync() as number);
    expect(ours[1].shape).toEqual([4, 3, 2, 5]);
    expect(maxDiff(ours[0], reference[0])).toBeLessThan(1e-5);
    expect(maxDiff(ours[1], reference[1])).toBeLessThan(1e-5);
    const a = tf.conv2d(x, w, 1, 'valid');
    const b = conv2dValid(x, w);
    expect(maxDiff(a, b)).toBe(0);
    tf.dispose([...reference, ...ours, a, b]);
    expect(tf.memory().numTensors).toBe(start);
    tf.dispose([x, w, up]);
  });

  it('trainingLogits in inference mode equals the LeNet model itself', () => {
    const model = createLeNet();
    const x = tf.randomUniform([4, 28, 28, 1], 0, 1, 'float32', 5) as tf.Tensor4D;
    const a = model.apply(x, { training: false }) as tf.Tensor;
    const b = trainingLogits(model, x, false);
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).arraySync())).toBeLessThan(1e-5);
    tf.dispose([x, a, b]);
    model.dispose();
  });
});

describe('graph models', () => {
  /**
   * A hand-written TF.js graph model (what tensorflowjs_converter emits, minimal): x [-1,2,2,1] →
   * Reshape to [-1,4] → MatMul with a 4x2 constant. Its output shape is not declared, so the
   * loader runs one probe pass to count the outputs.
   */
  async function graphFolder(name: string, kernel: number[]): Promise<string> {
    const folder = path.join(root, name);
    await mkdir(folder, { recursive: true });
    const dims = (...sizes: number[]) => ({ dim: sizes.map((size) => ({ size: String(size) })) });
    const modelJson = {
      format: 'graph-model',
      generatedBy: 'hand',
      convertedBy: 'hand',
      modelTopology: {
        node: [
          { name: 'x', op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: dims(-1, 2, 2, 1) } } },
          { name: 'shape', op: 'Const', attr: { value: { tensor: { dtype: 'DT_INT32', tensorShape: dims(2) } }, dtype: { type: 'DT_INT32' } } },
          { name: 'flat', op: 'Reshape', input: ['x', 'shape'], attr: { T: { type: 'DT_FLOAT' }, Tshape: { type: 'DT_INT32' } } },
          { name: 'w', op: 'Const', attr: { value: { tensor: { dtype: 'DT_FLOAT', tensorShape: dims(4, 2) } }, dtype: { type: 'DT_FLOAT' } } },
          { name: 'y', op: 'MatMul', input: ['flat', 'w'], attr: { T: { type: 'DT_FLOAT' }, transpose_a: { b: false }, transpose_b: { b: false } } },
        ],
        library: {},
        versions: {},
      },
      weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: [{ name: 'shape', shape: [2], dtype: 'int32' }, { name: 'w', shape: [4, 2], dtype: 'float32' }] }],
    };
    const bytes = Buffer.concat([Buffer.from(new Int32Array([-1, 4]).buffer), Buffer.from(new Float32Array(kernel).buffer)]);
    await writeFile(path.join(folder, 'model.json'), JSON.stringify(modelJson));
    await writeFile(path.join(folder, 'group1-shard1of1.bin'), bytes);
    return folder;
  }

  it('loads a graph model and computes through it, with gradients', async () => {
    // Output 0 = sum of the 4 pixels, output 1 = first pixel minus last.
    const folder = await graphFolder('graph', [1, 1, 1, 0, 1, 0, 1, -1]);
    await writeFile(path.join(folder, 'foolprint.json'), JSON.stringify(manifest({ inputSize: [2, 2], labels: ['sum', 'diff'], preprocessing: { kind: 'byte' } })));
    const c = await loadClassifier({ kind: 'folder', path: folder });
    expect(c.format).toBe('graph');
    const x = tf.tensor4d([0.1, 0.2, 0.3, 0.4], [1, 2, 2, 1]);
    const y = c.logits(x);
    const values = Array.from(y.dataSync());
    expect(values[0]).toBeCloseTo(255, 3);
    expect(values[1]).toBeCloseTo(255 * (0.1 - 0.4), 3);
    const g = tf.grad((images: tf.Tensor) => tf.sum(c.logits(images as tf.Tensor4D)))(x);
    expect(Array.from(g.dataSync()).map((v) => Math.round(v))).toEqual([510, 255, 255, 0]);
    tf.dispose([x, y, g]);
    c.dispose();
  });

  it('graph model with a labels count mismatch (found by the probe pass)', async () => {
    const folder = await graphFolder('graph-labels', [1, 1, 1, 0, 1, 0, 1, -1]);
    await writeFile(path.join(folder, 'foolprint.json'), JSON.stringify(manifest({ inputSize: [2, 2] })));
    const start = tf.memory().numTensors;
    await expectModelError(loadClassifier({ kind: 'folder', path: folder }), /the model has 2 outputs, the manifest lists 3 labels/);
    expect(tf.memory().numTensors).toBe(start);
  });

  it('a shard of the wrong size, named as the manifest names it', async () => {
    const folder = await graphFolder('graph-short', [1, 1, 1, 0, 1, 0, 1]);
    await expectModelError(loadClassifier({ kind: 'folder', path: folder }), /weights file group1-shard1of1\.bin is 36 bytes, the manifest expects 40$/);
  });
});
