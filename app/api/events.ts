import { z } from 'zod';
import { idSchema } from './common.js';
import { analysisStatusSchema } from './capture.js';
import { jobKindSchema, jobStatusSchema } from './system.js';
import { trainingEpochEventSchema } from './training.js';

/** Progress of a long job: `done` of `total` units (image-steps, pages, ...) and what is being done. */
export const progressEventSchema = z.object({ jobId: idSchema, done: z.number().nonnegative(), total: z.number().nonnegative(), label: z.string() });
export type ProgressEvent = z.infer<typeof progressEventSchema>;

/** A job ended: succeeded (with its result), failed (one-line error) or cancelled. */
export const jobFinishedEventSchema = z.object({
  jobId: idSchema,
  kind: jobKindSchema,
  status: jobStatusSchema.exclude(['running']),
  error: z.string().nullable(),
  result: z.unknown().optional(),
});
export type JobFinishedEvent = z.infer<typeof jobFinishedEventSchema>;

/** A still or imported photo was analysed and stored. */
export const frameAnalyzedEventSchema = z.object({
  experimentId: idSchema,
  captureId: idSchema,
  status: analysisStatusSchema,
  message: z.string(),
});
export type FrameAnalyzedEvent = z.infer<typeof frameAnalyzedEventSchema>;

/** Event name → payload schema. The API object exposes each as `on<Name>` (onProgress, onJobFinished, onFrameAnalyzed). */
export const apiEvents = {
  progress: progressEventSchema,
  jobFinished: jobFinishedEventSchema,
  frameAnalyzed: frameAnalyzedEventSchema,
  /** A training job finished an epoch (loss, clean and robust accuracy). */
  trainingEpoch: trainingEpochEventSchema,
} as const;
export type ApiEventName = keyof typeof apiEvents;
export type ApiEventPayload<E extends ApiEventName> = z.output<(typeof apiEvents)[E]>;
export const API_EVENT_NAMES = Object.keys(apiEvents) as ApiEventName[];
