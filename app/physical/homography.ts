/**
 * Plane-to-plane geometry in pure TypeScript: the normalised DLT (Hartley & Zisserman, "Multiple View
 * Geometry", 2nd ed., Alg. 4.2) for a homography from ≥4 correspondences, a least-squares affine fit
 * for ≥3, and the reprojection error. Pure maths so the browser's live preview needs no OpenCV for it.
 */
export type Point = readonly [number, number];
/** 3×3 row-major; maps (x, y, 1) to (u·w, v·w, w). */
export type Homography = readonly number[];

export class GeometryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GeometryError';
  }
}

export function applyHomography(h: Homography, point: Point): [number, number] {
  const [x, y] = point;
  const w = h[6] * x + h[7] * y + h[8];
  return [(h[0] * x + h[1] * y + h[2]) / w, (h[3] * x + h[4] * y + h[5]) / w];
}

export function multiplyHomography(a: Homography, b: Homography): number[] {
  const out = new Array<number>(9).fill(0);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) for (let k = 0; k < 3; k++) out[r * 3 + c] += a[r * 3 + k] * b[k * 3 + c];
  return out;
}

export function invertHomography(h: Homography): number[] {
  const [a, b, c, d, e, f, g, i, j] = h;
  const A = e * j - f * i;
  const B = -(d * j - f * g);
  const C = d * i - e * g;
  const det = a * A + b * B + c * C;
  if (!Number.isFinite(det) || Math.abs(det) < 1e-15) throw new GeometryError('homography is singular and cannot be inverted');
  const inv = [A, -(b * j - c * i), b * f - c * e, B, a * j - c * g, -(a * f - c * d), C, -(a * i - b * g), a * e - b * d];
  return normaliseHomography(inv.map((v) => v / det));
}

/** Scale so h[8] = 1 where possible (the usual convention; keeps JSON readable). */
export function normaliseHomography(h: Homography): number[] {
  const s = Math.abs(h[8]) > 1e-12 ? h[8] : Math.hypot(...h);
  return h.map((v) => v / s);
}

/** Similarity that moves the centroid to 0 and the mean distance to √2 (Hartley normalisation). */
function normalisingTransform(points: readonly Point[]): number[] {
  let cx = 0;
  let cy = 0;
  for (const [x, y] of points) {
    cx += x;
    cy += y;
  }
  cx /= points.length;
  cy /= points.length;
  let meanDistance = 0;
  for (const [x, y] of points) meanDistance += Math.hypot(x - cx, y - cy);
  meanDistance /= points.length;
  if (meanDistance < 1e-12) throw new GeometryError('all points coincide');
  const s = Math.SQRT2 / meanDistance;
  return [s, 0, -s * cx, 0, s, -s * cy, 0, 0, 1];
}

/**
 * Eigen-decomposition of a symmetric matrix by cyclic Jacobi rotations; returns the eigenvector of
 * the smallest eigenvalue, i.e. the least-squares null vector of A for AᵀA.
 */
function smallestEigenvector(m: Float64Array, n: number): Float64Array {
  const a = Float64Array.from(m);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 60; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p];
          const akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k];
          const aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  let best = 0;
  for (let i = 1; i < n; i++) if (a[i * n + i] < a[best * n + best]) best = i;
  const out = new Float64Array(n);
  for (let k = 0; k < n; k++) out[k] = v[k * n + best];
  return out;
}

/** Least-squares homography `from` → `to` by the normalised DLT; needs ≥ 4 points, no 3 collinear. */
export function fitHomography(from: readonly Point[], to: readonly Point[]): number[] {
  if (from.length !== to.length) throw new GeometryError(`point lists differ in length (${from.length} vs ${to.length})`);
  if (from.length < 4) throw new GeometryError(`a homography needs at least 4 point pairs, got ${from.length}`);
  const tf = normalisingTransform(from);
  const tt = normalisingTransform(to);
  const ata = new Float64Array(81);
  const row = new Float64Array(9);
  const accumulate = () => {
    for (let r = 0; r < 9; r++) for (let c = 0; c < 9; c++) ata[r * 9 + c] += row[r] * row[c];
  };
  for (let i = 0; i < from.length; i++) {
    const [x, y] = applyHomography(tf, from[i]);
    const [u, v] = applyHomography(tt, to[i]);
    row.set([-x, -y, -1, 0, 0, 0, u * x, u * y, u]);
    accumulate();
    row.set([0, 0, 0, -x, -y, -1, v * x, v * y, v]);
    accumulate();
  }
  const hn = Array.from(smallestEigenvector(ata, 9));
  const h = multiplyHomography(multiplyHomography(invertHomography(tt), hn), tf);
  if (!h.every(Number.isFinite) || Math.abs(h[8]) < 1e-12) throw new GeometryError('points are degenerate (collinear or coincident); no homography');
  const normalised = normaliseHomography(h);
  // A fit that folds the plane (points on both sides of the horizon line) is not a camera view.
  const signs = from.map(([x, y]) => Math.sign(normalised[6] * x + normalised[7] * y + normalised[8]));
  if (signs.some((s) => s !== signs[0])) throw new GeometryError('points are degenerate: the fitted homography folds the plane');
  return normalised;
}

/** Least-squares affine map `from` → `to` (≥ 3 non-collinear points), as a homography with last row 0 0 1. */
export function fitAffine(from: readonly Point[], to: readonly Point[]): number[] {
  if (from.length !== to.length) throw new GeometryError(`point lists differ in length (${from.length} vs ${to.length})`);
  if (from.length < 3) throw new GeometryError(`an affine map needs at least 3 point pairs, got ${from.length}`);
  // Normal equations (XᵀX) p = Xᵀu with rows X = [x y 1], solved by Cramer's rule for 3×3.
  const xtx = [0, 0, 0, 0, 0, 0, 0, 0, 0];
  const xtu = [0, 0, 0];
  const xtv = [0, 0, 0];
  for (let i = 0; i < from.length; i++) {
    const r = [from[i][0], from[i][1], 1];
    for (let a = 0; a < 3; a++) {
      for (let b = 0; b < 3; b++) xtx[a * 3 + b] += r[a] * r[b];
      xtu[a] += r[a] * to[i][0];
      xtv[a] += r[a] * to[i][1];
    }
  }
  const det = det3(xtx);
  if (Math.abs(det) < 1e-9 * Math.max(1, Math.abs(xtx[0] * xtx[4] * xtx[8]))) throw new GeometryError('points are collinear; no affine map');
  const [a, b, c] = solve3(xtx, xtu, det);
  const [d, e, f] = solve3(xtx, xtv, det);
  return [a, b, c, d, e, f, 0, 0, 1];
}

function det3(m: readonly number[]): number {
  return m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) + m[2] * (m[3] * m[7] - m[4] * m[6]);
}

/** Cramer's rule: column k of m replaced by the right-hand side. */
function solve3(m: readonly number[], rhs: readonly number[], det: number): number[] {
  return [0, 1, 2].map((k) => {
    const mk = [...m];
    for (let r = 0; r < 3; r++) mk[r * 3 + k] = rhs[r];
    return det3(mk) / det;
  });
}

export interface ReprojectionError {
  /** Mean and largest distance in `to` units between H·from and to. */
  mean: number;
  max: number;
}

export function reprojectionError(h: Homography, from: readonly Point[], to: readonly Point[]): ReprojectionError {
  let sum = 0;
  let max = 0;
  for (let i = 0; i < from.length; i++) {
    const [u, v] = applyHomography(h, from[i]);
    const d = Math.hypot(u - to[i][0], v - to[i][1]);
    sum += d;
    max = Math.max(max, d);
  }
  return { mean: from.length ? sum / from.length : 0, max };
}
