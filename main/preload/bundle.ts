/**
 * Builds the sandboxed preload: Electron runs a sandboxed preload as one classic script with a
 * `require` limited to Electron's own modules, so it cannot import our ES modules. rolldown (the
 * bundler under Vite 8, installed with it) compiles main/preload/preload.ts and everything it
 * imports (the contract's method list, zod) into a single CommonJS file; only `electron` stays a
 * require().
 *
 *   node dist/main/preload/bundle.js      → dist/main/preload/preload.cjs
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as Rolldown from 'rolldown';

export class PreloadBundleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PreloadBundleError';
  }
}

/** The Foolprint folder (with package.json) above this file, from its source or from dist/. */
export function projectRoot(from: string = fileURLToPath(import.meta.url)): string {
  let dir = path.dirname(from);
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new PreloadBundleError(`cannot find the Foolprint folder above ${from}`);
    dir = parent;
  }
  return dir;
}

export const preloadOutput = (root: string): string => path.join(root, 'dist/main/preload/preload.cjs');

export async function bundlePreload(root: string = projectRoot(), outFile: string = preloadOutput(root)): Promise<string> {
  const input = path.join(root, 'main/preload/preload.ts');
  if (!existsSync(input)) throw new PreloadBundleError(`the preload source ${input} is missing`);
  let build: typeof Rolldown.build;
  try {
    ({ build } = await import('rolldown'));
  } catch {
    throw new PreloadBundleError('cannot bundle the preload: rolldown (installed with vite) is missing; run npm ci');
  }
  await build({
    input,
    platform: 'node',
    external: ['electron'],
    logLevel: 'warn',
    output: { file: outFile, format: 'cjs', sourcemap: false, minify: false },
  });
  return outFile;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  bundlePreload().then(
    (file) => console.log(`preload bundled: ${path.relative(process.cwd(), file)}`),
    (error: Error) => {
      console.error(`foolprint: ${error.message.split('\n')[0]}`);
      process.exitCode = 1;
    },
  );
}
