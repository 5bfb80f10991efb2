/**
 * Which file the print window may open. The sheet set's `pdfPath` is read from the workspace's
 * sheet-set.json, which anyone can edit, so it is data, not a trusted path: it must resolve (symlinks
 * included) to a regular file inside the workspace that is a PDF, or nothing is opened.
 *
 * A local check for the Electron host; the general confinement of paths read from the workspace
 * belongs with the service (app/node), which should replace this when it lands.
 */
import { open, realpath } from 'node:fs/promises';
import path from 'node:path';
import { ApiError } from '../../app/api/errors.js';

const PDF_MAGIC = '%PDF-';

/** True when `file` is `dir` itself or below it (both already resolved). */
function isInside(dir: string, file: string): boolean {
  const relative = path.relative(dir, file);
  return relative !== '' && !relative.startsWith(`..${path.sep}`) && relative !== '..' && !path.isAbsolute(relative);
}

/**
 * The real path of the sheet PDF `pdfPath` (absolute, or relative to the workspace), or an
 * ApiError saying why it may not be printed. The returned path is the one to open: it has no
 * symlinks left to swap.
 */
export async function confinedSheetPdf(workspaceDir: string, pdfPath: string): Promise<string> {
  const refuse = (why: string) => new ApiError('failed', `cannot print ${pdfPath}: ${why}`);
  if (typeof pdfPath !== 'string' || pdfPath === '' || pdfPath.includes('\0')) throw refuse('not a file path');
  let workspace: string;
  let file: string;
  try {
    workspace = await realpath(workspaceDir);
    file = await realpath(path.resolve(workspace, pdfPath));
  } catch {
    throw refuse('no such file');
  }
  if (!isInside(workspace, file)) throw refuse(`it is outside the workspace ${workspace}`);
  if (path.extname(file).toLowerCase() !== '.pdf') throw refuse('not a .pdf file');
  const handle = await open(file, 'r').catch(() => null);
  if (!handle) throw refuse('cannot be read');
  try {
    if (!(await handle.stat()).isFile()) throw refuse('not a regular file');
    const head = Buffer.alloc(PDF_MAGIC.length);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    if (head.subarray(0, bytesRead).toString('latin1') !== PDF_MAGIC) throw refuse('not a PDF (no %PDF- header)');
  } finally {
    await handle.close();
  }
  return file;
}
