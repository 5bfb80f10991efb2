/**
 * The sheet manifest: one JSON file per printed page (`sheet.manifest.json`, `sheet-2.manifest.json`,
 * ...) that tells the photo analysis everything it needs without the PDF: which marker ids sit where
 * on the page (mm), where each image is printed (mm), and, per cell, the source record it links to
 * (image id, clean or adversarial, method, ε, true label, the digital top-5 of the clean and of the
 * adversarial version, float and 8-bit quantized) so a photographed cell can be compared with its
 * digital prediction (Kurakin et al. 2016, destruction rate).
 *
 * Coordinates are millimetres in page coordinates (origin top-left, y down), as in layout.ts; to get
 * the pixel positions in the PNG written at `dpi`, use `mmToPixels` from layout.ts.
 *
 * Versioned: `schemaVersion: 2` adds the sheet set's `identity` and the identity markers that print it
 * (sheet-identity.ts). Version 1 manifests, written before, still load (identity null): a photo can
 * then not be checked to show that set, and the analysis says so. Add optional fields freely; change a
 * field's meaning only with a new version.
 */
import { z } from 'zod';
import { LEGACY_MAX_SHEET_NUMBER, MARKER_DICTIONARY, MAX_SHEET_NUMBER, PAGE_CORNERS, markerIdsForSheet } from './markers.js';
import { cellCaption, computeSheetLayout, paginate, placeIdentityMarkers, placeMarkers } from './layout.js';
import type { SheetLayout, SheetLayoutOptions } from './layout.js';
import { IDENTITY_MARKER_COUNT, identityMarkerIds, isSheetIdentity, randomSheetIdentity } from './sheet-identity.js';

export const SHEET_MANIFEST_SCHEMA_VERSION = 2;
/** Versions this Foolprint reads: 1 (no identity) and the current one. */
const READABLE_VERSIONS = [1, SHEET_MANIFEST_SCHEMA_VERSION];

export class SheetManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SheetManifestError';
  }
}

const pointMm = z.object({ x: z.number(), y: z.number() });
const rectMm = z.object({ x: z.number(), y: z.number(), width: z.number().positive(), height: z.number().positive() });

/** One class of a top-k list, as in the attack record (record.json). */
const prediction = z.object({ label: z.number().int().nonnegative(), probability: z.number().min(0).max(1) });

/** Top-5 as computed on the float image and after rounding to 8 bits (the printed form). */
const digitalViews = z.object({
  float: z.array(prediction).nullable(),
  quantized: z.array(prediction).nullable(),
});

/** What the caller knows about an image before it is placed: the link to its digital record. */
export const sheetCellSourceSchema = z.object({
  kind: z.enum(['clean', 'adversarial']),
  /** The image's id in its source (dataset id, file name). */
  imageId: z.string().min(1),
  /** Row in the source: the index in the attack record's `images`, or the CSV row. */
  sourceIndex: z.number().int().nonnegative(),
  /** The source PNG, relative to the source folder, when the image came from a file. */
  file: z.string().nullable().default(null),
  /** Attack method (fgsm, bim, ll, pgd, deepfool, or a foreign tool's name); null for clean images. */
  method: z.string().nullable().default(null),
  /** ε in [0,1] pixel units; null for clean images or unknown. */
  epsilon: z.number().nonnegative().nullable().default(null),
  trueLabel: z.number().int().nonnegative().nullable().default(null),
  /** Target class of a targeted or least-likely attack. */
  target: z.number().int().nonnegative().nullable().default(null),
  /** Digital top-5 of this image's clean original and of its adversarial version (null when unknown, e.g. a folder of PNGs). */
  digital: z
    .object({ clean: digitalViews.nullable().default(null), adversarial: digitalViews.nullable().default(null) })
    .default({ clean: null, adversarial: null }),
  /** Adversarial cells of a run with a print survival estimate (AttackOptions.survival): its value for the printed (8-bit) image. */
  survival: z.number().min(0).max(1).optional(),
});
export type SheetCellSource = z.input<typeof sheetCellSourceSchema>;

export const sheetCellSchema = sheetCellSourceSchema.extend({
  /** Position on this page in reading order (layout.ts `CellPlacement.index`). */
  index: z.number().int().nonnegative(),
  role: z.enum(['single', 'clean', 'adversarial']),
  /** The image's own pixel size and channel count, as embedded (printed at native size, no resampling). */
  image: z.object({ width: z.number().int().positive(), height: z.number().int().positive(), channels: z.union([z.literal(1), z.literal(3)]) }),
  /** Printed image rectangle: the region to rectify and crop. */
  imageRectMm: rectMm,
  borderRectMm: rectMm,
  captionRectMm: rectMm,
  caption: z.string(),
});

const markerRecord = z.object({
  id: z.number().int().nonnegative(),
  pageCorner: z.enum(['TL', 'TR', 'BR', 'BL']),
  /** The marker's outer corners in OpenCV's order (marker TL, TR, BR, BL), mm. */
  cornersMm: z.tuple([pointMm, pointMm, pointMm, pointMm]),
});

const identityMarkerRecord = z.object({
  /** Which symbol of the identity code (0..7). */
  slot: z.number().int().nonnegative(),
  id: z.number().int().nonnegative(),
  cornersMm: z.tuple([pointMm, pointMm, pointMm, pointMm]),
});

export const sheetManifestSchema = z
  .object({
    schemaVersion: z.union([z.literal(1), z.literal(SHEET_MANIFEST_SCHEMA_VERSION)]),
    /** Unique name of this printed page, e.g. "fgsm-mnist-20261128T2210-s3". */
    sheetId: z.string().min(1),
    /**
     * The sheet set's random identity (9 hex digits, 35 bits), printed on every page as the identity
     * markers: a photo is only scored against manifests of the identity it shows. Null in version 1.
     */
    identity: z.string().nullable().default(null),
    /** Marker base: the page carries ids 4·sheetNumber + k (0..29; version 1 went to 61). */
    sheetNumber: z.number().int().min(0).max(LEGACY_MAX_SHEET_NUMBER),
    /** 1-based page of the PDF this sheet is, and the PDF's page count. */
    page: z.number().int().positive(),
    pageCount: z.number().int().positive(),
    experiment: z.string(),
    modelId: z.string().nullable(),
    /** ISO 8601. */
    createdAt: z.string().min(1),
    source: z.object({ kind: z.enum(['attack-record', 'folder', 'arrays']), path: z.string().nullable() }),
    /** Class names when the source had them; index = label. */
    classNames: z.array(z.string()).nullable().default(null),
    paper: z.enum(['a4', 'letter']),
    orientation: z.enum(['portrait', 'landscape']),
    cellMm: z.number().positive(),
    /** Resolution of the PNG rendering. */
    dpi: z.number().positive(),
    pairs: z.boolean(),
    /** The layout options with defaults filled in: `computeSheetLayout(layoutOptions)` reproduces the geometry. */
    layoutOptions: z.record(z.string(), z.unknown()),
    markerDictionary: z.literal(MARKER_DICTIONARY),
    geometry: z.object({
      pageMm: z.object({ width: z.number().positive(), height: z.number().positive() }),
      /** In page-corner order TL, TR, BR, BL. */
      markers: z.tuple([markerRecord, markerRecord, markerRecord, markerRecord]),
      /** The identity markers in slot order (empty in version 1). */
      identityMarkers: z.array(identityMarkerRecord).default([]),
    }),
    files: z.object({ pdf: z.string(), pdfPage: z.number().int().positive(), png: z.string() }),
    cells: z.array(sheetCellSchema),
  })
  .superRefine((manifest, context) => {
    // Zod 4 runs this even when a field above already failed: check only what is well-formed.
    if (!Number.isInteger(manifest.sheetNumber) || manifest.sheetNumber < 0 || manifest.sheetNumber > LEGACY_MAX_SHEET_NUMBER) return;
    if (!Array.isArray(manifest.geometry?.markers) || !Array.isArray(manifest.cells)) return;
    const identityMarkers = manifest.geometry.identityMarkers ?? [];
    if (manifest.schemaVersion === 1) {
      if (manifest.identity !== null || identityMarkers.length > 0) {
        context.addIssue({ code: 'custom', path: ['identity'], message: 'version 1 manifests have no identity: a manifest with one is version 2' });
      }
    } else {
      if (manifest.sheetNumber > MAX_SHEET_NUMBER) {
        context.addIssue({ code: 'custom', path: ['sheetNumber'], message: `sheet numbers run from 0 to ${MAX_SHEET_NUMBER}, got ${manifest.sheetNumber}` });
      }
      if (!isSheetIdentity(manifest.identity)) {
        context.addIssue({ code: 'custom', path: ['identity'], message: `expected 9 hex digits (35 bits), got ${JSON.stringify(manifest.identity)}` });
      } else {
        const ids = identityMarkerIds(manifest.identity);
        if (identityMarkers.length !== IDENTITY_MARKER_COUNT) {
          context.addIssue({ code: 'custom', path: ['geometry', 'identityMarkers'], message: `expected ${IDENTITY_MARKER_COUNT} identity markers, got ${identityMarkers.length}` });
        }
        identityMarkers.forEach((marker, k) => {
          if (marker && (marker.slot !== k || marker.id !== ids[k])) {
            context.addIssue({ code: 'custom', path: ['geometry', 'identityMarkers', k], message: `identity ${manifest.identity} has marker ${ids[k]} in slot ${k}, got ${marker.id} in slot ${marker.slot}` });
          }
        });
      }
    }
    const ids = markerIdsForSheet(manifest.sheetNumber);
    manifest.geometry.markers.forEach((marker, k) => {
      if (!marker) return;
      if (marker.id !== ids[k] || marker.pageCorner !== PAGE_CORNERS[k]) {
        context.addIssue({
          code: 'custom',
          path: ['geometry', 'markers', k],
          message: `sheet ${manifest.sheetNumber} has marker ${ids[k]} at ${PAGE_CORNERS[k]}, got ${marker.id} at ${marker.pageCorner}`,
        });
      }
    });
    if (manifest.page > manifest.pageCount) {
      context.addIssue({ code: 'custom', path: ['page'], message: `page ${manifest.page} is beyond pageCount ${manifest.pageCount}` });
    }
    manifest.cells.forEach((cell, i) => {
      if (cell && cell.index !== i) context.addIssue({ code: 'custom', path: ['cells', i, 'index'], message: `expected ${i}, got ${cell.index}` });
    });
  });

export type SheetManifest = z.infer<typeof sheetManifestSchema>;
export type SheetCell = z.infer<typeof sheetCellSchema>;
export type SheetPrediction = z.infer<typeof prediction>;

/**
 * Validates a parsed JSON value as a sheet manifest. Errors name the source and the first bad field,
 * e.g. "sheet.manifest.json is not a valid sheet manifest: cells.3.epsilon: Invalid input: expected number, received string".
 */
export function parseSheetManifest(json: unknown, source = 'sheet manifest'): SheetManifest {
  if (json !== null && typeof json === 'object' && 'schemaVersion' in json && !READABLE_VERSIONS.includes(json.schemaVersion as number)) {
    throw new SheetManifestError(`${source} has schemaVersion ${String(json.schemaVersion)}; this Foolprint reads versions ${READABLE_VERSIONS.join(' and ')}`);
  }
  const parsed = sheetManifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SheetManifestError(`${source} is not a valid sheet manifest: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}

/** Parses manifest text (a file's contents), with a clear error for text that is not JSON. */
export function parseSheetManifestText(text: string, source = 'sheet manifest'): SheetManifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new SheetManifestError(`${source} is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  return parseSheetManifest(json, source);
}

export class SheetPlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SheetPlanError';
  }
}

export interface SheetPlanOptions extends Omit<SheetLayoutOptions, 'imageAspect'> {
  /** PNG resolution recorded in the manifest (default 300). */
  dpi?: number;
  experiment: string;
  modelId?: string | null;
  /** ISO 8601 (default: now). */
  createdAt?: string;
  /** Sheet number of the first page; page p gets firstSheetNumber + p − 1 (default 0). */
  firstSheetNumber?: number;
  /** Sheet ids are `${sheetIdPrefix}-s${sheetNumber}` (default: experiment and creation time). */
  sheetIdPrefix?: string;
  source?: { kind: 'attack-record' | 'folder' | 'arrays'; path: string | null };
  classNames?: readonly string[] | null;
  /** File base name: sheet.pdf, sheet.png, sheet-2.png, sheet.manifest.json, ... (default "sheet"). */
  baseName?: string;
  /** The set's identity, 9 hex digits (default: a fresh random one; give one only to reproduce a set). */
  identity?: string;
}

export interface SheetPlan {
  layout: SheetLayout;
  /** One manifest per page. */
  manifests: SheetManifest[];
  /** imageIndex[page][cell]: which input image (index into `records`) each cell prints. */
  imageIndex: number[][];
}

/** File names of page `page` (1-based): the first page has no number, as in sheet.png, sheet-2.png. */
export function sheetFileNames(baseName: string, page: number): { png: string; manifest: string } {
  const stem = page === 1 ? baseName : `${baseName}-${page}`;
  return { png: `${stem}.png`, manifest: `${stem}.manifest.json` };
}

function compactTimestamp(iso: string): string {
  return iso.replace(/[-:]/g, '').replace(/\.\d+/, '').slice(0, 15);
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'sheet';
}

/**
 * Everything about a set of sheets except the drawing: the layout, the pages and one manifest per
 * page. Pure, so the renderer's preview and the Node writer plan alike. In pairs mode `records` must
 * alternate clean, adversarial (the clean original first, printed on the left).
 */
export function planSheets(records: readonly SheetCellSource[], imageShape: readonly [number, number, number], options: SheetPlanOptions): SheetPlan {
  const [height, width, channels] = imageShape;
  if (![height, width].every((n) => Number.isInteger(n) && n > 0) || (channels !== 1 && channels !== 3)) {
    throw new SheetPlanError(`images must be [height, width, 1 or 3 channels], got [${imageShape.join(', ')}]`);
  }
  if (records.length === 0) throw new SheetPlanError('no images to lay out');
  const sources = records.map((record, i) => {
    const parsed = sheetCellSourceSchema.safeParse(record);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new SheetPlanError(`record ${i}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    }
    return parsed.data;
  });
  const dpi = options.dpi ?? 300;
  if (!Number.isFinite(dpi) || dpi <= 0) throw new SheetPlanError(`dpi must be a positive number, got ${dpi}`);
  const layout = computeSheetLayout({ ...options, imageAspect: height / width });
  const pairs = layout.options.pairs;
  if (pairs) {
    if (sources.length % 2 !== 0) throw new SheetPlanError(`pairs need an even number of images (clean, adversarial, ...), got ${sources.length}`);
    for (let i = 0; i < sources.length; i += 2) {
      if (sources[i].kind !== 'clean' || sources[i + 1].kind !== 'adversarial') {
        throw new SheetPlanError(`pairs need records alternating clean, adversarial; records ${i} and ${i + 1} are ${sources[i].kind}, ${sources[i + 1].kind}`);
      }
    }
  }
  const perSlot = pairs ? 2 : 1;
  const slots = Array.from({ length: sources.length / perSlot }, (_, s) => Array.from({ length: perSlot }, (_, k) => s * perSlot + k));
  const pages = paginate(slots, layout);
  const first = options.firstSheetNumber ?? 0;
  if (!Number.isInteger(first) || first < 0 || first + pages.length - 1 > MAX_SHEET_NUMBER) {
    throw new SheetPlanError(
      `${sources.length} images need ${pages.length} page(s) from sheet number ${first}, but sheet numbers run from 0 to ${MAX_SHEET_NUMBER}: print fewer images or a larger paper/smaller cell`,
    );
  }
  const createdAt = options.createdAt ?? new Date().toISOString();
  const prefix = options.sheetIdPrefix ?? `${slug(options.experiment)}-${compactTimestamp(createdAt)}`;
  const baseName = options.baseName ?? 'sheet';
  const identity = options.identity ?? randomSheetIdentity();
  if (!isSheetIdentity(identity)) throw new SheetPlanError(`identity must be 9 hex digits below 2^35, got "${identity}"`);
  const identityMarkers = placeIdentityMarkers(layout, identity);

  const imageIndex = pages.map((page) => page.flat());
  const manifests = imageIndex.map((indexes, p): SheetManifest => {
    const sheetNumber = first + p;
    const markers = placeMarkers(layout, sheetNumber);
    const files = sheetFileNames(baseName, p + 1);
    return {
      schemaVersion: SHEET_MANIFEST_SCHEMA_VERSION,
      sheetId: `${prefix}-s${sheetNumber}`,
      identity,
      sheetNumber,
      page: p + 1,
      pageCount: pages.length,
      experiment: options.experiment,
      modelId: options.modelId ?? null,
      createdAt,
      source: options.source ?? { kind: 'arrays', path: null },
      classNames: options.classNames ? [...options.classNames] : null,
      paper: layout.options.paper,
      orientation: layout.options.orientation,
      cellMm: layout.options.cellMm,
      dpi,
      pairs,
      layoutOptions: { ...layout.options },
      markerDictionary: MARKER_DICTIONARY,
      geometry: {
        pageMm: { ...layout.page },
        markers: markers.map((m) => ({ id: m.id, pageCorner: m.pageCorner, cornersMm: m.corners.map((c) => ({ ...c })) })) as SheetManifest['geometry']['markers'],
        identityMarkers: identityMarkers.map((m) => ({ slot: m.slot, id: m.id, cornersMm: m.corners.map((c) => ({ ...c })) as SheetManifest['geometry']['markers'][number]['cornersMm'] })),
      },
      files: { pdf: `${baseName}.pdf`, pdfPage: p + 1, png: files.png },
      cells: indexes.map((imageIndexOfCell, c) => {
        const placement = layout.cells[c];
        const source = sources[imageIndexOfCell];
        return {
          ...source,
          index: c,
          role: placement.role,
          image: { width, height, channels: channels as 1 | 3 },
          imageRectMm: { ...placement.image },
          borderRectMm: { ...placement.border },
          captionRectMm: { ...placement.caption },
          caption: cellCaption(source, options.classNames),
        };
      }),
    };
  });
  return { layout, manifests, imageIndex };
}
