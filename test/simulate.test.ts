import { describe, expect, it } from 'vitest';
import { applyHomography, fitAffine, fitHomography, invertHomography, multiplyHomography, reprojectionError, GeometryError } from '../app/physical/homography.js';
import type { Point } from '../app/physical/homography.js';
import { jpegRoundTrip, JpegQualityError } from '../app/physical/jpeg.js';
import { SeededRandom } from '../app/physical/random.js';
import { ChannelParameterError, simulatePhoto, transformImages } from '../app/physical/simulate.js';
import { createRgba } from '../app/physical/image.js';
import { digits, psnr } from './physical-fixture.js';
import { loadOpenCVInNode } from '../app/physical/opencv.node.js';
import { loadOpenCV } from '../app/physical/opencv.js';

describe('homography maths', () => {
  const truth = [1.2, 0.1, 30, -0.05, 0.9, 40, 0.0004, -0.0002, 1];
  const page: Point[] = [[0, 0], [210, 0], [210, 297], [0, 297], [20, 30], [190, 30], [100, 150], [30, 270]];
  it('fits a known homography exactly from its own correspondences', () => {
    const photo = page.map((p) => applyHomography(truth, p));
    const h = fitHomography(page, photo);
    h.forEach((v, i) => expect(v).toBeCloseTo(truth[i], 6));
    expect(reprojectionError(h, page, photo).max).toBeLessThan(1e-6);
  });
  it('recovers it from noisy points within the noise', () => {
    const random = new SeededRandom(3);
    const photo = page.map((p) => applyHomography(truth, p)).map(([x, y]) => [x + 0.3 * random.normal(), y + 0.3 * random.normal()] as Point);
    const h = fitHomography(page, photo);
    const err = page.map((p) => Math.hypot(applyHomography(h, p)[0] - applyHomography(truth, p)[0], applyHomography(h, p)[1] - applyHomography(truth, p)[1]));
    expect(Math.max(...err)).toBeLessThan(1);
  });
  it('inverts: H⁻¹·H = I', () => {
    const product = multiplyHomography(invertHomography(truth), truth);
    const scale = product[8];
    [1, 0, 0, 0, 1, 0, 0, 0, 1].forEach((v, i) => expect(product[i] / scale).toBeCloseTo(v, 9));
  });
  it('affine fit from 3 points is exact; collinear and too few points are refused', () => {
    const affine = [0.5, -0.2, 7, 0.3, 1.1, -4, 0, 0, 1];
    const from: Point[] = [[0, 0], [10, 0], [0, 10], [5, 5]];
    const h = fitAffine(from, from.map((p) => applyHomography(affine, p)));
    h.forEach((v, i) => expect(v).toBeCloseTo(affine[i], 9));
    expect(() => fitAffine([[0, 0], [1, 1], [2, 2]], [[0, 0], [1, 1], [2, 2]])).toThrow(GeometryError);
    expect(() => fitHomography(page.slice(0, 3), page.slice(0, 3))).toThrow(/at least 4/);
    expect(() => fitHomography([[0, 0], [1, 1], [2, 2], [3, 3]], [[0, 0], [1, 1], [2, 2], [3, 3]])).toThrow(GeometryError);
  });
});

describe('seeded random', () => {
  it('repeats per seed and has the right moments', () => {
    const a = new SeededRandom(42);
    const b = new SeededRandom(42);
    const c = new SeededRandom(43);
    const xs = Array.from({ length: 20000 }, () => a.normal());
    expect(Array.from({ length: 20000 }, () => b.normal())).toEqual(xs);
    expect(c.normal()).not.toBe(xs[0]);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
  });
});

describe('JPEG approximation', () => {
  const set = digits(4);
  it('loses more at lower quality; quality 100 is nearly lossless; output is on 8-bit levels', () => {
    const image = set.images.subarray(0, 784);
    const scores = [100, 75, 30, 5].map((q) => psnr(jpegRoundTrip(image, 28, 28, 1, q), image));
    console.log('JPEG PSNR on an MNIST digit (dB), q=100,75,30,5:', scores.map((s) => s.toFixed(1)).join(', '));
    expect(scores[0]).toBeGreaterThan(40);
    for (let i = 1; i < scores.length; i++) expect(scores[i]).toBeLessThan(scores[i - 1]);
    for (const v of jpegRoundTrip(image, 28, 28, 1, 50)) expect(Math.abs(v * 255 - Math.round(v * 255))).toBeLessThan(1e-4);
    expect(() => jpegRoundTrip(image, 28, 28, 1, 0)).toThrow(JpegQualityError);
  });
  it('keeps a flat colour (DC only) in RGB', () => {
    const flat = new Float32Array(16 * 16 * 3).map((_, i) => [0.8, 0.4, 0.2][i % 3]);
    const out = jpegRoundTrip(flat, 16, 16, 3, 50);
    for (let i = 0; i < out.length; i++) expect(Math.abs(out[i] - flat[i])).toBeLessThan(3 / 255);
  });
});

describe('transformImages (Kurakin et al. appendix transformations)', () => {
  const set = digits(3);
  const shape = [3, 28, 28, 1] as const;
  it('brightness and contrast follow X + δ and X·μ, clipped to [0,1]', () => {
    const bright = transformImages(set.images, shape, 'brightness', 0.2);
    const contrast = transformImages(set.images, shape, 'contrast', 0.5);
    for (let i = 0; i < set.images.length; i += 97) {
      expect(bright[i]).toBeCloseTo(Math.min(1, set.images[i] + 0.2), 6);
      expect(contrast[i]).toBeCloseTo(set.images[i] * 0.5, 6);
    }
  });
  it('rotation by 0 and scale 1 are the identity; rotation by 90° is an exact pixel permutation', () => {
    expect(psnr(transformImages(set.images, shape, 'rotation', 0), set.images)).toBe(Infinity);
    expect(psnr(transformImages(set.images, shape, 'scale', 1), set.images)).toBe(Infinity);
    const r = transformImages(set.images, shape, 'rotation', 90);
    // Inverse map (x', y') ← source (c·dx + s·dy + cx, −s·dx + c·dy + cy) with s = 1: source (y', 27 − x').
    for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) expect(r[y * 28 + x]).toBeCloseTo(set.images[(27 - x) * 28 + y], 5);
  });
  it('blur keeps a constant image and the mean; noise has the requested σ and repeats per seed', () => {
    const flat = new Float32Array(784).fill(0.4);
    expect(Math.max(...transformImages(flat, [1, 28, 28, 1], 'blur', 2).map((v) => Math.abs(v - 0.4)))).toBeLessThan(1e-6);
    const blurred = transformImages(set.images, shape, 'blur', 1);
    const sum = (a: Float32Array) => a.reduce((s, v) => s + v, 0);
    expect(Math.abs(sum(blurred) - sum(set.images)) / sum(set.images)).toBeLessThan(0.02);
    const grey = new Float32Array(784 * 10).fill(0.5);
    const noisy = transformImages(grey, [10, 28, 28, 1], 'noise', 0.1, 7);
    const sd = Math.sqrt(noisy.reduce((s, v) => s + (v - 0.5) ** 2, 0) / noisy.length);
    expect(Math.abs(sd - 0.1)).toBeLessThan(0.005);
    expect(transformImages(grey, [10, 28, 28, 1], 'noise', 0.1, 7)).toEqual(noisy);
    expect(transformImages(grey, [10, 28, 28, 1], 'noise', 0.1, 8)).not.toEqual(noisy);
  });
  it('refuses bad input with clear messages', () => {
    expect(() => transformImages(set.images, [2, 28, 28, 1], 'blur', 1)).toThrow(/shape 2x28x28x1 needs 1568/);
    expect(() => transformImages(set.images, shape, 'sepia' as never, 1)).toThrow(/unknown transformation "sepia"/);
    expect(() => transformImages(set.images, shape, 'jpeg', 0)).toThrow(ChannelParameterError);
  });
});

describe('simulatePhoto', () => {
  const sheet = createRgba(300, 400, [255, 255, 255]);
  for (let y = 100; y < 200; y++) for (let x = 100; x < 200; x++) sheet.data.fill(0, (y * 300 + x) * 4, (y * 300 + x) * 4 + 3);
  it('is deterministic per seed, returns the homography it used, and places the sheet where asked', () => {
    const a = simulatePhoto(sheet, { width: 320, height: 240 }, 5);
    const b = simulatePhoto(sheet, { width: 320, height: 240 }, 5);
    const c = simulatePhoto(sheet, { width: 320, height: 240 }, 6);
    expect(Buffer.from(a.image.data).equals(Buffer.from(b.image.data))).toBe(true);
    expect(Buffer.from(a.image.data).equals(Buffer.from(c.image.data))).toBe(false);
    const corners: [Point, Point, Point, Point] = [[40, 20], [280, 30], [270, 220], [50, 230]];
    const placed = simulatePhoto(sheet, { width: 320, height: 240, corners, blurSigma: 0, noiseSigma: 0, jpegQuality: 0, vignetting: 0, unevenLight: 0, colourCast: 0, paperTexture: 0 }, 1);
    const sheetCorners: Point[] = [[-0.5, -0.5], [299.5, -0.5], [299.5, 399.5], [-0.5, 399.5]];
    sheetCorners.forEach((p, k) => {
      const [x, y] = applyHomography(placed.homography, p);
      expect(Math.hypot(x - corners[k][0], y - corners[k][1])).toBeLessThan(1e-6);
    });
    // The black square's centre (150,150) shows black; the sheet's white at (20,20) shows white.
    const at = (p: Point) => {
      const [x, y] = applyHomography(placed.homography, p).map(Math.round);
      return placed.image.data[(y * 320 + x) * 4];
    };
    expect(at([150, 150])).toBeLessThan(10);
    expect(at([20, 380])).toBeGreaterThan(245);
  });
  it('refuses impossible parameters', () => {
    expect(() => simulatePhoto(sheet, { blurSigma: -1 })).toThrow(/blurSigma must be from 0 to 20/);
    expect(() => simulatePhoto(sheet, { width: 5 })).toThrow(ChannelParameterError);
    expect(() => simulatePhoto({ data: new Uint8ClampedArray(3), width: 2, height: 2 })).toThrow(/needs 16 bytes/);
  });
});

describe('OpenCV.js loader', () => {
  it('loads once and leaves no emscripten process handlers behind (they rethrow with 10 MB of source)', async () => {
    const before = [process.listeners('uncaughtException').length, process.listeners('unhandledRejection').length];
    // The pure loader's default path (what the service and the browser call) must not stall under Vitest.
    const [a, b] = await Promise.all([loadOpenCV(), loadOpenCVInNode()]);
    expect(a.cv).toBe(b.cv);
    expect(typeof a.cv.aruco_ArucoDetector).toBe('function');
    expect([process.listeners('uncaughtException').length, process.listeners('unhandledRejection').length]).toEqual(before);
  });
});
