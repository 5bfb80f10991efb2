import { z } from 'zod';
import { idSchema, imageSelectionSchema, predictionSchema } from './common.js';
import { protectedCountsSchema } from './defenses.js';
import { adversarialViewSchema } from '../experiments/attack-record.js';
import { ATTACK_LOSSES, ATTACK_METHODS, EOT_KEEPS, MAX_MOMENTUM, MAX_SURVIVAL_DRAWS } from '../attacks/types.js';
import { channelProfileSchema } from '../physical/channel-profile.js';

/**
 * Attack parameters as the UI sends them: app/attacks/types.ts `AttackOptions` minus what is data
 * (images, labels) or internal (batchSize, indexOffset, keepImages). ε is in [0,1] pixel units; the UI
 * converts from levels/255.
 */
export const attackParamsSchema = z.object({
  method: z.enum(ATTACK_METHODS),
  epsilons: z.array(z.number().min(0).max(1)).min(1).max(64),
  loss: z.enum(ATTACK_LOSSES).optional(),
  stepSize: z.number().positive().max(1).optional(),
  /** Bounds the work of one run (steps × restarts × ε × images) so a typo like 1e9 is refused, not run for days. */
  steps: z.number().int().min(1).max(10_000).optional(),
  norm: z.enum(['linf', 'l2']).optional(),
  restarts: z.number().int().min(1).max(100).optional(),
  randomStart: z.boolean().optional(),
  /** DeepFool's η: 0.02 in the paper; 1 already doubles every step, larger only overshoots into noise. */
  overshoot: z.number().nonnegative().max(1).optional(),
  maxIterations: z.number().int().min(1).max(10_000).optional(),
  /** Classes DeepFool linearises per step; more than the model has is clipped, 1000 covers ImageNet. */
  candidates: z.number().int().min(2).max(1000).optional(),
  seed: z.number().int().nonnegative().optional(),
  /** BIM, LL, PGD: momentum μ (MI-FGSM, Dong et al. 2018; 1 in the paper); absent or 0: none. */
  momentum: z.number().min(0).max(MAX_MOMENTUM).optional(),
  /** Targeted attack towards this class for every image (FGSM/BIM/PGD); omit for untargeted. */
  targetClass: z.number().int().nonnegative().optional(),
  /**
   * "Robust to print" (BIM, LL, PGD): Expectation over Transformation with `samples` draws of the
   * print-and-photo channel per step (each step costs about `samples` forward and backward passes);
   * the channel is a calibrated profile, or the default one when left out.
   */
  eot: z
    .object({
      samples: z.number().int().min(1).max(1024),
      channel: channelProfileSchema.optional(),
      /** Printed size of a cell's longer side in mm (default 30, the sheet's default cell). */
      cellMm: z.number().positive().max(1000).optional(),
      /** Loss 'margin': each draw's logit margin capped at κ (Carlini & Wagner's confidence). */
      confidence: z.number().nonnegative().max(1000).optional(),
      /** Which iterate is returned: the last, or per image the one most often adversarial under its draws. */
      keep: z.enum(EOT_KEEPS).optional(),
      /** Up to this many more steps for the examples that fool the model but not all their draws, each until all of a step's draws do. */
      refine: z.number().int().min(0).max(10_000).optional(),
    })
    .optional(),
  /**
   * Estimate each example's print survival: the share of `draws` fresh print-and-photo transformations
   * (the EOT channel where EOT runs, else `channel` or the default) its 8-bit image stays adversarial
   * under. Any method; costs `draws` forward passes per image and ε.
   */
  survival: z
    .object({
      draws: z.number().int().min(1).max(MAX_SURVIVAL_DRAWS),
      channel: channelProfileSchema.optional(),
      cellMm: z.number().positive().max(1000).optional(),
    })
    .optional(),
});
export type AttackParams = z.input<typeof attackParamsSchema>;

const viewSummarySchema = z.object({
  /** Fraction of images classified correctly after the attack (top-1). */
  accuracy: z.number(),
  successRate: z.number(),
  meanLinf: z.number(),
  meanL2: z.number(),
  /** A protected model: what it accepted right, accepted wrong and rejected (detections) of these images, apart from `accuracy`. */
  protected: protectedCountsSchema.optional(),
  /** With a survival estimate (8-bit view): mean print survival over the clean-correct images the attack fooled. */
  meanSurvival: z.number().min(0).max(1).optional(),
});

/** One ε of a run or a sweep: float and 8-bit quantized (as saved and printed). */
export const epsilonSummarySchema = z.object({
  epsilon: z.number(),
  float: viewSummarySchema,
  quantized: viewSummarySchema,
  /** Iterative methods: the steps and step size α really run at this ε (BIM's default differs per ε). Absent in runs stored before they were recorded. */
  steps: z.number().int().positive().optional(),
  /** 0 for FGSM and PGD at ε = 0 (their step is a fraction of ε). */
  stepSize: z.number().nonnegative().optional(),
});
export type EpsilonSummary = z.infer<typeof epsilonSummarySchema>;

/** A finished attack run stored in an experiment (the attack job's result). */
export const attackRunSchema = z.object({
  runId: idSchema,
  experimentId: idSchema,
  modelId: z.string(),
  method: z.enum(ATTACK_METHODS),
  /** The options as really run, defaults filled in. */
  options: z.record(z.string(), z.unknown()),
  epsilons: z.array(z.number()),
  count: z.number().int().nonnegative(),
  createdAt: z.string(),
  /** Clean top-1 accuracy on the attacked images. */
  cleanAccuracy: z.number(),
  /** A protected model: its counts on the clean images (rejected = false positives). */
  cleanProtected: protectedCountsSchema.optional(),
  perEpsilon: z.array(epsilonSummarySchema),
  durationMs: z.number().nonnegative(),
});
export type AttackRun = z.infer<typeof attackRunSchema>;

const galleryViewSchema = adversarialViewSchema;

/** One image of a run: original, and per ε the adversarial image and its amplified perturbation. */
export const galleryItemSchema = z.object({
  index: z.number().int().nonnegative(),
  imageId: z.string(),
  label: z.number().int(),
  target: z.number().int().nullable(),
  clean: z.object({ png: z.string(), top5: z.array(predictionSchema) }),
  adversarial: z.array(
    z.object({
      epsilon: z.number(),
      /** data:image/png;base64,... (8-bit, exactly the saved file). */
      png: z.string(),
      /** The perturbation amplified to the full grey range (0.5 = no change). */
      perturbationPng: z.string(),
      /** How many times perturbationPng magnifies each pixel's change (1/(2ε); DeepFool 1/(2‖δ‖∞)). */
      amplification: z.number().positive(),
      float: galleryViewSchema,
      quantized: galleryViewSchema,
    }),
  ),
});
export type GalleryItem = z.infer<typeof galleryItemSchema>;

export const galleryPageSchema = z.object({
  run: attackRunSchema,
  labels: z.array(z.string()),
  total: z.number().int().nonnegative(),
  items: z.array(galleryItemSchema),
});
export type GalleryPage = z.infer<typeof galleryPageSchema>;

export const attacksMethods = {
  /** Job: run an attack on a selection and store it in the experiment → AttackRun. */
  'attacks.start': {
    input: z.object({ experimentId: idSchema, modelId: z.string().min(1), images: imageSelectionSchema, params: attackParamsSchema }),
    output: z.object({ jobId: idSchema }),
  },
  'attacks.list': { input: z.object({ experimentId: idSchema }), output: z.array(attackRunSchema) },
  'attacks.gallery': {
    input: z.object({
      experimentId: idSchema,
      runId: idSchema,
      offset: z.number().int().nonnegative().default(0),
      limit: z.number().int().min(1).max(500).default(24),
    }),
    output: galleryPageSchema,
  },
} as const;
