/**
 * The renderer's view of a dropped or chosen model folder (renderer/src/model-folder.ts): paths
 * re-rooted at model.json's folder whichever way the browser gave them, hidden files dropped, only
 * the files model.json needs sent, the contract's limits checked before anything is read.
 */
import { describe, expect, it } from 'vitest';
import { MAX_MODEL_UPLOAD_BYTES, MAX_MODEL_UPLOAD_FILES, modelUploadSchema } from '../app/api/models.js';
import { ModelFolderError, filesToUpload, listedShards, modelFolder } from '../renderer/src/model-folder.js';
import { droppedEntries } from '../renderer/src/dropped-entries.js';
import type { DroppedEntry } from '../renderer/src/dropped-entries.js';

const entry = (p: string, size = 10) => ({ path: p, size, file: p });

describe('modelFolder', () => {
  it.each([
    ['a chosen folder (webkitRelativePath)', ['my-model/model.json', 'my-model/group1-shard1of1.bin', 'my-model/foolprint.json'], 'my-model'],
    ['a dropped folder (fullPath)', ['/my-model/model.json', '/my-model/group1-shard1of1.bin', '/my-model/foolprint.json'], 'my-model'],
    ['dropped loose files', ['/model.json', '/group1-shard1of1.bin', '/foolprint.json'], null],
    ['a folder one level up (model.json in a subfolder)', ['export/tfjs/model.json', 'export/tfjs/group1-shard1of1.bin', 'export/tfjs/foolprint.json', 'export/README.md'], 'tfjs'],
  ])('re-roots %s at the folder holding model.json', (_, paths, name) => {
    const folder = modelFolder(paths.map((p) => entry(p)));
    expect(folder.name).toBe(name);
    expect(folder.entries.map((e) => e.path).sort()).toEqual(['foolprint.json', 'group1-shard1of1.bin', 'model.json']);
  });

  it('keeps shards in subfolders and leaves hidden files out', () => {
    const folder = modelFolder(['m/model.json', 'm/weights/shard1.bin', 'm/.DS_Store', 'm/.git/config', '__MACOSX/m/model.json'].map((p) => entry(p)));
    expect(folder.entries.map((e) => e.path)).toEqual(['model.json', 'weights/shard1.bin']);
  });

  it('says why when there is no model.json or several at one level', () => {
    expect(() => modelFolder([entry('m/weights.bin')])).toThrow(new ModelFolderError('no model.json in what was dropped or chosen: choose the folder holding model.json, its weight shards and foolprint.json'));
    expect(() => modelFolder([entry('a/model.json'), entry('b/model.json')])).toThrow(/several model\.json files at the same level/);
  });
});

describe('listedShards and filesToUpload', () => {
  const modelJson = JSON.stringify({ modelTopology: {}, weightsManifest: [{ paths: ['group1-shard1of2.bin', './weights/group1-shard2of2.bin'], weights: [] }] });

  it('reads the shard paths model.json lists, null for what is not a model.json', () => {
    expect(listedShards(modelJson)).toEqual(['group1-shard1of2.bin', 'weights/group1-shard2of2.bin']);
    expect(listedShards('{"truncated": ')).toBeNull();
    expect(listedShards('{"hello": 1}')).toBeNull();
  });

  it('sends only the files the model needs, and what it sends passes the contract', () => {
    const folder = modelFolder(['m/model.json', 'm/group1-shard1of2.bin', 'm/weights/group1-shard2of2.bin', 'm/foolprint.json', 'm/model.h5', 'm/README.md'].map((p) => entry(p)));
    const chosen = filesToUpload(folder, listedShards(modelJson));
    expect(chosen.map((e) => e.path)).toEqual(['model.json', 'group1-shard1of2.bin', 'weights/group1-shard2of2.bin', 'foolprint.json']);
    expect(modelUploadSchema.safeParse({ name: folder.name, files: chosen.map((e) => ({ path: e.path, base64: '' })) }).success).toBe(true);
    // An unreadable model.json: everything goes, and the host's loader says what is wrong.
    expect(filesToUpload(folder, null)).toHaveLength(6);
  });

  it('refuses more files or bytes than an upload may carry before reading any', () => {
    const many = modelFolder([entry('model.json'), ...Array.from({ length: MAX_MODEL_UPLOAD_FILES }, (_, i) => entry(`x${i}.bin`))]);
    expect(() => filesToUpload(many, null)).toThrow(`${MAX_MODEL_UPLOAD_FILES + 1} files: an upload may carry ${MAX_MODEL_UPLOAD_FILES} at most`);
    const big = modelFolder([entry('model.json'), entry('weights.bin', MAX_MODEL_UPLOAD_BYTES)]);
    expect(() => filesToUpload(big, ['weights.bin'])).toThrow(/^the model is 40\.0 MiB, more than the 40\.0 MiB an upload may carry/);
  });
});

describe('droppedEntries', () => {
  type FakeFile = { name: string; size: number };
  const fileEntry = (fullPath: string, size: number, broken = false): DroppedEntry<FakeFile> => ({
    isFile: true,
    isDirectory: false,
    fullPath,
    file: (ok, fail) => setTimeout(() => (broken ? fail?.(new Error(`cannot read ${fullPath}`)) : ok({ name: fullPath.split('/').pop() ?? '', size }))),
  });
  /** A directory whose reader answers in batches of `batch`, then an empty batch, as Chromium's does. */
  const dirEntry = (fullPath: string, children: DroppedEntry<FakeFile>[], batch = 100): DroppedEntry<FakeFile> => ({
    isFile: false,
    isDirectory: true,
    fullPath,
    createReader: () => {
      let next = 0;
      return { readEntries: (ok) => setTimeout(() => ok(children.slice(next, (next += batch)))) };
    },
  });

  it('walks a dropped folder, subfolders and every batch of a large one', async () => {
    const shards = Array.from({ length: 150 }, (_, i) => fileEntry(`/my-model/shards/s${i}.bin`, i));
    const dropped = dirEntry('/my-model', [fileEntry('/my-model/model.json', 500), dirEntry('/my-model/shards', shards), fileEntry('/my-model/foolprint.json', 90)]);
    const found = await droppedEntries([dropped]);
    expect(found).toHaveLength(152);
    expect(found.find((e) => e.path === '/my-model/shards/s149.bin')?.size).toBe(149);
    const folder = modelFolder(found);
    expect(folder.name).toBe('my-model');
    expect(folder.entries.slice(0, 2).map((e) => e.path)).toEqual(['model.json', 'shards/s0.bin']);
  });

  it('takes loose dropped files as they are, and fails with the browser\'s error when a file cannot be read', async () => {
    expect((await droppedEntries([fileEntry('/model.json', 1), fileEntry('/weights.bin', 2)])).map((e) => e.path)).toEqual(['/model.json', '/weights.bin']);
    await expect(droppedEntries([dirEntry('/m', [fileEntry('/m/model.json', 1, true)])])).rejects.toThrow('cannot read /m/model.json');
  });
});
