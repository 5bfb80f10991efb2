/**
 * Where a worker thread's script is. worker_threads cannot run TypeScript: under vitest (the caller
 * loaded from its .ts source) the worker is the built file under dist/app/node/; after a build it
 * is the sibling .js file. A worker built into one file by `npm run build` (scripts/bundle-workers.ts,
 * started by `<name>.boot.cjs`) is preferred where it is at least as new as the .js file, so a build with
 * `tsc` alone never runs a stale bundle; FOOLPRINT_UNBUNDLED=1 starts the .js file regardless.
 */
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { repoRoot } from './repo-root.js';

/** The URL of `app/node/<name>.js` (or its bundle) for a caller at `callerUrl` (its import.meta.url); errors name what is missing. */
export function workerScriptUrl(callerUrl: string, name: string, makeError: (message: string) => Error): URL {
  const script = unbundledScriptUrl(callerUrl, name, makeError);
  return bundledScriptUrl(script, name) ?? script;
}

function unbundledScriptUrl(callerUrl: string, name: string, makeError: (message: string) => Error): URL {
  const here = fileURLToPath(callerUrl);
  if (!here.endsWith('.ts')) return new URL(`./${name}.js`, callerUrl);
  let root: string;
  try {
    root = repoRoot();
  } catch (error) {
    throw makeError((error as Error).message);
  }
  const built = path.join(root, 'dist', 'app', 'node', `${name}.js`);
  if (!existsSync(built)) throw makeError(`the ${name} is not built (${built} is missing): run npm run build`);
  return pathToFileURL(built);
}

function bundledScriptUrl(script: URL, name: string): URL | undefined {
  if (process.env.FOOLPRINT_UNBUNDLED === '1' || nativeTensorflowInstalled()) return undefined;
  const bundle = new URL(`./${name}.boot.cjs`, script);
  try {
    return statSync(bundle).mtimeMs >= statSync(script).mtimeMs ? bundle : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The bundle carries its own TF.js; native TensorFlow's package registers its backend with the
 * `@tensorflow/tfjs` it brings, so where it is installed the workers keep to the unbundled script.
 */
function nativeTensorflowInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
}
