import { z } from 'zod';
import { sheetManifestSchema } from '../physical/sheet-manifest.js';
import { base64Schema, fileBytesSchema, idSchema, predictionSchema } from './common.js';

/**
 * Live view: the renderer detects markers and rectifies cells itself (pure app/physical + OpenCV.js)
 * and sends only the crops, so this call is direct (no job) and small: 24 MNIST crops are 75 kB.
 */
export const classifyCropsInputSchema = z.object({
  modelId: z.string().min(1),
  /** NHWC pixels, base64 of a little-endian Float32Array in [0,1] or a Uint8Array 0..255. */
  crops: base64Schema,
  dtype: z.enum(['float32', 'uint8']).default('float32'),
  count: z.number().int().nonnegative().max(4096),
  height: z.number().int().positive(),
  width: z.number().int().positive(),
  channels: z.union([z.literal(1), z.literal(3)]),
});
export type ClassifyCropsInput = z.input<typeof classifyCropsInputSchema>;

export const classifyCropsOutputSchema = z.object({
  /** Per crop, its top-5 (fewer when the model has fewer classes). */
  top5: z.array(z.array(predictionSchema)),
  ms: z.number().nonnegative(),
});
export type ClassifyCropsOutput = z.infer<typeof classifyCropsOutputSchema>;

/** A still taken from the live camera, or a photo file the user imported. */
export const captureSourceSchema = z.enum(['camera', 'file']);

export const analysisStatusSchema = z.enum(['ok', 'partial', 'no-sheet', 'unknown-sheet', 'too-few-markers', 'several-sheets']);

/** One analysed still or imported photo, stored in the experiment's captures/ (the analysis job's result). */
export const captureInfoSchema = z.object({
  captureId: idSchema,
  experimentId: idSchema,
  createdAt: z.string(),
  fileName: z.string(),
  /** Captures stored before this field are photo files. */
  source: captureSourceSchema.default('file'),
  status: analysisStatusSchema,
  /** One line for people: what was found, what is missing. */
  message: z.string(),
  sheetId: z.string().nullable(),
  /** Cells of the sheet, and how many of them were analysed (inside the frame, classified). */
  cellCount: z.number().int().nonnegative(),
  analysedCells: z.number().int().nonnegative(),
  missingMarkers: z.array(z.object({ id: z.number().int(), pageCorner: z.enum(['TL', 'TR', 'BR', 'BL']) })),
  reprojectionErrorPx: z.number().nullable(),
  warnings: z.array(z.string()),
});
export type CaptureInfo = z.infer<typeof captureInfoSchema>;

export const captureMethods = {
  /** The sheet manifests of an experiment's exported sheets, for the renderer's live marker detection. */
  'capture.manifests': { input: z.object({ experimentId: idSchema }), output: z.array(sheetManifestSchema) },
  'capture.classifyCrops': { input: classifyCropsInputSchema, output: classifyCropsOutputSchema },
  /** Job: analyse a still or an imported photo (JPEG/PNG, EXIF orientation honoured) against the experiment's sheets → CaptureInfo. */
  'capture.analyzePhoto': {
    input: z.object({ experimentId: idSchema, modelId: z.string().min(1).optional(), photo: fileBytesSchema, source: captureSourceSchema.default('file') }),
    output: z.object({ jobId: idSchema }),
  },
  'capture.list': { input: z.object({ experimentId: idSchema }), output: z.array(captureInfoSchema) },
  'capture.delete': { input: z.object({ experimentId: idSchema, captureId: idSchema }), output: z.object({ deleted: z.boolean() }) },
} as const;
