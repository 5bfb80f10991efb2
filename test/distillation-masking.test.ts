/**
 * Gradient masking by defensive distillation (Carlini & Wagner 2016), on the shipped models: the
 * distilled LeNet, deployed at T = 1, has logit gaps in the hundreds, so the textbook float32
 * cross-entropy gradient ('ce-float32') rounds to 0 and FGSM barely moves, while the logit margin
 * and our cancellation-free 'ce' still fool it. On the undefended LeNet the three stay close.
 * Runs on WASM with the project's gradient kernels, as the app does, on the first 60 built-in sample digits.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { runAttack } from '../app/attacks/index.js';
import { ATTACK_LOSSES, type AttackLoss } from '../app/attacks/types.js';
import { loadDataset } from '../app/node/dataset-loader.js';
import { initBackend } from '../app/node/backend.js';
import { loadClassifier } from '../app/node/model-loader.js';

const COUNT = 60;

beforeAll(async () => {
  await initBackend({ prefer: 'wasm' });
});

/** FGSM at ε 0.3 per loss: how many of the correctly classified digits each flips, and how many were correct. */
async function fgsmFlips(id: string): Promise<{ correct: number; flipped: Record<AttackLoss, number> }> {
  const classifier = await loadClassifier({ kind: 'builtin', id });
  const data = await loadDataset('samples', { limit: COUNT });
  const flipped = {} as Record<AttackLoss, number>;
  let correct = 0;
  for (const loss of ATTACK_LOSSES) {
    const result = await runAttack(classifier, data.images, data.labels, { method: 'fgsm', epsilons: [0.3], loss, keepImages: false });
    const { k, labels } = result.before;
    const { success } = result.perEpsilon[0].float;
    correct = 0;
    flipped[loss] = 0;
    for (let i = 0; i < data.count; i++) {
      if (labels[i * k] !== data.labels[i]) continue;
      correct++;
      flipped[loss] += success[i];
    }
  }
  classifier.dispose();
  return { correct, flipped };
}

describe('FGSM loss vs defensive distillation (shipped models)', () => {
  it('on lenet-mnist-distilled the float32 textbook cross-entropy fools far fewer digits than the margin and than ce', async () => {
    const { correct, flipped } = await fgsmFlips('lenet-mnist-distilled');
    expect(correct).toBeGreaterThan(COUNT / 2);
    // The masking: the margin attack (and ours) fool most digits, the textbook gradient a small fraction of that.
    expect(flipped.margin, JSON.stringify(flipped)).toBeGreaterThan(correct / 2);
    expect(flipped['ce-float32'], JSON.stringify(flipped)).toBeLessThan(flipped.margin / 4);
    expect(flipped['ce-float32'], JSON.stringify(flipped)).toBeLessThan(flipped.ce / 4);
  }, 120_000);

  it('on the undefended lenet-mnist the three losses fool about as many digits', async () => {
    const { correct, flipped } = await fgsmFlips('lenet-mnist');
    expect(flipped.margin, JSON.stringify(flipped)).toBeGreaterThan(correct / 2);
    for (const loss of ATTACK_LOSSES) expect(flipped[loss], `${loss} ${JSON.stringify(flipped)}`).toBeGreaterThanOrEqual(0.75 * flipped.margin);
  }, 120_000);
});
