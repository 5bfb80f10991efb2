/**
 * The one contract (after VS Code's platform services): every method, its input and output schema,
 * typed once. The Electron main process, the browser-mode server and the in-process service all
 * validate with these schemas; the renderer gets a typed object derived from them (client.ts).
 */
import type { z } from 'zod';
import { attacksMethods } from './attacks.js';
import { calibrationMethods } from './calibration.js';
import { captureMethods } from './capture.js';
import { compareMethods } from './compare.js';
import { defensesMethods, detectorInfoSchema, robustnessReportSchema, transferReportSchema } from './defenses.js';
import { experimentsMethods } from './experiments.js';
import { modelsMethods } from './models.js';
import { samplesMethods } from './samples.js';
import { sheetsMethods } from './sheets.js';
import { sweepsMethods } from './sweeps.js';
import { trainingMethods, trainingResultSchema } from './training.js';
import { systemMethods } from './system.js';
import { attackRunSchema } from './attacks.js';
import { channelProfileInfoSchema } from './calibration.js';
import { captureInfoSchema } from './capture.js';
import { evaluationSchema } from './models.js';
import { sheetSetSchema } from './sheets.js';
import { sweepResultSchema } from './sweeps.js';

export const apiMethods = {
  ...systemMethods,
  ...experimentsMethods,
  ...modelsMethods,
  ...samplesMethods,
  ...attacksMethods,
  ...sweepsMethods,
  ...trainingMethods,
  ...sheetsMethods,
  ...captureMethods,
  ...compareMethods,
  ...calibrationMethods,
  ...defensesMethods,
} as const;

export type ApiMethodName = keyof typeof apiMethods;
export const API_METHOD_NAMES = Object.keys(apiMethods) as ApiMethodName[];

export function isApiMethodName(name: string): name is ApiMethodName {
  return Object.hasOwn(apiMethods, name);
}

/** What a caller passes (defaults optional) and what it gets back (defaults filled). */
export type ApiInput<M extends ApiMethodName> = z.input<(typeof apiMethods)[M]['input']>;
/** The input after validation, as the service sees it. */
export type ApiParsedInput<M extends ApiMethodName> = z.output<(typeof apiMethods)[M]['input']>;
export type ApiOutput<M extends ApiMethodName> = z.output<(typeof apiMethods)[M]['output']>;

/** The result a finished job of each kind carries (JobInfo.result, JobFinishedEvent.result). */
export const jobResultSchemas = {
  attack: attackRunSchema,
  sweep: sweepResultSchema,
  training: trainingResultSchema,
  evaluate: evaluationSchema,
  sheetExport: sheetSetSchema,
  photoAnalysis: captureInfoSchema,
  calibration: channelProfileInfoSchema,
  robustness: robustnessReportSchema,
  transfer: transferReportSchema,
  detector: detectorInfoSchema,
} as const;
export type JobResult<K extends keyof typeof jobResultSchemas> = z.output<(typeof jobResultSchemas)[K]>;
