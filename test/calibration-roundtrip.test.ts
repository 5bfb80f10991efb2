/**
 * Calibration round trip with known answers: a rendered calibration sheet goes through the simulator
 * with a known printer (per-channel tone curves, a colour matrix with cross-talk), a known blur in mm
 * and known noise, and the fit must give them back. The truth obeys the fit's gauge (matrix rows summing
 * to 1, zero offset; calibration-fit.ts), so every component is comparable, not only their composite.
 */
import { describe, expect, it } from 'vitest';
import { imageCanvases, renderSheetCanvas } from '../app/node/sheet-render.js';
import { CalibrationError, planCalibrationSheet } from '../app/physical/calibration-sheet.js';
import { applyToneColour, calibrate, readCalibrationPhoto } from '../app/physical/calibration-fit.js';
import { createRgba } from '../app/physical/image.js';
import { applyToneCurve } from '../app/physical/tone-curve.js';
import { loadOpenCVInNode } from '../app/physical/opencv.node.js';
import { simulatePhoto } from '../app/physical/simulate.js';
import type { PhotoChannelParams } from '../app/physical/simulate.js';

const DPI = 200;
const knots = (f: (v: number) => number) => Array.from({ length: 17 }, (_, k) => f(k / 16));
const TRUE_TONE: [number[], number[], number[]] = [knots((v) => 0.07 + 0.85 * v ** 1.25), knots((v) => 0.09 + 0.83 * v ** 0.9), knots((v) => 0.1 + 0.78 * v)];
const TRUE_MATRIX = [0.88, 0.09, 0.03, 0.06, 0.9, 0.04, 0.02, 0.1, 0.88];
const TRUE_BLUR_MM = 0.3;
const TRUE_NOISE = 0.012;

const sheet = planCalibrationSheet({ dpi: DPI, identity: '0a1b2c3d4', createdAt: '2026-12-02T00:00:00Z' });
const canvas = renderSheetCanvas(sheet.plan, 0, imageCanvases(sheet.images, sheet.shape), DPI);
const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
const image = { data: data.data, width: data.width, height: data.height };

describe('calibration round trip', () => {
  it('recovers a known tone curve, colour matrix, blur and noise through the simulator', async () => {
    const channel: PhotoChannelParams = {
      width: 2000, height: 1500, tiltDeg: 12, rotationDeg: 10,
      tone: TRUE_TONE, colourMatrix: TRUE_MATRIX, blurMm: TRUE_BLUR_MM, sheetDpi: DPI, noiseSigma: TRUE_NOISE,
      jpegQuality: 0, colourCast: 0, vignetting: 0, unevenLight: 0, paperTexture: 0,
    };
    const photos = [1, 2].map((seed) => ({ name: `photo-${seed}.png`, image: simulatePhoto(image, channel, seed).image, jpegQuality: null }));
    const result = await calibrate(photos, [sheet.manifest], { opencv: await loadOpenCVInNode(), created: '2026-12-02T00:00:00Z' });
    const { profile } = result;
    expect(result.failures).toEqual([]);

    let toneError = 0;
    for (let c = 0; c < 3; c++) for (let k = 0; k < 17; k++) toneError = Math.max(toneError, Math.abs(profile.tone[c][k] - TRUE_TONE[c][k]));
    const matrixError = Math.max(...profile.colourMatrix.map((v, i) => Math.abs(v - TRUE_MATRIX[i])));
    let composite = 0;
    for (let i = 0; i < 200; i++) {
      const p = [(i * 37) % 101 / 100, (i * 53) % 97 / 96, (i * 71) % 89 / 88];
      const truth = [0, 1, 2].map((r) => [0, 1, 2].reduce((s, c) => s + TRUE_MATRIX[3 * r + c] * applyToneCurve(TRUE_TONE[c], p[c]), 0));
      const fitted = applyToneColour({ tone: profile.tone, matrix: profile.colourMatrix }, p);
      for (let c = 0; c < 3; c++) composite = Math.max(composite, Math.abs(fitted[c] - truth[c]));
    }
    const blur = profile.blurMm.map((b) => b - TRUE_BLUR_MM);
    const noise = profile.noiseSigma.map((n) => n - TRUE_NOISE);
    console.log(JSON.stringify({ toneError, matrixError, composite, blurMm: profile.blurMm, noise: profile.noiseSigma, colourRms: result.colourRms, tilt: profile.observed?.tiltDeg, pose: profile.pose, brightness: profile.brightness, contrast: profile.contrast, edges: result.readings.map((r) => r.edges) }));
    expect(toneError).toBeLessThan(0.02);
    expect(matrixError).toBeLessThan(0.03);
    expect(composite).toBeLessThan(0.02);
    expect(Math.max(...blur.map(Math.abs))).toBeLessThan(0.05);
    expect(Math.max(...noise.map(Math.abs))).toBeLessThan(0.004);
    // The simulator's pose is an exact homography: the residual misregistration is detection error only.
    expect(profile.pose.translateMm[1]).toBeLessThan(0.5);
    expect(profile.pose.perspectiveMm[1]).toBeLessThan(0.5);
    expect(profile.observed?.tiltDeg?.[1]).toBeLessThan(13);
    // The page's 297 mm fill at most 0.8 of the 1500 px frame: about 4 photo pixels per mm.
    expect(profile.observed?.pixelsPerMm?.[0]).toBeGreaterThan(3);
    expect(profile.observed?.pixelsPerMm?.[1]).toBeLessThan(4.1);
  }, 120_000);

  it('takes uneven light and vignetting out of the tone: the fit is the true printer up to the photo\'s exposure', async () => {
    const channel: PhotoChannelParams = {
      width: 1600, height: 1200, tiltDeg: 10, tone: TRUE_TONE, colourMatrix: TRUE_MATRIX, noiseSigma: 0.01,
      jpegQuality: 0, colourCast: 0, vignetting: 0.25, unevenLight: 0.25, paperTexture: 0,
    };
    const photo = { name: 'lamp.png', image: simulatePhoto(image, channel, 5).image, jpegQuality: null };
    const { profile } = await calibrate([photo], [sheet.manifest], { opencv: await loadOpenCVInNode() });
    const pairs: [number, number][] = [];
    for (let i = 0; i < 100; i++) {
      const p = [(i * 37) % 101 / 100, (i * 53) % 97 / 96, (i * 71) % 89 / 88];
      const truth = [0, 1, 2].map((r) => [0, 1, 2].reduce((s, c) => s + TRUE_MATRIX[3 * r + c] * applyToneCurve(TRUE_TONE[c], p[c]), 0));
      const fitted = applyToneColour({ tone: profile.tone, matrix: profile.colourMatrix }, p);
      for (let c = 0; c < 3; c++) pairs.push([truth[c], fitted[c]]);
    }
    // The light's mean over the sheet is the photo's exposure, which the profile keeps: one gain.
    const gain = pairs.reduce((s, [t, f]) => s + t * f, 0) / pairs.reduce((s, [t]) => s + t * t, 0);
    const error = Math.max(...pairs.map(([t, f]) => Math.abs(f - gain * t)));
    console.log(JSON.stringify({ gain, error }));
    expect(error).toBeLessThan(0.02);
  }, 120_000);

  it('refuses a photo of another set, and a photo without a sheet, with one clear line', async () => {
    const opencv = await loadOpenCVInNode();
    const other = planCalibrationSheet({ dpi: DPI, identity: '1f2e3d4c5', createdAt: '2026-12-02T00:00:00Z' });
    const photo = { name: 'photo.png', image: simulatePhoto(image, { width: 1280, height: 960, tiltDeg: 10, jpegQuality: 0 }, 3).image };
    await expect(readCalibrationPhoto(photo, [other.manifest], opencv)).rejects.toThrow(/^photo\.png: not the calibration sheet given: the photo shows sheet 0 of set 0a1b2c3d4/);
    await expect(readCalibrationPhoto({ name: 'wall.png', image: createRgba(640, 480, [200, 190, 180]) }, [sheet.manifest], opencv)).rejects.toThrow(CalibrationError);
    await expect(calibrate([{ name: 'wall.png', image: createRgba(640, 480) }], [sheet.manifest], { opencv })).rejects.toThrow(/^wall\.png: calibration sheet not found/);
  }, 60_000);
});
