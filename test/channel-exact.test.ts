/**
 * The channel's hot loops are written for speed (EOT on LeNet spends most of a step in them), and
 * their comments promise the same float results as the plain loops they replaced: this holds them to
 * it, bit for bit, against those plain loops kept here as references, on random sizes and values.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { blurPass, gaussianKernels } from '../app/attacks/eot-channel.js';
import { BASIS, LUMINANCE_TABLE, jpegRoundTrip, quantisationTable } from '../app/physical/jpeg.js';

/** The blur as one loop with a branch per tap: out[i] (or, transposed, out[clamp(i + k)]) += kernel[k] · data. */
function referenceBlur(data: Float32Array, kernels: (Float32Array | null)[], height: number, width: number, channels: number, alongX: boolean, transpose: boolean): Float32Array {
  const out = new Float32Array(data.length);
  const size = height * width * channels;
  const length = alongX ? width : height;
  const stride = alongX ? channels : width * channels;
  kernels.forEach((kernel, b) => {
    const base = b * size;
    if (!kernel) {
      out.set(data.subarray(base, base + size), base);
      return;
    }
    const radius = (kernel.length - 1) / 2;
    for (let line = 0; line < (alongX ? height : width); line++) for (let c = 0; c < channels; c++) {
      const start = base + (alongX ? line * width * channels : line * channels) + c;
      for (let i = 0; i < length; i++) for (let k = -radius; k <= radius; k++) {
        const j = Math.min(length - 1, Math.max(0, i + k));
        if (transpose) out[start + j * stride] += kernel[k + radius] * data[start + i * stride];
        else out[start + i * stride] += kernel[k + radius] * data[start + j * stride];
      }
    }
  });
  return out;
}

/** The JPEG luminance round trip with the DCT as plain loops (grey images only). */
function referenceJpegGrey(pixels: Float32Array, width: number, height: number, quality: number): Float32Array {
  const table = quantisationTable(LUMINANCE_TABLE, quality);
  const plane = Float32Array.from(pixels, (v) => Math.round(Math.min(1, Math.max(0, v)) * 255));
  const block = new Float32Array(64);
  const temp = new Float32Array(64);
  for (let by = 0; by < height; by += 8) for (let bx = 0; bx < width; bx += 8) {
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) block[y * 8 + x] = plane[Math.min(height - 1, by + y) * width + Math.min(width - 1, bx + x)] - 128;
    for (let y = 0; y < 8; y++) for (let u = 0; u < 8; u++) {
      let s = 0;
      for (let x = 0; x < 8; x++) s += BASIS[u * 8 + x] * block[y * 8 + x];
      temp[y * 8 + u] = s;
    }
    for (let u = 0; u < 8; u++) for (let v = 0; v < 8; v++) {
      let s = 0;
      for (let y = 0; y < 8; y++) s += BASIS[v * 8 + y] * temp[y * 8 + u];
      block[v * 8 + u] = Math.round(s / table[v * 8 + u]) * table[v * 8 + u];
    }
    for (let u = 0; u < 8; u++) for (let y = 0; y < 8; y++) {
      let s = 0;
      for (let v = 0; v < 8; v++) s += BASIS[v * 8 + y] * block[v * 8 + u];
      temp[y * 8 + u] = s;
    }
    for (let y = 0; y < 8 && by + y < height; y++) for (let x = 0; x < 8 && bx + x < width; x++) {
      let s = 0;
      for (let u = 0; u < 8; u++) s += BASIS[u * 8 + x] * temp[y * 8 + u];
      plane[(by + y) * width + bx + x] = Math.min(255, Math.max(0, Math.round(s + 128)));
    }
  }
  return plane.map((v) => v / 255);
}

const sameBits = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

describe('the channel\'s fast loops give the plain loops\' floats', () => {
  it('blur, forward and transposed, along x and y, any size and σ (a radius longer than the image too)', () => {
    const shape = fc.record({
      images: fc.integer({ min: 1, max: 3 }),
      height: fc.integer({ min: 1, max: 12 }),
      width: fc.integer({ min: 1, max: 12 }),
      channels: fc.constantFrom(1, 3),
      sigmas: fc.array(fc.oneof(fc.constant(0), fc.double({ min: 0.05, max: 5, noNaN: true })), { minLength: 3, maxLength: 3 }),
      seed: fc.integer(),
    });
    fc.assert(fc.property(shape, ({ images, height, width, channels, sigmas, seed }) => {
      let s = seed >>> 0;
      const data = Float32Array.from({ length: images * height * width * channels }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 0.5);
      const kernels = gaussianKernels(sigmas.slice(0, images));
      for (const alongX of [true, false]) for (const transpose of [false, true]) {
        expect(sameBits(blurPass(data, kernels, height, width, channels, alongX, transpose), referenceBlur(data, kernels, height, width, channels, alongX, transpose))).toBe(true);
      }
    }), { numRuns: 300 });
  });

  it('JPEG round trip of grey images, any size and quality', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 100 }), fc.integer(), (width, height, quality, seed) => {
      let s = seed >>> 0;
      const pixels = Float32Array.from({ length: width * height }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 1.2 - 0.1);
      expect(sameBits(jpegRoundTrip(pixels, width, height, 1, quality), referenceJpegGrey(pixels, width, height, quality))).toBe(true);
    }), { numRuns: 200 });
  });
});
