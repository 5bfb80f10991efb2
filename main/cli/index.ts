/**
 * `foolprint`: every job of the lab, headless. Each command lives in commands/ and adapts the core
 * (app/) to the terminal: flags in, a table or --json out, progress on stderr, Ctrl-C cancels.
 */
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { registerAnalyze } from './commands/analyze.js';
import { registerAttack } from './commands/attack.js';
import { registerCalibrate } from './commands/calibrate.js';
import { registerDefenses } from './commands/defenses.js';
import { registerDemo } from './commands/demo.js';
import { registerEval } from './commands/eval.js';
import { registerModels } from './commands/models.js';
import { registerServe } from './commands/serve.js';
import { registerSheet } from './commands/sheet.js';
import { registerSimulate } from './commands/simulate.js';
import { registerTransforms } from './commands/transforms.js';
import { registerSweep } from './commands/sweep.js';
import { registerTrain } from './commands/train.js';
import { EXIT_USAGE } from './failure.js';

const packageJson = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('foolprint')
  .description('Adversarial examples in the physical world: attack, print, photograph, compare.')
  .version(packageJson.version)
  // One line, as every other failure (failure.ts): "foolprint: unknown option '--nope' (see --help)".
  .configureOutput({ outputError: (text, write) => write(`foolprint: ${text.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ')} (see --help)\n`) })
  // Commander exits 1 on an unknown flag or a missing argument; those are usage errors, which exit
  // 2 like every other (failure.ts). Set before the commands are added, so they inherit it.
  .exitOverride();

registerModels(program);
registerEval(program);
registerAttack(program);
registerSweep(program);
registerTrain(program);
registerSheet(program);
registerAnalyze(program);
registerCalibrate(program);
registerSimulate(program);
registerTransforms(program);
registerDefenses(program);
registerServe(program);
registerDemo(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (!(error instanceof CommanderError)) throw error;
  // Commander has already printed its message; --help and --version end with exit code 0.
  process.exitCode = error.exitCode === 0 ? 0 : EXIT_USAGE;
}
