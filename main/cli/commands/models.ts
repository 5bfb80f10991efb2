/** `foolprint models` and `foolprint doctor`: what can be loaded, and what this machine computes with. */
import type { Command } from 'commander';
import { guarded } from '../failure.js';
import { addModelOptions, formatTable, openPool, type WorkbenchOptions } from '../workbench.js';

export function registerModels(program: Command): void {
  program
    .command('models')
    .description('list the built-in models (any folder with model.json or model.onnx + foolprint.json, or an .onnx file, works too)')
    .option('--json', 'print JSON')
    .action(guarded(async (options: { json?: boolean }) => {
      // Imported here, and not the model loader: listing the manifests needs neither TF.js, nor the
      // models, nor zod where the manifests are sound.
      const { listBuiltinModelsQuickly } = await import('../../../app/node/builtin-models.js');
      const models = await listBuiltinModelsQuickly();
      if (options.json) {
        process.stdout.write(JSON.stringify(models, null, 2) + '\n');
        return;
      }
      const rows = models.map((m) => [m.id, `${m.inputSize[0]}x${m.inputSize[1]}x${m.channels}`, m.labels.length, m.name, classList(m.labels)]);
      process.stdout.write(formatTable(['id', 'input', 'classes', 'name', 'labels'], rows) + '\n');
      process.stdout.write('Any TF.js model folder (model.json + weight shards + foolprint.json) is accepted by --model <folder>.\n');
    }));

  const doctor = program
    .command('doctor')
    .description('load a model in the worker pool and report the TF.js backend in use')
    .option('--json', 'print JSON');
  addModelOptions(doctor);
  doctor.action(guarded(async (options: WorkbenchOptions) => {
    const pool = await openPool(options);
    try {
      const info = pool.info();
      if (options.json) {
        process.stdout.write(JSON.stringify(info, null, 2) + '\n');
        return;
      }
      process.stdout.write(`backend   ${info.backend.name}${info.backend.simd ? ' (SIMD)' : ''}\n`);
      process.stdout.write(`workers   ${info.workers}\n`);
      process.stdout.write(`model     ${info.model.id} ${info.model.inputShape.join('x')}, ${info.model.numClasses} classes\n`);
      for (const note of info.backend.notes) process.stdout.write(`note      ${note}\n`);
    } finally {
      await pool.close();
    }
  }));
}

/** The first class names, so a listing tells digits from garments at a glance. */
function classList(labels: readonly string[]): string {
  const shown = labels.slice(0, 4).join(', ');
  return labels.length > 4 ? `${shown}, …` : shown;
}
