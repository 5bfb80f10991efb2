/**
 * Metrics of the physical-world experiment, after Kurakin, Goodfellow & Bengio (2016), "Adversarial
 * examples in the physical world":
 * - destruction rate (their Eq. 1), the share of adversarial images that stop being adversarial after
 *   a transformation T (print + photo, or an artificial one):
 *     d = Σₖ C(Xᵏ,yᵏ)·¬C(Xᵏ_adv,yᵏ)·C(T(Xᵏ_adv),yᵏ) / Σₖ C(Xᵏ,yᵏ)·¬C(Xᵏ_adv,yᵏ),
 *   with C(X,y) "X is classified correctly" (top-1: y is the top class; top-5: y is among the top 5);
 * - top-1 / top-5 accuracy of clean and adversarial images, digital vs transformed (photographed);
 * - the "average case" (all images) and the "prefiltered case" (clean classified correctly, adversarial
 *   wrong in top-1 and top-5, adversarial top-1 confidence ≥ 0.8), their Sec. 3.2.
 */
import type { TopK } from '../attacks/types.js';
import type { ProtectedCounts } from '../eval/rejections.js';
import { protectedCounts } from '../eval/rejections.js';

export interface Prediction {
  label: number;
  probability: number;
}
/** One image's predictions in decreasing probability (a top-k list). */
export type TopList = readonly Prediction[];

export type CorrectnessK = 1 | 5;

/** C(X, y): the true label is the top class (k = 1) or among the first k classes. */
export function classifiedCorrectly(top: TopList, trueLabel: number, k: number): boolean {
  return top.slice(0, k).some((p) => p.label === trueLabel);
}

/** A TopK (flat typed arrays) as one list per image. */
export function topKToLists(topK: TopK): Prediction[][] {
  const count = topK.labels.length / topK.k;
  return Array.from({ length: count }, (_, i) => Array.from({ length: topK.k }, (_, j) => ({ label: topK.labels[i * topK.k + j], probability: topK.probs[i * topK.k + j] })));
}

/** One image through the experiment: clean, adversarial, and the adversarial image after T. */
export interface DestructionSample {
  trueLabel: number;
  clean: TopList;
  adversarial: TopList;
  transformedAdversarial: TopList;
}

export interface DestructionRate {
  /** null when no image was clean-correct and adversarial-wrong (0/0). */
  rate: number | null;
  /** Adversarial images made correct again by T. */
  destroyed: number;
  /** Clean correct and adversarial wrong: the images the rate is over. */
  eligible: number;
}

/** Kurakin et al.'s Eq. 1 counts an image when its clean original is right and its adversarial version wrong (top-k). */
function counted(s: DestructionSample, k: CorrectnessK): boolean {
  return classifiedCorrectly(s.clean, s.trueLabel, k) && !classifiedCorrectly(s.adversarial, s.trueLabel, k);
}

export function destructionRate(samples: readonly DestructionSample[], k: CorrectnessK): DestructionRate {
  let destroyed = 0;
  let eligible = 0;
  for (const s of samples) {
    if (!counted(s, k)) continue;
    eligible++;
    if (classifiedCorrectly(s.transformedAdversarial, s.trueLabel, k)) destroyed++;
  }
  return { rate: eligible === 0 ? null : destroyed / eligible, destroyed, eligible };
}

export interface Accuracy {
  /** null for no images. */
  top1: number | null;
  top5: number | null;
  count: number;
}

export function accuracy(lists: readonly TopList[], trueLabels: ArrayLike<number>): Accuracy {
  if (lists.length !== trueLabels.length) throw new RangeError(`${lists.length} prediction lists but ${trueLabels.length} labels`);
  if (lists.length === 0) return { top1: null, top5: null, count: 0 };
  let top1 = 0;
  let top5 = 0;
  lists.forEach((top, i) => {
    if (classifiedCorrectly(top, trueLabels[i], 1)) top1++;
    if (classifiedCorrectly(top, trueLabels[i], 5)) top5++;
  });
  return { top1: top1 / lists.length, top5: top5 / lists.length, count: lists.length };
}

/** Kurakin et al.'s default confidence threshold of the prefiltered case. */
export const PREFILTER_CONFIDENCE = 0.8;

/** Clean correct (top-1), adversarial wrong in top-1 and top-5, adversarial top-1 probability ≥ confidence. */
export function inPrefilteredCase(sample: Pick<DestructionSample, 'trueLabel' | 'clean' | 'adversarial'>, confidence = PREFILTER_CONFIDENCE): boolean {
  return (
    classifiedCorrectly(sample.clean, sample.trueLabel, 1) &&
    !classifiedCorrectly(sample.adversarial, sample.trueLabel, 5) &&
    (sample.adversarial[0]?.probability ?? 0) >= confidence
  );
}

/** One image of the physical experiment, grouped by method and ε; photos are optional per image. */
export interface ExperimentSample extends DestructionSample {
  method: string;
  epsilon: number;
  /** The clean image after T (photographed or transformed), when it was printed/transformed too. */
  transformedClean?: TopList;
  /** Which image and which capture (index) the sample came from, so a row can say "4 images × 2 captures". */
  imageId?: string;
  capture?: number;
  /** A protected model's detector verdicts on the photographed images (absent: a plain model). */
  rejected?: { transformedAdversarial?: boolean; transformedClean?: boolean };
  /** The attack's print survival estimate of the printed adversarial image (AttackOptions.survival), when it made one. */
  survival?: number;
}

export interface ExperimentRow {
  method: string;
  epsilon: number;
  case: 'average' | 'prefiltered';
  /** Samples in the row: images × captures when every image was photographed on every capture. */
  count: number;
  /** Distinct images among the samples, and distinct captures they came from. */
  images: number;
  captures: number;
  digitalClean: Accuracy;
  digitalAdversarial: Accuracy;
  /** Clean images after T; count 0 when none were transformed. */
  transformedClean: Accuracy;
  transformedAdversarial: Accuracy;
  destructionTop1: DestructionRate;
  destructionTop5: DestructionRate;
  /**
   * A protected model: the photographed images it accepted right, accepted wrong and rejected, apart
   * from accuracy and destruction rate (which stay the classifier's). Clean rejections are false
   * positives, adversarial ones detections. Null when no sample of the row was screened.
   */
  rejections: { transformedClean: ProtectedCounts; transformedAdversarial: ProtectedCounts } | null;
  /**
   * The top-1 destruction rate the attack's print survival estimates predicted for the same images:
   * one minus their mean survival over the samples destructionTop1 counts. Null unless each of them
   * has an estimate (a run with AttackOptions.survival), or when there are none.
   */
  predictedDestructionTop1: number | null;
}

function screenedCounts(samples: readonly ExperimentSample[]): ExperimentRow['rejections'] {
  const adversarial = samples.filter((s) => s.rejected?.transformedAdversarial !== undefined);
  const clean = samples.filter((s) => s.transformedClean !== undefined && s.rejected?.transformedClean !== undefined);
  if (adversarial.length === 0 && clean.length === 0) return null;
  return {
    transformedClean: protectedCounts(clean.map((s) => s.rejected!.transformedClean!), (i) => classifiedCorrectly(clean[i].transformedClean!, clean[i].trueLabel, 1)),
    transformedAdversarial: protectedCounts(adversarial.map((s) => s.rejected!.transformedAdversarial!), (i) => classifiedCorrectly(adversarial[i].transformedAdversarial, adversarial[i].trueLabel, 1)),
  };
}

/** 1 − mean survival over the samples the top-1 destruction rate counts; null unless all have one. */
function predictedDestruction(samples: readonly ExperimentSample[]): number | null {
  let sum = 0;
  let eligible = 0;
  for (const s of samples) {
    if (!counted(s, 1)) continue;
    if (s.survival === undefined) return null;
    eligible++;
    sum += s.survival;
  }
  return eligible === 0 ? null : 1 - sum / eligible;
}

function row(method: string, epsilon: number, kind: ExperimentRow['case'], samples: readonly ExperimentSample[]): ExperimentRow {
  const labels = samples.map((s) => s.trueLabel);
  const withClean = samples.filter((s) => s.transformedClean !== undefined);
  return {
    method,
    epsilon,
    case: kind,
    count: samples.length,
    images: new Set(samples.map((s, i) => s.imageId ?? `#${i}`)).size,
    captures: new Set(samples.map((s) => s.capture ?? 0)).size,
    digitalClean: accuracy(samples.map((s) => s.clean), labels),
    digitalAdversarial: accuracy(samples.map((s) => s.adversarial), labels),
    transformedClean: accuracy(withClean.map((s) => s.transformedClean as TopList), withClean.map((s) => s.trueLabel)),
    transformedAdversarial: accuracy(samples.map((s) => s.transformedAdversarial), labels),
    destructionTop1: destructionRate(samples, 1),
    destructionTop5: destructionRate(samples, 5),
    rejections: screenedCounts(samples),
    predictedDestructionTop1: predictedDestruction(samples),
  };
}

/**
 * The paper's tables: per method and ε, the average case over all images and the prefiltered case,
 * in order of first appearance of each (method, ε).
 */
export function experimentTable(samples: readonly ExperimentSample[], confidence = PREFILTER_CONFIDENCE): ExperimentRow[] {
  const groups = new Map<string, ExperimentSample[]>();
  for (const s of samples) {
    const key = `${s.method}\u0000${s.epsilon}`;
    const list = groups.get(key) ?? [];
    list.push(s);
    groups.set(key, list);
  }
  const rows: ExperimentRow[] = [];
  for (const group of groups.values()) {
    const { method, epsilon } = group[0];
    rows.push(row(method, epsilon, 'average', group));
    rows.push(row(method, epsilon, 'prefiltered', group.filter((s) => inPrefilteredCase(s, confidence))));
  }
  return rows;
}

/** What the photo analysis gives per cell: its digital record and, when classified, its photographed top-5. */
export interface PhotographedCell {
  record: {
    kind: 'clean' | 'adversarial';
    imageId: string;
    method: string | null;
    epsilon: number | null;
    trueLabel: number | null;
    digital: { clean: DigitalViews | null; adversarial: DigitalViews | null };
    /** The print survival the attack estimated for this adversarial image (sheet cells of runs with a survival estimate). */
    survival?: number | null;
  };
  top5?: TopList;
  /** A protected model's detector flagged the photographed cell. */
  rejected?: boolean;
}
interface DigitalViews {
  float: TopList | null;
  quantized: TopList | null;
}

/** The printed form is 8-bit, so its digital prediction is the quantized one when known. */
function printedView(views: DigitalViews | null): TopList | null {
  return views?.quantized ?? views?.float ?? null;
}

/**
 * Experiment samples from photographed cells, one capture at a time: each adversarial cell with a true
 * label and digital predictions gives one sample; its clean original photographed on the same capture
 * (pairs sheets, same imageId) gives `transformedClean`.
 */
export function samplesFromPhotographs(captures: readonly (readonly PhotographedCell[])[]): ExperimentSample[] {
  const samples: ExperimentSample[] = [];
  for (const [capture, cells] of captures.entries()) {
    const cleanPhotos = new Map<string, PhotographedCell>();
    for (const cell of cells) if (cell.record.kind === 'clean' && cell.top5) cleanPhotos.set(cell.record.imageId, cell);
    for (const { record, top5, rejected } of cells) {
      if (record.kind !== 'adversarial' || !top5 || record.trueLabel === null) continue;
      const clean = printedView(record.digital.clean);
      const adversarial = printedView(record.digital.adversarial);
      if (!clean || !adversarial) continue;
      const cleanPhoto = cleanPhotos.get(record.imageId);
      const transformedClean = cleanPhoto?.top5;
      const screened = { ...(rejected !== undefined ? { transformedAdversarial: rejected } : {}), ...(cleanPhoto?.rejected !== undefined ? { transformedClean: cleanPhoto.rejected } : {}) };
      samples.push({
        method: record.method ?? 'unknown',
        epsilon: record.epsilon ?? Number.NaN,
        trueLabel: record.trueLabel,
        clean,
        adversarial,
        transformedAdversarial: top5,
        ...(transformedClean ? { transformedClean } : {}),
        imageId: record.imageId,
        capture,
        ...(Object.keys(screened).length > 0 ? { rejected: screened } : {}),
        ...(typeof record.survival === 'number' ? { survival: record.survival } : {}),
      });
    }
  }
  return samples;
}

/** Share of photographed cells whose top-1 equals the digital top-1 of the printed (8-bit) image. */
export function digitalAgreement(cells: readonly PhotographedCell[]): { agree: number; total: number } {
  let agree = 0;
  let total = 0;
  for (const { record, top5 } of cells) {
    const digital = printedView(record.kind === 'clean' ? record.digital.clean : record.digital.adversarial);
    if (!top5 || !digital || digital.length === 0) continue;
    total++;
    if (top5[0]?.label === digital[0].label) agree++;
  }
  return { agree, total };
}
