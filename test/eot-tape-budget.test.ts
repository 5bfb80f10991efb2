/**
 * EOT on a model whose gradient tape is large per image: runAttack hands the images the tape budget
 * holds (chunk-size.ts tapeImageCapacity) to EOT, which then runs no model pass of more transformed
 * images than that, where it used to run every draw of a chunk at once (a 224x224 model: 12 tapes
 * where 3 fit). The capacity is fixed here, as a model's probe would give it, so the test needs no
 * gigabytes; drawPasses' arithmetic is tested in eot.test.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { Classifier } from '../app/engine/classifier.js';
import type * as ChunkSize from '../app/attacks/chunk-size.js';

const CAPACITY = 9;
vi.mock('../app/attacks/chunk-size.js', async (original) => ({ ...(await original<typeof ChunkSize>()), tapeImageCapacity: () => CAPACITY }));
const { runAttack } = await import('../app/attacks/index.js');

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('EOT within the tape budget', () => {
  it('runs each step\'s draws in passes of at most the images the tape budget holds', async () => {
    const weights = tf.tensor2d(Float32Array.from({ length: 64 * 3 }, (_, k) => Math.sin(k)), [64, 3]);
    const taped: number[] = [];
    const classifier: Classifier = {
      id: 'recording',
      inputShape: [8, 8, 1],
      numClasses: 3,
      labels: ['a', 'b', 'c'],
      logits: (x) =>
        tf.tidy(() => {
          // Only passes on a gradient tape hold their activations: the views' forward passes do not count.
          if ((tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth > 0) taped.push(x.shape[0]);
          return x.reshape([x.shape[0], 64]).matMul(weights) as tf.Tensor2D;
        }),
      dispose: () => weights.dispose(),
    };
    const images = Float32Array.from({ length: 4 * 64 }, (_, k) => 0.5 + 0.4 * Math.sin(k * 0.7));
    await runAttack(classifier, images, Int32Array.from([0, 1, 2, 0]), { method: 'bim', epsilons: [0.1], steps: 2, eot: { samples: 8 } });
    // 8 draws of 4 images: 2 samples (8 images) per pass, 4 passes per step, never the 32 of one pass.
    // (First the chunk-size probe's passes of 2 images and 1.)
    expect(taped).toEqual([2, 1, 8, 8, 8, 8, 8, 8, 8, 8]);
    classifier.dispose();
  });
});
