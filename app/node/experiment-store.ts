/**
 * The experiment store (issue 4, "Experiments on disk"): a workspace folder with one folder per
 * experiment,
 *
 *   <workspace>/<id>/manifest.json     versioned manifest (app/experiments/experiment-manifest.ts)
 *                    images/ sheets/ captures/ results/
 *                    .run.lock         present while a run holds the experiment
 *
 * Every write is atomic (temp file, fsync, rename: atomic-write.ts), so a process killed mid-run
 * leaves each file whole, old or new. A run marks itself in the manifest and in `.run.lock`, whose
 * mtime is a heartbeat; when the run's process is gone (same host: its pid no longer exists; any
 * host: the heartbeat is older than `staleAfterMs`), the experiment reopens as `interrupted`, with
 * everything written before the kill. A manifest that cannot be read is reported, naming the file,
 * and never rewritten; one of an older schema version opens and is written back in the current
 * version (beside a copy of the original) only when the experiment is next changed.
 */
import { existsSync } from 'node:fs';
import { mkdir, open as openFile, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  EXPERIMENT_SCHEMA_VERSION,
  ExperimentManifestError,
  experimentFolders,
  experimentIdSchema,
  experimentManifestSchema,
  migrateExperimentManifest,
} from '../experiments/experiment-manifest.js';
import type { ActiveRun, Artifact, ExperimentManifest, ExperimentStatus, RunOutcome } from '../experiments/experiment-manifest.js';
import { writeFileAtomic, writeJsonAtomic } from './atomic-write.js';
import { ConfinedPathError, confinedPath, isPathInside } from './confined-path.js';
import { processExists, processStartMs } from './workspace-lock.js';

export { ExperimentManifestError } from '../experiments/experiment-manifest.js';

export const MANIFEST_FILE = 'manifest.json';
export const RUN_LOCK_FILE = '.run.lock';

/** Store problems a user can hit, one line each. */
export class ExperimentStoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExperimentStoreError';
  }
}
export class ExperimentNotFoundError extends ExperimentStoreError {
  constructor(readonly id: string, workspaceDir: string) {
    super(`no experiment "${id}" in ${workspaceDir}`);
    this.name = 'ExperimentNotFoundError';
  }
}
export class ExperimentBusyError extends ExperimentStoreError {
  constructor(readonly id: string, run: ActiveRun) {
    super(`experiment "${id}" is busy: a ${run.kind} run (pid ${run.pid} on ${run.hostname}) started ${run.startedAt} is still going`);
    this.name = 'ExperimentBusyError';
  }
}
/** A relative path that would leave the experiment folder (absolute, `..`, or empty). */
export class ExperimentPathError extends ExperimentStoreError {
  constructor(relPath: string) {
    super(`"${relPath}" is not a path inside the experiment folder`);
    this.name = 'ExperimentPathError';
  }
}

export interface WorkspaceOptions {
  /** A run whose lock heartbeat is older than this is stale even if its pid exists (pid reuse, other host). Default 120 s. */
  staleAfterMs?: number;
  /** How often a run refreshes its heartbeat. Default 15 s. */
  heartbeatMs?: number;
}

/** One row of `Workspace.list()`. `corrupt`: the manifest cannot be read (see `message`). */
export interface ExperimentInfo {
  id: string;
  dir: string;
  status: ExperimentStatus | 'corrupt';
  name?: string;
  modelId?: string | null;
  dataset?: string;
  createdAt?: string;
  updatedAt?: string;
  /** The version the manifest file is written in (older ones are migrated when read). */
  schemaVersion?: number;
  /** Kind of the run going on, when `running`. */
  runKind?: string;
  /** Why it is `corrupt` or `interrupted`, one line. */
  message?: string;
}

export interface CreateExperimentInit {
  name: string;
  modelId?: string | null;
  dataset?: string;
  description?: string;
  settings?: Record<string, unknown>;
}

export interface ExperimentPaths {
  manifest: string;
  images: string;
  sheets: string;
  captures: string;
  results: string;
}

/** A run holding an experiment: `finish` it (also on failure), else it reads as interrupted later. */
export interface ExperimentRun {
  readonly id: string;
  readonly kind: string;
  finish(outcome: Exclude<RunOutcome, 'interrupted'>, message?: string): Promise<void>;
}

export interface Experiment {
  readonly id: string;
  readonly dir: string;
  readonly paths: ExperimentPaths;
  /** The latest manifest (a frozen snapshot; change it with `update`). */
  readonly manifest: ExperimentManifest;
  /** Apply `mutator` to a copy of the manifest, validate, write atomically. Updates queue in order. */
  update(mutator: (draft: ExperimentManifest) => ExperimentManifest | void): Promise<ExperimentManifest>;
  /** Atomic write of a file inside the experiment folder (folders created); returns its absolute path. */
  writeFile(relPath: string, bytes: string | Uint8Array): Promise<string>;
  writeJson(relPath: string, value: unknown): Promise<string>;
  /** Write a file and record it in the manifest's artifacts. */
  writeArtifact(relPath: string, bytes: string | Uint8Array, artifact: { kind: string; runId?: string; label?: string }): Promise<string>;
  readFile(relPath: string): Promise<Uint8Array>;
  readJson(relPath: string): Promise<unknown>;
  /** Mark a run: lock file + `running` in the manifest. Throws ExperimentBusyError while another live run holds it. */
  startRun(kind: string): Promise<ExperimentRun>;
}

export interface Workspace {
  readonly dir: string;
  list(): Promise<ExperimentInfo[]>;
  create(init: CreateExperimentInit): Promise<Experiment>;
  open(id: string): Promise<Experiment>;
}

/**
 * Where experiments live unless configured: FOOLPRINT_WORKSPACE, else Documents/Foolprint when the
 * user has a Documents folder, else the platform's app-data folder.
 */
export function defaultWorkspaceDir(env: NodeJS.ProcessEnv = process.env, home = os.homedir(), platform: NodeJS.Platform = process.platform, exists: (p: string) => boolean = existsSync): string {
  if (env.FOOLPRINT_WORKSPACE) return path.resolve(env.FOOLPRINT_WORKSPACE);
  const documents = path.join(home, 'Documents');
  if (exists(documents)) return path.join(documents, 'Foolprint');
  if (platform === 'win32') return path.join(env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), 'Foolprint');
  if (platform === 'darwin') return path.join(home, 'Library', 'Application Support', 'Foolprint');
  return path.join(env.XDG_DATA_HOME ?? path.join(home, '.local', 'share'), 'foolprint');
}

export { processExists } from './workspace-lock.js';

interface RunLock {
  runId: string;
  pid: number;
  hostname: string;
  startedAt: string;
}

/**
 * Why the manifest's active run is no longer live, or null while it is. Pure: the caller passes
 * what it read (the lock, its heartbeat time) and how to check a pid.
 */
export function staleRunReason(
  run: ActiveRun,
  lock: { runId: string; heartbeatMs: number } | null,
  context: {
    hostname: string;
    now: number;
    staleAfterMs: number;
    processExists: (pid: number) => boolean;
    /** This process's pid and whether it runs `runId`: its pid on a run it does not run is an earlier life's. */
    pid?: number;
    runsHere?: (runId: string) => boolean;
    /** When a pid's process started (pid reuse), if the system says. */
    processStartMs?: (pid: number) => number | null;
  },
): string | null {
  // On this machine the owner can be asked: the run is interrupted only when its process is gone, never
  // because a lock or a heartbeat is missing (a busy owner, or a stale copy of the manifest).
  if (run.hostname === context.hostname) {
    const stopped = `its process (pid ${run.pid}) stopped before the ${run.kind} run finished`;
    if (run.pid === context.pid) return context.runsHere?.(run.id) ? null : stopped;
    if (!context.processExists(run.pid)) return stopped;
    const started = context.processStartMs?.(run.pid) ?? null;
    if (started !== null && started > Date.parse(run.startedAt) + 2000) return stopped;
    return null;
  }
  if (!lock || lock.runId !== run.id) return `its run lock is missing (the ${run.kind} run did not finish)`;
  const silentMs = context.now - lock.heartbeatMs;
  if (silentMs > context.staleAfterMs) return `its ${run.kind} run has not shown signs of life for ${Math.round(silentMs / 1000)} s`;
  return null;
}

/** Runs started by this process and not finished yet (by id). */
const runsInThisProcess = new Set<string>();

function slug(name: string): string {
  return (
    name
      .normalize('NFKD')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40)
      .replace(/-+$/, '') || 'experiment'
  );
}

function resolveInside(dir: string, relPath: string): string {
  if (relPath === '' || path.isAbsolute(relPath) || path.win32.isAbsolute(relPath)) throw new ExperimentPathError(relPath);
  const full = path.resolve(dir, relPath);
  if (full === path.resolve(dir) || !isPathInside(dir, full)) throw new ExperimentPathError(relPath);
  return full;
}

const deepFreeze = <T>(value: T): T => {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
};

class StoredExperiment implements Experiment {
  readonly paths: ExperimentPaths;
  private current: ExperimentManifest;
  /** Serialises updates: each mutator sees the result of the one before. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly id: string,
    readonly dir: string,
    manifest: ExperimentManifest,
    /** Original bytes of an older-version manifest, kept beside the upgrade on first write. */
    private olderVersion: { version: number; bytes: Buffer } | null,
    private readonly options: Required<WorkspaceOptions>,
  ) {
    this.current = deepFreeze(manifest);
    this.paths = {
      manifest: path.join(dir, MANIFEST_FILE),
      images: path.join(dir, 'images'),
      sheets: path.join(dir, 'sheets'),
      captures: path.join(dir, 'captures'),
      results: path.join(dir, 'results'),
    };
  }

  get manifest(): ExperimentManifest {
    return this.current;
  }

  update(mutator: (draft: ExperimentManifest) => ExperimentManifest | void): Promise<ExperimentManifest> {
    const next = this.serial(async () => {
      await this.reload();
      const draft = structuredClone(this.current) as ExperimentManifest;
      const result = mutator(draft) ?? draft;
      result.updatedAt = new Date().toISOString();
      const parsed = experimentManifestSchema.safeParse(result);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new ExperimentStoreError(`refusing to write an invalid manifest for "${this.id}": ${issue.path.join('.') || '(root)'}: ${issue.message}`);
      }
      if (this.olderVersion) {
        const backup = path.join(this.dir, `manifest.v${this.olderVersion.version}.json`);
        if (!existsSync(backup)) await writeFileAtomic(backup, this.olderVersion.bytes);
        this.olderVersion = null;
      }
      await writeJsonAtomic(this.paths.manifest, parsed.data);
      await this.noteWritten();
      this.current = deepFreeze(parsed.data);
      return this.current;
    });
    return next;
  }

  /** Runs `body` after every earlier update (and reload) of this object; a failure does not block the next. */
  private serial<T>(body: () => Promise<T>): Promise<T> {
    const next = this.queue.then(body);
    this.queue = next.catch(() => undefined);
    return next;
  }

  async writeFile(relPath: string, bytes: string | Uint8Array): Promise<string> {
    const file = resolveInside(this.dir, relPath);
    if (path.relative(this.dir, file) === MANIFEST_FILE) throw new ExperimentPathError(relPath);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFileAtomic(file, bytes);
    return file;
  }

  writeJson(relPath: string, value: unknown): Promise<string> {
    return this.writeFile(relPath, JSON.stringify(value, null, 2) + '\n');
  }

  async writeArtifact(relPath: string, bytes: string | Uint8Array, artifact: { kind: string; runId?: string; label?: string }): Promise<string> {
    const file = await this.writeFile(relPath, bytes);
    const relative = path.relative(this.dir, file).split(path.sep).join('/');
    await this.update((draft) => {
      const entry: Artifact = { kind: artifact.kind, file: relative, createdAt: new Date().toISOString() };
      if (artifact.runId !== undefined) entry.runId = artifact.runId;
      if (artifact.label !== undefined) entry.label = artifact.label;
      draft.artifacts = draft.artifacts.filter((a) => a.file !== relative).concat(entry);
    });
    return file;
  }

  async readFile(relPath: string): Promise<Uint8Array> {
    resolveInside(this.dir, relPath);
    let file: string;
    try {
      // Symbolic links followed too: a link inside the experiment pointing out is refused.
      file = await confinedPath(this.dir, relPath, { folderName: `experiment "${this.id}"` });
    } catch (error) {
      if (!(error instanceof ConfinedPathError)) throw error;
      if (error.reason === 'missing') throw new ExperimentStoreError(`experiment "${this.id}" has no file ${relPath}`);
      throw new ExperimentPathError(relPath);
    }
    return readFile(file);
  }

  async readJson(relPath: string): Promise<unknown> {
    const bytes = await this.readFile(relPath);
    try {
      return JSON.parse(Buffer.from(bytes).toString('utf8'));
    } catch (error) {
      throw new ExperimentStoreError(`${path.join(this.dir, relPath)} is not valid JSON: ${(error as Error).message}`);
    }
  }

  async startRun(kind: string): Promise<ExperimentRun> {
    const lockFile = path.join(this.dir, RUN_LOCK_FILE);
    const stale = await this.staleReason();
    if (this.current.activeRun && stale === null) throw new ExperimentBusyError(this.id, this.current.activeRun);
    if (this.current.activeRun) await this.markInterrupted(stale ?? 'its run stopped');
    const lock: RunLock = { runId: `${kind}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`, pid: process.pid, hostname: os.hostname(), startedAt: new Date().toISOString() };
    // 'wx': two processes starting a run at once cannot both get the lock.
    try {
      await writeFile(lockFile, JSON.stringify(lock) + '\n', { flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const other = await readLock(lockFile);
      if (other && processExists(other.lock.pid) && Date.now() - other.heartbeatMs <= this.options.staleAfterMs) {
        throw new ExperimentBusyError(this.id, { id: other.lock.runId, kind: 'other', pid: other.lock.pid, hostname: other.lock.hostname, startedAt: other.lock.startedAt });
      }
      await writeFileAtomic(lockFile, JSON.stringify(lock) + '\n');
    }
    runsInThisProcess.add(lock.runId);
    await this.update((draft) => {
      draft.status = 'running';
      draft.activeRun = { id: lock.runId, kind, pid: lock.pid, hostname: lock.hostname, startedAt: lock.startedAt };
    });
    const heartbeat = setInterval(() => {
      const now = new Date();
      utimes(lockFile, now, now).catch(() => undefined);
    }, this.options.heartbeatMs);
    heartbeat.unref();
    let finished = false;
    return {
      id: lock.runId,
      kind,
      finish: async (outcome, message) => {
        if (finished) return;
        finished = true;
        clearInterval(heartbeat);
        runsInThisProcess.delete(lock.runId);
        await this.update((draft) => {
          draft.runs.push({ id: lock.runId, kind, startedAt: lock.startedAt, finishedAt: new Date().toISOString(), outcome, ...(message === undefined ? {} : { message }) });
          draft.activeRun = null;
          draft.status = 'ready';
        });
        // After the manifest: a lock without a running manifest is harmless, the reverse reads as interrupted.
        await rm(lockFile, { force: true });
      },
    };
  }

  /** Null while the manifest's active run is live (or there is none), else why it is stale. */
  async staleReason(): Promise<string | null> {
    if (!this.current.activeRun) return null;
    // The run may have finished in another copy of this experiment since we read the manifest.
    await this.serial(() => this.reload());
    const run = this.current.activeRun;
    if (!run) return null;
    const lock = await readLock(path.join(this.dir, RUN_LOCK_FILE));
    return staleRunReason(run, lock && { runId: lock.lock.runId, heartbeatMs: lock.heartbeatMs }, {
      hostname: os.hostname(),
      now: Date.now(),
      staleAfterMs: this.options.staleAfterMs,
      processExists,
      pid: process.pid,
      runsHere: (id) => runsInThisProcess.has(id),
      processStartMs,
    });
  }

  /**
   * Takes the manifest on disk as the current one: every update starts from what was last written,
   * so a copy of this experiment opened elsewhere never writes back a run history it read earlier.
   */
  private async reload(): Promise<void> {
    if (this.olderVersion) return; // still the older file on disk: migrated in memory until the first write
    // Unchanged since we last wrote or read it (same size and time, to the nanosecond): nothing to parse.
    const info = await stat(this.paths.manifest, { bigint: true }).catch(() => null);
    const seen = info ? `${info.mtimeNs}/${info.size}/${info.ino}` : null;
    if (seen !== null && seen === this.seenOnDisk) return;
    const loaded = await loadManifest(this.dir, this.id).catch(() => null);
    if (loaded && loaded.fromVersion === EXPERIMENT_SCHEMA_VERSION) {
      this.current = deepFreeze(loaded.manifest);
      this.seenOnDisk = seen;
    }
  }

  /** What the manifest file looked like when we last wrote or read it (see reload). */
  private seenOnDisk: string | null = null;

  private async noteWritten(): Promise<void> {
    const info = await stat(this.paths.manifest, { bigint: true }).catch(() => null);
    this.seenOnDisk = info ? `${info.mtimeNs}/${info.size}/${info.ino}` : null;
  }

  /** Record the dead run as interrupted and drop its lock; files it wrote stay. */
  async markInterrupted(reason: string): Promise<void> {
    const run = this.current.activeRun;
    if (!run) return;
    await this.update((draft) => {
      draft.runs.push({ id: run.id, kind: run.kind, startedAt: run.startedAt, finishedAt: new Date().toISOString(), outcome: 'interrupted', message: reason });
      draft.activeRun = null;
      draft.status = 'interrupted';
    });
    const lock = await readLock(path.join(this.dir, RUN_LOCK_FILE));
    if (lock && lock.lock.runId === run.id) await rm(path.join(this.dir, RUN_LOCK_FILE), { force: true });
    await removeAbandonedTempFiles(this.dir);
  }
}

/** Temp files of atomic writes cut short by the kill (`.<name>.<8 hex>.tmp`): never a finished file. */
async function removeAbandonedTempFiles(dir: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  for (const entry of entries) {
    if (entry.isFile() && /^\..+\.[0-9a-f]{8}\.tmp$/.test(entry.name)) await rm(path.join(entry.parentPath, entry.name), { force: true });
  }
}

async function readLock(file: string): Promise<{ lock: RunLock; heartbeatMs: number } | null> {
  try {
    const [text, info] = await Promise.all([readFile(file, 'utf8'), stat(file)]);
    const lock = JSON.parse(text) as RunLock;
    if (typeof lock.runId !== 'string' || typeof lock.pid !== 'number') return null;
    return { lock, heartbeatMs: info.mtimeMs };
  } catch {
    return null;
  }
}

interface LoadedManifest {
  manifest: ExperimentManifest;
  fromVersion: number;
  bytes: Buffer;
}

async function loadManifest(dir: string, id: string): Promise<LoadedManifest> {
  const file = path.join(dir, MANIFEST_FILE);
  const bytes = await readFile(file);
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new ExperimentManifestError(file, `not valid JSON (${(error as Error).message}); left as it is`);
  }
  try {
    const { manifest, fromVersion } = migrateExperimentManifest(json, id, file);
    return { manifest, fromVersion, bytes };
  } catch (error) {
    if (error instanceof ExperimentManifestError) throw new ExperimentManifestError(file, `${error.reason}; left as it is`);
    throw error;
  }
}

class FolderWorkspace implements Workspace {
  /** One object per experiment, so every caller in this process shares its update queue. */
  private readonly opened = new Map<string, Promise<StoredExperiment>>();

  constructor(
    readonly dir: string,
    private readonly options: Required<WorkspaceOptions>,
  ) {}

  async list(): Promise<ExperimentInfo[]> {
    let entries;
    try {
      entries = await readdir(this.dir, { withFileTypes: true });
    } catch (error) {
      throw new ExperimentStoreError(`cannot read the experiment workspace ${this.dir}: ${(error as Error).message}`);
    }
    const infos: ExperimentInfo[] = [];
    for (const entry of entries) {
      if (!entry.isDirectory() || !experimentIdSchema.safeParse(entry.name).success) continue;
      const dir = path.join(this.dir, entry.name);
      // A folder without a manifest is not an experiment (someone else's folder, or a create cut short).
      if (!existsSync(path.join(dir, MANIFEST_FILE))) continue;
      infos.push(await this.info(entry.name, dir));
    }
    return infos.sort((a, b) => (b.updatedAt ?? '').localeCompare(a.updatedAt ?? '') || a.id.localeCompare(b.id));
  }

  private async info(id: string, dir: string): Promise<ExperimentInfo> {
    let loaded: LoadedManifest;
    try {
      // From disk even when open here: every update is written whole before it counts, and another
      // copy of the experiment (another Workspace object) may have written since.
      loaded = await loadManifest(dir, id);
    } catch (error) {
      if (error instanceof ExperimentManifestError) return { id, dir, status: 'corrupt', message: error.message };
      return { id, dir, status: 'corrupt', message: `${path.join(dir, MANIFEST_FILE)}: ${(error as Error).message}` };
    }
    const { manifest } = loaded;
    const info: ExperimentInfo = {
      id,
      dir,
      status: manifest.status,
      name: manifest.name,
      modelId: manifest.modelId,
      createdAt: manifest.createdAt,
      updatedAt: manifest.updatedAt,
      schemaVersion: loaded.fromVersion,
    };
    if (manifest.dataset !== undefined) info.dataset = manifest.dataset;
    if (manifest.activeRun) {
      const probe = new StoredExperiment(id, dir, manifest, null, this.options);
      const stale = await probe.staleReason();
      if (stale === null) info.runKind = manifest.activeRun.kind;
      else Object.assign(info, { status: 'interrupted', message: stale });
    } else if (manifest.status === 'interrupted') {
      const last = manifest.runs.at(-1);
      if (last?.message) info.message = last.message;
    }
    return info;
  }

  async create(init: CreateExperimentInit): Promise<Experiment> {
    const name = init.name.trim();
    if (!name) throw new ExperimentStoreError('an experiment needs a name');
    const now = new Date();
    for (let attempt = 0; ; attempt++) {
      const id = `${now.toISOString().slice(0, 10)}-${slug(name)}-${randomBytes(2).toString('hex')}`;
      const dir = path.join(this.dir, id);
      try {
        await mkdir(dir);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST' && attempt < 20) continue;
        throw error;
      }
      for (const folder of experimentFolders) await mkdir(path.join(dir, folder));
      const manifest: ExperimentManifest = experimentManifestSchema.parse({
        schemaVersion: EXPERIMENT_SCHEMA_VERSION,
        id,
        name,
        createdAt: now.toISOString(),
        updatedAt: now.toISOString(),
        modelId: init.modelId ?? null,
        ...(init.dataset === undefined ? {} : { dataset: init.dataset }),
        ...(init.description === undefined ? {} : { description: init.description }),
        status: 'ready',
        activeRun: null,
        runs: [],
        artifacts: [],
        settings: init.settings ?? {},
      });
      await writeJsonAtomic(path.join(dir, MANIFEST_FILE), manifest);
      const experiment = new StoredExperiment(id, dir, manifest, null, this.options);
      this.opened.set(id, Promise.resolve(experiment));
      return experiment;
    }
  }

  open(id: string): Promise<Experiment> {
    if (!experimentIdSchema.safeParse(id).success) return Promise.reject(new ExperimentNotFoundError(id, this.dir));
    let pending = this.opened.get(id);
    if (!pending) {
      pending = this.load(id);
      this.opened.set(id, pending);
      // A failed open (missing, corrupt) is retried next time: the user may fix the file.
      pending.catch(() => this.opened.delete(id));
    }
    return pending;
  }

  private async load(id: string): Promise<StoredExperiment> {
    const dir = path.join(this.dir, id);
    if (!existsSync(path.join(dir, MANIFEST_FILE))) throw new ExperimentNotFoundError(id, this.dir);
    const loaded = await loadManifest(dir, id);
    const older = loaded.fromVersion < EXPERIMENT_SCHEMA_VERSION ? { version: loaded.fromVersion, bytes: loaded.bytes } : null;
    const experiment = new StoredExperiment(id, dir, loaded.manifest, older, this.options);
    const stale = await experiment.staleReason();
    if (stale !== null) await experiment.markInterrupted(stale);
    return experiment;
  }
}

/** Open (creating if needed) the workspace folder `dir`. */
export async function openWorkspace(dir: string = defaultWorkspaceDir(), options: WorkspaceOptions = {}): Promise<Workspace> {
  const resolved = path.resolve(dir);
  try {
    await mkdir(resolved, { recursive: true });
    const handle = await openFile(resolved, 'r');
    await handle.close();
  } catch (error) {
    throw new ExperimentStoreError(`cannot use ${resolved} as the experiment workspace: ${(error as Error).message}`);
  }
  return new FolderWorkspace(resolved, { staleAfterMs: options.staleAfterMs ?? 120_000, heartbeatMs: options.heartbeatMs ?? 15_000 });
}
