/**
 * Per-cell photo quality: is the printed image readable in this photo? Measured on a grey sample of
 * the cell at roughly the photo's own resolution (point-sampled, so clipping and edges survive).
 * - blur: variance of the 4-neighbour Laplacian (Pech-Pacheco et al. 2000), divided by the intensity
 *   variance so a faint print is not called blurry; judged only where the cell has content;
 * - exposure: judged by the grey percentiles, not by clipped pixels alone (a printed MNIST digit is
 *   mostly black ink, so many dark pixels are normal): underexposed when even the brightest 5% are
 *   dark, overexposed when even the darkest 5% are light or most pixels are clipped white;
 * - outside: a cell corner falls outside the frame (decided by the caller).
 */
import type { Homography } from './homography.js';
import type { RgbaImage } from './image.js';
import { projectRect } from './rectify.js';
import type { PageRect } from './rectify.js';

export interface CellQuality {
  ok: boolean;
  /** Human-readable reasons when not ok: "blurry", "underexposed", "overexposed", "outside the frame". */
  flags: string[];
  /** var(Laplacian) / var(intensity), on 0..255 grey; lower is blurrier. */
  sharpness: number;
  /** Standard deviation of the grey levels in the cell (0..255): how much there is to see. */
  contrast: number;
  /** Share of clipped pixels. */
  clippedDark: number;
  clippedBright: number;
  /** 5th and 95th percentile of the grey levels (0..255). */
  darkLevel: number;
  brightLevel: number;
  /** Photo pixels per printed image side (resolution of the capture). */
  pixelsAcross: number;
}

export interface QualityThresholds {
  /** Below this normalised Laplacian variance a cell with content is blurry (default 0.05). */
  minSharpness: number;
  /** Cells whose grey standard deviation is below this have too little content to judge blur (default 12). */
  minContrastForBlur: number;
  /** Underexposed when the 95th grey percentile is below this (default 60). */
  minBrightLevel: number;
  /** Overexposed when the 5th grey percentile is above this (default 200)... */
  maxDarkLevel: number;
  /** ...or when this share of pixels is clipped white (default 0.5). */
  maxClippedBright: number;
  /** Fewer photo pixels than this across a cell is too coarse to read (default 14: half MNIST's 28). */
  minPixelsAcross: number;
}

export const DEFAULT_QUALITY_THRESHOLDS: QualityThresholds = { minSharpness: 0.05, minContrastForBlur: 12, minBrightLevel: 60, maxDarkLevel: 200, maxClippedBright: 0.5, minPixelsAcross: 14 };

export function measureCellQuality(photo: RgbaImage, homography: Homography, rect: PageRect, thresholds: QualityThresholds = DEFAULT_QUALITY_THRESHOLDS): CellQuality {
  const quad = projectRect(homography, rect);
  const side = (a: number, b: number) => Math.hypot(quad[a][0] - quad[b][0], quad[a][1] - quad[b][1]);
  const pixelsAcross = Math.min((side(0, 1) + side(3, 2)) / 2, (side(0, 3) + side(1, 2)) / 2);
  // Sample at the photo's resolution, capped: more would only interpolate, and 64² keeps this cheap.
  const n = Math.max(8, Math.min(64, Math.round(pixelsAcross)));
  const grey = new Float32Array(n * n);
  const { data, width, height } = photo;
  const [h0, h1, h2, h3, h4, h5, h6, h7, h8] = homography;
  for (let j = 0; j < n; j++) {
    const v = rect.y + ((j + 0.5) / n) * rect.height;
    for (let i = 0; i < n; i++) {
      const u = rect.x + ((i + 0.5) / n) * rect.width;
      const w = h6 * u + h7 * v + h8;
      const xf = (h0 * u + h1 * v + h2) / w + 0.5;
      const yf = (h3 * u + h4 * v + h5) / w + 0.5;
      const x = xf < 0 ? 0 : xf >= width ? width - 1 : xf | 0;
      const y = yf < 0 ? 0 : yf >= height ? height - 1 : yf | 0;
      const k = (y * width + x) * 4;
      grey[j * n + i] = 0.299 * data[k] + 0.587 * data[k + 1] + 0.114 * data[k + 2];
    }
  }
  let sum = 0;
  let sumSq = 0;
  let dark = 0;
  let bright = 0;
  const histogram = new Uint32Array(256);
  for (const g of grey) {
    sum += g;
    sumSq += g * g;
    if (g <= 2) dark++;
    if (g >= 253) bright++;
    histogram[Math.min(255, Math.max(0, Math.round(g)))]++;
  }
  const mean = sum / grey.length;
  const variance = Math.max(0, sumSq / grey.length - mean * mean);
  let lapSum = 0;
  let lapSq = 0;
  let count = 0;
  for (let j = 1; j < n - 1; j++) for (let i = 1; i < n - 1; i++) {
    const c = j * n + i;
    const lap = grey[c - 1] + grey[c + 1] + grey[c - n] + grey[c + n] - 4 * grey[c];
    lapSum += lap;
    lapSq += lap * lap;
    count++;
  }
  const lapVariance = Math.max(0, lapSq / count - (lapSum / count) ** 2);
  const sharpness = variance > 1e-9 ? lapVariance / variance : 0;
  const contrast = Math.sqrt(variance);
  const clippedDark = dark / grey.length;
  const clippedBright = bright / grey.length;
  const flags: string[] = [];
  if (contrast >= thresholds.minContrastForBlur && sharpness < thresholds.minSharpness) flags.push('blurry');
  if (pixelsAcross < thresholds.minPixelsAcross) flags.push('too small in the photo');
  const percentile = (share: number): number => {
    let seen = 0;
    for (let level = 0; level < 256; level++) {
      seen += histogram[level];
      if (seen > share * grey.length) return level;
    }
    return 255;
  };
  const darkLevel = percentile(0.05);
  const brightLevel = percentile(0.95);
  if (brightLevel < thresholds.minBrightLevel) flags.push('underexposed');
  if (darkLevel > thresholds.maxDarkLevel || clippedBright > thresholds.maxClippedBright) flags.push('overexposed');
  return { ok: flags.length === 0, flags, sharpness, contrast, clippedDark, clippedBright, darkLevel, brightLevel, pixelsAcross };
}
