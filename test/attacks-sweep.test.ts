/**
 * A sweep over several ε computes FGSM's (and BIM's first) gradient once per chunk and reuses it
 * for every ε (runAttack's step-0 gradient memo). The results must be exactly those of one call per
 * ε, chunk by chunk (batch size 6 over 16 images: two whole chunks and a partial one), on WASM as
 * the product runs, and no tensor may be left behind.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Classifier } from '../app/engine/classifier.js';
import { runAttack } from '../app/attacks/index.js';
import { mulberry32 } from '../app/attacks/random-start.js';
import type { AttackOptions, AttackResult, EpsilonResult } from '../app/attacks/types.js';
import { initBackend } from '../app/node/backend.js';

const S = 12;
const C = 4;
const N = 16;
const random = mulberry32(11);
const images = Float32Array.from({ length: N * S * S }, () => random());
const labels = Int32Array.from({ length: N }, (_, i) => (i * 3) % C);
let classifier: Classifier;

beforeAll(async () => {
  await initBackend({ prefer: 'wasm' });
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  const net = tf.sequential();
  net.add(tf.layers.conv2d({ inputShape: [S, S, 1], filters: 4, kernelSize: 3, activation: 'relu', kernelInitializer: init(1) }));
  net.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  net.add(tf.layers.flatten());
  net.add(tf.layers.dense({ units: C, kernelInitializer: init(2) }));
  classifier = {
    id: 'sweep-cnn',
    inputShape: [S, S, 1],
    numClasses: C,
    labels: ['a', 'b', 'c', 'd'],
    logits: (x) => net.apply(x, { training: false }) as tf.Tensor2D,
    dispose: () => net.dispose(),
  };
});

afterAll(() => classifier?.dispose());

/** Every typed array of an ε result, byte for byte. */
function expectSameEpsilon(a: EpsilonResult, b: EpsilonResult): void {
  expect(a.epsilon).toBe(b.epsilon);
  for (const view of ['float', 'quantized'] as const) {
    expect(a[view].after.labels).toEqual(b[view].after.labels);
    expect(Buffer.from(a[view].after.probs.buffer).equals(Buffer.from(b[view].after.probs.buffer))).toBe(true);
    expect(a[view].success).toEqual(b[view].success);
    expect(Buffer.from(a[view].linf.buffer).equals(Buffer.from(b[view].linf.buffer))).toBe(true);
    expect(Buffer.from(a[view].l2.buffer).equals(Buffer.from(b[view].l2.buffer))).toBe(true);
  }
  expect(Buffer.from(a.adversarial!.buffer).equals(Buffer.from(b.adversarial!.buffer))).toBe(true);
}

describe('several ε in one call equal one call per ε', () => {
  const cases: [string, Omit<AttackOptions, 'epsilons'>][] = [
    ['FGSM L∞', { method: 'fgsm' }],
    ['FGSM L2', { method: 'fgsm', norm: 'l2' }],
    ['FGSM targeted', { method: 'fgsm', criterion: { kind: 'targeted', targets: new Int32Array(N).fill(2) } }],
    ['BIM, 3 steps', { method: 'bim', steps: 3, stepSize: 0.02 }],
  ];
  for (const [name, options] of cases) {
    it(name, async () => {
      const epsilons = [0.03, 0.1, 0.25];
      const common = { ...options, keepImages: true, batchSize: 6 };
      const before = tf.memory().numTensors;
      const together: AttackResult = await runAttack(classifier, images, labels, { ...common, epsilons });
      for (let e = 0; e < epsilons.length; e++) {
        const alone = await runAttack(classifier, images, labels, { ...common, epsilons: [epsilons[e]] });
        expectSameEpsilon(together.perEpsilon[e], alone.perEpsilon[0]);
      }
      // The ε really differ: a larger budget moves the images further.
      expect(together.perEpsilon[2].float.linf[0]).toBeGreaterThan(together.perEpsilon[0].float.linf[0]);
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
