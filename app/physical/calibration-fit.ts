/**
 * Fits a channel profile (channel-profile.ts) from photos of the calibration sheet
 * (calibration-sheet.ts). Per photo: the analysis finds the sheet and its homography page-mm → photo-px
 * (analyze.ts, the same detection, identity check and refusals as for attack sheets); then every
 * photo pixel inside a patch or edge is mapped back to the page and read at its own value (no
 * resampling, which would add blur and average noise away).
 * - Tone and colour: each patch's mean, corrected for uneven light by the paper white beside it;
 *   photographed = M · tone(printed) per patch, tone a 17-knot curve per channel and M a
 *   3×3 matrix, fitted by alternating least squares (each step is linear in its unknowns), tone kept
 *   monotone by pool-adjacent-violators. The model has a gauge freedom (M·D with D⁻¹·tone, and an
 *   offset that trades with the curves' constant), fixed here by M's rows summing to 1 (a grey stays
 *   grey apart from its curves) and a zero offset: the curves carry the printer's lifted black and
 *   dulled white, the matrix only the cross-talk between channels.
 * - Blur: the slanted edges' profile across the edge (each pixel at its exact distance from the edge,
 *   so the 5° slant samples it at sub-pixel phases) fitted with an error function; σ in mm with the
 *   camera pixel's own width (σ² = 1/12 px²) taken out.
 * - Noise: on flat patches, from differences of neighbouring pixels (σ² = E[(a−b)²]/2), which a slow
 *   light gradient does not inflate; at the photo's pixels, as the simulator adds it.
 * - Light: each photo's gain and lift around the pooled fit → brightness and contrast ranges.
 * - Pose: the sheet's tilt per photo from the homography, and the residual misregistration of the
 *   identity markers (not used for the fit) after the corner markers' homography → residual pose ranges.
 */
import { CancelledError } from '../attacks/types.js';
import { analyzePhoto } from './analyze.js';
import type { PhotoAnalysis } from './analyze.js';
import { CalibrationError } from './calibration-sheet.js';
import type { CalibrationManifest } from './calibration-sheet.js';
import { channelProfileSchema } from './channel-profile.js';
import type { ChannelProfile } from './channel-profile.js';
import { applyHomography, invertHomography } from './homography.js';
import type { Point } from './homography.js';
import type { RgbaImage } from './image.js';
import type { OpenCVRuntime } from './opencv.js';

export interface CalibrationPhoto {
  /** File name, for messages and the profile's record. */
  name: string;
  image: RgbaImage;
  /** The file's JPEG quality when known (jpegQualityOf), null for lossless files. */
  jpegQuality?: number | null;
}

export interface PatchReading {
  cell: number;
  printed: [number, number, number];
  /** Mean photographed value per channel, [0,1]. */
  observed: [number, number, number];
  /** Neighbour-difference noise σ, mean over channels. */
  noise: number;
  pixels: number;
}

export interface EdgeReading {
  cell: number;
  /** Blur σ in mm, the pixel's own width taken out. */
  sigmaMm: number;
  /** Where the edge was found relative to where the manifest prints it, mm along its normal. */
  shiftMm: number;
  pixels: number;
}

export interface PhotoReading {
  name: string;
  sheetId: string;
  /** Photo pixels per page millimetre at the page centre. */
  pixelsPerMm: number;
  tiltDeg: number;
  patches: PatchReading[];
  edges: EdgeReading[];
  /** Median noise σ over the mid-tone patches. */
  noise: number;
  /** Residual misregistration of the identity markers after the homography (null: none seen). */
  residual: { translateMm: number; rotationDeg: number; scale: number; perspectiveMm: number } | null;
  jpegQuality: number | null;
  warnings: string[];
}

export interface CalibrationResult {
  profile: ChannelProfile;
  readings: PhotoReading[];
  /** Photos that could not be used, with the reason (one line each). */
  failures: { name: string; message: string }[];
  /** RMS of (fit − observed) over every patch of every photo, [0,1] units. */
  colourRms: number;
}

export interface CalibrateOptions {
  name?: string;
  created?: string;
  opencv?: OpenCVRuntime;
  onProgress?: (done: number, total: number, label: string) => void;
  signal?: AbortSignal;
}

const KNOTS = 17;
/** Patches and edges are read this far inside their printed rectangle (mm): clear of the print's blur and a misregistered border. */
const PATCH_INSET_MM = 3;
const EDGE_INSET_MM = 2;

function quadOf(h: readonly number[], rect: { x: number; y: number; width: number; height: number }): Point[] {
  return [
    [rect.x, rect.y],
    [rect.x + rect.width, rect.y],
    [rect.x + rect.width, rect.y + rect.height],
    [rect.x, rect.y + rect.height],
  ].map((p) => applyHomography(h, [p[0], p[1]]));
}

/** Calls `visit(x, y, u, v)` for every photo pixel centre whose page point (u, v) lies inside `rect`. */
function forPixelsIn(photo: RgbaImage, h: readonly number[], inverse: readonly number[], rect: { x: number; y: number; width: number; height: number }, visit: (x: number, y: number, u: number, v: number) => void): void {
  const quad = quadOf(h, rect);
  const x0 = Math.max(0, Math.floor(Math.min(...quad.map((p) => p[0]))));
  const x1 = Math.min(photo.width - 1, Math.ceil(Math.max(...quad.map((p) => p[0]))));
  const y0 = Math.max(0, Math.floor(Math.min(...quad.map((p) => p[1]))));
  const y1 = Math.min(photo.height - 1, Math.ceil(Math.max(...quad.map((p) => p[1]))));
  for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) {
    const [u, v] = applyHomography(inverse, [x, y]);
    if (u >= rect.x && u <= rect.x + rect.width && v >= rect.y && v <= rect.y + rect.height) visit(x, y, u, v);
  }
}

function insetRect(rect: { x: number; y: number; width: number; height: number }, inset: number) {
  return { x: rect.x + inset, y: rect.y + inset, width: rect.width - 2 * inset, height: rect.height - 2 * inset };
}

function readPatch(photo: RgbaImage, h: readonly number[], inverse: readonly number[], rect: { x: number; y: number; width: number; height: number }): { observed: [number, number, number]; noise: number; pixels: number } {
  const sum = [0, 0, 0];
  let pixels = 0;
  let diff = 0;
  let pairs = 0;
  const inside = new Set<number>();
  forPixelsIn(photo, h, inverse, insetRect(rect, PATCH_INSET_MM), (x, y) => {
    const i = (y * photo.width + x) * 4;
    for (let c = 0; c < 3; c++) sum[c] += photo.data[i + c];
    pixels++;
    inside.add(y * photo.width + x);
  });
  for (const p of inside) {
    if (!inside.has(p + 1)) continue;
    for (let c = 0; c < 3; c++) diff += (photo.data[p * 4 + c] - photo.data[(p + 1) * 4 + c]) ** 2;
    pairs += 3;
  }
  return {
    observed: sum.map((s) => s / Math.max(1, pixels) / 255) as [number, number, number],
    noise: pairs > 0 ? Math.sqrt(diff / pairs / 2) / 255 : 0,
    pixels,
  };
}

/**
 * The paper's colour just outside a cell's border line, on its left, right and top (its caption is
 * below): the median of each channel over 1 mm strips starting 0.5 mm beyond the line.
 */
function paperWhiteBeside(photo: RgbaImage, h: readonly number[], inverse: readonly number[], border: { x: number; y: number; width: number; height: number }): [number, number, number] {
  const [gap, strip] = [0.5, 1];
  const strips = [
    { x: border.x - gap - strip, y: border.y, width: strip, height: border.height },
    { x: border.x + border.width + gap, y: border.y, width: strip, height: border.height },
    { x: border.x, y: border.y - gap - strip, width: border.width, height: strip },
  ];
  const values: number[][] = [[], [], []];
  for (const rect of strips) {
    forPixelsIn(photo, h, inverse, rect, (x, y) => {
      const i = (y * photo.width + x) * 4;
      for (let c = 0; c < 3; c++) values[c].push(photo.data[i + c] / 255);
    });
  }
  return values.map((v) => (v.length === 0 ? 0 : v.sort((a, b) => a - b)[Math.floor(v.length / 2)])) as [number, number, number];
}

/** The standard normal CDF (Abramowitz & Stegun 7.1.26 for erf, |error| < 1.5e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

/**
 * Least-squares fit of v = a + b·Φ((d − shift)/σ) to samples (d in mm): a and b are linear for a given
 * σ and shift, so a coarse grid over (σ, shift) and two finer ones around the best suffice.
 */
export function fitEdgeProfile(d: Float64Array, v: Float64Array): { sigma: number; shift: number; residual: number } {
  const n = d.length;
  const cost = (sigma: number, shift: number): number => {
    let s1 = 0, sp = 0, spp = 0, sv = 0, spv = 0;
    for (let i = 0; i < n; i++) {
      const p = normalCdf((d[i] - shift) / sigma);
      s1++; sp += p; spp += p * p; sv += v[i]; spv += p * v[i];
    }
    const det = s1 * spp - sp * sp;
    if (Math.abs(det) < 1e-12) return Infinity;
    const b = (s1 * spv - sp * sv) / det;
    const a = (sv - b * sp) / s1;
    let r = 0;
    for (let i = 0; i < n; i++) r += (v[i] - a - b * normalCdf((d[i] - shift) / sigma)) ** 2;
    return b > 0 ? r : Infinity;
  };
  let best = { sigma: 0.3, shift: 0, residual: Infinity };
  const search = (sigmas: number[], shifts: number[]) => {
    for (const sigma of sigmas) for (const shift of shifts) {
      const r = cost(sigma, shift);
      if (r < best.residual) best = { sigma, shift, residual: r };
    }
  };
  search(Array.from({ length: 36 }, (_, i) => 0.01 * 1.17 ** i), Array.from({ length: 21 }, (_, i) => -1.5 + 0.15 * i));
  for (const [ratio, step] of [[1.17, 0.15], [1.04, 0.03]] as const) {
    const { sigma, shift } = best;
    search(
      Array.from({ length: 9 }, (_, i) => sigma * ratio ** ((i - 4) / 4)),
      Array.from({ length: 9 }, (_, i) => shift + (step * (i - 4)) / 4),
    );
  }
  return { ...best, residual: Math.sqrt(best.residual / Math.max(1, n)) };
}

/** Local photo pixels per page mm at a page point: the square root of the homography's Jacobian determinant. */
function pixelsPerMmAt(h: readonly number[], [u, v]: Point): number {
  const e = 0.5;
  const [ax, ay] = applyHomography(h, [u - e, v]);
  const [bx, by] = applyHomography(h, [u + e, v]);
  const [cx, cy] = applyHomography(h, [u, v - e]);
  const [dx, dy] = applyHomography(h, [u, v + e]);
  return Math.sqrt(Math.abs((bx - ax) * (dy - cy) - (by - ay) * (dx - cx))) / (2 * e);
}

/**
 * The sheet's tilt from the camera's axis, from the homography by the pinhole model: focal length from
 * the rotation's orthogonality when that is well posed, else the photo's diagonal (a normal lens).
 */
export function tiltFromHomography(h: readonly number[], width: number, height: number): number {
  const [cx, cy] = [(width - 1) / 2, (height - 1) / 2];
  const col = (k: number) => [h[k] - cx * h[6 + k], h[3 + k] - cy * h[6 + k], h[6 + k]];
  const [g1, g2] = [col(0), col(1)];
  const diagonal = Math.hypot(width, height);
  let f2 = -(g1[0] * g2[0] + g1[1] * g2[1]) / (g1[2] * g2[2]);
  if (!(f2 > (0.3 * diagonal) ** 2 && f2 < (5 * diagonal) ** 2)) f2 = diagonal ** 2;
  const f = Math.sqrt(f2);
  const r1 = [g1[0] / f, g1[1] / f, g1[2]];
  const r2 = [g2[0] / f, g2[1] / f, g2[2]];
  const n = [r1[1] * r2[2] - r1[2] * r2[1], r1[2] * r2[0] - r1[0] * r2[2], r1[0] * r2[1] - r1[1] * r2[0]];
  return (Math.acos(Math.min(1, Math.abs(n[2]) / Math.hypot(...n))) * 180) / Math.PI;
}

/** Identity markers as detected, mapped back to the page, against where the manifest prints them. */
function residualPose(analysis: PhotoAnalysis, manifest: CalibrationManifest, inverse: readonly number[]): PhotoReading['residual'] {
  let translate = 0, rotation = 0, scale = 0, perspective = 0, seen = 0;
  for (const expected of manifest.sheet.geometry.identityMarkers) {
    // Two slots can print the same symbol: take the marker of this id nearest to where this slot is.
    const printed = expected.cornersMm.map((p) => [p.x, p.y] as Point);
    const centre = (q: readonly Point[]) => [q.reduce((s, p) => s + p[0], 0) / 4, q.reduce((s, p) => s + p[1], 0) / 4];
    const pc = centre(printed);
    const candidates = analysis.markers
      .filter((m) => m.role === 'identity' && m.id === expected.id)
      .map((m) => m.corners.map((p) => applyHomography(inverse, p)))
      .map((q) => ({ q, distance: Math.hypot(centre(q)[0] - pc[0], centre(q)[1] - pc[1]) }))
      .sort((a, b) => a.distance - b.distance);
    const side = Math.hypot(printed[1][0] - printed[0][0], printed[1][1] - printed[0][1]);
    if (candidates.length === 0 || candidates[0].distance > side / 2) continue;
    const detected = candidates[0].q;
    const dc = centre(detected);
    translate = Math.max(translate, Math.abs(dc[0] - pc[0]), Math.abs(dc[1] - pc[1]));
    const edge = (q: readonly Point[], k: number) => [q[(k + 1) % 4][0] - q[k][0], q[(k + 1) % 4][1] - q[k][1]];
    let angle = 0, ratio = 0;
    for (let k = 0; k < 4; k++) {
      const [a, b] = [edge(detected, k), edge(printed, k)];
      angle += Math.atan2(a[0] * b[1] - a[1] * b[0], a[0] * b[0] + a[1] * b[1]);
      ratio += Math.hypot(a[0], a[1]) / Math.hypot(b[0], b[1]);
    }
    rotation = Math.max(rotation, Math.abs((angle / 4) * 180) / Math.PI);
    scale = Math.max(scale, Math.abs(ratio / 4 - 1));
    for (let k = 0; k < 4; k++) perspective = Math.max(perspective, Math.hypot(detected[k][0] - dc[0] - (printed[k][0] - pc[0]), detected[k][1] - dc[1] - (printed[k][1] - pc[1])));
    seen++;
  }
  return seen === 0 ? null : { translateMm: translate, rotationDeg: rotation, scale, perspectiveMm: perspective };
}

/**
 * Finds the calibration sheet in one photo and reads its patches and edges. Throws CalibrationError
 * (one line) when the photo shows no sheet, another set's sheet, or too little of it.
 */
export async function readCalibrationPhoto(photo: CalibrationPhoto, manifests: readonly CalibrationManifest[], opencv?: OpenCVRuntime): Promise<PhotoReading> {
  if (manifests.length === 0) throw new CalibrationError('no calibration sheet manifest given (foolprint calibrate --sheet writes calibration.calibration.json)');
  const analysis = await analyzePhoto(photo.image, manifests.map((m) => m.sheet), undefined, { inputShape: [4, 4, 3], keepCrops: false, levels: 'none', opencv });
  if (analysis.status === 'no-sheet') throw new CalibrationError(`${photo.name}: calibration sheet not found (${analysis.message})`);
  if (analysis.status === 'unknown-sheet') throw new CalibrationError(`${photo.name}: not the calibration sheet given: ${analysis.message}`);
  if (analysis.status !== 'ok' && analysis.status !== 'partial') throw new CalibrationError(`${photo.name}: ${analysis.message}`);
  const manifest = manifests.find((m) => m.sheet.sheetId === analysis.sheetId);
  const h = analysis.homography;
  if (!manifest || !h) throw new CalibrationError(`${photo.name}: ${analysis.message}`);
  const inverse = invertHomography(h);
  const cellRect = (cell: number) => manifest.sheet.cells[cell].imageRectMm;
  const inPhoto = (cell: number) => quadOf(h, cellRect(cell)).every(([x, y]) => x >= 0 && y >= 0 && x <= photo.image.width - 1 && y <= photo.image.height - 1);
  const warnings = [...analysis.warnings];

  const patches: PatchReading[] = [];
  const whites: [number, number, number][] = [];
  for (const patch of manifest.patches) {
    if (!inPhoto(patch.cell)) continue;
    const read = readPatch(photo.image, h, inverse, cellRect(patch.cell));
    if (read.pixels < 16) continue;
    patches.push({ cell: patch.cell, printed: [...patch.rgb], ...read });
    whites.push(paperWhiteBeside(photo.image, h, inverse, manifest.sheet.cells[patch.cell].borderRectMm));
  }
  // Uneven light (a lamp to one side, vignetting) scales paper and patch alike: each patch is divided
  // by the paper white beside it and multiplied by the sheet's median paper white, so the tone curves
  // keep the photo's overall exposure but not where on the page a patch happened to be.
  const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const sheetWhite = [0, 1, 2].map((c) => median(whites.map((w) => w[c])));
  patches.forEach((patch, i) => {
    patch.observed = patch.observed.map((v, c) => (whites[i][c] > 0.05 ? (v * sheetWhite[c]) / whites[i][c] : v)) as [number, number, number];
  });
  if (patches.length < 12) throw new CalibrationError(`${photo.name}: only ${patches.length} of ${manifest.patches.length} patches are in view and large enough (at least 12 needed): photograph the whole sheet, closer`);

  const edges: EdgeReading[] = [];
  for (const edge of manifest.edges) {
    if (!inPhoto(edge.cell)) continue;
    const rect = cellRect(edge.cell);
    const centre: Point = [rect.x + rect.width / 2, rect.y + rect.height / 2];
    const angle = (edge.normalDeg * Math.PI) / 180;
    const [nx, ny] = [Math.cos(angle), Math.sin(angle)];
    const ds: number[] = [];
    const vs: number[] = [];
    forPixelsIn(photo.image, h, inverse, insetRect(rect, EDGE_INSET_MM), (x, y, u, v) => {
      const i = (y * photo.image.width + x) * 4;
      ds.push((u - centre[0]) * nx + (v - centre[1]) * ny);
      vs.push((photo.image.data[i] + photo.image.data[i + 1] + photo.image.data[i + 2]) / (3 * 255));
    });
    if (ds.length < 64) continue;
    const fit = fitEdgeProfile(Float64Array.from(ds), Float64Array.from(vs));
    const mmPerPixel = 1 / pixelsPerMmAt(h, centre);
    const sigmaMm = Math.sqrt(Math.max(0, fit.sigma ** 2 - mmPerPixel ** 2 / 12));
    edges.push({ cell: edge.cell, sigmaMm, shiftMm: fit.shift, pixels: ds.length });
  }
  if (edges.length === 0) warnings.push('no slanted edge in view: blur not measured on this photo');

  const midTones = patches.filter((p) => p.observed.every((v) => v > 0.08 && v < 0.92)).map((p) => p.noise).sort((a, b) => a - b);
  const noise = midTones.length > 0 ? midTones[Math.floor(midTones.length / 2)] : 0;
  const page = manifest.sheet.geometry.pageMm;
  return {
    name: photo.name,
    sheetId: manifest.sheet.sheetId,
    pixelsPerMm: pixelsPerMmAt(h, [page.width / 2, page.height / 2]),
    tiltDeg: tiltFromHomography(h, photo.image.width, photo.image.height),
    patches,
    edges,
    noise,
    residual: residualPose(analysis, manifest, inverse),
    jpegQuality: photo.jpegQuality ?? null,
    warnings,
  };
}

/** Linear interpolation weights of value v on KNOTS evenly spaced knots: [knot, weight] pairs. */
function knotWeights(v: number): [number, number][] {
  const x = Math.min(1, Math.max(0, v)) * (KNOTS - 1);
  const i = Math.min(KNOTS - 2, Math.floor(x));
  const f = x - i;
  return f < 1e-9 ? [[i, 1]] : [[i, 1 - f], [i + 1, f]];
}

/** Solves A x = b (n×n, row-major) by Gaussian elimination with partial pivoting. */
function solve(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const m = Float64Array.from(a);
  const x = Float64Array.from(b);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r * n + col]) > Math.abs(m[pivot * n + col])) pivot = r;
    if (pivot !== col) {
      for (let k = 0; k < n; k++) [m[col * n + k], m[pivot * n + k]] = [m[pivot * n + k], m[col * n + k]];
      [x[col], x[pivot]] = [x[pivot], x[col]];
    }
    const d = m[col * n + col];
    if (Math.abs(d) < 1e-14) continue;
    for (let r = col + 1; r < n; r++) {
      const f = m[r * n + col] / d;
      if (f === 0) continue;
      for (let k = col; k < n; k++) m[r * n + k] -= f * m[col * n + k];
      x[r] -= f * x[col];
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    let s = x[r];
    for (let k = r + 1; k < n; k++) s -= m[r * n + k] * x[k];
    const d = m[r * n + r];
    x[r] = Math.abs(d) < 1e-14 ? 0 : s / d;
  }
  return x;
}

/** Pool-adjacent-violators: the closest non-decreasing sequence in least squares. */
function monotone(values: number[]): number[] {
  const blocks: { sum: number; count: number }[] = [];
  for (const v of values) {
    blocks.push({ sum: v, count: 1 });
    while (blocks.length > 1 && blocks[blocks.length - 2].sum / blocks[blocks.length - 2].count > blocks[blocks.length - 1].sum / blocks[blocks.length - 1].count) {
      const last = blocks.pop()!;
      blocks[blocks.length - 1].sum += last.sum;
      blocks[blocks.length - 1].count += last.count;
    }
  }
  return blocks.flatMap((b) => Array<number>(b.count).fill(b.sum / b.count));
}

export interface ToneColourFit {
  tone: [number[], number[], number[]];
  /** Row-major 3×3, rows summing to 1. */
  matrix: number[];
  rms: number;
}

/** Evaluates the model M · tone(p). */
export function applyToneColour(fit: Pick<ToneColourFit, 'tone' | 'matrix'>, p: readonly number[]): [number, number, number] {
  const t = [0, 1, 2].map((c) => knotWeights(p[c]).reduce((s, [k, w]) => s + w * fit.tone[c][k], 0));
  return [0, 1, 2].map((r) => fit.matrix[3 * r] * t[0] + fit.matrix[3 * r + 1] * t[1] + fit.matrix[3 * r + 2] * t[2]) as [number, number, number];
}

/** Alternating least squares for observed = M · tone(printed), M's rows summing to 1 (see the file comment). */
export function fitToneColour(samples: readonly { printed: readonly number[]; observed: readonly number[] }[], iterations = 60): ToneColourFit {
  if (samples.length < 4) throw new CalibrationError(`${samples.length} patches are too few to fit tone curves and a colour matrix`);
  // Start: M = I and each curve from the grey patches (linear between them, identity where none).
  const tone: [number[], number[], number[]] = [[], [], []];
  for (let c = 0; c < 3; c++) {
    const byKnot = new Map<number, number[]>();
    for (const s of samples) {
      if (s.printed[0] !== s.printed[1] || s.printed[1] !== s.printed[2]) continue;
      const k = Math.round(s.printed[0] * (KNOTS - 1));
      byKnot.set(k, [...(byKnot.get(k) ?? []), s.observed[c]]);
    }
    for (let k = 0; k < KNOTS; k++) {
      const values = byKnot.get(k);
      tone[c][k] = values ? values.reduce((a, b) => a + b, 0) / values.length : k / (KNOTS - 1);
    }
    tone[c] = monotone(tone[c]);
  }
  let matrix = [1, 0, 0, 0, 1, 0, 0, 0, 1];
  const weights = samples.map((s) => [0, 1, 2].map((c) => knotWeights(s.printed[c])));
  const n = 3 * KNOTS;
  for (let iteration = 0; iteration < iterations; iteration++) {
    // M step: per output row, o − x₂ = m₀(x₀ − x₂) + m₁(x₁ − x₂), m₂ = 1 − m₀ − m₁.
    const x = samples.map((_, i) => [0, 1, 2].map((c) => weights[i][c].reduce((s, [k, w]) => s + w * tone[c][k], 0)));
    const next: number[] = [];
    for (let r = 0; r < 3; r++) {
      let a00 = 1e-9, a01 = 0, a11 = 1e-9, b0 = 0, b1 = 0;
      samples.forEach((s, i) => {
        const [u, v, y] = [x[i][0] - x[i][2], x[i][1] - x[i][2], s.observed[r] - x[i][2]];
        a00 += u * u; a01 += u * v; a11 += v * v; b0 += u * y; b1 += v * y;
      });
      const det = a00 * a11 - a01 * a01;
      const m0 = (a11 * b0 - a01 * b1) / det;
      const m1 = (a00 * b1 - a01 * b0) / det;
      next.push(m0, m1, 1 - m0 - m1);
    }
    matrix = next.map((v) => Math.min(4, Math.max(-4, v)));
    // Tone step: observed_r = Σ_c M[r][c] Σ_k w_ck T_ck, linear in the 51 knot values (a whisper of
    // ridge towards the current curves keeps knots no patch touches where they are).
    const ata = new Float64Array(n * n);
    const atb = new Float64Array(n);
    samples.forEach((s, i) => {
      for (let r = 0; r < 3; r++) {
        const row: [number, number][] = [];
        for (let c = 0; c < 3; c++) for (const [k, w] of weights[i][c]) row.push([c * KNOTS + k, matrix[3 * r + c] * w]);
        for (const [p, a] of row) {
          atb[p] += a * s.observed[r];
          for (const [q, b] of row) ata[p * n + q] += a * b;
        }
      }
    });
    const ridge = 1e-6;
    for (let p = 0; p < n; p++) {
      ata[p * n + p] += ridge;
      atb[p] += ridge * tone[Math.floor(p / KNOTS)][p % KNOTS];
    }
    const solved = solve(ata, atb, n);
    for (let c = 0; c < 3; c++) tone[c] = monotone(Array.from(solved.subarray(c * KNOTS, (c + 1) * KNOTS), (v) => Math.min(1.5, Math.max(-0.5, v))));
  }
  let squared = 0;
  for (const s of samples) {
    const predicted = applyToneColour({ tone, matrix }, s.printed);
    for (let c = 0; c < 3; c++) squared += (predicted[c] - s.observed[c]) ** 2;
  }
  return { tone, matrix, rms: Math.sqrt(squared / (3 * samples.length)) };
}

const clamp = (v: number, low: number, high: number) => Math.min(high, Math.max(low, v));
const spread = (values: number[], low: number, high: number, neutral?: number): [number, number] => {
  const all = neutral === undefined ? values : [...values, neutral];
  return [clamp(Math.min(...all), low, high), clamp(Math.max(...all), low, high)];
};

/** Fits the profile from photo readings (at least one). */
export function fitChannelProfile(readings: readonly PhotoReading[], options: { name?: string; created?: string } = {}): { profile: ChannelProfile; colourRms: number } {
  if (readings.length === 0) throw new CalibrationError('no usable photo of the calibration sheet');
  const fit = fitToneColour(readings.flatMap((r) => r.patches));
  // Each photo's light around the pooled fit: observed ≈ c·fit + lift, i.e. (fit − ½)·c + ½ + brightness.
  const light = readings.map((r) => {
    let n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (const p of r.patches) {
      const predicted = applyToneColour(fit, p.printed);
      for (let c = 0; c < 3; c++) {
        n++; sx += predicted[c]; sy += p.observed[c]; sxx += predicted[c] ** 2; sxy += predicted[c] * p.observed[c];
      }
    }
    const contrast = (n * sxy - sx * sy) / (n * sxx - sx * sx);
    const intercept = (sy - contrast * sx) / n;
    return { contrast, brightness: intercept - 0.5 + 0.5 * contrast };
  });
  const blurs = readings.filter((r) => r.edges.length > 0).map((r) => r.edges.reduce((s, e) => s + e.sigmaMm, 0) / r.edges.length);
  const residuals = readings.flatMap((r) => (r.residual ? [r.residual] : []));
  const maxOf = (pick: (r: NonNullable<PhotoReading['residual']>) => number) => (residuals.length > 0 ? Math.max(...residuals.map(pick)) : 0);
  const qualities = readings.flatMap((r) => (r.jpegQuality === null ? [] : [r.jpegQuality]));
  const rotation = clamp(maxOf((r) => r.rotationDeg), 0, 45);
  const scale = clamp(maxOf((r) => r.scale), 0, 0.5);
  const translate = clamp(maxOf((r) => r.translateMm), 0, 20);
  const profile: ChannelProfile = {
    kind: 'foolprint-channel-profile',
    version: 1,
    name: options.name ?? `Calibrated from ${readings.length} photo${readings.length === 1 ? '' : 's'}`,
    created: options.created ?? new Date().toISOString(),
    source: { photos: readings.map((r) => r.name) },
    tone: fit.tone,
    colourMatrix: fit.matrix,
    colourOffset: [0, 0, 0],
    blurMm: blurs.length > 0 ? spread(blurs, 0, 10) : [0, 0],
    noiseSigma: spread(readings.map((r) => r.noise), 0, 0.5),
    brightness: spread(light.map((l) => l.brightness), -0.5, 0.5, 0),
    contrast: spread(light.map((l) => l.contrast), 0.2, 3, 1),
    pose: {
      rotationDeg: [-rotation, rotation],
      scale: [1 - scale, 1 + scale],
      translateMm: [-translate, translate],
      perspectiveMm: [0, clamp(maxOf((r) => r.perspectiveMm), 0, 20)],
    },
    jpegQuality: qualities.length > 0 ? spread(qualities, 1, 100) : null,
    observed: { photos: readings.length, tiltDeg: spread(readings.map((r) => r.tiltDeg), 0, 90), colourRms: fit.rms, pixelsPerMm: spread(readings.map((r) => r.pixelsPerMm), 0, 1000) },
  };
  // The schema is the contract with EOT and the simulator: a fit that breaks it is a bug here, not bad input.
  return { profile: channelProfileSchema.parse(profile), colourRms: fit.rms };
}

/** Reads every photo (skipping, with the reason, those that show no usable calibration sheet) and fits the profile. */
export async function calibrate(photos: readonly CalibrationPhoto[], manifests: readonly CalibrationManifest[], options: CalibrateOptions = {}): Promise<CalibrationResult> {
  const readings: PhotoReading[] = [];
  const failures: { name: string; message: string }[] = [];
  for (const [i, photo] of photos.entries()) {
    if (options.signal?.aborted) throw new CancelledError();
    options.onProgress?.(i, photos.length, photo.name);
    try {
      readings.push(await readCalibrationPhoto(photo, manifests, options.opencv));
    } catch (error) {
      if (!(error instanceof CalibrationError)) throw error;
      failures.push({ name: photo.name, message: error.message });
    }
  }
  options.onProgress?.(photos.length, photos.length, 'fitting');
  if (readings.length === 0) throw new CalibrationError(failures.length === 1 ? failures[0].message : `none of the ${photos.length} photos shows the calibration sheet: ${failures.map((f) => f.message).join('; ')}`);
  const { profile, colourRms } = fitChannelProfile(readings, options);
  return { profile, readings, failures, colourRms };
}

/**
 * The quality a JPEG file was saved at, from its first (luminance) quantisation table against the
 * IJG base table (libjpeg's scaling, which phones and sharp follow closely); null when the bytes are not
 * a baseline JPEG with 8-bit tables.
 */
export function jpegQualityOf(bytes: Uint8Array): number | null {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return null;
  const base = [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99];
  const zigzag = [0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63];
  let at = 2;
  while (at + 4 <= bytes.length && bytes[at] === 0xff) {
    const marker = bytes[at + 1];
    const length = (bytes[at + 2] << 8) | bytes[at + 3];
    if (marker === 0xdb) {
      const precision = bytes[at + 4] >> 4;
      if (precision !== 0 || at + 5 + 64 > bytes.length) return null;
      let scale = 0;
      for (let i = 0; i < 64; i++) scale += (bytes[at + 5 + i] * 100) / base[zigzag[i]];
      scale /= 64;
      const quality = scale <= 100 ? (200 - scale) / 2 : 5000 / scale;
      return Math.round(clamp(quality, 1, 100));
    }
    if (marker === 0xda) return null;
    at += 2 + length;
  }
  return null;
}
