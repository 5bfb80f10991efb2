import { z } from 'zod';
import { ATTACK_LOSSES } from '../attacks/types.js';

/**
 * How a model in the workspace (or a shipped one) was trained: the `training` record of its
 * foolprint.json, written by `foolprint train` and the project's training scripts. Enough to
 * reproduce the run (method, hyper-parameters, seed, data) and to see at a glance what it reached.
 */
export const trainingRecordSchema = z.strictObject({
  method: z.enum(['plain', 'adversarial', 'distilled']),
  /** e.g. "LeNet 2x (the seed's, 20/40 filters, 100 hidden)". */
  architecture: z.string().min(1),
  epochs: z.number().int().positive(),
  batchSize: z.number().int().positive(),
  learningRate: z.number().positive(),
  seed: z.number().int().nonnegative(),
  /** Distillation: the temperature of teacher and student (deployed at T = 1). */
  temperature: z.number().positive().optional(),
  adversarial: z
    .strictObject({
      attack: z.enum(['pgd', 'fgsm-rs']),
      epsilon: z.number().min(0).max(1),
      steps: z.number().int().positive(),
      stepSize: z.number().positive(),
      adversarialFraction: z.number().min(0).max(1),
      epsilonRampEpochs: z.number().int().nonnegative(),
    })
    .optional(),
  augment: z.boolean(),
  dropout: z.boolean(),
  /** What it was trained on, in words, and how many images. */
  data: z.string().min(1),
  trainCount: z.number().int().nonnegative(),
  /** Fine-tuned from this model instead of trained from a seeded initialisation. */
  baseModel: z.string().optional(),
  /** Accuracies at the end, on `evaluatedOn`. */
  accuracies: z.strictObject({
    evaluatedOn: z.string().min(1),
    clean: z.number().min(0).max(1).nullable(),
    robust: z
      .array(z.strictObject({
        attack: z.string().min(1),
        epsilon: z.number().min(0).max(1),
        steps: z.number().int().nonnegative(),
        restarts: z.number().int().positive(),
        loss: z.enum(ATTACK_LOSSES),
        count: z.number().int().positive(),
        accuracy: z.number().min(0).max(1),
      }))
      .optional(),
  }),
  trainingSeconds: z.number().nonnegative().optional(),
  trainedAt: z.string().optional(),
});
export type TrainingRecord = z.infer<typeof trainingRecordSchema>;
