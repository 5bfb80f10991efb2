/**
 * The analysis reads the sheet set's identity and scores a photo only against the manifest it shows:
 * at live-view conditions, with version-1 manifests (warned), with two sheets in one photo (refused,
 * each named), and with a page pieced together from two sets (refused).
 */
import { describe, expect, it } from 'vitest';
import { analyzePhoto } from '../app/physical/analyze.js';
import { createRgba } from '../app/physical/image.js';
import type { RgbaImage } from '../app/physical/image.js';
import { loadOpenCVInNode } from '../app/physical/opencv.node.js';
import { simulatePhoto } from '../app/physical/simulate.js';
import { digits, renderSheet } from './physical-fixture.js';

const set = digits(24);
const opencv = await loadOpenCVInNode();
const A = renderSheet(set, { identity: '0a1b2c3d4', dpi: 100 });
const B = renderSheet(set, { identity: '5e6f70819', dpi: 100 });
const old = renderSheet(set, { identity: null, dpi: 100 });
/** The live view's frames (scripts/bench-physical.ts): 1280x720, blur, noise, JPEG 80, uneven light. */
const live = { blurSigma: 1, noiseSigma: 0.02, jpegQuality: 80, unevenLight: 0.3 };

/** Sheets side by side on one white "table" image, `gap` px apart. */
function sideBySide(pages: RgbaImage[], gap: number): RgbaImage {
  const width = pages.reduce((sum, p) => sum + p.width, 0) + gap * (pages.length - 1);
  const height = Math.max(...pages.map((p) => p.height));
  const out = createRgba(width, height, [255, 255, 255]);
  let x0 = 0;
  for (const page of pages) {
    for (let y = 0; y < page.height; y++) out.data.set(page.data.subarray(y * page.width * 4, (y + 1) * page.width * 4), (y * width + x0) * 4);
    x0 += page.width + gap;
  }
  return out;
}

describe('the identity at live-view conditions', () => {
  it.each([100, 101, 102, 103, 104, 105])('seed %i: a 1280x720 frame of B is B, and is refused against A', async (seed) => {
    const frame = simulatePhoto(B.image, live, seed).image;
    const result = await analyzePhoto(frame, [A.manifest, B.manifest], undefined, { opencv, keepCrops: false });
    expect(result.status, result.message).toBe('ok');
    expect(result).toMatchObject({ sheetId: B.manifest.sheetId, identity: '5e6f70819', sheetsInView: [{ sheetNumber: 0, identity: '5e6f70819', sheetId: B.manifest.sheetId }] });
    const refused = await analyzePhoto(frame, [A.manifest], undefined, { opencv, keepCrops: false });
    expect(refused).toMatchObject({ status: 'unknown-sheet', sheetId: null, cells: [], identity: '5e6f70819' });
    expect(refused.message).toBe(`the photo shows sheet 0 of set 5e6f70819, which no given manifest describes (expected set 0a1b2c3d4 (${A.manifest.sheetId}))`);
  });
});

describe('manifests written before identities (version 1)', () => {
  it('still score a photo of their own sheet, with a warning that the identity cannot be checked', async () => {
    const frame = simulatePhoto(old.image, live, 7).image;
    const result = await analyzePhoto(frame, [old.manifest], undefined, { opencv, keepCrops: false });
    expect(result.status, result.message).toBe('ok');
    expect(result.sheetId).toBe(old.manifest.sheetId);
    expect(result.warnings).toContain(`manifest ${old.manifest.sheetId} is version 1 (written before sheet identities): cannot check that the photo shows this sheet set`);
    // Beside a current manifest of the same sheet number, the old sheet is still the old manifest's.
    const mixed = await analyzePhoto(frame, [B.manifest, old.manifest], undefined, { opencv, keepCrops: false });
    expect(mixed.sheetId).toBe(old.manifest.sheetId);
  });

  it('do not claim a photo of a current sheet, which shows its identity', async () => {
    const frame = simulatePhoto(B.image, live, 8).image;
    const result = await analyzePhoto(frame, [old.manifest], undefined, { opencv, keepCrops: false });
    expect(result.status).toBe('unknown-sheet');
    expect(result.message).toBe(`the photo shows sheet 0 of set 5e6f70819, which no given manifest describes (expected ${old.manifest.sheetId} (version 1, no identity))`);
  });
});

describe('two sheets in one photo', () => {
  it('A and B side by side (both sheet 0, corner ids 0-3 twice): refused, each sheet named, never "ok"', async () => {
    const table = sideBySide([A.image, B.image], 60);
    const frame = simulatePhoto(table, { ...live, corners: [[60, 60], [1220, 60], [1220, 690], [60, 690]] }, 9).image;
    const result = await analyzePhoto(frame, [A.manifest, B.manifest], undefined, { opencv, keepCrops: false });
    expect(result.status, result.message).toBe('several-sheets');
    expect(result.cells).toEqual([]);
    expect(result.sheetId).toBeNull();
    expect(result.sheetsInView).toHaveLength(2);
    expect(new Set(result.sheetsInView.map((s) => s.sheetId))).toEqual(new Set([A.manifest.sheetId, B.manifest.sheetId]));
    expect(result.message).toMatch(/^2 sheets in view: sheet 0 \(set (0a1b2c3d4|5e6f70819), .*; sheet 0 \(set (0a1b2c3d4|5e6f70819), .*: photograph one sheet at a time$/);
    // With only A's manifest, B is still reported: never scored as A.
    const onlyA = await analyzePhoto(frame, [A.manifest], undefined, { opencv, keepCrops: false });
    expect(onlyA.status).toBe('several-sheets');
    expect(onlyA.sheetsInView.map((s) => s.identity).sort()).toEqual(['0a1b2c3d4', '5e6f70819']);
    expect(onlyA.sheetsInView.find((s) => s.identity === '5e6f70819')?.sheetId).toBeNull();
  });

  it('a page pieced together from the left half of A and the right half of B: refused, not scored', async () => {
    const halves = createRgba(A.image.width, A.image.height);
    const half = Math.floor(A.image.width / 2) * 4;
    for (let y = 0; y < A.image.height; y++) {
      const row = y * A.image.width * 4;
      halves.data.set(A.image.data.subarray(row, row + half), row);
      halves.data.set(B.image.data.subarray(row + half, row + A.image.width * 4), row + half);
    }
    const frame = simulatePhoto(halves, live, 10).image;
    const result = await analyzePhoto(frame, [A.manifest, B.manifest], undefined, { opencv, keepCrops: false });
    expect(result.status).toBe('too-few-markers');
    expect(result.message).toMatch(/^sheet 0: cannot tell which set it belongs to: the 8 identity markers read do not spell one identity/);
    expect(result.cells).toEqual([]);
  });
});
