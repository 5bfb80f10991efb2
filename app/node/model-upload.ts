/**
 * Stores an uploaded model folder (models.upload: drag and drop or "Choose folder…" in the renderer)
 * in the workspace. Every file is written atomically into a hidden staging folder beside the others,
 * the model is loaded once from there, and only then is the folder renamed to models/<id>/ in one
 * step: a model that does not load, or a process killed mid-upload, never leaves a half-imported
 * model behind (at worst a hidden ".upload-*" folder that nothing lists, removed by a later upload).
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ModelUploadFile } from '../api/models.js';
import { ModelError } from '../models/errors.js';
import { writeFileAtomic } from './atomic-write.js';

/** Where uploaded models live, under the workspace folder. */
export const UPLOADED_MODELS_DIR = 'models';
const STAGING_PREFIX = '.upload-';

/** Writes the uploaded files into a new staging folder under `modelsDir` and returns its path. */
export async function stageModelFiles(modelsDir: string, files: readonly ModelUploadFile[]): Promise<string> {
  await mkdir(modelsDir, { recursive: true });
  const staging = await mkdtemp(path.join(modelsDir, STAGING_PREFIX));
  try {
    for (const file of files) {
      const target = path.resolve(staging, ...file.path.split('/'));
      // The contract already refuses "..", absolute and backslash paths; this is the last line of defence.
      if (!target.startsWith(staging + path.sep)) throw new ModelError(`"${file.path}" is not a path inside the model folder`);
      await mkdir(path.dirname(target), { recursive: true });
      await writeFileAtomic(target, Buffer.from(file.base64, 'base64'));
    }
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  return staging;
}

/**
 * Removes staging folders a killed process left behind. Only old ones: another process on the same
 * workspace (the CLI, a second window) may be uploading right now.
 */
export async function removeStaleStaging(modelsDir: string, olderThanMs = 60 * 60 * 1000): Promise<string[]> {
  const removed: string[] = [];
  const entries = await readdir(modelsDir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isDirectory() || !entry.name.startsWith(STAGING_PREFIX)) continue;
    const folder = path.join(modelsDir, entry.name);
    const info = await stat(folder).catch(() => null);
    if (info && Date.now() - info.mtimeMs > olderThanMs) {
      await rm(folder, { recursive: true, force: true });
      removed.push(entry.name);
    }
  }
  return removed;
}

/** Renames a checked staging folder to `folder`, replacing an earlier upload there only once the new one is in place. */
export async function installStagedModel(staging: string, folder: string): Promise<void> {
  const previous = existsSync(folder) ? `${staging}-previous` : null;
  if (previous) await rename(folder, previous);
  try {
    await rename(staging, folder);
  } catch (error) {
    if (previous) await rename(previous, folder);
    throw error;
  }
  if (previous) await rm(previous, { recursive: true, force: true });
}

/**
 * The loader names files by their full path; in the staging folder that path means nothing to the
 * person who dropped the folder, so name them as they uploaded them ("model.json is not JSON: …").
 */
export function describeUploadFailure(message: string, staging: string): string {
  return message.split(staging + path.sep).join('').split(staging).join('the uploaded folder');
}

/** A folder-safe id from a model's name: "My Model (v2)" → "my-model-v2". */
export function modelIdFromName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[-._]+/, '').replace(/-+$/, '').slice(0, 100) || 'model';
}

/** `base`, or `base-2`, `base-3`… : the first id not in `taken`. */
export function uniqueModelId(base: string, taken: ReadonlySet<string>): string {
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) if (!taken.has(`${base}-${n}`)) return `${base}-${n}`;
}
