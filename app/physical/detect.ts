/**
 * ArUco marker detection with OpenCV.js (DICT_4X4_250, see markers.ts). Large photos are detected on
 * a box-downscaled copy (OpenCV's detector costs grow with pixels, and phone photos are soft at full
 * size anyway), then every corner is refined to sub-pixel accuracy on the full-resolution image.
 */
import { MARKER_DICTIONARY } from './markers.js';
import { downscaleGrey } from './image.js';
import type { GreyImage } from './image.js';
import type { Point } from './homography.js';
import { withMats } from './opencv.js';
import type { OpenCV, OpenCVRuntime } from './opencv.js';

export interface DetectedMarker {
  id: number;
  /** Photo pixels (pixel centres at integer coordinates), in the marker's own order TL, TR, BR, BL. */
  corners: [Point, Point, Point, Point];
}

export interface DetectOptions {
  /** Photos whose longer side exceeds this are downscaled by a whole factor for detection (default 1600). */
  maxDetectionSide?: number;
  /**
   * Also threshold with a 23 px window (OpenCV's default 3/13/23 instead of our fast 3/13): slower,
   * finds some markers the fast pass misses (soft or unevenly lit). The analysis retries with it when
   * a sheet shows fewer than four markers.
   */
  thorough?: boolean;
}

interface DetectorCache {
  cv: OpenCV;
  detector: any;
}
const caches = new Map<boolean, DetectorCache>();

/** One detector per OpenCV instance, built once: constructing it costs more than a small frame's detection. */
function arucoDetector(cv: OpenCV, thorough: boolean): any {
  const cache = caches.get(thorough);
  if (cache?.cv === cv) return cache.detector;
  const dictionary = cv.getPredefinedDictionary(cv[MARKER_DICTIONARY]);
  const parameters = new cv.aruco_DetectorParameters();
  parameters.cornerRefinementMethod = cv.CORNER_REFINE_SUBPIX;
  // Windows 3 and 13 px (instead of 3, 13, 23): measured 4/4 markers at 0.3-0.7 px on warped, blurred,
  // noisy, JPEG 1280x720 frames, in 18 ms instead of ~27 ms.
  parameters.adaptiveThreshWinSizeMax = thorough ? 23 : 13;
  const refine = new cv.aruco_RefineParameters(10, 3, true);
  const detector = new cv.aruco_ArucoDetector(dictionary, parameters, refine);
  dictionary.delete?.();
  parameters.delete?.();
  refine.delete?.();
  caches.set(thorough, { cv, detector });
  return detector;
}

function greyMat(cv: OpenCV, image: GreyImage): any {
  const mat = new cv.Mat(image.height, image.width, cv.CV_8UC1);
  (mat.data as Uint8Array).set(image.data);
  return mat;
}

export function detectMarkers(runtime: OpenCVRuntime, image: GreyImage, options: DetectOptions = {}): DetectedMarker[] {
  const { cv } = runtime;
  const maxSide = options.maxDetectionSide ?? 1600;
  const factor = Math.max(1, Math.ceil(Math.max(image.width, image.height) / maxSide));
  const small = downscaleGrey(image, factor);
  const detector = arucoDetector(cv, options.thorough ?? false);
  return withMats((keep) => {
    const mat = keep(greyMat(cv, small));
    const corners = keep(new cv.MatVector());
    const ids = keep(new cv.Mat());
    const rejected = keep(new cv.MatVector());
    detector.detectMarkers(mat, corners, ids, rejected);
    // Every detection, the same id twice included: identity markers may repeat an id on one page, and
    // two copies of a sheet number in view must be told apart by the analysis, not silently merged.
    const found: DetectedMarker[] = [];
    for (let i = 0; i < corners.size(); i++) {
      const id = (ids.data32S as Int32Array)[i];
      const quad = keep(corners.get(i));
      const xy = quad.data32F as Float32Array;
      // A box-downscaled pixel x covers full-resolution pixels [x·f, x·f + f): its centre is x·f + (f − 1)/2.
      const up = (v: number): number => v * factor + (factor - 1) / 2;
      const points = [0, 1, 2, 3].map((k) => [up(xy[2 * k]), up(xy[2 * k + 1])] as Point) as DetectedMarker['corners'];
      found.push({ id, corners: points });
    }
    const markers = withoutNested(found);
    if (factor > 1 && markers.length > 0) refineCorners(image, markers, factor);
    return markers;
  });
}

const side = (marker: DetectedMarker): number => Math.hypot(marker.corners[1][0] - marker.corners[0][0], marker.corners[1][1] - marker.corners[0][1]);

function inside(point: Point, quad: readonly Point[]): boolean {
  let sign = 0;
  for (let k = 0; k < 4; k++) {
    const [ax, ay] = quad[k];
    const [bx, by] = quad[(k + 1) % 4];
    const cross = (bx - ax) * (point[1] - ay) - (by - ay) * (point[0] - ax);
    if (cross === 0) continue;
    if (sign === 0) sign = Math.sign(cross);
    else if (Math.sign(cross) !== sign) return false;
  }
  return true;
}

/**
 * Drops detections inside a much larger marker: OpenCV sometimes reads a block of a marker's own
 * modules as a small marker of another id (seen on rendered sheets: id 190 inside ids 118 and 227), which
 * would otherwise count as an extra corner or identity marker.
 */
function withoutNested(markers: DetectedMarker[]): DetectedMarker[] {
  return markers.filter((marker) => {
    const centre: Point = [marker.corners.reduce((s, p) => s + p[0], 0) / 4, marker.corners.reduce((s, p) => s + p[1], 0) / 4];
    return !markers.some((outer) => outer !== marker && side(outer) > 1.5 * side(marker) && inside(centre, outer.corners));
  });
}

/**
 * Sub-pixel refinement of downscaled detections on the full image. This OpenCV.js build has no
 * cornerSubPix, so it is done here, by the same method (Förstner 1987; OpenCV's cornerSubPix): at the
 * true corner q every gradient g_p in a window is orthogonal to p − q, so q solves
 * Σ g gᵀ · q = Σ g gᵀ · p (Gaussian-weighted), iterated from the coarse corner.
 */
function refineCorners(image: GreyImage, markers: DetectedMarker[], factor: number): void {
  // The window must stay inside one marker module: a module is a sixth of the shortest marker side.
  const smallestSide = Math.min(...markers.flatMap((marker) => marker.corners.map((p, k) => {
    const q = marker.corners[(k + 1) % 4];
    return Math.hypot(p[0] - q[0], p[1] - q[1]);
  })));
  const half = Math.max(2, Math.min(2 * factor + 1, Math.floor(smallestSide / 6 / 2)));
  for (const marker of markers) {
    marker.corners = marker.corners.map((corner) => refineCorner(image, corner, half)) as DetectedMarker['corners'];
  }
}

function refineCorner(image: GreyImage, start: Point, half: number): Point {
  const { data, width, height } = image;
  let [qx, qy] = start;
  const sigma = half / 2;
  for (let iteration = 0; iteration < 20; iteration++) {
    let a = 0;
    let b = 0;
    let c = 0;
    let bx = 0;
    let by = 0;
    const cx = Math.round(qx);
    const cy = Math.round(qy);
    if (cx - half - 1 < 0 || cy - half - 1 < 0 || cx + half + 1 >= width || cy + half + 1 >= height) return start;
    for (let dy = -half; dy <= half; dy++) {
      for (let dx = -half; dx <= half; dx++) {
        const x = cx + dx;
        const y = cy + dy;
        const i = y * width + x;
        const gx = (data[i + 1] - data[i - 1]) / 2;
        const gy = (data[i + width] - data[i - width]) / 2;
        const w = Math.exp(-(dx * dx + dy * dy) / (2 * sigma * sigma));
        const gxx = w * gx * gx;
        const gxy = w * gx * gy;
        const gyy = w * gy * gy;
        a += gxx;
        b += gxy;
        c += gyy;
        bx += gxx * x + gxy * y;
        by += gxy * x + gyy * y;
      }
    }
    const det = a * c - b * b;
    if (!(Math.abs(det) > 1e-9)) return start;
    const nx = (c * bx - b * by) / det;
    const ny = (a * by - b * bx) / det;
    const step = Math.hypot(nx - qx, ny - qy);
    qx = nx;
    qy = ny;
    if (step < 0.01) break;
  }
  // A refinement that wandered off (flat or noisy window) is worse than the coarse corner.
  return Math.hypot(qx - start[0], qy - start[1]) <= half ? [qx, qy] : start;
}
