/**
 * npm run bench (third part) [-- --quick] [-- --json]
 *
 * One bare BIM step per image (forward, input gradient, sign step, clip to the ε-ball and [0,1]) on
 * torchvision's ResNet-18 and MobileNetV2 at 224x224, imported from ONNX and run by Foolprint, next to
 * the same step in PyTorch on the same machine (scripts/torch-peer.py onnx-step, the models run
 * natively). The ONNX files are exported by the peer (seeded random weights: weights do not change
 * timings); FOOLPRINT_ONNX_BIG=<folder> with resnet18.onnx and mobilenet_v2.onnx measures ours
 * without PyTorch. Rounds interleave ours and the peer's, alternating who goes first, because the
 * machine is shared and noisy: read the ratios per round, not one figure.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { withoutWeightGradients } from '../app/engine/kernels/weight-gradients.js';
import { initBackend } from '../app/node/backend.js';
import { repoRoot } from '../app/node/model-loader.js';
import { readOnnxNetwork } from '../app/node/onnx-loader.js';
import { findTorchPython } from './torch-python.js';

const quick = process.argv.includes('--quick');
const asJson = process.argv.includes('--json');
const ROUNDS = quick ? 1 : 3;
const STEPS = quick ? 1 : 2;
const BATCH = 1;
const THREADS = '2';
const MODELS = ['resnet18', 'mobilenet_v2'] as const;
const PEER_SCRIPT = path.join(repoRoot(), 'scripts/torch-peer.py');
const log = (line: string) => process.stdout.write(line + '\n');
const progress = (line: string) => process.stderr.write(line + '\n');

/** Seconds per image of one bare BIM step on the ONNX file, in-process on the current backend. */
async function ourStepSeconds(file: string): Promise<number> {
  const network = await readOnnxNetwork(file);
  const x0 = tf.randomUniform([BATCH, 224, 224, 3]) as tf.Tensor4D;
  const y = tf.oneHot(tf.randomUniform([BATCH], 0, 1000, 'int32') as tf.Tensor1D, 1000);
  const grad = tf.grad((img: tf.Tensor) => tf.losses.softmaxCrossEntropy(y, network.forward(img as tf.Tensor4D)));
  const step = (x: tf.Tensor) => tf.tidy(() => {
    const adv = x.add(withoutWeightGradients(() => grad(x)).sign().mul(1 / 255));
    return tf.minimum(tf.maximum(adv, x0.sub(8 / 255)), x0.add(8 / 255)).clipByValue(0, 1);
  });
  try {
    let adv = step(x0); // warm-up: filters uploaded, kernels compiled
    await adv.data();
    const start = performance.now();
    for (let s = 0; s < STEPS; s++) {
      const next = step(adv);
      adv.dispose();
      adv = next;
    }
    await adv.data();
    adv.dispose();
    return (performance.now() - start) / 1000 / STEPS / BATCH;
  } finally {
    tf.dispose([x0, y]);
    network.dispose();
  }
}

function peerStepSeconds(python: string, model: string): number | { error: string } {
  const out = spawnSync(python, [PEER_SCRIPT, 'onnx-step', model, String(BATCH), String(STEPS), THREADS], { encoding: 'utf8', timeout: 1_800_000 });
  if (out.status !== 0) return { error: (out.stderr || out.error?.message || `exit ${out.status}`).trim().split('\n').at(-1)! };
  return (JSON.parse(out.stdout.trim().split('\n').at(-1)!) as { secondsPerImage: number }).secondsPerImage;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function main(): Promise<void> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'foolprint-bench-onnx-'));
  try {
    const load = os.loadavg()[0];
    const peer = findTorchPython();
    let folder = process.env.FOOLPRINT_ONNX_BIG;
    if (!folder) {
      if (!('python' in peer)) {
        log(`ONNX BIM step skipped: the models are exported by PyTorch (${peer.missing}), or give a folder with resnet18.onnx and mobilenet_v2.onnx in FOOLPRINT_ONNX_BIG`);
        return;
      }
      progress('ONNX: exporting torchvision ResNet-18 and MobileNetV2 with PyTorch');
      const out = spawnSync(peer.python, [PEER_SCRIPT, 'onnx-export', tmp], { encoding: 'utf8', timeout: 1_800_000 });
      if (out.status !== 0) throw new Error(`the ONNX export failed: ${(out.stderr || `exit ${out.status}`).trim().split('\n').at(-1)}`);
      folder = tmp;
    }
    for (const model of MODELS) if (!existsSync(path.join(folder, `${model}.onnx`))) throw new Error(`${folder} has no ${model}.onnx`);
    const backend = await initBackend();
    const rounds: Record<string, { ours: number; torch?: number | { error: string } }[]> = { resnet18: [], mobilenet_v2: [] };
    for (let r = 0; r < ROUNDS; r++) {
      for (const model of MODELS) {
        const round: { ours: number; torch?: number | { error: string } } = { ours: NaN };
        const runOurs = async () => { progress(`ONNX round ${r + 1}/${ROUNDS}: ${model}, ours`); round.ours = await ourStepSeconds(path.join(folder, `${model}.onnx`)); };
        const runPeer = async () => { if ('python' in peer) { progress(`ONNX round ${r + 1}/${ROUNDS}: ${model}, PyTorch`); round.torch = peerStepSeconds(peer.python, model); } };
        // Alternate who goes first, so neither always runs on the cooler machine.
        for (const run of r % 2 ? [runPeer, runOurs] : [runOurs, runPeer]) await run();
        rounds[model].push(round);
      }
    }
    const ratios = (model: string) => rounds[model].map((x) => (typeof x.torch === 'number' ? x.ours / x.torch : NaN)).filter(Number.isFinite);
    const summary = {
      backend: backend.name, simd: backend.simd ?? false, batch: BATCH, steps: STEPS, loadAverageAtStart: load, cores: os.availableParallelism(),
      torch: 'python' in peer ? `${peer.torch} (${peer.python}), ${THREADS} threads` : null,
      rounds, oursOverTorch: Object.fromEntries(MODELS.map((m) => [m, { perRound: ratios(m), median: median(ratios(m)) }])),
      ...('python' in peer ? {} : { note: peer.missing }),
    };
    if (asJson) {
      process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
      return;
    }
    log(`\nONNX import, one BIM step at 224x224x3, batch ${BATCH} (backend ${backend.name}${backend.simd ? ' SIMD' : ''}, load average ${load.toFixed(2)} at start${summary.torch ? `; PyTorch ${summary.torch}` : ''})`);
    const ms = (s: number) => `${(s * 1000).toFixed(0).padStart(6)} ms/image`;
    for (const model of MODELS) {
      rounds[model].forEach((round, i) => {
        const torch = round.torch === undefined ? '' : typeof round.torch === 'number' ? `   PyTorch ${ms(round.torch)}` : `   PyTorch failed: ${round.torch.error}`;
        log(`round ${i + 1} ${model.padEnd(13)} ours ${ms(round.ours)}${torch}`);
      });
      const r = summary.oursOverTorch[model];
      if (r.perRound.length) log(`${model} ours / PyTorch seconds: ${r.perRound.map((v) => v.toFixed(2)).join(' / ')} (median ${r.median.toFixed(2)})`);
    }
    if (summary.note) log(`note: ${summary.note}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error).message.split('\n')[0]}\n`);
  process.exitCode = 1;
});
