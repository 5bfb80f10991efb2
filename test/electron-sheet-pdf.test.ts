/**
 * The Electron host prints only PDFs inside the workspace (issue 7, item 3): the sheet set's
 * pdfPath is read from an editable sheet-set.json, so it is resolved with its symlinks on real files
 * and refused when it leaves the workspace or is not a PDF.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { confinedSheetPdf } from '../main/electron/sheet-pdf.js';

describe('confinedSheetPdf', () => {
  let dir: string;
  let workspace: string;
  let sheets: string;
  let outsidePdf: string;

  beforeAll(async () => {
    dir = realpathSync(await mkdtemp(path.join(os.tmpdir(), 'fp-sheet-pdf-')));
    workspace = path.join(dir, 'workspace');
    sheets = path.join(workspace, 'experiments', 'e1', 'sheets', 's1');
    await mkdir(sheets, { recursive: true });
    await writeFile(path.join(sheets, 'sheet.pdf'), '%PDF-1.7\n%\xe2\xe3\xcf\xd3\n');
    await writeFile(path.join(sheets, 'SHEET2.PDF'), '%PDF-1.4\n');
    await writeFile(path.join(sheets, 'not-a-pdf.pdf'), '#!/bin/sh\necho hi\n');
    await writeFile(path.join(sheets, 'empty.pdf'), '');
    await writeFile(path.join(sheets, 'script.sh'), '%PDF-1.7 but a script\n');
    await mkdir(path.join(sheets, 'folder.pdf'));
    outsidePdf = path.join(dir, 'outside.pdf');
    await writeFile(outsidePdf, '%PDF-1.7\n');
    await symlink(outsidePdf, path.join(sheets, 'link-out.pdf'));
    await symlink(path.join(sheets, 'sheet.pdf'), path.join(sheets, 'link-in.pdf'));
    await symlink(workspace, path.join(dir, 'workspace-link'));
    // A workspace-named sibling: a prefix test on strings would take it for the workspace.
    await mkdir(path.join(dir, 'workspace-evil'));
    await writeFile(path.join(dir, 'workspace-evil', 'sheet.pdf'), '%PDF-1.7\n');
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('returns the real path of a PDF inside the workspace (absolute, relative, through symlinks)', async () => {
    const pdf = path.join(sheets, 'sheet.pdf');
    expect(await confinedSheetPdf(workspace, pdf)).toBe(pdf);
    expect(await confinedSheetPdf(workspace, 'experiments/e1/sheets/s1/sheet.pdf')).toBe(pdf);
    expect(await confinedSheetPdf(workspace, path.join(sheets, 'link-in.pdf'))).toBe(pdf);
    expect(await confinedSheetPdf(path.join(dir, 'workspace-link'), path.join(dir, 'workspace-link/experiments/e1/sheets/s1/sheet.pdf'))).toBe(pdf);
    expect(await confinedSheetPdf(workspace, path.join(sheets, 'SHEET2.PDF'))).toBe(path.join(sheets, 'SHEET2.PDF'));
  });

  // Paths as a sheet-set.json could hold them: absolute, or relative to the workspace.
  it.each([
    ['/etc/passwd', /cannot print \/etc\/passwd: it is outside the workspace/],
    ['../outside.pdf', /outside the workspace/],
    ['experiments/../../outside.pdf', /outside the workspace/],
    ['experiments/e1/sheets/s1/link-out.pdf', /outside the workspace/],
    ['../workspace-evil/sheet.pdf', /outside the workspace/],
    ['.', /outside the workspace/],
    ['experiments/e1/sheets/s1/script.sh', /not a \.pdf file/],
    ['experiments/e1/sheets/s1/not-a-pdf.pdf', /not a PDF \(no %PDF- header\)/],
    ['experiments/e1/sheets/s1/empty.pdf', /not a PDF/],
    ['experiments/e1/sheets/s1/folder.pdf', /not a regular file/],
    ['experiments/e1/sheets/s1/missing.pdf', /no such file/],
    ['', /not a file path/],
    ['experiments/e1/sheets/s1/sheet.pdf\0.sh', /not a file path/],
  ])('refuses %j', async (pdfPath, message) => {
    await expect(confinedSheetPdf(workspace, pdfPath)).rejects.toMatchObject({ code: 'failed', message: expect.stringMatching(message) });
  });

  it('refuses the absolute path of a symlink that leads out', async () => {
    await expect(confinedSheetPdf(workspace, path.join(sheets, 'link-out.pdf'))).rejects.toThrow(/outside the workspace/);
  });
});
