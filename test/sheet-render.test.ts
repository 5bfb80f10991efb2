import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inflateSync } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { renderSheets, setPdfPageSize, SheetRenderError } from '../app/node/sheet-render.js';
import { mmToPixels, mmToPoints } from '../app/physical/layout.js';
import type { Orientation, PaperName } from '../app/physical/layout.js';
import { parseSheetManifestText } from '../app/physical/sheet-manifest.js';
import type { SheetCellSource } from '../app/physical/sheet-manifest.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'foolprint-sheet-render-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function has(tool: string): boolean {
  try {
    execFileSync(tool, ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const poppler = has('pdfinfo') && has('pdftoppm');
if (!poppler) console.warn('poppler-utils (pdfinfo, pdftoppm) not found: PDF page-size and rasterisation checks are skipped');

/** Seeded noise images: every pixel differs from its neighbours, the hardest case for crisp printing. */
function noiseImages(count: number, height: number, width: number, channels: number, seed = 1): Float32Array {
  let state = seed >>> 0;
  const images = new Float32Array(count * height * width * channels);
  for (let i = 0; i < images.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    images[i] = (state >>> 24) / 255;
  }
  return images;
}

function records(count: number, pairs: boolean): SheetCellSource[] {
  return Array.from({ length: count }, (_, i) => {
    const adversarial = !pairs || i % 2 === 1;
    return {
      kind: adversarial ? 'adversarial' : 'clean',
      imageId: `digit-${i >> (pairs ? 1 : 0)}`,
      sourceIndex: i >> (pairs ? 1 : 0),
      method: adversarial ? 'fgsm' : null,
      epsilon: adversarial ? 8 / 255 : null,
      trueLabel: i % 10,
    } as SheetCellSource;
  });
}

/** Every image drawn in a PDF's content streams: the `cm` matrix cairo sets before `/xN Do`. */
function pdfImagePlacements(pdf: Buffer): { width: number; height: number; x: number; y: number }[] {
  const text = pdf.toString('latin1');
  const placements: { width: number; height: number; x: number; y: number }[] = [];
  const streams = /\/FlateDecode\s*>>\s*stream\r?\n/g;
  for (let match = streams.exec(text); match; match = streams.exec(text)) {
    const start = match.index + match[0].length;
    const end = text.indexOf('endstream', start);
    let content: string;
    try {
      content = inflateSync(pdf.subarray(start, end)).toString('latin1');
    } catch {
      continue;
    }
    const draw = /([-\d.]+) 0 0 ([-\d.]+) ([-\d.]+) ([-\d.]+) cm\s*\/a\d+ gs \/x\d+ Do/g;
    for (let d = draw.exec(content); d; d = draw.exec(content)) {
      placements.push({ width: Number(d[1]), height: -Number(d[2]), x: Number(d[3]), y: Number(d[4]) });
    }
  }
  return placements;
}

function psnr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] - b[i]) ** 2;
  const mse = sum / a.length;
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}

/**
 * PSNR between the printed cell in a raster of the page (grey, `dpi`) and the nearest-neighbour
 * enlargement of the source, over the cell minus a 2-pixel rim (the rim mixes with the white gap).
 */
function cellPsnr(raster: { data: Uint8Array; width: number }, rectMm: { x: number; y: number; width: number; height: number }, source: Uint8Array, size: number, dpi: number): number {
  const x0 = mmToPixels(rectMm.x, dpi);
  const y0 = mmToPixels(rectMm.y, dpi);
  const pixelsPerSource = mmToPixels(rectMm.width, dpi) / size;
  const printed: number[] = [];
  const expected: number[] = [];
  for (let y = Math.ceil(y0) + 2; y < Math.floor(y0 + size * pixelsPerSource) - 2; y++) {
    for (let x = Math.ceil(x0) + 2; x < Math.floor(x0 + size * pixelsPerSource) - 2; x++) {
      const sx = Math.floor((x + 0.5 - x0) / pixelsPerSource);
      const sy = Math.floor((y + 0.5 - y0) / pixelsPerSource);
      // Judge the interior of each enlarged source pixel: poppler's Splash snaps an image's edges
      // outwards to whole device pixels (212.6 → 212, 566.9 → 567 here), which moves the block
      // boundaries by up to a pixel; 1.5 px inside every boundary both mappings agree. Interpolation
      // would still show there: a bilinear 12.65x enlargement ramps across the whole block.
      const fx = ((x + 0.5 - x0) / pixelsPerSource) % 1;
      const fy = ((y + 0.5 - y0) / pixelsPerSource) % 1;
      const margin = 1.5 / pixelsPerSource;
      if (fx < margin || fx > 1 - margin || fy < margin || fy > 1 - margin) continue;
      printed.push(raster.data[y * raster.width + x]);
      expected.push(source[sy * size + sx]);
    }
  }
  return psnr(printed, expected);
}

describe('renderSheets', () => {
  const pages: [PaperName, Orientation, number, number][] = [
    ['a4', 'portrait', 595.28, 841.89],
    ['a4', 'landscape', 841.89, 595.28],
    ['letter', 'portrait', 612, 792],
    ['letter', 'landscape', 792, 612],
  ];

  it.each(pages)('%s %s: PDF page of exact size in points and a 30 mm cell measuring 85.04 pt', async (paper, orientation, widthPt, heightPt) => {
    const out = path.join(scratch, `${paper}-${orientation}`);
    const result = await renderSheets({ images: noiseImages(3, 28, 28, 1), shape: [3, 28, 28, 1], records: records(3, false), options: { experiment: 'size check', paper, orientation, png: false } }, out);
    // No fallback to whole points happened: the page was sized exactly.
    expect(result.notes).toEqual([]);
    const pdf = readFileSync(result.pdfPath);
    const box = /\/MediaBox \[ ([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+) \]/.exec(pdf.toString('latin1'));
    expect(box).not.toBeNull();
    const [llx, lly, urx, ury] = box!.slice(1).map(Number);
    expect(urx - llx).toBeCloseTo(widthPt, 1);
    expect(ury - lly).toBeCloseTo(heightPt, 1);
    if (poppler) {
      const info = execFileSync('pdfinfo', [result.pdfPath], { encoding: 'utf8' });
      const size = /Page size:\s+([\d.]+) x ([\d.]+) pts/.exec(info);
      expect(Number(size![1])).toBeCloseTo(widthPt, 1);
      expect(Number(size![2])).toBeCloseTo(heightPt, 1);
    }
    // The rebuilt cross-reference table points at every object exactly (poppler would silently
    // repair a broken one, stricter readers and printers may not).
    const text = pdf.toString('latin1');
    const xrefAt = Number(/startxref\n(\d+)\n%%EOF\n$/.exec(text)![1]);
    expect(text.slice(xrefAt, xrefAt + 5)).toBe('xref\n');
    const entries = text.slice(xrefAt).split('trailer')[0].trim().split('\n').slice(2);
    expect(entries.length).toBeGreaterThan(5);
    entries.forEach((entry, i) => {
      if (i > 0) expect(text.startsWith(`${i} 0 obj`, Number(entry.slice(0, 10))), `object ${i}`).toBe(true);
    });
    const placements = pdfImagePlacements(pdf);
    expect(placements).toHaveLength(3);
    const manifest = result.manifests[0];
    placements.forEach((placement, i) => {
      expect(placement.width).toBeCloseTo(85.04, 2);
      expect(placement.height).toBeCloseTo(85.04, 2);
      // Position: cairo draws in a y-down space whose origin is the top of the MediaBox, and maps the
      // image's unit square with a negative y scale, so the image's top edge is at f − height.
      const rect = manifest.cells[i].imageRectMm;
      expect(placement.x).toBeCloseTo(mmToPoints(rect.x), 3);
      expect(placement.y - placement.height).toBeCloseTo(mmToPoints(rect.y), 3);
    });
  });

  it('embeds 28x28 images at native size, uninterpolated, and they rasterise crisp (PDF via poppler at 300 dpi, PNG at 300 dpi)', async () => {
    const count = 6;
    const images = noiseImages(count, 28, 28, 1, 7);
    const out = path.join(scratch, 'crisp');
    const result = await renderSheets({ images, shape: [count, 28, 28, 1], records: records(count, true), options: { experiment: 'crisp', pairs: true, dpi: 300 } }, out);
    const bytes = Uint8Array.from(images, (v) => Math.round(v * 255));
    const source = (i: number) => bytes.subarray(i * 784, (i + 1) * 784);

    // PNG: the page measures A4 at 300 dpi, and each cell measures 30 mm within a pixel.
    const png = await sharp(result.pngPaths[0]).greyscale().raw().toBuffer({ resolveWithObject: true });
    expect(png.info.width).toBe(Math.round(mmToPixels(210, 300)));
    expect(png.info.height).toBe(Math.round(mmToPixels(297, 300)));
    const pngRaster = { data: new Uint8Array(png.data), width: png.info.width };
    const manifest = result.manifests[0];
    const pngPsnr = manifest.cells.map((c, i) => cellPsnr(pngRaster, c.imageRectMm, source(i), 28, 300));
    for (const value of pngPsnr) expect(value).toBeGreaterThan(40);

    if (!poppler) return;
    const list = execFileSync('pdfimages', ['-list', result.pdfPath], { encoding: 'utf8' }).trim().split('\n').slice(2);
    expect(list).toHaveLength(count);
    for (const line of list) {
      const columns = line.trim().split(/\s+/);
      // page num type width height color comp bpc enc interp ...
      expect([columns[3], columns[4], columns[8], columns[9]]).toEqual(['28', '28', 'image', 'no']);
    }
    const prefix = path.join(out, 'poppler');
    execFileSync('pdftoppm', ['-r', '300', '-gray', '-png', '-singlefile', '-f', '1', '-l', '1', result.pdfPath, prefix]);
    const raster = await sharp(`${prefix}.png`).greyscale().raw().toBuffer({ resolveWithObject: true });
    const pdfRaster = { data: new Uint8Array(raster.data), width: raster.info.width };
    const pdfPsnr = manifest.cells.map((c, i) => cellPsnr(pdfRaster, c.imageRectMm, source(i), 28, 300));
    console.log(`crispness PSNR vs nearest-neighbour source: PNG ${Math.min(...pngPsnr).toFixed(1)} dB, poppler-rasterised PDF ${Math.min(...pdfPsnr).toFixed(1)} dB (min over ${count} cells)`);
    for (const value of pdfPsnr) expect(value).toBeGreaterThan(35);
  });

  it.each([300, 150])('a 30 mm cell spans 30 mm of pixels in the PNG at %i dpi (within 1 px)', async (dpi) => {
    const out = path.join(scratch, `measure-${dpi}`);
    // One black image on white paper: its printed width is the run of dark pixels.
    const result = await renderSheets({ images: new Float32Array(784), shape: [1, 28, 28, 1], records: records(1, false), options: { experiment: 'measure', dpi } }, out);
    const png = await sharp(result.pngPaths[0]).greyscale().raw().toBuffer({ resolveWithObject: true });
    // The PNG says its own resolution (pHYs), so image viewers and printers print it at size.
    expect((await sharp(result.pngPaths[0]).metadata()).density).toBeCloseTo(dpi, 0);
    const rect = result.manifests[0].cells[0].imageRectMm;
    const measure = (along: 'x' | 'y') => {
      const middle = Math.round(mmToPixels(along === 'x' ? rect.y + rect.height / 2 : rect.x + rect.width / 2, dpi));
      const start = Math.floor(mmToPixels((along === 'x' ? rect.x : rect.y) - 0.4, dpi));
      let dark = 0;
      for (let i = start; i < start + mmToPixels(rect.width + 0.8, dpi); i++) {
        const value = along === 'x' ? png.data[middle * png.info.width + i] : png.data[i * png.info.width + middle];
        // Partly covered edge pixels count by their coverage.
        dark += (255 - value) / 255;
      }
      return dark;
    };
    expect(Math.abs(measure('x') - mmToPixels(30, dpi))).toBeLessThanOrEqual(1);
    expect(Math.abs(measure('y') - mmToPixels(30, dpi))).toBeLessThanOrEqual(1);
  });

  it('pages when the images do not fit, one sheet number and manifest per page', async () => {
    const count = 32; // 30 singles per A4 page at 30 mm
    const out = path.join(scratch, 'paging');
    const result = await renderSheets({ images: noiseImages(count, 28, 28, 3), shape: [count, 28, 28, 3], records: records(count, false), options: { experiment: 'paging', firstSheetNumber: 4, dpi: 72 } }, out);
    expect(result.manifests.map((m) => m.cells.length)).toEqual([30, 2]);
    expect(result.manifests.map((m) => m.sheetNumber)).toEqual([4, 5]);
    expect(result.manifests[1].geometry.markers.map((m) => m.id)).toEqual([20, 21, 22, 23]);
    expect(result.pngPaths.map((p) => path.basename(p))).toEqual(['sheet.png', 'sheet-2.png']);
    expect(result.manifestPaths.map((p) => path.basename(p))).toEqual(['sheet.manifest.json', 'sheet-2.manifest.json']);
    const second = parseSheetManifestText(readFileSync(result.manifestPaths[1], 'utf8'), 'sheet-2.manifest.json');
    expect(second).toEqual(result.manifests[1]);
    expect(second.cells.map((c) => c.sourceIndex)).toEqual([30, 31]);
    expect(second.cells[0].image).toEqual({ width: 28, height: 28, channels: 3 });
    if (poppler) expect(execFileSync('pdfinfo', [result.pdfPath], { encoding: 'utf8' })).toMatch(/Pages:\s+2\n/);
  });

  it('refuses inputs that do not match, with one clear line', async () => {
    const out = path.join(scratch, 'bad');
    await expect(renderSheets({ images: new Float32Array(10), shape: [1, 28, 28, 1], records: records(1, false), options: { experiment: 'x' } }, out)).rejects.toThrow(
      /images hold 10 values, shape \[1, 28, 28, 1\] needs 784/,
    );
    await expect(renderSheets({ images: new Float32Array(784), shape: [1, 28, 28, 1], records: records(2, false), options: { experiment: 'x' } }, out)).rejects.toThrow(SheetRenderError);
    await expect(renderSheets({ images: new Float32Array(784 * 3), shape: [3, 28, 28, 1], records: records(3, true), options: { experiment: 'x', pairs: true } }, out)).rejects.toThrow(
      /pairs need an even number of images/,
    );
  });

  it('refuses a PNG resolution whose page would not fit in memory, before writing anything', async () => {
    const out = path.join(scratch, 'huge');
    await expect(renderSheets({ images: new Float32Array(784), shape: [1, 28, 28, 1], records: records(1, false), options: { experiment: 'x', dpi: 2400 } }, out)).rejects.toThrow(
      /a PNG page at 2400 dpi would be 19843x28063 px; use at most 6\d\d dpi/,
    );
    expect(existsSync(out)).toBe(false);
  });

  it('refuses a PNG resolution below 36 dpi before writing anything (was a Cairo error after the PDF)', async () => {
    const out = path.join(scratch, 'tiny');
    await expect(renderSheets({ images: new Float32Array(784), shape: [1, 28, 28, 1], records: records(1, false), options: { experiment: 'x', dpi: 0.01 } }, out)).rejects.toThrow(
      'a PNG page needs at least 36 dpi, got 0.01',
    );
    expect(existsSync(out)).toBe(false);
  });

  it('setPdfPageSize rejects a file that is not cairo-shaped instead of corrupting it', () => {
    expect(() => setPdfPageSize(Buffer.from('%PDF-1.5\nnot really\n'), 595.28, 841.89)).toThrow(/no classic xref table/);
  });
});
