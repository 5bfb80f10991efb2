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
// The ES modules the main thread resolves (zod is one; the CommonJS cache above does not see it),
// reported by a resolve hook, which runs on a thread of its own and writes one line per module.
const esmHooks = path.join(tmp, 'esm-hooks.mjs');
writeFileSync(esmHooks, [
  'export async function resolve(specifier, context, next) {',
  '  const resolved = await next(specifier, context);',
  "  process.stderr.write(`esm-resolved: ${resolved.url}\\n`);",
  '  return resolved;',
  '}',
].join('\n'));
const esmProbe = path.join(tmp, 'resolved-esm.mjs');
writeFileSync(esmProbe, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(esmHooks).href)});\n`);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function mainThreadTfjs(...args: string[]): Promise<{ code: number; packages: string[]; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', pathToFileURL(probe).href, cli, ...args], { cwd: root }, (error, stdout, stderr) => {
      const line = /main-thread tfjs: (.*)/.exec(stderr)?.[1];
      resolve({ code: error ? Number(error.code ?? 1) : 0, packages: line ? JSON.parse(line) : ['(no report)'], stdout });
    });
  });
}

/** The packages of the ES modules the main thread resolved. */
function mainThreadEsmPackages(...args: string[]): Promise<{ code: number; packages: string[]; urls: string[]; stdout: string }> {
  return mainThreadEsmPackagesWith({}, ...args);
}

function mainThreadEsmPackagesWith(env: Record<string, string>, ...args: string[]): Promise<{ code: number; packages: string[]; urls: string[]; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', pathToFileURL(esmProbe).href, cli, ...args], { cwd: root, env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      const urls = [...stderr.matchAll(/esm-resolved: (.*)/g)].map((m) => m[1]);
      const packages = new Set(urls.map((url) => /node_modules\/((@[^/]+\/)?[^/]+)/.exec(url)?.[1]).filter((name): name is string => name !== undefined));
      resolve({ code: error ? Number(error.code ?? 1) : 0, packages: urls.length > 0 ? [...packages].sort() : ['(no report)'], urls, stdout });
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

  it('foolprint --help lists every command with Commander alone: no zod (~0.1 s of CPU), no TF.js', async () => {
    const run = await mainThreadEsmPackages('--help');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/transforms/);
    expect(run.packages).toEqual(['commander']);
  });

  it('foolprint models lists the models with Commander alone: no zod for sound manifests', async () => {
    const run = await mainThreadEsmPackages('models');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/lenet-mnist/);
    expect(run.packages).toEqual(['commander']);
  });

  it('the ES-module probe sees zod where the main thread loads it (a sweep checks its flags against the contract, here unbundled)', async () => {
    const run = await mainThreadEsmPackagesWith({ FOOLPRINT_UNBUNDLED: '1' }, 'sweep', '--data', 'samples', '--limit', '1', '--method', 'fgsm', '--eps', '0.1', '--json');
    expect(run.code).toBe(0);
    expect(run.packages).toContain('zod');
  });

  it('a sweep and `foolprint models` leave the output folder\'s code and node:crypto unloaded (~10 ms before the workers start)', async () => {
    // The control: --help loads every command, and with them the output folder's code.
    const help = await mainThreadEsmPackages('--help');
    expect(help.urls).toContain('node:crypto');
    for (const args of [['models'], ['sweep', '--data', 'samples', '--limit', '1', '--method', 'fgsm', '--eps', '0.1', '--json']]) {
      const run = await mainThreadEsmPackages(...args);
      expect(run.code).toBe(0);
      expect(run.urls.filter((url) => url === 'node:crypto' || url.endsWith('/output-folder.js'))).toEqual([]);
    }
  });

  it('a sweep checks its flags with the bundled contract: zod\'s ES modules are not resolved (~85 ms of CPU)', async () => {
    const run = await mainThreadEsmPackages('sweep', '--data', 'samples', '--limit', '1', '--method', 'fgsm', '--eps', '0.1', '--json');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).count).toBe(1);
    expect(run.packages).toEqual(['commander']);
  });
});

