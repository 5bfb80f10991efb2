import { z } from 'zod';
import { fileBytesSchema, idSchema, predictionSchema } from './common.js';

/** Per photographed cell: the digital prediction beside the captured one. */
export const compareCellSchema = z.object({
  captureId: idSchema,
  sheetId: z.string(),
  cellIndex: z.number().int().nonnegative(),
  imageId: z.string(),
  kind: z.enum(['clean', 'adversarial']),
  method: z.string().nullable(),
  epsilon: z.number().nullable(),
  trueLabel: z.number().int().nullable(),
  /** Top-5 of the printed (8-bit quantized) image, digitally. */
  digitalTop5: z.array(predictionSchema),
  /** Top-5 of the photographed crop; empty when the cell was not analysed. */
  capturedTop5: z.array(predictionSchema),
  /** Digital and captured top-1 are the same class. */
  agree: z.boolean(),
  qualityOk: z.boolean(),
  /** data:image/png;base64 thumbnails: the printed image and the rectified crop. */
  digitalPng: z.string().nullable(),
  capturedPng: z.string().nullable(),
});
export type CompareCell = z.infer<typeof compareCellSchema>;

const accuracyPair = z.object({ top1: z.number().nullable(), top5: z.number().nullable() });

/**
 * One method × ε × case row. Destruction rate (Kurakin et al. 2016, Eq. 1):
 * d = Σ C(X,y)·¬C(X_adv,y)·C(T(X_adv),y) / Σ C(X,y)·¬C(X_adv,y), null when the denominator is 0.
 */
export const compareRateSchema = z.object({
  method: z.string(),
  epsilon: z.number(),
  /** 'average': every captured image; 'prefiltered': clean correct, adversarial wrong in top-1 and top-5 with confidence ≥ the threshold. */
  case: z.enum(['average', 'prefiltered']),
  /** Photographed adversarial images in this row. */
  count: z.number().int().nonnegative(),
  digital: z.object({ clean: accuracyPair, adversarial: accuracyPair }),
  photo: z.object({ adversarial: accuracyPair, clean: accuracyPair }),
  destructionTop1: z.number().nullable(),
  destructionTop5: z.number().nullable(),
});
export type CompareRate = z.infer<typeof compareRateSchema>;

export const compareReportSchema = z.object({
  experimentId: idSchema,
  captures: z.number().int().nonnegative(),
  cells: z.array(compareCellSchema),
  rates: z.array(compareRateSchema),
  /** How several captures of one cell are combined in `rates`: every capture counts once. */
  combine: z.literal('each'),
  prefilterConfidence: z.number(),
});
export type CompareReport = z.infer<typeof compareReportSchema>;

const compareInput = z.object({
  experimentId: idSchema,
  /** Prefiltered case: adversarial confidence at least this (Kurakin et al. use 0.8). */
  prefilterConfidence: z.number().min(0).max(1).default(0.8),
  /** Leave thumbnails out (smaller answer). */
  thumbnails: z.boolean().default(true),
});

export const compareMethods = {
  'compare.get': { input: compareInput, output: compareReportSchema },
  /** Write the report into the experiment's results/ and return its bytes (CSV of cells, JSON, or a self-contained HTML). */
  'compare.export': {
    input: compareInput.omit({ thumbnails: true }).extend({ format: z.enum(['csv', 'json', 'html']) }),
    output: fileBytesSchema.extend({ path: z.string() }),
  },
} as const;
