/**
 * What a photo can throw at the analysis: no sheet, noise, another sheet, a hidden corner, a sheet
 * half out of the frame, a 12-megapixel phone photo; plus combining captures. Never an exception.
 */
import { describe, expect, it } from 'vitest';
import { analyzePhoto } from '../app/physical/analyze.js';
import { combineCaptures } from '../app/physical/combine.js';
import { applyHomography } from '../app/physical/homography.js';
import type { Point } from '../app/physical/homography.js';
import { createRgba } from '../app/physical/image.js';
import type { RgbaImage } from '../app/physical/image.js';
import { mmToPixels } from '../app/physical/layout.js';
import { loadOpenCVInNode } from '../app/physical/opencv.node.js';
import { SeededRandom } from '../app/physical/random.js';
import { simulatePhoto } from '../app/physical/simulate.js';
import type { TopK } from '../app/attacks/types.js';
import { digits, psnr, renderSheet } from './physical-fixture.js';

const set = digits(24);
const sheet0 = renderSheet(set, { sheetNumber: 0 });
const sheet3 = renderSheet(set, { sheetNumber: 3 });
const opencv = await loadOpenCVInNode();
const clean = { blurSigma: 0.8, noiseSigma: 0.015, jpegQuality: 85 };

function paint(image: RgbaImage, quad: Point[], rgb: [number, number, number]): void {
  // Fill the convex quad (a hand, a coffee cup) by half-plane tests.
  const xs = quad.map((p) => p[0]);
  const ys = quad.map((p) => p[1]);
  for (let y = Math.max(0, Math.floor(Math.min(...ys))); y <= Math.min(image.height - 1, Math.ceil(Math.max(...ys))); y++) {
    for (let x = Math.max(0, Math.floor(Math.min(...xs))); x <= Math.min(image.width - 1, Math.ceil(Math.max(...xs))); x++) {
      const inside = quad.every((p, k) => {
        const q = quad[(k + 1) % quad.length];
        return (q[0] - p[0]) * (y - p[1]) - (q[1] - p[1]) * (x - p[0]) >= 0;
      });
      if (inside) image.data.set(rgb, (y * image.width + x) * 4);
    }
  }
}

const pagePx = (h: readonly number[], x: number, y: number): Point => applyHomography(h, [mmToPixels(x, sheet0.dpi) - 0.5, mmToPixels(y, sheet0.dpi) - 0.5]);

describe('photos without a usable sheet get a clear result, never an exception', () => {
  it('blank image', async () => {
    const result = await analyzePhoto(createRgba(1280, 720, [200, 200, 200]), [sheet0.manifest], undefined, { opencv });
    expect(result.status).toBe('no-sheet');
    expect(result.message).toMatch(/no sheet markers/);
    expect(result.cells).toEqual([]);
    expect(JSON.parse(JSON.stringify(result))).toEqual(result);
  });
  it('pure noise', async () => {
    const random = new SeededRandom(9);
    const noise = createRgba(1280, 720);
    for (let i = 0; i < noise.data.length; i++) if (i % 4 !== 3) noise.data[i] = random.uniform() * 256;
    const result = await analyzePhoto(noise, [sheet0.manifest], undefined, { opencv });
    expect(['no-sheet', 'unknown-sheet', 'too-few-markers']).toContain(result.status);
    expect(result.cells).toEqual([]);
  });
  it('another sheet: recognised as sheet 3, which no manifest describes', async () => {
    const photo = simulatePhoto(sheet3.image, clean, 4);
    const result = await analyzePhoto(photo.image, [sheet0.manifest], undefined, { opencv });
    expect(result.status).toBe('unknown-sheet');
    expect(result.markers.filter((m) => m.role === 'corner').map((m) => m.id).sort()).toEqual([12, 13, 14, 15]);
    expect(result.markers.filter((m) => m.role === 'identity')).toHaveLength(8);
    expect(result.message).toMatch(/sheet 3 found, but no given manifest describes it \(manifests for sheet 0\)/);
    // With both manifests the same photo is sheet 3.
    const both = await analyzePhoto(photo.image, [sheet0.manifest, sheet3.manifest], undefined, { opencv });
    expect(both.status).toBe('ok');
    expect(both.sheetId).toBe(sheet3.manifest.sheetId);
    expect(both.identity).toBe('012345678');
  });
  it('half-covered sheet (two markers hidden): says which markers are missing', async () => {
    const photo = simulatePhoto(sheet0.image, clean, 5);
    const page = sheet0.manifest.geometry.pageMm;
    paint(photo.image, [pagePx(photo.homography, page.width / 2, -5), pagePx(photo.homography, page.width + 5, -5), pagePx(photo.homography, page.width + 5, page.height + 5), pagePx(photo.homography, page.width / 2, page.height + 5)], [90, 60, 40]);
    const result = await analyzePhoto(photo.image, [sheet0.manifest], undefined, { opencv });
    expect(result.status).toBe('too-few-markers');
    expect(result.missingMarkers).toEqual([{ id: 1, pageCorner: 'TR' }, { id: 2, pageCorner: 'BR' }]);
    expect(result.message).toMatch(/only 2 of 4 markers found; missing TR \(id 1\), BR \(id 2\)/);
  });
});

describe('partly visible sheets still yield what the geometry allows', () => {
  it('one marker covered: 3 markers give the geometry, every cell still recovered', async () => {
    const photo = simulatePhoto(sheet0.image, clean, 6);
    const marker = sheet0.manifest.geometry.markers[2].cornersMm;
    const grow = 3;
    paint(photo.image, [
      pagePx(photo.homography, marker[0].x - grow, marker[0].y - grow), pagePx(photo.homography, marker[1].x + grow, marker[1].y - grow),
      pagePx(photo.homography, marker[2].x + grow, marker[2].y + grow), pagePx(photo.homography, marker[3].x - grow, marker[3].y + grow),
    ], [30, 30, 30]);
    const result = await analyzePhoto(photo.image, [sheet0.manifest], undefined, { opencv });
    expect(result.status).toBe('partial');
    expect(result.missingMarkers).toEqual([{ id: 2, pageCorner: 'BR' }]);
    const page = sheet0.manifest.geometry.pageMm;
    const truth = ([[0, 0], [page.width, 0], [page.width, page.height], [0, page.height]] as const).map(([x, y]) => pagePx(photo.homography, x, y));
    const diagonal = Math.hypot(truth[2][0] - truth[0][0], truth[2][1] - truth[0][1]);
    const worst = Math.max(...result.pageCorners!.map((p, k) => Math.hypot(p[0] - truth[k][0], p[1] - truth[k][1])));
    console.log(`3 markers (${result.fit}): page corner error max ${worst.toFixed(2)} px of a ${diagonal.toFixed(0)} px diagonal`);
    expect(worst).toBeLessThan(0.01 * diagonal);
    expect(result.cells.filter((c) => c.status === 'ok')).toHaveLength(set.count);
  });
  it('sheet running out of the frame: the fully visible cells are cropped, the rest marked outside', async () => {
    // Sheet 150 dpi = 1240x1754 px; its BR corner (with the BR marker and the last cells) leaves the frame.
    const corners: [Point, Point, Point, Point] = [[380, 40], [900, 60], [1000, 900], [330, 700]];
    const full = renderSheet(digits(30), { sheetNumber: 0 });
    const photo = simulatePhoto(full.image, { ...clean, corners }, 7);
    const result = await analyzePhoto(photo.image, [full.manifest], undefined, { opencv });
    expect(result.status, result.message).toBe('partial');
    expect(result.missingMarkers).toEqual([{ id: 2, pageCorner: 'BR' }]);
    const inside = result.cells.filter((c) => c.status === 'ok');
    const outside = result.cells.filter((c) => c.status === 'outside');
    expect(inside.length).toBeGreaterThan(0);
    expect(outside.length).toBeGreaterThan(0);
    for (const cell of outside) {
      expect(cell.crop).toBeUndefined();
      expect(cell.quality.flags).toContain('outside the frame');
      expect(cell.quad.some(([x, y]) => x < 0 || y < 0 || x > 1279 || y > 719)).toBe(true);
    }
    for (const cell of inside) expect(psnr(cell.crop!.pixels, full.digits.images.subarray(cell.index * 784, cell.index * 784 + 784))).toBeGreaterThan(12);
    console.log(`out of frame: ${result.message}`);
  });
});

describe('a 12-megapixel phone photo', () => {
  it('4000x3000 works and is quick', async () => {
    const big = renderSheet(set, { sheetNumber: 0, dpi: 200 });
    const photo = simulatePhoto(big.image, { width: 4000, height: 3000, blurSigma: 1.5, noiseSigma: 0.02, jpegQuality: 0 }, 8); // JPEG left out: its pure-TS approximation alone takes seconds at 12 MP
    const started = performance.now();
    const result = await analyzePhoto(photo.image, [big.manifest], undefined, { opencv });
    const ms = performance.now() - started;
    expect(result.status, result.message).toBe('ok');
    const page = big.manifest.geometry.pageMm;
    const truth = ([[0, 0], [page.width, 0], [page.width, page.height], [0, page.height]] as const).map(([x, y]) => applyHomography(photo.homography, [mmToPixels(x, 200) - 0.5, mmToPixels(y, 200) - 0.5]));
    const diagonal = Math.hypot(truth[2][0] - truth[0][0], truth[2][1] - truth[0][1]);
    const worst = Math.max(...result.pageCorners!.map((p, k) => Math.hypot(p[0] - truth[k][0], p[1] - truth[k][1])));
    console.log(`12 MP: ${ms.toFixed(0)} ms end to end (detect ${result.timing.detectMs.toFixed(0)} ms, rectify ${result.timing.rectifyMs.toFixed(0)} ms); corner error max ${worst.toFixed(2)} px of ${diagonal.toFixed(0)} px; reprojection ${result.reprojectionError!.mean.toFixed(2)} px`);
    expect(worst).toBeLessThan(0.01 * diagonal);
    expect(result.cells.every((c) => c.status === 'ok')).toBe(true);
    expect(ms).toBeLessThan(5000);
  });
});

describe('combineCaptures', () => {
  it('votes and averages per cell across captures of one sheet, keeping the captures', async () => {
    // A fake classifier with known answers per capture: capture c says label (index + c) % 10 for odd cells.
    const run = async (seed: number, shift: number) => {
      const photo = simulatePhoto(sheet0.image, clean, seed);
      const classify = async (_crops: Float32Array, count: number): Promise<TopK> => {
        const labels = new Int32Array(count * 2);
        const probs = new Float32Array(count * 2);
        for (let i = 0; i < count; i++) {
          labels[i * 2] = i % 2 === 1 ? (i + shift) % 10 : i % 10;
          labels[i * 2 + 1] = (labels[i * 2] + 5) % 10;
          probs[i * 2] = 0.7;
          probs[i * 2 + 1] = 0.3;
        }
        return { k: 2, labels, probs };
      };
      return analyzePhoto(photo.image, [sheet0.manifest], classify, { opencv, keepCrops: false });
    };
    const captures = [await run(30, 0), await run(31, 0), await run(32, 3)];
    const [voted] = combineCaptures([...captures, await analyzePhoto(createRgba(64, 64), [sheet0.manifest], undefined, { opencv })], 'vote');
    expect(voted.captures).toHaveLength(3);
    expect(voted.cells).toHaveLength(set.count);
    const cell1 = voted.cells[1];
    expect(cell1.perCapture).toEqual([1, 1, 4]);
    expect(cell1.top5[0]).toEqual({ label: 1, probability: 2 / 3 });
    const [mean] = combineCaptures(captures, 'mean');
    // Cell 1: label 1 gets 0.7+0.7, label 6 gets 0.3+0.3, label 4 gets 0.7, label 9 gets 0.3 → /3.
    expect(mean.cells[1].top5.map((p) => p.label)).toEqual([1, 4, 6, 9]);
    expect(mean.cells[1].top5[0].probability).toBeCloseTo(1.4 / 3, 6);
    expect(() => combineCaptures(captures, 'median' as never)).toThrow(/vote or mean/);
  });
});
