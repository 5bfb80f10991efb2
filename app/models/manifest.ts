import { z } from 'zod';
import { closestName } from '../closest-name.js';
import { trainingRecordSchema } from './training-record.js';

/**
 * `foolprint.json`, the small manifest beside a TF.js model.json: what the model file cannot say.
 * Gradients are always taken w.r.t. images in [0,1]; `preprocessing` maps [0,1] pixels to what the
 * model was trained on.
 */
export const preprocessingSchema = z.discriminatedUnion('kind', [
  /** Pixels as they are, in [0,1]. */
  z.strictObject({ kind: z.literal('unit') }),
  /** 2·x − 1, in [-1,1] (MobileNet, Inception). */
  z.strictObject({ kind: z.literal('symmetric') }),
  /** x·255, in [0,255]. */
  z.strictObject({ kind: z.literal('byte') }),
  /** (x − mean) / std per channel, mean and std in [0,1] units (torchvision style). */
  z.strictObject({ kind: z.literal('meanStd'), mean: z.array(z.number()).min(1), std: z.array(z.number().positive()).min(1) }),
]);
export type Preprocessing = z.infer<typeof preprocessingSchema>;

/**
 * Strict: a misspelt key ("lables", "preprocesing") would otherwise be dropped in silence and its
 * default used, which gives plausible wrong numbers. Unknown keys are named, with the nearest known one.
 */
export const modelManifestSchema = z.strictObject({
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
  /**
   * Suggested ε list, [0,1] pixel units (gradients are taken w.r.t. the image in [0,1] whatever the
   * preprocessing): what the Attack screen starts with for this model. MNIST's digits need far more
   * than ImageNet photos' 2-16 grey levels: Goodfellow et al. use 0.1-0.3.
   */
  epsilons: z.array(z.number().min(0).max(1)).min(1).max(64).optional(),
  /** How the model was trained, when the lab trained it (`foolprint train`, scripts/train-defended.ts). */
  training: trainingRecordSchema.optional(),
});
export type ModelManifest = z.infer<typeof modelManifestSchema>;

/** Keys each preprocessing kind takes. */
function preprocessingKeys(raw: unknown): string[] {
  const kind = (raw as { preprocessing?: { kind?: unknown } } | null)?.preprocessing?.kind;
  return kind === 'meanStd' ? ['kind', 'mean', 'std'] : ['kind'];
}

/** A key as written, quoted and escaped (no raw control characters), cut to a readable length. */
function quotedKey(key: string): string {
  return JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}…` : key);
}

/**
 * What is wrong with a foolprint.json (`raw`, as parsed from JSON), one clause per problem: each bad
 * field or unknown key named, an unknown key with the nearest known one.
 */
export function describeManifestIssues(error: z.ZodError, raw: unknown): string {
  return error.issues
    .map((issue) => {
      const where = issue.path.map(String).join('.');
      if (issue.code === 'unrecognized_keys') {
        const known =
          issue.path.length === 0
            ? Object.keys(modelManifestSchema.shape)
            : issue.path[0] === 'training'
              ? Object.keys(issue.path.length === 1 ? trainingRecordSchema.shape : (trainingRecordSchema.shape[issue.path[1] as 'adversarial'].unwrap()?.shape ?? {}))
              : preprocessingKeys(raw);
        return issue.keys
          .map((key) => {
            const suggestion = closestName(key, known);
            return `unknown key ${quotedKey(key)}${where ? ` in "${where}"` : ''} (${suggestion ? `did you mean "${suggestion}"?` : `known keys: ${known.join(', ')}`})`;
          })
          .join('; ');
      }
      return `field "${where || '(root)'}": ${issue.message}`;
    })
    .join('; ');
}

/** Kurakin et al.'s ε for ImageNet photos: 2, 4, 8, 16 grey levels. */
export const PHOTO_EPSILONS: readonly number[] = [2, 4, 8, 16].map((levels) => levels / 255);
/** Goodfellow et al.'s MNIST budgets, where 8 levels changes almost nothing. */
export const DIGIT_EPSILONS: readonly number[] = [0.1, 0.2, 0.3];

/**
 * The ε list to start with for a model: its manifest's own, else by what its inputs look like. Small
 * single-channel images (MNIST-like, ≤ 32×32 grey) take MNIST's budgets, anything else photos'.
 */
export function suggestedEpsilons(manifest: Pick<ModelManifest, 'epsilons' | 'inputSize' | 'channels'>): number[] {
  if (manifest.epsilons) return [...manifest.epsilons];
  const digitLike = manifest.channels === 1 && manifest.inputSize[0] <= 32 && manifest.inputSize[1] <= 32;
  return [...(digitLike ? DIGIT_EPSILONS : PHOTO_EPSILONS)];
}
