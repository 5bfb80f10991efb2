/** `foolprint eval`: clean top-1 / top-5 accuracy of a model on a dataset. */
import type { Command } from 'commander';
import { topKAccuracy } from '../../../app/eval/summary.js';
import { guarded, interruptSignal } from '../failure.js';
import { createProgressBar } from '../progress.js';
import { addDataOptions, addModelOptions, openDataset, openPool, type WorkbenchOptions } from '../workbench.js';

export function registerEval(program: Command): void {
  const command = program
    .command('eval')
    .description('clean top-1 and top-5 accuracy of a model on a dataset')
    .option('--json', 'print JSON');
  addModelOptions(command);
  addDataOptions(command);
  command.action(guarded(async (options: WorkbenchOptions) => {
    // First, before anything is printed (see interruptSignal).
    const signal = interruptSignal();
    const pool = await openPool(options);
    try {
      const dataset = await openDataset(options, pool);
      const bar = createProgressBar({ json: options.json });
      const started = performance.now();
      const top = await pool.predict(dataset.images, 5, {
        signal,
        onProgress: (p) => bar.update(p.done, p.total, 'predict'),
      });
      bar.done();
      const report = {
        model: pool.info().model.id,
        backend: pool.info().backend.name,
        dataset: options.data ?? 'samples',
        count: dataset.count,
        top1: topKAccuracy(top, dataset.labels, 1),
        top5: topKAccuracy(top, dataset.labels, 5),
        seconds: (performance.now() - started) / 1000,
      };
      if (options.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      else process.stdout.write(`${report.model} on ${report.dataset} (${report.count} images, ${report.backend}): top-1 ${report.top1.toFixed(4)}, top-5 ${report.top5.toFixed(4)}\n`);
    } finally {
      await pool.close();
    }
  }));
}
