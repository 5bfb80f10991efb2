import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAttack } from '../app/attacks/index.js';
import { AttackInputError } from '../app/attacks/errors.js';
import { CancelledError } from '../app/attacks/types.js';
import type { AttackProgress, AttackResult } from '../app/attacks/types.js';
import { predictTopK } from '../app/engine/predict.js';
import { createLeNet } from '../app/models/lenet.js';
import { ModelError } from '../app/models/errors.js';
import { initBackend } from '../app/node/backend.js';
import { ComputePool, ComputePoolError, splitRanges } from '../app/node/compute-pool.js';
import { loadClassifier } from '../app/node/model-loader.js';
import { saveLayersModel } from '../app/node/model-io.js';

/**
 * The pool runs the built worker (dist/app/node/compute-worker.js): run `npm run build` first
 * (npm test does). A LeNet with fixed random weights, saved to a tmp folder, is the model.
 */

const tmp = mkdtempSync(path.join(os.tmpdir(), 'foolprint-pool-'));
const modelFolder = path.join(tmp, 'lenet');
const N = 21; // odd, so the two workers get 10 and 11 images

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function digitsLike(n: number, seed: number): { images: Float32Array; labels: Int32Array } {
  const next = lcg(seed);
  const images = new Float32Array(n * 28 * 28);
  // Sparse bright strokes on black, roughly like MNIST's value distribution.
  for (let i = 0; i < images.length; i++) images[i] = next() < 0.2 ? next() : 0;
  const labels = Int32Array.from({ length: n }, () => Math.floor(next() * 10));
  return { images, labels };
}

let pool: ComputePool;

beforeAll(async () => {
  await initBackend({ prefer: 'wasm' });
  const seeded = lcg(1234);
  const realRandom = Math.random;
  Math.random = seeded;
  try {
    const model = createLeNet();
    await saveLayersModel(model, modelFolder);
    model.dispose();
  } finally {
    Math.random = realRandom;
  }
  writeFileSync(path.join(modelFolder, 'foolprint.json'), JSON.stringify({
    schemaVersion: 1, name: 'lenet-test', inputSize: [28, 28], channels: 1, labels: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  }));
  pool = await ComputePool.create({ model: { kind: 'folder', path: modelFolder }, workers: 2, backend: 'wasm' });
});

afterAll(async () => {
  await pool?.close();
  rmSync(tmp, { recursive: true, force: true });
});

function expectSameResult(actual: AttackResult, expected: AttackResult): void {
  expect(actual.shape).toEqual(expected.shape);
  expect(actual.labels).toEqual(expected.labels);
  expect(actual.targets).toEqual(expected.targets);
  expect(actual.before.labels).toEqual(expected.before.labels);
  expect(actual.perEpsilon.length).toBe(expected.perEpsilon.length);
  for (let e = 0; e < expected.perEpsilon.length; e++) {
    const a = actual.perEpsilon[e];
    const b = expected.perEpsilon[e];
    expect(a.epsilon).toBe(b.epsilon);
    for (const view of ['float', 'quantized'] as const) {
      expect(a[view].success).toEqual(b[view].success);
      expect(a[view].after.labels).toEqual(b[view].after.labels);
      for (let i = 0; i < b[view].linf.length; i++) expect(a[view].linf[i]).toBeCloseTo(b[view].linf[i], 6);
    }
    expect(a.adversarial!.length).toBe(b.adversarial!.length);
    let maxDiff = 0;
    for (let i = 0; i < b.adversarial!.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a.adversarial![i] - b.adversarial![i]));
    expect(maxDiff).toBeLessThan(1e-6);
  }
}

describe('ComputePool', () => {
  it('splits a batch into contiguous, even ranges', () => {
    expect(splitRanges(21, 2)).toEqual([[0, 10], [10, 21]]);
    expect(splitRanges(1, 2)).toEqual([[0, 1]]);
    expect(splitRanges(7, 3)).toEqual([[0, 2], [2, 4], [4, 7]]);
  });

  it('reports the workers, their backend and the model', () => {
    const info = pool.info();
    expect(info.workers).toBe(2);
    expect(info.backend.name).toBe('wasm');
    expect(info.backend.threads).toBe(1);
    expect(info.model.inputShape).toEqual([28, 28, 1]);
    expect(info.model.numClasses).toBe(10);
    expect(info.model.labels).toHaveLength(10);
  });

  it('FGSM through 2 workers equals FGSM in-process on the same images, and leaks no tensor on either side', async () => {
    const { images, labels } = digitsLike(N, 7);
    const workerStart = await pool.memory();
    const pooled = await pool.attack(images, labels, { method: 'fgsm', epsilons: [0.1, 0.25] });
    // The caller's arrays are copied before transfer, never detached.
    expect(images.length).toBe(N * 784);

    const classifier = await loadClassifier({ kind: 'folder', path: modelFolder });
    const start = tf.memory().numTensors;
    const local = await runAttack(classifier, images, labels, { method: 'fgsm', epsilons: [0.1, 0.25] });
    expect(tf.memory().numTensors).toBe(start);
    classifier.dispose();

    expectSameResult(pooled, local);
    // The attack did something: some image changed class at ε = 0.25.
    expect(pooled.perEpsilon[1].float.success.some((s) => s === 1)).toBe(true);
    const workerEnd = await pool.memory();
    expect(workerEnd.map((m) => m.numTensors)).toEqual(workerStart.map((m) => m.numTensors));
  });

  it('PGD with random starts through 2 workers equals one in-process call: starts are seeded per image, not per worker', async () => {
    const { images, labels } = digitsLike(N, 9);
    const options = { method: 'pgd' as const, epsilons: [0.2], steps: 3, seed: 42 };
    const pooled = await pool.attack(images, labels, options);
    const classifier = await loadClassifier({ kind: 'folder', path: modelFolder });
    const local = await runAttack(classifier, images, labels, options);
    classifier.dispose();
    expectSameResult(pooled, local);
    expect(pooled.options.indexOffset ?? 0).toBe(0);
  });

  it('a targeted attack gets each worker its slice of the targets and merges them back', async () => {
    const { images, labels } = digitsLike(N, 8);
    const targets = Int32Array.from(labels, (l) => (l + 1) % 10);
    const result = await pool.attack(images, labels, { method: 'fgsm', epsilons: [0.2], criterion: { kind: 'targeted', targets } });
    expect(result.targets).toEqual(targets);
    expect(result.options.criterion).toEqual({ kind: 'targeted', targets });
  });

  it('predictions through the pool equal in-process top-k', async () => {
    const { images } = digitsLike(N, 9);
    const pooled = await pool.predict(images, 3);
    const classifier = await loadClassifier({ kind: 'folder', path: modelFolder });
    const local = predictTopK(classifier, images, 3);
    classifier.dispose();
    expect(pooled.k).toBe(3);
    expect(pooled.labels).toEqual(local.labels);
    for (let i = 0; i < local.probs.length; i++) expect(pooled.probs[i]).toBeCloseTo(local.probs[i], 6);
  });

  it('aggregates progress across workers: monotonic, one total, ending at the total', async () => {
    const { images, labels } = digitsLike(N, 10);
    const events: AttackProgress[] = [];
    await pool.attack(images, labels, { method: 'bim', epsilons: [0.1], steps: 5, stepSize: 0.02 }, { onProgress: (p) => events.push(p) });
    expect(events.length).toBeGreaterThan(1);
    const total = events[0].total;
    expect(total).toBe(N * 5);
    for (let i = 1; i < events.length; i++) {
      expect(events[i].total).toBe(total);
      expect(events[i].done).toBeGreaterThanOrEqual(events[i - 1].done);
    }
    expect(events.at(-1)!.done).toBe(total);
  });

  it('workers post progress messages only when the caller listens (none for an FGSM at batch 1 without a listener)', async () => {
    const workers = (pool as unknown as { slots: { worker?: Worker }[] }).slots.map((slot) => slot.worker!);
    const posted: string[] = [];
    const count = (message: { type: string }) => posted.push(message.type);
    workers.forEach((worker) => worker.on('message', count));
    try {
      const { images, labels } = digitsLike(N, 12);
      const options = { method: 'bim' as const, epsilons: [0.1], steps: 3, stepSize: 0.02 };
      await pool.attack(images.subarray(0, 784), labels.subarray(0, 1), { method: 'fgsm', epsilons: [0.1] });
      await pool.attack(images, labels, options);
      expect(posted).toEqual(['attack-result', 'attack-result', 'attack-result']);
      posted.length = 0;
      const events: AttackProgress[] = [];
      await pool.attack(images, labels, options, { onProgress: (p) => events.push(p) });
      // Each of the two workers reports its 3 steps, then its result.
      expect(posted.filter((type) => type === 'progress')).toHaveLength(6);
      expect(events.at(-1)!.done).toBe(N * 3);
    } finally {
      workers.forEach((worker) => worker.off('message', count));
    }
  });

  it('cancellation rejects with CancelledError, leaks nothing, and the pool works afterwards', async () => {
    const { images, labels } = digitsLike(N, 11);
    const before = await pool.memory();
    const controller = new AbortController();
    let events = 0;
    const long = pool.attack(images, labels, { method: 'bim', epsilons: [0.3], steps: 5000, stepSize: 0.001 }, {
      signal: controller.signal,
      onProgress: () => {
        events++;
        if (events === 2) controller.abort();
      },
    });
    await expect(long).rejects.toBeInstanceOf(CancelledError);
    expect((await pool.memory()).map((m) => m.numTensors)).toEqual(before.map((m) => m.numTensors));
    const after = await pool.attack(images, labels, { method: 'fgsm', epsilons: [0.1] });
    expect(after.shape[0]).toBe(N);
    // An already-aborted signal rejects at once.
    await expect(pool.predict(images, 1, { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(CancelledError);
  });

  it('a failed attack rejects with the attack\'s own error and leaks nothing in the workers', async () => {
    const { images } = digitsLike(N, 12);
    const before = await pool.memory();
    const bad = new Int32Array(N).fill(42);
    await expect(pool.attack(images, bad, { method: 'fgsm', epsilons: [0.1] })).rejects.toBeInstanceOf(AttackInputError);
    await expect(pool.attack(images.subarray(5), bad, { method: 'fgsm', epsilons: [0.1] })).rejects.toThrow(/expected 21 images of 28x28x1/);
    expect((await pool.memory()).map((m) => m.numTensors)).toEqual(before.map((m) => m.numTensors));
  });

  it('in-process, tensors return to their start value after an attack, a prediction and a failed attack', async () => {
    const { images, labels } = digitsLike(N, 14);
    const classifier = await loadClassifier({ kind: 'folder', path: modelFolder });
    try {
      const start = tf.memory().numTensors;
      await runAttack(classifier, images, labels, { method: 'bim', epsilons: [0.1], steps: 3 });
      expect(tf.memory().numTensors).toBe(start);
      predictTopK(classifier, images, 5);
      expect(tf.memory().numTensors).toBe(start);
      await expect(runAttack(classifier, images, new Int32Array(N).fill(-1), { method: 'fgsm', epsilons: [0.1] })).rejects.toBeInstanceOf(AttackInputError);
      expect(tf.memory().numTensors).toBe(start);
    } finally {
      classifier.dispose();
    }
  });

  it('a worker that dies rejects its pending job with a clear message and is restarted on the next call', async () => {
    const { images, labels } = digitsLike(N, 13);
    const job = pool.attack(images, labels, { method: 'bim', epsilons: [0.3], steps: 5000, stepSize: 0.001 }, {
      onProgress: () => {
        // Kill worker 1 from outside, as the OS would.
        void (pool as unknown as { slots: { worker?: { terminate(): Promise<number> } }[] }).slots[0].worker?.terminate();
      },
    });
    await expect(job).rejects.toThrow(/compute worker 1 stopped unexpectedly .*restarted on the next call/);
    const again = await pool.attack(images, labels, { method: 'fgsm', epsilons: [0.1] });
    expect(again.shape[0]).toBe(N);
  });

  it('rejects create with the loader\'s message for a bad model folder', async () => {
    await expect(ComputePool.create({ model: { kind: 'folder', path: path.join(tmp, 'nowhere') }, workers: 1 }))
      .rejects.toThrow(/model folder not found/);
    const broken = path.join(tmp, 'broken');
    mkdirSync(broken);
    writeFileSync(path.join(broken, 'model.json'), '{"not": "a model"}');
    const failure = ComputePool.create({ model: { kind: 'folder', path: broken }, workers: 2 });
    await expect(failure).rejects.toBeInstanceOf(ModelError);
  });

  it('create gives up when its signal aborts while the workers boot (the CLI\'s bad flag), and starts none with one aborted before', async () => {
    const giveUp = new AbortController();
    const creating = ComputePool.create({ model: { kind: 'folder', path: modelFolder }, workers: 2 }, giveUp.signal);
    // Shortly after the threads start, long before two workers have read TF.js and the model.
    setTimeout(() => giveUp.abort(), 20);
    await expect(creating).rejects.toThrow(/the compute pool was closed while it started/);
    await expect(ComputePool.create({ model: { kind: 'folder', path: modelFolder }, workers: 1 }, giveUp.signal)).rejects.toThrow();
  });

  it('a closed pool says so', async () => {
    const one = await ComputePool.create({ model: { kind: 'folder', path: modelFolder }, workers: 1 });
    expect(one.info().workers).toBe(1);
    await one.close();
    await expect(one.predict(new Float32Array(784))).rejects.toBeInstanceOf(ComputePoolError);
  });
});
