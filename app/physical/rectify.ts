/**
 * Rectification of page regions from a photo: a hand-written area sampler (supersampled bilinear)
 * through a homography page-mm → photo-px. Not tf.image.transform, whose CPU backend transforms only
 * the first image of a batch; not OpenCV, so the browser preview and tests need no Mats.
 */
import { applyHomography } from './homography.js';
import type { Homography, Point } from './homography.js';
import type { RgbaImage } from './image.js';

/** An axis-aligned rectangle on the page, millimetres from the top-left corner. */
export interface PageRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export function rectCorners(rect: PageRect): [Point, Point, Point, Point] {
  return [
    [rect.x, rect.y],
    [rect.x + rect.width, rect.y],
    [rect.x + rect.width, rect.y + rect.height],
    [rect.x, rect.y + rect.height],
  ];
}

/** The rectangle's corners in the photo. */
export function projectRect(homography: Homography, rect: PageRect): [Point, Point, Point, Point] {
  const [a, b, c, d] = rectCorners(rect).map((p) => applyHomography(homography, p));
  return [a, b, c, d];
}

/**
 * Samples `rect` into outWidth×outHeight pixels with `channels` 1 (BT.601 grey) or 3 (RGB), values in
 * [0,1], written into `out` at `offset` (NHWC). Each output pixel averages n×n bilinear taps spread over
 * its footprint, n ≈ photo pixels per output pixel, so a large, sharp photo is area-averaged rather
 * than point-sampled (which would alias print dots and noise into the crop).
 */
export function rectifyRect(
  photo: RgbaImage,
  homography: Homography,
  rect: PageRect,
  outWidth: number,
  outHeight: number,
  channels: 1 | 3,
  out: Float32Array = new Float32Array(outWidth * outHeight * channels),
  offset = 0,
): Float32Array {
  const quad = projectRect(homography, rect);
  const longest = Math.max(...quad.map((p, k) => Math.hypot(p[0] - quad[(k + 1) % 4][0], p[1] - quad[(k + 1) % 4][1])));
  const taps = Math.min(8, Math.max(1, Math.ceil(longest / Math.min(outWidth, outHeight))));
  const { data, width, height } = photo;
  const h = homography;
  const acc = new Float64Array(3);
  for (let j = 0; j < outHeight; j++) {
    for (let i = 0; i < outWidth; i++) {
      acc.fill(0);
      for (let ty = 0; ty < taps; ty++) {
        const v = rect.y + ((j + (ty + 0.5) / taps) / outHeight) * rect.height;
        for (let tx = 0; tx < taps; tx++) {
          const u = rect.x + ((i + (tx + 0.5) / taps) / outWidth) * rect.width;
          const w = h[6] * u + h[7] * v + h[8];
          const x = Math.min(width - 1, Math.max(0, (h[0] * u + h[1] * v + h[2]) / w));
          const y = Math.min(height - 1, Math.max(0, (h[3] * u + h[4] * v + h[5]) / w));
          const x0 = Math.floor(x);
          const y0 = Math.floor(y);
          const x1 = x0 + 1 < width ? x0 + 1 : x0;
          const y1 = y0 + 1 < height ? y0 + 1 : y0;
          const fx = x - x0;
          const fy = y - y0;
          const i00 = (y0 * width + x0) * 4;
          const i10 = (y0 * width + x1) * 4;
          const i01 = (y1 * width + x0) * 4;
          const i11 = (y1 * width + x1) * 4;
          for (let c = 0; c < 3; c++) {
            const top = data[i00 + c] + (data[i10 + c] - data[i00 + c]) * fx;
            const bottom = data[i01 + c] + (data[i11 + c] - data[i01 + c]) * fx;
            acc[c] += top + (bottom - top) * fy;
          }
        }
      }
      const scale = 1 / (255 * taps * taps);
      const o = offset + (j * outWidth + i) * channels;
      if (channels === 1) out[o] = (0.299 * acc[0] + 0.587 * acc[1] + 0.114 * acc[2]) * scale;
      else for (let c = 0; c < 3; c++) out[o + c] = acc[c] * scale;
    }
  }
  return out;
}

/** Whether every corner of the projected rectangle lies inside the photo with `margin` pixels to spare. */
export function rectInsidePhoto(homography: Homography, rect: PageRect, width: number, height: number, margin = 1): boolean {
  return projectRect(homography, rect).every(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && x >= margin && y >= margin && x <= width - 1 - margin && y <= height - 1 - margin);
}
