/**
 * Loads labelled image sets from disk into the model-independent `Dataset` form:
 * - 'samples' / 'builtin:samples': the built-in sample set (assets/samples, IDX);
 * - an MNIST IDX images file, raw or .gz (its labels file found beside it), or a folder holding one;
 * - a folder of PNG/JPEG images labelled by sub-folder name, or by a labels.csv (filename,label).
 * Images are decoded with sharp (EXIF orientation honoured), converted to the asked channels and
 * resized to the asked size; every such change is reported in `notes`.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import sharp from 'sharp';
import type { Dataset } from '../data/dataset.js';
import { DatasetError } from '../data/errors.js';
import { idxImageShape, parseIdx, type IdxArray } from '../data/idx.js';
import { convertChannels, resizeImage } from '../data/resize.js';
import { repoRoot } from './model-loader.js';

export interface DatasetOptions {
  /** Size the images are resized to (default: the source's, or the first image's). */
  height?: number;
  width?: number;
  /** Channels to deliver (default: 1 for IDX and grey images, else 3). */
  channels?: 1 | 3;
  /** Keep only the first `limit` images. */
  limit?: number;
}

export interface DecodedImage {
  /** RGBA, row-major, 4 bytes per pixel (or 1 with `format: 'grey'`). */
  data: Uint8ClampedArray;
  width: number;
  height: number;
  channels: 4 | 1;
}

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp', '.gif', '.tif', '.tiff']);
const LABELS_CSV = 'labels.csv';

export function builtinSamplesPath(): string {
  return path.join(repoRoot(), 'assets', 'samples', 'samples-images-idx3-ubyte.gz');
}

function isImageFile(name: string): boolean {
  return IMAGE_EXTENSIONS.has(path.extname(name).toLowerCase());
}

/** Decodes one photo (JPEG/PNG/…) with its EXIF orientation applied: RGBA (default) or grey bytes. */
export async function decodeImageFile(file: string, options: { format?: 'rgba' | 'grey' } = {}): Promise<DecodedImage> {
  if (!existsSync(file)) throw new DatasetError(`image not found: ${file}`);
  try {
    const pipeline = sharp(file).rotate();
    const { data, info } = options.format === 'grey'
      ? await pipeline.removeAlpha().greyscale().toColourspace('b-w').raw().toBuffer({ resolveWithObject: true })
      : await pipeline.ensureAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    return { data: new Uint8ClampedArray(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels: info.channels === 1 ? 1 : 4 };
  } catch (error) {
    throw new DatasetError(`cannot decode image ${file}: ${(error as Error).message.split('\n')[0]}`);
  }
}

/** One decoded image in [0,1], with 1 or 3 channels as the file has them. */
async function decodeForDataset(file: string): Promise<{ pixels: Float32Array; height: number; width: number; channels: 1 | 3 }> {
  try {
    // sharp's raw output is sRGB unless asked otherwise, so ask the file whether it is grey first.
    const meta = await sharp(file).metadata();
    const grey = meta.space === 'b-w' || meta.space === 'grey16' || meta.channels === 1 || meta.channels === 2;
    const { data, info } = await sharp(file).rotate().removeAlpha().toColourspace(grey ? 'b-w' : 'srgb').raw().toBuffer({ resolveWithObject: true });
    const channels = grey ? 1 : 3;
    if (info.channels !== channels) throw new Error(`decoded to ${info.channels} channels, expected ${channels}`);
    return { pixels: Float32Array.from(data, (b) => b / 255), height: info.height, width: info.width, channels };
  } catch (error) {
    throw new DatasetError(`cannot decode image ${file}: ${(error as Error).message.split('\n')[0]}`);
  }
}

async function readMaybeGzip(file: string): Promise<Uint8Array> {
  const bytes = await readFile(file);
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      return gunzipSync(bytes);
    } catch (error) {
      throw new DatasetError(`${file} is a damaged gzip file: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  return bytes;
}

/** t10k-images-idx3-ubyte(.gz) → t10k-labels-idx1-ubyte(.gz), raw or gzipped, whichever exists. */
function labelsFileFor(imagesFile: string): string {
  const dir = path.dirname(imagesFile);
  const base = path.basename(imagesFile).replace(/\.gz$/, '');
  const labelsBase = base.replace(/images([-.])idx3/, 'labels$1idx1');
  if (labelsBase === base) throw new DatasetError(`cannot tell the labels file for ${imagesFile}: IDX image files are named like t10k-images-idx3-ubyte(.gz)`);
  for (const candidate of [labelsBase, labelsBase + '.gz']) if (existsSync(path.join(dir, candidate))) return path.join(dir, candidate);
  throw new DatasetError(`no labels file beside ${imagesFile}: expected ${labelsBase} or ${labelsBase}.gz`);
}

function isIdxImagesName(name: string): boolean {
  return /images[-.]idx3[-.]ubyte(\.gz)?$/.test(name);
}

/** Packs decoded images to one NHWC buffer at the target size and channels, noting what changed. */
class ImagePacker {
  readonly images: Float32Array;
  private readonly resized = new Map<string, number>();
  private readonly converted = new Map<string, number>();
  constructor(readonly count: number, readonly height: number, readonly width: number, readonly channels: 1 | 3) {
    this.images = new Float32Array(count * height * width * channels);
  }
  put(i: number, pixels: Float32Array, height: number, width: number, channels: 1 | 3): void {
    let x = pixels;
    if (channels !== this.channels) {
      x = convertChannels(x, height * width, channels, this.channels);
      const key = this.channels === 1 ? 'RGB images to grey (Rec. 601 luma)' : 'grey images to RGB';
      this.converted.set(key, (this.converted.get(key) ?? 0) + 1);
    }
    if (height !== this.height || width !== this.width) {
      x = resizeImage(x, height, width, this.channels, this.height, this.width);
      const key = `${width}x${height}`;
      this.resized.set(key, (this.resized.get(key) ?? 0) + 1);
    }
    this.images.set(x, i * this.height * this.width * this.channels);
  }
  notes(): string[] {
    const notes: string[] = [];
    for (const [size, n] of this.resized) notes.push(`resized ${n} ${size} image${n === 1 ? '' : 's'} to ${this.width}x${this.height}`);
    for (const [what, n] of this.converted) notes.push(`converted ${n} ${what}`);
    return notes;
  }
}

function applyLimit<T>(items: T[], limit: number | undefined, notes: string[], what: string): T[] {
  if (limit === undefined || limit >= items.length) return items;
  if (!Number.isInteger(limit) || limit < 1) throw new DatasetError(`limit must be a positive whole number, got ${limit}`);
  notes.push(`using the first ${limit} of ${items.length} ${what}`);
  return items.slice(0, limit);
}

async function loadIdx(imagesFile: string, options: DatasetOptions, notes: string[]): Promise<Dataset> {
  const name = path.basename(imagesFile);
  const images: IdxArray = parseIdx(await readMaybeGzip(imagesFile), name);
  const shape = idxImageShape(images, name);
  const labelsFile = labelsFileFor(imagesFile);
  const labels = parseIdx(await readMaybeGzip(labelsFile), path.basename(labelsFile));
  if (labels.dims.length !== 1) throw new DatasetError(`${path.basename(labelsFile)} is not an IDX labels file: dimensions ${labels.dims.join('x')}, expected one`);
  if (labels.dims[0] !== shape.count) {
    throw new DatasetError(`labels count ≠ images count: ${path.basename(labelsFile)} has ${labels.dims[0]} labels, ${name} has ${shape.count} images`);
  }
  if (shape.channels !== 1 && shape.channels !== 3) throw new DatasetError(`${name}: images with ${shape.channels} channels are not supported (1 or 3)`);
  const indices = applyLimit(Array.from({ length: shape.count }, (_, i) => i), options.limit, notes, 'images');
  const height = options.height ?? shape.height;
  const width = options.width ?? shape.width;
  const packer = new ImagePacker(indices.length, height, width, options.channels ?? (shape.channels as 1 | 3));
  const perImage = shape.height * shape.width * shape.channels;
  indices.forEach((i, position) => {
    const pixels = Float32Array.from(images.data.subarray(i * perImage, (i + 1) * perImage), (b) => b / 255);
    packer.put(position, pixels, shape.height, shape.width, shape.channels as 1 | 3);
  });
  return {
    images: packer.images,
    labels: Int32Array.from(indices, (i) => labels.data[i]),
    count: indices.length,
    height,
    width,
    channels: packer.channels,
    ids: indices.map((i) => `${name}#${i}`),
    notes: [...notes, ...packer.notes()],
  };
}

/** Decodes labelled image files (in the given order) into a Dataset. */
async function loadImageFiles(files: { file: string; id: string; label: number }[], classNames: string[] | undefined, options: DatasetOptions, notes: string[]): Promise<Dataset> {
  const chosen = applyLimit(files, options.limit, notes, 'images');
  const decoded: Awaited<ReturnType<typeof decodeForDataset>>[] = [];
  // A few at a time: sharp decodes on libuv's thread pool; unbounded parallelism only costs memory.
  for (let start = 0; start < chosen.length; start += 8) {
    decoded.push(...(await Promise.all(chosen.slice(start, start + 8).map((f) => decodeForDataset(f.file)))));
  }
  const first = decoded[0];
  const height = options.height ?? first.height;
  const width = options.width ?? first.width;
  const channels = options.channels ?? (decoded.every((d) => d.channels === 1) ? 1 : 3);
  const packer = new ImagePacker(chosen.length, height, width, channels);
  decoded.forEach((d, i) => packer.put(i, d.pixels, d.height, d.width, d.channels));
  return {
    images: packer.images,
    labels: Int32Array.from(chosen, (f) => f.label),
    count: chosen.length,
    height,
    width,
    channels,
    ids: chosen.map((f) => f.id),
    ...(classNames ? { classNames } : {}),
    notes: [...notes, ...packer.notes()],
  };
}

const byName = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });
const isLabelNumber = (s: string) => /^\d+$/.test(s);

/** One sub-folder per class; numeric folder names are the label numbers, else sorted names index. */
async function loadSubfolders(folder: string, classDirs: string[], options: DatasetOptions, notes: string[]): Promise<Dataset> {
  const numeric = classDirs.every(isLabelNumber);
  const names = numeric ? [...classDirs].sort((a, b) => Number(a) - Number(b)) : [...classDirs].sort();
  const files: { file: string; id: string; label: number }[] = [];
  for (const [index, dir] of names.entries()) {
    const entries = (await readdir(path.join(folder, dir))).filter(isImageFile).sort(byName);
    for (const name of entries) files.push({ file: path.join(folder, dir, name), id: `${dir}/${name}`, label: numeric ? Number(dir) : index });
  }
  if (files.length === 0) throw new DatasetError(`no images (PNG/JPEG) in the sub-folders of ${folder}`);
  notes.push(numeric ? `labels from sub-folder numbers (${names.join(', ')})` : `labels from sub-folder names: ${names.map((n, i) => `${i}=${n}`).join(', ')}`);
  return loadImageFiles(files, numeric ? undefined : names, options, notes);
}

/** Minimal CSV: comma or semicolon separated, optional header, optional double quotes. */
function parseCsvLine(line: string): string[] {
  const cells: string[] = [];
  const re = /\s*(?:"((?:[^"]|"")*)"|([^,;]*))\s*(?:[,;]|$)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line)) !== null && m.index < line.length) {
    cells.push(m[1] !== undefined ? m[1].replace(/""/g, '"') : m[2].trim());
    if (re.lastIndex === m.index) re.lastIndex++;
  }
  return cells;
}

async function loadCsv(folder: string, options: DatasetOptions, notes: string[]): Promise<Dataset> {
  const csv = path.join(folder, LABELS_CSV);
  const rows = (await readFile(csv, 'utf8')).split(/\r?\n/).map((line, i) => ({ line: i + 1, cells: parseCsvLine(line) })).filter((r) => r.cells.length > 0 && r.cells.some((c) => c !== ''));
  // A header row names its columns instead of pointing at an image file.
  if (rows.length > 0 && !isImageFile(rows[0].cells[0]) && !existsSync(path.join(folder, rows[0].cells[0]))) rows.shift();
  if (rows.length === 0) throw new DatasetError(`${csv} lists no images (expected rows of filename,label)`);
  for (const r of rows) {
    if (r.cells.length < 2 || r.cells[1] === '') throw new DatasetError(`${LABELS_CSV} line ${r.line}: expected filename,label, got "${r.cells.join(',')}"`);
    if (!existsSync(path.join(folder, r.cells[0]))) throw new DatasetError(`${LABELS_CSV} line ${r.line} names a missing file: ${r.cells[0]}`);
  }
  const numeric = rows.every((r) => isLabelNumber(r.cells[1]));
  const names = numeric ? undefined : [...new Set(rows.map((r) => r.cells[1]))].sort();
  if (names) notes.push(`labels from ${LABELS_CSV} class names: ${names.map((n, i) => `${i}=${n}`).join(', ')}`);
  const files = rows.map((r) => ({ file: path.join(folder, r.cells[0]), id: r.cells[0], label: numeric ? Number(r.cells[1]) : names!.indexOf(r.cells[1]) }));
  return loadImageFiles(files, names, options, notes);
}

async function loadFolder(folder: string, options: DatasetOptions, notes: string[]): Promise<Dataset> {
  const entries = await readdir(folder, { withFileTypes: true });
  const idx = entries.filter((e) => e.isFile() && isIdxImagesName(e.name)).map((e) => e.name).sort();
  if (idx.length > 0) {
    // A folder with both MNIST splits: evaluate on the test split.
    const chosen = idx.find((n) => n.startsWith('t10k')) ?? idx[0];
    if (idx.length > 1) notes.push(`${folder} holds ${idx.join(', ')}: using ${chosen}`);
    return loadIdx(path.join(folder, chosen), options, notes);
  }
  if (entries.some((e) => e.isFile() && e.name.toLowerCase() === LABELS_CSV)) return loadCsv(folder, options, notes);
  const classDirs = entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
  if (classDirs.length > 0) return loadSubfolders(folder, classDirs, options, notes);
  if (entries.some((e) => e.isFile() && isImageFile(e.name))) {
    throw new DatasetError(`${folder} has images but no labels: put them in one sub-folder per class, or add a ${LABELS_CSV} (filename,label)`);
  }
  throw new DatasetError(`${folder} is empty: expected MNIST IDX files, one sub-folder of images per class, or images with a ${LABELS_CSV}`);
}

export async function loadDataset(spec: string, options: DatasetOptions = {}): Promise<Dataset> {
  for (const [key, value] of [['height', options.height], ['width', options.width]] as const) {
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) throw new DatasetError(`${key} must be a positive whole number, got ${value}`);
  }
  const notes: string[] = [];
  if (spec === 'samples' || spec === 'builtin:samples') {
    const file = builtinSamplesPath();
    if (!existsSync(file)) throw new DatasetError(`the built-in sample set is missing (${file}); run npm run train:mnist to recreate it`);
    return loadIdx(file, options, notes);
  }
  const target = path.resolve(spec);
  const info = await stat(target).catch(() => undefined);
  if (!info) throw new DatasetError(`dataset not found: ${spec}`);
  if (info.isDirectory()) return loadFolder(target, options, notes);
  const name = path.basename(target);
  if (isIdxImagesName(name)) return loadIdx(target, options, notes);
  if (/labels[-.]idx1/.test(name)) {
    throw new DatasetError(`${name} holds labels: pass the images file beside it (${name.replace(/labels([-.])idx1/, 'images$1idx3')})`);
  }
  throw new DatasetError(`cannot read ${spec} as a dataset: expected an IDX images file (…-images-idx3-ubyte[.gz]) or a folder`);
}
