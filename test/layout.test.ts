import { describe, expect, it } from 'vitest';
import {
  LayoutError,
  cellCaption,
  computeSheetLayout,
  formatEpsilon,
  mmToPixels,
  mmToPoints,
  paginate,
  placeMarkers,
  sheetCaption,
} from '../app/physical/layout.js';
import type { RectMm, SheetLayout, SheetLayoutOptions } from '../app/physical/layout.js';
import { MAX_SHEET_NUMBER, MarkerError, markerIdsForSheet, markerModules, sheetNumberFromMarkerId } from '../app/physical/markers.js';

const overlaps = (a: RectMm, b: RectMm) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
const inside = (inner: RectMm, outer: RectMm) =>
  inner.x >= outer.x - 1e-9 && inner.y >= outer.y - 1e-9 && inner.x + inner.width <= outer.x + outer.width + 1e-9 && inner.y + inner.height <= outer.y + outer.height + 1e-9;
const grow = (r: RectMm, d: number): RectMm => ({ x: r.x - d, y: r.y - d, width: r.width + 2 * d, height: r.height + 2 * d });

const cases: [string, SheetLayoutOptions, { width: number; height: number }][] = [
  ['A4 portrait', { paper: 'a4', orientation: 'portrait' }, { width: 210, height: 297 }],
  ['A4 landscape', { paper: 'a4', orientation: 'landscape' }, { width: 297, height: 210 }],
  ['Letter portrait', { paper: 'letter', orientation: 'portrait' }, { width: 215.9, height: 279.4 }],
  ['Letter landscape', { paper: 'letter', orientation: 'landscape' }, { width: 279.4, height: 215.9 }],
  ['A4 pairs 25 mm', { paper: 'a4', pairs: true, cellMm: 25 }, { width: 210, height: 297 }],
  ['Letter landscape pairs, tall images', { paper: 'letter', orientation: 'landscape', pairs: true, cellMm: 40, imageAspect: 1.5 }, { width: 279.4, height: 215.9 }],
];

describe('computeSheetLayout', () => {
  it.each(cases)('%s: page size, exact cells, everything inside the marker quadrilateral and apart', (_name, options, page) => {
    const layout = computeSheetLayout(options);
    expect(layout.page).toEqual(page);
    expect(layout.cells.length).toBe(layout.cellsPerPage);
    expect(layout.cellsPerPage).toBe(layout.slotsPerPage * (options.pairs ? 2 : 1));
    expect(layout.cellsPerPage).toBeGreaterThan(0);

    const cell = options.cellMm ?? 30;
    const aspect = options.imageAspect ?? 1;
    const quad = layout.markerQuad;
    const quadRect: RectMm = { x: quad[0].x, y: quad[0].y, width: quad[2].x - quad[0].x, height: quad[2].y - quad[0].y };
    // The markers' outer corners sit at the inset from each page edge.
    expect(quad[0]).toEqual({ x: 10, y: 10 });
    expect(quad[2].x).toBeCloseTo(page.width - 10, 9);
    expect(quad[2].y).toBeCloseTo(page.height - 10, 9);

    for (const c of layout.cells) {
      expect(Math.max(c.image.width, c.image.height)).toBeCloseTo(cell, 9);
      expect(c.image.height / c.image.width).toBeCloseTo(aspect, 9);
      expect(inside(c.image, c.border)).toBe(true);
      expect(inside(c.border, quadRect)).toBe(true);
      expect(inside(c.caption, quadRect)).toBe(true);
      expect(c.caption.y).toBeCloseTo(c.border.y + c.border.height, 9);
      // The quiet zone around each marker (corner and identity) stays white.
      for (const m of [...layout.markers, ...layout.identityMarkers]) {
        expect(overlaps(c.border, grow(m.rect, 4))).toBe(false);
        expect(overlaps(c.caption, grow(m.rect, 4))).toBe(false);
      }
    }
    for (let i = 0; i < layout.cells.length; i++) {
      for (let j = i + 1; j < layout.cells.length; j++) {
        expect(overlaps(layout.cells[i].border, layout.cells[j].border)).toBe(false);
        expect(overlaps(layout.cells[i].caption, layout.cells[j].border)).toBe(false);
      }
    }
    const allMarkers = [...layout.markers, ...layout.identityMarkers];
    for (const m of allMarkers) {
      expect(overlaps(layout.header, grow(m.rect, 3.9))).toBe(false);
      expect(overlaps(layout.footer, grow(m.rect, 3.9))).toBe(false);
      expect(m.rect.width).toBe(layout.markers[0].rect.width);
      for (const other of allMarkers) if (other !== m) expect(overlaps(other.rect, grow(m.rect, 3.9))).toBe(false);
    }
    expect(layout.identityMarkers.map((m) => m.slot)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('fits the counts one works out by hand on A4 portrait at 30 mm', () => {
    // Content is 190 mm wide (10 mm insets) and 297 − 2·(10+16+4) = 237 mm high.
    // A cell box is 30 + 2·1 = 32 mm wide and 32 + 4 (caption) = 36 mm high, slots 4 mm apart:
    // columns = ⌊(190+4)/36⌋ = 5, rows = ⌊(237+4)/40⌋ = 6; pairs: ⌊(190+4)/(66+4)⌋ = 2 pairs per row.
    const singles = computeSheetLayout({});
    expect([singles.columns, singles.rows, singles.cellsPerPage]).toEqual([5, 6, 30]);
    const pairs = computeSheetLayout({ pairs: true });
    expect([pairs.columns, pairs.rows, pairs.cellsPerPage]).toEqual([2, 6, 24]);
    // The grid is centred: equal white space left and right.
    const first = singles.cells[0].border;
    const last = singles.cells[4].border;
    expect(first.x - 10).toBeCloseTo(200 - (last.x + last.width), 9);
  });

  it('places the clean original left of its adversarial version in pairs mode', () => {
    const layout = computeSheetLayout({ pairs: true });
    for (let slot = 0; slot < layout.slotsPerPage; slot++) {
      const clean = layout.cells[2 * slot];
      const adversarial = layout.cells[2 * slot + 1];
      expect([clean.role, adversarial.role]).toEqual(['clean', 'adversarial']);
      expect(clean.slot).toBe(slot);
      expect(adversarial.slot).toBe(slot);
      expect(adversarial.image.y).toBe(clean.image.y);
      // pairGap 2 mm between the borders.
      expect(adversarial.border.x - (clean.border.x + clean.border.width)).toBeCloseTo(2, 9);
    }
  });

  it('puts markers in page-corner order with OpenCV corner order inside each marker', () => {
    const layout = computeSheetLayout({ markerMm: 18 });
    expect(layout.markers.map((m) => m.pageCorner)).toEqual(['TL', 'TR', 'BR', 'BL']);
    const tr = layout.markers[1];
    expect(tr.rect).toEqual({ x: 210 - 10 - 18, y: 10, width: 18, height: 18 });
    expect(tr.corners).toEqual([
      { x: 182, y: 10 },
      { x: 200, y: 10 },
      { x: 200, y: 28 },
      { x: 182, y: 28 },
    ]);
    expect(tr.moduleMm).toBeCloseTo(3, 12);
    expect(placeMarkers(layout, 5).map((m) => m.id)).toEqual([20, 21, 22, 23]);
  });

  it('refuses a cell that does not fit and says the largest that does', () => {
    expect(() => computeSheetLayout({ cellMm: 300 })).toThrow(LayoutError);
    expect(() => computeSheetLayout({ cellMm: 300 })).toThrow(/300 mm cell does not fit on a4 portrait: at most 188 mm/);
    // The largest size it names really fits.
    const message = (() => {
      try {
        computeSheetLayout({ cellMm: 140, pairs: true, orientation: 'landscape' });
      } catch (error) {
        return (error as Error).message;
      }
      return '';
    })();
    const largest = Number(/at most ([\d.]+) mm/.exec(message)?.[1]);
    expect(largest).toBeCloseTo(135.5, 9);
    expect(computeSheetLayout({ cellMm: largest, pairs: true, orientation: 'landscape' }).cellsPerPage).toBe(2);
    expect(() => computeSheetLayout({ cellMm: -1 })).toThrow(/cellMm must be a positive number/);
    expect(() => computeSheetLayout({ paper: 'a3' as never })).toThrow(/paper must be one of a4, letter/);
    expect(() => computeSheetLayout({ orientation: 'sideways' as never })).toThrow(/orientation must be portrait or landscape/);
  });
});

describe('paginate', () => {
  it('splits items into full pages and a remainder, keeping order', () => {
    const layout: SheetLayout = computeSheetLayout({});
    const items = Array.from({ length: 61 }, (_, i) => i);
    const pages = paginate(items, layout);
    expect(pages.map((p) => p.length)).toEqual([30, 30, 1]);
    expect(pages.flat()).toEqual(items);
    expect(paginate([], layout)).toEqual([]);
    // Pairs: an item is a pair, 12 per A4 page at 30 mm.
    expect(paginate(Array.from({ length: 25 }, (_, i) => i), { pairs: true }).map((p) => p.length)).toEqual([12, 12, 1]);
  });
});

describe('units and captions', () => {
  it('converts mm to points and pixels', () => {
    expect(mmToPoints(210)).toBeCloseTo(595.28, 2);
    expect(mmToPoints(297)).toBeCloseTo(841.89, 2);
    expect(mmToPoints(30)).toBeCloseTo(85.04, 2);
    expect(mmToPixels(25.4, 300)).toBeCloseTo(300, 9);
  });

  it('writes ε as 8-bit levels when it is a whole number of them', () => {
    expect(formatEpsilon(8 / 255)).toBe('8/255');
    expect(formatEpsilon(0.1)).toBe('0.1');
    expect(formatEpsilon(0.123456)).toBe('0.123');
    expect(formatEpsilon(0)).toBe('0');
    expect(cellCaption({ kind: 'adversarial', method: 'fgsm', epsilon: 16 / 255, sourceIndex: 12, trueLabel: 7 })).toBe('FGSM ε=16/255 #12 y=7');
    expect(cellCaption({ kind: 'clean', sourceIndex: 3, trueLabel: 1 })).toBe('clean #3 y=1');
    // A model that names its classes (cnn-fashion-mnist) has the name printed; an index beyond them stays a number.
    const fashion = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
    expect(cellCaption({ kind: 'adversarial', method: 'bim', epsilon: 0.1, sourceIndex: 4, trueLabel: 9 }, fashion)).toBe('BIM ε=0.1 #4 y=Ankle boot');
    expect(cellCaption({ kind: 'clean', sourceIndex: 3, trueLabel: 12 }, fashion)).toBe('clean #3 y=12');
    expect(sheetCaption({ experiment: 'fgsm-mnist', modelId: 'lenet-mnist', createdAt: '2026-11-28T22:10:00Z', page: 2, pageCount: 3 })).toBe(
      'fgsm-mnist · model lenet-mnist · 2026-11-28 · page 2/3',
    );
  });
});

describe('marker ids', () => {
  it('gives sheet s the ids 4s..4s+3 and maps every id back', () => {
    expect(markerIdsForSheet(0)).toEqual([0, 1, 2, 3]);
    // Sheets 0..29 stay below the identity markers' ids (122-249); version-1 manifests went to 61.
    expect(markerIdsForSheet(MAX_SHEET_NUMBER)).toEqual([116, 117, 118, 119]);
    expect(markerIdsForSheet(61)).toEqual([244, 245, 246, 247]);
    for (let s = 0; s <= 61; s++) {
      markerIdsForSheet(s).forEach((id, k) => {
        const back = sheetNumberFromMarkerId(id);
        expect(back.sheetNumber).toBe(s);
        expect(back.cornerIndex).toBe(k);
        expect(back.corner).toBe(['TL', 'TR', 'BR', 'BL'][k]);
      });
    }
    expect(() => markerIdsForSheet(62)).toThrow(MarkerError);
    expect(() => markerIdsForSheet(-1)).toThrow(/from 0 to 61/);
    expect(() => sheetNumberFromMarkerId(248)).toThrow(/from 0 to 247/);
    expect(() => sheetNumberFromMarkerId(1.5)).toThrow(MarkerError);
  });

  it('draws a 6x6 module grid with a black border', () => {
    const modules = markerModules(0);
    expect(modules.length).toBe(36);
    for (let i = 0; i < 6; i++) {
      for (const index of [i, 30 + i, 6 * i, 6 * i + 5]) expect(modules[index]).toBe(0);
    }
    // DICT_4X4_250 id 0 is 0xb532: rows 1011 0101 0011 0010.
    expect(Array.from(modules.slice(7, 11))).toEqual([1, 0, 1, 1]);
    expect(Array.from(modules.slice(25, 29))).toEqual([0, 0, 1, 0]);
  });
});
