/**
 * npm run bench [-- --quick] [-- --json] [-- --mnist FOLDER [--baseline FOLDER] [--whole-process-only]]
 *
 * FGSM and BIM-10 images/s on the built-in LeNet (random weights until the trained ones exist: same
 * timings) at batch 1 and 256, through the worker pool and in-process on one backend; one BIM step on
 * a 224x224x3 MobileNet-style model; BIM with EOT-16 against plain BIM at the same steps, per image, on
 * LeNet and the MobileNet-style model (issue 10: what "robust to print" costs); tensor counts before and after 1,000 attacks; the PyTorch peer
 * (scripts/torch-peer.py, where a Python with PyTorch is found) run in the same process tree,
 * interleaved with ours round by round because the machine is shared and noisy; and a per-kernel
 * profile of one FGSM step. Given the MNIST test set (--mnist or FOOLPRINT_MNIST), the whole-process
 * figure too: `foolprint sweep --method fgsm --eps 0.1` on it, start to finish, against the peer's
 * same job on the same weights, with each process's peak RSS. --baseline FOLDER adds another build of
 * Foolprint (a folder with its package.json, dist/, assets/ and node_modules/) to the same rounds, so
 * a change is measured against the code before it in one run; --whole-process-only stops there.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { runAttack } from '../app/attacks/index.js';
import type { AttackOptions } from '../app/attacks/types.js';
import type { Classifier } from '../app/engine/classifier.js';
import { withoutWeightGradients } from '../app/engine/kernels/weight-gradients.js';
import { createLeNet } from '../app/models/lenet.js';
import type { ModelSource } from '../app/models/source.js';
import { initBackend } from '../app/node/backend.js';
import type { BackendInfo } from '../app/node/backend.js';
import { ComputePool } from '../app/node/compute-pool.js';
import { saveLayersModel } from '../app/node/model-io.js';
import { listBuiltinModels, loadClassifier, repoRoot } from '../app/node/model-loader.js';
import { findTorchPython } from './torch-python.js';

const quick = process.argv.includes('--quick');
const asJson = process.argv.includes('--json');
const log = (line: string) => {
  if (!asJson) process.stdout.write(line + '\n');
};
const progress = (line: string) => process.stderr.write(line + '\n');

/** Seconds each of our measurements runs for (repeating whole attacks until it has run that long). */
const BUDGET_S = quick ? 1 : 3;
const ROUNDS = quick ? 1 : 3;
const LENET_ID = 'lenet-mnist';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomBatch(n: number, pixels: number, classes: number, seed: number): { images: Float32Array; labels: Int32Array } {
  const next = lcg(seed);
  return {
    images: Float32Array.from({ length: n * pixels }, next),
    labels: Int32Array.from({ length: n }, () => Math.floor(next() * classes)),
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Images per second of `attackOnce` (which attacks `batch` images), repeated until the budget is spent. */
async function imagesPerSecond(batch: number, attackOnce: () => Promise<unknown>): Promise<number> {
  await attackOnce(); // warm-up: XNNPACK operator creation, JIT
  let images = 0;
  const start = performance.now();
  while (performance.now() - start < BUDGET_S * 1000) {
    await attackOnce();
    images += batch;
  }
  return images / ((performance.now() - start) / 1000);
}

const FGSM: AttackOptions = { method: 'fgsm', epsilons: [0.1], keepImages: false };
const BIM10: AttackOptions = { method: 'bim', epsilons: [0.1], steps: 10, stepSize: 0.01, keepImages: false };

interface LeNetRates { fgsmB1: number; fgsmB256: number; bim10B256: number }

async function measureLeNet(run: (images: Float32Array, labels: Int32Array, options: AttackOptions) => Promise<unknown>): Promise<LeNetRates> {
  const one = randomBatch(1, 784, 10, 1);
  const many = randomBatch(256, 784, 10, 2);
  return {
    fgsmB1: await imagesPerSecond(1, () => run(one.images, one.labels, FGSM)),
    fgsmB256: await imagesPerSecond(256, () => run(many.images, many.labels, FGSM)),
    bim10B256: await imagesPerSecond(256, () => run(many.images, many.labels, BIM10)),
  };
}

/**
 * The bare attack step in-process (gradient, sign step, clip to the ε-ball and [0,1]; no top-k or
 * 8-bit evaluation): the same work the PyTorch peer times, so engine speed compares like for like.
 * Like the attacks, it takes ∇x only (withoutWeightGradients); the peer's parameters keep
 * requires_grad, so PyTorch also computes the weight gradients it then ignores.
 */
async function measureBareSteps(classifier: Classifier): Promise<LeNetRates> {
  const rate = async (batch: number, steps: number): Promise<number> => {
    const { images, labels } = randomBatch(batch, 784, 10, 5);
    const x = tf.tensor4d(images, [batch, 28, 28, 1]);
    const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 10);
    const grad = tf.grad((img: tf.Tensor) => tf.losses.softmaxCrossEntropy(y, classifier.logits(img as tf.Tensor4D)));
    try {
      return await imagesPerSecond(batch, async () => {
        let adv: tf.Tensor = x.clone();
        for (let s = 0; s < steps; s++) {
          const next = tf.tidy(() => {
            const stepped = adv.add(withoutWeightGradients(() => grad(adv)).sign().mul(0.01));
            return tf.minimum(tf.maximum(stepped, x.sub(0.1)), x.add(0.1)).clipByValue(0, 1);
          });
          adv.dispose();
          adv = next;
        }
        await adv.data();
        adv.dispose();
      });
    } finally {
      tf.dispose([x, y]);
    }
  };
  return { fgsmB1: await rate(1, 1), fgsmB256: await rate(256, 1), bim10B256: await rate(256, 10) };
}

const PEER_SCRIPT = path.join(repoRoot(), 'scripts/torch-peer.py');
const PEER_THREADS = '2';

/** The PyTorch peer: same LeNet, FGSM b1/b256 and BIM-10 b256, 2 threads. */
function runTorch(python: string): LeNetRates | { error: string } {
  const out = spawnSync(python, [PEER_SCRIPT, 'steps', PEER_THREADS], { encoding: 'utf8', timeout: 1_800_000 });
  if (out.status !== 0) return { error: (out.stderr || out.error?.message || `exit ${out.status}`).trim().split('\n').at(-1)! };
  const rate = (label: string) => Number(new RegExp(`${label}\\s+([\\d.]+) img/s`).exec(out.stdout)?.[1]);
  return { fgsmB1: rate('fgsm batch1'), fgsmB256: rate('fgsm batch256'), bim10B256: rate('bim10 batch256') };
}

async function lenetSource(tmp: string): Promise<{ source: ModelSource; note: string }> {
  if (listBuiltinModels().some((m) => m.id === LENET_ID)) return { source: { kind: 'builtin', id: LENET_ID }, note: `built-in ${LENET_ID}` };
  const folder = path.join(tmp, 'lenet');
  const model = createLeNet();
  await saveLayersModel(model, folder);
  model.dispose();
  writeFileSync(path.join(folder, 'foolprint.json'), JSON.stringify({
    schemaVersion: 1, name: 'LeNet (random weights)', inputSize: [28, 28], channels: 1, labels: [...'0123456789'],
  }));
  return { source: { kind: 'folder', path: folder }, note: `the built-in ${LENET_ID} is not installed yet: LeNet architecture with random weights (same timings)` };
}

/** MobileNet v1 (width 1.0) shape: 3x3/2 conv, 13 depthwise-separable blocks (ReLU6), pooled dense 1000. */
function createMobileNetLike(): tf.Sequential {
  const model = tf.sequential({ name: 'mobilenet_like' });
  model.add(tf.layers.conv2d({ inputShape: [224, 224, 3], filters: 32, kernelSize: 3, strides: 2, padding: 'same' }));
  model.add(tf.layers.reLU({ maxValue: 6 }));
  const blocks: [number, number][] = [[64, 1], [128, 2], [128, 1], [256, 2], [256, 1], [512, 2], [512, 1], [512, 1], [512, 1], [512, 1], [512, 1], [1024, 2], [1024, 1]];
  for (const [filters, strides] of blocks) {
    model.add(tf.layers.depthwiseConv2d({ kernelSize: 3, strides, padding: 'same' }));
    model.add(tf.layers.reLU({ maxValue: 6 }));
    model.add(tf.layers.conv2d({ filters, kernelSize: 1, padding: 'same' }));
    model.add(tf.layers.reLU({ maxValue: 6 }));
  }
  model.add(tf.layers.globalAveragePooling2d({}));
  model.add(tf.layers.dense({ units: 1000 }));
  return model;
}

/** Seconds per image of one bare BIM step (gradient, sign step, clip to the ε-ball and [0,1]) in-process. */
function mobileNetStepSeconds(batch: number): number {
  const model = createMobileNetLike();
  const x = tf.randomUniform([batch, 224, 224, 3]) as tf.Tensor4D;
  const y = tf.oneHot(tf.randomUniform([batch], 0, 1000, 'int32') as tf.Tensor1D, 1000);
  const grad = tf.grad((img: tf.Tensor) => tf.losses.softmaxCrossEntropy(y, model.predict(img) as tf.Tensor2D));
  const step = () => tf.tidy(() => {
    const adv = x.add(withoutWeightGradients(() => grad(x)).sign().mul(1 / 255));
    return tf.minimum(tf.maximum(adv, x.sub(8 / 255)), x.add(8 / 255)).clipByValue(0, 1);
  });
  step().dispose(); // warm-up
  const steps = quick ? 1 : 3;
  const start = performance.now();
  for (let i = 0; i < steps; i++) {
    const out = step();
    out.dataSync();
    out.dispose();
  }
  const seconds = (performance.now() - start) / 1000 / steps / batch;
  tf.dispose([x, y]);
  model.dispose();
  return seconds;
}

/**
 * Seconds per image of BIM with and without EOT-16 (the default channel) at the same steps, in-process
 * through runAttack: what "robust to print" costs. Each EOT step is ~16 forward and backward passes
 * plus the channel's own work (warp, blur, tone, noise, JPEG in JS).
 */
async function eotCost(classifier: Classifier, batch: number, steps: number): Promise<{ batch: number; steps: number; plain: number; eot16: number; ratio: number }> {
  const [h, w, c] = classifier.inputShape;
  const { images, labels } = randomBatch(batch, h * w * c, classifier.numClasses, 11);
  const bim: AttackOptions = { method: 'bim', epsilons: [0.1], steps, stepSize: 0.01, keepImages: false };
  const time = async (options: AttackOptions) => {
    const start = performance.now();
    await runAttack(classifier, images, labels, options);
    return (performance.now() - start) / 1000 / batch;
  };
  await time({ ...bim, steps: 1, eot: { samples: 2 } }); // warm-up
  const plain = await time(bim);
  const eot16 = await time({ ...bim, eot: { samples: 16 } });
  return { batch, steps, plain, eot16, ratio: eot16 / plain };
}

function mobileNetClassifier(): Classifier {
  const model = createMobileNetLike();
  return {
    id: 'mobilenet-like',
    inputShape: [224, 224, 3],
    numClasses: 1000,
    labels: Array.from({ length: 1000 }, (_, i) => String(i)),
    logits: (x) => model.predict(x) as tf.Tensor2D,
    dispose: () => model.dispose(),
  };
}

/** Share of kernel time per kernel in one in-process FGSM step (forward, input gradient, update). */
async function profileFgsmStep(classifier: Classifier, batch: number): Promise<{ kernel: string; ms: number; share: number }[]> {
  const { images, labels } = randomBatch(batch, 784, 10, 3);
  const x = tf.tensor4d(images, [batch, 28, 28, 1]);
  const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 10);
  const grad = tf.grad((img: tf.Tensor) => tf.losses.softmaxCrossEntropy(y, classifier.logits(img as tf.Tensor4D)));
  const step = () => tf.tidy(() => x.add(withoutWeightGradients(() => grad(x)).sign().mul(0.1)).clipByValue(0, 1));
  step().dispose();
  const info = await tf.profile(() => step());
  (info.result as tf.Tensor).dispose();
  tf.dispose([x, y]);
  const byKernel = new Map<string, number>();
  // 'fusedConv2d__op' and the like are customGrad wrappers whose time includes the kernel they run,
  // as does an 'unnamed scope' (layer-chain.ts's custom-gradient ops around a model's layers).
  for (const k of info.kernels) if (!k.name.endsWith('__op') && k.name !== 'unnamed scope') byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + (k.kernelTimeMs as number));
  const total = [...byKernel.values()].reduce((a, b) => a + b, 0);
  return [...byKernel.entries()].sort((a, b) => b[1] - a[1]).map(([kernel, ms]) => ({ kernel, ms, share: ms / total }));
}

/**
 * CPU seconds (user + system) of this process's children that have been waited for, from
 * /proc/self/stat (cutime + cstime, in clock ticks of 10 ms); undefined off Linux. On a shared,
 * loaded machine wall time mostly measures the neighbours: CPU time says what a change saved.
 */
function childCpuSeconds(): number | undefined {
  try {
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
    // Fields 16 and 17 of proc(5), counted from the state (field 3).
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return undefined;
  }
}

/** `run`'s result with the CPU seconds its children used (childCpuSeconds). */
function withChildCpu<T>(run: () => T): { result: T; cpuSeconds?: number } {
  const before = childCpuSeconds();
  const result = run();
  const after = childCpuSeconds();
  return { result, ...(before !== undefined && after !== undefined ? { cpuSeconds: after - before } : {}) };
}

interface ProcessRun {
  seconds: number; peakRssMb: number; accuracy: number; accuracy8bit: number; backend: string;
  /** User + system CPU seconds of the process and its threads (Linux). */
  cpuSeconds?: number;
  /** Our sweep only: seconds from its start until the first batch was posted to the workers. */
  firstBatchSeconds?: number;
}
interface WholeProcessRound { ours: ProcessRun | { error: string }; torch?: ProcessRun | { error: string }; baseline?: ProcessRun | { error: string } }

const lastLine = (text: string) => text.trim().split('\n').at(-1) ?? '';

/**
 * The environment our Node children run in: this one without NODE_EXTRA_CA_CERTS, which Node reads
 * (the whole CA bundle, ~100 ms of CPU here) at every process start before any of our code, and which
 * these build machines set for their npm proxy; a user's machine does not, and Python never reads it.
 * Kept, it would add 0.1 s to every start-up figure that the peer does not pay.
 */
function userEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

/**
 * `foolprint sweep --model assets/models/lenet-mnist --data MNIST --method fgsm --eps 0.1 --json` as a
 * user runs it, timed from spawn to exit; peak RSS from a preloaded module that reports
 * getrusage's maxRSS (the whole process, worker threads included) on exit.
 */
function runOurSweep(mnist: string, rssProbe: string, root = repoRoot()): ProcessRun | { error: string } {
  const started = performance.now();
  const { result: out, cpuSeconds } = withChildCpu(() => spawnSync(process.execPath, ['--import', pathToFileURL(rssProbe).href, path.join(root, 'dist/main/cli/index.js'), 'sweep',
    '--model', path.join(root, 'assets/models/lenet-mnist'), '--data', mnist, '--method', 'fgsm', '--eps', '0.1', '--json'],
  { encoding: 'utf8', timeout: 900_000, cwd: root, env: userEnv() }));
  const seconds = (performance.now() - started) / 1000;
  if (out.status !== 0) return { error: lastLine(out.stderr || out.error?.message || `exit ${out.status}`) };
  const report = JSON.parse(out.stdout) as {
    backend: string; workers: number; perEpsilon: { float: { accuracy: number }; quantized: { accuracy: number } }[]; startup?: { attackStart: number };
  };
  const rssKb = Number(/maxrss-kb (\d+)/.exec(out.stderr)?.[1]);
  return {
    seconds, peakRssMb: rssKb / 1024, accuracy: report.perEpsilon[0].float.accuracy, accuracy8bit: report.perEpsilon[0].quantized.accuracy, backend: `${report.backend} x${report.workers}`,
    ...(report.startup ? { firstBatchSeconds: report.startup.attackStart } : {}),
    ...(cpuSeconds !== undefined ? { cpuSeconds } : {}),
  };
}

/** The peer's same job (scripts/torch-peer.py sweep): import, load, FGSM, score float and 8-bit. */
function runTorchSweep(python: string, mnist: string): ProcessRun | { error: string } {
  const started = performance.now();
  const { result: out, cpuSeconds } = withChildCpu(() => spawnSync(python, [PEER_SCRIPT, 'sweep', path.join(repoRoot(), 'assets/models/lenet-mnist'), mnist, '0.1', PEER_THREADS], { encoding: 'utf8', timeout: 900_000 }));
  const seconds = (performance.now() - started) / 1000;
  if (out.status !== 0) return { error: lastLine(out.stderr || out.error?.message || `exit ${out.status}`) };
  const report = JSON.parse(lastLine(out.stdout)) as { accuracy: number; accuracy8bit: number; peakRssKb: number; threads: number };
  return { seconds, peakRssMb: report.peakRssKb / 1024, accuracy: report.accuracy, accuracy8bit: report.accuracy8bit, backend: `torch x${report.threads}`, ...(cpuSeconds !== undefined ? { cpuSeconds } : {}) };
}

function flagValue(name: string): string | undefined {
  const flag = process.argv.indexOf(name);
  return flag >= 0 ? process.argv[flag + 1] : undefined;
}

function mnistFolder(): string | undefined {
  const folder = flagValue('--mnist') ?? (process.env.FOOLPRINT_MNIST || undefined);
  // Absolute: a --baseline build runs from its own folder.
  return folder && path.resolve(folder);
}

const showRun = (run: ProcessRun | { error: string } | undefined) => (!run ? 'not run'
  : 'error' in run ? `failed: ${run.error}`
    : `${run.seconds.toFixed(2).padStart(6)} s${run.cpuSeconds === undefined ? '' : ` (cpu ${run.cpuSeconds.toFixed(2)} s)`} ${run.peakRssMb.toFixed(0).padStart(4)} MB  acc ${run.accuracy.toFixed(4)} 8-bit ${run.accuracy8bit.toFixed(4)}  (${run.backend})${run.firstBatchSeconds === undefined ? '' : `  first batch at ${run.firstBatchSeconds.toFixed(2)} s`}`);

interface StartupFigures { root: string; helpSeconds: number[]; modelsSeconds: number[]; helpCpuSeconds: number[]; modelsCpuSeconds: number[] }

/**
 * Wall seconds of `foolprint --help` and `foolprint models` from spawn to exit (issue 12: within 0.3 s),
 * a few runs each, alternating; for our build and, given --baseline, the other one.
 */
function measureStartup(roots: string[]): StartupFigures[] {
  const figures = roots.map((root) => ({ root, helpSeconds: [] as number[], modelsSeconds: [] as number[], helpCpuSeconds: [] as number[], modelsCpuSeconds: [] as number[] }));
  const timed = (root: string, args: string[], seconds: number[], cpuSeconds: number[]) => {
    const started = performance.now();
    const { result: out, cpuSeconds: cpu } = withChildCpu(() => spawnSync(process.execPath, [path.join(root, 'dist/main/cli/index.js'), ...args], { encoding: 'utf8', cwd: root, timeout: 60_000, env: userEnv() }));
    if (out.status !== 0) throw new Error(`foolprint ${args.join(' ')} failed in ${root}: ${lastLine(out.stderr)}`);
    seconds.push((performance.now() - started) / 1000);
    if (cpu !== undefined) cpuSeconds.push(cpu);
  };
  for (let r = 0; r < (quick ? 3 : 7); r++) {
    for (const f of figures) {
      timed(f.root, ['--help'], f.helpSeconds, f.helpCpuSeconds);
      timed(f.root, ['models'], f.modelsSeconds, f.modelsCpuSeconds);
    }
  }
  return figures;
}

function logStartup(figures: StartupFigures[], wholeProcess: WholeProcessRound[]): void {
  log('\nstart-up (wall seconds, spawn to exit; median of the runs):');
  for (const f of figures) {
    const which = f.root === repoRoot() ? 'this build    ' : 'baseline build';
    const cpu = f.helpCpuSeconds.length ? `; cpu ${median(f.helpCpuSeconds).toFixed(2)} s / ${median(f.modelsCpuSeconds).toFixed(2)} s` : '';
    log(`${which} --help ${median(f.helpSeconds).toFixed(3)} s, models ${median(f.modelsSeconds).toFixed(3)} s${cpu}  (runs: ${f.helpSeconds.map((v) => v.toFixed(2)).join(' ')} / ${f.modelsSeconds.map((v) => v.toFixed(2)).join(' ')})`);
  }
  const firstBatch = wholeProcess.map((round) => round.ours).filter((run): run is ProcessRun => !('error' in run) && run.firstBatchSeconds !== undefined).map((run) => run.firstBatchSeconds!);
  if (firstBatch.length) log(`foolprint sweep: first batch posted to the workers ${firstBatch.map((v) => v.toFixed(2)).join(' / ')} s after start (median ${median(firstBatch).toFixed(2)})`);
}

/** Seconds of `a` over seconds of `b` per round where both ran: above 1, b is faster. */
function secondsRatios(rounds: WholeProcessRound[], a: 'torch' | 'baseline', b: 'ours', field: 'seconds' | 'cpuSeconds' = 'seconds'): number[] {
  return rounds
    .map((round) => {
      const x = round[a];
      const y = round[b];
      return x && y && !('error' in x) && !('error' in y) ? (x[field] ?? NaN) / (y[field] ?? NaN) : NaN;
    })
    .filter(Number.isFinite);
}

function logWholeProcess(rounds: WholeProcessRound[]): void {
  log('\nwhole process, FGSM ε=0.1 on the MNIST test set (seconds from start to exit, peak RSS):');
  rounds.forEach((round, i) => {
    log(`round ${i + 1} foolprint sweep ${showRun(round.ours)}`);
    if (round.baseline) log(`round ${i + 1} baseline build  ${showRun(round.baseline)}`);
    if (round.torch) log(`round ${i + 1} PyTorch peer    ${showRun(round.torch)}`);
  });
  const show = (ratios: number[]) => `${ratios.map((v) => v.toFixed(2)).join(' / ')} (median ${median(ratios).toFixed(2)})`;
  const torch = secondsRatios(rounds, 'torch', 'ours');
  const baseline = secondsRatios(rounds, 'baseline', 'ours');
  if (torch.length) log(`speed foolprint / PyTorch (their seconds over ours): ${show(torch)}`);
  if (baseline.length) log(`speed foolprint / baseline build (its seconds over ours): ${show(baseline)}`);
  const torchCpu = secondsRatios(rounds, 'torch', 'ours', 'cpuSeconds');
  const baselineCpu = secondsRatios(rounds, 'baseline', 'ours', 'cpuSeconds');
  if (torchCpu.length) log(`CPU foolprint / PyTorch (their CPU seconds over ours): ${show(torchCpu)}`);
  if (baselineCpu.length) log(`CPU foolprint / baseline build (its CPU seconds over ours): ${show(baselineCpu)}`);
}

async function main(): Promise<void> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'foolprint-bench-'));
  try {
    const load = os.loadavg()[0];
    const peer = findTorchPython();
    const haveTorch = 'python' in peer;
    if (!haveTorch) progress(peer.missing);
    if (process.env.NODE_EXTRA_CA_CERTS) progress('NODE_EXTRA_CA_CERTS is set here: our processes are timed without it, as on a user\'s machine (see userEnv)');
    const mnist = mnistFolder();
    const baselineFlag = flagValue('--baseline');
    const baselineRoot = baselineFlag ? path.resolve(baselineFlag) : undefined;
    const wholeProcess: WholeProcessRound[] = [];
    progress('start-up: --help and models');
    const startup = measureStartup(baselineRoot ? [repoRoot(), baselineRoot] : [repoRoot()]);
    if (mnist) {
      if (!existsSync(path.join(repoRoot(), 'dist/main/cli/index.js'))) throw new Error('the CLI is not built: run npm run build');
      const rssProbe = path.join(tmp, 'maxrss.mjs');
      writeFileSync(rssProbe, "process.on('exit', () => process.stderr.write(`maxrss-kb ${process.resourceUsage().maxRSS}\\n`));\n");
      for (let r = 0; r < ROUNDS; r++) {
        // Alternate who goes first, so neither always runs on the cooler machine.
        const round: WholeProcessRound = { ours: { error: 'not run' } };
        const runOurs = () => { progress(`whole process ${r + 1}/${ROUNDS}: foolprint sweep`); round.ours = runOurSweep(mnist, rssProbe); };
        const runPeer = () => { if (haveTorch) { progress(`whole process ${r + 1}/${ROUNDS}: PyTorch peer`); round.torch = runTorchSweep(peer.python, mnist); } };
        const runBaseline = () => { if (baselineRoot) { progress(`whole process ${r + 1}/${ROUNDS}: baseline build`); round.baseline = runOurSweep(mnist, rssProbe, baselineRoot); } };
        const order = [runOurs, runPeer, runBaseline];
        for (let k = 0; k < order.length; k++) order[(k + r) % order.length]();
        wholeProcess.push(round);
      }
    } else {
      progress('whole-process sweep skipped: pass the MNIST test set folder with --mnist FOLDER or FOOLPRINT_MNIST');
    }
    if (process.argv.includes('--whole-process-only')) {
      if (asJson) process.stdout.write(JSON.stringify({ loadAverageAtStart: load, torch: haveTorch ? peer.torch : null, startup, wholeProcess }, null, 2) + '\n');
      else {
        log(`load average ${load.toFixed(2)} at start${haveTorch ? `; PyTorch ${peer.torch} (${peer.python}), ${PEER_THREADS} threads` : `; ${peer.missing}`}`);
        logWholeProcess(wholeProcess);
        logStartup(startup, wholeProcess);
      }
      return;
    }

    const backend: BackendInfo = await initBackend();
    const { source, note } = await lenetSource(tmp);
    progress(`backend ${backend.name}${backend.simd ? ' (SIMD)' : ''}; model: ${note}`);
    const pool = await ComputePool.create({ model: source });
    const classifier = await loadClassifier(source);

    type Round = { pool: LeNetRates; inProcess: LeNetRates; bareStep: LeNetRates; torch?: LeNetRates | { error: string } };
    const rounds: Round[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      progress(`round ${r + 1}/${ROUNDS}: ours (pool, in-process)`);
      const pooled = await measureLeNet((images, labels, options) => pool.attack(images, labels, options));
      const inProcess = await measureLeNet((images, labels, options) => runAttack(classifier, images, labels, options));
      const bareStep = await measureBareSteps(classifier);
      let torch: Round['torch'];
      if (haveTorch) {
        progress(`round ${r + 1}/${ROUNDS}: PyTorch peer`);
        torch = runTorch(peer.python);
      }
      rounds.push({ pool: pooled, inProcess, bareStep, torch });
    }

    progress('tensor counts over 1,000 attacks');
    const one = randomBatch(1, 784, 10, 4);
    const attacks = 1000;
    const inBefore = tf.memory().numTensors;
    const poolBefore = (await pool.memory()).map((m) => m.numTensors);
    for (let i = 0; i < attacks / 2; i++) {
      await runAttack(classifier, one.images, one.labels, i % 2 ? FGSM : { ...BIM10, steps: 2 });
      await pool.attack(one.images, one.labels, i % 2 ? FGSM : { ...BIM10, steps: 2 });
    }
    const memory = {
      attacks,
      inProcess: { before: inBefore, after: tf.memory().numTensors },
      pool: { before: poolBefore, after: (await pool.memory()).map((m) => m.numTensors) },
    };

    progress('MobileNet-style BIM step');
    const mobileNet = { batch: quick ? 1 : 4, secondsPerImage: mobileNetStepSeconds(quick ? 1 : 4) };

    progress('EOT-16 BIM vs plain BIM');
    const mobileNetEot = mobileNetClassifier();
    const eot = { lenet: await eotCost(classifier, quick ? 8 : 32, quick ? 2 : 5), mobileNet: await eotCost(mobileNetEot, 1, quick ? 1 : 2) };
    mobileNetEot.dispose();

    progress('profile');
    const profile = await profileFgsmStep(classifier, 256);

    const ratiosOf = (which: 'pool' | 'bareStep', key: keyof LeNetRates) => rounds
      .map((round) => (round.torch && !('error' in round.torch) ? round[which][key] / round.torch[key] : NaN))
      .filter(Number.isFinite);
    const ratios = (key: keyof LeNetRates) => ratiosOf('pool', key);
    const bareRatios = (key: keyof LeNetRates) => ratiosOf('bareStep', key);
    const wholeRatios = secondsRatios(wholeProcess, 'torch', 'ours');
    const summary = {
      backend: backend.name, simd: backend.simd ?? false, workers: pool.info().workers, model: note, quick,
      loadAverageAtStart: load, cores: os.availableParallelism(), torch: haveTorch ? peer.torch : null,
      wholeProcess: { rounds: wholeProcess, ratioOursOverTorch: { perRound: wholeRatios, median: median(wholeRatios) } },
      startup,
      rounds,
      ratioOursOverTorch: {
        fgsmB1: { perRound: ratios('fgsmB1'), median: median(ratios('fgsmB1')) },
        fgsmB256: { perRound: ratios('fgsmB256'), median: median(ratios('fgsmB256')) },
        bim10B256: { perRound: ratios('bim10B256'), median: median(ratios('bim10B256')) },
      },
      ratioBareStepOverTorch: {
        fgsmB1: { perRound: bareRatios('fgsmB1'), median: median(bareRatios('fgsmB1')) },
        fgsmB256: { perRound: bareRatios('fgsmB256'), median: median(bareRatios('fgsmB256')) },
        bim10B256: { perRound: bareRatios('bim10B256'), median: median(bareRatios('bim10B256')) },
      },
      memory, mobileNet, eot, profileFgsmB256: profile.slice(0, 8),
      notes: [
        'pool and 1 thread: the full runAttack (top-5 before, float and 8-bit after, norms), keepImages off; bare step and PyTorch: the attack step alone',
        ...(haveTorch ? [] : [peer.missing]),
        ...(mnist ? [] : ['whole-process sweep skipped: no MNIST test set given (--mnist FOLDER or FOOLPRINT_MNIST)']),
      ],
    };

    if (asJson) {
      process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
    } else {
      const f = (v: number) => v.toFixed(0).padStart(7);
      log(`backend ${summary.backend}${summary.simd ? ' SIMD' : ''}, ${summary.workers} workers, ${summary.cores} cores, load average ${load.toFixed(2)} at start`);
      log(`model: ${note}${haveTorch ? `; PyTorch ${peer.torch} (${peer.python}), ${PEER_THREADS} threads` : ''}`);
      if (wholeProcess.length) logWholeProcess(wholeProcess);
      logStartup(startup, wholeProcess);
      log('\nimages/s          FGSM b1  FGSM b256  BIM-10 b256');
      rounds.forEach((round, i) => {
        log(`round ${i + 1} pool      ${f(round.pool.fgsmB1)}    ${f(round.pool.fgsmB256)}      ${f(round.pool.bim10B256)}`);
        log(`round ${i + 1} 1 thread  ${f(round.inProcess.fgsmB1)}    ${f(round.inProcess.fgsmB256)}      ${f(round.inProcess.bim10B256)}`);
        log(`round ${i + 1} bare step ${f(round.bareStep.fgsmB1)}    ${f(round.bareStep.fgsmB256)}      ${f(round.bareStep.bim10B256)}`);
        if (round.torch && !('error' in round.torch)) log(`round ${i + 1} PyTorch   ${f(round.torch.fgsmB1)}    ${f(round.torch.fgsmB256)}      ${f(round.torch.bim10B256)}`);
        else if (round.torch) log(`round ${i + 1} PyTorch   failed: ${round.torch.error}`);
      });
      const r = summary.ratioOursOverTorch;
      const show = (x: { perRound: number[]; median: number }) => `${x.perRound.map((v) => v.toFixed(2)).join(' / ')} (median ${x.median.toFixed(2)})`;
      if (haveTorch) {
        log(`\npool / PyTorch  FGSM b1 ${show(r.fgsmB1)}`);
        log(`                FGSM b256 ${show(r.fgsmB256)}`);
        log(`                BIM-10 b256 ${show(r.bim10B256)}`);
        const b = summary.ratioBareStepOverTorch;
        log(`bare step (1 thread) / PyTorch  FGSM b1 ${show(b.fgsmB1)}`);
        log(`                FGSM b256 ${show(b.fgsmB256)}`);
        log(`                BIM-10 b256 ${show(b.bim10B256)}`);
      }
      log(`\ntensors over ${attacks} attacks: in-process ${memory.inProcess.before} → ${memory.inProcess.after}; workers ${memory.pool.before.join(',')} → ${memory.pool.after.join(',')}`);
      log(`MobileNet-style 224x224x3, one BIM step in-process, batch ${mobileNet.batch}: ${(mobileNet.secondsPerImage * 1000).toFixed(0)} ms/image`);
      for (const [name, e] of [['LeNet', eot.lenet], ['MobileNet-style', eot.mobileNet]] as const) {
        log(`${name} BIM-${e.steps} batch ${e.batch}: plain ${(e.plain * 1000).toFixed(0)} ms/image, EOT-16 ${(e.eot16 * 1000).toFixed(0)} ms/image (${e.ratio.toFixed(1)}x)`);
      }
      log('\nwhere an FGSM step goes (in-process, batch 256):');
      for (const p of summary.profileFgsmB256) log(`  ${p.kernel.padEnd(22)} ${(p.share * 100).toFixed(1).padStart(5)}%  ${p.ms.toFixed(1)} ms`);
      for (const n of summary.notes) log(`note: ${n}`);
    }
    classifier.dispose();
    await pool.close();
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error).message.split('\n')[0]}\n`);
  process.exitCode = 1;
});
