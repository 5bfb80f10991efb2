/**
 * Every file under what was dropped, folders walked through the File and Directory Entries API
 * (DataTransferItem.webkitGetAsEntry; Chromium, Electron, Firefox and Safari all have it). Typed
 * structurally with just what the walk uses, so it runs on fake entries in unit tests too.
 */
import type { FolderEntry } from './model-folder.js';

export interface DroppedEntry<F> {
  readonly isFile: boolean;
  readonly isDirectory: boolean;
  /** "/my-model/model.json" for a file inside a dropped folder. */
  readonly fullPath: string;
  /** On file entries. */
  file?(success: (file: F) => void, failure?: (error: unknown) => void): void;
  /** On directory entries. */
  createReader?(): { readEntries(success: (batch: DroppedEntry<F>[]) => void, failure?: (error: unknown) => void): void };
}

export async function droppedEntries<F extends { size: number }>(entries: readonly DroppedEntry<F>[]): Promise<FolderEntry<F>[]> {
  const found: FolderEntry<F>[] = [];
  async function walk(entry: DroppedEntry<F>): Promise<void> {
    if (entry.isFile && entry.file) {
      const file = await new Promise<F>((resolve, reject) => entry.file?.(resolve, reject));
      found.push({ path: entry.fullPath, size: file.size, file });
    } else if (entry.isDirectory && entry.createReader) {
      const reader = entry.createReader();
      // readEntries answers in batches (100 at a time in Chromium) until it answers an empty one.
      for (;;) {
        const batch = await new Promise<DroppedEntry<F>[]>((resolve, reject) => reader.readEntries(resolve, reject));
        if (batch.length === 0) break;
        for (const child of batch) await walk(child);
      }
    }
  }
  for (const entry of entries) await walk(entry);
  return found;
}
