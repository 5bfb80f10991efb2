/**
 * Class names are matched by name (issue 7, item 2): the rule itself (pure), the loader, and the
 * repro through the built CLI: the built-in LeNet's weights with a foolprint.json whose labels are
 * zero … nine, digits in sub-folders zero/ … nine/ or a labels.csv naming them, must score exactly
 * what numeric labels score (before: top-1 0.125 against 0.975, exit 0).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClassLabelMatcher, labelFromFileName } from '../app/data/class-labels.js';
import { DatasetError } from '../app/data/errors.js';
import { ApiError, createApiClient } from '../app/api/index.js';
import { createFoolprintService } from '../app/node/service.js';
import { loadDataset } from '../app/node/dataset-loader.js';
import { foolprint, root } from './cli-harness.js';

const NAMES = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];

describe('ClassLabelMatcher', () => {
  const matcher = new ClassLabelMatcher(['cat', 'Stop sign', 'dog', 'traffic light']);
  it.each([
    ['cat', 0],
    ['dog', 2],
    ['CAT', 0],
    [' Dog ', 2],
    ['stop sign', 1],
    ['STOPSIGN', 1],
    ['stop_sign', 1],
    ['Traffic_Light', 3],
    ['1', 1],
    ['3', 3],
  ])('%j → %i', (written, index) => {
    expect(matcher.indexOf(written, 'sub-folder')).toBe(index);
  });
  it('a name the model lacks names itself and every label', () => {
    expect(() => matcher.indexOf('horse', 'sub-folder')).toThrow(DatasetError);
    expect(() => matcher.indexOf('horse', 'sub-folder')).toThrow('sub-folder label "horse" is not one of the model\'s labels: 0=cat, 1=Stop sign, 2=dog, 3=traffic light');
  });
  it('an index past the last class is refused', () => {
    expect(() => matcher.indexOf('4', 'labels.csv')).toThrow(/labels\.csv label 4 is not a class index of the model \(0-3/);
  });
  it('exact spelling wins over a loose match; two loose matches are refused', () => {
    const m = new ClassLabelMatcher(['Apple', 'apple', 'APPLE pie']);
    expect(m.indexOf('apple', 'x')).toBe(1);
    expect(m.indexOf('Apple', 'x')).toBe(0);
    expect(() => m.indexOf('aPPle', 'x')).toThrow(/matches several of the model's labels: 0=Apple, 1=apple/);
    expect(m.indexOf('apple_pie', 'x')).toBe(2);
  });
  it('a number that is also another class\'s name is refused as ambiguous', () => {
    const m = new ClassLabelMatcher(['1', '2', '3']);
    expect(m.indexOf('0', 'x')).toBe(0);
    expect(() => m.indexOf('2', 'x')).toThrow(/ambiguous: class index 2 is "3", but class 1 is named "2"/);
  });
  it('file names carry numbers or names', () => {
    const digits = new ClassLabelMatcher(NAMES);
    expect(labelFromFileName('seven_003.png', digits)).toBe(7);
    expect(labelFromFileName('Seven.png', digits)).toBe(7);
    expect(labelFromFileName('7_003.png', digits)).toBe(7);
    expect(labelFromFileName('img_label-two.png', digits)).toBe(2);
    expect(labelFromFileName('img_class9.png', digits)).toBe(9);
    expect(labelFromFileName('photo_003.png', digits)).toBeNull();
    expect(labelFromFileName('12_003.png', digits)).toBeNull();
  });
});

describe('datasets that name their classes', () => {
  let folder: string;
  let modelFolder: string;
  beforeAll(async () => {
    folder = mkdtempSync(path.join(tmpdir(), 'fp-named-'));
    // The built-in weights under a manifest whose labels are words.
    modelFolder = path.join(folder, 'model');
    mkdirSync(modelFolder);
    const builtin = path.join(root, 'assets', 'models', 'lenet-mnist');
    for (const file of ['model.json', 'weights.bin']) copyFileSync(path.join(builtin, file), path.join(modelFolder, file));
    const manifest = JSON.parse(readFileSync(path.join(builtin, 'foolprint.json'), 'utf8'));
    writeFileSync(path.join(modelFolder, 'foolprint.json'), JSON.stringify({ ...manifest, labels: NAMES }));
    // 40 sample digits, three ways: numeric sub-folders, named sub-folders, a labels.csv of names.
    const samples = await loadDataset('samples', { limit: 40 });
    const rows = ['filename,label'];
    for (let i = 0; i < samples.count; i++) {
      const png = await sharp(Buffer.from(samples.images.subarray(i * 784, (i + 1) * 784).map((v) => Math.round(v * 255))), { raw: { width: 28, height: 28, channels: 1 } }).png().toBuffer();
      const digit = samples.labels[i];
      for (const dir of [path.join(folder, 'numbers', String(digit)), path.join(folder, 'names', NAMES[digit]), path.join(folder, 'csv')]) {
        mkdirSync(dir, { recursive: true });
        writeFileSync(path.join(dir, `d${String(i).padStart(3, '0')}.png`), png);
      }
      rows.push(`d${String(i).padStart(3, '0')}.png,${NAMES[digit]}`);
    }
    writeFileSync(path.join(folder, 'csv', 'labels.csv'), rows.join('\n'));
    // And a class the model lacks.
    for (const dir of ['eleven', 'one']) {
      mkdirSync(path.join(folder, 'eleven', dir), { recursive: true });
      copyFileSync(path.join(folder, 'csv', 'd000.png'), path.join(folder, 'eleven', dir, 'a.png'));
    }
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('the loader matches sub-folder names to the model\'s labels, not in alphabetical order', async () => {
    const d = await loadDataset(path.join(folder, 'names'), { classNames: NAMES });
    const numbers = await loadDataset(path.join(folder, 'numbers'));
    const byId = (ds: typeof d) => new Map(ds.ids.map((id, i) => [id.split('/')[1], ds.labels[i]]));
    expect(byId(d)).toEqual(byId(numbers));
    expect(d.classNames).toEqual(NAMES);
  });

  it('eval gives the same top-1 with named sub-folders, a labels.csv of names and numeric sub-folders', async () => {
    const runs = await Promise.all(['numbers', 'names', 'csv'].map((data) => foolprint('eval', '--model', modelFolder, '--data', path.join(folder, data), '--json')));
    for (const run of runs) expect(run.code, run.stderr).toBe(0);
    const [numbers, names, csv] = runs.map((r) => JSON.parse(r.stdout) as { count: number; top1: number });
    expect(numbers.count).toBe(40);
    expect(numbers.top1).toBeGreaterThan(0.9);
    expect(names.top1).toBe(numbers.top1);
    expect(csv.top1).toBe(numbers.top1);
  });

  it('the API matches names too: samples.list captions and labels, and an unknown name refused', async () => {
    const service = createFoolprintService({ workspaceDir: path.join(folder, 'workspace'), checkOutputs: true, workers: 1 });
    try {
      const api = createApiClient(service);
      const model = await api.models.import({ path: modelFolder, id: 'named-digits' });
      expect(model.labels).toEqual(NAMES);
      const [names, numbers] = await Promise.all(['names', 'numbers'].map((data) => api.samples.list({ modelId: 'named-digits', images: { kind: 'dataset', path: path.join(folder, data) }, limit: 40 })));
      const byFile = (page: typeof names) => new Map(page.items.map((item) => [item.imageId.split('/')[1], item.label]));
      expect(byFile(names)).toEqual(byFile(numbers));
      expect(names.classNames).toEqual(NAMES);
      const error = await api.samples.list({ modelId: 'named-digits', images: { kind: 'dataset', path: path.join(folder, 'eleven') } }).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(ApiError);
      expect((error as ApiError).code).toBe('invalid-input');
      expect((error as ApiError).message).toMatch(/^sub-folder label "eleven" is not one of the model's labels: 0=zero, 1=one/);
    } finally {
      await service.close();
    }
  }, 60_000);

  it('a class the model does not have is an error naming it and the model\'s labels', async () => {
    const run = await foolprint('eval', '--model', modelFolder, '--data', path.join(folder, 'eleven'));
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toBe('foolprint: sub-folder label "eleven" is not one of the model\'s labels: 0=zero, 1=one, 2=two, 3=three, 4=four, 5=five, 6=six, 7=seven, 8=eight, 9=nine');
  });
});
