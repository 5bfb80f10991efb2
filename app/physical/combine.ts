/**
 * Several captures of one sheet (a burst, or photos from different angles) merged per cell, while the
 * per-capture results stay available: by majority vote of the top-1 labels (ties broken by the summed
 * probability), or by the mean of the probabilities (a class missing from a capture's top-5 counts 0).
 */
import type { PhotoAnalysis } from './analyze.js';
import type { SheetPrediction } from './sheet-manifest.js';

export type CombineMode = 'vote' | 'mean';

export class CombineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CombineError';
  }
}

export interface CombinedCell {
  index: number;
  /** How many captures classified this cell. */
  captures: number;
  /** Combined ranking: vote → probability is the vote share; mean → the mean probability. */
  top5: SheetPrediction[];
  /** The per-capture top-1 labels, in capture order (null where a capture did not classify the cell). */
  perCapture: (number | null)[];
  /** Protected model: more than half the captures that classified the cell were rejected by its detector. */
  rejected?: boolean;
  record: PhotoAnalysis['cells'][number]['record'];
}

export interface CombinedSheet {
  sheetId: string;
  mode: CombineMode;
  /** The captures that showed this sheet, as given. */
  captures: PhotoAnalysis[];
  cells: CombinedCell[];
}

/** Groups the results by sheet and merges each group; results without a sheet are left out. */
export function combineCaptures(results: readonly PhotoAnalysis[], mode: CombineMode): CombinedSheet[] {
  if (mode !== 'vote' && mode !== 'mean') throw new CombineError(`combine mode must be vote or mean, got "${String(mode)}"`);
  const bySheet = new Map<string, PhotoAnalysis[]>();
  for (const result of results) {
    if (result.sheetId === null || result.cells.length === 0) continue;
    const list = bySheet.get(result.sheetId) ?? [];
    list.push(result);
    bySheet.set(result.sheetId, list);
  }
  return [...bySheet.entries()].map(([sheetId, captures]) => ({ sheetId, mode, captures, cells: combineCells(captures, mode) }));
}

function combineCells(captures: PhotoAnalysis[], mode: CombineMode): CombinedCell[] {
  const indices = [...new Set(captures.flatMap((c) => c.cells.map((cell) => cell.index)))].sort((a, b) => a - b);
  return indices.map((index) => {
    const cells = captures.map((c) => c.cells.find((cell) => cell.index === index));
    const classified = cells.filter((cell) => cell?.top5 !== undefined && cell.top5.length > 0);
    const record = cells.find((cell) => cell !== undefined)!.record;
    const score = new Map<number, number>();
    const tieBreak = new Map<number, number>();
    for (const cell of classified) {
      const top5 = cell!.top5!;
      if (mode === 'vote') score.set(top5[0].label, (score.get(top5[0].label) ?? 0) + 1);
      for (const p of top5) {
        if (mode === 'mean') score.set(p.label, (score.get(p.label) ?? 0) + p.probability);
        tieBreak.set(p.label, (tieBreak.get(p.label) ?? 0) + p.probability);
      }
    }
    const n = classified.length;
    const top5 = [...score.entries()]
      .sort((a, b) => b[1] - a[1] || (tieBreak.get(b[0]) ?? 0) - (tieBreak.get(a[0]) ?? 0) || a[0] - b[0])
      .slice(0, 5)
      .map(([label, s]) => ({ label, probability: n === 0 ? 0 : s / n }));
    const screened = classified.filter((cell) => cell!.rejected !== undefined);
    const rejected = screened.length === 0 ? {} : { rejected: 2 * screened.filter((cell) => cell!.rejected).length > screened.length };
    return { index, captures: n, top5, perCapture: cells.map((cell) => cell?.top5?.[0]?.label ?? null), ...rejected, record };
  });
}
