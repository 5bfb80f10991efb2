/**
 * Uploading a model from the Models screen. An .onnx file (dropped or chosen) is first read by the
 * host (models.inspectOnnx), then waits in `onnx` for the answers the graph cannot give, and is
 * uploaded as model.onnx with the foolprint.json they make (onnx-import.ts). A TF.js model folder: files from "Choose folder…" (an
 * `<input webkitdirectory>`, each File with its webkitRelativePath) or from a drop (folders walked
 * in dropped-entries.ts), narrowed to what the model needs (model-folder.ts), read as base64 and
 * sent with models.upload. The host loads the model before keeping it; its message is shown as it is.
 */
import type { FoolprintApi } from '../../../app/api/client.js';
import { MAX_MODEL_UPLOAD_BYTES } from '../../../app/api/models.js';
import type { ModelInfo, OnnxInspection } from '../../../app/api/models.js';
import { onnxManifest } from '../onnx-import.js';
import type { OnnxAnswers } from '../onnx-import.js';
import { bytesToBase64 } from '../base64.js';
import { MODEL_JSON, filesToUpload, listedShards, modelFolder } from '../model-folder.js';
import type { FolderEntry } from '../model-folder.js';

export type UploadPhase = 'idle' | 'reading' | 'inspecting' | 'uploading';

/** An .onnx file read and inspected, waiting for the person's answers. */
export interface PendingOnnx {
  fileName: string;
  base64: string;
  inspection: OnnxInspection;
}

/** The one .onnx file among what was dropped or chosen, when there is no TF.js model.json. */
function onnxEntry(entries: readonly FolderEntry<File>[]): FolderEntry<File> | null {
  const base = (e: FolderEntry<File>) => e.path.split('/').pop() ?? '';
  if (entries.some((e) => base(e) === MODEL_JSON)) return null;
  const onnx = entries.filter((e) => base(e).toLowerCase().endsWith('.onnx') && !base(e).startsWith('.'));
  if (onnx.length > 1) throw new Error(`${onnx.length} .onnx files: choose one model`);
  return onnx[0] ?? null;
}

/** Files from an `<input type=file>`: with webkitdirectory they carry the chosen folder's relative path. */
export function chosenEntries(files: readonly File[]): FolderEntry<File>[] {
  return files.map((file) => ({ path: file.webkitRelativePath || file.name, size: file.size, file }));
}

export class ModelUpload {
  phase = $state<UploadPhase>('idle');
  /** Files read so far and in all, while reading. */
  done = $state(0);
  total = $state(0);
  error = $state<string | null>(null);
  /** The last model uploaded, for the success line. */
  uploaded = $state.raw<ModelInfo | null>(null);
  readonly busy = $derived(this.phase !== 'idle');
  /** An .onnx file waiting for its preprocessing and labels. */
  onnx = $state.raw<PendingOnnx | null>(null);

  constructor(private readonly api: FoolprintApi) {}

  /** Reads and uploads the model among `entries`; returns its info, or null after showing why not. */
  async upload(entries: FolderEntry<File>[]): Promise<ModelInfo | null> {
    if (this.busy) return null;
    this.error = null;
    this.uploaded = null;
    this.onnx = null;
    try {
      this.phase = 'reading';
      const onnx = onnxEntry(entries);
      if (onnx) {
        this.done = 0;
        this.total = 1;
        const fileName = onnx.path.split('/').pop()!;
        if (onnx.size > MAX_MODEL_UPLOAD_BYTES) {
          throw new Error(`${fileName} is ${(onnx.size / 1024 / 1024).toFixed(1)} MiB, more than the ${MAX_MODEL_UPLOAD_BYTES / 1024 / 1024} MiB an upload may carry: type its path below instead`);
        }
        const base64 = bytesToBase64(new Uint8Array(await onnx.file.arrayBuffer()));
        this.done = 1;
        this.phase = 'inspecting';
        this.onnx = { fileName, base64, inspection: await this.api.models.inspectOnnx({ name: fileName, base64 }) };
        return null;
      }
      const folder = modelFolder(entries);
      const modelJson = folder.entries.find((e) => e.path === MODEL_JSON);
      const shards = modelJson ? listedShards(await modelJson.file.text()) : null;
      const chosen = filesToUpload(folder, shards);
      this.done = 0;
      this.total = chosen.length;
      const files = [];
      for (const entry of chosen) {
        files.push({ path: entry.path, base64: bytesToBase64(new Uint8Array(await entry.file.arrayBuffer())) });
        this.done++;
      }
      this.phase = 'uploading';
      const info = await this.api.models.upload({ ...(folder.name ? { name: folder.name } : {}), files });
      this.uploaded = info;
      return info;
    } catch (error) {
      this.error = `Could not import the model: ${error instanceof Error ? error.message : String(error)}`;
      return null;
    } finally {
      this.phase = 'idle';
    }
  }

  /** Uploads the waiting .onnx file with the foolprint.json made from `answers`; its info, or null after showing why not. */
  async importOnnx(answers: OnnxAnswers): Promise<ModelInfo | null> {
    const pending = this.onnx;
    if (this.busy || !pending) return null;
    this.error = null;
    try {
      const manifest = onnxManifest(pending.inspection, answers);
      this.phase = 'uploading';
      const info = await this.api.models.upload({
        name: manifest.name,
        files: [
          { path: 'model.onnx', base64: pending.base64 },
          { path: 'foolprint.json', base64: bytesToBase64(new TextEncoder().encode(JSON.stringify(manifest, null, 2))) },
        ],
      });
      this.uploaded = info;
      this.onnx = null;
      return info;
    } catch (error) {
      this.error = `Could not import the model: ${error instanceof Error ? error.message : String(error)}`;
      return null;
    } finally {
      this.phase = 'idle';
    }
  }
}
