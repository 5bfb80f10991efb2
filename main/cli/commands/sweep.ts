/**
 * `foolprint sweep`: accuracy against ε over a whole dataset, the shape of the seed's FGSM table.
 * An image counts as correct only if it is still classified correctly after the attack; every
 * figure is given for the float images and for the same images saved to 8-bit PNG.
 */
import type { Command } from 'commander';
import { methodLabel } from '../../../app/attacks/method-label.js';
import { summarizeAttack, type AttackSummary } from '../../../app/eval/summary.js';
import { addAttackOptions, attackOptionsFromParams, checkAttackParams, readAttackFlags, type AttackFlags } from '../attack-options.js';
import { guarded, interruptSignal } from '../failure.js';
import { createProgressBar } from '../progress.js';
import { addDataOptions, addDetectorOption, addModelOptions, formatTable, openDataset, openPoolChecking, type WorkbenchOptions } from '../workbench.js';

type SweepOptions = WorkbenchOptions & AttackFlags;

export function registerSweep(program: Command): void {
  const command = program
    .command('sweep')
    .description('accuracy vs ε over a dataset (float and 8-bit), as in the FGSM table')
    .option('--json', 'print JSON (no progress bar)');
  addModelOptions(command);
  addDetectorOption(command);
  addDataOptions(command);
  addAttackOptions(command, { eps: '0,0.05,0.1,0.15,0.2,0.25,0.3' });
  command.action(guarded(async (options: SweepOptions) => {
    // First, before anything is printed (see interruptSignal).
    const signal = interruptSignal();
    const read = readAttackFlags(options);
    const { pool, checked: params } = await openPoolChecking(options, () => checkAttackParams(options, read));
    // Seconds since the process started (Node's performance clock starts with it), for the bench's start-up figures.
    const poolReady = performance.now() / 1000;
    try {
      const dataset = await openDataset(options, pool);
      const datasetReady = performance.now() / 1000;
      // The table needs top-1 only (accuracy, success): top-5 cost a worker 16 ms per 5,000 images, top-1 5.
      const attackOptions = { ...attackOptionsFromParams(params, dataset.count, pool.info().model.numClasses), keepImages: false, topK: 1 };
      const bar = createProgressBar({ json: options.json });
      const started = performance.now();
      const result = await pool.attack(dataset.images, dataset.labels, attackOptions, {
        signal,
        onProgress: (p) => bar.update(p.done, p.total, `${attackOptions.method} ε=${p.epsilon?.toFixed(3) ?? ''}`),
      });
      bar.done();
      const summary = summarizeAttack(result);
      const info = pool.info();
      const report = {
        model: info.model.id,
        backend: info.backend.name,
        workers: info.workers,
        dataset: options.data ?? 'samples',
        /** "bim+eot16" for a robust-to-print run, else the method. */
        label: methodLabel(result.method, result.options),
        seconds: (performance.now() - started) / 1000,
        startup: { poolReady, datasetReady, attackStart: started / 1000 },
        ...summary,
      };
      if (options.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      else process.stdout.write(formatSweepTable(summary) + `\n${report.label}, ${report.count} images, ${report.backend} x${report.workers}, ${report.seconds.toFixed(1)} s\n`);
    } finally {
      await pool.close();
    }
  }));
}

export function formatSweepTable(summary: AttackSummary): string {
  // A protected model's refusals in columns of their own: accuracy stays the classifier's.
  const protectedModel = summary.cleanProtected !== undefined;
  const withSurvival = summary.perEpsilon[0]?.quantized.meanSurvival !== undefined;
  const rejected = (c: { rejected: number } | undefined) => (c ? `${c.rejected}/${summary.count}` : '–');
  const rows = summary.perEpsilon.map((e) => [
    e.epsilon.toFixed(3),
    e.float.accuracy.toFixed(3),
    e.quantized.accuracy.toFixed(3),
    e.float.successRate.toFixed(3),
    e.float.meanLinf.toFixed(4),
    e.float.meanL2.toFixed(3),
    ...(protectedModel ? [rejected(e.float.protected), rejected(e.quantized.protected)] : []),
    ...(withSurvival ? [e.quantized.meanSurvival!.toFixed(3)] : []),
  ]);
  const table = formatTable(['epsilon', 'accuracy', 'accuracy (8-bit)', 'success', 'mean Linf', 'mean L2', ...(protectedModel ? ['rejected', 'rejected (8-bit)'] : []), ...(withSurvival ? ['print survival (8-bit)'] : [])], rows);
  return protectedModel ? `${table}\nprotected model: ${rejected(summary.cleanProtected)} clean images rejected (false positives); adversarial rejections are detections` : table;
}
