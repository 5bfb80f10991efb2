import { z } from 'zod';
import { idSchema, noInputSchema } from './common.js';

/**
 * An experiment folder in the workspace. `state`: 'ready'; 'running' while a job writes into it;
 * 'interrupted' when the app stopped while a job was writing into it (what was written before is
 * kept); 'corrupt' when its manifest cannot be read (reported and left untouched).
 */
export const experimentInfoSchema = z.object({
  id: idSchema,
  name: z.string(),
  modelId: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  state: z.enum(['ready', 'running', 'interrupted', 'corrupt']),
  /** Why it is interrupted or corrupt; null when ready. */
  message: z.string().nullable(),
  folder: z.string(),
  counts: z.object({ attacks: z.number().int(), sheets: z.number().int(), captures: z.number().int() }),
});
export type ExperimentInfo = z.infer<typeof experimentInfoSchema>;

export const experimentsMethods = {
  'experiments.list': { input: noInputSchema, output: z.array(experimentInfoSchema) },
  'experiments.create': { input: z.object({ name: z.string().min(1).max(200), modelId: z.string().min(1).optional() }), output: experimentInfoSchema },
  'experiments.get': { input: z.object({ experimentId: idSchema }), output: experimentInfoSchema },
} as const;
