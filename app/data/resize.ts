/**
 * Resizing and channel conversion of float images in [0,1] (HWC, row-major), pure so the renderer
 * can preview exactly what a model will see. Shrinking uses area averaging (each output pixel is the
 * mean of the source area it covers, what OpenCV's INTER_AREA does), which does not alias thin
 * strokes away; enlarging uses bilinear interpolation with pixel centres aligned (half-pixel offsets).
 */

export type ResizeMethod = 'area' | 'bilinear';

/** Rec. 601 luma weights (what PIL's convert('L') and OpenCV's RGB2GRAY use). */
export const LUMA_WEIGHTS: readonly [number, number, number] = [0.299, 0.587, 0.114];

/** 'area' when shrinking both ways, else 'bilinear'. */
export function defaultResizeMethod(height: number, width: number, outHeight: number, outWidth: number): ResizeMethod {
  return outHeight <= height && outWidth <= width ? 'area' : 'bilinear';
}

export function resizeImage(
  src: Float32Array, height: number, width: number, channels: number,
  outHeight: number, outWidth: number,
  method: ResizeMethod = defaultResizeMethod(height, width, outHeight, outWidth),
): Float32Array {
  if (outHeight === height && outWidth === width) return Float32Array.from(src);
  return method === 'area' ? resizeArea(src, height, width, channels, outHeight, outWidth) : resizeBilinear(src, height, width, channels, outHeight, outWidth);
}

/** Source interval [start, end) covered by output index i, and each source pixel's overlap weight. */
function areaWeights(size: number, outSize: number): { first: number; weights: number[] }[] {
  const scale = size / outSize;
  return Array.from({ length: outSize }, (_, i) => {
    const start = i * scale;
    const end = start + scale;
    const first = Math.floor(start);
    const weights: number[] = [];
    for (let s = first; s < end && s < size; s++) weights.push((Math.min(end, s + 1) - Math.max(start, s)) / scale);
    return { first, weights };
  });
}

function resizeArea(src: Float32Array, height: number, width: number, channels: number, outHeight: number, outWidth: number): Float32Array {
  const out = new Float32Array(outHeight * outWidth * channels);
  const rows = areaWeights(height, outHeight);
  const cols = areaWeights(width, outWidth);
  for (let y = 0; y < outHeight; y++) {
    const r = rows[y];
    for (let x = 0; x < outWidth; x++) {
      const c = cols[x];
      for (let ch = 0; ch < channels; ch++) {
        let sum = 0;
        for (let i = 0; i < r.weights.length; i++) {
          const rowBase = (r.first + i) * width;
          for (let j = 0; j < c.weights.length; j++) sum += r.weights[i] * c.weights[j] * src[(rowBase + c.first + j) * channels + ch];
        }
        out[(y * outWidth + x) * channels + ch] = sum;
      }
    }
  }
  return out;
}

function resizeBilinear(src: Float32Array, height: number, width: number, channels: number, outHeight: number, outWidth: number): Float32Array {
  const out = new Float32Array(outHeight * outWidth * channels);
  const clamp = (v: number, n: number) => Math.min(Math.max(v, 0), n - 1);
  for (let y = 0; y < outHeight; y++) {
    const sy = clamp(((y + 0.5) * height) / outHeight - 0.5, height);
    const y0 = Math.floor(sy);
    const y1 = Math.min(y0 + 1, height - 1);
    const fy = sy - y0;
    for (let x = 0; x < outWidth; x++) {
      const sx = clamp(((x + 0.5) * width) / outWidth - 0.5, width);
      const x0 = Math.floor(sx);
      const x1 = Math.min(x0 + 1, width - 1);
      const fx = sx - x0;
      for (let ch = 0; ch < channels; ch++) {
        const at = (yy: number, xx: number) => src[(yy * width + xx) * channels + ch];
        out[(y * outWidth + x) * channels + ch] = (at(y0, x0) * (1 - fx) + at(y0, x1) * fx) * (1 - fy) + (at(y1, x0) * (1 - fx) + at(y1, x1) * fx) * fy;
      }
    }
  }
  return out;
}

/** 1 → 3 copies grey into R, G and B; 3 → 1 takes the luma; equal counts copy. */
export function convertChannels(src: Float32Array, pixels: number, from: 1 | 3, to: 1 | 3): Float32Array {
  if (from === to) return Float32Array.from(src);
  const out = new Float32Array(pixels * to);
  if (from === 1) {
    for (let p = 0; p < pixels; p++) out[3 * p] = out[3 * p + 1] = out[3 * p + 2] = src[p];
  } else {
    const [r, g, b] = LUMA_WEIGHTS;
    for (let p = 0; p < pixels; p++) out[p] = r * src[3 * p] + g * src[3 * p + 1] + b * src[3 * p + 2];
  }
  return out;
}
