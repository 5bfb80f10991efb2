/**
 * `foolprint`: every job of the lab, headless. Each command lives in commands/ and adapts the core
 * (app/) to the terminal: flags in, a table or --json out, progress on stderr, Ctrl-C cancels.
 */
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { traceStartup } from '../../app/node/startup-trace.js';
import { EXIT_USAGE } from './failure.js';

traceStartup('CLI imports evaluated');
const packageJson = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('foolprint')
  .description('Adversarial examples in the physical world: attack, print, photograph, compare.')
  .version(packageJson.version)
  // One line, as every other failure (failure.ts): "foolprint: unknown option '--nope' (see --help)".
  .configureOutput({ outputError: (text, write) => write(`foolprint: ${text.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ')} (see --help)\n`) })
  // Commander exits 1 on an unknown flag or a missing argument; those are usage errors, which exit
  // 2 like every other (failure.ts). Set before the commands are added, so they inherit it.
  .exitOverride();

/**
 * Each command's module, in --help's order, with the commands it registers. Only the module of the
 * command named on the command line is loaded: some bring TF.js, OpenCV or canvas (about a second of
 * CPU, issue 12), which a sweep's main thread does not need while its workers boot. --help, `help`
 * and anything unknown load them all, so Commander lists every command and suggests near names.
 */
const COMMANDS: [names: string[], load: () => Promise<(program: Command) => void>][] = [
  [['models', 'doctor'], async () => (await import('./commands/models.js')).registerModels],
  [['eval'], async () => (await import('./commands/eval.js')).registerEval],
  [['attack'], async () => (await import('./commands/attack.js')).registerAttack],
  [['sweep'], async () => (await import('./commands/sweep.js')).registerSweep],
  [['train'], async () => (await import('./commands/train.js')).registerTrain],
  [['sheet'], async () => (await import('./commands/sheet.js')).registerSheet],
  [['analyze'], async () => (await import('./commands/analyze.js')).registerAnalyze],
  [['calibrate'], async () => (await import('./commands/calibrate.js')).registerCalibrate],
  [['simulate'], async () => (await import('./commands/simulate.js')).registerSimulate],
  [['transforms'], async () => (await import('./commands/transforms.js')).registerTransforms],
  [['robustness', 'transfer', 'detect'], async () => (await import('./commands/defenses.js')).registerDefenses],
  [['serve'], async () => (await import('./commands/serve.js')).registerServe],
  [['demo'], async () => (await import('./commands/demo.js')).registerDemo],
];

const named = COMMANDS.filter(([names]) => names.includes(process.argv[2]));
const registers = await Promise.all((named.length > 0 ? named : COMMANDS).map(([, load]) => load()));
for (const register of registers) register(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (!(error instanceof CommanderError)) throw error;
  // Commander has already printed its message; --help and --version end with exit code 0.
  process.exitCode = error.exitCode === 0 ? 0 : EXIT_USAGE;
}
