/**
 * Round trip with known answers: D1's renderer draws a sheet of MNIST digits, the simulated camera
 * photographs it under a known random homography with blur, noise, JPEG and uneven light, and the
 * analysis must find the sheet, the corners, every cell and crops that match their sources.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { imageCanvases, renderSheetCanvas } from '../app/node/sheet-render.js';
import { planSheets } from '../app/physical/sheet-manifest.js';
import type { SheetManifest } from '../app/physical/sheet-manifest.js';
import { analyzePhoto } from '../app/physical/analyze.js';
import type { PhotoAnalysis } from '../app/physical/analyze.js';
import { applyHomography } from '../app/physical/homography.js';
import type { Point } from '../app/physical/homography.js';
import { mmToPixels } from '../app/physical/layout.js';
import { loadOpenCVInNode } from '../app/physical/opencv.node.js';
import { simulatePhoto } from '../app/physical/simulate.js';
import type { RgbaImage } from '../app/physical/image.js';
import { builtInWeights, digits, mnistAvailable, psnr } from './physical-fixture.js';
import type { DigitSet } from './physical-fixture.js';

const DPI = 150;
const set: DigitSet = digits(24);
if (!mnistAvailable) console.warn('MNIST not found at ../shared/data/mnist: the round trip uses the built-in samples instead');

function renderWithD1(): { image: RgbaImage; manifest: SheetManifest } {
  const records = Array.from(set.labels, (trueLabel, i) => ({ kind: 'clean' as const, imageId: `t10k-${i}`, sourceIndex: i, trueLabel }));
  const plan = planSheets(records, [28, 28, 1], { experiment: 'round trip', dpi: DPI, createdAt: '2026-11-28T22:00:00Z' });
  const canvas = renderSheetCanvas(plan, 0, imageCanvases(set.images, [set.count, 28, 28, 1]), DPI);
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
  return { image: { data: data.data, width: data.width, height: data.height }, manifest: plan.manifests[0] };
}

const sheet = renderWithD1();

/** Page millimetres → sheet-image pixel centres (OpenCV convention), then through the true homography. */
function truePhotoPoint(h: readonly number[], [x, y]: Point): [number, number] {
  return applyHomography(h, [mmToPixels(x, DPI) - 0.5, mmToPixels(y, DPI) - 0.5]);
}

function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < a.length; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= a.length;
  mb /= b.length;
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += (a[i] - ma) * (b[i] - mb);
    aa += (a[i] - ma) ** 2;
    bb += (b[i] - mb) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

const source = (i: number) => set.images.subarray(i * 784, (i + 1) * 784);

describe('photo round trip (D1 sheet renderer → simulated camera → analyzePhoto)', () => {
  const cases = [
    { seed: 11, params: { blurSigma: 1.0, noiseSigma: 0.02, jpegQuality: 70, unevenLight: 0.35, tiltDeg: 40 } },
    { seed: 12, params: { blurSigma: 1.2, noiseSigma: 0.03, jpegQuality: 60, unevenLight: 0.3, rotationDeg: 180, tiltDeg: 30 } },
    { seed: 13, params: { blurSigma: 0.7, noiseSigma: 0.015, jpegQuality: 85, unevenLight: 0.4, vignetting: 0.4, tiltDeg: 45, scale: 0.95 } },
    // A strong keystone, as when the phone is held at about 45° to the page: the far edge is half as wide.
    { seed: 14, params: { blurSigma: 0.8, noiseSigma: 0.02, jpegQuality: 80, corners: [[470, 40], [850, 60], [1100, 700], [200, 680]] as [Point, Point, Point, Point] } },
  ];
  it.each(cases)('seed $seed: sheet, corners within 1% of the diagonal, every cell, crops match their sources', async ({ seed, params }) => {
    const opencv = await loadOpenCVInNode();
    const photo = simulatePhoto(sheet.image, params, seed);
    const result: PhotoAnalysis = await analyzePhoto(photo.image, [sheet.manifest], undefined, { opencv });
    expect(result.status, result.message).toBe('ok');
    expect(result.sheetId).toBe(sheet.manifest.sheetId);
    expect(result.markers.filter((m) => m.role === 'corner').map((m) => m.id).sort()).toEqual([0, 1, 2, 3]);
    // The set identity read through the same channel (blur, noise, JPEG, uneven light, 30-45° tilt).
    expect(result.identity).toBe(sheet.manifest.identity);
    const identityRead = result.markers.filter((m) => m.role === 'identity' && m.sheetNumber === 0).length;
    expect(identityRead).toBeGreaterThanOrEqual(6);

    const page = sheet.manifest.geometry.pageMm;
    const truth = ([[0, 0], [page.width, 0], [page.width, page.height], [0, page.height]] as Point[]).map((p) => truePhotoPoint(photo.homography, p));
    const diagonal = Math.hypot(truth[2][0] - truth[0][0], truth[2][1] - truth[0][1]);
    const pageErrors = result.pageCorners!.map((p, k) => Math.hypot(p[0] - truth[k][0], p[1] - truth[k][1]));
    const markerErrors = result.markers.filter((m) => m.role === 'corner').flatMap((m) => {
      const expected = sheet.manifest.geometry.markers.find((e) => e.id === m.id)!;
      return m.corners.map((c, k) => {
        const t = truePhotoPoint(photo.homography, [expected.cornersMm[k].x, expected.cornersMm[k].y]);
        return Math.hypot(c[0] - t[0], c[1] - t[1]);
      });
    });
    expect(Math.max(...pageErrors)).toBeLessThan(0.01 * diagonal);
    expect(Math.max(...markerErrors)).toBeLessThan(0.01 * diagonal);

    expect(result.cells).toHaveLength(set.count);
    const scores = result.cells.map((cell) => {
      expect(cell.status).toBe('ok');
      expect(cell.crop?.pixels).toHaveLength(784);
      return psnr(cell.crop!.pixels, source(cell.record.sourceIndex));
    });
    // Each crop is most like its own source among all 24 digits (a known answer, not just "similar").
    for (const cell of result.cells) {
      const own = correlation(cell.crop!.pixels, source(cell.index));
      for (let j = 0; j < set.count; j++) if (j !== cell.index) expect(own).toBeGreaterThan(correlation(cell.crop!.pixels, source(j)));
      expect(own).toBeGreaterThan(0.8);
    }
    const mean = scores.reduce((s, v) => s + v, 0) / scores.length;
    console.log(
      `seed ${seed}: ${photo.params.tilt === null ? 'given corners' : `tilt ${photo.params.tilt.toFixed(0)}°, rotation ${photo.params.rotation?.toFixed(0)}°`}; corner error max ${Math.max(...pageErrors).toFixed(2)} px (diagonal ${diagonal.toFixed(0)} px), ` +
        `marker corners max ${Math.max(...markerErrors).toFixed(2)} px, identity markers read ${identityRead}/8, reprojection ${result.reprojectionError!.mean.toFixed(2)} px; ` +
        `crop PSNR mean ${mean.toFixed(1)} dB, min ${Math.min(...scores).toFixed(1)} dB; ${result.timing.totalMs.toFixed(0)} ms`,
    );
    expect(mean).toBeGreaterThan(15);
    expect(Math.min(...scores)).toBeGreaterThan(12);
  });

  it('clean MNIST cells keep their digital prediction on the built-in model', async () => {
    if (!existsSync(builtInWeights)) {
      console.warn(`skipped: needs ${builtInWeights} (built-in LeNet weights); the crops are checked against their sources above`);
      return;
    }
    const tf = await import('@tensorflow/tfjs');
    const { loadClassifier } = await import('../app/node/model-loader.js');
    const { predictTopK } = await import('../app/engine/predict.js');
    const classifier = await loadClassifier({ kind: 'builtin', id: 'lenet-mnist' });
    try {
      const start = tf.memory().numTensors;
      const digital = predictTopK(classifier, set.images, 5);
      const opencv = await loadOpenCVInNode();
      let agree = 0;
      let total = 0;
      for (const seed of [21, 22, 23]) {
        const photo = simulatePhoto(sheet.image, { blurSigma: 1, noiseSigma: 0.02, jpegQuality: 75, unevenLight: 0.3 }, seed);
        const result = await analyzePhoto(photo.image, [sheet.manifest], async (crops) => predictTopK(classifier, crops, 5), { opencv });
        for (const cell of result.cells) {
          total++;
          if (cell.top5?.[0].label === digital.labels[cell.index * 5]) agree++;
        }
      }
      console.log(`built-in model: photographed cells keep the digital top-1 in ${agree}/${total} (${((100 * agree) / total).toFixed(1)}%)`);
      expect(total).toBe(3 * set.count);
      expect(agree / total).toBeGreaterThanOrEqual(0.95);
      expect(tf.memory().numTensors).toBe(start);
    } finally {
      classifier.dispose();
    }
  });
});
