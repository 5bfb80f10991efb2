import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { markerIdsForSheet } from '../app/physical/markers.js';
import { identityMarkerIds } from '../app/physical/sheet-identity.js';
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
    // 31 singles need two pages; from sheet 29 the second would need corner ids among the identity ids (122+).
    const many: SheetCellSource[] = Array.from({ length: 31 }, (_, i) => ({ kind: 'adversarial', imageId: String(i), sourceIndex: i }));
    expect(() => planSheets(many, [28, 28, 1], { experiment: 'x', firstSheetNumber: 29 })).toThrow(/sheet numbers run from 0 to 29/);
    expect(planSheets(many, [28, 28, 1], { experiment: 'x', firstSheetNumber: 28 }).manifests).toHaveLength(2);
    expect(() => planSheets(records, [28, 28, 1], { experiment: 'x', identity: 'fffffffff' })).toThrow(/identity must be 9 hex digits below 2\^35/);
  });

  it('gives every page of a set one random identity, printed by eight identity markers', () => {
    const first = plan();
    const second = plan();
    expect(first[0].identity).toMatch(/^[0-7][0-9a-f]{8}$/);
    expect(first.map((m) => m.identity)).toEqual([first[0].identity, first[0].identity]);
    expect(second[0].identity).not.toBe(first[0].identity);
    expect(first[0].geometry.identityMarkers.map((m) => m.slot)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(first[0].geometry.identityMarkers.every((m) => m.id >= 122 && m.id < 250)).toBe(true);
    const layout = computeSheetLayout(first[0].layoutOptions);
    expect(first[0].geometry.identityMarkers.map((m) => m.cornersMm)).toEqual(layout.identityMarkers.map((m) => m.corners));
    const fixed = planSheets(pairRecords(1), [28, 28, 1], { experiment: 'x', identity: '00000002a' }).manifests[0];
    expect(fixed.identity).toBe('00000002a');
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
    ['a wrong schema version', (m) => (m.schemaVersion = 3), /has schemaVersion 3; this Foolprint reads versions 1 and 2/],
    ['no identity', (m) => (m.identity = null), /identity: expected 9 hex digits/],
    ['an identity marker of another identity', (m) => (m.geometry.identityMarkers[4].id = m.geometry.identityMarkers[4].id === 130 ? 131 : 130), /geometry\.identityMarkers\.4: identity [0-9a-f]{9} has marker/],
    ['seven identity markers', (m) => m.geometry.identityMarkers.pop(), /expected 8 identity markers, got 7/],
    ['a version-1 manifest with an identity', (m) => (m.schemaVersion = 1), /version 1 manifests have no identity/],
    ['a sheet number past 29 in version 2', (m) => { m.sheetNumber = 30; m.geometry.markers.forEach((marker: any, k: number) => (marker.id = 120 + k)); }, /sheetNumber: sheet numbers run from 0 to 29, got 30/],
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

  it('still reads a version-1 manifest (written before identities): identity null, no identity markers', () => {
    const manifest = JSON.parse(JSON.stringify(plan()[0]));
    manifest.schemaVersion = 1;
    delete manifest.identity;
    delete manifest.geometry.identityMarkers;
    manifest.sheetNumber = 61;
    manifest.geometry.markers.forEach((marker: any, k: number) => (marker.id = 244 + k));
    const parsed = parseSheetManifest(manifest);
    expect(parsed).toMatchObject({ schemaVersion: 1, identity: null, sheetNumber: 61 });
    expect(parsed.geometry.identityMarkers).toEqual([]);
  });

  it('any edit of a manifest (a value replaced or removed anywhere) parses to a consistent manifest or fails with a SheetManifestError', () => {
    const base = plan()[0];
    const paths: (string | number)[][] = [];
    const walk = (value: unknown, at: (string | number)[]): void => {
      if (at.length > 0) paths.push(at);
      if (value !== null && typeof value === 'object') for (const [key, child] of Object.entries(value)) walk(child, [...at, Array.isArray(value) ? Number(key) : key]);
    };
    walk(base, []);
    fc.assert(
      fc.property(fc.constantFrom(...paths), fc.option(fc.jsonValue({ maxDepth: 2 }), { nil: undefined }), (at, replacement) => {
        const edited = JSON.parse(JSON.stringify(base));
        let parent = edited;
        for (const key of at.slice(0, -1)) parent = parent[key];
        if (replacement === undefined) delete parent[at[at.length - 1]];
        else parent[at[at.length - 1]] = replacement;
        let parsed: SheetManifest;
        try {
          parsed = parseSheetManifest(edited, 'edited.manifest.json');
        } catch (error) {
          expect(error).toBeInstanceOf(SheetManifestError);
          expect((error as Error).message).toMatch(/^edited\.manifest\.json (is not a valid sheet manifest|has schemaVersion)/);
          return;
        }
        // What parses is still one sheet of one identity: corner ids of its number, identity markers of its identity.
        expect(parsed.geometry.markers.map((m) => m.id)).toEqual(markerIdsForSheet(parsed.sheetNumber));
        if (parsed.schemaVersion === 2) expect(parsed.geometry.identityMarkers.map((m) => m.id)).toEqual(identityMarkerIds(parsed.identity!));
        else expect(parsed.identity).toBeNull();
      }),
      { numRuns: 400 },
    );
  });

  it('says when the text is not JSON at all', () => {
    expect(() => parseSheetManifestText('{"schemaVersion": 1,', 'sheet-2.manifest.json')).toThrow(/sheet-2\.manifest\.json is not JSON/);
    expect(() => parseSheetManifest(null)).toThrow(/sheet manifest is not a valid sheet manifest: \(root\)/);
  });
});
