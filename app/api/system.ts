import { z } from 'zod';
import { idSchema, noInputSchema } from './common.js';

export const jobKindSchema = z.enum(['attack', 'sweep', 'evaluate', 'sheetExport', 'photoAnalysis', 'calibration', 'training', 'robustness', 'transfer', 'detector']);
export type JobKind = z.infer<typeof jobKindSchema>;

export const jobStatusSchema = z.enum(['running', 'succeeded', 'failed', 'cancelled']);
export type JobStatus = z.infer<typeof jobStatusSchema>;

export const jobInfoSchema = z.object({
  jobId: idSchema,
  kind: jobKindSchema,
  status: jobStatusSchema,
  label: z.string(),
  /** The experiment the job works in (attack, sweep, sheet export, photo analysis), so a reloaded UI finds its running jobs again. */
  experimentId: idSchema.nullable().optional(),
  done: z.number().nonnegative(),
  total: z.number().nonnegative(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  /** One-line message when failed or cancelled. */
  error: z.string().nullable(),
  /** The job's result when succeeded: AttackRun, SweepResult, Evaluation, SheetSet or CaptureInfo by kind. */
  result: z.unknown().optional(),
});
export type JobInfo = z.infer<typeof jobInfoSchema>;

export const systemInfoSchema = z.object({
  version: z.string(),
  /** Which host serves the API. */
  host: z.enum(['electron', 'browser', 'direct']),
  workspaceDir: z.string(),
  /** Backend of the opened compute pools (null before any model is opened). */
  backend: z.string().nullable(),
  workers: z.number().int().nullable(),
});
export type SystemInfo = z.infer<typeof systemInfoSchema>;

export const systemMethods = {
  'system.info': { input: noInputSchema, output: systemInfoSchema },
  'jobs.list': { input: noInputSchema, output: z.array(jobInfoSchema) },
  'jobs.get': { input: z.object({ jobId: idSchema }), output: jobInfoSchema },
  /** Cancel a running job; `cancelled` is false when it had already finished. */
  'jobs.cancel': { input: z.object({ jobId: idSchema }), output: z.object({ cancelled: z.boolean() }) },
} as const;
