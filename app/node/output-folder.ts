/**
 * A command's output folder (`attack --out`, `sheet --out`, `analyze --out`) is written as a whole:
 * everything goes into a hidden staging folder beside it, and only when the command is done does the
 * staging folder take the output's place. A re-run therefore never leaves files of the earlier run
 * beside the new ones (a sheet re-run with fewer pages used to keep `sheet-3.manifest.json`), and a
 * run killed at any moment leaves the earlier output whole.
 *
 * The replacement is two renames (old aside, new in), since no portable call swaps two folders at
 * once; a kill between them leaves the old output aside under a known name, which the next run on
 * that folder puts back before anything else (`recoverOutputFolder`). Staging folders of processes
 * that are gone are removed then too.
 *
 * Each output folder carries `.foolprint-output.json` naming the command that wrote it. A folder
 * holding anything else (the user's files, another command's output) is refused unless `force`.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isPathInside } from './confined-path.js';
import { processExists } from './workspace-lock.js';

export const OUTPUT_MARK_FILE = '.foolprint-output.json';

/** One line for the user: the folder cannot be written as asked. */
export class OutputFolderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutputFolderError';
  }
}

interface OutputMark {
  command: string;
  createdAt: string;
  hostname: string;
  pid: number;
  /** Every file the command wrote (relative, '/'-separated): anything else found later is someone else's. */
  files?: string[];
}

/** The files under `dir`, relative and '/'-separated, sorted. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => !entry.isDirectory())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'))
    .sort();
}

export interface OutputFolderOptions {
  /** The command writing it, e.g. "attack": a folder another command wrote is foreign to it. */
  command: string;
  /** Replace the folder even if it holds files this command did not write. */
  force?: boolean;
  /** How the folder is named to the user (default "--out <dir>"). */
  label?: string;
}

export interface PreparedOutputFolder {
  /** The absolute output folder. */
  readonly dir: string;
  /**
   * Runs `fill(staging)`, which writes every file of the output into `staging`, then makes that the
   * output folder in place of the earlier one. On failure the staging folder is removed and the
   * earlier output is untouched.
   */
  write<T>(fill: (staging: string) => Promise<T>): Promise<T>;
}

// `.<name>.foolprint-new-<pid>-<hex>` while being written, `.<name>.foolprint-old-<pid>-<hex>` while swapped out.
const siblingPattern = (name: string) => new RegExp(`^\\.${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.foolprint-(new|old)-(\\d+)-[0-9a-f]+$`);
const siblingName = (name: string, kind: 'new' | 'old') => `.${name}.foolprint-${kind}-${process.pid}-${randomBytes(4).toString('hex')}`;

async function readMark(dir: string): Promise<OutputMark | null> {
  try {
    const mark = JSON.parse(await readFile(path.join(dir, OUTPUT_MARK_FILE), 'utf8')) as Partial<OutputMark>;
    return typeof mark.command === 'string' ? (mark as OutputMark) : null;
  } catch {
    return null;
  }
}

/**
 * Puts back an output a kill left swapped out (its folder missing, `.<name>.foolprint-old-*` beside
 * it) and removes staging folders of processes that are gone. Returns what it did, for tests.
 */
export async function recoverOutputFolder(outDir: string): Promise<{ restored: boolean; removed: string[] }> {
  const dir = path.resolve(outDir);
  const parent = path.dirname(dir);
  const pattern = siblingPattern(path.basename(dir));
  const entries = await readdir(parent).catch(() => [] as string[]);
  const siblings = entries.map((entry) => ({ entry, match: pattern.exec(entry) })).filter((s) => s.match !== null);
  // Only siblings of processes that are gone: another copy may be writing this folder right now.
  const dead = siblings.filter((s) => Number(s.match?.[2]) !== process.pid && !processExists(Number(s.match?.[2])));
  let restored = false;
  const outExists = await lstat(dir).then(() => true, () => false);
  const old = dead.find((s) => s.match?.[1] === 'old');
  if (!outExists && old) {
    await rename(path.join(parent, old.entry), dir);
    restored = true;
  }
  const removed: string[] = [];
  for (const s of dead) {
    if (restored && s === old) continue;
    await rm(path.join(parent, s.entry), { recursive: true, force: true });
    removed.push(s.entry);
  }
  return { restored, removed };
}

/**
 * Checks that `outDir` may be written by `options.command` (absent, empty, or its own earlier
 * output; anything else only with `force`) before any work is done, and returns the writer.
 */
export async function prepareOutputFolder(outDir: string, options: OutputFolderOptions): Promise<PreparedOutputFolder> {
  const dir = path.resolve(outDir);
  const label = options.label ?? `--out ${outDir}`;
  if (dir === path.dirname(dir)) throw new OutputFolderError(`${label} is the root of the file system: give a folder of its own`);
  await recoverOutputFolder(dir);
  const info = await stat(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw new OutputFolderError(`${label} cannot be used: ${error.message}`);
  });
  if (info && !info.isDirectory()) throw new OutputFolderError(`${label} is a file, not a folder: give a folder to write into`);
  if (info) {
    const mark = await readMark(dir);
    const written = new Set([OUTPUT_MARK_FILE, ...(mark?.files ?? [])]);
    // Files added to our own earlier output (the user's notes beside the PNGs) are not ours to delete either.
    const foreign = (await filesUnder(dir)).filter((file) => mark?.command !== options.command || (mark.files !== undefined && !written.has(file)));
    if (foreign.length > 0 && !options.force) {
      const what =
        mark && mark.command !== options.command
          ? `the output of foolprint ${mark.command}`
          : `files foolprint ${options.command} did not write (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', …' : ''})`;
      throw new OutputFolderError(`${label} already holds ${what}: choose a new or empty folder, or add --force to replace it`);
    }
    if (isPathInside(dir, process.cwd())) {
      throw new OutputFolderError(`${label} holds the current folder: choose a folder outside it`);
    }
  }
  return {
    dir,
    async write<T>(fill: (staging: string) => Promise<T>): Promise<T> {
      const parent = path.dirname(dir);
      await mkdir(parent, { recursive: true });
      const staging = path.join(parent, siblingName(path.basename(dir), 'new'));
      await mkdir(staging);
      let result: T;
      try {
        result = await fill(staging);
        const mark: OutputMark = { command: options.command, createdAt: new Date().toISOString(), hostname: os.hostname(), pid: process.pid, files: await filesUnder(staging) };
        await writeFile(path.join(staging, OUTPUT_MARK_FILE), JSON.stringify(mark, null, 2) + '\n');
      } catch (error) {
        await rm(staging, { recursive: true, force: true });
        throw error;
      }
      const aside = (await lstat(dir).then(() => true, () => false)) ? path.join(parent, siblingName(path.basename(dir), 'old')) : null;
      if (aside) await rename(dir, aside);
      try {
        await rename(staging, dir);
      } catch (error) {
        if (aside) await rename(aside, dir);
        await rm(staging, { recursive: true, force: true });
        throw new OutputFolderError(`${label} cannot be replaced: ${(error as Error).message}`);
      }
      if (aside) await rm(aside, { recursive: true, force: true });
      return result;
    },
  };
}

/** Where a file written into the staging folder is once the output is in place. */
export function finalOutputPath(output: PreparedOutputFolder, staging: string, file: string): string {
  return path.join(output.dir, path.relative(staging, file));
}
