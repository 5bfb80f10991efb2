/**
 * Analysis of one photo or camera frame of printed sheets (Kurakin, Goodfellow & Bengio 2016, Sec. 3.2,
 * automated): find the ArUco corner markers, tell which sheet it is, fit the homography page-mm →
 * photo-px, read the set identity its identity markers print (sheet-identity.ts) and take the manifest
 * of that identity only, rectify every printed image to the model's input size, check its quality,
 * classify the crops and link each one to its digital record from the sheet manifest.
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
import { computeSheetLayout, LayoutError } from './layout.js';
import type { SheetLayoutOptions } from './layout.js';
import { LEGACY_MAX_SHEET_NUMBER, MARKERS_PER_SHEET, PAGE_CORNERS } from './markers.js';
import { IDENTITY_MARKER_COUNT, IDENTITY_MIN_MARKERS, decodeIdentityMarkers, isIdentityMarkerId } from './sheet-identity.js';
import type { IdentityReading } from './sheet-identity.js';
import type { PageCorner } from './markers.js';
import { loadOpenCV } from './opencv.js';
import type { OpenCVRuntime } from './opencv.js';
import { inkPaperRatio, normaliseCrop, paperWhiteAround } from './levels.js';
import type { PaperLevels } from './levels.js';
import { DEFAULT_QUALITY_THRESHOLDS, measureCellQuality } from './quality.js';
import type { CellQuality, QualityThresholds } from './quality.js';
import { projectRect, rectInsidePhoto, rectifyRect } from './rectify.js';
import type { SheetCell, SheetManifest, SheetPrediction } from './sheet-manifest.js';

/** Classifies `count` crops (NHWC, [0,1], the model's input size) and returns their top-k; a protected model adds its detector's verdicts. */
export type ClassifyCrops = (crops: Float32Array, count: number) => Promise<TopK & { rejected?: Uint8Array }>;

export type AnalysisStatus =
  /** All four markers found; every cell inside the frame was analysed. */
  | 'ok'
  /** Three markers found: geometry from those, some cells may be missing. */
  | 'partial'
  /** No marker of any sheet in the photo. */
  | 'no-sheet'
  /** A sheet none of the given manifests describes: another sheet number, or another set's identity. */
  | 'unknown-sheet'
  /** A known sheet, but fewer than three of its markers, or its identity unreadable: nothing scored. */
  | 'too-few-markers'
  /** Two or more sheets in view: each is reported, none is scored (one sheet per photo). */
  | 'several-sheets';

export interface FoundMarker {
  id: number;
  /** 'corner': a sheet's corner marker; 'identity': one of the eight markers that print a set's identity. */
  role: 'corner' | 'identity';
  /** The corner marker's sheet, or the sheet whose identity slot an identity marker sits in (null: none). */
  sheetNumber: number | null;
  pageCorner: PageCorner | null;
  corners: Point[];
}

/** One sheet found in the photo: a set of corner markers that fit one flat page. */
export interface SheetInView {
  sheetNumber: number;
  /** The set identity read from its identity markers (null: unreadable, or a version-1 sheet). */
  identity: string | null;
  /** The given manifest it matches (null: none). */
  sheetId: string | null;
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
  /** A protected model's detector flagged the photographed cell (absent for a plain model). */
  rejected?: boolean;
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
  /** The set identity read from the photo's identity markers (null: none read). */
  identity: string | null;
  /** Every sheet found (several only with status 'several-sheets'). */
  sheetsInView: SheetInView[];
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

/** Identity markers that, all matching a given manifest's, confirm its identity when too few are seen to decode one. */
const IDENTITY_MIN_CONFIRMING = 4;

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
    identity: null,
    sheetsInView: [],
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

/**
 * Corner or identity marker: ids below the identity range are corners; ids in it are identity
 * markers, except the corner ids of a given version-1 manifest (whose sheet numbers went up to 61).
 */
function describeMarker(marker: DetectedMarker, legacyCornerIds: ReadonlySet<number>): FoundMarker | undefined {
  const corners = marker.corners.map(([x, y]) => [x, y] as Point);
  if (isIdentityMarkerId(marker.id) && !legacyCornerIds.has(marker.id)) return { id: marker.id, role: 'identity', sheetNumber: null, pageCorner: null, corners };
  if (marker.id < 0 || marker.id >= MARKERS_PER_SHEET * (LEGACY_MAX_SHEET_NUMBER + 1)) return undefined;
  return { id: marker.id, role: 'corner', sheetNumber: Math.floor(marker.id / MARKERS_PER_SHEET), pageCorner: PAGE_CORNERS[marker.id % MARKERS_PER_SHEET], corners };
}

const centre = (corners: readonly Point[]): Point => [corners.reduce((sum, p) => sum + p[0], 0) / corners.length, corners.reduce((sum, p) => sum + p[1], 0) / corners.length];
const distance = (a: Point, b: Point): number => Math.hypot(a[0] - b[0], a[1] - b[1]);

function meanSide(markers: readonly FoundMarker[]): number {
  const sides = markers.flatMap((m) => m.corners.map((p, k) => distance(p, m.corners[(k + 1) % 4])));
  return sides.reduce((a, b) => a + b, 0) / Math.max(1, sides.length);
}

/** Page-mm and photo-px point pairs of the given corner markers of `manifest`'s sheet. */
function cornerCorrespondences(manifest: SheetManifest, markers: readonly FoundMarker[]): { pagePoints: Point[]; photoPoints: Point[] } {
  const byId = new Map(markers.map((m) => [m.id, m]));
  const pagePoints: Point[] = [];
  const photoPoints: Point[] = [];
  for (const expected of manifest.geometry.markers) {
    const found = byId.get(expected.id);
    if (!found) continue;
    expected.cornersMm.forEach((corner, k) => {
      pagePoints.push([corner.x, corner.y]);
      photoPoints.push(found.corners[k]);
    });
  }
  return { pagePoints, photoPoints };
}

/**
 * Whether these corner markers (one per page corner) lie on one flat page: a homography through their
 * corners reprojects them within a tenth of a marker side (or 3 px). Markers of two copies of the same
 * sheet number (two sets, or a reprint) mixed into one fit are off by tens of pixels.
 */
function fitsOnePage(manifest: SheetManifest, markers: readonly FoundMarker[]): number | undefined {
  const { pagePoints, photoPoints } = cornerCorrespondences(manifest, markers);
  try {
    const error = reprojectionError(fitHomography(pagePoints, photoPoints), pagePoints, photoPoints).mean;
    return error <= Math.max(SUSPICIOUS_REPROJECTION_PX, 0.1 * meanSide(markers)) ? error : undefined;
  } catch (error) {
    if (error instanceof GeometryError) return undefined;
    throw error;
  }
}

/**
 * The sheets of one sheet number in view: usually all its markers are one sheet. When an id shows
 * twice, or the markers do not fit one page, every choice of at most one marker per corner is tried
 * and the sets of 3-4 markers that fit one page are taken, most markers and best fit first. `mixed`:
 * three or more markers, but no three of them on one page.
 */
function sheetsOfNumber(manifest: SheetManifest, markers: readonly FoundMarker[]): { sheets: FoundMarker[][]; mixed: boolean } {
  const byCorner = [0, 1, 2, 3].map((k) => markers.filter((m) => m.id % MARKERS_PER_SHEET === k));
  const unique = byCorner.every((list) => list.length <= 1);
  // Fewer than three markers give no geometry either way: the analysis reports which are missing.
  if (markers.length < 3 || (unique && fitsOnePage(manifest, markers) !== undefined)) return { sheets: [[...markers]], mixed: false };
  if (unique) {
    // A degenerate fit (nearly collinear corners) is not a mix: let the analysis fall back to an affine fit.
    const { pagePoints, photoPoints } = cornerCorrespondences(manifest, markers);
    try {
      fitHomography(pagePoints, photoPoints);
    } catch (error) {
      if (error instanceof GeometryError) return { sheets: [[...markers]], mixed: false };
      throw error;
    }
  }
  const choices: { markers: FoundMarker[]; error: number }[] = [];
  const choose = (k: number, picked: FoundMarker[]): void => {
    if (k === 4) {
      if (picked.length < 3) return;
      const error = fitsOnePage(manifest, picked);
      if (error !== undefined) choices.push({ markers: picked, error });
      return;
    }
    choose(k + 1, picked);
    for (const marker of byCorner[k]) choose(k + 1, [...picked, marker]);
  };
  choose(0, []);
  choices.sort((a, b) => b.markers.length - a.markers.length || a.error - b.error);
  const used = new Set<FoundMarker>();
  const sheets: FoundMarker[][] = [];
  for (const choice of choices) {
    if (choice.markers.some((m) => used.has(m))) continue;
    choice.markers.forEach((m) => used.add(m));
    sheets.push(choice.markers);
  }
  return { sheets, mixed: sheets.length === 0 && markers.length >= 3 };
}

interface Geometry {
  homography: number[];
  fit: 'homography' | 'affine';
  pagePoints: Point[];
  photoPoints: Point[];
}

/** Page mm → photo px from the corner markers found; null when they give no usable geometry. */
function sheetGeometry(manifest: SheetManifest, markers: readonly FoundMarker[]): Geometry | string {
  const { pagePoints, photoPoints } = cornerCorrespondences(manifest, markers);
  try {
    return { homography: fitHomography(pagePoints, photoPoints), fit: 'homography', pagePoints, photoPoints };
  } catch (error) {
    if (!(error instanceof GeometryError)) throw error;
    try {
      return { homography: fitAffine(pagePoints, photoPoints), fit: 'affine', pagePoints, photoPoints };
    } catch (affineError) {
      if (!(affineError instanceof GeometryError)) throw affineError;
      return affineError.message;
    }
  }
}

/** Where a manifest's sheet prints its identity markers (mm); for version 1 where the current layout would. */
function identitySlotsMm(manifest: SheetManifest): Point[][] {
  if (manifest.geometry.identityMarkers.length > 0) return manifest.geometry.identityMarkers.map((m) => m.cornersMm.map((p) => [p.x, p.y] as Point));
  try {
    return computeSheetLayout(manifest.layoutOptions as SheetLayoutOptions).identityMarkers.map((m) => m.corners.map((p) => [p.x, p.y] as Point));
  } catch (error) {
    if (error instanceof LayoutError) return [];
    throw error;
  }
}

interface IdentityRead {
  /** The identity markers found in the slots, per slot (null: none, or two different ids). */
  slotMarkers: (FoundMarker | null)[];
  reading: IdentityReading;
}

/** The identity markers in the slots of `manifest`'s layout under `homography`, decoded. */
function readIdentity(manifest: SheetManifest, homography: number[], identityMarkers: readonly FoundMarker[]): IdentityRead {
  const slots = identitySlotsMm(manifest);
  const slotMarkers = slots.map((cornersMm) => {
    const projected = cornersMm.map((p) => applyHomography(homography, p) as Point);
    const at = centre(projected);
    const radius = 0.5 * distance(projected[0], projected[1]);
    const near = identityMarkers.filter((m) => distance(centre(m.corners), at) <= radius);
    return near.length > 0 && near.every((m) => m.id === near[0].id) ? near[0] : null;
  });
  const ids = slotMarkers.map((m) => m?.id ?? null);
  const reading = slots.length === IDENTITY_MARKER_COUNT ? decodeIdentityMarkers(ids) : decodeIdentityMarkers(Array<null>(IDENTITY_MARKER_COUNT).fill(null));
  return { slotMarkers, reading };
}

interface Identified {
  manifest: SheetManifest | null;
  geometry: Geometry | null;
  identity: string | null;
  identityMarkers: FoundMarker[];
  /** Why the sheet cannot be scored (status and one line), when it cannot. */
  refusal?: { status: AnalysisStatus; message: string };
  warnings: string[];
}

const describeSet = (manifest: SheetManifest): string => (manifest.identity === null ? `${manifest.sheetId} (version 1, no identity)` : `set ${manifest.identity} (${manifest.sheetId})`);

/**
 * Which of the candidate manifests (all of this sheet number) the sheet in view is: the one whose
 * identity its identity markers spell. A version-1 manifest (no identity) is taken only when no
 * identity marker is seen where the current layout prints them, with a warning.
 */
function identifySheet(sheetNumber: number, markers: readonly FoundMarker[], candidates: readonly SheetManifest[], identityMarkers: readonly FoundMarker[]): Identified {
  const reads = candidates.map((manifest) => {
    const geometry = sheetGeometry(manifest, markers);
    return { manifest, geometry, read: typeof geometry === 'string' ? null : readIdentity(manifest, geometry.homography, identityMarkers) };
  });
  const usable = reads.filter((r): r is typeof r & { geometry: Geometry; read: IdentityRead } => r.read !== null);
  if (usable.length === 0) {
    return { manifest: null, geometry: null, identity: null, identityMarkers: [], warnings: [], refusal: { status: 'too-few-markers', message: `sheet ${sheetNumber}: the markers found give no usable geometry (${String(reads[0].geometry)})` } };
  }
  const ok = usable.find((r) => r.read.reading.ok);
  const identity = ok && ok.read.reading.ok ? ok.read.reading.identity : null;
  const seenMarkers = (r: (typeof usable)[number]) => r.read.slotMarkers.filter((m): m is FoundMarker => m !== null);
  const matches = usable.filter((r) => r.manifest.identity !== null && r.manifest.identity === identity);
  const warnings: string[] = [];
  const expected = `expected ${candidates.map(describeSet).join(' or ')}`;
  if (matches.length > 0) {
    const match = matches[0];
    if (matches.length > 1) warnings.push(`${matches.length} manifests describe sheet ${sheetNumber} of set ${identity} (${matches.map((r) => r.manifest.sheetId).join(', ')}); using ${match.manifest.sheetId}`);
    if (match.read.reading.ok && match.read.reading.restored.length > 0) warnings.push(`identity read from ${IDENTITY_MARKER_COUNT - match.read.reading.restored.length} of ${IDENTITY_MARKER_COUNT} identity markers`);
    return { manifest: match.manifest, geometry: match.geometry, identity, identityMarkers: seenMarkers(match), warnings };
  }
  if (identity !== null) {
    return { manifest: null, geometry: ok!.geometry, identity, identityMarkers: seenMarkers(ok!), warnings, refusal: { status: 'unknown-sheet', message: `the photo shows sheet ${sheetNumber} of set ${identity}, which no given manifest describes (${expected})` } };
  }
  // Part of the sheet out of view: too few markers to decode an unknown identity, but four or more that
  // all print the expected one confirm it (another set's random identity matches 4 given symbols with
  // probability 128⁻⁴, and two identities share at most 4 symbols).
  const confirmed = usable.filter((r) => {
    const seen = seenMarkers(r);
    return r.manifest.identity !== null && seen.length >= IDENTITY_MIN_CONFIRMING && r.read.slotMarkers.every((m, slot) => m === null || m.id === r.manifest.geometry.identityMarkers[slot]?.id);
  });
  if (confirmed.length > 0 && confirmed.every((r) => r.manifest.identity === confirmed[0].manifest.identity)) {
    const match = confirmed[0];
    warnings.push(`identity ${match.manifest.identity} confirmed by ${seenMarkers(match).length} of ${IDENTITY_MARKER_COUNT} identity markers (the others out of view or unread)`);
    if (confirmed.length > 1) warnings.push(`${confirmed.length} manifests describe sheet ${sheetNumber} of set ${match.manifest.identity} (${confirmed.map((r) => r.manifest.sheetId).join(', ')}); using ${match.manifest.sheetId}`);
    return { manifest: match.manifest, geometry: match.geometry, identity: match.manifest.identity, identityMarkers: seenMarkers(match), warnings };
  }
  const legacy = usable.find((r) => r.manifest.identity === null);
  if (usable.every((r) => seenMarkers(r).length === 0) && legacy) {
    warnings.push(`manifest ${legacy.manifest.sheetId} is version 1 (written before sheet identities): cannot check that the photo shows this sheet set`);
    return { manifest: legacy.manifest, geometry: legacy.geometry, identity: null, identityMarkers: [], warnings };
  }
  const best = usable.reduce((a, b) => (seenMarkers(b).length > seenMarkers(a).length ? b : a));
  const reason = best.read.reading.ok ? '' : best.read.reading.message;
  return { manifest: null, geometry: best.geometry, identity: null, identityMarkers: seenMarkers(best), warnings, refusal: { status: 'too-few-markers', message: `sheet ${sheetNumber}: cannot tell which set it belongs to: ${reason}; ${expected}` } };
}

function cellRecord(cell: SheetCell): CellAnalysis['record'] {
  const { kind, imageId, sourceIndex, file, method, epsilon, trueLabel, target, digital, image, survival } = cell;
  return { kind, imageId, sourceIndex, file, method, epsilon, trueLabel, target, digital, image, ...(survival === undefined ? {} : { survival }) };
}

export async function analyzePhoto(photo: RgbaImage, manifests: readonly SheetManifest[], classify?: ClassifyCrops, options: AnalyzeOptions = {}): Promise<PhotoAnalysis> {
  checkRgba(photo, 'photo');
  const started = now();
  const runtime = options.opencv ?? (await loadOpenCV());
  const grey = rgbaToGrey(photo);
  const legacyCornerIds = new Set(manifests.filter((m) => m.identity === null).flatMap((m) => m.geometry.markers.map((marker) => marker.id)));
  const describe = (detected: DetectedMarker[]) => detected.map((m) => describeMarker(m, legacyCornerIds)).filter((m): m is FoundMarker => m !== undefined);
  let markers = describe(detectMarkers(runtime, grey, { maxDetectionSide: options.maxDetectionSide }));
  // A known sheet with a corner marker missing, or too few identity markers to decode its identity:
  // one slower pass with a wider threshold window often finds them (not for one missing identity
  // marker: the code restores two, and the live view should not pay a second pass for it).
  const cornersOf = (sheetNumber: number) => markers.filter((m) => m.role === 'corner' && m.sheetNumber === sheetNumber).length;
  const identityCount = markers.filter((m) => m.role === 'identity').length;
  const incomplete = manifests.some((m) => {
    const corners = cornersOf(m.sheetNumber);
    return corners > 0 && (corners < MARKERS_PER_SHEET || (m.identity !== null && identityCount < IDENTITY_MIN_MARKERS));
  });
  if (incomplete) {
    const more = describe(detectMarkers(runtime, grey, { maxDetectionSide: options.maxDetectionSide, thorough: true }));
    // Keep the first pass's markers; add those the second found elsewhere (same id, another place).
    const isNew = (m: FoundMarker) => !markers.some((k) => k.id === m.id && distance(centre(k.corners), centre(m.corners)) < 0.5 * meanSide([k]));
    markers = [...markers, ...more.filter(isNew)];
  }
  const detectMs = now() - started;

  if (markers.length === 0) return emptyAnalysis(photo, markers, 'no-sheet', 'no sheet markers found in the photo', detectMs, started);
  const corners = markers.filter((m) => m.role === 'corner');
  // Every marker with an identity id is read in the identity slots, even one a given version-1
  // manifest claims as a corner of its sheets 30-61: the slots' positions decide.
  const identityMarkers = markers.filter((m) => isIdentityMarkerId(m.id));
  if (corners.length === 0) return emptyAnalysis(photo, markers, 'no-sheet', `${identityMarkers.length} identity marker(s) but no corner marker found in the photo`, detectMs, started);

  // The sheets in view: per sheet number some manifest describes, the sets of its markers that fit one page.
  const counts = new Map<number, number>();
  for (const marker of corners) counts.set(marker.sheetNumber!, (counts.get(marker.sheetNumber!) ?? 0) + 1);
  const knownNumbers = [...counts.keys()].filter((sheetNumber) => manifests.some((m) => m.sheetNumber === sheetNumber));
  if (knownNumbers.length === 0) {
    const seen = [...counts.keys()].sort((a, b) => a - b);
    return emptyAnalysis(photo, markers, 'unknown-sheet', `markers of sheet ${seen.join(', ')} found, but no given manifest describes ${seen.length > 1 ? 'them' : 'it'} (manifests for sheet ${[...new Set(manifests.map((m) => m.sheetNumber))].join(', ') || 'none'})`, detectMs, started);
  }
  const sheets: { sheetNumber: number; markers: FoundMarker[] }[] = [];
  const mixed: number[] = [];
  for (const sheetNumber of knownNumbers) {
    const first = manifests.find((m) => m.sheetNumber === sheetNumber)!;
    const grouped = sheetsOfNumber(first, corners.filter((m) => m.sheetNumber === sheetNumber));
    if (grouped.mixed) mixed.push(sheetNumber);
    for (const group of grouped.sheets) sheets.push({ sheetNumber, markers: group });
  }
  const full = sheets.filter((sheet) => sheet.markers.length >= 3);
  const candidatesOf = (sheetNumber: number) => manifests.filter((m) => m.sheetNumber === sheetNumber);

  if (full.length > 1) {
    const result = emptyAnalysis(photo, markers, 'several-sheets', '', detectMs, started);
    const named = full.map((sheet) => {
      const identified = identifySheet(sheet.sheetNumber, sheet.markers, candidatesOf(sheet.sheetNumber), identityMarkers);
      for (const m of [...sheet.markers, ...identified.identityMarkers]) m.sheetNumber = sheet.sheetNumber;
      result.sheetsInView.push({ sheetNumber: sheet.sheetNumber, identity: identified.identity, sheetId: identified.manifest?.sheetId ?? null });
      const set = identified.identity === null ? 'identity unreadable' : `set ${identified.identity}`;
      return `sheet ${sheet.sheetNumber} (${set}${identified.manifest ? `, ${identified.manifest.sheetId}` : ', no given manifest'})`;
    });
    result.message = `${full.length} sheets in view: ${named.join('; ')}: photograph one sheet at a time`;
    result.timing.totalMs = now() - started;
    return result;
  }
  if (full.length === 0 && mixed.length > 0) {
    return emptyAnalysis(photo, markers, 'too-few-markers', `the markers of sheet ${mixed.join(', ')} in view do not fit one flat page (parts of two copies of the sheet, e.g. of two sets, or a folded sheet): photograph one flat sheet at a time`, detectMs, started);
  }

  // One sheet: the full one, else the known sheet with the most markers (too few for a geometry).
  const sheet = full[0] ?? sheets.sort((a, b) => b.markers.length - a.markers.length)[0];
  const sheetNumber = sheet.sheetNumber;
  const candidates = candidatesOf(sheetNumber);
  const result = emptyAnalysis(photo, markers, 'ok', '', detectMs, started);
  result.sheetNumber = sheetNumber;
  const others = [...counts.keys()].filter((s) => s !== sheetNumber);
  const strays = corners.filter((m) => m.sheetNumber === sheetNumber && !sheet.markers.includes(m));
  if (others.length > 0) result.warnings.push(`markers of other sheet(s) ${others.join(', ')} also in view, ignored`);
  if (strays.length > 0) result.warnings.push(`${strays.length} more marker(s) of sheet ${sheetNumber} off this page (another copy of it?), ignored`);

  const ours = new Map(sheet.markers.map((m) => [m.id, m]));
  const missingOf = (manifest: SheetManifest) => manifest.geometry.markers.filter((m) => !ours.has(m.id)).map((m) => ({ id: m.id, pageCorner: m.pageCorner }));
  if (ours.size < 3) {
    result.missingMarkers = missingOf(candidates[0]);
    const missingText = result.missingMarkers.map((m) => `${m.pageCorner} (id ${m.id})`).join(', ');
    result.status = 'too-few-markers';
    result.message = `sheet ${sheetNumber}: only ${ours.size} of 4 markers found; missing ${missingText}; need at least 3`;
    result.timing.totalMs = now() - started;
    return result;
  }

  const identified = identifySheet(sheetNumber, sheet.markers, candidates, identityMarkers);
  result.identity = identified.identity;
  result.warnings.push(...identified.warnings);
  for (const m of identified.identityMarkers) m.sheetNumber = sheetNumber;
  result.sheetsInView = [{ sheetNumber, identity: identified.identity, sheetId: identified.manifest?.sheetId ?? null }];
  if (identified.refusal || !identified.manifest || !identified.geometry) {
    result.status = identified.refusal?.status ?? 'unknown-sheet';
    result.message = identified.refusal?.message ?? `sheet ${sheetNumber}: no given manifest matches`;
    result.timing.totalMs = now() - started;
    return result;
  }
  const manifest = identified.manifest;
  const { homography, pagePoints, photoPoints } = identified.geometry;
  result.fit = identified.geometry.fit;
  result.sheetId = manifest.sheetId;
  result.missingMarkers = missingOf(manifest);
  const missingText = result.missingMarkers.map((m) => `${m.pageCorner} (id ${m.id})`).join(', ');
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
      if (topK.rejected) cell.rejected = topK.rejected[i] === 1;
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
