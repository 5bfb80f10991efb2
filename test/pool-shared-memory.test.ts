import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AttackResult } from '../app/attacks/types.js';
import { ComputePool } from '../app/node/compute-pool.js';
import { loadDataset } from '../app/node/dataset-loader.js';

/**
 * Images decoded into shared memory (the CLI's datasets) reach the workers as views instead of
 * copies (issue 12: peak RSS of the 10k sweep). The results must be the very ones of copied images,
 * and the caller's array must stay whole (nothing transferred away from it). Runs the built worker:
 * `npm run build` first.
 */
describe('ComputePool with images in shared memory', () => {
  let pool: ComputePool;
  beforeAll(async () => {
    pool = await ComputePool.create({ model: { kind: 'builtin', id: 'lenet-mnist' }, workers: 2, backend: 'wasm' });
  }, 120_000);
  afterAll(async () => {
    await pool.close();
  });

  it('gives byte-identical attack and prediction results and leaves the shared images as they were', async () => {
    const plain = await loadDataset('samples', { limit: 37 });
    const shared = await loadDataset('samples', { limit: 37, sharedMemory: true });
    expect(shared.images.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(plain.images.buffer).not.toBeInstanceOf(SharedArrayBuffer);
    expect(shared.images).toEqual(plain.images);
    const before = shared.images.slice();

    const options = { method: 'fgsm' as const, epsilons: [0.1, 0.2], keepImages: true };
    const a: AttackResult = await pool.attack(plain.images, plain.labels, options);
    const b: AttackResult = await pool.attack(shared.images, shared.labels, options);
    expect(b.before).toEqual(a.before);
    for (let e = 0; e < 2; e++) {
      expect(Buffer.from(b.perEpsilon[e].adversarial!.buffer)).toEqual(Buffer.from(a.perEpsilon[e].adversarial!.buffer));
      expect(b.perEpsilon[e].float).toEqual(a.perEpsilon[e].float);
      expect(b.perEpsilon[e].quantized).toEqual(a.perEpsilon[e].quantized);
    }
    expect(await pool.predict(shared.images, 3)).toEqual(await pool.predict(plain.images, 3));
    expect(shared.images.length).toBe(37 * 784);
    expect(shared.images).toEqual(before);
    // The copied path still leaves the caller's array usable too.
    expect(plain.images.length).toBe(37 * 784);
  }, 120_000);
});
