/**
 * The attack flags `attack` and `sweep` share: parsed as numbers, then checked by the API contract's
 * own schema (attackParamsSchema), so the CLI takes exactly what the screens take (ε in [0,1], at
 * most 10,000 steps, …) and says so in the same words, with flag names for field labels.
 */
import type { Command } from 'commander';
import { readFileSync, statSync } from 'node:fs';
import type { attackParamsSchema } from '../../app/api/attacks.js';
import type * as AttackContract from './attack-contract.js';
import { EOT_METHODS } from '../../app/attacks/method-label.js';
import { ATTACK_METHODS, type AttackOptions } from '../../app/attacks/types.js';
import { UsageError, parseDecimal, parseNumberList, parsePositiveInt } from './failure.js';

/** Contract field → the flag that sets it, so messages name what the user typed. */
const FLAG_OF_FIELD: Readonly<Record<string, string>> = {
  method: '--method',
  epsilons: '--eps',
  loss: '--loss',
  steps: '--steps',
  stepSize: '--step-size',
  norm: '--norm',
  restarts: '--restarts',
  seed: '--seed',
  targetClass: '--target',
  overshoot: '--overshoot',
  maxIterations: '--max-iterations',
  eot: '--eot',
  'eot.samples': '--eot',
  'eot.channel': '--channel',
  'eot.confidence': '--eot-confidence',
  'eot.keep': '--eot-keep',
  'eot.refine': '--eot-refine',
  momentum: '--momentum',
  survival: '--survival',
  'survival.draws': '--survival',
  'survival.channel': '--channel',
};

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
  eot?: string;
  channel?: string;
  eotConfidence?: string;
  eotKeep?: string;
  eotRefine?: string;
  momentum?: string;
  survival?: string;
}

export type CheckedAttackParams = ReturnType<typeof attackParamsSchema.parse>;

export function addAttackOptions(command: Command, defaults: { eps: string }): Command {
  return command
    .option('--method <name>', `attack: ${ATTACK_METHODS.join(', ')}`, 'fgsm')
    .option('--eps <list>', 'ε values in [0,1] pixel units, comma separated; levels as 8/255 (e.g. 0,0.1,8/255)', defaults.eps)
    .option('--loss <ce|margin|ce-float32>', 'loss for gradient attacks: cross-entropy, C&W-style logit margin, or the textbook float32 cross-entropy gradient (reference; it vanishes on saturated softmax)')
    .option('--steps <n>', 'iterations, at most 10000 (BIM/LL: min(ε·255+4, 1.25·ε·255); PGD: 40)')
    .option('--step-size <α>', 'step size per iteration in [0,1] units or levels (BIM/LL: 1/255)')
    .option('--norm <linf|l2>', 'PGD: ball of the perturbation')
    .option('--restarts <n>', 'PGD: random restarts (at most 100)')
    .option('--seed <n>', 'seed for random starts')
    .option('--momentum <μ>', 'bim, ll, pgd: momentum (MI-FGSM, Dong et al. 2018; 1 in the paper): steps follow the decayed sum of normalised gradients')
    .option('--target <class>', 'targeted attack towards this class index (fgsm, bim, pgd)')
    .option('--overshoot <η>', 'DeepFool overshoot (0.02, at most 1)')
    .option('--max-iterations <n>', 'DeepFool iteration cap (50, at most 10000)')
    .option('--eot <n>', 'robust to print (bim, ll, pgd): average every step over n sampled print-and-photo transformations (Expectation over Transformation); each step costs ~n passes')
    .option('--channel <profile.json>', 'with --eot or --survival: the channel profile to sample from (foolprint calibrate writes one; default: an office laser printer and a webcam)')
    .option('--eot-confidence <κ>', 'with --eot and --loss margin: cap each transformation\'s logit margin at κ (C&W confidence), so draws already fooled by κ stop pulling')
    .option('--eot-refine <steps>', 'with --eot: up to this many more steps for the examples that fool the model but not all their sampled transformations, each until all of a step\'s do')
    .option('--eot-keep <last|most-robust>', 'with --eot: return the last iterate, or per image the one most often adversarial under its sampled transformations')
    .option('--survival <n>', 'any method: estimate each example\'s print survival, the share of n fresh print-and-photo transformations its 8-bit image stays adversarial under (costs n forward passes per image and ε)');
}

/**
 * The CLI's own reading of the attack flags, before any import or worker: a mistyped number is refused
 * at once. The contract's bounds are checkAttackParams', which a command runs while its workers boot.
 */
export function readAttackFlags(flags: AttackFlags): Record<string, unknown> {
  const params: Record<string, unknown> = { method: flags.method, epsilons: parseNumberList(flags.eps, '--eps') };
  if (flags.loss !== undefined) params.loss = flags.loss;
  if (flags.norm !== undefined) params.norm = flags.norm;
  if (flags.steps !== undefined) params.steps = parsePositiveInt(flags.steps, '--steps');
  if (flags.stepSize !== undefined) params.stepSize = parseNumberList(flags.stepSize, '--step-size')[0];
  if (flags.restarts !== undefined) params.restarts = parsePositiveInt(flags.restarts, '--restarts');
  if (flags.seed !== undefined) params.seed = parseDecimal(flags.seed, '--seed');
  if (flags.overshoot !== undefined) params.overshoot = parseNumberList(flags.overshoot, '--overshoot')[0];
  if (flags.maxIterations !== undefined) params.maxIterations = parsePositiveInt(flags.maxIterations, '--max-iterations');
  if (flags.target !== undefined) params.targetClass = parseDecimal(flags.target, '--target');
  if (flags.momentum !== undefined) {
    params.momentum = parseNumberList(flags.momentum, '--momentum')[0];
    if (!(EOT_METHODS as readonly string[]).includes(flags.method)) throw new UsageError(`--momentum applies to ${EOT_METHODS.join(', ')}, not ${flags.method}`);
  }
  if (flags.channel !== undefined && flags.eot === undefined && flags.survival === undefined) throw new UsageError('--channel applies to --eot or --survival: give --eot <samples> or --survival <draws> too');
  if (flags.eotConfidence !== undefined && flags.eot === undefined) throw new UsageError('--eot-confidence applies to --eot: give --eot <samples> too');
  if (flags.eotKeep !== undefined && flags.eot === undefined) throw new UsageError('--eot-keep applies to --eot: give --eot <samples> too');
  if (flags.eotRefine !== undefined && flags.eot === undefined) throw new UsageError('--eot-refine applies to --eot: give --eot <samples> too');
  if (flags.eotConfidence !== undefined && flags.loss !== 'margin') throw new UsageError('--eot-confidence caps the logit margin: give --loss margin too');
  if (flags.eot !== undefined) {
    const eot: Record<string, unknown> = { samples: parsePositiveInt(flags.eot, '--eot') };
    if (flags.eotConfidence !== undefined) eot.confidence = parseNumberList(flags.eotConfidence, '--eot-confidence')[0];
    if (flags.eotKeep !== undefined) eot.keep = flags.eotKeep;
    if (flags.eotRefine !== undefined) eot.refine = parsePositiveInt(flags.eotRefine, '--eot-refine');
    params.eot = eot;
    if (!(EOT_METHODS as readonly string[]).includes(flags.method)) throw new UsageError(`--eot applies to ${EOT_METHODS.join(', ')}, not ${flags.method}`);
  }
  if (flags.survival !== undefined) params.survival = { draws: parsePositiveInt(flags.survival, '--survival') };
  return params;
}

/** readAttackFlags' parameters with --channel's profile, checked against the contract's bounds. */
export async function checkAttackParams(flags: AttackFlags, read: Record<string, unknown>): Promise<CheckedAttackParams> {
  const params = { ...read };
  if (flags.channel !== undefined) {
    const channel = await readChannelProfile(flags.channel);
    // With --eot the survival estimate takes EOT's channel (resolveSurvival); alone, --channel is its own.
    if (params.eot) params.eot = { ...(params.eot as object), channel };
    else params.survival = { ...(params.survival as object), channel };
  }
  // Imported here: zod and the contract cost start-up that --help and the other commands do not need.
  const { attackParamsSchema, describeInvalidInput } = await attackContract();
  const checked = attackParamsSchema.safeParse(params);
  if (!checked.success) throw new UsageError(describeInvalidInput(checked.error, { input: params, labels: FLAG_OF_FIELD }));
  if (checked.data.targetClass !== undefined && (checked.data.method === 'll' || checked.data.method === 'deepfool')) {
    throw new UsageError(`--target does not apply to ${checked.data.method}: it chooses its own target`);
  }
  return checked.data;
}

/**
 * The contract's attack schema, from the bundle `npm run build` makes of attack-contract.ts where it
 * is there and not older than the module (a later `tsc` alone leaves it older), else from the module;
 * FOOLPRINT_UNBUNDLED=1 takes the module, as it does the workers' script.
 */
async function attackContract(): Promise<typeof AttackContract> {
  const bundle = new URL('./attack-contract.bundle.mjs', import.meta.url);
  try {
    if (process.env.FOOLPRINT_UNBUNDLED !== '1' && statSync(bundle).mtimeMs >= statSync(new URL('./attack-contract.js', import.meta.url)).mtimeMs) {
      return (await import(bundle.href)) as typeof AttackContract;
    }
  } catch {
    // No bundle (a run from the sources, or a build by tsc alone): the module below.
  }
  return import('./attack-contract.js');
}

/** A channel profile file, or a one-line usage error naming it. */
async function readChannelProfile(file: string): Promise<unknown> {
  // Imported here for the same start-up reason as the contract above (the profile schema is zod).
  const { ChannelProfileError, parseChannelProfile } = await import('../../app/physical/channel-profile.js');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`--channel ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  try {
    return parseChannelProfile(text, `--channel ${file}`);
  } catch (error) {
    if (error instanceof ChannelProfileError) throw new UsageError(error.message);
    throw error;
  }
}

/** Checked parameters as the core's AttackOptions, once the images and the model are known. */
export function attackOptionsFromParams(params: CheckedAttackParams, count: number, numClasses: number): AttackOptions {
  const { targetClass, ...rest } = params;
  const options: AttackOptions = { ...rest };
  if (targetClass !== undefined) {
    if (targetClass >= numClasses) throw new UsageError(`--target must be a class index in 0..${numClasses - 1}, got ${targetClass}`);
    options.criterion = { kind: 'targeted', targets: new Int32Array(count).fill(targetClass) };
  }
  return options;
}
