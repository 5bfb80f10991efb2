import { z } from 'zod';
import { analysisStatusSchema, captureSourceSchema } from './capture.js';
import { fileBytesSchema, idSchema, predictionSchema } from './common.js';
import { protectedCountsSchema } from './defenses.js';

/** How several captures of one cell count: each on its own, or merged per sheet (app/physical/combine.ts). */
export const combineSchema = z.enum(['each', 'vote', 'mean']);
export type Combine = z.infer<typeof combineSchema>;

/** A still or photo of the experiment, as Compare lists it. */
export const compareCaptureSchema = z.object({
  captureId: idSchema,
  fileName: z.string(),
  source: captureSourceSchema,
  createdAt: z.string(),
  sheetId: z.string().nullable(),
  status: analysisStatusSchema,
  message: z.string(),
  /** A sheet was found and at least one of its cells classified; the others are listed apart and not counted. */
  counted: z.boolean(),
});
export type CompareCapture = z.infer<typeof compareCaptureSchema>;

/** Per photographed cell: the digital prediction beside the captured one. */
export const compareCellSchema = z.object({
  /** The capture the cell was photographed on; null for a cell merged over several captures (combine vote/mean). */
  captureId: idSchema.nullable(),
  sheetId: z.string(),
  cellIndex: z.number().int().nonnegative(),
  imageId: z.string(),
  kind: z.enum(['clean', 'adversarial']),
  method: z.string().nullable(),
  epsilon: z.number().nullable(),
  trueLabel: z.number().int().nullable(),
  /** Top-5 of the printed (8-bit quantized) image, digitally. */
  digitalTop5: z.array(predictionSchema),
  /** Top-5 of the photographed crop (merged: vote shares or mean probabilities); empty when the cell was not analysed. */
  capturedTop5: z.array(predictionSchema),
  /** Merged cells: each capture's top-1, in capture order (null where a capture did not classify it). */
  perCapture: z.array(z.number().int().nullable()).nullable(),
  /** Digital and captured top-1 are the same class. */
  agree: z.boolean(),
  qualityOk: z.boolean(),
  /** Analysed with a protected model: its detector refused the photographed cell. */
  rejected: z.boolean().optional(),
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
  /** Photographed adversarial images in this row, counting every capture: images × captures. */
  count: z.number().int().nonnegative(),
  /** Distinct images in the row, and the captures (merged sheets when combined) they were counted on. */
  images: z.number().int().nonnegative(),
  captures: z.number().int().nonnegative(),
  digital: z.object({ clean: accuracyPair, adversarial: accuracyPair }),
  photo: z.object({ adversarial: accuracyPair, clean: accuracyPair }),
  destructionTop1: z.number().nullable(),
  destructionTop5: z.number().nullable(),
  /** Runs attacked with a print survival estimate: the top-1 destruction rate it predicted for the same images (null otherwise). */
  predictedDestructionTop1: z.number().nullable().default(null),
  /** Captures analysed with a protected model: its detector's refusals of the photographed images, apart from the rates (null: a plain model). */
  rejections: z.object({ photoClean: protectedCountsSchema, photoAdversarial: protectedCountsSchema }).nullable().default(null),
});
export type CompareRate = z.infer<typeof compareRateSchema>;

export const compareReportSchema = z.object({
  experimentId: idSchema,
  /** Every capture of the experiment, oldest first; only `counted` ones give cells and rates. */
  captures: z.array(compareCaptureSchema),
  /** Cells of the counted captures, capture by capture (combine each) or sheet by sheet (vote/mean). */
  cells: z.array(compareCellSchema),
  rates: z.array(compareRateSchema),
  /** How several captures of one cell are combined in `cells` and `rates`. */
  combine: combineSchema,
  prefilterConfidence: z.number(),
  /** The class names of the photographed sheets' model (their manifests'), which labels index; null when they name none. */
  classNames: z.array(z.string()).nullable().default(null),
});
export type CompareReport = z.infer<typeof compareReportSchema>;

const compareInput = z.object({
  experimentId: idSchema,
  /** Prefiltered case: adversarial confidence at least this (Kurakin et al. use 0.8). */
  prefilterConfidence: z.number().min(0).max(1).default(0.8),
  combine: combineSchema.default('each'),
  /** Leave thumbnails out (smaller answer). */
  thumbnails: z.boolean().default(true),
});

export const compareMethods = {
  'compare.get': { input: compareInput, output: compareReportSchema },
  /**
   * Write the report into the experiment's results/ and return its bytes: CSV, JSON, or a self-contained
   * HTML. CSV `table`: 'rates' or 'cells' alone (one table per file), or 'both': one table whose first
   * column `table` says which rows are which.
   */
  'compare.export': {
    input: compareInput.omit({ thumbnails: true }).extend({ format: z.enum(['csv', 'json', 'html']), table: z.enum(['both', 'rates', 'cells']).default('both') }),
    output: fileBytesSchema.extend({ path: z.string() }),
  },
} as const;
