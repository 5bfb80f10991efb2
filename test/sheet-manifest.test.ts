import { describe, expect, it } from 'vitest';
import { computeSheetLayout } from '../app/physical/layout.js';
import {
  SheetManifestError,
  SheetPlanError,
  parseSheetManifest,
  parseSheetManifestText,
  planSheets,
  sheetFileNames,
} from '../app/physical/sheet-manifest.js';
import type { SheetCellSource, SheetManifest } from '../app/physical/sheet-manifest.js';

const top5 = [0, 1, 2, 3, 4].map((label, k) => ({ label, probability: [0.5, 0.2, 0.15, 0.1, 0.05][k] }));

function pairRecords(pairs: number): SheetCellSource[] {
  return Array.from({ length: 2 * pairs }, (_, i) => {
    const index = i >> 1;
    const digital = { clean: { float: top5, quantized: top5 }, adversarial: { float: top5.slice().reverse(), quantized: null } };
    return i % 2 === 0
      ? { kind: 'clean', imageId: `img-${index}`, sourceIndex: index, trueLabel: 0, digital }
      : { kind: 'adversarial', imageId: `img-${index}`, sourceIndex: index, method: 'bim', epsilon: 16 / 255, trueLabel: 0, target: 3, digital };
  });
}

function plan(): SheetManifest[] {
  return planSheets(pairRecords(13), [28, 28, 1], { experiment: 'BIM on LeNet', modelId: 'lenet-mnist', pairs: true, createdAt: '2026-11-28T22:10:00.000Z', firstSheetNumber: 2 })
    .manifests;
}

describe('planSheets', () => {
  it('makes one manifest per page with the layout geometry and the records in order', () => {
    const manifests = plan();
    // 12 pairs per A4 page at 30 mm: 13 pairs take two pages.
    expect(manifests.map((m) => m.cells.length)).toEqual([24, 2]);
    expect(manifests.map((m) => [m.sheetNumber, m.page, m.pageCount])).toEqual([
      [2, 1, 2],
      [3, 2, 2],
    ]);
    expect(manifests[0].sheetId).toBe('bim-on-lenet-20261128T221000-s2');
    expect(manifests[1].geometry.markers.map((m) => m.id)).toEqual([12, 13, 14, 15]);
    expect(manifests[1].files).toEqual({ pdf: 'sheet.pdf', pdfPage: 2, png: 'sheet-2.png' });
    const layout = computeSheetLayout(manifests[0].layoutOptions);
    manifests[0].cells.forEach((cell, c) => {
      expect(cell.imageRectMm).toEqual(layout.cells[c].image);
      expect(cell.role).toBe(c % 2 === 0 ? 'clean' : 'adversarial');
    });
    expect(manifests[1].cells[1]).toMatchObject({ kind: 'adversarial', sourceIndex: 12, method: 'bim', target: 3, caption: 'BIM ε=16/255 #12 y=0' });
    expect(manifests[1].geometry.markers[2].cornersMm[2]).toEqual({ x: 200, y: 287 });
    expect(sheetFileNames('sheet', 3)).toEqual({ png: 'sheet-3.png', manifest: 'sheet-3.manifest.json' });
  });

  it('refuses records that do not fit the request', () => {
    const records = pairRecords(2);
    expect(() => planSheets([records[1], records[0]], [28, 28, 1], { experiment: 'x', pairs: true })).toThrow(/records 0 and 1 are adversarial, clean/);
    expect(() => planSheets(records.slice(0, 3), [28, 28, 1], { experiment: 'x', pairs: true })).toThrow(SheetPlanError);
    expect(() => planSheets([], [28, 28, 1], { experiment: 'x' })).toThrow(/no images/);
    expect(() => planSheets(records, [28, 28, 4], { experiment: 'x' })).toThrow(/1 or 3 channels/);
    expect(() => planSheets([{ kind: 'clean', imageId: '', sourceIndex: 0 }], [28, 28, 1], { experiment: 'x' })).toThrow(/record 0: imageId/);
    // 31 singles need two pages; from sheet 61 the second would need marker ids past 247.
    const many: SheetCellSource[] = Array.from({ length: 31 }, (_, i) => ({ kind: 'adversarial', imageId: String(i), sourceIndex: i }));
    expect(() => planSheets(many, [28, 28, 1], { experiment: 'x', firstSheetNumber: 61 })).toThrow(/sheet numbers run from 0 to 61/);
    expect(planSheets(many, [28, 28, 1], { experiment: 'x', firstSheetNumber: 60 }).manifests).toHaveLength(2);
  });
});

describe('parseSheetManifest', () => {
  it('round-trips through JSON unchanged', () => {
    for (const manifest of plan()) {
      const text = JSON.stringify(manifest);
      expect(parseSheetManifestText(text)).toEqual(manifest);
      expect(JSON.stringify(parseSheetManifest(JSON.parse(text)))).toBe(text);
    }
  });

  const corruptions: [string, (m: any) => void, RegExp][] = [
    ['a wrong schema version', (m) => (m.schemaVersion = 2), /has schemaVersion 2; this Foolprint reads version 1/],
    ['a string ε', (m) => (m.cells[3].epsilon = 'big'), /cells\.3\.epsilon: .*expected number/],
    ['a missing image rectangle', (m) => delete m.cells[0].imageRectMm, /cells\.0\.imageRectMm/],
    ['a negative width', (m) => (m.cells[1].imageRectMm.width = -30), /cells\.1\.imageRectMm\.width/],
    ['three markers', (m) => m.geometry.markers.pop(), /geometry\.markers/],
    ['a marker id of another sheet', (m) => (m.geometry.markers[1].id = 99), /geometry\.markers\.1: sheet 2 has marker 9 at TR, got 99 at TR/],
    ['a sheet number past 61', (m) => (m.sheetNumber = 62), /sheetNumber/],
    ['cells out of order', (m) => (m.cells[5].index = 9), /cells\.5\.index: expected 5, got 9/],
    ['an unknown paper', (m) => (m.paper = 'a3'), /paper/],
    ['a probability above 1', (m) => (m.cells[0].digital.clean.float[0].probability = 1.5), /cells\.0\.digital\.clean\.float\.0\.probability/],
  ];

  it.each(corruptions)('rejects %s with a message naming the field', (_name, corrupt, message) => {
    const manifest = JSON.parse(JSON.stringify(plan()[0]));
    corrupt(manifest);
    expect(() => parseSheetManifest(manifest, 'sheet.manifest.json')).toThrow(SheetManifestError);
    expect(() => parseSheetManifest(manifest, 'sheet.manifest.json')).toThrow(message);
  });

  it('says when the text is not JSON at all', () => {
    expect(() => parseSheetManifestText('{"schemaVersion": 1,', 'sheet-2.manifest.json')).toThrow(/sheet-2\.manifest\.json is not JSON/);
    expect(() => parseSheetManifest(null)).toThrow(/sheet manifest is not a valid sheet manifest: \(root\)/);
  });
});
