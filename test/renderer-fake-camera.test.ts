/** The e2e fake camera: Y4M headers Chromium accepts, and RGBA → I420 → RGBA within JPEG-range rounding. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readY4m, rgbaToI420, sheetPhotoFrames, writeY4m, y4mHeader } from '../e2e/fake-camera.js';
import { createRgba } from '../app/physical/image.js';

describe('Y4M fake camera', () => {
  it('writes the header Chromium plays at the file resolution', () => {
    expect(y4mHeader(1280, 720)).toBe('YUV4MPEG2 W1280 H720 F30:1 Ip A1:1 C420jpeg\n');
  });
  it('converts known colours with the JFIF equations', () => {
    const grey = rgbaToI420(createRgba(2, 2, [128, 128, 128]));
    expect(Array.from(grey)).toEqual([128, 128, 128, 128, 128, 128]);
    const red = rgbaToI420(createRgba(2, 2, [255, 0, 0]));
    expect(Array.from(red)).toEqual([76, 76, 76, 76, 85, 255]);
  });
  it('round-trips frames through a file within ±2 levels where chroma is flat', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'y4m-'));
    try {
      const a = createRgba(64, 32, [200, 120, 40]);
      const b = createRgba(64, 32, [10, 240, 130]);
      const file = path.join(dir, 'camera.y4m');
      await writeY4m(file, [a, b]);
      const bytes = new Uint8Array(await readFile(file));
      expect(bytes.length).toBe(y4mHeader(64, 32).length + 2 * ('FRAME\n'.length + 64 * 32 * 1.5));
      const frames = readY4m(bytes);
      expect(frames).toHaveLength(2);
      for (const [original, back] of [[a, frames[0]], [b, frames[1]]]) {
        let worst = 0;
        for (let i = 0; i < original.data.length; i++) if (i % 4 !== 3) worst = Math.max(worst, Math.abs(original.data[i] - back.data[i]));
        expect(worst).toBeLessThanOrEqual(2);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  it('makes moving frames of a sheet: same size, different pixels', () => {
    const sheet = createRgba(120, 170, [250, 250, 250]);
    for (let y = 40; y < 60; y++) for (let x = 40; x < 80; x++) sheet.data.fill(0, (y * 120 + x) * 4, (y * 120 + x) * 4 + 3);
    const frames = sheetPhotoFrames(sheet, { frames: 2, width: 160, height: 90, channel: { jpegQuality: 0, noiseSigma: 0 } });
    expect(frames.map((f) => [f.width, f.height])).toEqual([[160, 90], [160, 90]]);
    let differing = 0;
    for (let i = 0; i < frames[0].data.length; i++) if (frames[0].data[i] !== frames[1].data[i]) differing++;
    expect(differing).toBeGreaterThan(100);
  });
});
