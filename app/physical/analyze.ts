/**
 * Analysis of one photo or camera frame of printed sheets (Kurakin, Goodfellow & Bengio 2016, Sec. 3.2,
 * automated): find the ArUco corner markers, tell which sheet it is, fit the homography page-mm →
 * photo-px, rectify every printed image to the model's input size, check its quality, classify the
 * crops and link each one to its digital record from the sheet manifest.
 *
 * Framework-free: the classifier is a callback, so the same code runs in the CLI, the main process and
 * the browser's live preview. Never throws for what a photo can show (no sheet, a hidden corner, another
 * sheet): those come back as a result with a status and a message. Results are plain JSON values.
 */
import type { TopK } from '../attacks/types.js';
import { detectMarkers } from './detect.js';
import type { DetectedMarker } from './detect.js';
import { GeometryError, applyHomography, fitAffine, fitHomography, reprojectionError } from './homography.js';
import type { Point, ReprojectionError } from './homography.js';
import { checkRgba, rgbaToGrey } from './image.js';
import type { RgbaImage } from './image.js';
import { MARKERS_PER_SHEET, MAX_SHEET_NUMBER, PAGE_CORNERS } from './markers.js';
import type { PageCorner } from './markers.js';
import { loadOpenCV } from './opencv.js';
import type { OpenCVRuntime } from './opencv.js';
import { inkPaperRatio, normaliseCrop, paperWhiteAround } from './levels.js';
import type { PaperLevels } from './levels.js';
import { DEFAULT_QUALITY_THRESHOLDS, measureCellQuality } from './quality.js';
import type { CellQuality, QualityThresholds } from './quality.js';
import { projectRect, rectInsidePhoto, rectifyRect } from './rectify.js';
import type { SheetCell, SheetManifest, SheetPrediction } from './sheet-manifest.js';

/** Classifies `count` crops (NHWC, [0,1], the model's input size) and returns their top-k. */
export type ClassifyCrops = (crops: Float32Array, count: number) => Promise<TopK>;

export type AnalysisStatus =
  /** All four markers found; every cell inside the frame was analysed. */
  | 'ok'
  /** Three markers found: geometry from those, some cells may be missing. */
  | 'partial'
  /** No marker of any sheet in the photo. */
  | 'no-sheet'
  /** Markers found, but of a sheet none of the given manifests describes. */
  | 'unknown-sheet'
  /** A known sheet, but fewer than three of its markers: no reliable geometry. */
  | 'too-few-markers';

export interface FoundMarker {
  id: number;
  sheetNumber: number;
  pageCorner: PageCorner;
  corners: Point[];
}

export interface CellCrop {
  width: number;
  height: number;
  channels: number;
  /** NHWC row-major values in [0,1]. */
  pixels: number[];
}

export interface CellAnalysis {
  index: number;
  role: SheetCell['role'];
  caption: string;
  /** 'outside': part of the printed image is outside the frame (or behind the missing marker's corner). */
  status: 'ok' | 'outside';
  /** The printed image's corners in the photo (TL, TR, BR, BL). */
  quad: Point[];
  quality: CellQuality;
  crop?: CellCrop;
  /** Paper white and ink black (0..255 per channel) the crop was stretched with (levels 'paper'). */
  levels?: PaperLevels;
  /** The photographed cell's top-k (k ≤ 5), when a classifier was given. */
  top5?: SheetPrediction[];
  /** The digital record this cell was printed from (the manifest's source fields). */
  record: Omit<SheetCell, 'index' | 'role' | 'imageRectMm' | 'borderRectMm' | 'captionRectMm' | 'caption'>;
}

export interface PhotoAnalysis {
  status: AnalysisStatus;
  /** One line for people: what was found, what is missing. */
  message: string;
  photo: { width: number; height: number };
  /** Every marker detected, of any sheet. */
  markers: FoundMarker[];
  sheetNumber: number | null;
  sheetId: string | null;
  /** The expected markers of the matched sheet that were not found. */
  missingMarkers: { id: number; pageCorner: PageCorner }[];
  /** 'homography' from ≥ 3 markers (12+ corners); 'affine' when the homography fit was degenerate. */
  fit: 'homography' | 'affine' | null;
  /** Page millimetres → photo pixels (pixel centres at integers), row-major 3×3. */
  homography: number[] | null;
  /** Of the marker corners used for the fit, in photo pixels. */
  reprojectionError: ReprojectionError | null;
  /** The page's outer corners TL, TR, BR, BL in the photo. */
  pageCorners: Point[] | null;
  cells: CellAnalysis[];
  warnings: string[];
  timing: { detectMs: number; rectifyMs: number; classifyMs: number; totalMs: number };
}

export interface AnalyzeOptions {
  /** [height, width, channels] of the crops; default: the printed image's own size and channels. */
  inputShape?: readonly [number, number, number];
  /** Photos larger than this on their longer side are downscaled for detection (default 1600). */
  maxDetectionSide?: number;
  /** Keep the rectified crops in the result (default true). */
  keepCrops?: boolean;
  /** Classify cells even when their quality check failed (default true: the flag is reported beside). */
  classifyFlagged?: boolean;
  quality?: QualityThresholds;
  /**
   * 'paper' (default): stretch each crop so the paper around the cell reads 1 and ink reads 0, from
   * levels measured on the page (levels.ts); 'none': the camera's raw values.
   */
  levels?: 'paper' | 'none';
  /** An already loaded OpenCV (default: loadOpenCV()). */
  opencv?: OpenCVRuntime;
}

/** The mean reprojection error (px) above which the fit is reported as suspicious. */
const SUSPICIOUS_REPROJECTION_PX = 3;

const now = (): number => globalThis.performance.now();

function emptyAnalysis(photo: RgbaImage, markers: FoundMarker[], status: AnalysisStatus, message: string, detectMs: number, started: number): PhotoAnalysis {
  return {
    status,
    message,
    photo: { width: photo.width, height: photo.height },
    markers,
    sheetNumber: null,
    sheetId: null,
    missingMarkers: [],
    fit: null,
    homography: null,
    reprojectionError: null,
    pageCorners: null,
    cells: [],
    warnings: [],
    timing: { detectMs, rectifyMs: 0, classifyMs: 0, totalMs: now() - started },
  };
}

function describeMarker(marker: DetectedMarker): FoundMarker | undefined {
  if (marker.id < 0 || marker.id >= MARKERS_PER_SHEET * (MAX_SHEET_NUMBER + 1)) return undefined;
  return {
    id: marker.id,
    sheetNumber: Math.floor(marker.id / MARKERS_PER_SHEET),
    pageCorner: PAGE_CORNERS[marker.id % MARKERS_PER_SHEET],
    corners: marker.corners.map(([x, y]) => [x, y] as Point),
  };
}

function cellRecord(cell: SheetCell): CellAnalysis['record'] {
  const { kind, imageId, sourceIndex, file, method, epsilon, trueLabel, target, digital, image } = cell;
  return { kind, imageId, sourceIndex, file, method, epsilon, trueLabel, target, digital, image };
}

export async function analyzePhoto(photo: RgbaImage, manifests: readonly SheetManifest[], classify?: ClassifyCrops, options: AnalyzeOptions = {}): Promise<PhotoAnalysis> {
  checkRgba(photo, 'photo');
  const started = now();
  const runtime = options.opencv ?? (await loadOpenCV());
  const grey = rgbaToGrey(photo);
  let detected = detectMarkers(runtime, grey, { maxDetectionSide: options.maxDetectionSide });
  // A known sheet with a marker missing: one slower pass with a wider threshold window often finds it.
  const seenSheets = new Set(detected.map((m) => Math.floor(m.id / MARKERS_PER_SHEET)));
  const incomplete = manifests.some((m) => seenSheets.has(m.sheetNumber) && detected.filter((d) => Math.floor(d.id / MARKERS_PER_SHEET) === m.sheetNumber).length < MARKERS_PER_SHEET);
  if (incomplete) {
    const more = detectMarkers(runtime, grey, { maxDetectionSide: options.maxDetectionSide, thorough: true });
    const known = new Set(detected.map((m) => m.id));
    detected = [...detected, ...more.filter((m) => !known.has(m.id))];
  }
  const detectMs = now() - started;
  const markers = detected.map(describeMarker).filter((m): m is FoundMarker => m !== undefined);

  if (markers.length === 0) return emptyAnalysis(photo, markers, 'no-sheet', 'no sheet markers found in the photo', detectMs, started);

  // The sheet: the known sheet number with the most markers in view.
  const counts = new Map<number, number>();
  for (const marker of markers) counts.set(marker.sheetNumber, (counts.get(marker.sheetNumber) ?? 0) + 1);
  const known = [...counts.entries()].filter(([sheetNumber]) => manifests.some((m) => m.sheetNumber === sheetNumber)).sort((a, b) => b[1] - a[1]);
  if (known.length === 0) {
    const seen = [...counts.keys()].sort((a, b) => a - b);
    return emptyAnalysis(photo, markers, 'unknown-sheet', `markers of sheet ${seen.join(', ')} found, but no given manifest describes ${seen.length > 1 ? 'them' : 'it'} (manifests for sheet ${[...new Set(manifests.map((m) => m.sheetNumber))].join(', ') || 'none'})`, detectMs, started);
  }
  const sheetNumber = known[0][0];
  const candidates = manifests.filter((m) => m.sheetNumber === sheetNumber);
  const manifest = candidates[0];
  const result = emptyAnalysis(photo, markers, 'ok', '', detectMs, started);
  result.sheetNumber = sheetNumber;
  result.sheetId = manifest.sheetId;
  if (candidates.length > 1) result.warnings.push(`${candidates.length} manifests describe sheet ${sheetNumber} (${candidates.map((m) => m.sheetId).join(', ')}); using ${manifest.sheetId}`);
  const others = [...counts.keys()].filter((s) => s !== sheetNumber);
  if (others.length > 0) result.warnings.push(`markers of other sheet(s) ${others.join(', ')} also in view, ignored`);

  const ours = new Map(markers.filter((m) => m.sheetNumber === sheetNumber).map((m) => [m.id, m]));
  result.missingMarkers = manifest.geometry.markers.filter((m) => !ours.has(m.id)).map((m) => ({ id: m.id, pageCorner: m.pageCorner }));
  const missingText = result.missingMarkers.map((m) => `${m.pageCorner} (id ${m.id})`).join(', ');
  if (ours.size < 3) {
    result.status = 'too-few-markers';
    result.message = `sheet ${sheetNumber} (${manifest.sheetId}): only ${ours.size} of 4 markers found; missing ${missingText}; need at least 3`;
    result.timing.totalMs = now() - started;
    return result;
  }

  const pagePoints: Point[] = [];
  const photoPoints: Point[] = [];
  for (const expected of manifest.geometry.markers) {
    const found = ours.get(expected.id);
    if (!found) continue;
    expected.cornersMm.forEach((corner, k) => {
      pagePoints.push([corner.x, corner.y]);
      photoPoints.push(found.corners[k]);
    });
  }
  let homography: number[];
  try {
    homography = fitHomography(pagePoints, photoPoints);
    result.fit = 'homography';
  } catch (error) {
    if (!(error instanceof GeometryError)) throw error;
    try {
      homography = fitAffine(pagePoints, photoPoints);
      result.fit = 'affine';
    } catch (affineError) {
      if (!(affineError instanceof GeometryError)) throw affineError;
      result.status = 'too-few-markers';
      result.message = `sheet ${sheetNumber}: the markers found give no usable geometry (${affineError.message})`;
      result.timing.totalMs = now() - started;
      return result;
    }
  }
  result.homography = homography;
  result.reprojectionError = reprojectionError(homography, pagePoints, photoPoints);
  if (result.reprojectionError.mean > SUSPICIOUS_REPROJECTION_PX) {
    result.warnings.push(`marker corners fit the page geometry poorly (mean reprojection error ${result.reprojectionError.mean.toFixed(1)} px): a marker may be misdetected or the sheet is not flat`);
  }
  const page = manifest.geometry.pageMm;
  result.pageCorners = ([[0, 0], [page.width, 0], [page.width, page.height], [0, page.height]] as Point[]).map((p) => applyHomography(homography, p));

  const rectifyStart = now();
  const thresholds = options.quality ?? DEFAULT_QUALITY_THRESHOLDS;
  const visible: { cell: CellAnalysis; offset: number }[] = [];
  const shapes = manifest.cells.map((cell) => options.inputShape ?? ([cell.image.height, cell.image.width, cell.image.channels] as const));
  const [h0, w0, c0] = shapes[0] ?? [0, 0, 1];
  const sameShape = shapes.every(([h, w, c]) => h === h0 && w === w0 && c === c0);
  if (!sameShape) result.warnings.push('cells have different image sizes; give inputShape to crop them alike for one classifier');
  const cropSize = h0 * w0 * c0;
  const foundMarkerCorners = manifest.geometry.markers.filter((m) => ours.has(m.id)).map((m) => m.cornersMm.map((p) => [p.x, p.y] as Point));
  const ratio = (options.levels ?? 'paper') === 'paper' ? inkPaperRatio(photo, homography, foundMarkerCorners) : undefined;
  if ((options.levels ?? 'paper') === 'paper' && ratio === undefined) result.warnings.push('could not measure ink and paper at the markers: crops keep the camera levels');
  const crops = new Float32Array(manifest.cells.length * cropSize);
  for (const cell of manifest.cells) {
    const inside = rectInsidePhoto(homography, cell.imageRectMm, photo.width, photo.height);
    const quality = inside
      ? measureCellQuality(photo, homography, cell.imageRectMm, thresholds)
      : { ok: false, flags: ['outside the frame'], sharpness: 0, contrast: 0, clippedDark: 0, clippedBright: 0, darkLevel: 0, brightLevel: 0, pixelsAcross: 0 };
    const analysis: CellAnalysis = {
      index: cell.index,
      role: cell.role,
      caption: cell.caption,
      status: inside ? 'ok' : 'outside',
      quad: projectRect(homography, cell.imageRectMm).map(([x, y]) => [x, y] as Point),
      quality,
      record: cellRecord(cell),
    };
    result.cells.push(analysis);
    if (!inside || !sameShape) continue;
    const offset = visible.length * cropSize;
    rectifyRect(photo, homography, cell.imageRectMm, w0, h0, c0 === 1 ? 1 : 3, crops, offset);
    const white = ratio === undefined ? undefined : paperWhiteAround(photo, homography, cell.borderRectMm);
    if (ratio !== undefined && white) {
      analysis.levels = { white, black: white.map((w) => w * ratio) as [number, number, number] };
      normaliseCrop(crops, offset, cropSize, c0 === 1 ? 1 : 3, analysis.levels);
    }
    if (options.keepCrops ?? true) analysis.crop = { width: w0, height: h0, channels: c0, pixels: Array.from(crops.subarray(offset, offset + cropSize)) };
    visible.push({ cell: analysis, offset });
  }
  result.timing.rectifyMs = now() - rectifyStart;

  const toClassify = visible.filter(({ cell }) => (options.classifyFlagged ?? true) || cell.quality.ok);
  if (classify && toClassify.length > 0) {
    const classifyStart = now();
    const batch = toClassify.length === visible.length ? crops.subarray(0, visible.length * cropSize) : new Float32Array(toClassify.length * cropSize);
    if (toClassify.length !== visible.length) toClassify.forEach(({ offset }, i) => batch.set(crops.subarray(offset, offset + cropSize), i * cropSize));
    const topK = await classify(batch, toClassify.length);
    const k = Math.min(5, topK.k);
    toClassify.forEach(({ cell }, i) => {
      cell.top5 = Array.from({ length: k }, (_, j) => ({ label: topK.labels[i * topK.k + j], probability: topK.probs[i * topK.k + j] }));
    });
    result.timing.classifyMs = now() - classifyStart;
  }

  const outside = result.cells.filter((c) => c.status === 'outside').length;
  const flagged = result.cells.filter((c) => c.status === 'ok' && !c.quality.ok).length;
  result.status = ours.size === 4 ? 'ok' : 'partial';
  const parts = [`sheet ${sheetNumber} (${manifest.sheetId})`, `${ours.size}/4 markers`];
  if (result.missingMarkers.length > 0) parts.push(`missing ${missingText}`);
  parts.push(`${result.cells.length - outside}/${result.cells.length} cells in view`);
  if (flagged > 0) parts.push(`${flagged} flagged`);
  parts.push(`reprojection ${result.reprojectionError.mean.toFixed(2)} px`);
  result.message = parts.join(', ');
  result.timing.totalMs = now() - started;
  return result;
}
