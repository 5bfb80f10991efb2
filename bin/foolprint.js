#!/usr/bin/env node
// The `foolprint` command: runs the compiled CLI. `npm install` builds it (the prepare script).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

const entry = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist/main/cli/index.js');
if (!existsSync(entry)) {
  process.stderr.write('foolprint: the CLI is not built yet; run "npm run build" in the project folder\n');
  process.exit(1);
}
await import(pathToFileURL(entry).href);
