/**
 * Paths read from files we did not write this moment (a model's weightsManifest, sheet-set.json,
 * analysis.json, record.json, sheet manifests) are data, and data can be edited or hostile: a
 * `weightsManifest` path "../secret/w.bin" or a `pdfPath` "/etc/passwd" must not make us read, or
 * report the size of, a file outside the folder the data belongs to. Every such path goes through
 * `confinedPath` before anything touches the file it names.
 *
 * The check is done twice: lexically first (an absolute path elsewhere or a "..": refused without
 * touching the file system, so not even its existence leaks), then on the real path, symbolic links
 * resolved (a link inside the folder pointing out is refused as well). The caller reads the returned
 * real path, so a link swapped in between can only move a parent folder, not the checked file name.
 */
import { readlink, realpath, stat } from 'node:fs/promises';
import path from 'node:path';

/** A stored path that leaves its folder, is malformed, or names nothing. One line, no outside details. */
export class ConfinedPathError extends Error {
  constructor(
    message: string,
    /** 'outside': leaves the folder; 'missing': inside but absent (or not a file). */
    readonly reason: 'outside' | 'missing',
  ) {
    super(message);
    this.name = 'ConfinedPathError';
  }
}

export interface ConfinedPathOptions {
  /** What the path is, for the message: "weights file", "sheet PDF". Default "file". */
  what?: string;
  /** How the folder is called in the message: "the model folder". Default the folder's path. */
  folderName?: string;
  /** Accept a folder rather than a file. Default false (files only). */
  directory?: boolean;
  /** An absent file is not an error: its would-be path is returned (its existing parents checked). */
  allowMissing?: boolean;
}

/** True when `child` is `parent` or lies below it, lexically (both absolute and normalised by path.resolve). */
export function isPathInside(parent: string, child: string): boolean {
  const relative = path.relative(parent, child);
  return relative === '' || (relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative));
}

/**
 * The real path of `stored` (relative to `folder`, or absolute as older files store it), provided it
 * is a file strictly inside `folder` once every symbolic link is followed. Otherwise throws a
 * ConfinedPathError and reads nothing outside the folder.
 */
export async function confinedPath(folder: string, stored: string, options: ConfinedPathOptions = {}): Promise<string> {
  const what = options.what ?? 'file';
  const where = options.folderName ?? path.resolve(folder);
  const outside = (throughLink = false) => new ConfinedPathError(`${what} "${stored}" points outside ${where}${throughLink ? ' through a symbolic link' : ''}: refused`, 'outside');
  if (typeof stored !== 'string' || stored === '' || stored.includes('\0')) throw new ConfinedPathError(`${what} ${JSON.stringify(stored)} is not a file name`, 'outside');
  // A Windows drive or UNC path in a file written on Windows: never inside a folder here.
  if (path.sep === '/' && (path.win32.isAbsolute(stored) && !path.posix.isAbsolute(stored))) throw outside();
  const base = path.resolve(folder);
  const lexical = path.resolve(base, stored);
  if (lexical === base || !isPathInside(base, lexical)) throw outside();
  let realFolder: string;
  try {
    realFolder = await realpath(base);
  } catch {
    throw new ConfinedPathError(`${what} "${stored}" cannot be read: ${where} does not exist`, 'missing');
  }
  let real: string;
  try {
    real = await realpath(lexical);
  } catch {
    // Absent, or a dangling link: check the folder it would be in and where the link points, so a
    // link to an absent outside target reads as "outside" rather than "missing".
    const parent = await realpath(path.dirname(lexical)).catch(() => null);
    if (parent !== null && !isPathInside(realFolder, parent)) throw outside(true);
    const target = parent === null ? null : await readlink(lexical).catch(() => null);
    if (parent !== null && target !== null && !isPathInside(realFolder, path.resolve(parent, target))) throw outside(true);
    if (options.allowMissing) return lexical;
    throw new ConfinedPathError(`${what} "${stored}" is missing from ${where}`, 'missing');
  }
  if (real === realFolder || !isPathInside(realFolder, real)) throw outside(true);
  const info = await stat(real);
  if (options.directory ? !info.isDirectory() : !info.isFile()) {
    throw new ConfinedPathError(`${what} "${stored}" in ${where} is not a ${options.directory ? 'folder' : 'file'}`, 'missing');
  }
  return real;
}
