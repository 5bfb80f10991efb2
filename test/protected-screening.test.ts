/**
 * What a protected model keeps between requests: its parsed detector.json (StoredDetectorCache),
 * read again only when the file changes, and one defense worker (DefenseWorker) that keeps the
 * screening model and SVM open. Real files, real worker threads, the built-in LeNet's fc1 layer
 * and real libsvm SVMs; every kept result is checked against a worker of its own that keeps nothing.
 */
import { mkdtemp, readFile, rename, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActivationCodebook } from '../app/defenses/safetynet.js';
import { DefenseWorker, defenseWorkerThreads, runDefenseJobInWorker } from '../app/node/defense-jobs.js';
import type { DefenseJob, DefenseJobResult } from '../app/node/defense-jobs.js';
import { libsvmTrainer } from '../app/node/libsvm.js';
import { StoredDetectorCache } from '../app/node/protected-pool.js';

const detectorJson = (threshold: string) =>
  JSON.stringify({
    schemaVersion: 1,
    modelId: 'lenet-mnist',
    layer: 'fc1',
    units: 2,
    quantisation: 'binary',
    train: { attack: 'fgsm', epsilon: 0.25 },
    threshold: Number(threshold),
    falsePositiveRate: 0.05,
    codebook: { quantisation: 'binary', units: 2, thresholds: [[0.1], [0.2]] },
    svm: 'svm_type c_svc',
  });

describe('StoredDetectorCache', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'foolprint-detector-cache-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function counted(): { cache: StoredDetectorCache; reads: string[] } {
    const reads: string[] = [];
    const cache = new StoredDetectorCache((file) => {
      reads.push(file);
      return readFile(file, 'utf8');
    });
    return { cache, reads };
  }

  it('reads an unchanged file once, and again when it is rewritten (same size, new mtime) or renamed over', async () => {
    const file = path.join(dir, 'detector.json');
    await writeFile(file, detectorJson('0.5'));
    const { cache, reads } = counted();
    const first = await cache.get(file);
    expect(first?.threshold).toBe(0.5);
    expect(await cache.get(file)).toBe(first);
    expect(await cache.get(file)).toBe(first);
    expect(reads).toHaveLength(1);

    // The same length, so only the mtime tells it apart.
    await writeFile(file, detectorJson('0.7'));
    const later = new Date(Date.now() + 10_000);
    await utimes(file, later, later);
    expect((await cache.get(file))?.threshold).toBe(0.7);
    expect(reads).toHaveLength(2);

    // An atomic write: a new file renamed over the old one, with the very same mtime and size.
    const staged = path.join(dir, 'detector.json.tmp');
    await writeFile(staged, detectorJson('0.9'));
    await utimes(staged, later, later);
    await rename(staged, file);
    expect((await cache.get(file))?.threshold).toBe(0.9);
    expect(reads).toHaveLength(3);
  });

  it('answers null for a missing file without reading it; a file that is no detector throws and is not kept', async () => {
    const { cache, reads } = counted();
    expect(await cache.get(path.join(dir, 'nothing', 'detector.json'))).toBeNull();
    expect(await cache.get(dir)).toBeNull();
    expect(reads).toHaveLength(0);

    const file = path.join(dir, 'broken.json');
    await writeFile(file, '{"schemaVersion": 1}');
    await expect(cache.get(file)).rejects.toThrow(/^\S+broken\.json is not a Foolprint detector: modelId/);
    await expect(cache.get(file)).rejects.toThrow(/is not a Foolprint detector/);
    expect(reads).toHaveLength(2);
  });
});

describe('DefenseWorker', () => {
  // A binary code of fc1's 50 units, and two SVMs told apart by which units they look at.
  const units = 50;
  const codebook: ActivationCodebook = { quantisation: 'binary', units, thresholds: Array.from({ length: units }, (_, i) => [0.05 * (i % 7)]) };
  let svms: string[];
  let seed = 7;
  const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  const images = Float32Array.from({ length: 12 * 28 * 28 }, () => (random() < 0.2 ? random() : 0));

  beforeAll(async () => {
    const trainer = await libsvmTrainer();
    const features = Array.from({ length: 40 }, () => Array.from({ length: units }, () => Number(random() < 0.5)));
    svms = [0, 1].map((unit) => {
      const svm = trainer.train(features, features.map((f) => f[unit] ^ f[unit + 2]), { gamma: 0.05, cost: 1 });
      const text = svm.serialize();
      svm.dispose();
      return text;
    });
  });

  // A new job each time: its images travel to the worker (transferred, so no longer ours).
  const screen = (svm: string, layer = 'fc1'): DefenseJob => ({
    kind: 'screen',
    models: [{ id: 'lenet-mnist', source: { kind: 'builtin', id: 'lenet-mnist' } }],
    images: images.slice(),
    labels: new Int32Array(0),
    detector: { layer, codebook, threshold: 0.5, svm },
  });
  const scores = (result: DefenseJobResult) => (result.kind === 'screen' ? result.scores : null);

  it('screens job after job on one thread, with the scores of a worker that keeps nothing, and ends it on close', async () => {
    const before = defenseWorkerThreads();
    const worker = new DefenseWorker();
    const first = scores(await worker.run(screen(svms[0])));
    const second = scores(await worker.run(screen(svms[0])));
    expect(defenseWorkerThreads().started).toBe(before.started + 1);
    const alone = scores(await runDefenseJobInWorker(screen(svms[0])));
    expect(first).toHaveLength(12);
    expect(second).toEqual(first);
    expect(alone).toEqual(first);

    await worker.close();
    expect(defenseWorkerThreads().running).toBe(before.running);
    // A job after close runs on a thread of its own that ends with it.
    expect(scores(await worker.run(screen(svms[0])))).toEqual(first);
    await worker.close();
    expect(defenseWorkerThreads()).toEqual({ started: before.started + 3, running: before.running });
  }, 120_000);

  it('ends a thread left idle for idleMs and starts another for the next job', async () => {
    const before = defenseWorkerThreads();
    const worker = new DefenseWorker({ idleMs: 300 });
    try {
      const first = scores(await worker.run(screen(svms[0])));
      expect(defenseWorkerThreads().running).toBe(before.running + 1);
      const deadline = Date.now() + 10_000;
      while (defenseWorkerThreads().running > before.running && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(defenseWorkerThreads().running).toBe(before.running);
      expect(scores(await worker.run(screen(svms[0])))).toEqual(first);
      expect(defenseWorkerThreads().started).toBe(before.started + 2);
    } finally {
      await worker.close();
    }
    expect(defenseWorkerThreads().running).toBe(before.running);
  }, 120_000);

  it('screens with the SVM each job carries (a retrained detector), not the one it kept; a failed job leaves the worker usable', async () => {
    const worker = new DefenseWorker();
    try {
      const a = scores(await worker.run(screen(svms[0])));
      const started = defenseWorkerThreads().started;
      const b = scores(await worker.run(screen(svms[1])));
      expect(b).not.toEqual(a);
      expect(b).toEqual(scores(await runDefenseJobInWorker(screen(svms[1]))));
      await expect(worker.run(screen(svms[0], 'no-such-layer'))).rejects.toThrow(/no-such-layer/);
      expect(scores(await worker.run(screen(svms[0])))).toEqual(a);
      // The runDefenseJobInWorker above started one; this worker none.
      expect(defenseWorkerThreads().started).toBe(started + 1);
    } finally {
      await worker.close();
    }
  }, 120_000);
});
