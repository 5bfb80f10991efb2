/**
 * Test fixtures for the physical pipeline: MNIST test digits from ../shared/data/mnist, a sheet
 * rendered from D1's layout (markers + images at native size, nearest neighbour, as the PDF embeds
 * them) and its manifest. Our own minimal raster drawing keeps these tests independent of the
 * node-canvas renderer.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { computeSheetLayout, mmToPixels } from '../app/physical/layout.js';
import type { SheetLayoutOptions } from '../app/physical/layout.js';
import { MARKER_MODULES, markerIdsForSheet, markerModules } from '../app/physical/markers.js';
import { parseSheetManifest } from '../app/physical/sheet-manifest.js';
import { identityMarkerIds } from '../app/physical/sheet-identity.js';
import type { SheetManifest } from '../app/physical/sheet-manifest.js';
import { createRgba } from '../app/physical/image.js';
import type { RgbaImage } from '../app/physical/image.js';

export const repoRoot = path.resolve(import.meta.dirname, '..');
export const mnistDir = path.resolve(repoRoot, '../shared/data/mnist');
export const mnistAvailable = existsSync(path.join(mnistDir, 't10k-images-idx3-ubyte.gz'));
export const builtInWeights = path.join(repoRoot, 'assets/models/lenet-mnist/weights.bin');

export interface DigitSet {
  images: Float32Array;
  labels: Int32Array;
  count: number;
}

/** The first `count` MNIST test digits (IDX format, LeCun et al.), [0,1], 28×28×1. */
export function loadMnistTest(count: number, start = 0): DigitSet {
  const images = gunzipSync(readFileSync(path.join(mnistDir, 't10k-images-idx3-ubyte.gz')));
  const labels = gunzipSync(readFileSync(path.join(mnistDir, 't10k-labels-idx1-ubyte.gz')));
  const out = new Float32Array(count * 784);
  for (let i = 0; i < count * 784; i++) out[i] = images[16 + start * 784 + i] / 255;
  return { images: out, labels: Int32Array.from(labels.subarray(8 + start, 8 + start + count)), count };
}

/**
 * Without ../shared (a user's fresh clone), the built-in samples stand in: real MNIST digits too
 * (held out of the built-in model's training), stored interleaved by class.
 */
export function loadBuiltinSamples(count: number): DigitSet {
  const dir = path.join(repoRoot, 'assets/samples');
  const images = gunzipSync(readFileSync(path.join(dir, 'samples-images-idx3-ubyte.gz')));
  const labels = gunzipSync(readFileSync(path.join(dir, 'samples-labels-idx1-ubyte.gz')));
  const out = new Float32Array(count * 784);
  for (let i = 0; i < count * 784; i++) out[i] = images[16 + i] / 255;
  return { images: out, labels: Int32Array.from(labels.subarray(8, 8 + count)), count };
}

export function digits(count: number): DigitSet {
  return mnistAvailable ? loadMnistTest(count) : loadBuiltinSamples(count);
}

export interface RenderedSheet {
  image: RgbaImage;
  manifest: SheetManifest;
  dpi: number;
  digits: DigitSet;
}

function fillRect(image: RgbaImage, x0: number, y0: number, x1: number, y1: number, grey: number): void {
  for (let y = Math.max(0, Math.round(y0)); y < Math.min(image.height, Math.round(y1)); y++) {
    for (let x = Math.max(0, Math.round(x0)); x < Math.min(image.width, Math.round(x1)); x++) {
      const i = (y * image.width + x) * 4;
      image.data[i] = image.data[i + 1] = image.data[i + 2] = grey;
    }
  }
}

/**
 * Renders sheet `sheetNumber` with the given digits (one per cell, up to the page's cell count), with
 * the identity markers of `identity` (default 012345678); `identity: null` draws a
 * version-1 sheet (no identity markers) with a version-1 manifest.
 */
export function renderSheet(set: DigitSet, options: { sheetNumber?: number; dpi?: number; layout?: SheetLayoutOptions; identity?: string | null } = {}): RenderedSheet {
  const sheetNumber = options.sheetNumber ?? 0;
  const identity = options.identity === undefined ? '012345678' : options.identity;
  const dpi = options.dpi ?? 150;
  const layout = computeSheetLayout(options.layout ?? {});
  const px = (mm: number) => mmToPixels(mm, dpi);
  const image = createRgba(Math.round(px(layout.page.width)), Math.round(px(layout.page.height)));
  const ids = markerIdsForSheet(sheetNumber);
  const identityIds = identity === null ? [] : identityMarkerIds(identity);
  const printed = [...layout.markers.map((marker, k) => ({ rect: marker.rect, id: ids[k] })), ...identityIds.map((id, slot) => ({ rect: layout.identityMarkers[slot].rect, id }))];
  printed.forEach((marker) => {
    const modules = markerModules(marker.id);
    const m = marker.rect.width / MARKER_MODULES;
    for (let r = 0; r < MARKER_MODULES; r++) for (let c = 0; c < MARKER_MODULES; c++) {
      fillRect(image, px(marker.rect.x + c * m), px(marker.rect.y + r * m), px(marker.rect.x + (c + 1) * m), px(marker.rect.y + (r + 1) * m), modules[r * MARKER_MODULES + c] ? 255 : 0);
    }
  });
  const count = Math.min(set.count, layout.cells.length);
  const cells = layout.cells.slice(0, count).map((cell, n) => {
    const b = cell.border;
    const line = Math.max(1, px(0.2));
    fillRect(image, px(b.x), px(b.y), px(b.x + b.width), px(b.y) + line, 128);
    fillRect(image, px(b.x), px(b.y + b.height) - line, px(b.x + b.width), px(b.y + b.height), 128);
    fillRect(image, px(b.x), px(b.y), px(b.x) + line, px(b.y + b.height), 128);
    fillRect(image, px(b.x + b.width) - line, px(b.y), px(b.x + b.width), px(b.y + b.height), 128);
    const r = cell.image;
    for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) {
      fillRect(image, px(r.x + (x * r.width) / 28), px(r.y + (y * r.height) / 28), px(r.x + ((x + 1) * r.width) / 28), px(r.y + ((y + 1) * r.height) / 28), Math.round(set.images[n * 784 + y * 28 + x] * 255));
    }
    return {
      index: n,
      role: cell.role,
      kind: 'clean',
      imageId: `t10k-${n}`,
      sourceIndex: n,
      trueLabel: set.labels[n],
      image: { width: 28, height: 28, channels: 1 },
      imageRectMm: cell.image,
      borderRectMm: cell.border,
      captionRectMm: cell.caption,
      caption: `clean #${n}`,
    };
  });
  const manifest = parseSheetManifest({
    schemaVersion: identity === null ? 1 : 2,
    sheetId: `test-${identity ?? 'v1'}-s${sheetNumber}`,
    identity,
    sheetNumber,
    page: 1,
    pageCount: 1,
    experiment: 'round trip',
    modelId: null,
    createdAt: '2026-11-28T22:00:00Z',
    source: { kind: 'arrays', path: null },
    paper: layout.options.paper,
    orientation: layout.options.orientation,
    cellMm: layout.options.cellMm,
    dpi,
    pairs: layout.options.pairs,
    layoutOptions: { ...layout.options },
    markerDictionary: 'DICT_4X4_250',
    geometry: {
      pageMm: layout.page,
      markers: layout.markers.map((marker, k) => ({ id: ids[k], pageCorner: marker.pageCorner, cornersMm: marker.corners })),
      identityMarkers: identityIds.map((id, slot) => ({ slot, id, cornersMm: layout.identityMarkers[slot].corners })),
    },
    files: { pdf: 'sheet.pdf', pdfPage: 1, png: 'sheet.png' },
    cells,
  });
  return { image, manifest, dpi, digits: set };
}

/** PSNR in dB between two equally long arrays of [0,1] values. */
export function psnr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let mse = 0;
  for (let i = 0; i < a.length; i++) mse += (a[i] - b[i]) ** 2;
  mse /= a.length;
  return mse === 0 ? Infinity : 10 * Math.log10(1 / mse);
}
