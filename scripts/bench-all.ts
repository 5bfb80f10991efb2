/**
 * npm run bench [-- --quick] [-- --json] [-- --mnist DIR] [-- --baseline FOLDER]: every benchmark in
 * turn, each given the same arguments. A runner of its own because npm appends `-- args` to the last
 * command of a `&&` chain only, so `--mnist` never reached bench.js; the parts ignore flags they do
 * not know.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PARTS = ['bench.js', 'bench-physical.js', 'bench-server.js', 'bench-onnx.js', 'bench-training.js'];
const here = path.dirname(fileURLToPath(import.meta.url));
for (const part of PARTS) {
  const run = spawnSync(process.execPath, [path.join(here, part), ...process.argv.slice(2)], { stdio: 'inherit' });
  if (run.status !== 0) {
    process.stderr.write(`${part} ${run.signal ? `was stopped by ${run.signal}` : `failed with exit code ${run.status}`}\n`);
    process.exit(run.status ?? 1);
  }
}
