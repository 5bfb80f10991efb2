/**
 * JPEG's loss in pure TypeScript, without the entropy coding that does not change pixels: RGB →
 * YCbCr (JFIF), 4:2:0 chroma subsampling, 8×8 DCT-II per block, quantisation with the standard
 * tables of ITU-T T.81 Annex K scaled by quality as libjpeg does (IJG: 5000/q below 50, 200 − 2q
 * above), dequantisation and the inverse DCT. It approximates a real encoder (libjpeg also rounds the
 * DCT in fixed point and upsamples chroma "fancily"); Node code that needs real JPEG uses sharp.
 */
export const LUMINANCE_TABLE = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
  18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];
const CHROMINANCE_TABLE = [
  17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99,
  99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
];

export class JpegQualityError extends Error {
  constructor(quality: number) {
    super(`JPEG quality must be a number from 1 to 100, got ${quality}`);
    this.name = 'JpegQualityError';
  }
}

export function quantisationTable(base: readonly number[], quality: number): Float32Array {
  if (!(quality >= 1 && quality <= 100)) throw new JpegQualityError(quality);
  const q = Math.round(quality);
  const scale = q < 50 ? 5000 / q : 200 - 2 * q;
  return Float32Array.from(base, (v) => Math.min(255, Math.max(1, Math.floor((v * scale + 50) / 100))));
}

/** The scaled tables per whole quality, made once: an EOT step round-trips thousands of small images. */
const tables = new Map<number, { luma: Float32Array; chroma: Float32Array }>();
function tablesFor(quality: number): { luma: Float32Array; chroma: Float32Array } {
  if (!(quality >= 1 && quality <= 100)) throw new JpegQualityError(quality);
  const q = Math.round(quality);
  let found = tables.get(q);
  if (!found) {
    found = { luma: quantisationTable(LUMINANCE_TABLE, q), chroma: quantisationTable(CHROMINANCE_TABLE, q) };
    tables.set(q, found);
  }
  return found;
}

/** cos((2x+1)uπ/16)·c(u)/2, the orthonormal 8-point DCT-II basis. */
export const BASIS = (() => {
  const b = new Float32Array(64);
  for (let u = 0; u < 8; u++) for (let x = 0; x < 8; x++) b[u * 8 + x] = (u === 0 ? Math.SQRT1_2 : 1) * 0.5 * Math.cos(((2 * x + 1) * u * Math.PI) / 16);
  return b;
})();

/**
 * Σ_k basis[b + k] · values[v + k·step] for k = 0..7, added from k = 0 up as a loop would add them (the
 * same doubles, so the same result); written out because V8 does not unroll, and the JPEG of EOT's
 * draws is a fifth of an EOT step on LeNet.
 */
function dot8(basis: Float32Array, b: number, values: Float32Array, v: number, step: number): number {
  let s = 0;
  s += basis[b] * values[v];
  s += basis[b + 1] * values[v + step];
  s += basis[b + 2] * values[v + 2 * step];
  s += basis[b + 3] * values[v + 3 * step];
  s += basis[b + 4] * values[v + 4 * step];
  s += basis[b + 5] * values[v + 5 * step];
  s += basis[b + 6] * values[v + 6 * step];
  s += basis[b + 7] * values[v + 7 * step];
  return s;
}

/** BASIS transposed: BASIS_T[x·8 + u] = BASIS[u·8 + x], so that every dot8 reads a basis row. */
const BASIS_T = (() => {
  const t = new Float32Array(64);
  for (let u = 0; u < 8; u++) for (let x = 0; x < 8; x++) t[x * 8 + u] = BASIS[u * 8 + x];
  return t;
})();

/** Quantises one plane (values 0..255, edge-replicated to whole blocks) in place. */
function quantisePlane(plane: Float32Array, width: number, height: number, table: Float32Array): void {
  const block = new Float32Array(64);
  const temp = new Float32Array(64);
  // A column of `temp` read with stride 8 through dot8 (columns of the block are its rows transposed).
  const column = new Float32Array(8);
  for (let by = 0; by < height; by += 8) {
    for (let bx = 0; bx < width; bx += 8) {
      for (let y = 0; y < 8; y++) {
        const sy = Math.min(height - 1, by + y);
        for (let x = 0; x < 8; x++) block[y * 8 + x] = plane[sy * width + Math.min(width - 1, bx + x)] - 128;
      }
      // Forward DCT: rows then columns.
      for (let y = 0; y < 8; y++) for (let u = 0; u < 8; u++) temp[y * 8 + u] = dot8(BASIS, u * 8, block, y * 8, 1);
      for (let u = 0; u < 8; u++) {
        for (let y = 0; y < 8; y++) column[y] = temp[y * 8 + u];
        for (let v = 0; v < 8; v++) {
          const q = table[v * 8 + u];
          block[v * 8 + u] = Math.round(dot8(BASIS, v * 8, column, 0, 1) / q) * q;
        }
      }
      // Inverse DCT: columns then rows.
      for (let u = 0; u < 8; u++) for (let y = 0; y < 8; y++) temp[y * 8 + u] = dot8(BASIS_T, y * 8, block, u, 8);
      for (let y = 0; y < 8 && by + y < height; y++) for (let x = 0; x < 8 && bx + x < width; x++) {
        plane[(by + y) * width + bx + x] = Math.min(255, Math.max(0, Math.round(dot8(BASIS_T, x * 8, temp, y * 8, 1) + 128)));
      }
    }
  }
}

/**
 * JPEG round trip of an interleaved image with `channels` 1 (grey: luminance only) or 3 (RGB),
 * values in [0, 1]; returns a new array in [0, 1] on 8-bit levels.
 */
export function jpegRoundTrip(pixels: Float32Array, width: number, height: number, channels: 1 | 3, quality: number): Float32Array {
  const { luma: lumaTable, chroma: chromaTable } = tablesFor(quality);
  const n = width * height;
  const out = new Float32Array(pixels.length);
  if (channels === 1) {
    const plane = new Float32Array(n);
    for (let i = 0; i < n; i++) plane[i] = Math.round(Math.min(1, Math.max(0, pixels[i])) * 255);
    quantisePlane(plane, width, height, lumaTable);
    for (let i = 0; i < n; i++) out[i] = plane[i] / 255;
    return out;
  }
  const y = new Float32Array(n);
  const cw = Math.ceil(width / 2);
  const ch = Math.ceil(height / 2);
  const cb = new Float32Array(cw * ch);
  const cr = new Float32Array(cw * ch);
  const counts = new Float32Array(cw * ch);
  for (let p = 0; p < n; p++) {
    const r = Math.round(Math.min(1, Math.max(0, pixels[p * 3])) * 255);
    const g = Math.round(Math.min(1, Math.max(0, pixels[p * 3 + 1])) * 255);
    const b = Math.round(Math.min(1, Math.max(0, pixels[p * 3 + 2])) * 255);
    y[p] = 0.299 * r + 0.587 * g + 0.114 * b;
    const c = ((p / width) >> 1) * cw + ((p % width) >> 1);
    cb[c] += 128 - 0.168736 * r - 0.331264 * g + 0.5 * b;
    cr[c] += 128 + 0.5 * r - 0.418688 * g - 0.081312 * b;
    counts[c] += 1;
  }
  for (let c = 0; c < counts.length; c++) {
    cb[c] /= counts[c];
    cr[c] /= counts[c];
  }
  quantisePlane(y, width, height, lumaTable);
  quantisePlane(cb, cw, ch, chromaTable);
  quantisePlane(cr, cw, ch, chromaTable);
  for (let p = 0; p < n; p++) {
    const c = ((p / width) >> 1) * cw + ((p % width) >> 1);
    const Y = y[p];
    const Cb = cb[c] - 128;
    const Cr = cr[c] - 128;
    out[p * 3] = Math.min(255, Math.max(0, Math.round(Y + 1.402 * Cr))) / 255;
    out[p * 3 + 1] = Math.min(255, Math.max(0, Math.round(Y - 0.344136 * Cb - 0.714136 * Cr))) / 255;
    out[p * 3 + 2] = Math.min(255, Math.max(0, Math.round(Y + 1.772 * Cb))) / 255;
  }
  return out;
}
