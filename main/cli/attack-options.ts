/** The attack flags `attack`, `sweep` and `demo` share, turned into AttackOptions. */
import type { Command } from 'commander';
import type { AttackMethod, AttackOptions, AttackLoss, Norm } from '../../app/attacks/types.js';
import { UsageError, parseNumberList, parsePositiveInt } from './failure.js';

const methods: AttackMethod[] = ['fgsm', 'bim', 'll', 'pgd', 'deepfool'];

export interface AttackFlags {
  method: string;
  eps: string;
  loss?: string;
  steps?: string;
  stepSize?: string;
  norm?: string;
  restarts?: string;
  seed?: string;
  target?: string;
  overshoot?: string;
  maxIterations?: string;
}

export function addAttackOptions(command: Command, defaults: { eps: string }): Command {
  return command
    .option('--method <name>', `attack: ${methods.join(', ')}`, 'fgsm')
    .option('--eps <list>', 'ε values in [0,1] or pixel levels, comma separated (e.g. 0,0.1 or 8/255)', defaults.eps)
    .option('--loss <ce|margin>', 'loss for gradient attacks: cross-entropy or C&W-style logit margin')
    .option('--steps <n>', 'iterations (BIM/LL: min(ε·255+4, 1.25·ε·255); PGD: 40)')
    .option('--step-size <α>', 'step size per iteration in [0,1] units or levels (BIM/LL: 1/255)')
    .option('--norm <linf|l2>', 'PGD: ball of the perturbation')
    .option('--restarts <n>', 'PGD: random restarts')
    .option('--seed <n>', 'seed for random starts')
    .option('--target <class>', 'targeted attack towards this class index (fgsm, bim, pgd)')
    .option('--overshoot <η>', 'DeepFool overshoot (0.02)')
    .option('--max-iterations <n>', 'DeepFool iteration cap (50)');
}

export function attackOptionsFromFlags(flags: AttackFlags, count: number, numClasses: number): AttackOptions {
  if (!(methods as string[]).includes(flags.method)) {
    throw new UsageError(`--method must be one of ${methods.join(', ')}, got "${flags.method}"`);
  }
  const options: AttackOptions = { method: flags.method as AttackMethod, epsilons: parseNumberList(flags.eps, '--eps') };
  if (flags.loss !== undefined) {
    if (flags.loss !== 'ce' && flags.loss !== 'margin') throw new UsageError(`--loss must be ce or margin, got "${flags.loss}"`);
    options.loss = flags.loss as AttackLoss;
  }
  if (flags.norm !== undefined) {
    if (flags.norm !== 'linf' && flags.norm !== 'l2') throw new UsageError(`--norm must be linf or l2, got "${flags.norm}"`);
    options.norm = flags.norm as Norm;
  }
  if (flags.steps !== undefined) options.steps = parsePositiveInt(flags.steps, '--steps');
  if (flags.stepSize !== undefined) options.stepSize = parseNumberList(flags.stepSize, '--step-size')[0];
  if (flags.restarts !== undefined) options.restarts = parsePositiveInt(flags.restarts, '--restarts');
  if (flags.seed !== undefined) options.seed = Number(flags.seed);
  if (flags.overshoot !== undefined) options.overshoot = parseNumberList(flags.overshoot, '--overshoot')[0];
  if (flags.maxIterations !== undefined) options.maxIterations = parsePositiveInt(flags.maxIterations, '--max-iterations');
  if (flags.target !== undefined) {
    const target = Number(flags.target);
    if (!Number.isInteger(target) || target < 0 || target >= numClasses) {
      throw new UsageError(`--target must be a class index in 0..${numClasses - 1}, got "${flags.target}"`);
    }
    if (options.method === 'll' || options.method === 'deepfool') throw new UsageError(`--target does not apply to ${options.method}`);
    options.criterion = { kind: 'targeted', targets: new Int32Array(count).fill(target) };
  }
  return options;
}
