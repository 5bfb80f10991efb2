/**
 * The print-and-photo channel as differentiable, batched TF.js ops: what Expectation over
 * Transformation (Athalye, Engstrom, Ilyas & Kwok 2018, "Synthesizing robust adversarial examples")
 * differentiates through. One draw is one photographed copy of a printed cell, sampled from a
 * ChannelProfile (app/physical/channel-profile.ts), applied in the order light meets it:
 *
 *   residual pose (perspective warp, white paper outside the cell) → Gaussian blur → tone curve per
 *   channel → colour matrix + offset (→ BT.601 grey for grey models) → brightness/contrast →
 *   additive noise → clip to [0,1] → JPEG (straight-through)
 *
 * Every stage is linear or piecewise linear in the image, so the gradient w.r.t. the image is exact.
 * The chain up to JPEG is one TF.js op (tf.customGrad) whose forward and backward passes run in plain
 * JS (see channelPass for why); JPEG (app/physical/jpeg.ts) is applied in the forward pass and passed
 * through unchanged in the backward pass (BPDA, Athalye, Carlini & Wagner 2018): its rounding has
 * zero gradient almost everywhere. The gradient is checked against finite differences (test/eot.test.ts).
 * Random draws come from the caller's seeded stream in plain JS (tf.random* seeds per call and per
 * backend), so a seed gives the same transformations in Node, the browser and every worker.
 */
import * as tf from '@tensorflow/tfjs';
import type { ChannelProfile } from '../physical/channel-profile.js';
import { pixelsPerMm } from '../physical/channel-profile.js';
import { invertHomography, multiplyHomography } from '../physical/homography.js';
import type { Point } from '../physical/homography.js';
import { jpegRoundTrip } from '../physical/jpeg.js';
import { SeededRandom } from '../physical/random.js';

/** One sampled transformation of one image. */
export interface ChannelDraw {
  /** Row-major 3x3 map from output pixel to source pixel (pixel centres at integer coordinates). */
  inverse: number[];
  /** Gaussian blur σ in input pixels (0: none). */
  blurPx: number;
  brightness: number;
  contrast: number;
  noiseSigma: number;
  /** Seed of this draw's noise field. */
  noiseSeed: number;
  /** JPEG quality, or null for none. */
  jpegQuality: number | null;
}

/** Where a cell sits when printed, for converting the profile's millimetres to input pixels. */
export interface ChannelGeometry {
  height: number;
  width: number;
  /** Printed size of the cell's longer side in mm (the sheet layout's cellMm, default 30). */
  cellMm: number;
}

const IDENTITY = [1, 0, 0, 0, 1, 0, 0, 0, 1];

/** The draw that changes nothing: identity warp, no blur, no light change, no noise, no JPEG. */
export function identityDraw(): ChannelDraw {
  return { inverse: [...IDENTITY], blurPx: 0, brightness: 0, contrast: 1, noiseSigma: 0, noiseSeed: 0, jpegQuality: null };
}

/** The profile that changes nothing: identity tone and colour, no blur, noise, pose or JPEG. */
export function identityProfile(base: ChannelProfile): ChannelProfile {
  return {
    ...base,
    name: 'Identity',
    tone: [[0, 1], [0, 1], [0, 1]],
    colourMatrix: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    colourOffset: [0, 0, 0],
    blurMm: [0, 0],
    noiseSigma: [0, 0],
    brightness: [0, 0],
    contrast: [1, 1],
    pose: { rotationDeg: [0, 0], scale: [1, 1], translateMm: [0, 0], perspectiveMm: [0, 0] },
    jpegQuality: null,
  };
}

const between = (random: SeededRandom, [low, high]: readonly [number, number]): number => (low === high ? low : random.between(low, high));

/**
 * Draws one transformation from the profile. The residual pose is a similarity about the cell's
 * centre (rotation, scale, translation) with each corner then moved by up to `perspectiveMm` in a
 * random direction; the homography through the four corners is inverted to sample the source.
 */
export function drawChannel(profile: ChannelProfile, geometry: ChannelGeometry, random: SeededRandom): ChannelDraw {
  const { height, width } = geometry;
  const perMm = pixelsPerMm(geometry.cellMm, Math.max(height, width));
  const angle = (between(random, profile.pose.rotationDeg) * Math.PI) / 180;
  const scale = between(random, profile.pose.scale);
  const tx = between(random, profile.pose.translateMm) * perMm;
  const ty = between(random, profile.pose.translateMm) * perMm;
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  const source: Point[] = [
    [-0.5, -0.5],
    [width - 0.5, -0.5],
    [width - 0.5, height - 0.5],
    [-0.5, height - 0.5],
  ];
  const [cos, sin] = [Math.cos(angle), Math.sin(angle)];
  const target = source.map(([x, y]) => {
    const dx = x - cx;
    const dy = y - cy;
    const jitter = between(random, profile.pose.perspectiveMm) * perMm;
    const direction = random.uniform() * 2 * Math.PI;
    return [
      cx + scale * (cos * dx - sin * dy) + tx + jitter * Math.cos(direction),
      cy + scale * (sin * dx + cos * dy) + ty + jitter * Math.sin(direction),
    ] as Point;
  });
  const moved = target.some(([x, y], k) => Math.abs(x - source[k][0]) > 1e-9 || Math.abs(y - source[k][1]) > 1e-9);
  const inverse = moved ? invertHomography(rectangleToQuad(width, height, target)) : [...IDENTITY];
  return {
    inverse,
    blurPx: between(random, profile.blurMm) * perMm,
    brightness: between(random, profile.brightness),
    contrast: between(random, profile.contrast),
    noiseSigma: between(random, profile.noiseSigma),
    noiseSeed: Math.floor(random.uniform() * 4294967296),
    jpegQuality: profile.jpegQuality ? Math.round(between(random, profile.jpegQuality)) : null,
  };
}

/**
 * The homography taking the image rectangle's corners TL, TR, BR, BL to `quad`, in closed form
 * (Heckbert 1989, "Fundamentals of texture mapping", square to quadrilateral), composed with the
 * rectangle → unit square scaling: fitHomography's eigen-solver costs ~0.5 ms a draw, and an EOT
 * step draws thousands.
 */
export function rectangleToQuad(width: number, height: number, quad: readonly Point[]): number[] {
  const [[x0, y0], [x1, y1], [x2, y2], [x3, y3]] = quad;
  const sx = x0 - x1 + x2 - x3;
  const sy = y0 - y1 + y2 - y3;
  let g = 0;
  let h = 0;
  if (Math.abs(sx) > 1e-12 || Math.abs(sy) > 1e-12) {
    const dx1 = x1 - x2;
    const dx2 = x3 - x2;
    const dy1 = y1 - y2;
    const dy2 = y3 - y2;
    const det = dx1 * dy2 - dx2 * dy1;
    g = (sx * dy2 - dx2 * sy) / det;
    h = (dx1 * sy - sx * dy1) / det;
  }
  // Unit square (u, v) → quad; u = (x + 0.5)/width, v = (y + 0.5)/height.
  const square = [x1 - x0 + g * x1, x3 - x0 + h * x3, x0, y1 - y0 + g * y1, y3 - y0 + h * y3, y0, g, h, 1];
  const toUnit = [1 / width, 0, 0.5 / width, 0, 1 / height, 0.5 / height, 0, 0, 1];
  return multiplyHomography(square, toUnit);
}

/**
 * Bilinear sampling positions of every output pixel of every draw, as four gather indices and
 * weights per pixel into the source batch flattened to [N·H·W, C] plus one white row (index N·H·W):
 * what a misregistered crop sees beyond the cell is the white paper of the border gap.
 */
export function warpSampling(draws: readonly ChannelDraw[], sourceOf: Int32Array, images: number, height: number, width: number): { indices: Int32Array; weights: Float32Array } {
  const pixels = height * width;
  const total = draws.length * pixels;
  const white = images * pixels;
  const indices = new Int32Array(4 * total);
  const weights = new Float32Array(4 * total);
  // A coordinate this close to a pixel centre is that centre: the identity warp returns the image exactly.
  const snap = (v: number) => (Math.abs(v - Math.round(v)) < 1e-6 ? Math.round(v) : v);
  for (let b = 0; b < draws.length; b++) {
    const h = draws[b].inverse;
    const base = sourceOf[b] * pixels;
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
      const w = h[6] * x + h[7] * y + h[8];
      const sx = snap((h[0] * x + h[1] * y + h[2]) / w);
      const sy = snap((h[3] * x + h[4] * y + h[5]) / w);
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      const p = b * pixels + y * width + x;
      // The four neighbours TL, TR, BL, BR (plain stores: this loop runs for every pixel of every draw).
      const left = x0 >= 0 && x0 < width;
      const right = x0 + 1 >= 0 && x0 + 1 < width;
      const top = y0 >= 0 && y0 < height;
      const bottom = y0 + 1 >= 0 && y0 + 1 < height;
      const at = base + y0 * width + x0;
      indices[p] = left && top ? at : white;
      indices[total + p] = right && top ? at + 1 : white;
      indices[2 * total + p] = left && bottom ? at + width : white;
      indices[3 * total + p] = right && bottom ? at + width + 1 : white;
      weights[p] = (1 - fx) * (1 - fy);
      weights[total + p] = fx * (1 - fy);
      weights[2 * total + p] = (1 - fx) * fy;
      weights[3 * total + p] = fx * fy;
    }
  }
  return { indices, weights };
}

/** Separable Gaussian kernels, one per σ in pixels (null for σ 0), as simulate.ts's gaussianBlur builds them. */
export function gaussianKernels(sigmas: readonly number[]): (Float32Array | null)[] {
  return sigmas.map((sigma) => {
    if (!(sigma > 0)) return null;
    const radius = Math.max(1, Math.ceil(3 * sigma));
    const kernel = Float32Array.from({ length: 2 * radius + 1 }, (_, k) => Math.exp(-((k - radius) ** 2) / (2 * sigma * sigma)));
    const sum = kernel.reduce((a, v) => a + v, 0);
    return kernel.map((v) => v / sum);
  });
}

/**
 * One pass of a 1-D blur along x (`alongX`) or y of each image of `data` [B,H,W,C], edges
 * replicated; `transpose` applies the transposed operator (the backward pass): each output spreads
 * back onto the inputs it read. Each output accumulates its taps in kernel order with a float32
 * rounding after every tap (Math.fround), as a `+=` into the Float32Array would: the forward and
 * transposed loops are written apart, and the clamped edges apart from the interior, because one
 * loop with those branches per tap made the blur an eighth of an EOT step on LeNet.
 */
export function blurPass(data: Float32Array, kernels: readonly (Float32Array | null)[], height: number, width: number, channels: number, alongX: boolean, transpose: boolean): Float32Array {
  const out = new Float32Array(data.length);
  const size = height * width * channels;
  const length = alongX ? width : height;
  const stride = alongX ? channels : width * channels;
  const lines = alongX ? height : width;
  for (let b = 0; b < kernels.length; b++) {
    const kernel = kernels[b];
    const base = b * size;
    if (!kernel) {
      out.set(data.subarray(base, base + size), base);
      continue;
    }
    const radius = (kernel.length - 1) / 2;
    for (let line = 0; line < lines; line++) for (let c = 0; c < channels; c++) {
      const start = base + (alongX ? line * width * channels : line * channels) + c;
      if (transpose) {
        // The transpose is out[clamp(i + k)] += kernel[k] · data[i] over i, then k, ascending; gathered
        // here per output j in that same order. Only the end values receive clamped terms.
        for (let j = 0; j < length; j++) {
          let sum = 0;
          if (j === 0 || j === length - 1) {
            const first = j === 0 ? 0 : Math.max(0, j - radius);
            const last = j === 0 ? Math.min(length - 1, radius) : length - 1;
            for (let i = first; i <= last; i++) {
              for (let k = -radius; k <= radius; k++) {
                const to = i + k < 0 ? 0 : i + k >= length ? length - 1 : i + k;
                if (to === j) sum = Math.fround(sum + kernel[k + radius] * data[start + i * stride]);
              }
            }
          } else {
            const last = Math.min(length - 1, j + radius);
            for (let i = Math.max(0, j - radius); i <= last; i++) sum = Math.fround(sum + kernel[j - i + radius] * data[start + i * stride]);
          }
          out[start + j * stride] = sum;
        }
      } else {
        for (let i = 0; i < length; i++) {
          let sum = 0;
          if (i >= radius && i + radius < length) {
            for (let k = -radius, at = start + (i - radius) * stride; k <= radius; k++, at += stride) sum = Math.fround(sum + kernel[k + radius] * data[at]);
          } else {
            for (let k = -radius; k <= radius; k++) {
              const j = i + k < 0 ? 0 : i + k >= length ? length - 1 : i + k;
              sum = Math.fround(sum + kernel[k + radius] * data[start + j * stride]);
            }
          }
          out[start + i * stride] = sum;
        }
      }
    }
  }
  return out;
}

/** Seeded Gaussian noise fields, one per draw (σ 0: none), as plain numbers. */
function noiseFields(draws: readonly ChannelDraw[], size: number): Float32Array | undefined {
  if (draws.every((d) => !(d.noiseSigma > 0))) return undefined;
  const out = new Float32Array(draws.length * size);
  draws.forEach((d, b) => {
    if (!(d.noiseSigma > 0)) return;
    const random = new SeededRandom(d.noiseSeed);
    for (let i = 0; i < size; i++) out[b * size + i] = d.noiseSigma * random.normal();
  });
  return out;
}

const LUMA = [0.299, 0.587, 0.114];

/**
 * The channel up to JPEG, forward and backward in plain JS over the batch's values: warp (sparse
 * bilinear sampling, white outside), separable blur, tone curves, colour matrix and offset (grey read
 * back as BT.601), brightness/contrast, noise, clip. Every stage is linear or piecewise linear in the
 * image, so the backward pass is each stage's transpose with the slopes and clip mask of the forward
 * pass. In JS rather than as chains of TF.js kernels: TF.js's gather gradient (UnsortedSegmentSum)
 * has no WASM kernel, each draw has its own blur σ, and on the CPU and WASM backends one pass over
 * the values costs less than the dozens of small kernels the same chain takes (measured ~10x).
 */
function channelPass(
  source: Float32Array,
  shape: readonly [number, number, number, number],
  draws: readonly ChannelDraw[],
  sourceOf: Int32Array,
  profile: ChannelProfile,
): { value: Float32Array; backward: (upstream: Float32Array) => Float32Array } {
  const [n, height, width, channels] = shape;
  const pixels = height * width;
  const total = draws.length * pixels;
  const white = n * pixels;
  const { indices, weights } = warpSampling(draws, sourceOf, n, height, width);
  // Each output value adds its four neighbours in the order TL, TR, BL, BR, rounded to float32 after
  // each (as four `+=` passes into the Float32Array would), one pixel at a time.
  const warped = new Float32Array(total * channels);
  const tap = (sum: number, weight: number, from: number, c: number): number =>
    weight === 0 ? sum : Math.fround(sum + (from === white ? weight : weight * source[from * channels + c]));
  for (let p = 0; p < total; p++) {
    const w0 = weights[p], w1 = weights[total + p], w2 = weights[2 * total + p], w3 = weights[3 * total + p];
    const i0 = indices[p], i1 = indices[total + p], i2 = indices[2 * total + p], i3 = indices[3 * total + p];
    for (let c = 0; c < channels; c++) warped[p * channels + c] = tap(tap(tap(tap(0, w0, i0, c), w1, i1, c), w2, i2, c), w3, i3, c);
  }
  const kernels = gaussianKernels(draws.map((d) => d.blurPx));
  const blurred = blurPass(blurPass(warped, kernels, height, width, channels, true, false), kernels, height, width, channels, false, false);
  // Pointwise: tone (slope kept per pixel and curve), colour matrix, light, noise, clip (mask kept).
  // The same arithmetic in the same order as one loop over channels would do it, with the curves,
  // matrix and offsets in locals (this loop runs for every value of every draw).
  const [m0, m1, m2, m3, m4, m5, m6, m7, m8] = profile.colourMatrix;
  const [o0, o1, o2] = profile.colourOffset;
  const [k0, k1, k2] = profile.tone;
  const [s0, s1, s2] = [k0.length - 1, k1.length - 1, k2.length - 1];
  const slopes = new Float32Array(total * 3);
  const inside = new Uint8Array(total * channels);
  const value = new Float32Array(total * channels);
  const noise = noiseFields(draws, pixels * channels);
  const grey = channels === 1;
  // Tone curve `knots` (with `segments` pieces) at v: the value, and its slope into slopes[at] (0 outside [0,1]).
  const tone = (knots: number[], segments: number, v: number, at: number): number => {
    const t = (v < 0 ? 0 : v > 1 ? 1 : v) * segments;
    const i = Math.min(segments - 1, Math.floor(t));
    const slope = knots[i + 1] - knots[i];
    slopes[at] = v >= 0 && v <= 1 ? slope * segments : 0;
    return knots[i] + slope * (t - i);
  };
  for (let b = 0; b < draws.length; b++) {
    const { contrast, brightness } = draws[b];
    for (let q = 0; q < pixels; q++) {
      const p = b * pixels + q;
      const at = p * channels;
      const r = tone(k0, s0, blurred[at], p * 3);
      const g = tone(k1, s1, blurred[grey ? at : at + 1], p * 3 + 1);
      const bl = tone(k2, s2, blurred[grey ? at : at + 2], p * 3 + 2);
      for (let c = 0; c < channels; c++) {
        let out = 0;
        if (grey) {
          out += LUMA[0] * (m0 * r + m1 * g + m2 * bl + o0);
          out += LUMA[1] * (m3 * r + m4 * g + m5 * bl + o1);
          out += LUMA[2] * (m6 * r + m7 * g + m8 * bl + o2);
        } else out = c === 0 ? m0 * r + m1 * g + m2 * bl + o0 : c === 1 ? m3 * r + m4 * g + m5 * bl + o1 : m6 * r + m7 * g + m8 * bl + o2;
        let y = (out - 0.5) * contrast + 0.5 + brightness + (noise ? noise[at + c] : 0);
        inside[at + c] = y >= 0 && y <= 1 ? 1 : 0;
        y = y < 0 ? 0 : y > 1 ? 1 : y;
        value[at + c] = y;
      }
    }
  }
  const backward = (upstream: Float32Array): Float32Array => {
    const dBlurred = new Float32Array(total * channels);
    for (let b = 0; b < draws.length; b++) {
      const { contrast } = draws[b];
      for (let q = 0; q < pixels; q++) {
        const p = b * pixels + q;
        let d0: number;
        let d1: number;
        let d2: number;
        if (grey) {
          const d = inside[p] ? upstream[p] * contrast : 0;
          d0 = LUMA[0] * d;
          d1 = LUMA[1] * d;
          d2 = LUMA[2] * d;
        } else {
          d0 = inside[p * 3] ? upstream[p * 3] * contrast : 0;
          d1 = inside[p * 3 + 1] ? upstream[p * 3 + 1] * contrast : 0;
          d2 = inside[p * 3 + 2] ? upstream[p * 3 + 2] * contrast : 0;
        }
        // Through the colour matrix's transpose and each tone slope; grey sums the three into one value.
        const g0 = (m0 * d0 + m3 * d1 + m6 * d2) * slopes[p * 3];
        const g1 = (m1 * d0 + m4 * d1 + m7 * d2) * slopes[p * 3 + 1];
        const g2 = (m2 * d0 + m5 * d1 + m8 * d2) * slopes[p * 3 + 2];
        if (grey) dBlurred[p] = Math.fround(Math.fround(Math.fround(0 + g0) + g1) + g2);
        else {
          dBlurred[p * 3] = Math.fround(0 + g0);
          dBlurred[p * 3 + 1] = Math.fround(0 + g1);
          dBlurred[p * 3 + 2] = Math.fround(0 + g2);
        }
      }
    }
    const dWarped = blurPass(blurPass(dBlurred, kernels, height, width, channels, false, true), kernels, height, width, channels, true, true);
    const gradient = new Float32Array(n * pixels * channels);
    for (let k = 0; k < 4; k++) {
      for (let p = 0; p < total; p++) {
        const weight = weights[k * total + p];
        const from = indices[k * total + p];
        if (weight === 0 || from === white) continue;
        for (let c = 0, i = from * channels, o = p * channels; c < channels; c++) gradient[i + c] += weight * dWarped[o + c];
      }
    }
    return gradient;
  };
  return { value, backward };
}

/**
 * JPEG in the forward pass, identity in the backward pass: x + (jpeg(x) − x) with the difference a
 * constant, so the gradient passes straight through (BPDA).
 */
export function jpegStraightThrough(images: tf.Tensor4D, qualities: readonly (number | null)[]): tf.Tensor4D {
  const [b, height, width, channels] = images.shape;
  if (qualities.every((q) => q === null) || (channels !== 1 && channels !== 3)) return images.clone();
  const values = images.dataSync() as Float32Array;
  const size = height * width * channels;
  const difference = new Float32Array(values.length);
  qualities.forEach((quality, i) => {
    if (quality === null) return;
    const image = values.subarray(i * size, (i + 1) * size);
    const compressed = jpegRoundTrip(image, width, height, channels, quality);
    for (let j = 0; j < size; j++) difference[i * size + j] = compressed[j] - image[j];
  });
  return tf.tidy(() => images.add(tf.tensor4d(difference, [b, height, width, channels])));
}

/**
 * The whole channel on a batch: one output per draw, output b is draw b applied to image sourceOf[b]
 * of `images` [N,H,W,C] (C 1 or 3). Differentiable w.r.t. `images` (JPEG straight-through).
 */
export function applyChannel(images: tf.Tensor4D, draws: readonly ChannelDraw[], sourceOf: Int32Array, profile: ChannelProfile): tf.Tensor4D {
  const [n, height, width, channels] = images.shape;
  const channel = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const pass = channelPass((args[0] as tf.Tensor4D).dataSync() as Float32Array, [n, height, width, channels], draws, sourceOf, profile);
    return {
      value: tf.tensor4d(pass.value, [draws.length, height, width, channels]),
      gradFunc: (dy: tf.Tensor) => tf.tensor4d(pass.backward(dy.dataSync() as Float32Array), [n, height, width, channels]),
    };
  });
  const seen = channel(images) as tf.Tensor4D;
  const out = jpegStraightThrough(seen, draws.map((d) => d.jpegQuality));
  seen.dispose();
  return out;
}
