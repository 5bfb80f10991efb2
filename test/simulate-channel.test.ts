import { describe, expect, it } from 'vitest';
import { defaultChannelProfile } from '../app/physical/channel-profile.js';
import { createRgba } from '../app/physical/image.js';
import { ChannelParameterError, photoParamsFromProfile, simulatePhoto } from '../app/physical/simulate.js';

/** A sheet filling the frame exactly, so every photo pixel shows the sheet. */
const frame = (width: number, height: number) => ({ corners: [[-0.5, -0.5], [width - 0.5, -0.5], [width - 0.5, height - 0.5], [-0.5, height - 0.5]] as [[number, number], [number, number], [number, number], [number, number]] });
const plain = { width: 64, height: 48, jpegQuality: 0, noiseSigma: 0, blurSigma: 0, colourCast: 0, vignetting: 0, unevenLight: 0, paperTexture: 0, clutter: 0, ...frame(64, 48) };

describe('the simulator through a channel profile', () => {
  it('maps printed values through the tone curves, then the colour matrix and offset', () => {
    const sheet = createRgba(64, 48, [128, 64, 255]);
    const tone: [number[], number[], number[]] = [[0.1, 0.5], [0.2, 0.9], [0, 0.8]];
    const photo = simulatePhoto(sheet, { ...plain, tone, colourMatrix: [0.5, 0.5, 0, 0, 1, 0, 0, 0, 1], colourOffset: [0, 0.05, 0] }, 1);
    const t = [0.1 + 0.4 * (128 / 255), 0.2 + 0.7 * (64 / 255), 0.8];
    const expected = [0.5 * t[0] + 0.5 * t[1], t[1] + 0.05, t[2]].map((v) => Math.round(v * 255));
    const centre = (24 * 64 + 32) * 4;
    expect([...photo.image.data.slice(centre, centre + 3)]).toEqual(expected);
  });

  it('converts blur in mm to photo pixels with the sheet dpi and its scale in the photo', () => {
    // 254 dpi = 10 px/mm; the 64 px sheet shown at 2x in a 128 px frame: 0.1 mm → 2 photo px.
    const sheet = createRgba(64, 48);
    const photo = simulatePhoto(sheet, { ...plain, width: 128, height: 96, ...frame(128, 96), blurMm: 0.1, sheetDpi: 254 }, 1);
    expect(photo.params.blurSigma).toBeCloseTo(2, 6);
    expect(() => simulatePhoto(sheet, { ...plain, blurMm: 0.1 }, 1)).toThrow(/blurMm needs sheetDpi/);
    expect(() => simulatePhoto(sheet, { ...plain, tone: [[0.1], [0, 1], [0, 1]] }, 1)).toThrow(ChannelParameterError);
  });

  it('draws noise, light and JPEG within the profile\'s ranges, seeded, and lets explicit parameters win', () => {
    const profile = defaultChannelProfile();
    for (let seed = 0; seed < 20; seed++) {
      const params = photoParamsFromProfile(profile, 300, seed);
      expect(params.noiseSigma).toBeGreaterThanOrEqual(profile.noiseSigma[0]);
      expect(params.noiseSigma).toBeLessThanOrEqual(profile.noiseSigma[1]);
      expect(params.blurMm).toBeGreaterThanOrEqual(profile.blurMm[0]);
      expect(params.blurMm).toBeLessThanOrEqual(profile.blurMm[1]);
      expect(params.jpegQuality).toBeGreaterThanOrEqual(70);
      expect(params.jpegQuality).toBeLessThanOrEqual(95);
      expect(params.contrast).toBeGreaterThanOrEqual(profile.contrast[0]);
    }
    expect(photoParamsFromProfile(profile, 300, 3)).toEqual(photoParamsFromProfile(profile, 300, 3));
    expect(photoParamsFromProfile(profile, 300, 3, { noiseSigma: 0.2, brightness: undefined }).noiseSigma).toBe(0.2);
    expect(photoParamsFromProfile({ ...profile, jpegQuality: null }, 300, 3).jpegQuality).toBe(0);
  });
});
