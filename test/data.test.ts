import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { augmentDigit, gaussianBlur, seededRandom, warpAffine } from '../app/data/augment.js';
import { DatasetError } from '../app/data/errors.js';
import { encodeIdxUint8, parseIdx } from '../app/data/idx.js';
import { convertChannels, resizeImage } from '../app/data/resize.js';
import { decodeImageFile, loadDataset } from '../app/node/dataset-loader.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'foolprint-data-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function expectDatasetError(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(DatasetError);
  expect((error as Error).message).toMatch(pattern);
  expect((error as Error).message).not.toContain('\n');
}

/** A w×h grey PNG filled with one value. */
async function greyPng(file: string, value: number, width = 8, height = 8): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await sharp(Buffer.alloc(width * height, value), { raw: { width, height, channels: 1 } }).toColourspace('b-w').png().toFile(file);
}

describe('IDX', () => {
  it('parses a hand-built unsigned-byte file', () => {
    const bytes = Uint8Array.from([0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 255]);
    const { dims, data } = parseIdx(bytes);
    expect(dims).toEqual([2, 2, 3]);
    expect(Array.from(data)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 255]);
  });
  it('reads big-endian shorts', () => {
    const { dims, data } = parseIdx(Uint8Array.from([0, 0, 0x0b, 1, 0, 0, 0, 2, 0x01, 0x02, 0xff, 0xfe]));
    expect(dims).toEqual([2]);
    expect(Array.from(data)).toEqual([258, -2]);
  });
  it('encodes and parses back', () => {
    const values = Uint8Array.from({ length: 24 }, (_, i) => i * 10);
    const back = parseIdx(encodeIdxUint8([2, 3, 4], values));
    expect(back.dims).toEqual([2, 3, 4]);
    expect(Array.from(back.data)).toEqual(Array.from(values));
  });
  it.each([
    [Uint8Array.from([1, 2, 3, 4]), /is not an IDX file/],
    [Uint8Array.from([0x1f, 0x8b, 8, 0]), /gzip-compressed/],
    [Uint8Array.from([0, 0, 0x08, 1, 0, 0, 0, 9, 1, 2]), /truncated: dimensions 9 of unsigned byte need 17 bytes, the file has 10/],
    [Uint8Array.from([0, 0, 0x42, 1, 0, 0, 0, 0]), /unknown IDX type byte 0x42/],
  ])('rejects bad bytes %#', (bytes, pattern) => {
    expect(() => parseIdx(bytes)).toThrow(pattern);
  });
});

describe('resize and channels', () => {
  it('area-averages when shrinking', () => {
    // 4x4 with four 2x2 blocks of constant value → 2x2 of those values.
    const src = Float32Array.from([0, 0, 1, 1, 0, 0, 1, 1, 0.5, 0.5, 0.25, 0.25, 0.5, 0.5, 0.25, 0.25]);
    expect(Array.from(resizeImage(src, 4, 4, 1, 2, 2))).toEqual([0, 1, 0.5, 0.25]);
    // 3 → 2 columns: each output covers 1.5 source pixels.
    const row = resizeImage(Float32Array.from([0, 1, 2]), 1, 3, 1, 1, 2, 'area');
    expect(row[0]).toBeCloseTo((0 + 0.5 * 1) / 1.5, 6);
    expect(row[1]).toBeCloseTo((0.5 * 1 + 2) / 1.5, 6);
  });
  it('interpolates bilinearly when enlarging (pixel centres aligned)', () => {
    expect(Array.from(resizeImage(Float32Array.from([0, 1]), 1, 2, 1, 1, 4))).toEqual([0, 0.25, 0.75, 1]);
  });
  it('keeps channels apart', () => {
    const rgb = Float32Array.from([1, 0, 0.5, 1, 0, 0.5, 1, 0, 0.5, 1, 0, 0.5]);
    expect(Array.from(resizeImage(rgb, 2, 2, 3, 1, 1))).toEqual([1, 0, 0.5]);
  });
  it('grey ↔ RGB', () => {
    expect(Array.from(convertChannels(Float32Array.from([0.5]), 1, 1, 3))).toEqual([0.5, 0.5, 0.5]);
    expect(convertChannels(Float32Array.from([1, 0.5, 0]), 1, 3, 1)[0]).toBeCloseTo(0.299 + 0.587 * 0.5, 6);
  });
});

describe('augmentation', () => {
  it('an integer shift moves pixels exactly; zero σ blur copies; blur keeps the mass', () => {
    const img = new Float32Array(25);
    img[12] = 1; // centre of 5x5
    const shifted = warpAffine(img, 5, 5, { angle: 0, scale: 1, dx: 1, dy: -2 });
    expect(shifted[(2 - 2) * 5 + 3]).toBeCloseTo(1, 6);
    expect(shifted.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(Array.from(gaussianBlur(img, 5, 5, 0))).toEqual(Array.from(img));
    const blurred = gaussianBlur(img, 5, 5, 0.7);
    expect(blurred.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 3);
    expect(blurred[12]).toBeLessThan(0.5);
  });
  it('is seeded and stays in [0,1]', () => {
    const img = Float32Array.from({ length: 28 * 28 }, (_, i) => ((i * 7919) % 256) / 255);
    const a = augmentDigit(img, 28, 28, seededRandom(3));
    const b = augmentDigit(img, 28, 28, seededRandom(3));
    expect(Array.from(a)).toEqual(Array.from(b));
    let changed = 0;
    for (let s = 0; s < 20; s++) {
      const x = augmentDigit(img, 28, 28, seededRandom(100 + s));
      expect(Math.min(...x)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...x)).toBeLessThanOrEqual(1);
      if (x.some((v, i) => Math.abs(v - img[i]) > 1e-6)) changed++;
    }
    expect(changed).toBeGreaterThan(10);
  });
});

describe('IDX datasets', () => {
  let folder: string;
  const labels = Uint8Array.from([3, 1, 4, 1, 5]);
  const pixels = Uint8Array.from({ length: 5 * 4 * 4 }, (_, i) => (i * 13) % 256);
  beforeAll(async () => {
    folder = path.join(root, 'idx');
    await mkdir(folder);
    await writeFile(path.join(folder, 't10k-images-idx3-ubyte.gz'), gzipSync(encodeIdxUint8([5, 4, 4], pixels)));
    await writeFile(path.join(folder, 't10k-labels-idx1-ubyte'), encodeIdxUint8([5], labels));
  });

  it('reads a gzipped images file with its raw labels file beside it', async () => {
    const d = await loadDataset(path.join(folder, 't10k-images-idx3-ubyte.gz'));
    expect([d.count, d.height, d.width, d.channels]).toEqual([5, 4, 4, 1]);
    expect(Array.from(d.labels)).toEqual([3, 1, 4, 1, 5]);
    expect(d.images[17]).toBeCloseTo(pixels[17] / 255, 6);
    expect(d.ids[2]).toBe('t10k-images-idx3-ubyte.gz#2');
    expect(d.notes).toEqual([]);
  });
  it('reads the folder, with a limit, resized and as RGB, and says so', async () => {
    const d = await loadDataset(folder, { height: 2, width: 2, channels: 3, limit: 2 });
    expect([d.count, d.height, d.width, d.channels]).toEqual([2, 2, 2, 3]);
    expect(d.notes).toEqual(['using the first 2 of 5 images', 'resized 2 4x4 images to 2x2', 'converted 2 grey images to RGB']);
    // Top-left output pixel = mean of the source's top-left 2x2 block, in all three channels.
    const mean = (pixels[0] + pixels[1] + pixels[4] + pixels[5]) / 4 / 255;
    expect(d.images[0]).toBeCloseTo(mean, 5);
    expect(d.images[2]).toBeCloseTo(mean, 5);
  });
  it('scales a file of several inflated pieces to exactly byte/255, raw or gzipped, any window', async () => {
    // 3,000 digits are 2.35 MB: three of the reader's 1 MB pieces, so images straddle the seams.
    const count = 3000;
    const big = Uint8Array.from({ length: count * 28 * 28 }, (_, i) => (i * 2654435761) >>> 24);
    const bigLabels = Uint8Array.from({ length: count }, (_, i) => i % 10);
    for (const gzip of [false, true]) {
      const dir = path.join(folder, `pieces-${gzip}`);
      await mkdir(dir);
      const images = encodeIdxUint8([count, 28, 28], big);
      await writeFile(path.join(dir, `t10k-images-idx3-ubyte${gzip ? '.gz' : ''}`), gzip ? gzipSync(images) : images);
      await writeFile(path.join(dir, 't10k-labels-idx1-ubyte'), encodeIdxUint8([count], bigLabels));
      for (const [offset, limit] of [[0, undefined], [1234, 1500]] as const) {
        const d = await loadDataset(dir, { offset, limit, sharedMemory: gzip });
        const want = big.subarray(offset * 784, (offset + d.count) * 784);
        expect(d.count).toBe(limit ?? count);
        expect(d.images.length).toBe(want.length);
        let differing = 0;
        for (let i = 0; i < want.length; i++) if (d.images[i] !== Math.fround(want[i] / 255)) differing++;
        expect(differing).toBe(0);
        expect(Array.from(d.labels.subarray(0, 3))).toEqual([offset % 10, (offset + 1) % 10, (offset + 2) % 10]);
      }
    }
  });
  it('labels count ≠ images count', async () => {
    const bad = path.join(root, 'idx-bad');
    await mkdir(bad);
    await writeFile(path.join(bad, 'train-images-idx3-ubyte'), encodeIdxUint8([5, 4, 4], pixels));
    await writeFile(path.join(bad, 'train-labels-idx1-ubyte'), encodeIdxUint8([4], labels.subarray(0, 4)));
    await expectDatasetError(loadDataset(path.join(bad, 'train-images-idx3-ubyte')), /labels count ≠ images count: train-labels-idx1-ubyte has 4 labels, train-images-idx3-ubyte has 5 images/);
  });
  it('missing labels file', async () => {
    const bad = path.join(root, 'idx-nolabels');
    await mkdir(bad);
    await writeFile(path.join(bad, 'train-images-idx3-ubyte'), encodeIdxUint8([5, 4, 4], pixels));
    await expectDatasetError(loadDataset(path.join(bad, 'train-images-idx3-ubyte')), /no labels file beside .*expected train-labels-idx1-ubyte or train-labels-idx1-ubyte\.gz/);
  });
});

describe('image folders', () => {
  it('lists the whole folder but decodes only the asked window, reporting progress', async () => {
    const folder = path.join(root, 'window');
    const png = await sharp(Buffer.alloc(64, 90), { raw: { width: 8, height: 8, channels: 1 } }).png().toBuffer();
    for (const digit of ['4', '2']) {
      await mkdir(path.join(folder, digit), { recursive: true });
      for (let i = 0; i < 1200; i++) await writeFile(path.join(folder, digit, `${String(i).padStart(4, '0')}.png`), png);
    }
    // The last file of the listing cannot be decoded: only a window that reaches it may fail.
    await writeFile(path.join(folder, '4', '9999.png'), 'not a png');
    const progress: string[] = [];
    const d = await loadDataset(folder, { offset: 1199, limit: 3, onProgress: (done, total, label) => progress.push(`${done}/${total} ${label}`) });
    expect(d.ids).toEqual(['2/1199.png', '4/0000.png', '4/0001.png']);
    expect(Array.from(d.labels)).toEqual([2, 4, 4]);
    expect(d.sourceCount).toBe(2401);
    expect(d.notes).toContain('using images 1199-1201 of 2401');
    expect(progress).toContain('1/2 listing 1200 files');
    expect(progress).toContain('2/2 listing 2401 files');
    expect(progress.at(-1)).toBe('3/3 decoding images');
    await expectDatasetError(loadDataset(folder, { offset: 2399 }), /cannot decode image .*9999\.png/);
    await expectDatasetError(loadDataset(folder, { offset: 2401 }), /offset 2401 is beyond the 2401 images/);
  });
  it('labels by sub-folder name (sorted), pixel values as written', async () => {
    const folder = path.join(root, 'named');
    await greyPng(path.join(folder, 'dog', 'a.png'), 200);
    await greyPng(path.join(folder, 'cat', 'b.png'), 10);
    await greyPng(path.join(folder, 'cat', 'a.png'), 20);
    const d = await loadDataset(folder);
    expect(d.classNames).toEqual(['cat', 'dog']);
    expect(d.ids).toEqual(['cat/a.png', 'cat/b.png', 'dog/a.png']);
    expect(Array.from(d.labels)).toEqual([0, 0, 1]);
    expect([d.height, d.width, d.channels]).toEqual([8, 8, 1]);
    expect(d.images[0]).toBeCloseTo(20 / 255, 6);
    expect(d.images[64]).toBeCloseTo(10 / 255, 6);
    expect(d.images[128]).toBeCloseTo(200 / 255, 6);
  });
  it('numeric sub-folders are the label numbers', async () => {
    const folder = path.join(root, 'numbers');
    await greyPng(path.join(folder, '7', 'x.png'), 1);
    await greyPng(path.join(folder, '3', 'y.png'), 2);
    const d = await loadDataset(folder);
    expect(Array.from(d.labels)).toEqual([3, 7]);
    expect(d.classNames).toBeUndefined();
  });
  it('labels.csv with a header, resized images, and a note', async () => {
    const folder = path.join(root, 'csv');
    await greyPng(path.join(folder, 'one.png'), 100, 16, 16);
    await greyPng(path.join(folder, 'two.png'), 50, 16, 16);
    await writeFile(path.join(folder, 'labels.csv'), 'filename,label\none.png,1\ntwo.png,2\n');
    const d = await loadDataset(folder, { height: 8, width: 8 });
    expect(Array.from(d.labels)).toEqual([1, 2]);
    expect(d.notes).toContain('resized 2 16x16 images to 8x8');
    expect(d.images[0]).toBeCloseTo(100 / 255, 5);
  });
  it('RGB images to grey', async () => {
    const folder = path.join(root, 'rgb');
    await mkdir(path.join(folder, '0'), { recursive: true });
    await sharp(Buffer.from([255, 0, 0, 255, 0, 0, 255, 0, 0, 255, 0, 0]), { raw: { width: 2, height: 2, channels: 3 } }).png().toFile(path.join(folder, '0', 'red.png'));
    const d = await loadDataset(folder, { channels: 1 });
    expect(d.images[0]).toBeCloseTo(0.299, 3);
    expect(d.notes).toContain('converted 1 RGB images to grey (Rec. 601 luma)');
  });
  it('a CSV row naming a missing file', async () => {
    const folder = path.join(root, 'csv-missing');
    await greyPng(path.join(folder, 'one.png'), 100);
    await writeFile(path.join(folder, 'labels.csv'), 'one.png,1\nghost.png,2\n');
    await expectDatasetError(loadDataset(folder), /labels\.csv line 2 names a missing file: ghost\.png/);
  });
  it('an image that cannot be decoded is named', async () => {
    const folder = path.join(root, 'corrupt');
    await greyPng(path.join(folder, '1', 'good.png'), 100);
    await writeFile(path.join(folder, '1', 'broken.png'), 'this is not a PNG');
    await expectDatasetError(loadDataset(folder), /cannot decode image .*broken\.png/);
  });
  it('empty folder, missing path, images without labels', async () => {
    const empty = path.join(root, 'empty');
    await mkdir(empty);
    await expectDatasetError(loadDataset(empty), /is empty/);
    await expectDatasetError(loadDataset(path.join(root, 'nowhere')), /dataset not found/);
    const loose = path.join(root, 'loose');
    await greyPng(path.join(loose, 'a.png'), 1);
    await expectDatasetError(loadDataset(loose), /has images but no labels/);
  });
});

describe('EXIF orientation', () => {
  /** 16 wide × 8 high as stored: left half black, right half white; EXIF 6 = display rotated 90° clockwise. */
  async function orientedJpeg(file: string): Promise<void> {
    const raw = Buffer.alloc(16 * 8);
    for (let y = 0; y < 8; y++) for (let x = 8; x < 16; x++) raw[y * 16 + x] = 255;
    await mkdir(path.dirname(file), { recursive: true });
    await sharp(raw, { raw: { width: 16, height: 8, channels: 1 } }).toColourspace('b-w').jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toFile(file);
  }

  it('decodeImageFile rotates as the camera said: the stored left half is the displayed top', async () => {
    const file = path.join(root, 'exif', '0', 'photo.jpg');
    await orientedJpeg(file);
    const img = await decodeImageFile(file);
    expect([img.width, img.height, img.channels]).toEqual([8, 16, 4]);
    expect(img.data.length).toBe(8 * 16 * 4);
    const at = (x: number, y: number) => img.data[(y * 8 + x) * 4];
    expect(at(4, 2)).toBeLessThan(40);
    expect(at(4, 13)).toBeGreaterThan(215);
    expect(img.data[(2 * 8 + 4) * 4 + 3]).toBe(255);
    const grey = await decodeImageFile(file, { format: 'grey' });
    expect([grey.width, grey.height, grey.channels, grey.data.length]).toEqual([8, 16, 1, 128]);
    // sharp's withMetadata writes an sRGB JPEG: ask the loader for grey.
    const d = await loadDataset(path.join(root, 'exif'), { channels: 1 });
    expect([d.height, d.width, d.channels]).toEqual([16, 8, 1]);
    expect(d.images[2 * 8 + 4]).toBeLessThan(0.15);
    expect(d.images[13 * 8 + 4]).toBeGreaterThan(0.85);
  });

  it('undecodable photo', async () => {
    const file = path.join(root, 'bad.jpg');
    await writeFile(file, 'nope');
    await expectDatasetError(decodeImageFile(file), /cannot decode image .*bad\.jpg/);
  });
});
