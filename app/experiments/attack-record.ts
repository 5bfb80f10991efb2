import { z } from 'zod';
import { predictionSchema } from '../api/common.js';

/**
 * `record.json`, written by `foolprint attack` beside the PNGs it saves: per image, the clean and
 * adversarial predictions (float and as saved to 8-bit PNG) and the file names. Sheets are laid out
 * from it, and the physical analysis links every printed cell back to its row here.
 */
const prediction = predictionSchema;

/** One view (float, or as saved to 8 bits) of an adversarial image: what the record and the gallery show. */
export const adversarialViewSchema = z.object({
  top5: z.array(prediction),
  success: z.boolean(),
  linf: z.number(),
  l2: z.number(),
  /** Attacked through a protected model: its detector refused this image. */
  rejected: z.boolean().optional(),
  /** 8-bit view of a run with a survival estimate: the share of sampled print-and-photo transformations it stays adversarial under. */
  survival: z.number().min(0).max(1).optional(),
});

export const attackRecordSchema = z.object({
  schemaVersion: z.literal(1),
  createdAt: z.string(),
  model: z.object({
    id: z.string(),
    inputShape: z.tuple([z.number().int(), z.number().int(), z.number().int()]),
    labels: z.array(z.string()),
  }),
  dataset: z.string(),
  method: z.enum(['fgsm', 'bim', 'll', 'pgd', 'deepfool']),
  /** The attack options as run, with defaults filled in (targets left out: they are per image below). */
  options: z.record(z.string(), z.unknown()),
  epsilons: z.array(z.number()),
  images: z.array(
    z.object({
      index: z.number().int(),
      id: z.string(),
      label: z.number().int(),
      target: z.number().int().optional(),
      clean: z.object({ file: z.string(), top5: z.array(prediction), rejected: z.boolean().optional() }),
      adversarial: z.array(
        z.object({
          epsilon: z.number(),
          file: z.string(),
          perturbationFile: z.string(),
          float: adversarialViewSchema,
          quantized: adversarialViewSchema,
        }),
      ),
    }),
  ),
});
export type AttackRecord = z.infer<typeof attackRecordSchema>;

export function parseAttackRecord(json: unknown, source = 'record.json'): AttackRecord {
  const parsed = attackRecordSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${source} is not a Foolprint attack record: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}

/** File names inside an attack folder, one scheme for the writer and every reader. */
export const attackFileNames = {
  clean: (index: number) => `clean-${index}.png`,
  adversarial: (epsilon: number, index: number) => `adv-${epsilonTag(epsilon)}-${index}.png`,
  perturbation: (epsilon: number, index: number) => `pert-${epsilonTag(epsilon)}-${index}.png`,
};

/** ε as pixel levels when it is a whole number of levels (0.0314 → "8of255"), else its decimal. */
export function epsilonTag(epsilon: number): string {
  const levels = epsilon * 255;
  return Math.abs(levels - Math.round(levels)) < 1e-6 ? `${Math.round(levels)}of255` : String(epsilon);
}
