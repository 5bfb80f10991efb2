import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import sharp from 'sharp';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { registerSheet } from '../main/cli/commands/sheet.js';
import { attackFileNames } from '../app/experiments/attack-record.js';
import type { AttackRecord } from '../app/experiments/attack-record.js';
import { parseLabelsCsv, SheetSourceError } from '../app/node/sheet-sources.js';
import { mmToPixels } from '../app/physical/layout.js';
import { parseSheetManifestText } from '../app/physical/sheet-manifest.js';
import type { SheetManifest } from '../app/physical/sheet-manifest.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'foolprint-sheet-cli-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
afterEach(() => {
  process.exitCode = undefined;
  vi.restoreAllMocks();
});

/** Runs `foolprint sheet ...` in-process; returns stdout, stderr and the exit code `guarded` set. */
async function runSheet(args: string[]): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  const program = new Command().exitOverride();
  registerSheet(program);
  try {
    await program.parseAsync(['sheet', ...args], { from: 'user' });
  } finally {
    vi.restoreAllMocks();
  }
  const exitCode = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { stdout, stderr, exitCode };
}

/** A 28x28 grey image whose pixel (x, y) is (7x + 3y + seed) mod 256: every block distinct. */
function pattern(seed: number, size = 28): Uint8Array {
  const data = new Uint8Array(size * size);
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) data[y * size + x] = (7 * x + 3 * y + seed) % 256;
  return data;
}

async function writeGreyPng(file: string, data: Uint8Array, size = 28): Promise<void> {
  await sharp(Buffer.from(data), { raw: { width: size, height: size, channels: 1 } }).png().toFile(file);
}

/** The printed value at the centre of every source pixel of a cell, read from the page PNG. */
async function printedCentres(pngPath: string, rect: { x: number; y: number; width: number }, dpi: number, size = 28): Promise<Uint8Array> {
  const { data, info } = await sharp(pngPath).greyscale().raw().toBuffer({ resolveWithObject: true });
  const out = new Uint8Array(size * size);
  const step = rect.width / size;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const px = Math.floor(mmToPixels(rect.x + (x + 0.5) * step, dpi));
      const py = Math.floor(mmToPixels(rect.y + (y + 0.5) * step, dpi));
      out[y * size + x] = data[py * info.width + px];
    }
  }
  return out;
}

describe('foolprint sheet from a folder of PNGs with a labels CSV', () => {
  const folder = path.join(scratch, 'foreign');
  mkdirSync(folder, { recursive: true });

  it('prints pairs with the CSV fields in the manifests, pixels in place', async () => {
    for (let i = 0; i < 3; i++) {
      await writeGreyPng(path.join(folder, `clean_${i}.png`), pattern(10 * i));
      await writeGreyPng(path.join(folder, `adv_${i}.png`), pattern(10 * i + 100));
    }
    writeFileSync(
      path.join(folder, 'labels.csv'),
      'file,label,kind,method,epsilon,clean\n' + [0, 1, 2].map((i) => `adv_${i}.png,${i + 4},adversarial,art-fgsm,8/255,clean_${i}.png`).join('\r\n') + '\r\n',
    );
    const out = path.join(scratch, 'foreign-out');
    const { stdout, exitCode, stderr } = await runSheet(['--from', folder, '--out', out, '--pairs', '--dpi', '100', '--json', '--experiment', 'ART examples']);
    expect(stderr).toBe('');
    expect(exitCode).toBe(0);
    const report = JSON.parse(stdout) as { pdf: string; png: string[]; manifests: string[]; sheets: SheetManifest[] };
    expect(existsSync(report.pdf)).toBe(true);
    expect(report.png).toHaveLength(1);
    const manifest = parseSheetManifestText(readFileSync(report.manifests[0], 'utf8'));
    expect(manifest.experiment).toBe('ART examples');
    expect(manifest.source.kind).toBe('folder');
    expect(manifest.cells.map((c) => [c.role, c.kind, c.file, c.trueLabel])).toEqual([
      ['clean', 'clean', 'clean_0.png', 4],
      ['adversarial', 'adversarial', 'adv_0.png', 4],
      ['clean', 'clean', 'clean_1.png', 5],
      ['adversarial', 'adversarial', 'adv_1.png', 5],
      ['clean', 'clean', 'clean_2.png', 6],
      ['adversarial', 'adversarial', 'adv_2.png', 6],
    ]);
    expect(manifest.cells[1].method).toBe('art-fgsm');
    expect(manifest.cells[1].epsilon).toBeCloseTo(8 / 255, 12);
    expect(manifest.cells[1].caption).toBe('ART-FGSM ε=8/255 #0 y=4');
    expect(manifest.cells[1].image).toEqual({ width: 28, height: 28, channels: 1 });
    // The adversarial image of pair 2 is printed where the manifest says, unscaled and unflipped.
    const printed = await printedCentres(report.png[0], manifest.cells[5].imageRectMm, 100);
    expect(Array.from(printed)).toEqual(Array.from(pattern(120)));
  });

  it('fails with one clear line (exit 2) for a missing CSV, a bad label, mixed sizes, a cell too big, bad options', async () => {
    const empty = path.join(scratch, 'no-csv');
    mkdirSync(empty, { recursive: true });
    let result = await runSheet(['--from', empty, '--out', path.join(scratch, 'x')]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/^foolprint: labels CSV .*labels\.csv not found: give --labels <csv>/);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);

    writeFileSync(path.join(folder, 'bad.csv'), 'file,label\nadv_0.png,seven\n');
    result = await runSheet(['--from', folder, '--labels', path.join(folder, 'bad.csv'), '--out', path.join(scratch, 'x')]);
    expect(result.stderr).toMatch(/bad\.csv line 2: label must be a whole number ≥ 0, got "seven"/);
    expect(result.exitCode).toBe(2);

    await writeGreyPng(path.join(folder, 'big.png'), pattern(1, 32), 32);
    writeFileSync(path.join(folder, 'mixed.csv'), 'adv_0.png,1\nbig.png,2\n');
    result = await runSheet(['--from', folder, '--labels', path.join(folder, 'mixed.csv'), '--out', path.join(scratch, 'x')]);
    expect(result.stderr).toMatch(/big\.png is 32x32, but adv_0\.png is 28x28/);

    result = await runSheet(['--from', folder, '--out', path.join(scratch, 'x'), '--cell-mm', '250']);
    expect(result.stderr).toMatch(/a 250 mm cell does not fit on a4 portrait: at most 188 mm/);
    expect(result.exitCode).toBe(2);

    result = await runSheet(['--from', folder, '--out', path.join(scratch, 'x'), '--paper', 'a3']);
    expect(result.stderr).toMatch(/--paper must be a4 or letter, got "a3"/);
    // Issue 7 §7: a resolution Cairo cannot draw is refused before anything is written.
    result = await runSheet(['--from', folder, '--out', path.join(scratch, 'x'), '--dpi', '0.01']);
    expect(result.stderr).toMatch(/^foolprint: --dpi must be at least 36, got 0\.01$/m);
    expect(result.exitCode).toBe(2);
    // --out naming a file: a sentence, not a raw EEXIST.
    writeFileSync(path.join(scratch, 'a-file'), 'not a folder');
    result = await runSheet(['--from', folder, '--out', path.join(scratch, 'a-file')]);
    expect(result.stderr).toMatch(/--out .*a-file is a file, not a folder/);
    expect(result.exitCode).toBe(2);
    result = await runSheet(['--from', path.join(scratch, 'nowhere'), '--out', path.join(scratch, 'x')]);
    expect(result.stderr).toMatch(/--from .*nowhere does not exist/);
    expect(existsSync(path.join(scratch, 'x'))).toBe(false);
  });
});

describe('colour and transparency', () => {
  it('keeps colour images in 3 channels and prints transparent pixels as white paper', async () => {
    const folder = path.join(scratch, 'colour');
    mkdirSync(folder, { recursive: true });
    // Left half opaque red, right half fully transparent (its hidden colour is black).
    const rgba = new Uint8Array(28 * 28 * 4);
    for (let p = 0; p < 28 * 28; p++) if (p % 28 < 14) rgba.set([200, 10, 10, 255], 4 * p);
    await sharp(Buffer.from(rgba), { raw: { width: 28, height: 28, channels: 4 } }).png().toFile(path.join(folder, 'red.png'));
    writeFileSync(path.join(folder, 'labels.csv'), 'red.png,2\n');
    const out = path.join(scratch, 'colour-out');
    const { exitCode, stderr } = await runSheet(['--from', folder, '--out', out, '--dpi', '100']);
    expect(stderr).toBe('');
    expect(exitCode).toBe(0);
    const manifest = parseSheetManifestText(readFileSync(path.join(out, 'sheet.manifest.json'), 'utf8'));
    expect(manifest.cells[0].image.channels).toBe(3);
    const { data, info } = await sharp(path.join(out, 'sheet.png')).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const rect = manifest.cells[0].imageRectMm;
    const at = (xMm: number) => {
      const p = (Math.floor(mmToPixels(rect.y + rect.height / 2, 100)) * info.width + Math.floor(mmToPixels(xMm, 100))) * 3;
      return Array.from(data.subarray(p, p + 3));
    };
    expect(at(rect.x + rect.width / 4)).toEqual([200, 10, 10]);
    expect(at(rect.x + (3 * rect.width) / 4)).toEqual([255, 255, 255]);
  });
});

describe('parseLabelsCsv', () => {
  it('reads headerless file,label rows, quoted fields and aliases', () => {
    expect(parseLabelsCsv('a.png,3\n"b,c.png",4\n').map((r) => [r.file, r.label, r.kind])).toEqual([
      ['a.png', 3, 'adversarial'],
      ['b,c.png', 4, 'adversarial'],
    ]);
    const rows = parseLabelsCsv('\uFEFFImage,Y,Attack,Eps,Kind\nx.png,1,pgd,0.03,clean\n');
    expect(rows[0]).toMatchObject({ file: 'x.png', label: 1, method: 'pgd', epsilon: 0.03, kind: 'clean', clean: null });
    expect(() => parseLabelsCsv('name,score\na,1\n', 'scores.csv')).toThrow(/scores\.csv needs a "file" and a "label" column/);
    expect(() => parseLabelsCsv('file,label,kind\na.png,1,weird\n')).toThrow(SheetSourceError);
  });
});

describe('foolprint sheet from an attack run (record.json + PNGs)', () => {
  const run = path.join(scratch, 'attack');
  const epsilons = [8 / 255, 16 / 255];
  const top5 = (label: number) => [0, 1, 2, 3, 4].map((k) => ({ label: (label + k) % 10, probability: [0.6, 0.2, 0.1, 0.06, 0.04][k] }));

  async function writeRun(): Promise<AttackRecord> {
    mkdirSync(run, { recursive: true });
    const record: AttackRecord = {
      schemaVersion: 1,
      createdAt: '2026-11-28T22:00:00.000Z',
      model: { id: 'lenet-mnist', inputShape: [28, 28, 1], labels: Array.from({ length: 10 }, (_, i) => String(i)) },
      dataset: 'samples',
      method: 'fgsm',
      options: { method: 'fgsm', epsilons },
      epsilons,
      images: [],
    };
    for (let i = 0; i < 2; i++) {
      await writeGreyPng(path.join(run, attackFileNames.clean(i)), pattern(i));
      const adversarial = [];
      for (const [e, epsilon] of epsilons.entries()) {
        await writeGreyPng(path.join(run, attackFileNames.adversarial(epsilon, i)), pattern(50 * (e + 1) + i));
        const view = { top5: top5(i + 1 + e), success: true, linf: epsilon, l2: 1 };
        adversarial.push({ epsilon, file: attackFileNames.adversarial(epsilon, i), perturbationFile: attackFileNames.perturbation(epsilon, i), float: view, quantized: { ...view, top5: top5(i + 2 + e) } });
      }
      record.images.push({ index: i, id: `sample-${i}`, label: i + 7, clean: { file: attackFileNames.clean(i), top5: top5(i + 7) }, adversarial });
    }
    writeFileSync(path.join(run, 'record.json'), JSON.stringify(record));
    return record;
  }

  it('prints pairs for the chosen ε and links every cell to its digital top-5', async () => {
    await writeRun();
    const out = path.join(scratch, 'attack-pairs');
    const { stdout, exitCode } = await runSheet(['--from', run, '--out', out, '--pairs', '--epsilons', '16/255', '--dpi', '100', '--first-sheet', '7']);
    expect(exitCode).toBe(0);
    expect(stdout).toMatch(/4 images on 1 a4 portrait page\(s\), 2x6 pairs of 30 mm per page/);
    expect(stdout).toMatch(/markers 28,29,30,31/);
    const manifest = parseSheetManifestText(readFileSync(path.join(out, 'sheet.manifest.json'), 'utf8'));
    expect(manifest.modelId).toBe('lenet-mnist');
    expect(manifest.sheetNumber).toBe(7);
    expect(manifest.cells.map((c) => [c.kind, c.imageId, c.epsilon, c.trueLabel])).toEqual([
      ['clean', 'sample-0', null, 7],
      ['adversarial', 'sample-0', 16 / 255, 7],
      ['clean', 'sample-1', null, 8],
      ['adversarial', 'sample-1', 16 / 255, 8],
    ]);
    const adversarial = manifest.cells[3];
    expect(adversarial.digital.clean?.float?.[0].label).toBe(8);
    expect(adversarial.digital.adversarial?.float?.[0].label).toBe(3); // top5(i + 1 + e) with i = 1, e = 1
    expect(adversarial.digital.adversarial?.quantized?.[0].label).toBe(4);
    expect(manifest.cells[2].digital.adversarial?.float?.[0].label).toBe(3);
    const printed = await printedCentres(path.join(out, 'sheet.png'), adversarial.imageRectMm, 100);
    expect(Array.from(printed)).toEqual(Array.from(pattern(101)));
  });

  it('prints singles: clean then each ε per image, or only the adversarial images', async () => {
    await writeRun();
    let { exitCode } = await runSheet(['--from', path.join(run, 'record.json'), '--out', path.join(scratch, 'attack-singles'), '--dpi', '72']);
    expect(exitCode).toBe(0);
    let manifest = parseSheetManifestText(readFileSync(path.join(scratch, 'attack-singles', 'sheet.manifest.json'), 'utf8'));
    expect(manifest.cells.map((c) => `${c.kind}:${c.sourceIndex}:${c.epsilon === null ? '-' : Math.round(c.epsilon * 255)}`)).toEqual([
      'clean:0:-',
      'adversarial:0:8',
      'adversarial:0:16',
      'clean:1:-',
      'adversarial:1:8',
      'adversarial:1:16',
    ]);
    ({ exitCode } = await runSheet(['--from', run, '--out', path.join(scratch, 'attack-adv'), '--adversarial-only', '--limit', '1', '--dpi', '72']));
    expect(exitCode).toBe(0);
    manifest = parseSheetManifestText(readFileSync(path.join(scratch, 'attack-adv', 'sheet.manifest.json'), 'utf8'));
    expect(manifest.cells.map((c) => c.kind)).toEqual(['adversarial', 'adversarial']);

    const missing = await runSheet(['--from', run, '--out', path.join(scratch, 'x2'), '--epsilons', '0.5']);
    expect(missing.stderr).toMatch(/ε 0\.5 is not in the run/);
    expect(missing.exitCode).toBe(2);
  });
});
