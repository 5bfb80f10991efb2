/**
 * Counting a protected model's rejections apart (app/eval/rejections.ts), in the two places that
 * count predictions: the attack summary (attack, sweep) and the physical experiment's table
 * (analyze, Compare). Hand-built cases with known answers; and detector.json's parser.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AttackResult, TopK } from '../app/attacks/types.js';
import { DetectorError } from '../app/defenses/safetynet.js';
import { parseStoredDetector } from '../app/defenses/stored-detector.js';
import { protectedCounts } from '../app/eval/rejections.js';
import { summarizeAttack } from '../app/eval/summary.js';
import { experimentTable, samplesFromPhotographs } from '../app/physical/metrics.js';
import type { PhotographedCell } from '../app/physical/metrics.js';

const top1 = (labels: number[]): TopK => ({ k: 1, labels: Int32Array.from(labels), probs: new Float32Array(labels.length).fill(1) });
const view = (labels: number[], trueLabels: number[]) => ({ after: top1(labels), success: Uint8Array.from(labels, (l, i) => Number(l !== trueLabels[i])), linf: new Float32Array(labels.length), l2: new Float32Array(labels.length) });

describe('protectedCounts', () => {
  it('splits every image into accepted right, accepted wrong and rejected', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.boolean()), { maxLength: 50 }), (images) => {
        const counts = protectedCounts(images.map(([rejected]) => rejected), (i) => images[i][1]);
        expect(counts.correct + counts.wrong + counts.rejected).toBe(images.length);
        expect(counts.rejected).toBe(images.filter(([r]) => r).length);
        expect(counts.correct).toBe(images.filter(([r, c]) => !r && c).length);
      }),
    );
  });
});

describe('summarizeAttack with a protected model', () => {
  const labels = [0, 1, 2, 3];
  const result: AttackResult = {
    method: 'fgsm',
    options: { method: 'fgsm', epsilons: [0.1] },
    shape: [4, 1, 1, 1],
    labels: Int32Array.from(labels),
    before: top1([0, 1, 2, 9]),
    perEpsilon: [{ epsilon: 0.1, float: view([5, 1, 6, 9], labels), quantized: view([5, 1, 2, 9], labels) }],
  };

  it('counts clean false positives and adversarial detections apart, leaving accuracy the classifier\'s', () => {
    const rejections = { clean: Uint8Array.from([0, 0, 0, 1]), perEpsilon: [{ float: Uint8Array.from([1, 0, 1, 0]), quantized: Uint8Array.from([1, 0, 0, 0]) }] };
    const plain = summarizeAttack(result);
    const screened = summarizeAttack({ ...result, rejections });
    expect(screened.cleanProtected).toEqual({ correct: 3, wrong: 0, rejected: 1 });
    // Float: image 0 (fooled, rejected), 1 (right), 2 (fooled, rejected), 3 (wrong, accepted).
    expect(screened.perEpsilon[0].float.protected).toEqual({ correct: 1, wrong: 1, rejected: 2 });
    expect(screened.perEpsilon[0].quantized.protected).toEqual({ correct: 2, wrong: 1, rejected: 1 });
    expect(screened.perEpsilon[0].float.accuracy).toBe(plain.perEpsilon[0].float.accuracy);
    expect(screened.cleanAccuracy).toBe(plain.cleanAccuracy);
    expect(plain.cleanProtected).toBeUndefined();
    expect(plain.perEpsilon[0].float.protected).toBeUndefined();
  });
});

describe('experimentTable with a protected model', () => {
  const top = (label: number) => [{ label, probability: 0.9 }];
  const digital = (clean: number, adversarial: number) => ({ clean: { float: top(clean), quantized: top(clean) }, adversarial: { float: top(adversarial), quantized: top(adversarial) } });
  const cell = (kind: 'clean' | 'adversarial', imageId: string, trueLabel: number, photographed: number, rejected?: boolean): PhotographedCell => ({
    record: { kind, imageId, method: 'fgsm', epsilon: 0.3, trueLabel, digital: digital(trueLabel, (trueLabel + 1) % 10) },
    top5: top(photographed),
    ...(rejected === undefined ? {} : { rejected }),
  });

  it('counts the photographed clean and adversarial images\' rejections apart from the destruction rate', () => {
    const screened = [
      cell('clean', 'a', 1, 1, false), cell('adversarial', 'a', 1, 1, true),
      cell('clean', 'b', 2, 2, true), cell('adversarial', 'b', 2, 3, true),
      cell('clean', 'c', 4, 4, false), cell('adversarial', 'c', 4, 5, false),
    ];
    const [average] = experimentTable(samplesFromPhotographs([screened]));
    expect(average.rejections).toEqual({ transformedClean: { correct: 2, wrong: 0, rejected: 1 }, transformedAdversarial: { correct: 0, wrong: 1, rejected: 2 } });
    // The destruction rate is the classifier's: image a's print destroyed the attack, rejected or not.
    const plain = experimentTable(samplesFromPhotographs([screened.map(({ rejected: _, ...c }) => c)]))[0];
    expect(average.destructionTop1).toEqual(plain.destructionTop1);
    expect(plain.rejections).toBeNull();
  });
});

describe('detector.json', () => {
  const valid = {
    schemaVersion: 1, modelId: 'lenet-mnist', layer: 'fc1', units: 2, quantisation: 'quaternary', train: { attack: 'fgsm', epsilon: 0.25 },
    threshold: 0.4, falsePositiveRate: 0.05, codebook: { quantisation: 'quaternary', units: 2, thresholds: [[0, 1, 2], [0, 0.5, 1]] }, svm: 'svm_type c_svc\n',
  };

  it('reads a valid one and refuses broken ones in one line naming the field', () => {
    expect(parseStoredDetector(JSON.stringify(valid)).layer).toBe('fc1');
    expect(() => parseStoredDetector('{', 'd.json')).toThrow(/^d\.json is not JSON$/);
    expect(() => parseStoredDetector(JSON.stringify({ ...valid, svm: '' }))).toThrow(/svm/);
    expect(() => parseStoredDetector(JSON.stringify({ ...valid, codebook: { ...valid.codebook, thresholds: [[0]] } }))).toThrow(/codebook\.thresholds/);
    expect(() => parseStoredDetector(JSON.stringify({ ...valid, codebook: { ...valid.codebook, thresholds: [[0, 1, 2], [0]] } }))).toThrow(/codebook\.thresholds\.1: needs 3/);
    expect(() => parseStoredDetector(JSON.stringify({ ...valid, threshold: 'high' }))).toThrow(/threshold/);
  });

  it('any text either parses or fails with a one-line DetectorError, never anything else', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.constant(JSON.stringify(valid))), (text) => {
        try {
          parseStoredDetector(text);
        } catch (error) {
          expect(error).toBeInstanceOf(DetectorError);
          expect((error as Error).message).not.toMatch(/\n/);
        }
      }),
    );
  });
});
