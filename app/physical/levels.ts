/**
 * Photometric normalisation of crops to the printed page: a camera sees paper white as 150-230 and
 * black ink as 20-70 depending on light, while the model was trained on images whose black is 0 and
 * white 1. We measure both on the page itself, where we know what is printed:
 * - the ink-to-paper ratio at the markers (their black border modules vs the white quiet zone beside
 *   them), which light does not change, being a ratio of two reflectances under the same light;
 * - the paper white around each cell (white paper just outside its thin border line), which carries
 *   the local light (gradient, vignetting, colour cast) per channel.
 * A crop value v then becomes (v − b)/(w − b), b = ratio·w, per channel, clipped to [0, 1].
 */
import { applyHomography } from './homography.js';
import type { Homography, Point } from './homography.js';
import type { RgbaImage } from './image.js';
import { MARKER_MODULES } from './markers.js';
import type { PageRect } from './rectify.js';

export interface PaperLevels {
  /** Paper white per channel (R, G, B), 0..255, measured around the cell. */
  white: [number, number, number];
  /** Ink black per channel, 0..255 (ratio × white). */
  black: [number, number, number];
}

function sampleRgb(photo: RgbaImage, h: Homography, point: Point): [number, number, number] | undefined {
  const [x, y] = applyHomography(h, point);
  const xi = Math.round(x);
  const yi = Math.round(y);
  if (!(xi >= 0 && yi >= 0 && xi < photo.width && yi < photo.height)) return undefined;
  const i = (yi * photo.width + xi) * 4;
  return [photo.data[i], photo.data[i + 1], photo.data[i + 2]];
}

const grey = ([r, g, b]: readonly number[]): number => 0.299 * r + 0.587 * g + 0.114 * b;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * Ink/paper reflectance ratio from the markers found (corners in page mm, OpenCV order). Black: the
 * centres of the 20 border modules; white: points half a module outside each side. undefined when no
 * marker could be sampled.
 */
export function inkPaperRatio(photo: RgbaImage, h: Homography, markers: readonly (readonly Point[])[]): number | undefined {
  const ratios: number[] = [];
  for (const corners of markers) {
    const [x0, y0] = corners[0];
    const side = corners[1][0] - x0;
    const module = side / MARKER_MODULES;
    const black: number[] = [];
    const white: number[] = [];
    for (let k = 0; k < MARKER_MODULES; k++) {
      const along = (k + 0.5) * module;
      for (const p of [[x0 + along, y0 + module / 2], [x0 + along, y0 + side - module / 2], [x0 + module / 2, y0 + along], [x0 + side - module / 2, y0 + along]] as Point[]) {
        const v = sampleRgb(photo, h, p);
        if (v) black.push(grey(v));
      }
      for (const p of [[x0 + along, y0 - module / 2], [x0 + along, y0 + side + module / 2], [x0 - module / 2, y0 + along], [x0 + side + module / 2, y0 + along]] as Point[]) {
        const v = sampleRgb(photo, h, p);
        if (v) white.push(grey(v));
      }
    }
    if (black.length < 8 || white.length < 8) continue;
    const w = median(white);
    if (w > 20) ratios.push(Math.min(0.9, median(black) / w));
  }
  return ratios.length ? median(ratios) : undefined;
}

/**
 * Paper white around a cell: points `marginMm` outside its border rectangle on the left, right and top
 * (below is the caption), per channel median. undefined when too few points are in the photo.
 */
export function paperWhiteAround(photo: RgbaImage, h: Homography, border: PageRect, marginMm = 1): [number, number, number] | undefined {
  const samples: [number, number, number][] = [];
  const steps = 12;
  for (let k = 0; k <= steps; k++) {
    const ty = border.y + (k / steps) * border.height;
    const tx = border.x + (k / steps) * border.width;
    for (const p of [[border.x - marginMm, ty], [border.x + border.width + marginMm, ty], [tx, border.y - marginMm]] as Point[]) {
      const v = sampleRgb(photo, h, p);
      if (v) samples.push(v);
    }
  }
  if (samples.length < 8) return undefined;
  return [0, 1, 2].map((c) => median(samples.map((s) => s[c]))) as [number, number, number];
}

/** Applies the levels in place to NHWC crop values in [0,1] (channels 1: grey levels; 3: per channel). */
export function normaliseCrop(crop: Float32Array, offset: number, length: number, channels: 1 | 3, levels: PaperLevels): void {
  const white = channels === 1 ? [grey(levels.white)] : levels.white;
  const black = channels === 1 ? [grey(levels.black)] : levels.black;
  for (let i = 0; i < length; i++) {
    const c = i % channels;
    const range = Math.max(1, white[c] - black[c]);
    const v = (crop[offset + i] * 255 - black[c]) / range;
    crop[offset + i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
}
