/**
 * The attacks on the backend the product runs on (WASM, with the project's registered gradient
 * kernels) against the CPU reference: same adversarial images up to float rounding, no leaks.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Classifier } from '../app/engine/classifier.js';
import { runAttack } from '../app/attacks/index.js';
import { mulberry32 } from '../app/attacks/random-start.js';
import type { AttackOptions, AttackResult } from '../app/attacks/types.js';
import { initBackend } from '../app/node/backend.js';

const S = 12;
const C = 4;
const N = 16;

let classifier: Classifier;
let model: tf.LayersModel;
let wasmAvailable = false;
const random = mulberry32(4);
const images = Float32Array.from({ length: N * S * S }, () => random());
const labels = Int32Array.from({ length: N }, (_, i) => i % C);

beforeAll(async () => {
  const info = await initBackend({ prefer: 'wasm' });
  wasmAvailable = info.name === 'wasm';
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  const net = tf.sequential();
  net.add(tf.layers.conv2d({ inputShape: [S, S, 1], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(1) }));
  net.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  net.add(tf.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, activation: 'relu', kernelInitializer: init(2) }));
  net.add(tf.layers.flatten());
  net.add(tf.layers.dense({ units: C, kernelInitializer: init(3) }));
  model = net;
  classifier = {
    id: 'random-cnn',
    inputShape: [S, S, 1],
    numClasses: C,
    labels: ['a', 'b', 'c', 'd'],
    logits: (x) => model.apply(x, { training: false }) as tf.Tensor2D,
    dispose: () => model.dispose(),
  };
});

afterAll(() => {
  classifier?.dispose();
  depthwise?.dispose();
});

/** MobileNet-style blocks: depthwise 3x3 (stride 1 same, stride 2 valid) then pointwise 1x1. */
let depthwise: Classifier | undefined;
function depthwiseClassifier(): Classifier {
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  const net = tf.sequential();
  net.add(tf.layers.conv2d({ inputShape: [S, S, 3], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(5) }));
  net.add(tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', depthwiseInitializer: init(6) }));
  net.add(tf.layers.conv2d({ filters: 8, kernelSize: 1, activation: 'relu', kernelInitializer: init(7) }));
  net.add(tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'valid', depthwiseInitializer: init(8) }));
  net.add(tf.layers.globalAveragePooling2d({}));
  net.add(tf.layers.dense({ units: C, kernelInitializer: init(9) }));
  return {
    id: 'depthwise-cnn',
    inputShape: [S, S, 3],
    numClasses: C,
    labels: ['a', 'b', 'c', 'd'],
    logits: (x) => net.apply(x, { training: false }) as tf.Tensor2D,
    dispose: () => net.dispose(),
  };
}

async function runOn(backend: 'cpu' | 'wasm', options: AttackOptions): Promise<AttackResult> {
  await tf.setBackend(backend);
  const start = tf.memory().numTensors;
  const result = await runAttack(classifier, images, labels, options);
  expect(tf.memory().numTensors).toBe(start);
  return result;
}

describe('attacks on WASM equal the CPU reference', () => {
  const cases: [string, AttackOptions][] = [
    ['fgsm', { method: 'fgsm', epsilons: [0.02, 0.1] }],
    ['bim margin', { method: 'bim', epsilons: [0.03], loss: 'margin' }],
    ['ll', { method: 'll', epsilons: [0.03] }],
    ['pgd l2', { method: 'pgd', norm: 'l2', epsilons: [0.5], steps: 5, seed: 1 }],
    ['deepfool', { method: 'deepfool', epsilons: [0] }],
  ];

  it.for(cases)('%s', async ([, options], context) => {
    if (!wasmAvailable) context.skip('WASM backend unavailable here: no WASM/CPU comparison');
    const cpu = await runOn('cpu', options);
    const wasm = await runOn('wasm', options);
    for (let e = 0; e < cpu.perEpsilon.length; e++) {
      const a = cpu.perEpsilon[e].adversarial!;
      const b = wasm.perEpsilon[e].adversarial!;
      let far = 0;
      for (let j = 0; j < a.length; j++) {
        const d = Math.abs(a[j] - b[j]);
        if (d > 1e-4) far++;
      }
      // A sign step may flip where the gradient is ~0 in float32; everything else must agree.
      expect(far / a.length).toBeLessThan(0.01);
      let agree = 0;
      const k = cpu.perEpsilon[e].float.after.k;
      for (let i = 0; i < N; i++) agree += Number(cpu.perEpsilon[e].float.after.labels[i * k] === wasm.perEpsilon[e].float.after.labels[i * k]);
      expect(agree).toBeGreaterThanOrEqual(N - 1);
    }
  });
});

describe('a depthwise-convolution (MobileNet-style) model on WASM', () => {
  it('BIM and DeepFool run and equal the CPU reference', async (context) => {
    if (!wasmAvailable) context.skip('WASM backend unavailable here: no WASM/CPU comparison');
    depthwise ??= depthwiseClassifier();
    const rgb = Float32Array.from({ length: N * S * S * 3 }, () => random());
    for (const options of [{ method: 'bim', epsilons: [0.02], steps: 3 }, { method: 'deepfool', epsilons: [0], maxIterations: 5 }] as AttackOptions[]) {
      const results: AttackResult[] = [];
      for (const backend of ['cpu', 'wasm'] as const) {
        await tf.setBackend(backend);
        const start = tf.memory().numTensors;
        results.push(await runAttack(depthwise, rgb, labels, options));
        expect(tf.memory().numTensors).toBe(start);
      }
      const [a, b] = results.map((r) => r.perEpsilon[0].adversarial!);
      let far = 0;
      for (let j = 0; j < a.length; j++) if (Math.abs(a[j] - b[j]) > 1e-4) far++;
      expect(far / a.length).toBeLessThan(0.01);
      expect(Array.from(results[1].perEpsilon[0].float.linf).some((v) => v > 0)).toBe(true);
    }
  });
});
