/**
 * `foolprint`: every job of the lab, headless. Each command lives in commands/ and adapts the core
 * (app/) to the terminal: flags in, a table or --json out, progress on stderr, Ctrl-C cancels.
 */
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { registerAnalyze } from './commands/analyze.js';
import { registerAttack } from './commands/attack.js';
import { registerDemo } from './commands/demo.js';
import { registerEval } from './commands/eval.js';
import { registerModels } from './commands/models.js';
import { registerServe } from './commands/serve.js';
import { registerSheet } from './commands/sheet.js';
import { registerSimulate } from './commands/simulate.js';
import { registerTransforms } from './commands/transforms.js';
import { registerSweep } from './commands/sweep.js';

const packageJson = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('foolprint')
  .description('Adversarial examples in the physical world: attack, print, photograph, compare.')
  .version(packageJson.version)
  .showHelpAfterError('(run with --help for usage)');

registerModels(program);
registerEval(program);
registerAttack(program);
registerSweep(program);
registerSheet(program);
registerAnalyze(program);
registerSimulate(program);
registerTransforms(program);
registerServe(program);
registerDemo(program);

await program.parseAsync(process.argv);
