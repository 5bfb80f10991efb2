/**
 * `foolprint demo` (what `npm start` runs until the desktop window lands): the built-in model on the
 * built-in samples, FGSM and BIM at a few ε, in one small table.
 */
import type { Command } from 'commander';
import { summarizeAttack } from '../../../app/eval/summary.js';
import type { AttackMethod } from '../../../app/attacks/types.js';
import { guarded, interruptSignal } from '../failure.js';
import { createProgressBar } from '../progress.js';
import { formatTable, openDataset, openPool } from '../workbench.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('a first look: FGSM and BIM on the built-in model and samples')
    .action(guarded(async () => {
      // First, before anything is printed (see interruptSignal).
      const signal = interruptSignal();
      const options = { model: 'lenet-mnist', data: 'samples' };
      const pool = await openPool(options);
      try {
        const info = pool.info();
        const dataset = await openDataset(options, pool);
        process.stdout.write(`Foolprint demo: ${info.model.id} on ${dataset.count} built-in MNIST samples (backend ${info.backend.name}, ${info.workers} workers)\n\n`);
        const epsilons = [0, 0.05, 0.1, 0.2, 0.3];
        const summaries = [];
        for (const method of ['fgsm', 'bim'] as AttackMethod[]) {
          const bar = createProgressBar();
          const result = await pool.attack(dataset.images, dataset.labels, { method, epsilons, keepImages: false }, {
            signal,
            onProgress: (p) => bar.update(p.done, p.total, method),
          });
          bar.done();
          summaries.push(summarizeAttack(result));
        }
        const [fgsm, bim] = summaries;
        const rows = epsilons.map((epsilon, i) => [
          epsilon.toFixed(2),
          fgsm.perEpsilon[i].float.accuracy.toFixed(3),
          fgsm.perEpsilon[i].quantized.accuracy.toFixed(3),
          bim.perEpsilon[i].float.accuracy.toFixed(3),
          bim.perEpsilon[i].quantized.accuracy.toFixed(3),
        ]);
        process.stdout.write(formatTable(['epsilon', 'FGSM acc', 'FGSM 8-bit', 'BIM acc', 'BIM 8-bit'], rows) + '\n\n');
        process.stdout.write('Next: foolprint attack --method bim --eps 0.1 --out my-attack   (PNGs + record.json)\n');
        process.stdout.write('      foolprint sweep --data ~/mnist --method fgsm   (the full accuracy-vs-ε table on the MNIST test set:\n');
        process.stdout.write('        ~/mnist is your folder with t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz from the MNIST database)\n');
        process.stdout.write('      foolprint --help\n');
      } finally {
        await pool.close();
      }
    }));
}
