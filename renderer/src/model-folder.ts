/**
 * What a dropped or chosen model folder becomes before it is read: paths relative to the folder
 * holding model.json (a chosen folder's files arrive as "my-model/model.json", dropped ones as
 * "/my-model/model.json"), hidden files left out, and, once model.json is read, only the files the
 * model needs (model.json, foolprint.json and the shards its weightsManifest lists), so a folder that
 * also holds the Keras .h5 or a README does not count against the upload limit.
 */
import { MAX_MODEL_UPLOAD_BYTES, MAX_MODEL_UPLOAD_FILES } from '../../app/api/models.js';

export const MODEL_JSON = 'model.json';
export const MANIFEST_JSON = 'foolprint.json';

export class ModelFolderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelFolderError';
  }
}

/** A file found in the folder: its path as the browser gave it and its size; `file` is whatever the caller reads later. */
export interface FolderEntry<F> {
  path: string;
  size: number;
  file: F;
}

export interface ModelFolder<F> {
  /** The folder's name (the model's name when it has no foolprint.json), or null for loose files. */
  name: string | null;
  /** Entries with paths relative to the folder holding model.json. */
  entries: FolderEntry<F>[];
}

/** A path's parts, "/" or "\\" between them, empty and "." parts left out. */
export const pathParts = (p: string) => p.replace(/\\/g, '/').split('/').filter((part) => part !== '' && part !== '.');

/** Finds model.json among the entries and re-roots every path at its folder. */
export function modelFolder<F>(entries: readonly FolderEntry<F>[]): ModelFolder<F> {
  const visible = entries.map((e) => ({ ...e, parts: pathParts(e.path) })).filter((e) => e.parts.length > 0 && !e.parts.some((part) => part.startsWith('.') || part === '__MACOSX'));
  // The shallowest model.json: a folder of several models is ambiguous, one model's folder is not.
  const roots = visible.filter((e) => e.parts[e.parts.length - 1] === MODEL_JSON).sort((a, b) => a.parts.length - b.parts.length);
  if (roots.length === 0) throw new ModelFolderError(`no ${MODEL_JSON} in what was dropped or chosen: choose the folder holding ${MODEL_JSON}, its weight shards and ${MANIFEST_JSON}`);
  const root = roots[0].parts.slice(0, -1);
  if (roots.length > 1 && roots[1].parts.length === roots[0].parts.length) throw new ModelFolderError(`several ${MODEL_JSON} files at the same level: choose one model's folder`);
  const inside = visible.filter((e) => e.parts.length > root.length && root.every((part, i) => e.parts[i] === part));
  return {
    name: root.length > 0 ? root[root.length - 1] : null,
    entries: inside.map(({ parts: p, ...entry }) => ({ ...entry, path: p.slice(root.length).join('/') })),
  };
}

/** The shard paths model.json lists, or null when it is not a readable TF.js model.json (the host then says what is wrong). */
export function listedShards(modelJsonText: string): string[] | null {
  try {
    const json = JSON.parse(modelJsonText) as { weightsManifest?: { paths?: unknown }[] };
    if (!Array.isArray(json.weightsManifest)) return null;
    return json.weightsManifest.flatMap((group) => (Array.isArray(group?.paths) ? group.paths.filter((p): p is string => typeof p === 'string') : [])).map((p) => pathParts(p).join('/'));
  } catch {
    return null;
  }
}

/**
 * The entries to upload: model.json, foolprint.json and the listed shards when model.json lists
 * them; everything otherwise. Checked against the contract's limits here, before anything is read.
 */
export function filesToUpload<F>(folder: ModelFolder<F>, shards: string[] | null): FolderEntry<F>[] {
  const wanted = shards === null ? null : new Set([MODEL_JSON, MANIFEST_JSON, ...shards]);
  const chosen = wanted === null ? folder.entries : folder.entries.filter((e) => wanted.has(e.path));
  if (chosen.length > MAX_MODEL_UPLOAD_FILES) throw new ModelFolderError(`${chosen.length} files: an upload may carry ${MAX_MODEL_UPLOAD_FILES} at most`);
  const bytes = chosen.reduce((sum, e) => sum + e.size, 0);
  if (bytes > MAX_MODEL_UPLOAD_BYTES) {
    const mib = (n: number) => (n / 1024 / 1024).toFixed(1);
    throw new ModelFolderError(`the model is ${mib(bytes)} MiB, more than the ${mib(MAX_MODEL_UPLOAD_BYTES)} MiB an upload may carry: type its folder path below instead`);
  }
  return chosen;
}
