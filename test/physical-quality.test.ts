/** Quality flags on real (simulated) photos: sharp vs blurred, well vs badly exposed. */
import { describe, expect, it } from 'vitest';
import { analyzePhoto } from '../app/physical/analyze.js';
import type { PhotoAnalysis } from '../app/physical/analyze.js';
import { measureCellQuality } from '../app/physical/quality.js';
import { createRgba } from '../app/physical/image.js';
import { loadOpenCVInNode } from '../app/physical/opencv.node.js';
import { simulatePhoto } from '../app/physical/simulate.js';
import type { PhotoChannelParams } from '../app/physical/simulate.js';
import { digits, psnr, renderSheet } from './physical-fixture.js';

const sheet = renderSheet(digits(24));
const opencv = await loadOpenCVInNode();
const analyse = async (params: PhotoChannelParams): Promise<PhotoAnalysis> => {
  // A fixed frontal pose, so only the quality parameters differ between the photos.
  const photo = simulatePhoto(sheet.image, { corners: [[420, 20], [900, 20], [900, 700], [420, 700]], noiseSigma: 0.01, jpegQuality: 90, ...params }, 1);
  return analyzePhoto(photo.image, [sheet.manifest], undefined, { opencv, keepCrops: false });
};
const share = (result: PhotoAnalysis, flag: string) => result.cells.filter((c) => c.quality.flags.includes(flag)).length / result.cells.length;
const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];

describe('cell quality flags', () => {
  it('variance of the Laplacian separates a sharp photo from a blurred one', async () => {
    const sharp = await analyse({ blurSigma: 0.5 });
    const blurred = await analyse({ blurSigma: 2.5 });
    expect(sharp.status).toBe('ok');
    // Blur this strong may cost a marker; three still give the geometry.
    expect(['ok', 'partial'], blurred.message).toContain(blurred.status);
    expect(blurred.cells.every((c) => c.status === 'ok')).toBe(true);
    const s = median(sharp.cells.map((c) => c.quality.sharpness));
    const b = median(blurred.cells.map((c) => c.quality.sharpness));
    console.log(`median normalised Laplacian variance: σ=0.5 ${s.toFixed(3)}, σ=2.5 ${b.toFixed(3)}; blurry flags ${share(sharp, 'blurry')} vs ${share(blurred, 'blurry')}`);
    expect(b).toBeLessThan(s / 4);
    expect(share(sharp, 'blurry')).toBe(0);
    expect(share(blurred, 'blurry')).toBeGreaterThan(0.9);
  });
  it('flags under- and overexposure, not a normal photo of black-background digits', async () => {
    const normal = await analyse({ blurSigma: 0.8 });
    expect(share(normal, 'underexposed') + share(normal, 'overexposed')).toBe(0);
    expect(normal.cells.every((c) => c.quality.ok)).toBe(true);
    const dark = await analyse({ blurSigma: 0.8, brightness: -0.4, contrast: 0.25 });
    expect(dark.status).toBe('ok');
    expect(share(dark, 'underexposed')).toBeGreaterThan(0.9);
    // Washed out: even the black background reads light grey (markers are then lost too, so judged directly).
    const washed = createRgba(200, 200, [235, 235, 235]);
    for (let i = 0; i < washed.data.length; i += 4 * 7) washed.data.fill(255, i, i + 3);
    expect(measureCellQuality(washed, [2, 0, 10, 0, 2, 10, 0, 0, 1], { x: 0, y: 0, width: 30, height: 30 }).flags).toEqual(['overexposed']);
  });
  it('a flat patch has no content to judge blur by, and a tiny cell is too small', () => {
    const flat = createRgba(200, 200, [128, 128, 128]);
    const q = measureCellQuality(flat, [2, 0, 10, 0, 2, 10, 0, 0, 1], { x: 0, y: 0, width: 30, height: 30 });
    expect(q.flags).toEqual([]);
    const tiny = measureCellQuality(flat, [0.2, 0, 10, 0, 0.2, 10, 0, 0, 1], { x: 0, y: 0, width: 30, height: 30 });
    expect(tiny.flags).toEqual(['too small in the photo']);
  });
  it('paper levels undo dim, tinted light: crops match their sources better than the raw camera values', async () => {
    const photo = simulatePhoto(sheet.image, { corners: [[420, 20], [900, 20], [900, 700], [420, 700]], noiseSigma: 0.01, jpegQuality: 90, blurSigma: 0.8, contrast: 0.6, brightness: -0.15, colourCast: 0.2, unevenLight: 0.4 }, 2);
    const raw = await analyzePhoto(photo.image, [sheet.manifest], undefined, { opencv, levels: 'none' });
    const paper = await analyzePhoto(photo.image, [sheet.manifest], undefined, { opencv });
    const mean = (r: PhotoAnalysis) => r.cells.reduce((s, c) => s + psnr(c.crop!.pixels, sheet.digits.images.subarray(c.index * 784, (c.index + 1) * 784)), 0) / r.cells.length;
    console.log(`dim tinted photo: crop PSNR raw ${mean(raw).toFixed(1)} dB, paper levels ${mean(paper).toFixed(1)} dB; cell 0 white ${paper.cells[0].levels?.white.map(Math.round)} black ${paper.cells[0].levels?.black.map(Math.round)}`);
    expect(raw.cells.every((c) => c.levels === undefined)).toBe(true);
    expect(paper.cells.every((c) => c.levels !== undefined)).toBe(true);
    expect(mean(paper)).toBeGreaterThan(mean(raw) + 3);
  });
});
