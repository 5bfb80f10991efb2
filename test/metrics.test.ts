import { describe, expect, it } from 'vitest';
import { accuracy, classifiedCorrectly, destructionRate, experimentTable, inPrefilteredCase, topKToLists } from '../app/physical/metrics.js';
import type { ExperimentSample, TopList } from '../app/physical/metrics.js';

/** A top-5 list whose order is `labels`, probabilities 0.6, 0.2, 0.1, 0.06, 0.04 unless given. */
const top = (labels: number[], first = 0.6): TopList => {
  const rest = [0.2, 0.1, 0.06, 0.04].map((p) => (p * (1 - first)) / 0.4);
  return labels.map((label, i) => ({ label, probability: i === 0 ? first : rest[i - 1] }));
};

describe('classifiedCorrectly', () => {
  it('top-1 needs the label first, top-5 anywhere in the first five', () => {
    const t = top([3, 1, 4, 1, 5]);
    expect(classifiedCorrectly(t, 3, 1)).toBe(true);
    expect(classifiedCorrectly(t, 4, 1)).toBe(false);
    expect(classifiedCorrectly(t, 4, 5)).toBe(true);
    expect(classifiedCorrectly(t, 9, 5)).toBe(false);
  });
});

describe('destructionRate (Kurakin et al. 2016, Eq. 1)', () => {
  // y = 0 for all. Hand count, top-1:
  //  a: clean ok, adv wrong, T(adv) ok   -> eligible, destroyed
  //  b: clean ok, adv wrong, T(adv) wrong -> eligible
  //  c: clean ok, adv ok                  -> not eligible (attack failed)
  //  d: clean wrong                       -> not eligible
  //  e: clean ok, adv wrong (0 in top-5), T(adv) 0 second -> eligible top-1 (not destroyed), top-5 eligible? adv has 0 at rank 2 -> no
  //  f: clean ok, adv 0 nowhere, T(adv) 0 at rank 3 -> top-1 eligible not destroyed; top-5 eligible and destroyed
  const samples = [
    { trueLabel: 0, clean: top([0, 1, 2, 3, 4]), adversarial: top([1, 2, 3, 4, 5]), transformedAdversarial: top([0, 1, 2, 3, 4]) },
    { trueLabel: 0, clean: top([0, 1, 2, 3, 4]), adversarial: top([1, 2, 3, 4, 5]), transformedAdversarial: top([1, 2, 3, 4, 5]) },
    { trueLabel: 0, clean: top([0, 1, 2, 3, 4]), adversarial: top([0, 2, 3, 4, 5]), transformedAdversarial: top([0, 1, 2, 3, 4]) },
    { trueLabel: 0, clean: top([1, 0, 2, 3, 4]), adversarial: top([1, 2, 3, 4, 5]), transformedAdversarial: top([0, 1, 2, 3, 4]) },
    { trueLabel: 0, clean: top([0, 1, 2, 3, 4]), adversarial: top([1, 0, 3, 4, 5]), transformedAdversarial: top([1, 0, 3, 4, 5]) },
    { trueLabel: 0, clean: top([0, 1, 2, 3, 4]), adversarial: top([1, 2, 3, 4, 5]), transformedAdversarial: top([1, 2, 0, 4, 5]) },
  ];
  it('top-1: eligible a, b, e, f; destroyed a → 1/4', () => {
    expect(destructionRate(samples, 1)).toEqual({ rate: 0.25, destroyed: 1, eligible: 4 });
  });
  it('top-5: eligible a, b, d, f (e keeps 0 in its adversarial top-5); destroyed a, d, f → 3/4', () => {
    // d: clean [1,0,...] has 0 in top-5 → correct; adv [1..5] wrong; T(adv) [0,...] → destroyed.
    expect(destructionRate(samples, 5)).toEqual({ rate: 3 / 4, destroyed: 3, eligible: 4 });
  });
  it('0/0 is null, not NaN', () => {
    expect(destructionRate([samples[2]], 1)).toEqual({ rate: null, destroyed: 0, eligible: 0 });
    expect(destructionRate([], 5).rate).toBeNull();
  });
});

describe('accuracy', () => {
  it('counts top-1 and top-5 hits', () => {
    const lists = [top([0, 1, 2, 3, 4]), top([1, 0, 2, 3, 4]), top([1, 2, 3, 4, 5]), top([7, 8, 9, 1, 2])];
    expect(accuracy(lists, [0, 0, 0, 2])).toEqual({ top1: 0.25, top5: 0.75, count: 4 });
    expect(accuracy([], [])).toEqual({ top1: null, top5: null, count: 0 });
    expect(() => accuracy(lists, [0])).toThrow(/4 prediction lists but 1 labels/);
  });
});

describe('prefiltered case', () => {
  it('needs clean top-1 correct, adversarial wrong in top-5 and confident', () => {
    const clean = top([0, 1, 2, 3, 4]);
    expect(inPrefilteredCase({ trueLabel: 0, clean, adversarial: top([1, 2, 3, 4, 5], 0.9) })).toBe(true);
    expect(inPrefilteredCase({ trueLabel: 0, clean, adversarial: top([1, 2, 3, 4, 5], 0.7) })).toBe(false);
    expect(inPrefilteredCase({ trueLabel: 0, clean, adversarial: top([1, 2, 3, 4, 0], 0.9) })).toBe(false);
    expect(inPrefilteredCase({ trueLabel: 0, clean: top([1, 0, 2, 3, 4]), adversarial: top([1, 2, 3, 4, 5], 0.9) })).toBe(false);
    expect(inPrefilteredCase({ trueLabel: 0, clean, adversarial: top([1, 2, 3, 4, 5], 0.7) }, 0.5)).toBe(true);
  });
});

describe('experimentTable', () => {
  it('groups by method and ε, average and prefiltered rows with hand-computed rates', () => {
    const s = (method: string, epsilon: number, adv: number[], advP: number, tAdv: number[], tClean?: number[]): ExperimentSample => ({
      method, epsilon, trueLabel: 0, clean: top([0, 1, 2, 3, 4]), adversarial: top(adv, advP), transformedAdversarial: top(tAdv),
      ...(tClean ? { transformedClean: top(tClean) } : {}),
    });
    const samples = [
      s('fgsm', 0.1, [1, 2, 3, 4, 5], 0.9, [0, 1, 2, 3, 4], [0, 1, 2, 3, 4]),
      s('fgsm', 0.1, [1, 2, 3, 4, 5], 0.5, [1, 2, 3, 4, 5], [1, 0, 2, 3, 4]),
      s('fgsm', 0.1, [0, 2, 3, 4, 5], 0.9, [0, 2, 3, 4, 5]),
      s('bim', 0.1, [1, 2, 3, 4, 5], 0.95, [1, 2, 3, 4, 5]),
    ];
    const rows = experimentTable(samples);
    expect(rows.map((r) => [r.method, r.epsilon, r.case, r.count])).toEqual([
      ['fgsm', 0.1, 'average', 3], ['fgsm', 0.1, 'prefiltered', 1], ['bim', 0.1, 'average', 1], ['bim', 0.1, 'prefiltered', 1],
    ]);
    const [fgsmAverage, fgsmPre, bimAverage] = rows;
    expect(fgsmAverage.destructionTop1).toEqual({ rate: 0.5, destroyed: 1, eligible: 2 });
    expect(fgsmAverage.digitalAdversarial.top1).toBeCloseTo(1 / 3);
    expect(fgsmAverage.transformedAdversarial.top1).toBeCloseTo(2 / 3);
    expect(fgsmAverage.transformedClean).toEqual({ top1: 0.5, top5: 1, count: 2 });
    expect(fgsmPre.destructionTop1).toEqual({ rate: 1, destroyed: 1, eligible: 1 });
    expect(bimAverage.destructionTop1).toEqual({ rate: 0, destroyed: 0, eligible: 1 });
  });
});

describe('topKToLists', () => {
  it('splits flat arrays per image', () => {
    const lists = topKToLists({ k: 2, labels: Int32Array.from([3, 1, 0, 2]), probs: Float32Array.from([0.75, 0.25, 0.5, 0.5]) });
    expect(lists).toEqual([[{ label: 3, probability: 0.75 }, { label: 1, probability: 0.25 }], [{ label: 0, probability: 0.5 }, { label: 2, probability: 0.5 }]]);
  });
});
