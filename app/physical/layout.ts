/**
 * Geometry of a printable sheet, in millimetres, page coordinates: origin at the top-left corner of
 * the page, x to the right, y down. Pure: the PDF/PNG writer, the renderer's live preview and the
 * photo analysis all read the same numbers.
 *
 * Page plan (Kurakin, Goodfellow & Bengio 2016 printed clean/adversarial pairs with a code in each
 * corner; we use ArUco markers, see markers.ts):
 *
 *   ┌──────────────────────────────────────────────┐
 *   │  [TL][i0][i1] header: experiment [i2][i3][TR] │   markers: `markerMm` squares, outer edge
 *   │                                              │   `markerInsetMm` from the page edges
 *   │   ┌────┐ ┌────┐ ┌────┐ ┌────┐ ┌────┐          │
 *   │   │img │ │img │ │img │ │img │ │img │  cells   │   content: full width between the insets,
 *   │   └────┘ └────┘ └────┘ └────┘ └────┘          │   height between the marker rows (plus a
 *   │   caption caption ...                        │   white quiet zone), so every cell lies
 *   │   ...                                        │   inside the quadrilateral of the markers'
 *   │  [BL][i4][i5] footer: ids, 50 mm bar [i6][i7][BR] │ outer corners and one homography covers it
 *   └──────────────────────────────────────────────┘
 *
 * i0..i7 are the identity markers (sheet-identity.ts): the same size and dictionary as the corner
 * markers, two at each end of the header and footer bands, one quiet zone apart.
 *
 * A slot is one grid position: one image (singles) or two side by side, clean left and adversarial
 * right (`pairs`). Cells are images; each has its exact image rectangle (the requested cell size),
 * a thin border `borderGapMm` outside it (so a slightly misregistered crop never includes the border
 * line) and a caption band under the border.
 */
import { MARKER_MODULES, PAGE_CORNERS, markerIdsForSheet } from './markers.js';
import type { PageCorner } from './markers.js';
import { identityMarkerIds } from './sheet-identity.js';

export type PaperName = 'a4' | 'letter';
export type Orientation = 'portrait' | 'landscape';

/** Portrait sizes in mm: ISO 216 A4, and US Letter (8.5 x 11 in). */
export const PAPER_SIZES_MM: Readonly<Record<PaperName, { width: number; height: number }>> = {
  a4: { width: 210, height: 297 },
  letter: { width: 215.9, height: 279.4 },
};

export const MM_PER_INCH = 25.4;
/** PostScript/PDF points: 72 per inch. A4 is 595.28 x 841.89 pt. */
export const POINTS_PER_MM = 72 / MM_PER_INCH;

/** Millimetres to PDF points. */
export function mmToPoints(mm: number): number {
  return mm * POINTS_PER_MM;
}

/**
 * Millimetres to raster pixels at `dpi`, as a continuous coordinate whose 0 is the page's left/top
 * edge (pixel i covers [i, i+1)). OpenCV reports corners with pixel *centres* at integers, so a
 * layout point lands at `mmToPixels(mm, dpi) - 0.5` in OpenCV coordinates.
 */
export function mmToPixels(mm: number, dpi: number): number {
  return (mm * dpi) / MM_PER_INCH;
}

/** Page size in pixels of a PNG rendered at `dpi` (rounded to whole pixels). */
export function pagePixelSize(layout: SheetLayout, dpi: number): { width: number; height: number } {
  return { width: Math.round(mmToPixels(layout.page.width, dpi)), height: Math.round(mmToPixels(layout.page.height, dpi)) };
}

export interface PointMm {
  x: number;
  y: number;
}

export interface RectMm {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface SheetLayoutOptions {
  /** Default 'a4'. */
  paper?: PaperName;
  /** Default 'portrait'. */
  orientation?: Orientation;
  /** Printed length of the longer side of each image, in mm (default 30). */
  cellMm?: number;
  /** Image height / width (default 1, square images); the longer side gets `cellMm`. */
  imageAspect?: number;
  /** Clean original beside each adversarial image, as Kurakin et al. printed them (default false). */
  pairs?: boolean;
  /** Marker side, black border included, in mm (default 16: 6 modules of 2.67 mm). */
  markerMm?: number;
  /** Distance from each page edge to the marker's outer edge (default 10: inside any printer's margin). */
  markerInsetMm?: number;
  /** White space kept around each marker, beyond its own black border (default 4, 1.5 modules). */
  quietZoneMm?: number;
  /** Space between slots (default 4: six rows of 30 mm cells on A4 portrait). */
  gutterMm?: number;
  /** Space between the two images of a pair (default 2). */
  pairGapMm?: number;
  /** Height of each cell's caption band (default 4). */
  captionMm?: number;
  /** Distance from the image edge to its thin border line (default 1). */
  borderGapMm?: number;
}

export type ResolvedSheetLayoutOptions = Required<SheetLayoutOptions>;

export const DEFAULT_SHEET_LAYOUT_OPTIONS: ResolvedSheetLayoutOptions = {
  paper: 'a4',
  orientation: 'portrait',
  cellMm: 30,
  imageAspect: 1,
  pairs: false,
  markerMm: 16,
  markerInsetMm: 10,
  quietZoneMm: 4,
  gutterMm: 4,
  pairGapMm: 2,
  captionMm: 4,
  borderGapMm: 1,
};

export interface MarkerPlacement {
  /** Which page corner this marker sits in. */
  pageCorner: PageCorner;
  /** k in the marker id 4·sheetNumber + k (0..3 for TL, TR, BR, BL); `placeMarkers` adds the id itself. */
  cornerIndex: number;
  /** The marker's square including its black border. */
  rect: RectMm;
  /** The marker's own corners in OpenCV's order (its TL, TR, BR, BL; drawn upright, so page-aligned). */
  corners: [PointMm, PointMm, PointMm, PointMm];
  /** Side of one module (rect.width / 6). */
  moduleMm: number;
}

export interface IdentityMarkerPlacement {
  /** Which symbol of the identity code this marker carries (0..7, see sheet-identity.ts). */
  slot: number;
  rect: RectMm;
  /** The marker's own corners in OpenCV's order (TL, TR, BR, BL; upright). */
  corners: [PointMm, PointMm, PointMm, PointMm];
}

export type CellRole = 'single' | 'clean' | 'adversarial';

export interface CellPlacement {
  /** Position in reading order on the page (0-based). In pairs mode, cell 2·slot is clean, 2·slot+1 adversarial. */
  index: number;
  slot: number;
  row: number;
  column: number;
  role: CellRole;
  /** Where the image is printed: exactly `cellMm` on its longer side. */
  image: RectMm;
  /** The thin border line's rectangle (stroke centred on it), `borderGapMm` outside the image. */
  border: RectMm;
  /** The caption band under the border. */
  caption: RectMm;
}

export interface SheetLayout {
  options: ResolvedSheetLayoutOptions;
  page: { width: number; height: number };
  /** Four markers in page-corner order TL, TR, BR, BL. */
  markers: [MarkerPlacement, MarkerPlacement, MarkerPlacement, MarkerPlacement];
  /** The quadrilateral of the markers' outer page corners (TL of TL marker, TR of TR marker, ...): every cell lies inside it. */
  markerQuad: [PointMm, PointMm, PointMm, PointMm];
  /** The eight identity markers in slot order: header left, left, right, right, then footer alike. */
  identityMarkers: IdentityMarkerPlacement[];
  /** Sheet caption band between the top identity markers. */
  header: RectMm;
  /** Band between the bottom identity markers (sheet id, marker ids, "print at 100%"). */
  footer: RectMm;
  /** Area the cell grid is centred in. */
  content: RectMm;
  /** Printed image size in mm. */
  image: { width: number; height: number };
  columns: number;
  rows: number;
  slotsPerPage: number;
  cellsPerPage: number;
  /** Every cell of a full page in reading order; a partly filled page uses the first ones. */
  cells: CellPlacement[];
}

/** Narrowest caption band left between the identity markers. */
const MIN_BAND_TEXT_MM = 40;
/** White between neighbouring markers of the header and footer bands, in marker modules. */
const IDENTITY_GAP_MODULES = 2.25;

export class LayoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LayoutError';
  }
}

export function paperSizeMm(paper: PaperName, orientation: Orientation): { width: number; height: number } {
  const size = PAPER_SIZES_MM[paper];
  if (!size) throw new LayoutError(`paper must be one of ${Object.keys(PAPER_SIZES_MM).join(', ')}, got "${String(paper)}"`);
  if (orientation !== 'portrait' && orientation !== 'landscape') {
    throw new LayoutError(`orientation must be portrait or landscape, got "${String(orientation)}"`);
  }
  return orientation === 'portrait' ? { ...size } : { width: size.height, height: size.width };
}

export function resolveSheetLayoutOptions(options: SheetLayoutOptions = {}): ResolvedSheetLayoutOptions {
  const resolved: ResolvedSheetLayoutOptions = { ...DEFAULT_SHEET_LAYOUT_OPTIONS };
  for (const [key, value] of Object.entries(options) as [keyof SheetLayoutOptions, unknown][]) {
    if (value !== undefined) (resolved as Record<string, unknown>)[key] = value;
  }
  const positive = ['cellMm', 'imageAspect', 'markerMm'] as const;
  const nonNegative = ['markerInsetMm', 'quietZoneMm', 'gutterMm', 'pairGapMm', 'captionMm', 'borderGapMm'] as const;
  for (const key of positive) {
    const value = resolved[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new LayoutError(`${key} must be a positive number, got ${String(value)}`);
  }
  for (const key of nonNegative) {
    const value = resolved[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new LayoutError(`${key} must be a number ≥ 0, got ${String(value)}`);
  }
  if (typeof resolved.pairs !== 'boolean') throw new LayoutError(`pairs must be true or false, got ${String(resolved.pairs)}`);
  paperSizeMm(resolved.paper, resolved.orientation);
  return resolved;
}

function square(x: number, y: number, side: number): [PointMm, PointMm, PointMm, PointMm] {
  return [
    { x, y },
    { x: x + side, y },
    { x: x + side, y: y + side },
    { x, y: y + side },
  ];
}

/**
 * Lays out one full page. Throws LayoutError with the largest cell size that would fit when not
 * even one slot fits.
 */
export function computeSheetLayout(options: SheetLayoutOptions = {}): SheetLayout {
  const o = resolveSheetLayoutOptions(options);
  const page = paperSizeMm(o.paper, o.orientation);
  const inset = o.markerInsetMm;
  const side = o.markerMm;
  if (2 * (inset + side + o.quietZoneMm) >= Math.min(page.width, page.height)) {
    throw new LayoutError(`markers of ${side} mm at ${inset} mm from the edge leave no room on ${o.paper} ${o.orientation}`);
  }

  const origins: Record<PageCorner, PointMm> = {
    TL: { x: inset, y: inset },
    TR: { x: page.width - inset - side, y: inset },
    BR: { x: page.width - inset - side, y: page.height - inset - side },
    BL: { x: inset, y: page.height - inset - side },
  };
  const markers = PAGE_CORNERS.map((pageCorner, cornerIndex): MarkerPlacement => {
    const { x, y } = origins[pageCorner];
    return { pageCorner, cornerIndex, rect: { x, y, width: side, height: side }, corners: square(x, y, side), moduleMm: side / MARKER_MODULES };
  }) as SheetLayout['markers'];
  const markerQuad = markers.map((marker, k) => marker.corners[k]) as SheetLayout['markerQuad'];

  // Identity markers sit one gap of 2.25 modules apart (and from the corner markers): measured on
  // simulated 720p frames blurred by σ = 1.5-2.5 px, corner markers next to identity markers only
  // 1.5 modules away were found less often (37/48) than alone (39/48); 2.25 modules away as often (39/48).
  const gap = IDENTITY_GAP_MODULES * (side / MARKER_MODULES);
  const pitch = side + gap;
  const leftX = inset + side + gap;
  const rightX = page.width - inset - side - gap - side;
  const textX = leftX + 2 * pitch - gap + o.quietZoneMm;
  const textWidth = rightX - pitch - o.quietZoneMm - textX;
  if (textWidth < MIN_BAND_TEXT_MM) {
    throw new LayoutError(`markers of ${side} mm at ${inset} mm from the edge leave no room for the identity markers and the caption on ${o.paper} ${o.orientation}`);
  }
  const identityXs = [leftX, leftX + pitch, rightX - pitch, rightX];
  const identityMarkers = [inset, page.height - inset - side].flatMap((y, band) =>
    identityXs.map((x, k): IdentityMarkerPlacement => ({ slot: 4 * band + k, rect: { x, y, width: side, height: side }, corners: square(x, y, side) })),
  );
  const header: RectMm = { x: textX, y: inset, width: textWidth, height: side };
  const footer: RectMm = { x: textX, y: page.height - inset - side, width: textWidth, height: side };
  const contentY = inset + side + o.quietZoneMm;
  const content: RectMm = { x: inset, y: contentY, width: page.width - 2 * inset, height: page.height - 2 * contentY };

  const image = o.imageAspect <= 1 ? { width: o.cellMm, height: o.cellMm * o.imageAspect } : { width: o.cellMm / o.imageAspect, height: o.cellMm };
  const boxWidth = image.width + 2 * o.borderGapMm;
  const boxHeight = image.height + 2 * o.borderGapMm + o.captionMm;
  const perSlot = o.pairs ? 2 : 1;
  const slotWidth = perSlot * boxWidth + (perSlot - 1) * o.pairGapMm;
  const columns = Math.floor((content.width + o.gutterMm) / (slotWidth + o.gutterMm) + 1e-9);
  const rows = Math.floor((content.height + o.gutterMm) / (boxHeight + o.gutterMm) + 1e-9);
  if (columns < 1 || rows < 1) {
    const widthLimit = (content.width - (perSlot - 1) * o.pairGapMm) / perSlot - 2 * o.borderGapMm;
    const heightLimit = content.height - 2 * o.borderGapMm - o.captionMm;
    const aspectWidth = o.imageAspect <= 1 ? 1 : 1 / o.imageAspect;
    const aspectHeight = o.imageAspect <= 1 ? o.imageAspect : 1;
    const largest = Math.min(widthLimit / aspectWidth, heightLimit / aspectHeight);
    throw new LayoutError(`a ${o.cellMm} mm cell${o.pairs ? ' pair' : ''} does not fit on ${o.paper} ${o.orientation}: at most ${Math.max(0, Math.floor(largest * 10) / 10)} mm`);
  }

  // Centre the grid in the content area, so the cells sit symmetrically between the markers.
  const gridWidth = columns * slotWidth + (columns - 1) * o.gutterMm;
  const gridHeight = rows * boxHeight + (rows - 1) * o.gutterMm;
  const left = content.x + (content.width - gridWidth) / 2;
  const top = content.y + (content.height - gridHeight) / 2;

  const cells: CellPlacement[] = [];
  for (let row = 0; row < rows; row++) {
    for (let column = 0; column < columns; column++) {
      const slot = row * columns + column;
      for (let k = 0; k < perSlot; k++) {
        const boxX = left + column * (slotWidth + o.gutterMm) + k * (boxWidth + o.pairGapMm);
        const boxY = top + row * (boxHeight + o.gutterMm);
        const border: RectMm = { x: boxX, y: boxY, width: boxWidth, height: image.height + 2 * o.borderGapMm };
        cells.push({
          index: cells.length,
          slot,
          row,
          column,
          role: o.pairs ? (k === 0 ? 'clean' : 'adversarial') : 'single',
          image: { x: boxX + o.borderGapMm, y: boxY + o.borderGapMm, width: image.width, height: image.height },
          border,
          caption: { x: boxX, y: boxY + border.height, width: boxWidth, height: o.captionMm },
        });
      }
    }
  }

  return {
    options: o,
    page,
    markers,
    markerQuad,
    identityMarkers,
    header,
    footer,
    content,
    image,
    columns,
    rows,
    slotsPerPage: columns * rows,
    cellsPerPage: cells.length,
    cells,
  };
}

/** The marker ids of sheet `sheetNumber` with their placements, in page-corner order TL, TR, BR, BL. */
export function placeMarkers(layout: SheetLayout, sheetNumber: number): (MarkerPlacement & { id: number })[] {
  const ids = markerIdsForSheet(sheetNumber);
  return layout.markers.map((marker, k) => ({ ...marker, id: ids[k] }));
}

/** The identity markers of a sheet set with their placements and ids, in slot order. */
export function placeIdentityMarkers(layout: SheetLayout, identity: string): (IdentityMarkerPlacement & { id: number })[] {
  const ids = identityMarkerIds(identity);
  return layout.identityMarkers.map((marker) => ({ ...marker, id: ids[marker.slot] }));
}

/**
 * Splits slot contents into pages of `slotsPerPage` (in pairs mode an item is one pair). Accepts a
 * layout or the options to compute one. No items, no pages.
 */
export function paginate<T>(items: readonly T[], layoutOrOptions: SheetLayout | SheetLayoutOptions): T[][] {
  const layout = 'cells' in layoutOrOptions ? layoutOrOptions : computeSheetLayout(layoutOrOptions);
  const pages: T[][] = [];
  for (let start = 0; start < items.length; start += layout.slotsPerPage) pages.push(items.slice(start, start + layout.slotsPerPage));
  return pages;
}

/**
 * ε as printed in captions: pixel levels when ε is a whole number of 8-bit levels (8/255), else the
 * decimal with at most 3 significant digits.
 */
export function formatEpsilon(epsilon: number): string {
  const levels = epsilon * 255;
  if (epsilon > 0 && Math.abs(levels - Math.round(levels)) < 1e-6) return `${Math.round(levels)}/255`;
  return String(Number(epsilon.toPrecision(3)));
}

/**
 * What a cell caption names: "FGSM ε=8/255 #12 y=7" for adversarial cells, "clean #12 y=7" for
 * originals; the true class by its name when the model names its classes ("y=Ankle boot").
 */
export function cellCaption(cell: { kind: 'clean' | 'adversarial'; method?: string | null; epsilon?: number | null; sourceIndex: number; trueLabel?: number | null }, classNames?: readonly string[] | null): string {
  const parts: string[] = [];
  if (cell.kind === 'clean') parts.push('clean');
  else {
    parts.push((cell.method ?? 'adv').toUpperCase());
    if (cell.epsilon !== undefined && cell.epsilon !== null) parts.push(`ε=${formatEpsilon(cell.epsilon)}`);
  }
  parts.push(`#${cell.sourceIndex}`);
  if (cell.trueLabel !== undefined && cell.trueLabel !== null) parts.push(`y=${classNames?.[cell.trueLabel] ?? cell.trueLabel}`);
  return parts.join(' ');
}

/** The header line of a sheet: experiment, model, date (ISO day), page x/n. */
export function sheetCaption(sheet: { experiment: string; modelId?: string | null; createdAt: string; page: number; pageCount: number }): string {
  const parts = [sheet.experiment];
  if (sheet.modelId) parts.push(`model ${sheet.modelId}`);
  parts.push(sheet.createdAt.slice(0, 10));
  if (sheet.pageCount > 1) parts.push(`page ${sheet.page}/${sheet.pageCount}`);
  return parts.join(' · ');
}
