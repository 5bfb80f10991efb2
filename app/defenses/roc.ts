/**
 * How well a detector's scores separate positives (adversarial) from negatives (clean): the area
 * under the ROC curve and the true-positive rate at a fixed false-positive rate, the two figures
 * Lu et al. (SafetyNet, 2017) and most detector papers report.
 */

export class DetectorScoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DetectorScoreError';
  }
}

function checkScores(scores: ArrayLike<number>, positive: ArrayLike<number>): { positives: number; negatives: number } {
  if (scores.length !== positive.length) throw new DetectorScoreError(`${scores.length} scores but ${positive.length} labels`);
  let positives = 0;
  for (let i = 0; i < scores.length; i++) {
    if (!Number.isFinite(scores[i])) throw new DetectorScoreError(`score ${i} is ${scores[i]}`);
    if (positive[i]) positives++;
  }
  const negatives = scores.length - positives;
  if (positives === 0 || negatives === 0) throw new DetectorScoreError(`ROC needs both classes: ${positives} adversarial and ${negatives} clean examples`);
  return { positives, negatives };
}

/**
 * ROC AUC as the Mann–Whitney U statistic: the probability that a random positive scores above a
 * random negative, ties counting one half (average ranks), so it is exact for any score.
 */
export function rocAuc(scores: ArrayLike<number>, positive: ArrayLike<number>): number {
  const { positives, negatives } = checkScores(scores, positive);
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let rankSum = 0;
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end + 1 < order.length && scores[order[end + 1]] === scores[order[start]]) end++;
    const rank = (start + end) / 2 + 1;
    for (let j = start; j <= end; j++) if (positive[order[j]]) rankSum += rank;
    start = end + 1;
  }
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

export interface OperatingPoint {
  /** Flag an example when its score is strictly above this. */
  threshold: number;
  truePositiveRate: number;
  falsePositiveRate: number;
}

/**
 * The lowest threshold that flags at most ⌊rate·N⌋ of these clean scores: the (k+1)-th highest,
 * k = ⌊rate·N⌋, since an example is flagged when its score is strictly above the threshold.
 */
export function thresholdAtFpr(cleanScores: ArrayLike<number>, maxFalsePositiveRate = 0.05): number {
  if (!(maxFalsePositiveRate >= 0 && maxFalsePositiveRate < 1)) throw new DetectorScoreError(`the false-positive rate must be in [0,1), got ${maxFalsePositiveRate}`);
  if (cleanScores.length === 0) throw new DetectorScoreError('no clean scores to set a threshold on');
  const sorted = Array.from(cleanScores).sort((a, b) => b - a);
  return sorted[Math.min(sorted.length - 1, Math.floor(maxFalsePositiveRate * sorted.length))];
}

/** The operating point with the highest TPR whose FPR does not exceed `maxFalsePositiveRate`. */
export function operatingPointAtFpr(scores: ArrayLike<number>, positive: ArrayLike<number>, maxFalsePositiveRate = 0.05): OperatingPoint {
  const { positives, negatives } = checkScores(scores, positive);
  const clean: number[] = [];
  for (let i = 0; i < scores.length; i++) if (!positive[i]) clean.push(scores[i]);
  const threshold = thresholdAtFpr(clean, maxFalsePositiveRate);
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < scores.length; i++) {
    if (scores[i] <= threshold) continue;
    if (positive[i]) tp++;
    else fp++;
  }
  return { threshold, truePositiveRate: tp / positives, falsePositiveRate: fp / negatives };
}
