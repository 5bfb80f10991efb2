/**
 * logitsBesideTape: one forward pass on a gradient tape that also gives the logits `logits()` gives
 * off it, bit for bit, so FGSM and BIM take the clean prediction from their first gradient step
 * instead of scoring the clean images again. On the tape TF.js unfuses a Dense ReLU (bias and
 * activation as separate kernels), which moves the last bits of LeNet's logits: those layers run
 * twice, the convolutions once. Checked on the WASM backend, the product's.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { runAttack } from '../app/attacks/index.js';
import { objectiveGradient } from '../app/attacks/iterative.js';
import type { Classifier } from '../app/engine/classifier.js';
import { predictLogits } from '../app/engine/predict.js';
import { classifierFromModel } from '../app/models/classifier.js';
import type { ModelManifest } from '../app/models/manifest.js';
import { initBackend } from '../app/node/backend.js';
import { loadDataset } from '../app/node/dataset-loader.js';
import { loadClassifier } from '../app/node/model-loader.js';

let lenet: Classifier;
let images: Float32Array;
let labels: Int32Array;

beforeAll(async () => {
  await initBackend({ prefer: 'wasm' });
  lenet = await loadClassifier({ kind: 'builtin', id: 'lenet-mnist' });
  const samples = await loadDataset('samples', { samplesOf: 'lenet-mnist', limit: 40 });
  images = samples.images;
  labels = samples.labels;
});

const manifest = (outputs: ModelManifest['outputs'] = 'logits'): ModelManifest =>
  ({ schemaVersion: 1, name: 'test', inputSize: [28, 28], channels: 1, labels: [...'0123456789'], preprocessing: { kind: 'unit' }, outputs }) as ModelManifest;

/** The gradient of the untargeted CE objective and the logits the tape's pass gave off the tape. */
function gradientAndUntaped(classifier: Classifier, n: number): { gradient: Float32Array; untaped: Float32Array; plainGradient: Float32Array } {
  let untaped: Float32Array | undefined;
  const [gradient, plainGradient] = tf.tidy(() => {
    const x = tf.tensor4d(images.subarray(0, n * 784), [n, 28, 28, 1]);
    const y = tf.tensor1d(labels.subarray(0, n), 'int32');
    return [
      objectiveGradient(classifier, x, y, 'ce', false, (logits) => (untaped = logits)).dataSync() as Float32Array,
      objectiveGradient(classifier, x, y, 'ce', false).dataSync() as Float32Array,
    ];
  });
  return { gradient, plainGradient, untaped: untaped! };
}

function sequential(denseActivation: 'relu' | 'linear' | 'softmax'): tf.Sequential {
  const model = tf.sequential();
  model.add(tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 4, kernelSize: 5, activation: 'linear', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }), biasInitializer: tf.initializers.randomNormal({ seed: 2 }) }));
  model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tf.layers.reLU());
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ units: 16, activation: denseActivation, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }), biasInitializer: tf.initializers.randomNormal({ seed: 4 }) }));
  model.add(tf.layers.dense({ units: 10, kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }), biasInitializer: tf.initializers.randomNormal({ seed: 6 }) }));
  return model;
}

describe('logitsBesideTape', () => {
  it('LeNet: the untaped logits equal logits() off the tape bit for bit, and the gradient is unchanged', () => {
    const n = labels.length;
    const { gradient, plainGradient, untaped } = gradientAndUntaped(lenet, n);
    expect(untaped).toEqual(predictLogits(lenet, images.subarray(0, n * 784), 256));
    expect(gradient).toEqual(plainGradient);
    // The premise: on the tape the logits do move (else there would be nothing to rerun).
    const taped = tf.tidy(() => {
      let logits: Float32Array | undefined;
      tf.grad((x: tf.Tensor) => {
        const z = lenet.logits(x as tf.Tensor4D);
        logits = z.dataSync() as Float32Array;
        return z.sum();
      })(tf.tensor4d(images.subarray(0, n * 784), [n, 28, 28, 1]));
      return logits!;
    });
    expect(taped).not.toEqual(untaped);
  });

  it('LeNet: the two convolutions run once, only the dense layers twice, and no tensor is left', async () => {
    const n = 5;
    const start = tf.memory().numTensors;
    const profile = await tf.profile(() => {
      gradientAndUntaped(lenet, n);
    });
    expect(tf.memory().numTensors).toBe(start);
    // Two gradients (with and without the untaped logits): 2 + 2 convolutions, 2 + 3 dense products.
    expect(profile.kernels.filter((k) => k.name === 'FusedConv2D')).toHaveLength(4);
    expect(profile.kernels.filter((k) => k.name === '_FusedMatMul' || k.name === 'BatchMatMul').length).toBeGreaterThan(4);
  });

  it.each(['relu', 'linear', 'softmax'] as const)('a Sequential model with a %s dense layer: the same bits as logits() off the tape', (activation) => {
    const model = sequential(activation);
    const classifier = classifierFromModel(model, manifest(), 'seq');
    try {
      const { gradient, plainGradient, untaped } = gradientAndUntaped(classifier, 7);
      expect(untaped).toEqual(predictLogits(classifier, images.subarray(0, 7 * 784), 256));
      expect(gradient).toEqual(plainGradient);
    } finally {
      classifier.dispose();
    }
  });

  it('a model ending in probabilities: the untaped logits are the same log-probabilities logits() gives', () => {
    const model = sequential('relu');
    model.add(tf.layers.softmax());
    const classifier = classifierFromModel(model, manifest('probabilities'), 'probs');
    try {
      const { untaped } = gradientAndUntaped(classifier, 7);
      expect(untaped).toEqual(predictLogits(classifier, images.subarray(0, 7 * 784), 256));
    } finally {
      classifier.dispose();
    }
  });

  it('is not used by a wrapper that spreads a classifier and replaces its logits: the attack follows the wrapper', async () => {
    // A saturated softmax (the gradient-masking check's model): its CE gradient vanishes, so FGSM changes nothing.
    const saturate = (x: tf.Tensor4D) => tf.tidy(() => tf.log(tf.softmax(lenet.logits(x).mul(1000)).add(1e-12)) as tf.Tensor2D);
    const spread: Classifier = { ...lenet, id: 'spread', logits: saturate };
    const fresh: Classifier = { id: 'fresh', inputShape: lenet.inputShape, numClasses: lenet.numClasses, labels: lenet.labels, logits: saturate, dispose: () => {} };
    const x = images.subarray(0, 8 * 784);
    const y = labels.subarray(0, 8);
    const [viaSpread, viaFresh] = [await runAttack(spread, x, y, { method: 'fgsm', epsilons: [0.25] }), await runAttack(fresh, x, y, { method: 'fgsm', epsilons: [0.25] })];
    expect(Array.from(viaSpread.perEpsilon[0].adversarial!)).toEqual(Array.from(viaFresh.perEpsilon[0].adversarial!));
    expect(Array.from(viaSpread.before.probs)).toEqual(Array.from(viaFresh.before.probs));
  });

  it('is absent where the layers are not a chain (a functional model): the attack scores the clean images itself', async () => {
    const input = tf.input({ shape: [28, 28, 1] });
    const flat = tf.layers.flatten().apply(input) as tf.SymbolicTensor;
    const a = tf.layers.dense({ units: 10, activation: 'relu' }).apply(flat) as tf.SymbolicTensor;
    const b = tf.layers.dense({ units: 10 }).apply(flat) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: tf.layers.add().apply([a, b]) as tf.SymbolicTensor });
    const classifier = classifierFromModel(model, manifest(), 'functional');
    try {
      expect(classifier.logitsBesideTape).toBeUndefined();
      const result = await runAttack(classifier, images.subarray(0, 3 * 784), labels.subarray(0, 3), { method: 'fgsm', epsilons: [0.1], topK: 1 });
      expect(result.before.labels).toHaveLength(3);
    } finally {
      classifier.dispose();
    }
  });

  it('FGSM and BIM take the clean prediction from the first gradient step: the views pass scores 2n images, not 3n', async () => {
    for (const options of [{ method: 'fgsm' as const, epsilons: [0.1] }, { method: 'bim' as const, epsilons: [0.1], steps: 2, stepSize: 0.05 }]) {
      const n = 6;
      const profile = await tf.profile(async () => {
        await runAttack(lenet, images.subarray(0, n * 784), labels.subarray(0, n), { ...options, keepImages: false });
      });
      const batches = profile.kernels.filter((k) => k.name === 'FusedConv2D').map((k) => k.inputShapes[0]![0]);
      expect(Math.max(...batches)).toBe(2 * n);
    }
  });
});
