/**
 * What the CLI's main thread loads (issue 12, start-up): a sweep's images are attacked on worker
 * threads, so its main thread must not load TF.js (about 0.9 s of CPU taken from the booting workers
 * on two cores), and `foolprint models` must not either. A preloaded module reports on exit which
 * TF.js packages are in the main thread's CommonJS cache (worker threads have caches of their own).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'dist/main/cli/index.js');
const tmp = mkdtempSync(path.join(tmpdir(), 'fp-cli-startup-'));
const probe = path.join(tmp, 'loaded-tfjs.mjs');
writeFileSync(probe, [
  "import { createRequire } from 'node:module';",
  'const cache = createRequire(import.meta.url).cache;',
  "process.on('exit', () => process.stderr.write(`main-thread tfjs: ${JSON.stringify([...new Set(Object.keys(cache).map((f) => /node_modules\\/(@tensorflow\\/[^/]+)/.exec(f)?.[1]).filter(Boolean))])}\\n`));",
].join('\n'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function mainThreadTfjs(...args: string[]): Promise<{ code: number; packages: string[]; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', pathToFileURL(probe).href, cli, ...args], { cwd: root }, (error, stdout, stderr) => {
      const line = /main-thread tfjs: (.*)/.exec(stderr)?.[1];
      resolve({ code: error ? Number(error.code ?? 1) : 0, packages: line ? JSON.parse(line) : ['(no report)'], stdout });
    });
  });
}

describe('the CLI main thread', () => {
  it('the probe sees TF.js where the main thread does load it (robustness loads a model without a manifest there)', async () => {
    // The control: without it, an empty cache would pass the cases below for the wrong reason.
    const folder = path.join(tmp, 'no-such-model');
    const run = await mainThreadTfjs('robustness', '--models', folder, '--limit', '1');
    expect(run.packages).toContain('@tensorflow/tfjs');
  });

  it('foolprint models lists the models without loading TF.js', async () => {
    const run = await mainThreadTfjs('models');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/lenet-mnist/);
    expect(run.packages).toEqual([]);
  });

  it('foolprint sweep attacks on the workers without loading TF.js on the main thread', async () => {
    const run = await mainThreadTfjs('sweep', '--data', 'samples', '--limit', '8', '--method', 'fgsm', '--eps', '0.1', '--json');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).count).toBe(8);
    expect(run.packages).toEqual([]);
  });
});
