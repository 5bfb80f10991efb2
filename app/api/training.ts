/**
 * Training defended models (issue 11): plain, adversarial (Madry et al.; FGSM with a random start,
 * Wong et al. 2020, as the cheap inner maximisation) and defensive distillation (Papernot et al.).
 * One job per run; each finished epoch is announced (onTrainingEpoch) for the live chart, a
 * checkpoint is kept per epoch so `training.start` with the same id and settings resumes a run that
 * was cancelled or killed, and the trained model joins models.list.
 */
import { z } from 'zod';
import { idSchema } from './common.js';
import { modelInfoSchema } from './models.js';

/** What to train on: the `mnist` package's training digits (minus the built-in samples), or a dataset on the host. */
export const trainingDataSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('mnist-package') }),
  z.object({ kind: z.literal('dataset'), path: z.string().min(1), offset: z.number().int().nonnegative().default(0), limit: z.number().int().min(1).optional() }),
]);
export type TrainingData = z.input<typeof trainingDataSchema>;

const unitInterval = (what: string) => z.number().min(0, `${what} must be in [0,1] ([0,1] pixel units)`).max(1, `${what} must be in [0,1] ([0,1] pixel units)`);

export const trainingParamsSchema = z
  .object({
    method: z.enum(['plain', 'adversarial', 'distilled']),
    architecture: z.enum(['lenet', 'mlp']).default('lenet'),
    /** LeNet: filters and units ×width (Madry et al.'s capacity); MLP: hidden units 256·width. */
    width: z.number().int().min(1).max(8).default(1),
    /** Fine-tune this model (a Layers model of models.list) instead of a fresh architecture. */
    baseModelId: z.string().min(1).optional(),
    epochs: z.number().int().min(1).max(1000).default(10),
    batchSize: z.number().int().min(1).max(4096).default(64),
    learningRate: z.number().positive().max(1).default(0.002),
    seed: z.number().int().nonnegative().max(2 ** 31).default(1),
    /** Distillation temperature, T > 0 (Papernot et al. use 100 on MNIST). */
    temperature: z.number().positive('temperature T must be > 0').max(1e4).default(100),
    /** Adversarial training: the inner maximisation, its ε, steps and step size (default 2.5ε/steps, fgsm-rs 1.25ε). */
    attack: z.enum(['pgd', 'fgsm-rs']).default('pgd'),
    epsilon: unitInterval('epsilon').default(0.3),
    steps: z.number().int().min(1).max(1000).default(7),
    stepSize: z.number().positive().max(1).optional(),
    /** f in (1 − f)·L(clean) + f·L(adversarial). */
    adversarialFraction: z.number().min(0).max(1).default(1),
    epsilonRampEpochs: z.number().int().nonnegative().default(0),
    augment: z.boolean().default(true),
    dropout: z.boolean().default(true),
    /** Per-epoch evaluation on held-out images: PGD (one restart) at this ε and steps; steps 0 skips the robust figure. */
    evaluation: z
      .object({ count: z.number().int().nonnegative().max(10_000).default(200), epsilon: unitInterval('evaluation.epsilon').default(0.3), steps: z.number().int().nonnegative().max(1000).default(10) })
      .default({ count: 200, epsilon: 0.3, steps: 10 }),
  })
  .superRefine((p, context) => {
    if (p.method === 'adversarial' && p.epsilon === 0) context.addIssue({ code: 'custom', path: ['epsilon'], message: 'adversarial training needs ε > 0' });
  });
export type TrainingParams = z.input<typeof trainingParamsSchema>;

/** One finished epoch (app/defenses/training.ts EpochRecord). */
export const epochRecordSchema = z.object({
  phase: z.enum(['model', 'teacher', 'student']),
  epoch: z.number().int().positive(),
  epochs: z.number().int().positive(),
  learningRate: z.number(),
  loss: z.number(),
  cleanAccuracy: z.number().min(0).max(1).nullable(),
  robustAccuracy: z.number().min(0).max(1).nullable(),
  trainingEpsilon: z.number().optional(),
  seconds: z.number().nonnegative(),
  examplesPerSecond: z.number().nonnegative(),
});
export type EpochRecordInfo = z.infer<typeof epochRecordSchema>;

export const trainingEpochEventSchema = z.object({ jobId: idSchema, modelId: idSchema, record: epochRecordSchema });
export type TrainingEpochEvent = z.infer<typeof trainingEpochEventSchema>;

export const trainingResultSchema = z.object({
  model: modelInfoSchema,
  history: z.array(epochRecordSchema),
  /** Epochs taken from a checkpoint instead of trained in this job. */
  resumedEpochs: z.number().int().nonnegative(),
});
export type TrainingResult = z.infer<typeof trainingResultSchema>;

export const trainingMethods = {
  /** Job: trains a model → TrainingResult; the model is saved in the workspace and listed by models.list. */
  'training.start': {
    input: z.object({
      /** Shown name of the trained model. */
      name: z.string().min(1).max(128),
      /** Its id (a folder name in the workspace); the same id and settings resume from the last checkpoint. */
      id: idSchema.optional(),
      data: trainingDataSchema.default({ kind: 'mnist-package' }),
      params: trainingParamsSchema,
    }),
    output: z.object({ jobId: idSchema, modelId: idSchema }),
  },
} as const;
