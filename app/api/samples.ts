import { z } from 'zod';
import { imageSelectionSchema, noInputSchema } from './common.js';

/** One image of a selection, as a small PNG for the picker. */
export const sampleImageSchema = z.object({
  index: z.number().int().nonnegative(),
  imageId: z.string(),
  label: z.number().int(),
  /** data:image/png;base64,... at the model's input size. */
  png: z.string(),
});
export type SampleImage = z.infer<typeof sampleImageSchema>;

export const samplePageSchema = z.object({
  /** Images in the whole selection. */
  count: z.number().int().nonnegative(),
  shape: z.tuple([z.number().int(), z.number().int(), z.number().int()]),
  classNames: z.array(z.string()).nullable(),
  /** What the loader did (e.g. "resized 64x64 to 28x28"). */
  notes: z.array(z.string()),
  items: z.array(sampleImageSchema),
});
export type SamplePage = z.infer<typeof samplePageSchema>;

/** Datasets kept in the workspace: each entry of its datasets/ folder (an MNIST IDX folder or file, a folder of labelled images). */
export const workspaceDatasetsSchema = z.object({
  /** The workspace's datasets/ folder, where a dataset is put to be offered here. */
  folder: z.string(),
  datasets: z.array(z.object({ name: z.string(), path: z.string() })),
});
export type WorkspaceDatasets = z.infer<typeof workspaceDatasetsSchema>;

export const samplesMethods = {
  /** The datasets in the workspace (chosen as a `dataset` selection by their path). */
  'samples.datasets': { input: noInputSchema, output: workspaceDatasetsSchema },
  /** Preview a selection of images (built-in samples, a dataset path, uploaded files) at a model's input size. */
  'samples.list': {
    input: z.object({
      modelId: z.string().min(1),
      images: imageSelectionSchema,
      /** Page through the preview: images [offset, offset+limit) of the selection. */
      offset: z.number().int().nonnegative().default(0),
      limit: z.number().int().positive().max(1000).default(48),
    }),
    output: samplePageSchema,
  },
} as const;
