import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { codeCacheFile, codeCacheKey, readCodeCache, writeCodeCache } from '../app/node/code-cache.js';
import { ComputePool } from '../app/node/compute-pool.js';
import { repoRoot } from '../app/node/repo-root.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'foolprint-code-cache-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('code cache file', () => {
  const file = path.join(tmp, 'envelope.cache');
  const key = codeCacheKey('bundle text');

  it('reads back what was written, for its key only', () => {
    const payload = Buffer.from('cached code of some length');
    expect(writeCodeCache(file, key, payload)).toBe(true);
    expect(readCodeCache(file, key)).toEqual(payload);
    expect(readCodeCache(file, codeCacheKey('bundle text, rebuilt'))).toBeUndefined();
    expect(readCodeCache(path.join(tmp, 'missing.cache'), key)).toBeUndefined();
  });

  it('keys a bundle read as bytes as it keys the same bundle read as text', () => {
    expect(codeCacheKey(Buffer.from('bundle text, ε ≤ 1', 'utf8'))).toEqual(codeCacheKey('bundle text, ε ≤ 1'));
    expect(codeCacheKey(Buffer.from('bundle text', 'utf8'))).toEqual(key);
  });

  it('a damaged file (any byte changed, or cut short) is never handed to V8', () => {
    fc.assert(fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 300 }),
      fc.nat(),
      fc.integer({ min: 1, max: 255 }),
      fc.boolean(),
      (payload, at, flip, cut) => {
        writeCodeCache(file, key, Buffer.from(payload));
        const whole = readFileSync(file);
        const damaged = Buffer.from(whole);
        if (cut) writeFileSync(file, damaged.subarray(0, at % whole.length));
        else {
          damaged[at % whole.length] ^= flip;
          writeFileSync(file, damaged);
        }
        expect(readCodeCache(file, key)).toBeUndefined();
      },
    ), { numRuns: 300 });
  });

  it('is named for the runtime, so Node and Electron keep one each', () => {
    expect(codeCacheFile('/x/w.bundle.cjs')).toBe(`/x/w.bundle.cjs.${process.arch}-v8-${process.versions.v8}.cache`);
  });
});

/**
 * Each run on a thread of its own: a fresh V8 isolate, which has no compiled copy of the script in
 * memory, as a new worker has none. The script reports what a CommonJS file sees, then warms up.
 */
function runOnThread(bundle: string): Promise<{ cacheUsed: boolean; seen: Record<string, unknown> }> {
  const codeCache = pathToFileURL(path.join(repoRoot(), 'dist', 'app', 'node', 'code-cache.js')).href;
  const worker = new Worker(`
    const { parentPort } = require('node:worker_threads');
    import(${JSON.stringify(codeCache)}).then(({ runWithCodeCache, markWorkerWarm }) => {
      const { cacheUsed } = runWithCodeCache(${JSON.stringify(bundle)});
      markWorkerWarm();
      parentPort.postMessage({ cacheUsed, seen: globalThis.seen });
    });`, { eval: true });
  return new Promise((resolve, reject) => {
    worker.once('message', (message) => {
      void worker.terminate();
      resolve(message);
    });
    worker.once('error', reject);
  });
}

describe('runWithCodeCache', () => {
  const bundle = path.join(tmp, 'tiny.bundle.cjs');
  const cache = codeCacheFile(bundle);
  const source = (answer: number) => [
    `function answer() { return ${answer}; }`,
    "globalThis.seen = { answer: answer(), strict: (function () { return this === undefined; })(),",
    "  filename: __filename, dirname: __dirname, join: require('node:path').join('a', 'b'), exportsIsThis: this === module.exports };",
  ].join('\n');

  it('runs the file as CommonJS, writes the cache at warm-up, uses it on the next start, and replaces a stale, damaged or refused one', async () => {
    writeFileSync(bundle, source(42));
    const expected = { answer: 42, strict: true, filename: bundle, dirname: tmp, join: path.join('a', 'b'), exportsIsThis: true };

    const first = await runOnThread(bundle);
    expect(first).toEqual({ cacheUsed: false, seen: expected });
    expect(readCodeCache(cache, codeCacheKey(source(42)))).toBeDefined();
    expect(await runOnThread(bundle)).toEqual({ cacheUsed: true, seen: expected });

    // Rebuilt bundle (same length, so V8's own check would pass): the old cache is not used.
    writeFileSync(bundle, source(43));
    expect(await runOnThread(bundle)).toEqual({ cacheUsed: false, seen: { ...expected, answer: 43 } });
    expect(await runOnThread(bundle)).toMatchObject({ cacheUsed: true, seen: { answer: 43 } });

    // Damaged on disk: ignored, run uncached, written anew.
    const good = readFileSync(cache);
    writeFileSync(cache, Buffer.concat([good.subarray(0, good.length - 7), Buffer.from('garbage')]));
    expect(await runOnThread(bundle)).toMatchObject({ cacheUsed: false, seen: { answer: 43 } });
    expect(await runOnThread(bundle)).toMatchObject({ cacheUsed: true, seen: { answer: 43 } });

    // Whole and ours, but not code V8 takes (another build of V8 wrote it): refused, then replaced.
    writeCodeCache(cache, codeCacheKey(source(43)), Buffer.alloc(4096, 7));
    expect(await runOnThread(bundle)).toMatchObject({ cacheUsed: false, seen: { answer: 43 } });
    expect(await runOnThread(bundle)).toMatchObject({ cacheUsed: true, seen: { answer: 43 } });
  });
});

describe('the bundled compute worker', () => {
  const bundle = path.join(repoRoot(), 'dist', 'app', 'node', 'compute-worker.bundle.cjs');

  it('writes its code cache when it first starts, and starts again from a damaged one with the same results', async () => {
    expect(existsSync(bundle), 'npm run build writes the bundle').toBe(true);
    const cache = codeCacheFile(bundle);
    const key = codeCacheKey(readFileSync(bundle, 'utf8'));
    const images = Float32Array.from({ length: 3 * 28 * 28 }, (_, i) => ((i * 7919) % 256) / 255);
    const predict = async () => {
      const pool = await ComputePool.create({ model: { kind: 'builtin', id: 'lenet-mnist' }, workers: 1 });
      try {
        return await pool.predict(images, 3);
      } finally {
        await pool.close();
      }
    };

    rmSync(cache, { force: true });
    const fresh = await predict();
    expect(readCodeCache(cache, key), 'written by the first start').toBeDefined();

    writeFileSync(cache, readFileSync(cache).subarray(0, 1000));
    expect(await predict()).toEqual(fresh);
    expect(readCodeCache(cache, key), 'replaced after a damaged one').toBeDefined();
    expect(await predict()).toEqual(fresh);
  }, 60_000);
});
