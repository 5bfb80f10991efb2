/**
 * Unit tests of the renderer's pure logic: ε units, chart scales, camera error messages and the
 * permission timeout, base64 payloads, labels from file names, and the live-view cell bookkeeping.
 */
import { describe, expect, it, vi } from 'vitest';
import { EpsilonParseError, formatEpsilon, fromUnitEpsilon, parseEpsilons, toUnitEpsilon } from '../renderer/src/epsilon.js';
import { linePath, linearScale, niceTicks } from '../renderer/src/charts/chart-scale.js';
import { CameraError, describeCameraError, withPermissionTimeout } from '../renderer/src/capture/camera-errors.js';
import { base64ToBytes, bytesToBase64, float32ToBase64 } from '../renderer/src/base64.js';
import { ClassLabelMatcher, labelFromFileName } from '../app/data/class-labels.js';
import { concatenateCrops, framesPerSecond, liveCells } from '../renderer/src/capture/live-cells.js';
import type { PhotoAnalysis } from '../app/physical/analyze.js';

describe('ε units', () => {
  it('converts pixel levels to [0,1] and back', () => {
    expect(toUnitEpsilon(8, 'levels')).toBeCloseTo(8 / 255, 12);
    expect(toUnitEpsilon(0.25, 'unit')).toBe(0.25);
    expect(fromUnitEpsilon(16 / 255, 'levels')).toBeCloseTo(16, 10);
  });
  it('parses lists in either unit, sorted and without duplicates', () => {
    expect(parseEpsilons('16, 2 8;4 8', 'levels')).toEqual([2, 4, 8, 16].map((v) => v / 255));
    expect(parseEpsilons('0.1 0.03', 'unit')).toEqual([0.03, 0.1]);
  });
  it.each([
    ['', 'levels', /at least one/],
    ['abc', 'levels', /not a non-negative number/],
    ['-1', 'unit', /not a non-negative number/],
    ['300', 'levels', /above the whole pixel range/],
    ['256', 'unit', /above the whole pixel range/],
    ['8/0', 'levels', /fraction such as 8\/255/],
  ] as const)('rejects %j (%s) with a clear message', (text, unit, message) => {
    expect(() => parseEpsilons(text, unit)).toThrow(EpsilonParseError);
    expect(() => parseEpsilons(text, unit)).toThrow(message);
  });
  it('formats ε in both units', () => {
    expect(formatEpsilon(8 / 255)).toBe('8/255 (0.0314)');
    expect(formatEpsilon(0.01)).toBe('2.55/255 (0.0100)');
  });
});

describe('chart scales', () => {
  it('maps the domain linearly onto the range, inverted axes included', () => {
    const y = linearScale([0, 1], [200, 10]);
    expect(y(0)).toBe(200);
    expect(y(1)).toBe(10);
    expect(y(0.5)).toBe(105);
  });
  it('gives round ticks covering the interval', () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0, 32, 4)).toEqual([0, 10, 20, 30]);
    expect(niceTicks(3, 3)).toEqual([3]);
  });
  it('builds an SVG path through the points', () => {
    expect(linePath([[0, 1], [2.5, 3]])).toBe('M0.00,1.00 L2.50,3.00');
  });
});

describe('camera errors', () => {
  it.each([
    ['NotAllowedError', 'denied', /denied/],
    ['NotFoundError', 'not-found', /No camera was found/],
    ['NotReadableError', 'busy', /another application/],
    ['OverconstrainedError', 'constraints', /resolution/],
    ['SecurityError', 'insecure', /secure page/],
  ] as const)('%s becomes a %s message', (name, kind, message) => {
    const described = describeCameraError(Object.assign(new Error('x'), { name }));
    expect(described).toBeInstanceOf(CameraError);
    expect(described.kind).toBe(kind);
    expect(described.message).toMatch(message);
  });
  it('times out a permission prompt that never settles, and stops a late stream', async () => {
    vi.useFakeTimers();
    try {
      let grant!: (value: { stopped: boolean }) => void;
      const prompt = new Promise<{ stopped: boolean }>((resolve) => (grant = resolve));
      const late = vi.fn((stream: { stopped: boolean }) => (stream.stopped = true));
      const waiting = withPermissionTimeout(prompt, 10_000, late);
      const outcome = expect(waiting).rejects.toMatchObject({ kind: 'timeout', message: expect.stringMatching(/after 10 s/) });
      await vi.advanceTimersByTimeAsync(10_001);
      await outcome;
      const stream = { stopped: false };
      grant(stream);
      await vi.advanceTimersByTimeAsync(0);
      expect(late).toHaveBeenCalledOnce();
      expect(stream.stopped).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });
  it('passes a prompt answered in time through, and maps its rejection', async () => {
    await expect(withPermissionTimeout(Promise.resolve(42), 1000)).resolves.toBe(42);
    await expect(withPermissionTimeout(Promise.reject(Object.assign(new Error('no'), { name: 'NotAllowedError' })), 1000)).rejects.toMatchObject({ kind: 'denied' });
  });
});

describe('base64 payloads', () => {
  it('round-trips bytes, also beyond one chunk', () => {
    const bytes = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 7919) % 256);
    expect(base64ToBytes(bytesToBase64(bytes))).toEqual(bytes);
    expect(bytesToBase64(Uint8Array.of(102, 111, 111))).toBe('Zm9v');
  });
  it('writes Float32 little-endian, as Node reads it back', () => {
    const values = [0, 0.5, 1, 0.123456];
    const back = Buffer.from(float32ToBase64(values), 'base64');
    expect([0, 1, 2, 3].map((i) => back.readFloatLE(i * 4))).toEqual(Array.from(Float32Array.from(values)));
  });
  it.each([
    ['7.png', 7],
    ['3_0042.png', 3],
    ['label-5.jpeg', 5],
    ['img_class9.png', 9],
    ['photo2024.png', null],
    ['digit.png', null],
    ['img_y=2.png', 2],
  ])('label of %s is %s', (name, label) => {
    expect(labelFromFileName(name, new ClassLabelMatcher(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']))).toBe(label);
  });
});

describe('live cells', () => {
  const cell = (index: number, kind: 'clean' | 'adversarial', digitalLabel: number, crop: boolean) => ({
    index,
    role: kind,
    caption: `c${index}`,
    status: crop ? 'ok' : 'outside',
    quad: [[0, 0], [1, 0], [1, 1], [0, 1]],
    quality: { ok: crop, flags: [], sharpness: 1, contrast: 1, clippedDark: 0, clippedBright: 0, pixelsAcross: 28 },
    crop: crop ? { width: 2, height: 1, channels: 1, pixels: [index / 10, index / 10 + 0.01] } : undefined,
    record: {
      kind,
      imageId: `i${index}`,
      sourceIndex: index,
      file: null,
      method: kind === 'clean' ? null : 'bim',
      epsilon: kind === 'clean' ? null : 8 / 255,
      trueLabel: 1,
      target: null,
      digital: {
        clean: kind === 'clean' ? { float: null, quantized: [{ label: digitalLabel, probability: 0.9 }] } : null,
        adversarial: kind === 'adversarial' ? { float: [{ label: 9, probability: 0.5 }], quantized: [{ label: digitalLabel, probability: 0.8 }] } : null,
      },
      image: { width: 2, height: 1, channels: 1 },
    },
  });
  const analysis = { cells: [cell(0, 'clean', 1, true), cell(1, 'adversarial', 4, false), cell(2, 'adversarial', 7, true)] } as unknown as PhotoAnalysis;

  it('concatenates only the cropped cells, in order', () => {
    const crops = concatenateCrops(analysis)!;
    expect(crops.count).toBe(2);
    expect([crops.height, crops.width, crops.channels]).toEqual([1, 2, 1]);
    expect(Array.from(crops.pixels)).toEqual(Array.from(Float32Array.from([0, 0.01, 0.2, 0.21])));
  });
  it('pairs each crop prediction with its cell and the quantized digital top-1', () => {
    const cells = liveCells(analysis, [[{ label: 1, probability: 0.99 }], [{ label: 3, probability: 0.6 }]]);
    expect(cells.map((c) => [c.index, c.digitalTop1, c.cameraTop1, c.agree])).toEqual([
      [0, 1, 1, true],
      [1, 4, null, null],
      [2, 7, 3, false],
    ]);
    expect(cells[1].qualityOk).toBe(false);
  });
  it('measures frames per second over the last timestamps', () => {
    expect(framesPerSecond([0, 100, 200, 300])).toBeCloseTo(10, 10);
    expect(framesPerSecond([5])).toBeNull();
  });
});
