/**
 * An ONNX model dropped or chosen on the Models screen: the .onnx file and the files beside it in
 * its folder (a chosen folder, a dropped one, or loose files picked together): its external data
 * files, a foolprint.json that says what the graph cannot (then it is imported at once), a labels
 * file. Once the graph is read (app/models/onnx/onnx-external.ts), exactly the data files it names
 * are sent, under the plain names it gives them, so a folder that also holds the PyTorch checkpoint
 * does not count against the upload limit. Pure: the state class (state/model-upload.svelte.ts)
 * reads the files.
 */
import { MAX_MODEL_UPLOAD_BYTES, MAX_MODEL_UPLOAD_FILES, onnxFileNameSchema } from '../../app/api/models.js';
import { MANIFEST_JSON, MODEL_JSON, ModelFolderError, pathParts } from './model-folder.js';
import type { FolderEntry } from './model-folder.js';

/** The name the host reads the graph under, in the folder it stores. */
export const MODEL_ONNX = 'model.onnx';
/** A labels file beside the model, one class name per line or a JSON array (onnx-import.ts parseLabelsFile). */
export const LABELS_FILE = /^(labels|classes)\.(txt|json)$/i;

export interface OnnxFiles<F> {
  onnx: FolderEntry<F>;
  /** The .onnx file's own name ("resnet18.onnx"). */
  fileName: string;
  /** The folder it was found in (the model's name when foolprint.json does not give one), or null for loose files. */
  folderName: string | null;
  /** Every other visible file in its folder, by name. */
  beside: ReadonlyMap<string, FolderEntry<F>>;
  manifest: FolderEntry<F> | null;
  labels: FolderEntry<F> | null;
}

const base = (parts: readonly string[]) => parts[parts.length - 1];

/**
 * The ONNX model among what was dropped or chosen, or null when there is none (or there is a TF.js
 * model.json, which wins, as on the host). Hidden files and macOS archive folders are not looked at.
 */
export function onnxFiles<F>(entries: readonly FolderEntry<F>[]): OnnxFiles<F> | null {
  const visible = entries
    .map((entry) => ({ entry, parts: pathParts(entry.path) }))
    .filter((e) => e.parts.length > 0 && !e.parts.some((part) => part.startsWith('.') || part === '__MACOSX'));
  if (visible.some((e) => base(e.parts) === MODEL_JSON)) return null;
  const models = visible.filter((e) => base(e.parts).toLowerCase().endsWith('.onnx'));
  if (models.length === 0) return null;
  if (models.length > 1) throw new ModelFolderError(`${models.length} .onnx files: choose one model`);
  const [model] = models;
  const folder = model.parts.slice(0, -1);
  const beside = new Map(
    visible
      .filter((e) => e !== model && e.parts.length === folder.length + 1 && folder.every((part, i) => e.parts[i] === part))
      .map((e) => [base(e.parts), e.entry] as const),
  );
  const labels = [...beside.keys()].filter((name) => LABELS_FILE.test(name)).sort();
  return {
    onnx: model.entry,
    fileName: base(model.parts),
    folderName: folder.length > 0 ? base(folder) : null,
    beside,
    manifest: beside.get(MANIFEST_JSON) ?? null,
    labels: labels.length > 0 ? beside.get(labels[0])! : null,
  };
}

/** Refuses an .onnx file larger than an upload may carry before it is read. */
export function checkOnnxSize<F>(files: OnnxFiles<F>): void {
  if (files.onnx.size > MAX_MODEL_UPLOAD_BYTES) {
    throw new ModelFolderError(`${files.fileName} is ${mib(files.onnx.size)} MiB, more than the ${mib(MAX_MODEL_UPLOAD_BYTES)} MiB an upload may carry: type its folder path below instead`);
  }
}

const mib = (n: number) => (n / 1024 / 1024).toFixed(1);

/**
 * The external data files to send with the graph: those its `locations` name, found beside it.
 * A location in a subfolder (ONNX allows one) or a file that was not dropped or chosen with the
 * model is an error naming it; the total is checked against the upload limits before anything
 * more is read. The entries come back named as the graph names them.
 */
export function onnxDataEntries<F>(files: OnnxFiles<F>, locations: readonly string[]): { name: string; entry: FolderEntry<F> }[] {
  const names = [...new Set(locations)];
  const nested = names.find((name) => !onnxFileNameSchema.safeParse(name).success);
  if (nested !== undefined) {
    throw new ModelFolderError(`${files.fileName} keeps weights in "${nested.slice(0, 80)}", which is not a file beside it: type the model's folder path below instead`);
  }
  const reserved = names.find((name) => name === MODEL_ONNX || name === MANIFEST_JSON);
  if (reserved) throw new ModelFolderError(`${files.fileName} keeps weights in a file named ${reserved}, a name the import needs for itself: type the model's folder path below instead`);
  const missing = names.filter((name) => !files.beside.has(name));
  if (missing.length > 0) {
    const list = missing.map((name) => `"${name}"`).join(', ');
    throw new ModelFolderError(`${files.fileName} keeps its weights in ${list}, not among the files dropped or chosen: drop the model's folder, or choose the .onnx file together with ${missing.length === 1 ? 'that file' : 'those files'}`);
  }
  const data = names.map((name) => ({ name, entry: files.beside.get(name)! }));
  const count = 1 + data.length + (files.manifest ? 1 : 0);
  if (count > MAX_MODEL_UPLOAD_FILES) throw new ModelFolderError(`${count} files: an upload may carry ${MAX_MODEL_UPLOAD_FILES} at most`);
  const bytes = files.onnx.size + data.reduce((sum, d) => sum + d.entry.size, 0) + (files.manifest?.size ?? 0);
  if (bytes > MAX_MODEL_UPLOAD_BYTES) {
    throw new ModelFolderError(`the model and its data files are ${mib(bytes)} MiB, more than the ${mib(MAX_MODEL_UPLOAD_BYTES)} MiB an upload may carry: type its folder path below instead`);
  }
  return data;
}
