/**
 * Uploading a TF.js model folder from the Models screen: files from "Choose folder…" (an
 * `<input webkitdirectory>`, each File with its webkitRelativePath) or from a drop (folders walked
 * in dropped-entries.ts), narrowed to what the model needs (model-folder.ts), read as base64 and
 * sent with models.upload. The host loads the model before keeping it; its message is shown as it is.
 */
import type { FoolprintApi } from '../../../app/api/client.js';
import type { ModelInfo } from '../../../app/api/models.js';
import { bytesToBase64 } from '../base64.js';
import { MODEL_JSON, filesToUpload, listedShards, modelFolder } from '../model-folder.js';
import type { FolderEntry } from '../model-folder.js';

export type UploadPhase = 'idle' | 'reading' | 'uploading';

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

  constructor(private readonly api: FoolprintApi) {}

  /** Reads and uploads the model among `entries`; returns its info, or null after showing why not. */
  async upload(entries: FolderEntry<File>[]): Promise<ModelInfo | null> {
    if (this.busy) return null;
    this.error = null;
    this.uploaded = null;
    try {
      this.phase = 'reading';
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
}
