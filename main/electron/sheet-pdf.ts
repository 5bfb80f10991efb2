/**
 * Which file the print window may open. The sheet set's `pdfPath` is read from the workspace's
 * sheet-set.json, which anyone can edit, so it is data, not a trusted path: it must resolve (symlinks
 * included) to a regular file inside the workspace that is a PDF, or nothing is opened.
 * The containment is the service's own `confinedPath` (app/node/confined-path.ts); this adds what
 * printing needs besides: a .pdf that starts like one.
 */
import { open } from 'node:fs/promises';
import path from 'node:path';
import { ApiError } from '../../app/api/errors.js';
import { ConfinedPathError, confinedPath } from '../../app/node/confined-path.js';

const PDF_MAGIC = '%PDF-';

/**
 * The real path of the sheet PDF `pdfPath` (absolute, or relative to the workspace), or an
 * ApiError saying why it may not be printed. The returned path is the one to open: it has no
 * symlinks left to swap.
 */
export async function confinedSheetPdf(workspaceDir: string, pdfPath: string): Promise<string> {
  const refuse = (why: string) => new ApiError('failed', `cannot print ${pdfPath}: ${why}`);
  if (typeof pdfPath !== 'string' || pdfPath === '' || pdfPath.includes('\0')) throw refuse('not a file path');
  const file = await confinedPath(workspaceDir, pdfPath, { what: 'the sheet PDF', folderName: 'the workspace' }).catch((error: unknown) => {
    if (!(error instanceof ConfinedPathError)) throw error;
    if (error.reason === 'outside') throw refuse(`it is outside the workspace ${workspaceDir}`);
    // 'missing' covers both an absent path and one that is not a file (a folder named .pdf).
    throw refuse(/ is not a (file|folder)$/.test(error.message) ? 'not a regular file' : 'no such file');
  });
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
