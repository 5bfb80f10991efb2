import { z } from 'zod';

/**
 * `foolprint.json`, the small manifest beside a TF.js model.json: what the model file cannot say.
 * Gradients are always taken w.r.t. images in [0,1]; `preprocessing` maps [0,1] pixels to what the
 * model was trained on.
 */
export const preprocessingSchema = z.discriminatedUnion('kind', [
  /** Pixels as they are, in [0,1]. */
  z.object({ kind: z.literal('unit') }),
  /** 2·x − 1, in [-1,1] (MobileNet, Inception). */
  z.object({ kind: z.literal('symmetric') }),
  /** x·255, in [0,255]. */
  z.object({ kind: z.literal('byte') }),
  /** (x − mean) / std per channel, mean and std in [0,1] units (torchvision style). */
  z.object({ kind: z.literal('meanStd'), mean: z.array(z.number()).min(1), std: z.array(z.number().positive()).min(1) }),
]);
export type Preprocessing = z.infer<typeof preprocessingSchema>;

export const modelManifestSchema = z.object({
  schemaVersion: z.literal(1),
  name: z.string().min(1),
  description: z.string().optional(),
  format: z.enum(['layers', 'graph']).optional(),
  inputSize: z.tuple([z.number().int().positive(), z.number().int().positive()]),
  channels: z.union([z.literal(1), z.literal(3)]),
  preprocessing: preprocessingSchema.default({ kind: 'unit' }),
  channelOrder: z.enum(['RGB', 'BGR']).default('RGB'),
  /** Whether the model's output is logits or probabilities (softmax). */
  outputs: z.enum(['logits', 'probabilities']).default('logits'),
  labels: z.array(z.string()).min(2),
});
export type ModelManifest = z.infer<typeof modelManifestSchema>;
