/**
 * detector.json, as `foolprint detect --out` and the defenses.detect job store it: how the detector
 * was made, and what screening inputs again needs (the layer, the codebook, the SVM and the threshold
 * of the protected model's operating point). Read back to make a protected model of its model.
 */
import { z } from 'zod';
import { DETECTOR_ATTACKS, DetectorError } from './safetynet.js';
import type { DetectorScreen } from './safetynet.js';

const finite = z.number().finite();

export const storedDetectorSchema = z
  .object({
    schemaVersion: z.literal(1),
    createdAt: z.string().optional(),
    /** The model the detector was trained on: the one it protects. */
    modelId: z.string().min(1),
    layer: z.string().min(1),
    units: z.number().int().positive(),
    quantisation: z.enum(['binary', 'quaternary']),
    train: z.object({ attack: z.enum(DETECTOR_ATTACKS), epsilon: finite }),
    threshold: finite,
    falsePositiveRate: finite,
    codebook: z.object({ quantisation: z.enum(['binary', 'quaternary']), units: z.number().int().positive(), thresholds: z.array(z.array(finite)) }),
    svm: z.string().min(1),
  })
  .superRefine((d, context) => {
    const levels = d.quantisation === 'binary' ? 1 : 3;
    if (d.codebook.quantisation !== d.quantisation) context.addIssue({ code: 'custom', path: ['codebook', 'quantisation'], message: `is ${d.codebook.quantisation} but the detector is ${d.quantisation}` });
    if (d.codebook.units !== d.units || d.codebook.thresholds.length !== d.units) context.addIssue({ code: 'custom', path: ['codebook', 'thresholds'], message: `needs one row per unit (${d.units})` });
    const bad = d.codebook.thresholds.findIndex((row) => row.length !== levels);
    if (bad >= 0) context.addIssue({ code: 'custom', path: ['codebook', 'thresholds', bad], message: `needs ${levels} threshold(s) for ${d.quantisation} codes` });
  });
export type StoredDetector = z.infer<typeof storedDetectorSchema> & DetectorScreen;

/** A detector.json's text, or one line saying what is wrong with it. */
export function parseStoredDetector(text: string, source = 'detector.json'): StoredDetector {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new DetectorError(`${source} is not JSON`);
  }
  const parsed = storedDetectorSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new DetectorError(`${source} is not a Foolprint detector: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}
