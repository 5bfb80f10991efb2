/**
 * `foolprint robustness`, `foolprint transfer`, `foolprint detect`: evaluating defenses
 * (app/defenses) headless. Models are given as ids or folders, optionally with an input
 * transformation in front ("lenet-mnist+jpeg75", "+bits4", "+median2", "+printphoto"). The job runs
 * on a worker thread; progress on stderr, Ctrl-C cancels, --json prints the report. Flags are
 * checked by the API contract's own schemas (app/api/defenses.ts), so the CLI takes what the
 * Defenses screen takes and says so in the same words.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import type { z } from 'zod';
import type { RobustnessReport } from '../../../app/defenses/robustness.js';
import type * as Robustness from '../../../app/defenses/robustness.js';
import type { TransferMatrix } from '../../../app/defenses/transfer.js';
import type { DetectorReport } from '../../../app/defenses/safetynet.js';
import { writeJsonAtomic } from '../../../app/node/atomic-write.js';
import { loadDataset } from '../../../app/node/dataset-loader.js';
import type { DefenseJob } from '../../../app/node/defense-jobs.js';
import type { DefendedModelSpec } from '../../../app/node/defense-models.js';
import { parseModelSource } from '../../../app/models/source.js';
import type { BackendName } from '../../../app/node/backend.js';
import { UsageError, guarded, interruptSignal, parseDecimal, parseEpsilonList, parsePositiveInt } from '../failure.js';
import { createProgressBar } from '../progress.js';
import { addDataOptions, formatTable } from '../workbench.js';
import type { WorkbenchOptions } from '../workbench.js';

interface DefenseFlags extends Omit<WorkbenchOptions, 'model' | 'workers'> {
  models?: string;
  model?: string;
  seed?: string;
  steps?: string;
  restarts?: string;
}

/**
 * The flag schemas (zod) and everything that runs a job (TF.js) are loaded by the command that runs,
 * not whenever the CLI lists its commands (issue 12: --help within 0.3 s).
 */
const flagSchemas = () => import('../../../app/api/defenses.js');
/** The short names of attacks and views in the tables (robustness.ts, which loads TF.js). */
type Titles = Pick<typeof Robustness, 'attackTitle' | 'viewTitle'>;

async function checked<T extends z.ZodType>(schema: T, value: unknown, flags: Record<string, string>): Promise<z.output<T>> {
  const { describeZodError } = await import('../../../app/api/errors.js');
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = String(issue.path[0] ?? '');
    throw new UsageError(`${flags[field] ?? field}: ${issue.message}${parsed.error.issues.length > 1 ? ` (${describeZodError(parsed.error, 'flags')})` : ''}`);
  }
  return parsed.data;
}

async function modelSpecs(text: string): Promise<DefendedModelSpec[]> {
  const { InputTransformError, parseDefendedModel } = await import('../../../app/defenses/input-transforms.js');
  const specs = text.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map((s) => {
    let parsed: ReturnType<typeof parseDefendedModel>;
    try {
      parsed = parseDefendedModel(s);
    } catch (error) {
      throw error instanceof InputTransformError ? new UsageError(`--models: ${error.message}`) : error;
    }
    const { model, transform } = parsed;
    return { id: model, source: parseModelSource(model), ...(transform ? { transform } : {}) };
  });
  if (specs.length === 0) throw new UsageError('--models: give at least one model');
  return specs;
}

const BACKENDS = ['tensorflow', 'wasm', 'cpu'];

/**
 * The input size and labels the images are loaded for, from the manifest when there is one: loading
 * the model here would start TF.js on this thread too, for nothing (the job runs on a worker).
 */
async function modelInput(spec: DefendedModelSpec): Promise<{ height: number; width: number; channels: number; labels: readonly string[] }> {
  const { MANIFEST_FILE, listBuiltinModels, parseManifest } = await import('../../../app/node/model-manifests.js');
  const builtin = spec.source.kind === 'builtin' ? listBuiltinModels().find((m) => m.id === (spec.source as { id: string }).id) : undefined;
  if (builtin) return { height: builtin.inputSize[0], width: builtin.inputSize[1], channels: builtin.channels, labels: builtin.labels };
  const manifestFile = spec.source.kind === 'folder' ? path.join(path.resolve(spec.source.path), MANIFEST_FILE) : '';
  if (manifestFile && existsSync(manifestFile)) {
    const manifest = parseManifest(await readFile(manifestFile, 'utf8'), manifestFile);
    return { height: manifest.inputSize[0], width: manifest.inputSize[1], channels: manifest.channels, labels: manifest.labels };
  }
  const { loadClassifier } = await import('../../../app/node/model-loader.js');
  const probe = await loadClassifier(spec.source);
  probe.dispose();
  return { height: probe.inputShape[0], width: probe.inputShape[1], channels: probe.inputShape[2], labels: probe.labels };
}

async function loadImages(flags: DefenseFlags, spec: DefendedModelSpec) {
  const { height, width, channels, labels } = await modelInput(spec);
  const bar = createProgressBar({ json: flags.json });
  const dataset = await loadDataset(flags.data ?? 'samples', {
    height,
    width,
    channels: channels as 1 | 3,
    offset: flags.offset === undefined || flags.offset === '0' ? 0 : parsePositiveInt(flags.offset, '--offset'),
    limit: flags.limit === undefined ? undefined : parsePositiveInt(flags.limit, '--limit'),
    classNames: labels,
    onProgress: (done, total, label) => bar.update(done, total, label),
  }).finally(() => bar.done());
  for (const note of dataset.notes) if (!flags.json) process.stderr.write(`note: ${note}\n`);
  return dataset;
}

async function runJob(flags: DefenseFlags, job: DefenseJob, signal: AbortSignal) {
  if (flags.backend !== undefined && !BACKENDS.includes(flags.backend)) throw new UsageError(`--backend must be one of ${BACKENDS.join(', ')}, got "${flags.backend}"`);
  const { runDefenseJobInWorker } = await import('../../../app/node/defense-jobs.js');
  const bar = createProgressBar({ json: flags.json });
  try {
    return await runDefenseJobInWorker({ ...job, ...(flags.backend ? { backend: flags.backend as BackendName } : {}) }, { signal, onProgress: (p) => bar.update(p.done, p.total, p.label) });
  } finally {
    bar.done();
  }
}

function common(command: Command): Command {
  addDataOptions(command);
  return command
    .option('--seed <n>', 'seed of every random choice (PGD starts, the detector\'s split)', '0')
    .option('--backend <name>', 'force a TF.js backend: tensorflow, wasm or cpu')
    .option('--json', 'print JSON (no progress bar)');
}

const pct = (v: number | null) => (v === null ? '-' : v.toFixed(3));

export function formatRobustness(report: RobustnessReport, { attackTitle, viewTitle }: Titles): string {
  const header = ['model', 'attack', 'view', ...report.epsilons.map((e) => `ε ${e}`)];
  const rows: string[][] = [];
  for (const m of report.models) {
    rows.push([m.title, 'clean', m.cleanAccuracyCost === null ? '' : `cost ${m.cleanAccuracyCost.toFixed(3)}`, ...report.epsilons.map(() => pct(m.cleanAccuracy))]);
    for (const c of m.curves) rows.push([m.title, attackTitle(c.attack), viewTitle(c.view), ...c.accuracy.map(pct)]);
    for (const r of m.robust) rows.push([m.title, attackTitle(r.attack), 'robust (worst)', ...r.accuracy.map(pct)]);
  }
  const flags = report.models.filter((m) => m.masking.suspected).map((m) => `gradient masking suspected: ${m.title}: ${m.masking.reasons.join('; ')}`);
  return [formatTable(header, rows), ...flags].join('\n');
}

export function formatTransfer(matrix: TransferMatrix): string {
  const header = ['source \\ target', ...matrix.models.map((m) => m.title)];
  const rows = [['clean', ...matrix.cleanAccuracy.map(pct)], ...matrix.models.map((m, i) => [m.title, ...matrix.accuracy[i].map(pct)])];
  return `${matrix.attack.toUpperCase()} ε ${matrix.epsilon} (${matrix.loss}), accuracy of the target on the source's examples, ${matrix.count} images\n${formatTable(header, rows)}`;
}

export function formatDetector(d: DetectorReport, { attackTitle }: Pick<Titles, 'attackTitle'>): string {
  const rows = d.evaluations.map((e) => [
    attackTitle(e.attack), e.attack === 'deepfool' ? '-' : String(e.epsilon), String(e.clean), String(e.adversarial), pct(e.auc), pct(e.tprAt5),
    `${e.protected.clean.correct}/${e.protected.clean.wrong}/${e.protected.clean.rejected}`,
    `${e.protected.adversarial.correct}/${e.protected.adversarial.wrong}/${e.protected.adversarial.rejected}`,
  ]);
  return `SafetyNet detector on ${d.modelId}, layer ${d.layer} (${d.units} units, ${d.quantisation}), trained on ${d.train.clean} clean + ${d.train.adversarial} ${d.train.attack} examples\n` +
    formatTable(['attack', 'ε', 'clean', 'adversarial', 'AUC', 'TPR@5%FPR', 'protected clean right/wrong/rejected', 'protected adversarial right/wrong/rejected'], rows);
}

export function registerDefenses(program: Command): void {
  const robustness = common(program.command('robustness')
    .description('robust accuracy vs ε per model under FGSM/BIM/PGD/DeepFool, with cross-entropy, logit-margin, transfer and BPDA views; flags gradient masking')
    .option('--models <list>', 'comma list of models, each an id or folder, optionally +jpeg<q>, +bits<n>, +median<k> or +printphoto', 'lenet-mnist')
    .option('--attacks <list>', 'fgsm, bim, pgd, deepfool', 'fgsm,pgd')
    .option('--eps <list>', 'ε list in [0,1] (or n/255)', '0,0.1,0.2,0.3')
    .option('--steps <n>', 'PGD steps', '40')
    .option('--restarts <n>', 'PGD random restarts', '1')
    .option('--surrogate <model>', 'the undefended model transfer attacks are crafted on (default: the first model without a transform)')
    .option('--tolerance <x>', 'accuracy gap that flags gradient masking', '0.1'));
  robustness.action(guarded(async (flags: DefenseFlags & { attacks: string; eps: string; surrogate?: string; tolerance: string }) => {
    // Ctrl-C is ours from the start: while the images load as well as while the worker runs.
    const signal = interruptSignal();
    const models = await modelSpecs(flags.models ?? 'lenet-mnist');
    const params = await checked((await flagSchemas()).robustnessParamsSchema, {
      models: models.map((m) => ({ modelId: m.id, transform: m.transform })),
      attacks: flags.attacks.split(',').map((a) => a.trim()),
      epsilons: parseEpsilonList(flags.eps, '--eps'),
      pgdSteps: parsePositiveInt(flags.steps ?? '40', '--steps'),
      pgdRestarts: parsePositiveInt(flags.restarts ?? '1', '--restarts'),
      maskingTolerance: parseDecimal(flags.tolerance, '--tolerance'),
      seed: Number(flags.seed ?? 0),
    }, { models: '--models', attacks: '--attacks', epsilons: '--eps', pgdSteps: '--steps', pgdRestarts: '--restarts', maskingTolerance: '--tolerance', seed: '--seed' });
    const surrogate = flags.surrogate ?? models.find((m) => !m.transform)?.id;
    const jobModels = surrogate !== undefined && !models.some((m) => m.id === surrogate) ? [...models, { id: surrogate, source: parseModelSource(surrogate) }] : models;
    const dataset = await loadImages(flags, models[0]);
    const { models: _, ...plan } = params;
    const result = await runJob(flags, { kind: 'robustness', models: jobModels, images: dataset.images, labels: dataset.labels, plan: { ...plan, surrogateId: surrogate } }, signal);
    if (result.kind !== 'robustness') throw new Error('unexpected result');
    const report = { ...result.report, models: result.report.models.slice(0, models.length) };
    process.stdout.write(flags.json ? JSON.stringify(report, null, 2) + '\n' : formatRobustness(report, await import('../../../app/defenses/robustness.js')) + `\n${report.count} images\n`);
  }));

  const transfer = common(program.command('transfer')
    .description('transfer matrix: adversarial examples crafted on each model (row), classified by each model (column)')
    .option('--models <list>', 'comma list of at least two models (ids or folders, optionally +jpeg<q>, +bits<n>, +median<k>, +printphoto)')
    .option('--method <name>', 'fgsm, bim or pgd', 'pgd')
    .option('--eps <x>', 'ε in [0,1] (or n/255)', '0.2')
    .option('--loss <name>', 'ce, margin or ce-float32 (the textbook float32 gradient, a reference)', 'ce')
    .option('--steps <n>', 'PGD steps', '40')
    .option('--restarts <n>', 'PGD random restarts', '1'));
  transfer.action(guarded(async (flags: DefenseFlags & { method: string; eps: string; loss: string }) => {
    const signal = interruptSignal();
    if (flags.models === undefined) throw new UsageError('--models: give at least two models, e.g. --models lenet-mnist,lenet-mnist+median2');
    const models = await modelSpecs(flags.models);
    const [epsilon] = parseEpsilonList(flags.eps, '--eps');
    const params = await checked((await flagSchemas()).transferParamsSchema, {
      models: models.map((m) => ({ modelId: m.id, transform: m.transform })),
      attack: flags.method,
      epsilon,
      loss: flags.loss,
      pgdSteps: parsePositiveInt(flags.steps ?? '40', '--steps'),
      pgdRestarts: parsePositiveInt(flags.restarts ?? '1', '--restarts'),
      seed: Number(flags.seed ?? 0),
    }, { models: '--models', attack: '--method', epsilon: '--eps', loss: '--loss', pgdSteps: '--steps', pgdRestarts: '--restarts', seed: '--seed' });
    const dataset = await loadImages(flags, models[0]);
    const { models: _, ...plan } = params;
    const result = await runJob(flags, { kind: 'transfer', models, images: dataset.images, labels: dataset.labels, plan }, signal);
    if (result.kind !== 'transfer') throw new Error('unexpected result');
    process.stdout.write(flags.json ? JSON.stringify(result.matrix, null, 2) + '\n' : formatTransfer(result.matrix) + '\n');
  }));

  const detect = common(program.command('detect')
    .description('train a SafetyNet-style detector (quantised late ReLU codes, RBF-SVM) on half the images and evaluate it on the other half')
    .option('--model <id|folder>', 'a TF.js Layers model', 'lenet-mnist')
    .option('--layer <name>', 'the ReLU layer to read (default: the last one before the output)')
    .option('--quantisation <q>', 'binary or quaternary', 'quaternary')
    .option('--method <name>', 'the attack the detector learns: fgsm, bim, pgd or deepfool', 'fgsm')
    .option('--eps <x>', 'its ε in (0,1]', '0.25')
    .option('--evaluate <list>', 'more attacks to evaluate on, as method:ε (e.g. bim:0.1,pgd:0.3,deepfool:1)')
    .option('--out <folder>', 'write detector.json (how it was made, its codebook and SVM) into this folder'));
  detect.action(guarded(async (flags: DefenseFlags & { layer?: string; quantisation: string; method: string; eps: string; evaluate?: string; out?: string }) => {
    const signal = interruptSignal();
    const [model] = await modelSpecs(flags.model ?? 'lenet-mnist');
    if (model.transform) throw new UsageError('--model: the detector reads a hidden layer of the model itself; give it without a +transform');
    const [epsilon] = parseEpsilonList(flags.eps, '--eps');
    const evaluate = (flags.evaluate ?? '').split(',').map((s) => s.trim()).filter(Boolean).map((item) => {
      const [attack, eps] = item.split(':');
      return { attack, epsilon: eps === undefined ? 1 : parseEpsilonList(eps, '--evaluate')[0] };
    });
    const params = await checked((await flagSchemas()).detectorParamsSchema, {
      modelId: model.id, quantisation: flags.quantisation, trainAttack: flags.method, epsilon, evaluate, seed: Number(flags.seed ?? 0), ...(flags.layer ? { layer: flags.layer } : {}),
    }, { modelId: '--model', quantisation: '--quantisation', trainAttack: '--method', epsilon: '--eps', evaluate: '--evaluate', layer: '--layer', seed: '--seed' });
    const dataset = await loadImages(flags, model);
    const { modelId: _, layer, trainAttack, epsilon: eps, ...rest } = params;
    const result = await runJob(flags, { kind: 'detect', models: [model], images: dataset.images, labels: dataset.labels, ...(layer ? { layer } : {}), plan: { ...rest, train: { attack: trainAttack, epsilon: eps } } }, signal);
    if (result.kind !== 'detect') throw new Error('unexpected result');
    if (flags.out) {
      await mkdir(path.resolve(flags.out), { recursive: true });
      await writeJsonAtomic(path.join(path.resolve(flags.out), 'detector.json'), { schemaVersion: 1, createdAt: new Date().toISOString(), ...result.detector });
    }
    const { svm: __, codebook: ___, ...summary } = result.detector;
    process.stdout.write(flags.json ? JSON.stringify(summary, null, 2) + '\n' : formatDetector(result.detector, await import('../../../app/defenses/robustness.js')) + '\n');
  }));
}
