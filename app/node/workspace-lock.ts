/**
 * One writer per workspace. Two processes writing one workspace each keep their own picture of it
 * (the experiment store caches manifests), so the second one used to take the first one's finished
 * runs for dead ones and rewrite the run history. The browser-mode server, the desktop app and every
 * CLI command that writes into a workspace take `<workspace>/.foolprint.lock` first; a second writer
 * gets one line naming the holder (what it is, pid, host, since when).
 *
 * The lock file is created with O_EXCL, so of two processes starting at once exactly one gets it. A
 * lock whose holder is gone is taken over: same host and its pid no longer exists, or that pid now
 * belongs to a process started after the lock was taken (pid reuse, e.g. a container restarted), or
 * it is our own pid but not held by this process (the earlier life of a restarted container). A lock
 * from another host cannot be checked from here; its message says which file to delete if that
 * machine no longer runs Foolprint.
 *
 * Within one process the lock is shared (counted): the server and the service it hosts, or two
 * services of a test, are one writer.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, unlinkSync } from 'node:fs';
import { mkdir, open, readFile, realpath, rename, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export const WORKSPACE_LOCK_FILE = '.foolprint.lock';

export interface WorkspaceLockHolder {
  /** What holds it, for the message: "foolprint serve", "the Foolprint desktop app". */
  owner: string;
  pid: number;
  hostname: string;
  /** ISO 8601. */
  startedAt: string;
}

export class WorkspaceLockedError extends Error {
  constructor(
    readonly workspaceDir: string,
    readonly holder: WorkspaceLockHolder,
    otherHost: boolean,
  ) {
    super(
      `the workspace ${workspaceDir} is in use by ${holder.owner} (pid ${holder.pid} on ${holder.hostname}, since ${holder.startedAt}): close it first or choose another workspace` +
        (otherHost ? `; if ${holder.hostname} no longer runs Foolprint, delete ${path.join(workspaceDir, WORKSPACE_LOCK_FILE)}` : ''),
    );
    this.name = 'WorkspaceLockedError';
  }
}

export interface WorkspaceLock {
  readonly workspaceDir: string;
  readonly holder: WorkspaceLockHolder;
  /** Gives this share back; the file goes when the last share in this process is released. */
  release(): Promise<void>;
}

/** True while a process with this pid exists on this machine (EPERM: it exists, owned by someone else). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * When the process `pid` started (ms since the epoch), where the system says (Linux /proc; clock
 * ticks assumed 100 Hz, as on every Linux we ship to); null elsewhere. Catches a pid reused by a
 * process that started after a lock or a run was recorded under it.
 */
export function processStartMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime) counted after the ")" closing the command name, which may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    const boot = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
    if (!boot || !Number.isFinite(ticks)) return null;
    return Number(boot[1]) * 1000 + ticks * 10;
  } catch {
    return null;
  }
}

/** Why the holder is gone (its lock may be taken over), or null while it may be alive. */
export function goneHolderReason(
  holder: WorkspaceLockHolder,
  context: { hostname: string; pid: number; heldHere: boolean; processExists: (pid: number) => boolean; processStartMs: (pid: number) => number | null },
): string | null {
  if (holder.hostname !== context.hostname) return null;
  if (holder.pid === context.pid) return context.heldHere ? null : `pid ${holder.pid} is this process, which did not take the lock`;
  if (!context.processExists(holder.pid)) return `pid ${holder.pid} is gone`;
  const started = context.processStartMs(holder.pid);
  // btime has whole seconds: 2 s of slack.
  if (started !== null && started > Date.parse(holder.startedAt) + 2000) return `pid ${holder.pid} now belongs to a process started after the lock was taken`;
  return null;
}

interface Held {
  count: number;
  holder: WorkspaceLockHolder;
  file: string;
}
const held = new Map<string, Held>();
let exitHookInstalled = false;

/** On exit (Ctrl-C, process.exit) the locks this process holds go with it; SIGKILL leaves them to the stale check. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const entry of held.values()) {
      try {
        if (sameHolder(JSON.parse(readFileSync(entry.file, 'utf8')) as WorkspaceLockHolder, entry.holder)) unlinkSync(entry.file);
      } catch {
        // Already gone, or not ours any more.
      }
    }
  });
}

const sameHolder = (a: Partial<WorkspaceLockHolder> | null, b: WorkspaceLockHolder) => a?.pid === b.pid && a.hostname === b.hostname && a.startedAt === b.startedAt;

async function readHolder(file: string): Promise<{ holder: WorkspaceLockHolder | null; ageMs: number } | null> {
  const info = await stat(file).catch(() => null);
  if (!info) return null;
  const text = await readFile(file, 'utf8').catch(() => '');
  try {
    const holder = JSON.parse(text) as WorkspaceLockHolder;
    if (typeof holder.pid === 'number' && typeof holder.hostname === 'string' && typeof holder.startedAt === 'string') return { holder: { ...holder, owner: String(holder.owner ?? 'another Foolprint') }, ageMs: Date.now() - info.mtimeMs };
  } catch {
    // Empty or cut short: a process killed between creating and writing it, or one writing it now.
  }
  return { holder: null, ageMs: Date.now() - info.mtimeMs };
}

/** Takes the workspace's lock for `owner` (creating the folder), or throws WorkspaceLockedError naming the holder. */
export async function acquireWorkspaceLock(workspaceDir: string, owner: string): Promise<WorkspaceLock> {
  let dir: string;
  try {
    await mkdir(workspaceDir, { recursive: true });
    dir = await realpath(workspaceDir);
  } catch (error) {
    throw new Error(`cannot use ${path.resolve(workspaceDir)} as the workspace: ${(error as Error).message}`, { cause: error });
  }
  const file = path.join(dir, WORKSPACE_LOCK_FILE);
  const release = (entry: Held) => {
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      if (--entry.count > 0) return;
      held.delete(dir);
      const current = await readHolder(file);
      if (current && sameHolder(current.holder, entry.holder)) await rm(file, { force: true });
    };
  };
  const shared = held.get(dir);
  if (shared) {
    shared.count++;
    return { workspaceDir: dir, holder: shared.holder, release: release(shared) };
  }
  const holder: WorkspaceLockHolder = { owner, pid: process.pid, hostname: os.hostname(), startedAt: new Date().toISOString() };
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const handle = await open(file, 'wx');
      try {
        await handle.writeFile(JSON.stringify(holder, null, 2) + '\n');
        await handle.sync();
      } finally {
        await handle.close();
      }
      const entry: Held = { count: 1, holder, file };
      held.set(dir, entry);
      installExitHook();
      return { workspaceDir: dir, holder, release: release(entry) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const current = await readHolder(file);
    if (!current) continue; // released meanwhile: try again
    if (current.holder === null && current.ageMs < 5000) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      continue;
    }
    if (current.holder !== null) {
      const gone = goneHolderReason(current.holder, { hostname: os.hostname(), pid: process.pid, heldHere: false, processExists, processStartMs });
      if (gone === null) throw new WorkspaceLockedError(dir, current.holder, current.holder.hostname !== os.hostname());
    }
    // Take over a dead holder's lock: move it aside first, so of two processes doing this at once
    // only one moves that file; the other finds the new lock (or none) on its next attempt.
    const aside = `${file}.stale-${randomBytes(4).toString('hex')}`;
    const moved = await rename(file, aside).then(() => true, () => false);
    if (moved) {
      const movedHolder = await readHolder(aside);
      // Moved a fresh lock another process took in between: put it back, it holds the workspace.
      if (movedHolder?.holder && !(current.holder && sameHolder(movedHolder.holder, current.holder))) {
        await rename(aside, file);
        throw new WorkspaceLockedError(dir, movedHolder.holder, movedHolder.holder.hostname !== os.hostname());
      }
      await rm(aside, { force: true });
    }
  }
  const last = await readHolder(file);
  if (last?.holder) throw new WorkspaceLockedError(dir, last.holder, last.holder.hostname !== os.hostname());
  throw new Error(`cannot take the lock of the workspace ${dir} (${file}): try again`);
}
