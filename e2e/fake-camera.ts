/**
 * Chromium's fake camera for the end-to-end tests: a Y4M video that `--use-file-for-fake-video-capture`
 * plays to getUserMedia at its own resolution, looping. Chromium accepts 4:2:0 only (C444 is rejected
 * with NotFoundError), so frames are converted RGBA → I420 here. The frames are synthetic photos of a
 * printed sheet from the physical pipeline's print-and-photo simulator, with slight motion between
 * frames, as a hand-held camera shows.
 */
import { open } from 'node:fs/promises';
import sharp from 'sharp';
import type { Point } from '../app/physical/homography.js';
import type { RgbaImage } from '../app/physical/image.js';
import { simulatePhoto } from '../app/physical/simulate.js';
import type { PhotoChannelParams } from '../app/physical/simulate.js';

export class FakeCameraError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FakeCameraError';
  }
}

/** The Y4M stream header; `chroma` other than 420jpeg exists only to provoke Chromium's rejection. */
export function y4mHeader(width: number, height: number, fps = 30, chroma: '420jpeg' | '444' = '420jpeg'): string {
  return `YUV4MPEG2 W${width} H${height} F${fps}:1 Ip A1:1 C${chroma}\n`;
}

/**
 * Full-range BT.601 RGB → Y'CbCr (the JFIF equations, what "C420jpeg" implies), chroma averaged over
 * each 2×2 block (centred siting). Returns the three planes back to back, as one Y4M frame holds them.
 */
export function rgbaToI420(image: RgbaImage): Uint8Array {
  const { width, height, data } = image;
  if (width % 2 !== 0 || height % 2 !== 0) throw new FakeCameraError(`I420 needs even frame sizes, got ${width}x${height}`);
  const ySize = width * height;
  const cw = width / 2;
  const ch = height / 2;
  const out = new Uint8Array(ySize + 2 * cw * ch);
  for (let p = 0, i = 0; p < ySize; p++, i += 4) {
    out[p] = Math.round(0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2]);
  }
  const uOffset = ySize;
  const vOffset = ySize + cw * ch;
  for (let cy = 0; cy < ch; cy++) {
    for (let cx = 0; cx < cw; cx++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
        const i = ((2 * cy + dy) * width + 2 * cx + dx) * 4;
        r += data[i];
        g += data[i + 1];
        b += data[i + 2];
      }
      r /= 4;
      g /= 4;
      b /= 4;
      const u = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b;
      const v = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b;
      out[uOffset + cy * cw + cx] = Math.min(255, Math.max(0, Math.round(u)));
      out[vOffset + cy * cw + cx] = Math.min(255, Math.max(0, Math.round(v)));
    }
  }
  return out;
}

/** Writes frames (all the same size) as a Y4M file Chromium's fake capture device plays. */
export async function writeY4m(file: string, frames: readonly RgbaImage[], options: { fps?: number; chroma?: '420jpeg' | '444' } = {}): Promise<void> {
  if (frames.length === 0) throw new FakeCameraError('a Y4M video needs at least one frame');
  const { width, height } = frames[0];
  const handle = await open(file, 'w');
  try {
    await handle.write(y4mHeader(width, height, options.fps ?? 30, options.chroma ?? '420jpeg'));
    for (const frame of frames) {
      if (frame.width !== width || frame.height !== height) throw new FakeCameraError(`all frames must be ${width}x${height}, got ${frame.width}x${frame.height}`);
      await handle.write('FRAME\n');
      if (options.chroma === '444') {
        // Only the header matters for the rejection test; the planes just keep the file well-formed.
        await handle.write(new Uint8Array(width * height * 3));
      } else {
        await handle.write(rgbaToI420(frame));
      }
    }
  } finally {
    await handle.close();
  }
}

/** Reads a Y4M written by writeY4m back into RGBA frames (inverse JFIF equations), for the round-trip test. */
export function readY4m(bytes: Uint8Array): RgbaImage[] {
  const headerEnd = bytes.indexOf(0x0a);
  const header = new TextDecoder().decode(bytes.subarray(0, headerEnd));
  const width = Number(/ W(\d+)/.exec(header)?.[1]);
  const height = Number(/ H(\d+)/.exec(header)?.[1]);
  if (!header.startsWith('YUV4MPEG2') || !width || !height) throw new FakeCameraError(`not a Y4M header: ${header}`);
  const frameSize = width * height * 1.5;
  const frames: RgbaImage[] = [];
  let offset = headerEnd + 1;
  while (offset < bytes.length) {
    const lineEnd = bytes.indexOf(0x0a, offset);
    offset = lineEnd + 1;
    const planes = bytes.subarray(offset, offset + frameSize);
    offset += frameSize;
    const data = new Uint8ClampedArray(width * height * 4);
    const cw = width / 2;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const luma = planes[y * width + x];
        const c = (y >> 1) * cw + (x >> 1);
        const u = planes[width * height + c] - 128;
        const v = planes[width * height + (width * height) / 4 + c] - 128;
        const i = (y * width + x) * 4;
        data[i] = luma + 1.402 * v;
        data[i + 1] = luma - 0.344136 * u - 0.714136 * v;
        data[i + 2] = luma + 1.772 * u;
        data[i + 3] = 255;
      }
    }
    frames.push({ data, width, height });
  }
  return frames;
}

/** Decodes an image file (the exported sheet PNG) to RGBA, shrunk so its longer side is at most `maxSide`. */
export async function readRgba(file: string, maxSide = 1800): Promise<RgbaImage> {
  const { data, info } = await sharp(file)
    .resize({ width: maxSide, height: maxSide, fit: 'inside', withoutEnlargement: true })
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data: new Uint8ClampedArray(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
}

export interface SheetVideoOptions {
  frames?: number;
  seed?: number;
  width?: number;
  height?: number;
  /** Largest shift of the sheet between frames, in photo pixels (default 3): a hand holding a camera. */
  motionPx?: number;
  channel?: PhotoChannelParams;
}

/**
 * Synthetic camera frames of a sheet: one seeded pose from the simulator, then per frame the corners
 * moved by up to `motionPx`, each frame with its own noise.
 */
export function sheetPhotoFrames(sheet: RgbaImage, options: SheetVideoOptions = {}): RgbaImage[] {
  const count = options.frames ?? 3;
  const seed = options.seed ?? 7;
  const base = { width: options.width ?? 1280, height: options.height ?? 720, tiltDeg: 15, rotationDeg: 8, scale: 0.9, clutter: 8, ...options.channel };
  const first = simulatePhoto(sheet, base, seed);
  const frames = [first.image];
  const motion = options.motionPx ?? 3;
  for (let f = 1; f < count; f++) {
    const angle = (2 * Math.PI * f) / count;
    const [dx, dy] = [motion * Math.cos(angle), motion * Math.sin(angle)];
    const corners = first.corners.map(([x, y]) => [x + dx, y + dy] as Point) as [Point, Point, Point, Point];
    frames.push(simulatePhoto(sheet, { ...base, corners }, seed + f).image);
  }
  return frames;
}
