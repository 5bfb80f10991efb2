/**
 * Accuracy vs ε, digital beside photographed, per method: what Compare's ε-sweep chart plots (issue 10:
 * an EOT run and a plain run side by side, each with the accuracy its adversarial images keep
 * digitally and the accuracy their photos get back). Kurakin, Goodfellow & Bengio (2016) plot the
 * same pair per method in their Figure 3; the gap between the two lines is what the camera destroyed.
 */
import type { CompareRate } from '../api/compare.js';

export interface AccuracyPoint {
  epsilon: number;
  /** Top-1 accuracy of the row's adversarial images. */
  accuracy: number;
  /** Adversarial images behind the point (photographed cells × captures for the photo line). */
  count: number;
}

export interface MethodAccuracy {
  /** The run's method label, e.g. "bim" or "bim+eot16". */
  method: string;
  /** The printed (8-bit) adversarial images, classified digitally. */
  digital: AccuracyPoint[];
  /** The same images photographed, as the analysis classified their cells. */
  photo: AccuracyPoint[];
}

/**
 * The average-case rows of a Compare report as one digital and one photo line per method, methods
 * in the order the report lists them, points in increasing ε. A row without a figure (no cell of
 * its kind was classified) leaves its point out rather than plotting it as 0.
 */
export function accuracyByEpsilon(rates: readonly CompareRate[]): MethodAccuracy[] {
  const methods = new Map<string, MethodAccuracy>();
  for (const rate of rates) {
    if (rate.case !== 'average') continue;
    const line = methods.get(rate.method) ?? { method: rate.method, digital: [], photo: [] };
    methods.set(rate.method, line);
    if (rate.digital.adversarial.top1 !== null) line.digital.push({ epsilon: rate.epsilon, accuracy: rate.digital.adversarial.top1, count: rate.images });
    if (rate.photo.adversarial.top1 !== null) line.photo.push({ epsilon: rate.epsilon, accuracy: rate.photo.adversarial.top1, count: rate.count });
  }
  const byEpsilon = (a: AccuracyPoint, b: AccuracyPoint) => a.epsilon - b.epsilon;
  return [...methods.values()].map((m) => ({ ...m, digital: m.digital.sort(byEpsilon), photo: m.photo.sort(byEpsilon) }));
}
