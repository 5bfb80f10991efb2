/**
 * A seeded, composable print-and-photo channel (pure TypeScript): what happens between a printed
 * sheet and the pixels a phone returns. Two uses:
 * - `simulatePhoto`: a synthetic camera photo of a whole sheet with the true homography, for
 *   round-trip tests, the benchmark and the UI's fake camera;
 * - `transformImages`: one transformation at one strength on single images, Kurakin, Goodfellow &
 *   Bengio (2016), "Adversarial examples in the physical world", Sec. 4 / appendix (brightness,
 *   contrast, Gaussian blur, Gaussian noise, JPEG), plus rotation and scale.
 * JPEG here is the pure-TS DCT quantisation of jpeg.ts (an approximation of a real encoder); the CLI
 * writes real JPEG files with sharp.
 */
import type { ChannelProfile } from './channel-profile.js';
import { applyToneCurve } from './tone-curve.js';
import { applyHomography, fitHomography, invertHomography } from './homography.js';
import type { Homography, Point } from './homography.js';
import { checkRgba } from './image.js';
import type { RgbaImage } from './image.js';
import { jpegRoundTrip } from './jpeg.js';
import { SeededRandom } from './random.js';

export class ChannelParameterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChannelParameterError';
  }
}

export interface PhotoChannelParams {
  /** Output size in pixels (default 1280×720). */
  width?: number;
  height?: number;
  /** Where the sheet's corners TL, TR, BR, BL land in the photo; overrides the random pose below. */
  corners?: readonly [Point, Point, Point, Point];
  /** Longest side of the sheet's outline as a fraction of the frame's fitting size (default 0.8). */
  scale?: number;
  /** In-plane rotation in degrees; random in ±rotationDeg (default 15). */
  rotationDeg?: number;
  /** Largest out-of-plane tilt in degrees, random direction (default 25; perspective up to ~45 works). */
  tiltDeg?: number;
  /** Gaussian blur σ in photo pixels (default 0.8). */
  blurSigma?: number;
  /** Gaussian noise σ in [0,1] units (default 0.02). */
  noiseSigma?: number;
  /** JPEG quality 1-100, or 0 for none (default 85). */
  jpegQuality?: number;
  /** Added to every value, [0,1] units (default 0). */
  brightness?: number;
  /** Contrast factor around mid-grey (default 1). */
  contrast?: number;
  /** Per-channel gains R, G, B (default a random warm/cool cast of up to ±colourCast). */
  colourCast?: number;
  /** Darkening at the frame corners, 0..1 (default 0.25). */
  vignetting?: number;
  /** Amplitude of a linear light gradient across the frame, 0..1 (default 0.25): uneven light. */
  unevenLight?: number;
  /** Relative amplitude of the paper's low-frequency texture (default 0.03). */
  paperTexture?: number;
  /** Number of random shapes on the table around the sheet (default 14). */
  clutter?: number;
  /**
   * The printer's tone curves R, G, B (channel-profile.ts: evenly spaced knots, printed → photographed
   * value), applied to the sheet's values before the colour matrix and the light (default: none).
   */
  tone?: readonly [readonly number[], readonly number[], readonly number[]];
  /** Row-major 3×3 matrix after the tone curves (default: identity). */
  colourMatrix?: readonly number[];
  /** Added after the colour matrix (default 0). */
  colourOffset?: readonly [number, number, number];
  /** Blur σ in mm on paper, instead of blurSigma: converted with sheetDpi and the sheet's mean scale in the photo. */
  blurMm?: number;
  /** Resolution of the sheet image (pixels per inch), needed by blurMm. */
  sheetDpi?: number;
}

/** What a channel profile fixes in the simulator; keys set here replace the simulator's defaults. */
type ProfileParams = 'tone' | 'colourMatrix' | 'colourOffset' | 'blurMm' | 'sheetDpi';

export interface SimulatedPhoto {
  image: RgbaImage;
  /** Sheet-image pixels → photo pixels (pixel centres at integer coordinates in both). */
  homography: number[];
  /** The sheet image's outer corners TL, TR, BR, BL in the photo. */
  corners: [Point, Point, Point, Point];
  /** The parameters after defaults and random draws, for the record. */
  /** rotation and tilt drawn in degrees (null when explicit corners were given). */
  params: Required<Omit<PhotoChannelParams, 'corners' | ProfileParams>> & Pick<PhotoChannelParams, ProfileParams> & { rotation: number | null; tilt: number | null; gains: [number, number, number] };
}

/** Interleaved RGB floats in [0,1]: the channel's working form. */
interface FloatImage {
  data: Float32Array;
  width: number;
  height: number;
  channels: number;
}

function checkRange(name: string, value: number, low: number, high: number): void {
  if (!Number.isFinite(value) || value < low || value > high) throw new ChannelParameterError(`${name} must be from ${low} to ${high}, got ${value}`);
}

/** Corners of a w×h rectangle after a pinhole camera views it tilted by `tilt` about an axis at angle `axis`. */
function perspectiveOutline(w: number, h: number, rotation: number, tilt: number, axis: number): Point[] {
  const distance = 2.2 * Math.hypot(w, h);
  const [ax, ay] = [Math.cos(axis), Math.sin(axis)];
  // Rodrigues rotation by `tilt` about the in-plane axis (ax, ay, 0), after the in-plane `rotation`.
  const c = Math.cos(tilt);
  const s = Math.sin(tilt);
  return [
    [-w / 2, -h / 2],
    [w / 2, -h / 2],
    [w / 2, h / 2],
    [-w / 2, h / 2],
  ].map(([x0, y0]) => {
    const x = x0 * Math.cos(rotation) - y0 * Math.sin(rotation);
    const y = x0 * Math.sin(rotation) + y0 * Math.cos(rotation);
    const along = x * ax + y * ay;
    const xr = along * ax + (x - along * ax) * c;
    const yr = along * ay + (y - along * ay) * c;
    const z = (ax * y - ay * x) * s;
    const f = distance / (distance + z);
    return [xr * f, yr * f] as Point;
  });
}

function bilinearRgb(sheet: RgbaImage, x: number, y: number, out: Float32Array): void {
  const { width, height, data } = sheet;
  const xc = Math.min(width - 1, Math.max(0, x));
  const yc = Math.min(height - 1, Math.max(0, y));
  const x0 = Math.floor(xc);
  const y0 = Math.floor(yc);
  const x1 = Math.min(width - 1, x0 + 1);
  const y1 = Math.min(height - 1, y0 + 1);
  const fx = xc - x0;
  const fy = yc - y0;
  const i00 = (y0 * width + x0) * 4;
  const i10 = (y0 * width + x1) * 4;
  const i01 = (y1 * width + x0) * 4;
  const i11 = (y1 * width + x1) * 4;
  for (let c = 0; c < 3; c++) {
    const top = data[i00 + c] + (data[i10 + c] - data[i00 + c]) * fx;
    const bottom = data[i01 + c] + (data[i11 + c] - data[i01 + c]) * fx;
    out[c] = (top + (bottom - top) * fy) / 255;
  }
}

/** Smooth value noise on a coarse random grid, in [-1, 1]. */
function valueNoise(random: SeededRandom, gridWidth: number, gridHeight: number): (u: number, v: number) => number {
  const grid = Float32Array.from({ length: (gridWidth + 1) * (gridHeight + 1) }, () => random.between(-1, 1));
  return (u, v) => {
    const x = Math.min(gridWidth - 1e-6, Math.max(0, u * gridWidth));
    const y = Math.min(gridHeight - 1e-6, Math.max(0, v * gridHeight));
    const x0 = Math.floor(x);
    const y0 = Math.floor(y);
    const fx = x - x0;
    const fy = y - y0;
    const sx = fx * fx * (3 - 2 * fx);
    const sy = fy * fy * (3 - 2 * fy);
    const row = gridWidth + 1;
    const top = grid[y0 * row + x0] * (1 - sx) + grid[y0 * row + x0 + 1] * sx;
    const bottom = grid[(y0 + 1) * row + x0] * (1 - sx) + grid[(y0 + 1) * row + x0 + 1] * sx;
    return top * (1 - sy) + bottom * sy;
  };
}

/** A table with random shapes (books, pens, cables): what a detector must not be fooled by. */
function drawBackground(photo: FloatImage, random: SeededRandom, shapes: number): void {
  const { width, height, data } = photo;
  const base = [random.between(0.25, 0.6), random.between(0.2, 0.5), random.between(0.15, 0.45)];
  const grain = valueNoise(random, 24, 16);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    const g = 1 + 0.08 * grain(x / width, y / height);
    for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = base[c] * g;
  }
  for (let s = 0; s < shapes; s++) {
    const colour = [random.uniform(), random.uniform(), random.uniform()];
    const cx = random.uniform() * width;
    const cy = random.uniform() * height;
    const size = random.between(0.03, 0.18) * Math.min(width, height);
    const kind = random.uniform();
    const angle = random.uniform() * Math.PI;
    const [ca, sa] = [Math.cos(angle), Math.sin(angle)];
    const aspect = random.between(0.15, 1);
    const x0 = Math.max(0, Math.floor(cx - size));
    const x1 = Math.min(width - 1, Math.ceil(cx + size));
    const y0 = Math.max(0, Math.floor(cy - size));
    const y1 = Math.min(height - 1, Math.ceil(cy + size));
    for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) {
      const dx = x - cx;
      const dy = y - cy;
      const u = dx * ca + dy * sa;
      const v = -dx * sa + dy * ca;
      const inside = kind < 0.5 ? u * u + (v / aspect) ** 2 <= size * size : Math.abs(u) <= size && Math.abs(v) <= size * aspect;
      if (inside) for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = colour[c];
    }
  }
}

/** Separable Gaussian blur of interleaved channels, edges replicated. */
export function gaussianBlur(image: FloatImage, sigma: number): void {
  if (sigma <= 0) return;
  const radius = Math.max(1, Math.ceil(3 * sigma));
  const kernel = new Float32Array(2 * radius + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) sum += kernel[i + radius] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < kernel.length; i++) kernel[i] /= sum;
  const { width, height, channels, data } = image;
  const temp = new Float32Array(data.length);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) for (let c = 0; c < channels; c++) {
      let s = 0;
      for (let k = -radius; k <= radius; k++) {
        const xx = x + k < 0 ? 0 : x + k >= width ? width - 1 : x + k;
        s += kernel[k + radius] * data[(row + xx) * channels + c];
      }
      temp[(row + x) * channels + c] = s;
    }
  }
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < channels; c++) {
    let s = 0;
    for (let k = -radius; k <= radius; k++) {
      const yy = y + k < 0 ? 0 : y + k >= height ? height - 1 : y + k;
      s += kernel[k + radius] * temp[(yy * width + x) * channels + c];
    }
    data[(y * width + x) * channels + c] = s;
  }
}

function addNoise(image: FloatImage, sigma: number, random: SeededRandom): void {
  if (sigma <= 0) return;
  for (let i = 0; i < image.data.length; i++) image.data[i] += sigma * random.normal();
}

function clampUnit(image: FloatImage): void {
  const { data } = image;
  for (let i = 0; i < data.length; i++) data[i] = data[i] < 0 ? 0 : data[i] > 1 ? 1 : data[i];
}

/** The printer's tone curves, colour matrix and offset as one in-place map of an RGB sample, or undefined when none is set. */
function printColour(params: PhotoChannelParams): ((rgb: Float32Array) => void) | undefined {
  const { tone, colourMatrix: m, colourOffset: offset } = params;
  if (!tone && !m && !offset) return undefined;
  if (tone && (tone.length !== 3 || tone.some((curve) => curve.length < 2 || curve.some((v) => !Number.isFinite(v))))) throw new ChannelParameterError('tone must be three curves of at least two finite knots');
  if (m && (m.length !== 9 || m.some((v) => !Number.isFinite(v)))) throw new ChannelParameterError('colourMatrix must be 9 finite numbers (row-major 3×3)');
  if (offset && (offset.length !== 3 || offset.some((v) => !Number.isFinite(v)))) throw new ChannelParameterError('colourOffset must be 3 finite numbers');
  const t = [0, 0, 0];
  return (rgb) => {
    for (let c = 0; c < 3; c++) t[c] = tone ? applyToneCurve(tone[c], rgb[c]) : rgb[c];
    for (let r = 0; r < 3; r++) rgb[r] = (m ? m[3 * r] * t[0] + m[3 * r + 1] * t[1] + m[3 * r + 2] * t[2] : t[r]) + (offset ? offset[r] : 0);
  };
}

/**
 * Simulator parameters from a channel profile (channel-profile.ts): its tone, colour and blur in mm,
 * and one draw within each of its ranges (noise, light, JPEG, the tilt it saw) from `seed`. The light
 * the profile measured already holds the user's room, so the simulator's own cast, vignetting and
 * uneven light default to none; explicit parameters in `overrides` win.
 */
export function photoParamsFromProfile(profile: ChannelProfile, sheetDpi: number, seed = 0, overrides: PhotoChannelParams = {}): PhotoChannelParams {
  const random = new SeededRandom(seed ^ 0x5eed);
  const within = ([low, high]: readonly [number, number]) => low + (high - low) * random.uniform();
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) as PhotoChannelParams;
  return {
    tone: profile.tone,
    colourMatrix: profile.colourMatrix,
    colourOffset: profile.colourOffset,
    blurMm: within(profile.blurMm),
    sheetDpi,
    noiseSigma: within(profile.noiseSigma),
    brightness: within(profile.brightness),
    contrast: within(profile.contrast),
    jpegQuality: profile.jpegQuality === null ? 0 : Math.round(within(profile.jpegQuality)),
    ...(profile.observed?.tiltDeg ? { tiltDeg: Math.min(60, profile.observed.tiltDeg[1]) } : {}),
    colourCast: 0,
    vignetting: 0,
    unevenLight: 0,
    ...defined,
  };
}

export function simulatePhoto(sheet: RgbaImage, params: PhotoChannelParams = {}, seed = 0): SimulatedPhoto {
  checkRgba(sheet, 'sheet image');
  const random = new SeededRandom(seed);
  const width = params.width ?? 1280;
  const height = params.height ?? 720;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 16 || height < 16 || width * height > 50e6) {
    throw new ChannelParameterError(`photo size must be whole numbers of at least 16 px and at most 50 megapixels, got ${width}x${height}`);
  }
  const p = {
    width,
    height,
    scale: params.scale ?? 0.8,
    rotationDeg: params.rotationDeg ?? 15,
    tiltDeg: params.tiltDeg ?? 25,
    blurSigma: params.blurSigma ?? 0.8,
    noiseSigma: params.noiseSigma ?? 0.02,
    jpegQuality: params.jpegQuality ?? 85,
    brightness: params.brightness ?? 0,
    contrast: params.contrast ?? 1,
    colourCast: params.colourCast ?? 0.08,
    vignetting: params.vignetting ?? 0.25,
    unevenLight: params.unevenLight ?? 0.25,
    paperTexture: params.paperTexture ?? 0.03,
    clutter: params.clutter ?? 14,
  };
  checkRange('scale', p.scale, 0.05, 3);
  checkRange('rotationDeg', p.rotationDeg, 0, 180);
  checkRange('tiltDeg', p.tiltDeg, 0, 60);
  checkRange('blurSigma', p.blurSigma, 0, 20);
  checkRange('noiseSigma', p.noiseSigma, 0, 1);
  if (p.jpegQuality !== 0) checkRange('jpegQuality', p.jpegQuality, 1, 100);
  checkRange('brightness', p.brightness, -1, 1);
  checkRange('contrast', p.contrast, 0, 5);
  checkRange('colourCast', p.colourCast, 0, 1);
  checkRange('vignetting', p.vignetting, 0, 1);
  checkRange('unevenLight', p.unevenLight, 0, 1);
  checkRange('paperTexture', p.paperTexture, 0, 1);
  checkRange('clutter', p.clutter, 0, 1000);
  const colour = printColour(params);

  // Pose: drawn first so a seed fixes the geometry whatever the appearance parameters are.
  const rotation = random.between(-1, 1) * p.rotationDeg * (Math.PI / 180);
  const tilt = random.uniform() * p.tiltDeg * (Math.PI / 180);
  const axis = random.uniform() * 2 * Math.PI;
  const placeX = random.uniform();
  const placeY = random.uniform();
  let corners: [Point, Point, Point, Point];
  if (params.corners) {
    corners = params.corners.map(([x, y]) => [x, y] as Point) as typeof corners;
  } else {
    const outline = perspectiveOutline(sheet.width, sheet.height, rotation, tilt, axis);
    const xs = outline.map((q) => q[0]);
    const ys = outline.map((q) => q[1]);
    const boxW = Math.max(...xs) - Math.min(...xs);
    const boxH = Math.max(...ys) - Math.min(...ys);
    const fit = p.scale * Math.min(width / boxW, height / boxH);
    const freeX = width - boxW * fit;
    const freeY = height - boxH * fit;
    const offsetX = (freeX >= 0 ? freeX * placeX : freeX / 2) - Math.min(...xs) * fit;
    const offsetY = (freeY >= 0 ? freeY * placeY : freeY / 2) - Math.min(...ys) * fit;
    corners = outline.map(([x, y]) => [x * fit + offsetX, y * fit + offsetY] as Point) as typeof corners;
  }
  const sheetCorners: Point[] = [
    [-0.5, -0.5],
    [sheet.width - 0.5, -0.5],
    [sheet.width - 0.5, sheet.height - 0.5],
    [-0.5, sheet.height - 0.5],
  ];
  const homography = fitHomography(sheetCorners, corners);
  const inverse = invertHomography(homography);
  if (params.blurMm !== undefined) {
    checkRange('blurMm', params.blurMm, 0, 10);
    if (params.sheetDpi === undefined) throw new ChannelParameterError('blurMm needs sheetDpi, the resolution of the sheet image');
    checkRange('sheetDpi', params.sheetDpi, 10, 2400);
    // σ on paper → photo pixels at the sheet's mean scale (a tilted sheet's far edge is blurred a little less in mm).
    const area = Math.abs(corners.reduce((s, q, k) => s + q[0] * corners[(k + 1) % 4][1] - corners[(k + 1) % 4][0] * q[1], 0)) / 2;
    p.blurSigma = params.blurMm * (params.sheetDpi / 25.4) * Math.sqrt(area / (sheet.width * sheet.height));
  }

  const photo: FloatImage = { data: new Float32Array(width * height * 3), width, height, channels: 3 };
  drawBackground(photo, random, p.clutter);

  // Supersample where the sheet is minified, so fine print and markers alias as little as in a camera.
  const sideInPhoto = Math.max(...corners.map((q, k) => Math.hypot(q[0] - corners[(k + 1) % 4][0], q[1] - corners[(k + 1) % 4][1])));
  const taps = Math.min(4, Math.max(1, Math.ceil(Math.max(sheet.width, sheet.height) / sideInPhoto)));
  const texture = valueNoise(random, 40, 56);
  const sample = new Float32Array(3);
  const xs = corners.map((q) => q[0]);
  const ys = corners.map((q) => q[1]);
  const yStart = Math.max(0, Math.floor(Math.min(...ys)));
  const yEnd = Math.min(height - 1, Math.ceil(Math.max(...ys)));
  const xStart = Math.max(0, Math.floor(Math.min(...xs)));
  const xEnd = Math.min(width - 1, Math.ceil(Math.max(...xs)));
  for (let y = yStart; y <= yEnd; y++) {
    for (let x = xStart; x <= xEnd; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      let hits = 0;
      for (let ty = 0; ty < taps; ty++) for (let tx = 0; tx < taps; tx++) {
        const px = x - 0.5 + (tx + 0.5) / taps;
        const py = y - 0.5 + (ty + 0.5) / taps;
        const w = inverse[6] * px + inverse[7] * py + inverse[8];
        const sx = (inverse[0] * px + inverse[1] * py + inverse[2]) / w;
        const sy = (inverse[3] * px + inverse[4] * py + inverse[5]) / w;
        if (sx < -0.5 || sy < -0.5 || sx > sheet.width - 0.5 || sy > sheet.height - 0.5) continue;
        bilinearRgb(sheet, sx, sy, sample);
        colour?.(sample);
        const paper = 1 + p.paperTexture * texture(sx / sheet.width, sy / sheet.height);
        r += sample[0] * paper;
        g += sample[1] * paper;
        b += sample[2] * paper;
        hits++;
      }
      if (hits === 0) continue;
      const i = (y * width + x) * 3;
      const coverage = hits / (taps * taps);
      photo.data[i] = photo.data[i] * (1 - coverage) + r / (taps * taps);
      photo.data[i + 1] = photo.data[i + 1] * (1 - coverage) + g / (taps * taps);
      photo.data[i + 2] = photo.data[i + 2] * (1 - coverage) + b / (taps * taps);
    }
  }

  // Light: a linear gradient (a lamp to one side) times a radial vignette, then a colour cast.
  const lightAngle = random.uniform() * 2 * Math.PI;
  const [lx, ly] = [Math.cos(lightAngle), Math.sin(lightAngle)];
  const gains: [number, number, number] = [1 + random.between(-1, 1) * p.colourCast, 1, 1 + random.between(-1, 1) * p.colourCast];
  const halfDiagonal = Math.hypot(width, height) / 2;
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    const dx = x - width / 2;
    const dy = y - height / 2;
    const light = (1 + p.unevenLight * ((dx * lx + dy * ly) / halfDiagonal)) * (1 - p.vignetting * ((dx * dx + dy * dy) / (halfDiagonal * halfDiagonal)));
    const i = (y * width + x) * 3;
    for (let c = 0; c < 3; c++) photo.data[i + c] = (photo.data[i + c] * light * gains[c] - 0.5) * p.contrast + 0.5 + p.brightness;
  }
  gaussianBlur(photo, p.blurSigma);
  addNoise(photo, p.noiseSigma, random);
  clampUnit(photo);
  const finalPixels = p.jpegQuality > 0 ? jpegRoundTrip(photo.data, width, height, 3, p.jpegQuality) : photo.data;
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let i = 0, j = 0; i < width * height; i++, j += 3) {
    rgba[i * 4] = Math.round(finalPixels[j] * 255);
    rgba[i * 4 + 1] = Math.round(finalPixels[j + 1] * 255);
    rgba[i * 4 + 2] = Math.round(finalPixels[j + 2] * 255);
    rgba[i * 4 + 3] = 255;
  }
  return {
    image: { data: rgba, width, height },
    homography,
    corners,
    params: { ...p, tone: params.tone, colourMatrix: params.colourMatrix, colourOffset: params.colourOffset, blurMm: params.blurMm, sheetDpi: params.sheetDpi, rotation: params.corners ? null : (rotation * 180) / Math.PI, tilt: params.corners ? null : (tilt * 180) / Math.PI, gains },
  };
}

/** Kurakin et al.'s artificial transformations (appendix), plus rotation and scale. */
export const TRANSFORMS = ['brightness', 'contrast', 'blur', 'noise', 'jpeg', 'rotation', 'scale'] as const;
export type TransformName = (typeof TRANSFORMS)[number];

/**
 * What `strength` means per transformation, and the strengths the `transforms` experiment sweeps
 * (after the paper's appendix: brightness ±, contrast μ, blur σ, noise σ, JPEG quality).
 */
export const TRANSFORM_STRENGTHS: Record<TransformName, { unit: string; sweep: number[] }> = {
  brightness: { unit: 'δ added, [0,1] units (X + δ)', sweep: [-0.3, -0.15, 0.15, 0.3] },
  contrast: { unit: 'factor μ (X·μ)', sweep: [0.5, 0.8, 1.2, 1.5] },
  blur: { unit: 'Gaussian σ in pixels', sweep: [0.5, 1, 1.5, 2] },
  noise: { unit: 'Gaussian σ, [0,1] units', sweep: [0.05, 0.1, 0.2, 0.3] },
  jpeg: { unit: 'quality 1-100', sweep: [90, 75, 50, 20, 10] },
  rotation: { unit: 'degrees', sweep: [5, 10, 20, 30] },
  scale: { unit: 'zoom factor about the centre', sweep: [0.8, 0.9, 1.1, 1.25] },
};

/** Bilinear resampling about the image centre (rotation by degrees, zoom by factor); outside → the border mean. */
function resampleAboutCentre(src: Float32Array, out: Float32Array, height: number, width: number, channels: number, degrees: number, zoom: number): void {
  const angle = (degrees * Math.PI) / 180;
  const [c, s] = [Math.cos(angle), Math.sin(angle)];
  const border = new Float32Array(channels);
  let borderCount = 0;
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    if (y !== 0 && x !== 0 && y !== height - 1 && x !== width - 1) continue;
    for (let k = 0; k < channels; k++) border[k] += src[(y * width + x) * channels + k];
    borderCount++;
  }
  for (let k = 0; k < channels; k++) border[k] /= borderCount;
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    // Inverse map: output → source.
    const dx = (x - cx) / zoom;
    const dy = (y - cy) / zoom;
    const sx = c * dx + s * dy + cx;
    const sy = -s * dx + c * dy + cy;
    const o = (y * width + x) * channels;
    if (sx < -0.5 || sy < -0.5 || sx > width - 0.5 || sy > height - 0.5) {
      for (let k = 0; k < channels; k++) out[o + k] = border[k];
      continue;
    }
    const x0 = Math.max(0, Math.min(width - 1, Math.floor(sx)));
    const y0 = Math.max(0, Math.min(height - 1, Math.floor(sy)));
    const x1 = Math.min(width - 1, x0 + 1);
    const y1 = Math.min(height - 1, y0 + 1);
    const fx = Math.min(1, Math.max(0, sx - x0));
    const fy = Math.min(1, Math.max(0, sy - y0));
    for (let k = 0; k < channels; k++) {
      const top = src[(y0 * width + x0) * channels + k] * (1 - fx) + src[(y0 * width + x1) * channels + k] * fx;
      const bottom = src[(y1 * width + x0) * channels + k] * (1 - fx) + src[(y1 * width + x1) * channels + k] * fx;
      out[o + k] = top * (1 - fy) + bottom * fy;
    }
  }
}

/**
 * Applies one transformation at one strength to every image (NHWC, [0,1]) and returns new images
 * clipped to [0,1]. Noise draws from `seed` (image i uses the stream seeded seed + i).
 */
export function transformImages(images: Float32Array, shape: readonly [number, number, number, number], transform: TransformName, strength: number, seed = 0): Float32Array {
  const [count, height, width, channels] = shape;
  const size = height * width * channels;
  if (images.length !== count * size) throw new ChannelParameterError(`images hold ${images.length} values, shape ${shape.join('x')} needs ${count * size}`);
  if (!(TRANSFORMS as readonly string[]).includes(transform)) throw new ChannelParameterError(`unknown transformation "${transform}"; one of ${TRANSFORMS.join(', ')}`);
  if (!Number.isFinite(strength)) throw new ChannelParameterError(`strength must be a finite number, got ${strength}`);
  if (transform === 'jpeg' && channels !== 1 && channels !== 3) throw new ChannelParameterError(`JPEG needs 1 or 3 channels, got ${channels}`);
  const out = new Float32Array(images.length);
  for (let n = 0; n < count; n++) {
    const src = images.subarray(n * size, (n + 1) * size);
    const dst = out.subarray(n * size, (n + 1) * size);
    switch (transform) {
      case 'brightness':
        for (let i = 0; i < size; i++) dst[i] = src[i] + strength;
        break;
      case 'contrast':
        checkRange('contrast factor', strength, 0, 10);
        for (let i = 0; i < size; i++) dst[i] = src[i] * strength;
        break;
      case 'blur': {
        checkRange('blur σ', strength, 0, 50);
        dst.set(src);
        gaussianBlur({ data: dst, width, height, channels }, strength);
        break;
      }
      case 'noise': {
        checkRange('noise σ', strength, 0, 10);
        const random = new SeededRandom(seed + n);
        for (let i = 0; i < size; i++) dst[i] = src[i] + strength * random.normal();
        break;
      }
      case 'jpeg':
        checkRange('JPEG quality', strength, 1, 100);
        dst.set(jpegRoundTrip(src, width, height, channels as 1 | 3, strength));
        break;
      case 'rotation':
        resampleAboutCentre(src, dst, height, width, channels, strength, 1);
        break;
      case 'scale':
        checkRange('scale factor', strength, 0.05, 20);
        resampleAboutCentre(src, dst, height, width, channels, 0, strength);
        break;
    }
    for (let i = 0; i < size; i++) dst[i] = dst[i] < 0 ? 0 : dst[i] > 1 ? 1 : dst[i];
  }
  return out;
}

/** The sheet-image point that a photo pixel shows, for tests and overlays. */
export function photoToSheet(simulated: Pick<SimulatedPhoto, 'homography'>, point: Point): [number, number] {
  return applyHomography(invertHomography(simulated.homography as Homography), point);
}
