import { z } from 'zod';
import { fileBytesSchema, idSchema } from './common.js';

/** How to lay out a run's images on paper (app/physical/layout.ts options the UI exposes). */
export const sheetParamsSchema = z.object({
  experimentId: idSchema,
  runId: idSchema,
  /** Which ε of the run to print (default: all). */
  epsilons: z.array(z.number().min(0).max(1)).min(1).optional(),
  /** Print only the first `limit` images of the run (default: all). */
  limit: z.number().int().min(1).optional(),
  /** A run with print survival estimates: print only the adversarial images estimated to survive at least this share of the draws. */
  minSurvival: z.number().min(0).max(1).optional(),
  /** Clean original beside each adversarial image, as Kurakin et al. printed them. */
  pairs: z.boolean().default(true),
  paper: z.enum(['a4', 'letter']).default('a4'),
  orientation: z.enum(['portrait', 'landscape']).default('portrait'),
  /** Printed length of an image's longer side in mm. */
  cellMm: z.number().min(5).max(200).default(30),
  /** PNG resolution of the export. */
  dpi: z.number().min(36).max(1200).default(300),
});
export type SheetParams = z.input<typeof sheetParamsSchema>;

export const sheetPreviewSchema = z.object({
  pageCount: z.number().int().positive(),
  cellCount: z.number().int().positive(),
  pageMm: z.object({ width: z.number(), height: z.number() }),
  cellsPerPage: z.number().int().positive(),
  /** data:image/png;base64,... of the requested page at preview resolution. */
  png: z.string(),
  previewDpi: z.number(),
});
export type SheetPreview = z.infer<typeof sheetPreviewSchema>;

/** An exported set of sheets in an experiment (the export job's result). */
export const sheetSetSchema = z.object({
  sheetSetId: idSchema,
  experimentId: idSchema,
  runId: idSchema,
  createdAt: z.string(),
  pageCount: z.number().int().positive(),
  cellCount: z.number().int().positive(),
  /** Sheet ids (one per page), as encoded by the markers and written in the manifests. */
  sheetIds: z.array(z.string()),
  /** Absolute paths on the host (Electron opens/prints them; browser mode downloads via sheets.file). */
  pdfPath: z.string(),
  pngPaths: z.array(z.string()),
  manifestPaths: z.array(z.string()),
});
export type SheetSet = z.infer<typeof sheetSetSchema>;

export const sheetsMethods = {
  /** Direct: one page at low resolution, for the real-scale preview. */
  'sheets.preview': { input: sheetParamsSchema.extend({ page: z.number().int().positive().default(1), previewDpi: z.number().min(24).max(150).default(72) }), output: sheetPreviewSchema },
  /** Job: write PDF + PNG pages + sheet manifests into the experiment's sheets/ → SheetSet. */
  'sheets.export': { input: sheetParamsSchema, output: z.object({ jobId: idSchema }) },
  'sheets.list': { input: z.object({ experimentId: idSchema }), output: z.array(sheetSetSchema) },
  /**
   * The bytes of an exported file, for download in browser mode: the PDF, page `page` as PNG (named
   * `sheet-<page>.png`) or its manifest, or 'manifests': every page's manifest, the JSON itself for a
   * one-page set, else a .zip of them under their own names (what `foolprint analyze --sheets` reads).
   */
  'sheets.file': {
    input: z.object({ experimentId: idSchema, sheetSetId: idSchema, file: z.enum(['pdf', 'png', 'manifest', 'manifests']), page: z.number().int().positive().default(1) }),
    output: fileBytesSchema,
  },
} as const;
