/**
 * The calibration sheet: a printed target from whose photos `calibration-fit.ts` fits a channel profile
 * (channel-profile.ts). It is an ordinary Foolprint sheet (same layout, corner and identity markers,
 * manifest, PDF and PNG writer), whose cells print flat patches and slanted edges instead of images:
 * - a grey ramp at every knot of the profile's tone curves (17 levels, 0 to 1 by 1/16);
 * - colour patches whose channels take knot values (0, ¼, ½, ¾, 1), so the colour matrix sees
 *   cross-talk between channels;
 * - slanted edges, one near-vertical and one near-horizontal, 5° off the pixel grid as in ISO 12233's
 *   slanted-edge method, between a dark and a light grey (not black and white: no clipping at either
 *   end, so the edge profile stays an error function).
 *
 * The calibration manifest wraps the sheet manifest (which the analysis uses to find and rectify the
 * sheet, and whose identity makes another set's sheet refused) with what each cell prints.
 */
import { z } from 'zod';
import { computeSheetLayout } from './layout.js';
import type { PaperName, Orientation } from './layout.js';
import { planSheets, sheetManifestSchema } from './sheet-manifest.js';
import type { SheetManifest, SheetPlan } from './sheet-manifest.js';

export class CalibrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CalibrationError';
  }
}

/** Printed size of each patch (mm): large enough for a clean mean in a 720p photo, small enough for 50+ patches on A4. */
export const CALIBRATION_CELL_MM = 20;
/** Pixels of each patch image: 0.125 mm per pixel, well below any printer's and camera's blur. */
export const CALIBRATION_IMAGE_PX = 160;
/** Knots of the fitted tone curves; the grey ramp prints one patch per knot. */
export const CALIBRATION_TONE_KNOTS = 17;
/** The slanted edges' angle off the page axes (ISO 12233 uses about 5°: every pixel column samples the edge at another phase). */
export const EDGE_SLANT_DEG = 5;
const EDGE_DARK = 0.2;
const EDGE_LIGHT = 0.8;

const unit = z.number().finite().min(0).max(1);
const rgb = z.tuple([unit, unit, unit]);

export const calibrationPatchSchema = z.object({ cell: z.number().int().min(0), rgb }).strict();
export const calibrationEdgeSchema = z
  .object({
    cell: z.number().int().min(0),
    /** Direction of the edge's normal in page coordinates (x right, y down), degrees: dark on the negative side. */
    normalDeg: z.number().finite().min(-180).max(180),
    dark: unit,
    light: unit,
  })
  .strict();

export const calibrationManifestSchema = z
  .object({
    kind: z.literal('foolprint-calibration-sheet'),
    version: z.literal(1),
    sheet: sheetManifestSchema,
    patches: z.array(calibrationPatchSchema).min(4).max(1000),
    edges: z.array(calibrationEdgeSchema).min(1).max(100),
  })
  .strict()
  .superRefine((manifest, context) => {
    if (!Array.isArray(manifest.sheet?.cells) || !Array.isArray(manifest.patches) || !Array.isArray(manifest.edges)) return;
    const cells = manifest.sheet.cells.length;
    const seen = new Set<number>();
    const check = (cell: number, path: (string | number)[]) => {
      if (!Number.isInteger(cell)) return;
      if (cell >= cells) context.addIssue({ code: 'custom', path, message: `cell ${cell} is not on the sheet (it has ${cells} cells)` });
      else if (seen.has(cell)) context.addIssue({ code: 'custom', path, message: `cell ${cell} is described twice` });
      seen.add(cell);
    };
    manifest.patches.forEach((patch, i) => patch && check(patch.cell, ['patches', i, 'cell']));
    manifest.edges.forEach((edge, i) => {
      if (!edge) return;
      check(edge.cell, ['edges', i, 'cell']);
      if (edge.light - edge.dark < 0.1) context.addIssue({ code: 'custom', path: ['edges', i], message: 'an edge needs light at least 0.1 above dark' });
    });
  });

export type CalibrationManifest = z.infer<typeof calibrationManifestSchema>;
export type CalibrationPatch = z.infer<typeof calibrationPatchSchema>;
export type CalibrationEdge = z.infer<typeof calibrationEdgeSchema>;

/** Parses a calibration manifest from JSON text; one line naming the first bad field. */
export function parseCalibrationManifest(text: string, where = 'calibration manifest'): CalibrationManifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CalibrationError(`${where} is not JSON: ${(error as Error).message}`);
  }
  if (json !== null && typeof json === 'object' && 'kind' in json && json.kind !== 'foolprint-calibration-sheet') {
    throw new CalibrationError(`${where} is not a calibration sheet manifest (kind ${JSON.stringify(json.kind)})`);
  }
  const parsed = calibrationManifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CalibrationError(`${where} is not a valid calibration manifest: ${issue.path.join('.') || '(top level)'}: ${issue.message}`);
  }
  return parsed.data;
}

/** The patch colours after the grey ramp: primaries and secondaries at ½ and 1 first, then quarter tones. */
function colourPatches(): [number, number, number][] {
  const levels = [0, 0.5, 1, 0.25, 0.75];
  const out: [number, number, number][] = [];
  const add = (values: number[]) => {
    for (const r of values) for (const g of values) for (const b of values) {
      if (r === g && g === b) continue;
      if (!out.some((c) => c[0] === r && c[1] === g && c[2] === b)) out.push([r, g, b]);
    }
  };
  add(levels.slice(0, 3));
  add(levels);
  return out;
}

export interface CalibrationSheetOptions {
  paper?: PaperName;
  orientation?: Orientation;
  /** PNG resolution (default 300). */
  dpi?: number;
  createdAt?: string;
  /** The set's identity (default: a fresh random one). */
  identity?: string;
  /** Marker base (default 0). */
  sheetNumber?: number;
}

export interface CalibrationSheetPlan {
  plan: SheetPlan;
  manifest: CalibrationManifest;
  /** NHWC floats in [0,1], one CALIBRATION_IMAGE_PX square RGB image per cell. */
  images: Float32Array;
  shape: [number, number, number, number];
}

function caption(values: readonly number[]): string {
  const f = (v: number) => String(Math.round(v * 1000) / 1000);
  return values[0] === values[1] && values[1] === values[2] ? `grey ${f(values[0])}` : `R${f(values[0])} G${f(values[1])} B${f(values[2])}`;
}

/** Draws an edge image: each pixel the area fraction on the light side (4×4 subsamples), so the only blur is the print's and the camera's. */
function edgeImage(out: Float32Array, offset: number, side: number, edge: CalibrationEdge): void {
  const angle = (edge.normalDeg * Math.PI) / 180;
  const [nx, ny] = [Math.cos(angle), Math.sin(angle)];
  const sub = 4;
  for (let j = 0; j < side; j++) for (let i = 0; i < side; i++) {
    let light = 0;
    for (let sy = 0; sy < sub; sy++) for (let sx = 0; sx < sub; sx++) {
      const x = i + (sx + 0.5) / sub - side / 2;
      const y = j + (sy + 0.5) / sub - side / 2;
      if (x * nx + y * ny >= 0) light++;
    }
    const v = edge.dark + ((edge.light - edge.dark) * light) / (sub * sub);
    const o = offset + (j * side + i) * 3;
    out[o] = out[o + 1] = out[o + 2] = v;
  }
}

/** Lays out one calibration sheet: the sheet plan, its calibration manifest and the cell images. */
export function planCalibrationSheet(options: CalibrationSheetOptions = {}): CalibrationSheetPlan {
  const layoutOptions = { paper: options.paper, orientation: options.orientation, cellMm: CALIBRATION_CELL_MM, captionMm: 3, gutterMm: 3 };
  const cellCount = computeSheetLayout(layoutOptions).cellsPerPage;
  const greys = Array.from({ length: CALIBRATION_TONE_KNOTS }, (_, k) => k / (CALIBRATION_TONE_KNOTS - 1));
  const edges: Omit<CalibrationEdge, 'cell'>[] = [
    { normalDeg: EDGE_SLANT_DEG, dark: EDGE_DARK, light: EDGE_LIGHT },
    { normalDeg: 90 + EDGE_SLANT_DEG, dark: EDGE_DARK, light: EDGE_LIGHT },
  ];
  const colours = colourPatches();
  const minimum = greys.length + edges.length + 12;
  if (cellCount < minimum) throw new CalibrationError(`a calibration sheet needs ${minimum} patches of ${CALIBRATION_CELL_MM} mm; ${options.paper ?? 'a4'} ${options.orientation ?? 'portrait'} holds ${cellCount}`);

  // Edges in the middle of the page, where a tilted photo is sharpest; the ramp first, colours after.
  const edgeCells = [Math.floor(cellCount / 2) - 1, Math.floor(cellCount / 2)];
  const patchColours = [...greys.map((g): [number, number, number] => [g, g, g]), ...colours].slice(0, cellCount - edges.length);
  const side = CALIBRATION_IMAGE_PX;
  const images = new Float32Array(cellCount * side * side * 3);
  const patches: CalibrationPatch[] = [];
  const placedEdges: CalibrationEdge[] = [];
  const captions: string[] = [];
  let next = 0;
  for (let cell = 0; cell < cellCount; cell++) {
    const offset = cell * side * side * 3;
    const edgeIndex = edgeCells.indexOf(cell);
    if (edgeIndex >= 0) {
      const edge = { cell, ...edges[edgeIndex] };
      edgeImage(images, offset, side, edge);
      placedEdges.push(edge);
      captions.push(`edge ${edgeIndex === 0 ? 'vertical' : 'horizontal'} ${EDGE_SLANT_DEG}°`);
      continue;
    }
    const colour = patchColours[next++];
    for (let p = 0; p < side * side; p++) images.set(colour, offset + p * 3);
    patches.push({ cell, rgb: colour });
    captions.push(caption(colour));
  }
  const records = Array.from({ length: cellCount }, (_, i) => ({ kind: 'clean' as const, imageId: `calibration-${i}`, sourceIndex: i }));
  const plan = planSheets(records, [side, side, 3], {
    ...layoutOptions,
    dpi: options.dpi ?? 300,
    experiment: 'Foolprint calibration sheet',
    createdAt: options.createdAt,
    firstSheetNumber: options.sheetNumber ?? 0,
    identity: options.identity,
    baseName: 'calibration',
    sheetIdPrefix: undefined,
  });
  const sheet: SheetManifest = { ...plan.manifests[0], cells: plan.manifests[0].cells.map((cell, i) => ({ ...cell, caption: captions[i] })) };
  plan.manifests[0] = sheet;
  return { plan, manifest: { kind: 'foolprint-calibration-sheet', version: 1, sheet, patches, edges: placedEdges }, images, shape: [cellCount, side, side, 3] };
}
