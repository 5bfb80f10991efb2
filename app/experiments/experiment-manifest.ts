import { z } from 'zod';

/**
 * `manifest.json` of one experiment folder (issue 4, "Experiments on disk"): what the experiment is,
 * whether a run is going on, the history of runs and the files they produced. Versioned with
 * `schemaVersion`; older manifests are migrated in memory on read (`migrateExperimentManifest`) and
 * only written back in the current version when the experiment is next updated.
 *
 * Pure (no Node): the renderer may validate what the API hands it with the same schema.
 */
export const EXPERIMENT_SCHEMA_VERSION = 1;

/** Sub-folders of an experiment, one per kind of artifact. */
export const experimentFolders = ['images', 'sheets', 'captures', 'results'] as const;
export type ExperimentFolder = (typeof experimentFolders)[number];

/** Folder names double as ids: lower-case, digits and dashes, no path separators. */
export const experimentIdSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,95}$/, 'an experiment id is lower-case letters, digits and dashes');

const isoTime = z.string().refine((value) => !Number.isNaN(Date.parse(value)), 'an ISO 8601 time');

/** What happened to a run that is no longer active. `interrupted`: its process died mid-run. */
export const runOutcomeSchema = z.enum(['completed', 'failed', 'cancelled', 'interrupted']);
export type RunOutcome = z.infer<typeof runOutcomeSchema>;

export const activeRunSchema = z.object({
  id: z.string().min(1),
  /** What the run does, in the service's words: 'attack', 'sheet', 'capture', 'analysis', … */
  kind: z.string().min(1),
  pid: z.number().int().positive(),
  hostname: z.string(),
  startedAt: isoTime,
});
export type ActiveRun = z.infer<typeof activeRunSchema>;

export const finishedRunSchema = z.object({
  id: z.string().min(1),
  kind: z.string().min(1),
  startedAt: isoTime,
  finishedAt: isoTime,
  outcome: runOutcomeSchema,
  /** One line for the user: the error of a failed run, why a run counts as interrupted. */
  message: z.string().optional(),
});
export type FinishedRun = z.infer<typeof finishedRunSchema>;

/** A file the experiment produced, relative to the experiment folder (e.g. `results/attack-1/record.json`). */
export const artifactSchema = z.object({
  kind: z.string().min(1),
  file: z.string().min(1),
  createdAt: isoTime,
  runId: z.string().optional(),
  label: z.string().optional(),
});
export type Artifact = z.infer<typeof artifactSchema>;

/**
 * `ready`: nothing running; `running`: a run holds the experiment; `interrupted`: the last run's
 * process died before it finished (files it wrote before are kept).
 */
export const experimentStatusSchema = z.enum(['ready', 'running', 'interrupted']);
export type ExperimentStatus = z.infer<typeof experimentStatusSchema>;

export const experimentManifestSchema = z.object({
  schemaVersion: z.literal(EXPERIMENT_SCHEMA_VERSION),
  id: experimentIdSchema,
  name: z.string().min(1),
  createdAt: isoTime,
  updatedAt: isoTime,
  /** The model the experiment attacks; null until one is chosen. */
  modelId: z.string().min(1).nullable(),
  dataset: z.string().optional(),
  description: z.string().optional(),
  status: experimentStatusSchema,
  activeRun: activeRunSchema.nullable(),
  runs: z.array(finishedRunSchema),
  artifacts: z.array(artifactSchema),
  /** Settings the UI keeps with the experiment (last attack parameters, sheet layout, …), JSON only. */
  settings: z.record(z.string(), z.unknown()),
});
export type ExperimentManifest = z.infer<typeof experimentManifestSchema>;

/** A manifest that cannot be read: not JSON, not a Foolprint manifest, or from a newer Foolprint. */
export class ExperimentManifestError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: ${reason}`);
    this.name = 'ExperimentManifestError';
  }
}

/**
 * Version 0 (the seed prototype's `manifest.json`, before versioning): no `schemaVersion`, the model
 * under `model`, times in epoch milliseconds, a boolean `running` flag, file lists per folder.
 */
const manifestV0Schema = z.object({
  name: z.string().min(1),
  model: z.string().min(1),
  created: z.number(),
  modified: z.number().optional(),
  running: z.boolean().optional(),
  dataset: z.string().optional(),
  files: z.record(z.string(), z.array(z.string())).optional(),
});

function migrateV0(old: unknown, id: string, file: string): unknown {
  const parsed = manifestV0Schema.safeParse(old);
  if (!parsed.success) throw new ExperimentManifestError(file, `not a Foolprint manifest (version 0): ${describeIssue(parsed.error)}`);
  const v0 = parsed.data;
  const createdAt = new Date(v0.created).toISOString();
  const updatedAt = new Date(v0.modified ?? v0.created).toISOString();
  const artifacts: Artifact[] = [];
  for (const [folder, names] of Object.entries(v0.files ?? {})) {
    for (const name of names) artifacts.push({ kind: folder, file: `${folder}/${name}`, createdAt: updatedAt });
  }
  // v0 had no pid to check: a `running` flag left set means the run never finished.
  const runs: FinishedRun[] = v0.running
    ? [{ id: 'v0-run', kind: 'unknown', startedAt: updatedAt, finishedAt: updatedAt, outcome: 'interrupted', message: 'a run was still marked running when this manifest was last written (version 0)' }]
    : [];
  return {
    schemaVersion: 1,
    id,
    name: v0.name,
    createdAt,
    updatedAt,
    modelId: v0.model,
    ...(v0.dataset === undefined ? {} : { dataset: v0.dataset }),
    status: v0.running ? 'interrupted' : 'ready',
    activeRun: null,
    runs,
    artifacts,
    settings: {},
  };
}

/** migrations[v] turns a version-v manifest into version v+1. */
const migrations: Record<number, (old: unknown, id: string, file: string) => unknown> = { 0: migrateV0 };

function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  return `${issue.path.join('.') || '(root)'}: ${issue.message}`;
}

export interface MigratedManifest {
  manifest: ExperimentManifest;
  /** The version the file was written in (EXPERIMENT_SCHEMA_VERSION when no migration ran). */
  fromVersion: number;
}

/**
 * Parsed JSON of a manifest, of any known version, to the current version. `id` is the folder name
 * (version 0 did not store it); `file` names the file in errors.
 */
export function migrateExperimentManifest(json: unknown, id: string, file = 'manifest.json'): MigratedManifest {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ExperimentManifestError(file, 'not a Foolprint manifest: expected a JSON object');
  const declared = (json as { schemaVersion?: unknown }).schemaVersion;
  const fromVersion = declared === undefined ? 0 : declared;
  if (typeof fromVersion !== 'number' || !Number.isInteger(fromVersion) || fromVersion < 0) {
    throw new ExperimentManifestError(file, `schemaVersion ${JSON.stringify(declared)} is not a version number`);
  }
  if (fromVersion > EXPERIMENT_SCHEMA_VERSION) {
    throw new ExperimentManifestError(file, `written by a newer Foolprint (schema version ${fromVersion}; this one reads up to ${EXPERIMENT_SCHEMA_VERSION})`);
  }
  let current: unknown = json;
  for (let version = fromVersion; version < EXPERIMENT_SCHEMA_VERSION; version++) current = migrations[version](current, id, file);
  const parsed = experimentManifestSchema.safeParse(current);
  if (!parsed.success) throw new ExperimentManifestError(file, `not a valid Foolprint manifest: ${describeIssue(parsed.error)}`);
  if (parsed.data.id !== id) throw new ExperimentManifestError(file, `id "${parsed.data.id}" does not match its folder "${id}"`);
  return { manifest: parsed.data, fromVersion };
}
