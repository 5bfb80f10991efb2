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
  // Rounded, not ceiled: 2.4 photo pixels per output pixel get 2×2 taps; the residual aliasing is far
  // below the print's own blur, and 3×3 would cost twice as much per frame.
  const taps = Math.min(8, Math.max(1, Math.round(longest / Math.min(outWidth, outHeight))));
  const { data, width, height } = photo;
  const [h0, h1, h2, h3, h4, h5, h6, h7, h8] = homography;
  const scale = 1 / (255 * taps * taps);
  const maxX = width - 1;
  const maxY = height - 1;
  for (let j = 0; j < outHeight; j++) {
    for (let i = 0; i < outWidth; i++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let ty = 0; ty < taps; ty++) {
        const v = rect.y + ((j + (ty + 0.5) / taps) / outHeight) * rect.height;
        for (let tx = 0; tx < taps; tx++) {
          const u = rect.x + ((i + (tx + 0.5) / taps) / outWidth) * rect.width;
          const w = h6 * u + h7 * v + h8;
          let x = (h0 * u + h1 * v + h2) / w;
          let y = (h3 * u + h4 * v + h5) / w;
          x = x < 0 ? 0 : x > maxX ? maxX : x;
          y = y < 0 ? 0 : y > maxY ? maxY : y;
          const x0 = x | 0;
          const y0 = y | 0;
          const dx = x0 < maxX ? 4 : 0;
          const dy = y0 < maxY ? width * 4 : 0;
          const fx = x - x0;
          const fy = y - y0;
          const i00 = (y0 * width + x0) * 4;
          const w00 = (1 - fx) * (1 - fy);
          const w10 = fx * (1 - fy);
          const w01 = (1 - fx) * fy;
          const w11 = fx * fy;
          r += w00 * data[i00] + w10 * data[i00 + dx] + w01 * data[i00 + dy] + w11 * data[i00 + dx + dy];
          g += w00 * data[i00 + 1] + w10 * data[i00 + dx + 1] + w01 * data[i00 + dy + 1] + w11 * data[i00 + dx + dy + 1];
          b += w00 * data[i00 + 2] + w10 * data[i00 + dx + 2] + w01 * data[i00 + dy + 2] + w11 * data[i00 + dx + dy + 2];
        }
      }
      const o = offset + (j * outWidth + i) * channels;
      if (channels === 1) out[o] = (0.299 * r + 0.587 * g + 0.114 * b) * scale;
      else {
        out[o] = r * scale;
        out[o + 1] = g * scale;
        out[o + 2] = b * scale;
      }
    }
  }
  return out;
}

/** Whether every corner of the projected rectangle lies inside the photo with `margin` pixels to spare. */
export function rectInsidePhoto(homography: Homography, rect: PageRect, width: number, height: number, margin = 1): boolean {
  return projectRect(homography, rect).every(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && x >= margin && y >= margin && x <= width - 1 - margin && y <= height - 1 - margin);
}
