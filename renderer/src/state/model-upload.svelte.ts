/**
 * Uploading a model from the Models screen. An .onnx file (dropped or chosen, alone, with the files
 * beside it or in its folder: onnx-files.ts) is sent with the external data files its graph names.
 * With a foolprint.json beside it, it is uploaded at once under that manifest; without one, it is
 * first read by the host (models.inspectOnnx), then waits in `onnx` for the answers the graph cannot
 * give (a labels file beside it fills in the labels), and is uploaded as model.onnx with the
 * foolprint.json they make (onnx-import.ts). A TF.js model folder: files from "Choose folder…" (an
 * `<input webkitdirectory>`, each File with its webkitRelativePath) or from a drop (folders walked
 * in dropped-entries.ts), narrowed to what the model needs (model-folder.ts), read as base64 and
 * sent with models.upload. The host loads the model before keeping it; its message is shown as it is.
 */
import type { FoolprintApi } from '../../../app/api/client.js';
import type { ModelInfo, OnnxInspection } from '../../../app/api/models.js';
import { onnxExternalDataNames } from '../../../app/models/onnx/onnx-external.js';
import { onnxManifest, parseLabelsFile } from '../onnx-import.js';
import type { OnnxAnswers } from '../onnx-import.js';
import { MODEL_ONNX, checkOnnxSize, onnxDataEntries, onnxFiles } from '../onnx-files.js';
import type { OnnxFiles } from '../onnx-files.js';
import { bytesToBase64 } from '../base64.js';
import { MANIFEST_JSON, MODEL_JSON, filesToUpload, listedShards, modelFolder } from '../model-folder.js';
import type { FolderEntry } from '../model-folder.js';

export type UploadPhase = 'idle' | 'reading' | 'inspecting' | 'uploading';

/** A file sent with a call: its path in the model's folder and its bytes. */
interface UploadFile {
  path: string;
  base64: string;
}

/** An .onnx file read and inspected, waiting for the person's answers. */
export interface PendingOnnx {
  fileName: string;
  base64: string;
  /** The external data files its graph names, sent with it. */
  externalData: UploadFile[];
  inspection: OnnxInspection;
  /** Class names from a labels file beside it, or why that file was not used. */
  labels: { file: string; names: string[] } | null;
  labelsError: string | null;
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
  /** Whether that model came with its own foolprint.json, taken as it was (an ONNX model imported at once). */
  uploadedWithManifest = $state(false);
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
      this.uploadedWithManifest = false;
      const onnx = onnxFiles(entries);
      if (onnx) return await this.uploadOnnx(onnx);
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

  /**
   * Reads an .onnx file and the data files its graph names. With its own foolprint.json: uploads
   * them with it and returns the info. Without: has the host read the graph and leaves it pending
   * for the form (null).
   */
  private async uploadOnnx(onnx: OnnxFiles<File>): Promise<ModelInfo | null> {
    checkOnnxSize(onnx);
    this.done = 0;
    this.total = 1;
    const bytes = new Uint8Array(await onnx.onnx.file.arrayBuffer());
    const data = onnxDataEntries(onnx, onnxExternalDataNames(bytes, onnx.fileName).map((n) => n.location));
    this.done = 1;
    this.total = 1 + data.length;
    const externalData: UploadFile[] = [];
    for (const { name, entry } of data) {
      externalData.push({ path: name, base64: bytesToBase64(new Uint8Array(await entry.file.arrayBuffer())) });
      this.done++;
    }
    const base64 = bytesToBase64(bytes);
    if (onnx.manifest) {
      // The manifest is the host's to check, with the schema every foolprint.json goes through: a bad one is its one-line error, and nothing is kept.
      const manifest = bytesToBase64(new Uint8Array(await onnx.manifest.file.arrayBuffer()));
      this.phase = 'uploading';
      const info = await this.api.models.upload({
        ...(onnx.folderName ? { name: onnx.folderName } : {}),
        files: [{ path: MODEL_ONNX, base64 }, ...externalData, { path: MANIFEST_JSON, base64: manifest }],
      });
      this.uploaded = info;
      this.uploadedWithManifest = true;
      return info;
    }
    this.phase = 'inspecting';
    const inspection = await this.api.models.inspectOnnx({ name: onnx.fileName, base64, ...(externalData.length > 0 ? { externalData } : {}) });
    let labels: PendingOnnx['labels'] = null;
    let labelsError: string | null = null;
    if (onnx.labels) {
      const file = onnx.labels.path.split('/').pop()!;
      try {
        labels = { file, names: parseLabelsFile(await onnx.labels.file.text(), inspection.classes, file) };
      } catch (error) {
        labelsError = error instanceof Error ? error.message : String(error);
      }
    }
    this.onnx = { fileName: onnx.fileName, base64, externalData, inspection, labels, labelsError };
    return null;
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
          { path: MODEL_ONNX, base64: pending.base64 },
          ...pending.externalData,
          { path: MANIFEST_JSON, base64: bytesToBase64(new TextEncoder().encode(JSON.stringify(manifest, null, 2))) },
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
