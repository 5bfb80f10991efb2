import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CALIBRATION_TONE_KNOTS, CalibrationError, parseCalibrationManifest, planCalibrationSheet } from '../app/physical/calibration-sheet.js';
import { fitEdgeProfile, fitToneColour, jpegQualityOf, normalCdf, tiltFromHomography } from '../app/physical/calibration-fit.js';

const plan = planCalibrationSheet({ identity: '0a1b2c3d4', createdAt: '2026-12-02T00:00:00Z' });
const text = JSON.stringify(plan.manifest);

describe('calibration sheet', () => {
  it('prints the whole grey ramp, colour patches and two slanted edges on one A4 page, every cell described once', () => {
    const { manifest } = plan;
    expect(manifest.sheet.cells.length).toBe(manifest.patches.length + manifest.edges.length);
    const greys = manifest.patches.filter((p) => p.rgb[0] === p.rgb[1] && p.rgb[1] === p.rgb[2]).map((p) => p.rgb[0]);
    expect(greys).toEqual(Array.from({ length: CALIBRATION_TONE_KNOTS }, (_, k) => k / 16));
    expect(manifest.patches.length - greys.length).toBeGreaterThanOrEqual(24);
    expect(manifest.edges.map((e) => e.normalDeg)).toEqual([5, 95]);
    expect(new Set([...manifest.patches, ...manifest.edges].map((p) => p.cell)).size).toBe(manifest.sheet.cells.length);
    expect(manifest.sheet.cells[manifest.patches[3].cell].caption).toBe('grey 0.188');
    // A patch image is flat at its colour; an edge image holds the two greys on either side.
    const side = plan.shape[1];
    const at = (cell: number, x: number, y: number) => plan.images[(cell * side * side + y * side + x) * 3];
    expect(at(manifest.patches[8].cell, 5, 100)).toBe(0.5);
    const edge = manifest.edges[0];
    expect(at(edge.cell, 2, 80)).toBeCloseTo(0.2, 6);
    expect(at(edge.cell, side - 3, 80)).toBeCloseTo(0.8, 6);
  });

  it('its manifest round-trips through JSON', () => {
    expect(parseCalibrationManifest(text)).toEqual(plan.manifest);
  });

  it('refuses bad manifests with a one-line error naming the field', () => {
    const json = JSON.parse(text) as Record<string, unknown> & { patches: { cell: number }[]; edges: { light: number }[] };
    expect(() => parseCalibrationManifest('{', 'x.json')).toThrow(/^x\.json is not JSON/);
    expect(() => parseCalibrationManifest(JSON.stringify(json.sheet), 'sheet.manifest.json')).toThrow(/is not a valid calibration manifest: kind/);
    expect(() => parseCalibrationManifest(JSON.stringify({ ...json, kind: 'foolprint-channel-profile' }))).toThrow(/not a calibration sheet manifest \(kind "foolprint-channel-profile"\)/);
    const twice = structuredClone(json);
    twice.patches[1].cell = twice.patches[0].cell;
    expect(() => parseCalibrationManifest(JSON.stringify(twice))).toThrow(/patches\.1\.cell: cell \d+ is described twice/);
    const beyond = structuredClone(json);
    beyond.patches[0].cell = 999;
    expect(() => parseCalibrationManifest(JSON.stringify(beyond))).toThrow(/patches\.0\.cell: cell 999 is not on the sheet/);
    const flat = structuredClone(json);
    flat.edges[0].light = 0.25;
    expect(() => parseCalibrationManifest(JSON.stringify(flat))).toThrow(/edges\.0: an edge needs light/);
    expect(() => parseCalibrationManifest(JSON.stringify({ ...json, extra: 1 }))).toThrow(CalibrationError);
  });

  it('refuses any text or JSON that is not a manifest with a CalibrationError, never another error', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (input) => {
        try {
          parseCalibrationManifest(input);
        } catch (error) {
          expect(error).toBeInstanceOf(CalibrationError);
          expect((error as Error).message).not.toContain('\n');
        }
      }),
    );
  });

  it('a manifest with one field replaced by arbitrary JSON parses or fails with a CalibrationError', () => {
    const json = JSON.parse(text) as Record<string, unknown>;
    fc.assert(
      fc.property(fc.constantFrom('kind', 'version', 'sheet', 'patches', 'edges'), fc.jsonValue(), (key, value) => {
        try {
          parseCalibrationManifest(JSON.stringify({ ...json, [key]: value }));
        } catch (error) {
          expect(error).toBeInstanceOf(CalibrationError);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('edited patch colours and cells parse exactly when they are in range', () => {
    const json = JSON.parse(text) as { patches: { cell: number; rgb: number[] }[] };
    fc.assert(
      fc.property(fc.integer({ min: 0, max: json.patches.length - 1 }), fc.tuple(fc.double(), fc.double(), fc.double()), (i, rgb) => {
        const edited = structuredClone(json);
        edited.patches[i].rgb = rgb;
        const valid = rgb.every((v) => Number.isFinite(v) && v >= 0 && v <= 1);
        if (valid) expect(parseCalibrationManifest(JSON.stringify(edited)).patches[i].rgb).toEqual(rgb.map((v) => v + 0));
        else expect(() => parseCalibrationManifest(JSON.stringify(edited))).toThrow(CalibrationError);
      }),
      { numRuns: 200 },
    );
  });
});

describe('calibration fit, analytic cases', () => {
  it('an error-function edge gives back its σ and shift', () => {
    const d = Float64Array.from({ length: 2000 }, (_, i) => -4 + (8 * i) / 1999);
    const v = d.map((x) => 0.2 + 0.6 * normalCdf((x - 0.12) / 0.35));
    const fit = fitEdgeProfile(d, v);
    expect(fit.sigma).toBeCloseTo(0.35, 2);
    expect(fit.shift).toBeCloseTo(0.12, 2);
  });

  it('tone curves and a colour matrix come back exactly from noiseless patches', () => {
    const tone = [0, 1, 2].map((c) => Array.from({ length: 17 }, (_, k) => 0.05 + 0.01 * c + 0.85 * (k / 16) ** (0.8 + 0.2 * c)));
    const matrix = [0.9, 0.06, 0.04, 0.05, 0.92, 0.03, 0.01, 0.07, 0.92];
    const printed = plan.manifest.patches.map((p) => p.rgb);
    const samples = printed.map((p) => {
      const t = [0, 1, 2].map((c) => tone[c][Math.round(p[c] * 16)]);
      return { printed: p, observed: [0, 1, 2].map((r) => matrix[3 * r] * t[0] + matrix[3 * r + 1] * t[1] + matrix[3 * r + 2] * t[2]) };
    });
    const fit = fitToneColour(samples);
    fit.matrix.forEach((m, i) => expect(m).toBeCloseTo(matrix[i], 3));
    fit.tone.forEach((curve, c) => curve.forEach((v, k) => expect(v).toBeCloseTo(tone[c][k], 3)));
    expect(fit.rms).toBeLessThan(1e-4);
  });

  it('a front-on homography has no tilt; a sheet turned 30° about its vertical axis has 30°', () => {
    expect(tiltFromHomography([2, 0, 100, 0, 2, 50, 0, 0, 1], 800, 600)).toBeCloseTo(0, 5);
    // Pinhole f = 1000 px, centre (399.5, 299.5), plane rotated 30° about y at distance 500 mm.
    const [f, c, s, cx, cy, z] = [1000, Math.cos(Math.PI / 6), Math.sin(Math.PI / 6), 399.5, 299.5, 500];
    const h = [f * c + cx * -s, 0, cx * z, cy * -s, f, cy * z, -s, 0, z];
    expect(tiltFromHomography(h, 800, 600)).toBeCloseTo(30, 1);
  });

  it('reads the JPEG quality sharp wrote', async () => {
    const { default: sharp } = await import('sharp');
    for (const quality of [50, 75, 90]) {
      const bytes = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#808080' } }).jpeg({ quality }).toBuffer();
      expect(jpegQualityOf(bytes)).toBe(quality);
    }
    const png = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#808080' } }).png().toBuffer();
    expect(jpegQualityOf(png)).toBeNull();
  });
});
