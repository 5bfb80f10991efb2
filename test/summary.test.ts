import { describe, expect, it } from 'vitest';
import { summarizeAttack, topKAccuracy } from '../app/eval/summary.js';
import type { AdversarialView, AttackResult, TopK } from '../app/attacks/types.js';

/** Top-1 only (k = 2, second class filled with anything) from a list of predicted labels. */
function topK(top1: number[]): TopK {
  return {
    k: 2,
    labels: Int32Array.from(top1.flatMap((c) => [c, (c + 1) % 3])),
    probs: Float32Array.from(top1.flatMap(() => [0.7, 0.2])),
  };
}

function view(top1: number[], success: number[], linf: number[], l2: number[], targetHit?: number[]): AdversarialView {
  const v: AdversarialView = { after: topK(top1), success: Uint8Array.from(success), linf: Float32Array.from(linf), l2: Float32Array.from(l2) };
  if (targetHit) v.targetHit = Uint8Array.from(targetHit);
  return v;
}

describe('summarizeAttack', () => {
  // Four images, labels 0 1 2 0; image 3 is misclassified before the attack.
  const labels = Int32Array.from([0, 1, 2, 0]);
  const result: AttackResult = {
    method: 'fgsm',
    options: { method: 'fgsm', epsilons: [0, 0.1] },
    shape: [4, 1, 1, 1],
    labels,
    before: topK([0, 1, 2, 1]),
    perEpsilon: [
      {
        epsilon: 0,
        float: view([0, 1, 2, 1], [0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]),
        quantized: view([0, 1, 2, 1], [0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]),
        iterations: Int32Array.from([1, 1, 1, 1]),
      },
      {
        epsilon: 0.1,
        // Float: images 0 and 2 fooled. 8-bit: only image 2 fooled, image 3 now right by chance.
        float: view([2, 1, 0, 1], [1, 0, 1, 1], [0.1, 0.1, 0.1, 0.1], [0.5, 0.4, 0.3, 0.2]),
        quantized: view([0, 1, 0, 0], [0, 0, 1, 0], [0.2, 0.1, 0.1, 0], [0.6, 0.4, 0.4, 0.2]),
      },
    ],
  };

  it('counts accuracy over all images and success over the clean-correct ones', () => {
    const s = summarizeAttack(result);
    expect(s.method).toBe('fgsm');
    expect(s.count).toBe(4);
    expect(s.cleanAccuracy).toBe(0.75);
    expect(s.cleanCorrect).toBe(3);
    expect(s.targeted).toBe(false);
    expect(s.perEpsilon.map((e) => e.epsilon)).toEqual([0, 0.1]);
    expect(s.perEpsilon[0].float).toEqual({ accuracy: 0.75, successRate: 0, meanLinf: 0, meanL2: 0 });
    expect(s.perEpsilon[0].meanIterations).toBe(1);
    const f = s.perEpsilon[1].float;
    expect(f.accuracy).toBe(0.25);
    expect(f.successRate).toBeCloseTo(2 / 3, 12);
    expect(f.meanLinf).toBeCloseTo(0.1, 7);
    expect(f.meanL2).toBeCloseTo(0.35, 7);
    const q = s.perEpsilon[1].quantized;
    expect(q.accuracy).toBe(0.75);
    expect(q.successRate).toBeCloseTo(1 / 3, 12);
    expect(q.meanLinf).toBeCloseTo(0.1, 7);
    expect(q.meanL2).toBeCloseTo(0.4, 7);
    expect(s.perEpsilon[1].meanIterations).toBeUndefined();
  });

  it('reports the target hit rate of targeted attacks and survives zero images', () => {
    const targeted: AttackResult = {
      ...result,
      options: { method: 'pgd', epsilons: [0.1], criterion: { kind: 'targeted', targets: Int32Array.from([1, 1, 1, 1]) } },
      perEpsilon: [{ ...result.perEpsilon[1], float: view([1, 1, 0, 1], [1, 1, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0], [1, 1, 0, 1]) }],
    };
    const s = summarizeAttack(targeted);
    expect(s.targeted).toBe(true);
    expect(s.perEpsilon[0].float.targetHitRate).toBe(0.75);
    expect(s.perEpsilon[0].float.successRate).toBeCloseTo(2 / 3, 12);
    const empty = summarizeAttack({ ...result, labels: new Int32Array(0), before: topK([]), shape: [0, 1, 1, 1], perEpsilon: [] });
    expect(empty).toMatchObject({ count: 0, cleanAccuracy: 0, perEpsilon: [] });
  });
});

describe('topKAccuracy', () => {
  it('counts a label found anywhere in the first k predictions', () => {
    const top = { k: 3, labels: new Int32Array([1, 2, 3, 4, 5, 6, 7, 8, 9]), probs: new Float32Array(9) };
    const labels = [1, 6, 0];
    expect(topKAccuracy(top, labels, 1)).toBeCloseTo(1 / 3, 12);
    expect(topKAccuracy(top, labels, 3)).toBeCloseTo(2 / 3, 12);
    // k beyond the list's depth uses what is there.
    expect(topKAccuracy(top, labels, 5)).toBeCloseTo(2 / 3, 12);
    expect(topKAccuracy(top, [], 1)).toBe(0);
  });
});
