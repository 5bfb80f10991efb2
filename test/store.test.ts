/**
 * The experiment store on a real disk: create/list/reopen (a new Workspace object stands for an app
 * restart), atomic writes, runs, an older manifest, corrupt manifests left byte-for-byte alone, and a
 * child process SIGKILLed mid-run.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  ExperimentBusyError,
  ExperimentManifestError,
  ExperimentNotFoundError,
  ExperimentPathError,
  MANIFEST_FILE,
  RUN_LOCK_FILE,
  defaultWorkspaceDir,
  openWorkspace,
  staleRunReason,
} from '../app/node/experiment-store.js';
import { EXPERIMENT_SCHEMA_VERSION, migrateExperimentManifest } from '../app/experiments/experiment-manifest.js';
import { removeAfterTest, tempDirForTest } from './temp-dir.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** A fresh workspace folder in the temp folder, removed when the test finishes. */
const tempWorkspace = () => tempDirForTest('fp-store-');

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

describe('workspace: create, list, reopen', () => {
  it('an experiment created in one session is listed and reopened, manifest equal, in the next', async () => {
    const dir = tempWorkspace();
    const first = await openWorkspace(dir);
    const created = await first.create({ name: 'Stop sign  BIM/ε=8', modelId: 'lenet-mnist', dataset: 'mnist-test' });
    expect(created.id).toMatch(/^\d{4}-\d{2}-\d{2}-stop-sign-bim-8-[0-9a-f]{4}$/);
    for (const folder of ['images', 'sheets', 'captures', 'results'] as const) expect(statSync(created.paths[folder]).isDirectory()).toBe(true);
    const other = await first.create({ name: 'second' });
    expect(other.manifest.modelId).toBeNull();

    const restarted = await openWorkspace(dir);
    const listed = await restarted.list();
    expect(listed.map((e) => e.id).sort()).toEqual([created.id, other.id].sort());
    const row = listed.find((e) => e.id === created.id)!;
    expect(row).toMatchObject({ status: 'ready', name: 'Stop sign  BIM/ε=8', modelId: 'lenet-mnist', dataset: 'mnist-test', schemaVersion: 1 });
    const reopened = await restarted.open(created.id);
    expect(reopened.manifest).toEqual(created.manifest);
    expect(JSON.parse(readFileSync(reopened.paths.manifest, 'utf8')).schemaVersion).toBe(EXPERIMENT_SCHEMA_VERSION);
    // One object per experiment within a process, so updates share one queue.
    expect(await restarted.open(created.id)).toBe(reopened);
  });

  it('unknown ids and folders that are not experiments', async () => {
    const dir = tempWorkspace();
    mkdirSync(path.join(dir, 'holiday-photos'));
    writeFileSync(path.join(dir, 'notes.txt'), 'x');
    const workspace = await openWorkspace(dir);
    expect(await workspace.list()).toEqual([]);
    await expect(workspace.open('holiday-photos')).rejects.toThrow(ExperimentNotFoundError);
    await expect(workspace.open('../etc')).rejects.toThrow(/no experiment "\.\.\/etc"/);
    await expect(workspace.create({ name: '   ' })).rejects.toThrow('an experiment needs a name');
  });

  it('a workspace folder removed while open is one clear error', async () => {
    const dir = tempWorkspace();
    const workspace = await openWorkspace(dir);
    rmSync(dir, { recursive: true });
    await expect(workspace.list()).rejects.toThrow(`cannot read the experiment workspace ${dir}: ENOENT`);
  });

  it('a workspace that cannot be a folder is one clear error', async () => {
    const file = path.join(tempWorkspace(), 'a-file');
    writeFileSync(file, 'x');
    await expect(openWorkspace(path.join(file, 'sub'))).rejects.toThrow(/^cannot use .*a-file\/sub as the experiment workspace/);
  });

  it('default folder: FOOLPRINT_WORKSPACE, else Documents/Foolprint, else app data per platform', () => {
    expect(defaultWorkspaceDir({ FOOLPRINT_WORKSPACE: '/data/fp' }, '/home/u', 'linux', () => true)).toBe('/data/fp');
    expect(defaultWorkspaceDir({}, '/home/u', 'linux', (p) => p === '/home/u/Documents')).toBe('/home/u/Documents/Foolprint');
    expect(defaultWorkspaceDir({}, '/home/u', 'linux', () => false)).toBe('/home/u/.local/share/foolprint');
    expect(defaultWorkspaceDir({ XDG_DATA_HOME: '/x' }, '/home/u', 'linux', () => false)).toBe('/x/foolprint');
    expect(defaultWorkspaceDir({}, '/Users/u', 'darwin', () => false)).toBe('/Users/u/Library/Application Support/Foolprint');
    expect(defaultWorkspaceDir({ APPDATA: 'C:\\Users\\u\\AppData\\Roaming' }, 'C:\\Users\\u', 'win32', () => false)).toBe(path.join('C:\\Users\\u\\AppData\\Roaming', 'Foolprint'));
  });
});

describe('experiment files', () => {
  it('writes are atomic (no temp files left), readable back, and confined to the experiment folder', async () => {
    const workspace = await openWorkspace(tempWorkspace());
    const experiment = await workspace.create({ name: 'files', modelId: 'm' });
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
    const written = await experiment.writeFile('images/clean-0.png', png);
    expect(written).toBe(path.join(experiment.paths.images, 'clean-0.png'));
    await experiment.writeFile('images/clean-0.png', new Uint8Array([9, 9]));
    expect([...(await experiment.readFile('images/clean-0.png'))]).toEqual([9, 9]);
    await experiment.writeJson('results/attack-1/summary.json', { accuracy: 0.25 });
    expect(await experiment.readJson('results/attack-1/summary.json')).toEqual({ accuracy: 0.25 });
    expect(filesUnder(experiment.dir)).toEqual(['images/clean-0.png', MANIFEST_FILE, 'results/attack-1/summary.json']);

    for (const bad of ['../escape.png', '/etc/passwd', 'images/../../x', '', MANIFEST_FILE, 'C:\\x']) {
      await expect(experiment.writeFile(bad, 'x')).rejects.toThrow(ExperimentPathError);
    }
    expect(existsSync(path.join(path.dirname(experiment.dir), 'escape.png'))).toBe(false);
    await expect(experiment.readFile('images/missing.png')).rejects.toThrow(`experiment "${experiment.id}" has no file images/missing.png`);
  });

  it('artifacts are recorded in the manifest; 20 concurrent updates all land, in order', async () => {
    const dir = tempWorkspace();
    const experiment = await (await openWorkspace(dir)).create({ name: 'artifacts', modelId: 'm' });
    await experiment.writeArtifact('sheets/sheet-1.pdf', '%PDF-1.4', { kind: 'sheet', label: 'A4, 2 pairs' });
    await Promise.all(Array.from({ length: 20 }, (_, i) => experiment.update((m) => void m.artifacts.push({ kind: 'capture', file: `captures/still-${i}.png`, createdAt: new Date().toISOString() }))));
    const reopened = await (await openWorkspace(dir)).open(experiment.id);
    expect(reopened.manifest.artifacts.map((a) => a.file)).toEqual(['sheets/sheet-1.pdf', ...Array.from({ length: 20 }, (_, i) => `captures/still-${i}.png`)]);
    expect(reopened.manifest.artifacts[0]).toMatchObject({ kind: 'sheet', label: 'A4, 2 pairs' });
    // An invalid mutation is refused and does not block the queue.
    await expect(experiment.update((m) => void (m.name = ''))).rejects.toThrow(/refusing to write an invalid manifest .*name/);
    await expect(experiment.update((m) => void (m.description = 'ok'))).resolves.toMatchObject({ description: 'ok', name: 'artifacts' });
    expect(() => (experiment.manifest as { name: string }).name = 'x').toThrow(TypeError);
  });
});

describe('runs', () => {
  it('a run marks the experiment running, blocks a second run, and finishing records it', async () => {
    const dir = tempWorkspace();
    const workspace = await openWorkspace(dir);
    const experiment = await workspace.create({ name: 'runs', modelId: 'm' });
    const run = await experiment.startRun('attack');
    expect(experiment.manifest).toMatchObject({ status: 'running', activeRun: { id: run.id, kind: 'attack', pid: process.pid, hostname: os.hostname() } });
    expect(existsSync(path.join(experiment.dir, RUN_LOCK_FILE))).toBe(true);
    // Seen from another session while this process lives: still running.
    const [row] = await (await openWorkspace(dir)).list();
    expect(row).toMatchObject({ status: 'running', runKind: 'attack' });
    await expect(experiment.startRun('sheet')).rejects.toThrow(ExperimentBusyError);
    await run.finish('completed');
    expect(experiment.manifest).toMatchObject({ status: 'ready', activeRun: null });
    expect(experiment.manifest.runs).toMatchObject([{ id: run.id, kind: 'attack', outcome: 'completed' }]);
    expect(existsSync(path.join(experiment.dir, RUN_LOCK_FILE))).toBe(false);
    const failed = await experiment.startRun('sheet');
    await failed.finish('failed', 'the printer caught fire');
    expect(experiment.manifest.runs[1]).toMatchObject({ outcome: 'failed', message: 'the printer caught fire' });
  });

  it('staleRunReason: on this host only a gone owner (dead pid, reused pid, our pid in an earlier life); elsewhere a missing lock or silent heartbeat', () => {
    const run = { id: 'r1', kind: 'attack', pid: 4242, hostname: 'lab', startedAt: '2026-01-01T00:00:00.000Z' };
    const context = { hostname: 'lab', now: 1_000_000, staleAfterMs: 120_000, processExists: () => true };
    const fresh = { runId: 'r1', heartbeatMs: 1_000_000 - 10_000 };
    const stopped = 'its process (pid 4242) stopped before the attack run finished';
    expect(staleRunReason(run, fresh, context)).toBeNull();
    // The owner is alive: a missing lock or a silent heartbeat (an owner busy for minutes) is not an interruption.
    expect(staleRunReason(run, null, context)).toBeNull();
    expect(staleRunReason(run, { ...fresh, runId: 'r0' }, context)).toBeNull();
    expect(staleRunReason(run, { runId: 'r1', heartbeatMs: 1_000_000 - 300_000 }, context)).toBeNull();
    expect(staleRunReason(run, fresh, { ...context, processExists: (pid) => pid !== 4242 })).toBe(stopped);
    expect(staleRunReason(run, fresh, { ...context, processStartMs: () => Date.parse(run.startedAt) + 60_000 })).toBe(stopped);
    expect(staleRunReason(run, fresh, { ...context, processStartMs: () => Date.parse(run.startedAt) - 60_000 })).toBeNull();
    expect(staleRunReason(run, fresh, { ...context, pid: 4242, runsHere: () => false })).toBe(stopped);
    expect(staleRunReason(run, fresh, { ...context, pid: 4242, runsHere: (id) => id === 'r1' })).toBeNull();
    // Another host's pid means nothing here: only its lock and heartbeat count.
    expect(staleRunReason(run, fresh, { ...context, hostname: 'other', processExists: () => false })).toBeNull();
    expect(staleRunReason(run, null, { ...context, hostname: 'other' })).toMatch(/run lock is missing/);
    expect(staleRunReason(run, { runId: 'r1', heartbeatMs: 1_000_000 - 300_000 }, { ...context, hostname: 'other' })).toBe('its attack run has not shown signs of life for 300 s');
  });

  it('a copy of the workspace opened while a run went on never marks that finished run interrupted nor rewrites the history (issue 7 repro)', async () => {
    const dir = tempWorkspace();
    const first = await openWorkspace(dir);
    const experiment = await first.create({ name: 'two views', modelId: 'm' });
    const run = await experiment.startRun('attack');
    // A second copy (as a second server had) reads the experiment while the run is going on.
    const second = await openWorkspace(dir);
    const seen = await second.open(experiment.id);
    expect(seen.manifest.activeRun?.id).toBe(run.id);
    await run.finish('completed');
    expect((await second.list())[0]).toMatchObject({ status: 'ready' });
    const next = await seen.startRun('sheet');
    await next.finish('completed');
    await seen.writeArtifact('results/x.json', '{}', { kind: 'sweep' });
    const runs = (await (await openWorkspace(dir)).open(experiment.id)).manifest.runs;
    expect(runs.map((r) => [r.kind, r.outcome])).toEqual([['attack', 'completed'], ['sheet', 'completed']]);
  });

  it('a process SIGKILLed mid-run: every file it finished is intact and the experiment reopens interrupted', async () => {
    const dir = tempWorkspace();
    // The child runs the store's own source, bundled to one ESM file (node cannot run .ts).
    const { build } = await import('rolldown');
    const bundle = path.join(dir, '..', `${path.basename(dir)}-store.mjs`);
    removeAfterTest(bundle);
    await build({ input: path.join(root, 'app/node/experiment-store.ts'), platform: 'node', logLevel: 'silent', output: { file: bundle, format: 'esm' } });
    const childScript = `${bundle}.child.mjs`;
    removeAfterTest(childScript);
    writeFileSync(
      childScript,
      `import { openWorkspace } from ${JSON.stringify(pathToFileURL(bundle).href)};
const workspace = await openWorkspace(process.argv[2], { heartbeatMs: 50 });
const experiment = await workspace.create({ name: 'killed', modelId: 'lenet-mnist' });
const run = await experiment.startRun('attack');
console.log('started ' + experiment.id);
for (let i = 0; ; i++) {
  // 64 KiB per image so a kill often lands inside a write.
  await experiment.writeArtifact('images/adv-' + i + '.png', new Uint8Array(65536).fill(i % 251), { kind: 'adversarial', runId: run.id });
  console.log('wrote ' + i);
}
`,
    );
    const child = spawn(process.execPath, [childScript, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const written = await new Promise<number>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        stdout += d;
        const count = (stdout.match(/^wrote \d+$/gm) ?? []).length;
        if (count >= 12) {
          child.kill('SIGKILL');
          resolve(count);
        }
      });
      child.on('exit', (code, signal) => (signal === 'SIGKILL' ? undefined : reject(new Error(`child exited ${code}: ${stderr}`))));
    });
    await new Promise((resolve) => child.once('exit', resolve));
    const id = /started (\S+)/.exec(stdout)![1];

    const workspace = await openWorkspace(dir);
    const [row] = await workspace.list();
    expect(row).toMatchObject({ id, status: 'interrupted' });
    expect(row.message).toMatch(/^its process \(pid \d+\) stopped before the attack run finished$/);
    const experiment = await workspace.open(id);
    expect(experiment.manifest.status).toBe('interrupted');
    expect(experiment.manifest.activeRun).toBeNull();
    expect(experiment.manifest.runs.at(-1)).toMatchObject({ kind: 'attack', outcome: 'interrupted' });
    // Everything the child reported written is on disk, whole, and recorded (the manifest may also
    // list the one image written after the last line reached us).
    const recorded = experiment.manifest.artifacts.map((a) => a.file);
    for (let i = 0; i < written; i++) {
      expect(recorded).toContain(`images/adv-${i}.png`);
      const bytes = await experiment.readFile(`images/adv-${i}.png`);
      expect(bytes.length).toBe(65536);
      expect(bytes.every((b) => b === i % 251)).toBe(true);
    }
    for (const file of recorded) expect((await experiment.readFile(file)).length).toBe(65536);
    expect(filesUnder(experiment.dir).filter((f) => f.endsWith('.tmp') || f === RUN_LOCK_FILE)).toEqual([]);
    // Interrupted is a state, not a dead end: a new run can start.
    const again = await experiment.startRun('attack');
    await again.finish('completed');
    expect(experiment.manifest.status).toBe('ready');
  });
});

describe('manifest versions and corruption', () => {
  const v0 = {
    name: 'Prototype run',
    model: 'lenet-mnist',
    created: Date.UTC(2026, 0, 15, 9, 30),
    modified: Date.UTC(2026, 0, 15, 10, 0),
    running: false,
    dataset: 'mnist-test',
    files: { images: ['clean-0.png', 'adv-0.png'], sheets: ['sheet.pdf'] },
  };

  it('migrates a hand-written version-0 manifest (pure)', () => {
    const { manifest, fromVersion } = migrateExperimentManifest(v0, 'proto', 'proto/manifest.json');
    expect(fromVersion).toBe(0);
    expect(manifest).toEqual({
      schemaVersion: 1,
      id: 'proto',
      name: 'Prototype run',
      createdAt: '2026-01-15T09:30:00.000Z',
      updatedAt: '2026-01-15T10:00:00.000Z',
      modelId: 'lenet-mnist',
      dataset: 'mnist-test',
      status: 'ready',
      activeRun: null,
      runs: [],
      artifacts: [
        { kind: 'images', file: 'images/clean-0.png', createdAt: '2026-01-15T10:00:00.000Z' },
        { kind: 'images', file: 'images/adv-0.png', createdAt: '2026-01-15T10:00:00.000Z' },
        { kind: 'sheets', file: 'sheets/sheet.pdf', createdAt: '2026-01-15T10:00:00.000Z' },
      ],
      settings: {},
    });
    const interrupted = migrateExperimentManifest({ ...v0, running: true }, 'proto').manifest;
    expect(interrupted.status).toBe('interrupted');
    expect(interrupted.runs[0].outcome).toBe('interrupted');
    expect(() => migrateExperimentManifest({ name: 'x' }, 'proto', 'proto/manifest.json')).toThrow(/^proto\/manifest\.json: not a Foolprint manifest \(version 0\): model:/);
  });

  it('a version-0 manifest opens untouched, and is upgraded (original kept) on the first change', async () => {
    const dir = tempWorkspace();
    mkdirSync(path.join(dir, 'proto'));
    const file = path.join(dir, 'proto', MANIFEST_FILE);
    const original = JSON.stringify(v0, null, 4);
    writeFileSync(file, original);
    const workspace = await openWorkspace(dir);
    expect(await workspace.list()).toMatchObject([{ id: 'proto', status: 'ready', name: 'Prototype run', schemaVersion: 0 }]);
    const experiment = await workspace.open('proto');
    expect(experiment.manifest.modelId).toBe('lenet-mnist');
    expect(readFileSync(file, 'utf8')).toBe(original);
    await experiment.update((m) => void (m.description = 'upgraded'));
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ schemaVersion: 1, id: 'proto', description: 'upgraded', modelId: 'lenet-mnist' });
    expect(readFileSync(path.join(dir, 'proto', 'manifest.v0.json'), 'utf8')).toBe(original);
  });

  it.each([
    ['not JSON', '{"schemaVersion": 1, "name": "half', /manifest\.json: not valid JSON \(.*\); left as it is$/],
    ['not a manifest', '{"schemaVersion": 1, "name": "x"}', /manifest\.json: not a valid Foolprint manifest: id: .*; left as it is$/],
    ['from a newer Foolprint', '{"schemaVersion": 7}', /manifest\.json: written by a newer Foolprint \(schema version 7; this one reads up to 1\); left as it is$/],
    ['a JSON array', '[1, 2]', /manifest\.json: not a Foolprint manifest: expected a JSON object; left as it is$/],
  ])('a corrupt manifest (%s) is reported naming the file and left byte-for-byte untouched', async (_, text, message) => {
    const dir = tempWorkspace();
    const good = await (await openWorkspace(dir)).create({ name: 'good' });
    mkdirSync(path.join(dir, 'broken'));
    const file = path.join(dir, 'broken', MANIFEST_FILE);
    writeFileSync(file, text);
    const before = statSync(file).mtimeMs;

    const workspace = await openWorkspace(dir);
    const rows = await workspace.list();
    expect(rows.find((r) => r.id === good.id)?.status).toBe('ready');
    const broken = rows.find((r) => r.id === 'broken')!;
    expect(broken.status).toBe('corrupt');
    expect(broken.message).toContain(file);
    expect(broken.message).toMatch(message);
    const error = await workspace.open('broken').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExperimentManifestError);
    expect((error as ExperimentManifestError).file).toBe(file);
    expect((error as Error).message).toMatch(message);
    expect(readFileSync(file, 'utf8')).toBe(text);
    expect(statSync(file).mtimeMs).toBe(before);
    expect(readdirSync(path.join(dir, 'broken'))).toEqual([MANIFEST_FILE]);
  });
});
