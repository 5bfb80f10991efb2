/**
 * `npm run bench`, training part: examples/s of app/defenses/training.ts on the seed's LeNet
 * (batch 64, Adam, dropout), plain and adversarial with PGD-7 at ε 0.3 inside (Madry et al.), against
 * the seed-style PyTorch loop on the same architecture (scripts/torch-peer.py train, 2 threads) in
 * the same run, alternating who goes first. Random digits: timings do not depend on the pixels.
 * On a shared machine the figures are noisy: read the ratios, and the load average printed with them.
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { createNetwork } from '../app/defenses/architectures.js';
import { DEFAULT_TRAINING, defaultAdversarialSettings, trainDefense, type TrainingSettings } from '../app/defenses/training.js';
import { mulberry32 } from '../app/seeded-random.js';
import { initBackend } from '../app/node/backend.js';
import { repoRoot } from '../app/node/repo-root.js';
import { findTorchPython } from './torch-python.js';

const COUNT = 1024;
const ROUNDS = process.argv.includes('--quick') ? 1 : 2;
const asJson = process.argv.includes('--json');

async function ours(steps: number): Promise<number> {
  const random = mulberry32(1);
  const train = { images: Float32Array.from({ length: COUNT * 784 }, () => random()), labels: Int32Array.from({ length: COUNT }, () => Math.floor(random() * 10)), count: COUNT };
  const settings: TrainingSettings = {
    ...DEFAULT_TRAINING, epochs: 1, augment: false, evaluation: { epsilon: 0.3, steps: 0 },
    ...(steps > 0 ? { method: 'adversarial', adversarial: defaultAdversarialSettings('pgd', 0.3, steps) } : { method: 'plain' }),
  };
  const empty = { images: new Float32Array(0), labels: new Int32Array(0), count: 0 };
  const { model, history } = await trainDefense({ createNetwork: () => createNetwork({ architecture: 'lenet', width: 1 }, [28, 28, 1], 10), inputShape: [28, 28, 1], numClasses: 10, train, evaluation: empty }, settings);
  model.dispose();
  return history[0].examplesPerSecond;
}

let peer: ReturnType<typeof findTorchPython> | undefined;

function torch(): { plain: number; pgd7: number } | { error: string } {
  // The same Python the other benchmarks find (python3 on PATH may lack torch where /usr/bin/python3 has it).
  peer ??= findTorchPython();
  if (!('python' in peer)) return { error: peer.missing };
  const python = peer.python;
  const out = spawnSync(python, [path.join(repoRoot(), 'scripts/torch-peer.py'), 'train', '2'], { encoding: 'utf8', timeout: 1_800_000 });
  if (out.status !== 0) return { error: (out.stderr || out.error?.message || `exit ${out.status}`).trim().split('\n').at(-1)! };
  const rate = (label: string) => Number(new RegExp(`${label}\\s+([\\d.]+) examples/s`).exec(out.stdout)?.[1]);
  return { plain: rate('train plain'), pgd7: rate('train pgd7') };
}

async function main(): Promise<void> {
  const load = os.loadavg()[0];
  const backend = await initBackend();
  await ours(0); // warm-up: kernels compiled, weights allocated once
  const rounds: { ours: { plain: number; pgd7: number }; torch: ReturnType<typeof torch> }[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let peer: ReturnType<typeof torch> = { error: 'not run' };
    if (r % 2 === 1) peer = torch();
    const mine = { plain: await ours(0), pgd7: await ours(7) };
    if (r % 2 === 0) peer = torch();
    rounds.push({ ours: mine, torch: peer });
  }
  if (asJson) {
    process.stdout.write(JSON.stringify({ backend: backend.name, loadAverageAtStart: load, examples: COUNT, rounds }, null, 2) + '\n');
    return;
  }
  console.log(`\ntraining examples/s, seed's LeNet, batch 64 (backend ${backend.name}, load average ${load.toFixed(2)} at start)`);
  console.log('                  plain   PGD-7 adversarial');
  rounds.forEach((round, i) => {
    console.log(`round ${i + 1} ours     ${round.ours.plain.toFixed(0).padStart(6)}  ${round.ours.pgd7.toFixed(0).padStart(6)}`);
    if ('error' in round.torch) console.log(`round ${i + 1} PyTorch  failed: ${round.torch.error}`);
    else console.log(`round ${i + 1} PyTorch  ${round.torch.plain.toFixed(0).padStart(6)}  ${round.torch.pgd7.toFixed(0).padStart(6)}  (ours/PyTorch ${(round.ours.plain / round.torch.plain).toFixed(2)}, ${(round.ours.pgd7 / round.torch.pgd7).toFixed(2)})`);
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`bench-training failed: ${(error as Error).message.split('\n')[0]}\n`);
  process.exitCode = 1;
});
