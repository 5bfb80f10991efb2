/** Saving what the host sent (PDF, PNG, CSV, JSON, HTML) through the browser's own download. */
import type { FileBytes } from '../../app/api/common.js';
import { base64ToBytes } from './base64.js';

export function fileBlob(file: FileBytes): Blob {
  return new Blob([base64ToBytes(file.base64) as Uint8Array<ArrayBuffer>], { type: file.mimeType });
}

export function downloadFile(file: FileBytes): void {
  const url = URL.createObjectURL(fileBlob(file));
  const link = document.createElement('a');
  link.href = url;
  link.download = file.name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/**
 * Printing in browser mode: open the exported PDF in the browser's viewer and print from there, since
 * Chromium's own page printing is not exact in size (A4 comes out 594.96x841.92 pt). Returns false when
 * the window was blocked, so the caller can offer the download instead.
 */
export function openForPrinting(file: FileBytes): boolean {
  const url = URL.createObjectURL(fileBlob(file));
  const opened = window.open(url, '_blank');
  setTimeout(() => URL.revokeObjectURL(url), 10 * 60_000);
  return opened !== null;
}
