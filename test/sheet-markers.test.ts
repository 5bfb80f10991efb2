import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderSheets } from '../app/node/sheet-render.js';
import { detectMarkers } from '../app/physical/detect.js';
import { mmToPixels } from '../app/physical/layout.js';
import type { Orientation, PaperName } from '../app/physical/layout.js';
import { MARKER_DICTIONARY, MARKER_ID_COUNT, MARKER_MODULES, markerModules } from '../app/physical/markers.js';
import type { SheetCellSource } from '../app/physical/sheet-manifest.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'foolprint-sheet-markers-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// The OpenCV module object has a `then` method, so it must never be awaited or resolved directly:
// loaded with a plain require and handed out only after `onRuntimeInitialized`.
let cv: any;
beforeAll(async () => {
  const module: any = createRequire(import.meta.url)('@techstark/opencv-js');
  await new Promise<void>((resolve) => {
    if (typeof module.Mat === 'function') resolve();
    else module.onRuntimeInitialized = () => resolve();
  });
  cv = module;
});

describe('marker bits', () => {
  it(`match OpenCV's ${MARKER_DICTIONARY} for all ${MARKER_ID_COUNT} ids`, () => {
    const dictionary = cv.getPredefinedDictionary(cv[MARKER_DICTIONARY]);
    const image = new cv.Mat();
    try {
      for (let id = 0; id < MARKER_ID_COUNT; id++) {
        dictionary.generateImageMarker(id, MARKER_MODULES, image, 1);
        const fromOpenCv = Array.from(image.data as Uint8Array, (v) => (v > 127 ? 1 : 0));
        expect(Array.from(markerModules(id)), `marker ${id}`).toEqual(fromOpenCv);
      }
    } finally {
      image.delete();
      dictionary.delete();
    }
  });
});

describe('markers on the rendered PNG', () => {
  const cases: [PaperName, Orientation, number, number, boolean][] = [
    ['a4', 'portrait', 300, 3, false],
    ['letter', 'landscape', 150, 29, true],
  ];

  it.each(cases)('%s %s at %i dpi, sheet %i: ArucoDetector finds the 4 corner and 8 identity ids with corners within 1 px of the layout', async (paper, orientation, dpi, sheetNumber, pairs) => {
    const count = pairs ? 4 : 3;
    const images = new Float32Array(count * 28 * 28).map((_, i) => (i % 7) / 7);
    const records: SheetCellSource[] = Array.from({ length: count }, (_, i) => ({
      kind: pairs && i % 2 === 0 ? 'clean' : 'adversarial',
      imageId: String(i),
      sourceIndex: i,
    }));
    const result = await renderSheets(
      { images, shape: [count, 28, 28, 1], records, options: { experiment: 'markers', paper, orientation, dpi, pairs, firstSheetNumber: sheetNumber } },
      path.join(scratch, `${paper}-${orientation}`),
    );
    const { data, info } = await sharp(result.pngPaths[0]).greyscale().raw().toBuffer({ resolveWithObject: true });

    const grey = new cv.Mat(info.height, info.width, cv.CV_8UC1);
    grey.data.set(data);
    const dictionary = cv.getPredefinedDictionary(cv[MARKER_DICTIONARY]);
    const parameters = new cv.aruco_DetectorParameters();
    parameters.cornerRefinementMethod = cv.CORNER_REFINE_SUBPIX;
    const detector = new cv.aruco_ArucoDetector(dictionary, parameters, new cv.aruco_RefineParameters(10, 3, true));
    const corners = new cv.MatVector();
    const ids = new cv.Mat();
    const rejected = new cv.MatVector();
    const found = new Map<number, { x: number; y: number }[][]>();
    try {
      detector.detectMarkers(grey, corners, ids, rejected);
      for (let i = 0; i < ids.rows; i++) {
        const c = corners.get(i);
        const quad = [0, 1, 2, 3].map((k) => ({ x: c.data32F[2 * k], y: c.data32F[2 * k + 1] }));
        // OpenCV also finds small false markers inside some markers' own module pattern (detect.ts drops
        // them): only printed-size detections count here. An identity may print one id twice: keep all.
        if (Math.hypot(quad[1].x - quad[0].x, quad[1].y - quad[0].y) > mmToPixels(8, dpi)) found.set(ids.data32S[i], [...(found.get(ids.data32S[i]) ?? []), quad]);
        c.delete();
      }
    } finally {
      for (const object of [grey, dictionary, parameters, detector, corners, ids, rejected]) object.delete();
    }

    const manifest = result.manifests[0];
    const printed = [...manifest.geometry.markers, ...manifest.geometry.identityMarkers];
    expect(manifest.geometry.identityMarkers).toHaveLength(8);
    const expectedIds = [...new Set(printed.map((m) => m.id))].sort((a, b) => a - b);
    expect(expectedIds.slice(0, 4)).toEqual([0, 1, 2, 3].map((k) => 4 * sheetNumber + k));
    expect([...found.keys()].sort((a, b) => a - b), JSON.stringify([...found.entries()])).toEqual(expectedIds);
    expect([...found.values()].flat()).toHaveLength(12);
    let worst = 0;
    for (const marker of printed) {
      // The detection of this id nearest the printed place (an id can be printed twice).
      const at = { x: mmToPixels(marker.cornersMm[0].x, dpi), y: mmToPixels(marker.cornersMm[0].y, dpi) };
      const detected = found.get(marker.id)!.reduce((a, b) => (Math.hypot(b[0].x - at.x, b[0].y - at.y) < Math.hypot(a[0].x - at.x, a[0].y - at.y) ? b : a));
      marker.cornersMm.forEach((cornerMm, k) => {
        // OpenCV puts pixel centres at integers; the layout's continuous coordinates put them at +0.5.
        const expected = { x: mmToPixels(cornerMm.x, dpi) - 0.5, y: mmToPixels(cornerMm.y, dpi) - 0.5 };
        const error = Math.hypot(detected[k].x - expected.x, detected[k].y - expected.y);
        worst = Math.max(worst, error);
        expect(error, `marker ${marker.id} corner ${k}`).toBeLessThan(1);
      });
    }
    console.log(`${paper} ${orientation} ${dpi} dpi: worst marker corner error ${worst.toFixed(3)} px`);

    // Our detector keeps exactly the 12 printed markers: none of OpenCV's small false finds inside them.
    const ours = detectMarkers({ cv }, { data: new Uint8Array(data), width: info.width, height: info.height });
    expect(ours.map((m) => m.id).sort((a, b) => a - b)).toEqual(printed.map((m) => m.id).sort((a, b) => a - b));
  });
});
