import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { storedZip } from '../app/node/stored-zip.js';

const UNZIP = '/usr/bin/unzip';

describe.skipIf(!existsSync(UNZIP))('storedZip', () => {
  it('writes an archive Info-ZIP tests clean and extracts byte for byte', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'foolprint-zip-'));
    try {
      const entries = [
        { name: 'sheet.manifest.json', data: Buffer.from('{"sheetId": "s0"}\n') },
        { name: 'sheet-2.manifest.json', data: Buffer.from(JSON.stringify({ sheetId: 's1', caption: 'ε = 8/255' })) },
        { name: 'empty.txt', data: Buffer.alloc(0) },
      ];
      const file = path.join(dir, 'manifests.zip');
      await writeFile(file, storedZip(entries, new Date(2026, 11, 2, 14, 36, 10)));
      expect(execFileSync(UNZIP, ['-t', file], { encoding: 'utf8' })).toMatch(/No errors detected/);
      const listing = execFileSync(UNZIP, ['-l', file], { encoding: 'utf8' });
      expect(listing).toMatch(/2026-12-02 14:36\s+sheet\.manifest\.json/);
      execFileSync(UNZIP, ['-q', file, '-d', path.join(dir, 'out')]);
      for (const entry of entries) expect(await readFile(path.join(dir, 'out', entry.name))).toEqual(entry.data);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
