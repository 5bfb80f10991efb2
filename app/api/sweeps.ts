import { z } from 'zod';
import { idSchema, imageSelectionSchema } from './common.js';
import { attackParamsSchema, epsilonSummarySchema } from './attacks.js';
import { protectedCountsSchema } from './defenses.js';

/** Accuracy vs ε (the seed's table): the sweep job's result. Images are not kept. */
export const sweepResultSchema = z.object({
  modelId: z.string(),
  method: z.enum(['fgsm', 'bim', 'll', 'pgd', 'deepfool']),
  count: z.number().int().nonnegative(),
  cleanAccuracy: z.number(),
  /** A protected model: its counts on the clean images (rejected = false positives). */
  cleanProtected: protectedCountsSchema.optional(),
  perEpsilon: z.array(epsilonSummarySchema),
  durationMs: z.number().nonnegative(),
});
export type SweepResult = z.infer<typeof sweepResultSchema>;

export const sweepsMethods = {
  /** Job: accuracy per ε, float and quantized → SweepResult (stored in the experiment's results/ when experimentId is given). */
  'sweeps.start': {
    input: z.object({ experimentId: idSchema.optional(), modelId: z.string().min(1), images: imageSelectionSchema, params: attackParamsSchema }),
    output: z.object({ jobId: idSchema }),
  },
} as const;
