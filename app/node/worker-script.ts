/**
 * Where a worker thread's script is. worker_threads cannot run TypeScript: under vitest (the caller
 * loaded from its .ts source) the worker is the built file under dist/app/node/; after a build it
 * is the sibling .js file.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { repoRoot } from './repo-root.js';

/** The URL of `app/node/<name>.js` for a caller at `callerUrl` (its import.meta.url); errors name what is missing. */
export function workerScriptUrl(callerUrl: string, name: string, makeError: (message: string) => Error): URL {
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
