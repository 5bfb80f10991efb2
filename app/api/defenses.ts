/**
 * Evaluating defenses (app/defenses): robust accuracy vs ε with the gradient-masking checks, the
 * transfer matrix, and SafetyNet detectors. Each is a job; finished results are also stored in the
 * workspace (`defenses/` for reports, `detectors/<id>/detector.json` for detectors) and listed by
 * `defenses.list`, so the Defenses screen shows them again after a restart.
 */
import { z } from 'zod';
import { idSchema, imageSelectionSchema } from './common.js';
import { ATTACK_LOSSES } from '../attacks/types.js';

/** An input transformation in front of a model (feature squeezing, JPEG, the print-and-photo channel). */
export const inputTransformSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('jpeg'), quality: z.number().int().min(1).max(100) }),
  z.object({ kind: z.literal('bitDepth'), bits: z.number().int().min(1).max(8) }),
  z.object({ kind: z.literal('median'), size: z.number().int().min(2).max(7) }),
  z.object({ kind: z.literal('printPhoto'), seed: z.number().int().nonnegative().default(0) }),
]);

/** A model as evaluated: a model id (models.list), optionally behind an input transformation. */
export const defendedModelSchema = z.object({ modelId: z.string().min(1), transform: inputTransformSchema.optional() });
export type DefendedModel = z.input<typeof defendedModelSchema>;

const epsilonSchema = z.number().min(0).max(1);
const gradientAttackSchema = z.enum(['fgsm', 'bim', 'pgd']);
const detectorAttackSchema = z.enum(['fgsm', 'bim', 'pgd', 'deepfool']);

export const robustnessParamsSchema = z.object({
  models: z.array(defendedModelSchema).min(1).max(8),
  attacks: z.array(detectorAttackSchema).min(1).max(4),
  epsilons: z.array(epsilonSchema).min(1).max(16),
  pgdSteps: z.number().int().min(1).max(1000).default(40),
  pgdRestarts: z.number().int().min(1).max(100).default(1),
  /** The undefended model transfer attacks are crafted on (default: the first model without a transform). */
  surrogateModelId: z.string().min(1).optional(),
  /** Accuracy gap that raises the masking flag. */
  maskingTolerance: z.number().min(0).max(1).default(0.1),
  seed: z.number().int().nonnegative().default(0),
});
export type RobustnessParams = z.input<typeof robustnessParamsSchema>;

export const transferParamsSchema = z.object({
  models: z.array(defendedModelSchema).min(2).max(8),
  attack: gradientAttackSchema,
  epsilon: epsilonSchema,
  loss: z.enum(ATTACK_LOSSES).default('ce'),
  pgdSteps: z.number().int().min(1).max(1000).default(40),
  pgdRestarts: z.number().int().min(1).max(100).default(1),
  seed: z.number().int().nonnegative().default(0),
});
export type TransferParams = z.input<typeof transferParamsSchema>;

export const detectorParamsSchema = z.object({
  modelId: z.string().min(1),
  /** A late ReLU layer's name (default: the last one before the output). */
  layer: z.string().min(1).optional(),
  quantisation: z.enum(['binary', 'quaternary']).default('quaternary'),
  trainAttack: detectorAttackSchema.default('fgsm'),
  epsilon: z.number().gt(0).max(1),
  /** More attacks to evaluate on (held-out images); the training attack is always evaluated. */
  evaluate: z.array(z.object({ attack: detectorAttackSchema, epsilon: z.number().gt(0).max(1) })).max(8).default([]),
  falsePositiveRate: z.number().min(0).lt(1).default(0.05),
  gamma: z.number().positive().optional(),
  cost: z.number().positive().optional(),
  seed: z.number().int().nonnegative().default(0),
});
export type DetectorParams = z.input<typeof detectorParamsSchema>;

const curveSchema = z.object({
  attack: detectorAttackSchema,
  view: z.enum(['ce', 'margin', 'transfer', 'bpda-ce', 'bpda-margin', 'deepfool']),
  accuracy: z.array(z.number()),
});

export const robustnessReportSchema = z.object({
  reportId: idSchema,
  createdAt: z.string(),
  epsilons: z.array(z.number()),
  count: z.number().int().nonnegative(),
  surrogateId: z.string().nullable(),
  models: z.array(
    z.object({
      id: z.string(),
      title: z.string(),
      cleanAccuracy: z.number(),
      /** The undefended surrogate's clean accuracy minus this model's (null without a surrogate). */
      cleanAccuracyCost: z.number().nullable(),
      curves: z.array(curveSchema),
      robust: z.array(z.object({ attack: detectorAttackSchema, accuracy: z.array(z.number()) })),
      masking: z.object({ suspected: z.boolean(), reasons: z.array(z.string()) }),
    }),
  ),
  durationMs: z.number().nonnegative(),
});
export type RobustnessReportInfo = z.infer<typeof robustnessReportSchema>;

export const transferReportSchema = z.object({
  reportId: idSchema,
  createdAt: z.string(),
  attack: gradientAttackSchema,
  epsilon: z.number(),
  loss: z.enum(ATTACK_LOSSES),
  count: z.number().int().nonnegative(),
  models: z.array(z.object({ id: z.string(), title: z.string() })),
  cleanAccuracy: z.array(z.number()),
  /** accuracy[source][target]. */
  accuracy: z.array(z.array(z.number())),
  durationMs: z.number().nonnegative(),
});
export type TransferReportInfo = z.infer<typeof transferReportSchema>;

/** A protected model's counts (app/eval/rejections.ts): accepted right, accepted wrong, rejected by its detector. */
export const protectedCountsSchema = z.object({ correct: z.number().int().nonnegative(), wrong: z.number().int().nonnegative(), rejected: z.number().int().nonnegative() });

/** A trained detector as listed (detector.json without its SVM and codebook). */
export const detectorInfoSchema = z.object({
  detectorId: idSchema,
  createdAt: z.string(),
  folder: z.string(),
  modelId: z.string(),
  layer: z.string(),
  units: z.number().int().positive(),
  quantisation: z.enum(['binary', 'quaternary']),
  gamma: z.number(),
  cost: z.number(),
  train: z.object({ attack: detectorAttackSchema, epsilon: z.number(), clean: z.number().int(), adversarial: z.number().int() }),
  threshold: z.number(),
  falsePositiveRate: z.number(),
  evaluations: z.array(
    z.object({
      attack: detectorAttackSchema,
      epsilon: z.number(),
      clean: z.number().int(),
      adversarial: z.number().int(),
      auc: z.number().nullable(),
      tprAt5: z.number().nullable(),
      fprAt5: z.number().nullable(),
      protected: z.object({ clean: protectedCountsSchema, adversarial: protectedCountsSchema }),
    }),
  ),
});
export type DetectorInfo = z.infer<typeof detectorInfoSchema>;

export const defensesMethods = {
  /** Job: robust accuracy vs ε of each model under each attack, CE / margin / transfer / BPDA → RobustnessReportInfo. */
  'defenses.robustness': { input: z.object({ images: imageSelectionSchema, params: robustnessParamsSchema }), output: z.object({ jobId: idSchema }) },
  /** Job: the transfer matrix (craft on the row's model, classify with the column's) → TransferReportInfo. */
  'defenses.transfer': { input: z.object({ images: imageSelectionSchema, params: transferParamsSchema }), output: z.object({ jobId: idSchema }) },
  /** Job: train a SafetyNet detector on half the images, evaluate on the other half, store it → DetectorInfo. */
  'defenses.detect': { input: z.object({ images: imageSelectionSchema, params: detectorParamsSchema }), output: z.object({ jobId: idSchema }) },
  /** Stored reports and detectors, newest first. */
  'defenses.list': {
    input: z.object({}).strict().optional(),
    output: z.object({ robustness: z.array(robustnessReportSchema), transfer: z.array(transferReportSchema), detectors: z.array(detectorInfoSchema) }),
  },
} as const;
