/**
 * `foolprint attack`: run one attack on a handful of images and save what a researcher prints or
 * inspects: clean, adversarial and amplified-perturbation PNGs, and record.json.
 */
import type { Command } from 'commander';
import { addAttackOptions, attackOptionsFromParams, checkAttackParams, readAttackFlags, type AttackFlags } from '../attack-options.js';
import { guarded, interruptSignal, prepareCliOutput } from '../failure.js';
import { createProgressBar } from '../progress.js';
import { cleanCorrectMask, fooledSurvival, summarizeAttack } from '../../../app/eval/summary.js';
import type { ProtectedCounts } from '../../../app/eval/rejections.js';
import type { AdversarialView } from '../../../app/attacks/types.js';
import { addDataOptions, addDetectorOption, addModelOptions, formatTable, openDataset, openPoolChecking, type WorkbenchOptions } from '../workbench.js';

type AttackCommandOptions = WorkbenchOptions & AttackFlags & { out: string; force?: boolean };

export function registerAttack(program: Command): void {
  const command = program
    .command('attack')
    .description('attack images and save clean, adversarial and perturbation PNGs plus record.json')
    .option('--out <dir>', 'output folder (replaced as a whole by a re-run)', 'foolprint-attack')
    .option('--force', 'replace --out even if it holds files foolprint attack did not write')
    .option('--json', 'print the record as JSON instead of a table');
  addModelOptions(command);
  addDetectorOption(command);
  addDataOptions(command);
  addAttackOptions(command, { eps: '0.1' });
  command.action(guarded(async (options: AttackCommandOptions) => {
    // First, before anything is printed (see interruptSignal).
    const signal = interruptSignal();
    if (options.limit === undefined) options.limit = '16';
    const read = readAttackFlags(options);
    const { pool, checked: { params, output } } = await openPoolChecking(options, async () => ({
      params: await checkAttackParams(options, read),
      // Before the attack: a folder we may not replace is refused before minutes of work.
      output: await prepareCliOutput(options.out, 'attack', options.force),
    }));
    try {
      const dataset = await openDataset(options, pool);
      const attackOptions = attackOptionsFromParams(params, dataset.count, pool.info().model.numClasses);
      const bar = createProgressBar({ json: options.json });
      const result = await pool.attack(dataset.images, dataset.labels, attackOptions, {
        signal,
        onProgress: (p) => bar.update(p.done, p.total, `${attackOptions.method} ε=${p.epsilon ?? ''}`),
      });
      bar.done();
      const { writeAttackFiles } = await import('../../../app/node/attack-files.js');
      const record = await output.write((staging) => writeAttackFiles(staging, dataset, result, pool.info().model, options.data ?? 'samples'));
      // A protected model's refusals, apart from the success rates (which stay the classifier's).
      const summary = result.rejections ? summarizeAttack(result) : undefined;
      const rejections = summary?.cleanProtected
        ? { clean: summary.cleanProtected, perEpsilon: summary.perEpsilon.map((e) => ({ epsilon: e.epsilon, float: e.float.protected!, quantized: e.quantized.protected! })) }
        : undefined;
      if (options.json) {
        process.stdout.write(JSON.stringify(rejections ? { ...record, protected: rejections } : record, null, 2) + '\n');
        return;
      }
      const withSurvival = result.perEpsilon[0]?.quantized.survival !== undefined;
      const cleanCorrect = cleanCorrectMask(result);
      const rows = result.perEpsilon.map((e, index) => [
        e.epsilon.toFixed(4),
        rate(e.float.success),
        rate(e.quantized.success),
        mean(e.float.linf).toFixed(4),
        mean(e.float.l2).toFixed(3),
        ...(rejections ? [rejectedText(rejections.perEpsilon[index].float), rejectedText(rejections.perEpsilon[index].quantized)] : []),
        ...(withSurvival ? [survivalText(e.quantized, cleanCorrect)] : []),
      ]);
      process.stdout.write(formatTable(['epsilon', 'success', 'success (8-bit)', 'mean Linf', 'mean L2', ...(rejections ? ['rejected', 'rejected (8-bit)'] : []), ...(withSurvival ? ['print survival (8-bit)'] : [])], rows) + '\n');
      if (rejections) process.stdout.write(`protected model: ${rejectedText(rejections.clean)} clean images rejected (false positives); adversarial rejections are detections\n`);
      process.stdout.write(`saved ${dataset.count} images x ${result.perEpsilon.length} epsilon to ${output.dir}\n`);
    } finally {
      await pool.close();
    }
  }));
}

/** Mean print survival of the images the model had right and the 8-bit attack fooled, and how many reach one half. */
function survivalText(view: AdversarialView, cleanCorrect: Uint8Array): string {
  const survival = fooledSurvival(view, cleanCorrect)!;
  return survival.fooled === 0 ? '–' : `${survival.mean.toFixed(3)} (${survival.likely}/${survival.fooled} ≥ 0.5)`;
}

function rejectedText(counts: ProtectedCounts): string {
  return `${counts.rejected}/${counts.correct + counts.wrong + counts.rejected}`;
}

function rate(flags: Uint8Array): string {
  return mean(flags).toFixed(3);
}

function mean(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return values.length ? sum / values.length : 0;
}
