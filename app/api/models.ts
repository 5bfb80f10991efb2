import { z } from 'zod';
import { idSchema, imageSelectionSchema, noInputSchema } from './common.js';

/** A model the service can use: built-in, or a TF.js folder imported from disk. */
export const modelInfoSchema = z.object({
  /** Built-in id (e.g. "lenet-mnist") or the id given to an imported folder. */
  id: z.string().min(1),
  name: z.string(),
  description: z.string().optional(),
  source: z.enum(['builtin', 'imported']),
  /** Folder on the host holding model.json + foolprint.json. */
  folder: z.string(),
  /** [height, width, channels] of the images the model takes. */
  inputShape: z.tuple([z.number().int().positive(), z.number().int().positive(), z.number().int().positive()]),
  labels: z.array(z.string()),
  /** The TF.js backend of the model's compute pool, once it has been opened (e.g. "wasm"). */
  backend: z.string().nullable(),
});
export type ModelInfo = z.infer<typeof modelInfoSchema>;

/** Clean accuracy of a model on a dataset (the evaluate job's result). */
export const evaluationSchema = z.object({
  modelId: z.string(),
  count: z.number().int().nonnegative(),
  top1: z.number().min(0).max(1),
  top5: z.number().min(0).max(1),
  notes: z.array(z.string()),
});
export type Evaluation = z.infer<typeof evaluationSchema>;

export const modelsMethods = {
  'models.list': { input: noInputSchema, output: z.array(modelInfoSchema) },
  /** Import a folder with model.json + foolprint.json (checked by loading it once); returns its info. */
  'models.import': { input: z.object({ path: z.string().min(1), id: idSchema.optional() }), output: modelInfoSchema },
  /** Job: clean top-1/top-5 accuracy on a dataset → Evaluation. */
  'models.evaluate': { input: z.object({ modelId: z.string().min(1), images: imageSelectionSchema }), output: z.object({ jobId: idSchema }) },
} as const;
