/**
 * Issue 7, item 5: outputs never clobber or mix. `attack --out`, `sheet --out` and `analyze --out`
 * write into a staging folder beside the output and swap it in whole (app/node/output-folder.ts): a
 * re-run leaves none of the earlier run's files, a folder holding anything else is refused (unless
 * --force), --out naming a file says so, and a process killed mid-way (SIGKILL) leaves the earlier
 * output whole, with no temporary files in it and none left beside it after the next run.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, realpath, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bin, foolprint, root as repo } from './cli-harness.js';
import { OUTPUT_MARK_FILE, OutputFolderError, prepareOutputFolder, recoverOutputFolder } from '../app/node/output-folder.js';


/** A pid that no process has: a child that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid as number;
}

let root: string;
beforeAll(async () => {
  root = await realpath(await mkdtemp(path.join(os.tmpdir(), 'foolprint-output-')));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('prepareOutputFolder', () => {
  const write = (dir: string, files: Record<string, string>, command = 'attack', force = false) =>
    prepareOutputFolder(dir, { command, force }).then((output) =>
      output.write(async (staging) => {
        for (const [name, text] of Object.entries(files)) await writeFile(path.join(staging, name), text);
        return staging;
      }),
    );
  const refusal = async (promise: Promise<unknown>) => {
    const error = await promise.then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(OutputFolderError);
    return (error as Error).message;
  };

  it('a re-run replaces its own earlier output as a whole, and leaves nothing beside it', async () => {
    const dir = path.join(root, 'unit', 'run');
    await write(dir, { 'a.png': '1', 'b.png': '2', 'c.png': '3' });
    await write(dir, { 'a.png': 'new' });
    expect((await readdir(dir)).sort()).toEqual([OUTPUT_MARK_FILE, 'a.png']);
    expect(await readFile(path.join(dir, 'a.png'), 'utf8')).toBe('new');
    expect(await readdir(path.dirname(dir))).toEqual(['run']);
  });

  it('refuses a folder with foreign files or another command\'s output, unless forced; an empty one is fine', async () => {
    const dir = path.join(root, 'unit', 'mine');
    await mkdir(dir, { recursive: true });
    await write(dir, { 'x.png': '1' });
    await writeFile(path.join(root, 'unit', 'notes.txt'), 'mine');
    const foreign = path.join(root, 'unit');
    expect(await refusal(prepareOutputFolder(foreign, { command: 'attack' }))).toMatch(/already holds files foolprint attack did not write \(.*notes\.txt.*\): choose a new or empty folder, or add --force to replace it/);
    expect(await refusal(prepareOutputFolder(dir, { command: 'sheet' }))).toMatch(/already holds the output of foolprint attack/);
    await write(dir, { 'sheet.pdf': '%PDF' }, 'sheet', true);
    expect((await readdir(dir)).sort()).toEqual([OUTPUT_MARK_FILE, 'sheet.pdf']);
    // The user's notes added to our own earlier output are not ours to delete.
    await writeFile(path.join(dir, 'notes.txt'), 'keep');
    expect(await refusal(prepareOutputFolder(dir, { command: 'sheet' }))).toMatch(/already holds files foolprint sheet did not write \(notes\.txt\)/);
    await write(dir, { 'sheet.pdf': '%PDF-2' }, 'sheet', true);
    const empty = path.join(root, 'unit', 'empty');
    await mkdir(empty);
    await write(empty, { 'a.png': '1' });
    expect(await readFile(path.join(root, 'unit', 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('--out naming a file gets a sentence, not EEXIST', async () => {
    const file = path.join(root, 'unit', 'a-file');
    await writeFile(file, 'x');
    expect(await refusal(prepareOutputFolder(file, { command: 'attack' }))).toBe(`--out ${file} is a file, not a folder: give a folder to write into`);
  });

  it('a failure while writing leaves the earlier output and no staging folder', async () => {
    const dir = path.join(root, 'unit', 'failing');
    await write(dir, { 'old.png': 'old' });
    const output = await prepareOutputFolder(dir, { command: 'attack' });
    await expect(output.write(async (staging) => {
      await writeFile(path.join(staging, 'half.png'), 'x');
      throw new Error('disk full');
    })).rejects.toThrow('disk full');
    expect((await readdir(dir)).sort()).toEqual([OUTPUT_MARK_FILE, 'old.png']);
    expect((await readdir(path.dirname(dir))).filter((n) => n.includes('failing'))).toEqual(['failing']);
  });

  it('puts back an output a kill left swapped out, and removes staging folders of dead processes only', async () => {
    const parent = path.join(root, 'unit', 'recover');
    await mkdir(parent, { recursive: true });
    const dead = await deadPid();
    // Killed between "old aside" and "new in": the output folder is missing, the old one is beside it.
    const aside = path.join(parent, `.out.foolprint-old-${dead}-0a0b0c0d`);
    await mkdir(aside);
    await writeFile(path.join(aside, 'record.json'), '{}');
    const halfWritten = path.join(parent, `.out.foolprint-new-${dead}-01020304`);
    await mkdir(halfWritten);
    // Another live process writing the same folder right now: left alone.
    const live = path.join(parent, `.out.foolprint-new-${process.ppid}-05060708`);
    await mkdir(live);
    const result = await recoverOutputFolder(path.join(parent, 'out'));
    expect(result).toEqual({ restored: true, removed: [path.basename(halfWritten)] });
    expect(await readdir(path.join(parent, 'out'))).toEqual(['record.json']);
    expect((await readdir(parent)).sort()).toEqual([path.basename(live), 'out'].sort());
  });
});

describe('the CLI writes --out folders whole', () => {
  it('attack: a foreign folder is refused before the attack, --force replaces it, a file gets a sentence', async () => {
    const out = path.join(root, 'cli', 'foreign');
    await mkdir(out, { recursive: true });
    await writeFile(path.join(out, 'thesis.tex'), 'precious');
    let run = await foolprint('attack', '--limit', '2', '--out', out, '--workers', '1');
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe(`foolprint: --out ${out} already holds files foolprint attack did not write (thesis.tex): choose a new or empty folder, or add --force to replace it`);
    expect(await readdir(out)).toEqual(['thesis.tex']);
    run = await foolprint('attack', '--limit', '2', '--out', out, '--workers', '1', '--force');
    expect(run.code).toBe(0);
    expect(await readdir(out)).not.toContain('thesis.tex');
    expect(await readdir(out)).toContain('record.json');
    run = await foolprint('attack', '--limit', '2', '--out', path.join(out, 'record.json'), '--workers', '1');
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/record\.json is a file, not a folder/);
    expect(run.stderr).not.toMatch(/EEXIST/);
  }, 120_000);

  it('sheet: a re-run with fewer pages leaves no manifest of the earlier run', async () => {
    const attack = path.join(root, 'cli', 'attack-for-sheet');
    expect((await foolprint('attack', '--limit', '12', '--out', attack, '--workers', '1')).code).toBe(0);
    const out = path.join(root, 'cli', 'sheets');
    let run = await foolprint('sheet', '--from', attack, '--out', out, '--pairs', '--cell-mm', '60', '--dpi', '36');
    expect(run.code, run.stderr).toBe(0);
    const before = (await readdir(out)).filter((f) => f.endsWith('.manifest.json'));
    expect(before.length).toBeGreaterThan(2);
    run = await foolprint('sheet', '--from', attack, '--out', out, '--pairs', '--cell-mm', '60', '--dpi', '36', '--limit', '1');
    expect(run.code, run.stderr).toBe(0);
    expect((await readdir(out)).sort()).toEqual([OUTPUT_MARK_FILE, 'sheet.manifest.json', 'sheet.pdf', 'sheet.png']);
    // The sheet folder is not an attack's: attack refuses to write there.
    expect((await foolprint('attack', '--limit', '1', '--out', out, '--workers', '1')).stderr).toMatch(/already holds the output of foolprint sheet/);
  }, 180_000);

  it('attack killed (SIGKILL) while writing its PNGs: the earlier output stays whole, no .tmp in it; the next run cleans up', async () => {
    const parent = path.join(root, 'cli', 'kill');
    const out = path.join(parent, 'run');
    expect((await foolprint('attack', '--limit', '3', '--out', out, '--workers', '1')).code).toBe(0);
    const earlier = await readFile(path.join(out, 'record.json'), 'utf8');
    const data = existsSync(path.join(repo, '../shared/data/mnist')) ? path.join(repo, '../shared/data/mnist') : 'samples';
    const child = spawn(process.execPath, [bin, 'attack', '--data', data, '--limit', '2000', '--out', out, '--workers', '1'], { cwd: repo, stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let killedWhileWriting = false;
    for (let i = 0; i < 3000 && child.exitCode === null; i++) {
      const staging = (await readdir(parent)).find((n) => n.startsWith('.run.foolprint-new-'));
      if (staging && (await readdir(path.join(parent, staging)).catch(() => [])).length > 40) {
        child.kill('SIGKILL');
        killedWhileWriting = true;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await exited;
    expect(killedWhileWriting).toBe(true);
    // The earlier output, whole: its record and exactly the files it lists.
    expect(await readFile(path.join(out, 'record.json'), 'utf8')).toBe(earlier);
    const record = JSON.parse(earlier) as { images: { clean: { file: string }; adversarial: { file: string; perturbationFile: string }[] }[] };
    const listed = record.images.flatMap((image) => [image.clean.file, ...image.adversarial.flatMap((a) => [a.file, a.perturbationFile])]);
    expect((await readdir(out)).sort()).toEqual([OUTPUT_MARK_FILE, 'record.json', ...listed].sort());
    // The killed run's staging folder is beside it, never in it; the next run removes it.
    expect((await readdir(parent)).some((n) => n.startsWith('.run.foolprint-new-'))).toBe(true);
    expect((await foolprint('attack', '--limit', '2', '--out', out, '--workers', '1')).code).toBe(0);
    expect(await readdir(parent)).toEqual(['run']);
    expect((await readdir(out)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  }, 180_000);
});
