import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { workerScriptUrl } from '../app/node/worker-script.js';

/** A built folder of its own: a caller, a worker and (per case) the worker's bundle, with set ages. */
const tmp = mkdtempSync(path.join(os.tmpdir(), 'foolprint-worker-script-'));
const caller = pathToFileURL(path.join(tmp, 'compute-pool.js')).href;
const script = path.join(tmp, 'compute-worker.js');
const bundle = path.join(tmp, 'compute-worker.boot.cjs');
writeFileSync(script, '');
const fail = (message: string) => new Error(message);

function writeBundle(ageSeconds: number): void {
  writeFileSync(bundle, '');
  const scriptTime = Date.now() / 1000;
  utimesSync(script, scriptTime, scriptTime);
  utimesSync(bundle, scriptTime - ageSeconds, scriptTime - ageSeconds);
}

afterEach(() => {
  rmSync(bundle, { force: true });
  delete process.env.FOOLPRINT_UNBUNDLED;
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('workerScriptUrl', () => {
  it('starts the bundle where it is at least as new as the worker script', () => {
    writeBundle(0);
    expect(fileURLToPath(workerScriptUrl(caller, 'compute-worker', fail))).toBe(bundle);
  });

  it('starts the script itself where there is no bundle, or only one older than the script (a later tsc build)', () => {
    expect(fileURLToPath(workerScriptUrl(caller, 'compute-worker', fail))).toBe(script);
    writeBundle(60);
    expect(fileURLToPath(workerScriptUrl(caller, 'compute-worker', fail))).toBe(script);
  });

  it('FOOLPRINT_UNBUNDLED=1 starts the script even with a fresh bundle', () => {
    writeBundle(0);
    process.env.FOOLPRINT_UNBUNDLED = '1';
    expect(fileURLToPath(workerScriptUrl(caller, 'compute-worker', fail))).toBe(script);
  });

  it('after npm run build the pool tests run the bundled compute worker (so they hold its results to the in-process ones)', () => {
    const poolSource = pathToFileURL(path.resolve('app/node/compute-pool.ts')).href;
    expect(workerScriptUrl(poolSource, 'compute-worker', fail).pathname).toMatch(/dist\/app\/node\/compute-worker\.boot\.cjs$/);
  });
});
