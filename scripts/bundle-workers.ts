/**
 * The second half of `npm run build`: the compute worker as one CommonJS file,
 * dist/app/node/compute-worker.bundle.cjs, and beside it compute-worker.boot.cjs, which runs it with
 * a V8 code cache (app/node/code-cache.ts); ComputePool starts the latter instead of
 * dist/app/node/compute-worker.js when it is there and not older (worker-script.ts). Why (issue 12,
 * start-up): every worker imported `@tensorflow/tfjs`, whose Node build also loads tfjs-data and the
 * WebGL backend, and resolved ~100 modules one by one: ~0.75 s of CPU per worker on these machines,
 * ~0.15 s bundled. The bundle takes TF.js from its ES modules with
 * `@tensorflow/tfjs` replaced by what a worker uses of it (core with every gradient, layers and
 * converter for model files, the CPU backend as the fallback); the code that runs is the same
 * packages' same kernels, so results are bit-identical. The unbundled worker keeps working (under
 * `tsc` alone, or with native TensorFlow, whose package brings its own `@tensorflow/tfjs`). Then the
 * CLI's attack contract as one file (see the end).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const WORKERS = ['compute-worker'];

/** What a worker imports of the `@tensorflow/tfjs` umbrella, minus tfjs-data and the WebGL backend. */
const TFJS_FOR_WORKERS = [
  "import '@tensorflow/tfjs-core/dist/register_all_gradients';",
  "import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';",
  "export * from '@tensorflow/tfjs-core';",
  "export * from '@tensorflow/tfjs-layers';",
  "export * from '@tensorflow/tfjs-converter';",
  "export * from '@tensorflow/tfjs-backend-cpu';",
].join('\n');
const TFJS_ID = '\0foolprint:tfjs-for-workers';

/**
 * tfjs-core's Node platform requires node-fetch for fetch() where there is no global fetch. Node 20
 * has one, so it is never called; but bundled, its CommonJS require became static imports of http,
 * https, stream and zlib that every worker evaluated at boot (TLS and crypto with them).
 */
const NODE_FETCH_ID = '\0foolprint:node-fetch';
const NODE_FETCH = 'module.exports = (...args) => globalThis.fetch(...args);';

/**
 * The worker's entry, `<worker>.boot.cjs`: code-cache.ts (as tsc compiled it) in one CommonJS file
 * with the call that runs the bundle through it. Why the bundle is CommonJS: V8 takes cached code only
 * for a vm.Script, not for an ES module (Node 20 has no compile cache of its own); the WASM backend's
 * Emscripten loader, CommonJS, finds require, __filename and __dirname there. Why the entry is too:
 * a worker started on an ES module first loads Node's ES module loader, 10-25 ms of CPU per worker
 * on these machines (issue 12, start-up), which a CommonJS entry does without.
 */
const BOOT_ID = '\0foolprint:worker-boot';
const bootEntry = (worker: string) => [
  "import path from 'node:path';",
  `import { runWithCodeCache } from ${JSON.stringify(path.join(dist, 'app', 'node', 'code-cache.js'))};`,
  // __dirname: the folder of the CommonJS file this becomes, where the bundle is.
  `runWithCodeCache(path.join(__dirname, ${JSON.stringify(`${worker}.bundle.cjs`)}));`,
].join('\n');

for (const worker of WORKERS) {
  const started = performance.now();
  await build({
    input: path.join(dist, 'app', 'node', `${worker}.js`),
    platform: 'node',
    logLevel: 'warn',
    // tfjs-node is looked for at run time (a variable specifier); if it is installed the pool starts
    // the unbundled worker anyway.
    external: ['@tensorflow/tfjs-node'],
    // The ES modules of every TF.js package: their Node builds are CommonJS bundles that each carry
    // a copy of what they use of tfjs-core, so mixing them gives several engines and flag registries.
    resolve: { mainFields: ['module', 'main'] },
    plugins: [{
      name: 'tfjs-for-workers',
      resolveId: (source) => (source === '@tensorflow/tfjs' ? TFJS_ID : source === 'node-fetch' ? NODE_FETCH_ID : null),
      load: (id) => (id === TFJS_ID ? TFJS_FOR_WORKERS : id === NODE_FETCH_ID ? NODE_FETCH : null),
    }],
    output: {
      file: path.join(dist, 'app', 'node', `${worker}.bundle.cjs`),
      format: 'cjs',
      codeSplitting: false,
      // Fewer bytes for every worker to read and parse: 4.0 MB to 2.2 MB, ~50 ms of CPU less per worker
      // boot (5 alternating runs). Names are shortened but kept as each function's and class's name;
      // nothing is rewritten (no compress), so the arithmetic is the packages' own.
      minify: { compress: false, mangle: { keepNames: true } },
    },
  });
  // Written last: where bundling fails, the old entry stays older than tsc's compute-worker.js, which
  // the pool then starts instead.
  await build({
    input: BOOT_ID,
    platform: 'node',
    logLevel: 'warn',
    plugins: [{ name: 'worker-boot', resolveId: (source) => (source === BOOT_ID ? BOOT_ID : null), load: (id) => (id === BOOT_ID ? bootEntry(worker) : null) }],
    output: { file: path.join(dist, 'app', 'node', `${worker}.boot.cjs`), format: 'cjs', codeSplitting: false },
  });
  process.stdout.write(`bundled ${worker} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}

/**
 * The CLI's check of attack flags against the API contract (main/cli/attack-contract.ts), which runs
 * on the main thread while the workers boot: one file holding the part of zod it uses, ~35 ms of CPU
 * to load where zod's and the contract's ES modules took ~120. The same modules' code, so the same
 * checks and messages; attack-options.ts falls back to the modules where the bundle is absent or older.
 */
{
  const started = performance.now();
  await build({
    input: path.join(dist, 'main', 'cli', 'attack-contract.js'),
    platform: 'node',
    logLevel: 'warn',
    output: {
      file: path.join(dist, 'main', 'cli', 'attack-contract.bundle.mjs'),
      format: 'esm',
      codeSplitting: false,
      minify: { compress: false, mangle: { keepNames: true } },
    },
  });
  process.stdout.write(`bundled the CLI's attack contract in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}
