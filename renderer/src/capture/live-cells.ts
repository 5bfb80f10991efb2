/**
 * Turns one analysed frame plus the host's top-5 per crop into what the live overlay draws: per cell
 * its outline, the digital top-1 (as printed, 8-bit) and the camera's top-1, and whether they agree.
 */
import type { PhotoAnalysis } from '../../../app/physical/analyze.js';
import type { Point } from '../../../app/physical/homography.js';

export interface LiveCell {
  index: number;
  kind: 'clean' | 'adversarial';
  quad: Point[];
  caption: string;
  digitalTop1: number | null;
  cameraTop1: number | null;
  cameraProbability: number | null;
  agree: boolean | null;
  qualityOk: boolean;
}

export interface Prediction {
  label: number;
  probability: number;
}

/** Cells that carry a crop, in the order their crops were concatenated for classifyCrops. */
export function croppedCells(analysis: PhotoAnalysis): PhotoAnalysis['cells'] {
  return analysis.cells.filter((cell) => cell.crop !== undefined);
}

/** The crops of `croppedCells`, concatenated NHWC. */
export function concatenateCrops(analysis: PhotoAnalysis): { pixels: Float32Array; count: number; height: number; width: number; channels: number } | null {
  const cells = croppedCells(analysis);
  if (cells.length === 0) return null;
  const { width, height, channels } = cells[0].crop!;
  const size = width * height * channels;
  const pixels = new Float32Array(cells.length * size);
  cells.forEach((cell, i) => pixels.set(cell.crop!.pixels, i * size));
  return { pixels, count: cells.length, height, width, channels };
}

export function digitalTop1(record: PhotoAnalysis['cells'][number]['record']): number | null {
  const views = record.kind === 'clean' ? record.digital.clean : record.digital.adversarial;
  return views?.quantized?.[0]?.label ?? views?.float?.[0]?.label ?? null;
}

export function liveCells(analysis: PhotoAnalysis, top5PerCrop: readonly (readonly Prediction[])[] | null): LiveCell[] {
  const predicted = new Map<number, readonly Prediction[]>();
  if (top5PerCrop) croppedCells(analysis).forEach((cell, i) => predicted.set(cell.index, top5PerCrop[i] ?? []));
  return analysis.cells.map((cell) => {
    const digital = digitalTop1(cell.record);
    const camera = predicted.get(cell.index)?.[0] ?? null;
    return {
      index: cell.index,
      kind: cell.record.kind,
      quad: cell.quad,
      caption: cell.caption,
      digitalTop1: digital,
      cameraTop1: camera?.label ?? null,
      cameraProbability: camera?.probability ?? null,
      agree: digital === null || camera === null ? null : digital === camera.label,
      qualityOk: cell.status === 'ok' && cell.quality.ok,
    };
  });
}

/** Frames per second over the timestamps (ms) of the last analysed frames. */
export function framesPerSecond(timestamps: readonly number[]): number | null {
  if (timestamps.length < 2) return null;
  const span = timestamps[timestamps.length - 1] - timestamps[0];
  return span > 0 ? ((timestamps.length - 1) * 1000) / span : null;
}
