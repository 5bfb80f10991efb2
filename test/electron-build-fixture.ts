/**
 * What the host tests need built: dist/ (npm test runs `npm run build` first) and, since
 * renderer/dist and the preload bundle are not part of that build, whatever `npm start` would build
 * (`node dist/main/start.js --build-only`, a few seconds when stale, nothing otherwise).
 */
import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Fails with a clear message when `built` is missing or older than its source. */
export function requireBuilt(built: string, source: string): string {
  const file = path.join(root, built);
  if (!existsSync(file) || statSync(file).mtimeMs < statSync(path.join(root, source)).mtimeMs) {
    throw new Error(`${built} is missing or older than ${source}: run \`npm run build\` first`);
  }
  return file;
}

/**
 * The renderer and the preload bundle, built by start.js when stale. Always asked of start.js, which
 * builds one process at a time: on a fresh clone several test files get here at once, and one that
 * saw index.html already written would go on while another file's build was still writing (or
 * emptying) renderer/dist.
 */
export async function ensureRendererAndPreload(): Promise<void> {
  const start = requireBuilt('dist/main/start.js', 'main/start.ts');
  await new Promise<void>((resolve, reject) => {
    execFile(process.execPath, [start, '--build-only'], { cwd: root, timeout: 180_000 }, (error, _stdout, stderr) => (error ? reject(new Error(`building the renderer and preload failed: ${stderr || error.message}`)) : resolve()));
  });
}
