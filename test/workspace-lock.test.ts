/**
 * Issue 7, item 6: one writer per workspace (app/node/workspace-lock.ts). The repro: two
 * `foolprint serve` on one workspace, the second used to mark the first one's runs interrupted and
 * rewrite the run history (test/store.test.ts has the store side); now the second is refused with
 * the holder named, a lock whose process was SIGKILLed is taken over, and Ctrl-C leaves no lock.
 * Processes here are real: the built CLI (npm test builds dist/ first) and a child holding the lock.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFoolprintService } from '../app/node/service.js';
import { WORKSPACE_LOCK_FILE, WorkspaceLockedError, acquireWorkspaceLock, goneHolderReason, processStartMs } from '../app/node/workspace-lock.js';

const repo = path.resolve(import.meta.dirname, '..');
const bin = path.join(repo, 'bin/foolprint.js');
const builtLock = pathToFileURL(path.join(repo, 'dist/app/node/workspace-lock.js')).href;

let root: string;
beforeAll(async () => {
  root = await realpath(await mkdtemp(path.join(os.tmpdir(), 'foolprint-lock-')));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Waits until `pattern` shows in the child's stdout (or it exits). */
function waitFor(child: ChildProcessWithoutNullStreams, pattern: RegExp, ms = 30_000): Promise<string> {
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not seen within ${ms} ms: ${pattern}; got ${out}`)), ms);
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = pattern.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[0]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before ${pattern}: ${out}`));
    });
  });
}

/** A child process that takes the workspace's lock as `owner` and holds it until killed. */
async function holder(workspace: string, owner: string): Promise<ChildProcessWithoutNullStreams> {
  const script = `const { acquireWorkspaceLock } = await import(${JSON.stringify(builtLock)});
await acquireWorkspaceLock(process.argv[1], process.argv[2]);
console.log('held');
setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, workspace, owner], { stdio: ['pipe', 'pipe', 'pipe'] });
  await waitFor(child, /held/);
  return child;
}

const killed = (child: ChildProcessWithoutNullStreams) => new Promise((resolve) => {
  child.once('exit', resolve);
  child.kill('SIGKILL');
});

describe('acquireWorkspaceLock', () => {
  it('a second process is refused with the holder named; once the holder is SIGKILLed its lock is taken over', async () => {
    const workspace = path.join(root, 'two-processes');
    const child = await holder(workspace, 'foolprint serve (browser mode)');
    try {
      const error = await acquireWorkspaceLock(workspace, 'a test').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WorkspaceLockedError);
      expect((error as Error).message).toMatch(new RegExp(`^the workspace ${workspace} is in use by foolprint serve \\(browser mode\\) \\(pid ${child.pid} on ${os.hostname()}, since \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\): close it first or choose another workspace$`));
      // The service on that workspace says the same, in one line, and writes nothing.
      const service = createFoolprintService({ workspaceDir: workspace, workers: 1 });
      await expect(service.invoke('experiments.create', { name: 'x' })).rejects.toThrow(`in use by foolprint serve (browser mode) (pid ${child.pid}`);
      await expect(service.invoke('models.upload', { name: 'x', files: [{ path: 'model.json', base64: 'e30=' }] })).rejects.toThrow(/in use by foolprint serve/);
      await killed(child);
      // The holder is gone: the same service now gets the workspace.
      expect(await service.invoke('experiments.create', { name: 'after the crash' })).toMatchObject({ name: 'after the crash' });
      expect(JSON.parse(await readFile(path.join(workspace, WORKSPACE_LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid, owner: 'a Foolprint process' });
      await service.close();
      expect(existsSync(path.join(workspace, WORKSPACE_LOCK_FILE))).toBe(false);
    } finally {
      if (child.exitCode === null && child.signalCode === null) await killed(child);
    }
  }, 60_000);

  it('is shared within one process and removed when the last share is released', async () => {
    const workspace = path.join(root, 'shared');
    const first = await acquireWorkspaceLock(workspace, 'server');
    const second = await acquireWorkspaceLock(workspace, 'service');
    expect(second.holder).toEqual(first.holder);
    await first.release();
    expect(existsSync(path.join(workspace, WORKSPACE_LOCK_FILE))).toBe(true);
    await second.release();
    expect(existsSync(path.join(workspace, WORKSPACE_LOCK_FILE))).toBe(false);
  });

  it('takes over locks of gone holders (dead pid, our pid in an earlier life, a reused pid); refuses another host\'s, saying which file to delete', async () => {
    const write = async (workspace: string, holderFields: Record<string, unknown>) => {
      await acquireWorkspaceLock(workspace, 'setup').then((l) => l.release());
      await writeFile(path.join(workspace, WORKSPACE_LOCK_FILE), JSON.stringify({ owner: 'old', hostname: os.hostname(), startedAt: new Date().toISOString(), ...holderFields }));
    };
    const dead = spawn(process.execPath, ['-e', '0']);
    await new Promise((resolve) => dead.on('exit', resolve));
    const cases: [string, Record<string, unknown>][] = [
      ['dead', { pid: dead.pid }],
      ['ours', { pid: process.pid }],
      ['empty-and-old', {}],
    ];
    if (processStartMs(process.ppid) !== null) cases.push(['reused', { pid: process.ppid, startedAt: '2000-01-01T00:00:00.000Z' }]);
    for (const [name, fields] of cases) {
      const workspace = path.join(root, `stale-${name}`);
      await write(workspace, fields);
      if (name === 'empty-and-old') {
        await writeFile(path.join(workspace, WORKSPACE_LOCK_FILE), '');
        const { utimes } = await import('node:fs/promises');
        await utimes(path.join(workspace, WORKSPACE_LOCK_FILE), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
      }
      const lock = await acquireWorkspaceLock(workspace, 'new');
      expect(lock.holder.pid, name).toBe(process.pid);
      await lock.release();
    }
    const workspace = path.join(root, 'other-host');
    await write(workspace, { pid: 1, hostname: 'lab-pc-2' });
    await expect(acquireWorkspaceLock(workspace, 'new')).rejects.toThrow(`in use by old (pid 1 on lab-pc-2, since`);
    await expect(acquireWorkspaceLock(workspace, 'new')).rejects.toThrow(`; if lab-pc-2 no longer runs Foolprint, delete ${path.join(workspace, WORKSPACE_LOCK_FILE)}`);
  });

  it('goneHolderReason: only this host\'s holders can be judged', () => {
    const holderFields = { owner: 'x', pid: 10, hostname: 'lab', startedAt: '2026-01-01T00:00:00.000Z' };
    const context = { hostname: 'lab', pid: 99, heldHere: false, processExists: () => true, processStartMs: () => null };
    expect(goneHolderReason(holderFields, context)).toBeNull();
    expect(goneHolderReason(holderFields, { ...context, processExists: () => false })).toBe('pid 10 is gone');
    expect(goneHolderReason(holderFields, { ...context, processStartMs: () => Date.parse(holderFields.startedAt) + 10_000 })).toMatch(/started after/);
    expect(goneHolderReason(holderFields, { ...context, pid: 10 })).toMatch(/this process/);
    expect(goneHolderReason(holderFields, { ...context, pid: 10, heldHere: true })).toBeNull();
    expect(goneHolderReason(holderFields, { ...context, hostname: 'other', processExists: () => false })).toBeNull();
  });
});

describe('two foolprint serve on one workspace (issue 7 repro)', () => {
  const started: ChildProcessWithoutNullStreams[] = [];
  const serve = (workspace: string) => {
    const child = spawn(process.execPath, [bin, 'serve', '--port', '0', '--no-open', '--workspace', workspace], { cwd: repo, stdio: ['pipe', 'pipe', 'pipe'] });
    started.push(child);
    return child;
  };
  afterAll(async () => {
    for (const child of started) if (child.exitCode === null && child.signalCode === null) await killed(child);
  });

  it('the second is refused naming the first; after a SIGKILL of the first a new one starts; Ctrl-C leaves no lock', async () => {
    const workspace = path.join(root, 'serve');
    const first = serve(workspace);
    try {
      await waitFor(first, /token=[0-9a-f]+/);
      const second = serve(workspace);
      let stderr = '';
      second.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise((resolve) => second.on('exit', resolve));
      expect(code).toBe(1);
      expect(stderr.trim()).toMatch(new RegExp(`^foolprint: the workspace ${workspace} is in use by foolprint serve \\(browser mode\\) \\(pid ${first.pid} on ${os.hostname()}, since [^)]+\\): close it first or choose another workspace$`));
      await killed(first);
      const third = serve(workspace);
      await waitFor(third, /token=[0-9a-f]+/);
      expect(JSON.parse(await readFile(path.join(workspace, WORKSPACE_LOCK_FILE), 'utf8'))).toMatchObject({ pid: third.pid });
      const exited = new Promise((resolve) => third.on('exit', resolve));
      third.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(existsSync(path.join(workspace, WORKSPACE_LOCK_FILE))).toBe(false);
    } finally {
      for (const child of started) if (child.exitCode === null && child.signalCode === null) await killed(child);
    }
  }, 90_000);

  it('Ctrl-C while it starts (the lock taken, the URL not yet printed) stops it cleanly: exit 0, no lock left', async () => {
    const workspace = path.join(root, 'serve-early');
    const lockFile = path.join(workspace, WORKSPACE_LOCK_FILE);
    const child = serve(workspace);
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('exit', (code, signal) => resolve([code, signal])));
    const deadline = Date.now() + 30_000;
    while (!existsSync(lockFile) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 2));
    expect(existsSync(lockFile)).toBe(true);
    child.kill('SIGINT');
    expect(await exited).toEqual([0, null]);
    expect(existsSync(lockFile)).toBe(false);
    expect(stdout).toMatch(/stopping/);
  }, 60_000);
});
