/**
 * The repository (or installed package) root: the nearest folder above this file holding
 * package.json. Works from app/node/*.ts under vitest and from dist/app/node/*.js after a build.
 * A module of its own so light modules (the dataset worker) need not load the model loader and TF.js.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the Foolprint folder (no package.json above ${fileURLToPath(import.meta.url)})`);
    dir = parent;
  }
}
