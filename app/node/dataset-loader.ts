/**
 * Loads labelled image sets from disk into the model-independent `Dataset` form:
 * - 'samples' / 'builtin:samples': the built-in sample set of the model (`samplesOf`): a built-in
 *   model's own in assets/samples/<id>/ where it has one, else the digits in assets/samples (IDX);
 * - an MNIST IDX images file, raw or .gz (its labels file found beside it), or a folder holding one;
 * - a folder of PNG/JPEG images labelled by sub-folder name, or by a labels.csv (filename,label).
 * Only the asked window (`offset`, `limit`) is read: an IDX file is streamed up to it (idx-file.ts),
 * a folder is listed in full (names only) and only the window's images are decoded. Class names are
 * matched to the model's labels (class-labels.ts). One load may hold at most MAX_DATASET_BYTES of
 * pixels. Images are decoded with sharp (EXIF orientation honoured), converted to the asked channels
 * and resized to the asked size; every such change is reported in `notes`.
 */
import { existsSync } from 'node:fs';
import { opendir, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type Sharp from 'sharp';
import { CancelledError } from '../attacks/types.js';
import { ClassLabelMatcher, labelsWithoutModel } from '../data/class-labels.js';
import type { Dataset } from '../data/dataset.js';
import { DatasetError } from '../data/errors.js';
import { decodeIdxValues, formatBytes, idxImageShape } from '../data/idx.js';
import { convertChannels, resizeImage } from '../data/resize.js';
import { readIdxRange, streamIdxRange } from './idx-file.js';
import { repoRoot } from './repo-root.js';

export interface DatasetOptions {
  /** Size the images are resized to (default: the source's, or the first image's). */
  height?: number;
  width?: number;
  /** Channels to deliver (default: 1 for IDX and grey images, else 3). */
  channels?: 1 | 3;
  /** Skip the source's first `offset` images (default 0). */
  offset?: number;
  /** Keep only `limit` images (after the offset). */
  limit?: number;
  /** The model's labels: class names in the source are matched to them (class-labels.ts). */
  classNames?: readonly string[];
  /** The built-in model whose sample set 'samples' means (see `builtinSamplesPath`). */
  samplesOf?: string;
  onProgress?: (done: number, total: number, label: string) => void;
  signal?: AbortSignal;
  /**
   * Decode into a SharedArrayBuffer, which ComputePool hands to its workers as views instead of a
   * copy per worker (the CLI; not for data that crosses a process boundary, which cannot share it).
   */
  sharedMemory?: boolean;
}

/**
 * The most pixel memory one load may take: 2 GiB of Float32 values (about 680,000 MNIST digits at
 * 28x28, 14,000 RGB images at 224x224). Larger selections are refused before anything is read: take
 * them in parts with a limit and an offset.
 */
export const MAX_DATASET_BYTES = 2 * 1024 ** 3;

export interface DecodedImage {
  /** RGBA, row-major, 4 bytes per pixel (or 1 with `format: 'grey'`). */
  data: Uint8ClampedArray;
  width: number;
  height: number;
  channels: 4 | 1;
}

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp', '.gif', '.tif', '.tiff']);
const LABELS_CSV = 'labels.csv';

/** sharp on first use: an IDX load (the dataset worker's usual job) does without its second of start-up. */
async function sharpModule(): Promise<typeof Sharp> {
  return (await import('sharp')).default;
}

const SAMPLES_FILE = 'samples-images-idx3-ubyte.gz';

/**
 * The built-in sample set of `modelId`: assets/samples/<id>/ when that built-in model has one of its
 * own (cnn-fashion-mnist's garments), else the digits in assets/samples (lenet-mnist's, and what any
 * other model gets).
 */
export function builtinSamplesPath(modelId?: string): string {
  const root = path.join(repoRoot(), 'assets', 'samples');
  if (modelId !== undefined && /^[\w-][\w.-]*$/.test(modelId) && !modelId.includes('..')) {
    const own = path.join(root, modelId, SAMPLES_FILE);
    if (existsSync(own)) return own;
  }
  return path.join(root, SAMPLES_FILE);
}

function isImageFile(name: string): boolean {
  return IMAGE_EXTENSIONS.has(path.extname(name).toLowerCase());
}

/** Decodes one photo (JPEG/PNG/…) with its EXIF orientation applied: RGBA (default) or grey bytes. */
export async function decodeImageFile(file: string, options: { format?: 'rgba' | 'grey' } = {}): Promise<DecodedImage> {
  if (!existsSync(file)) throw new DatasetError(`image not found: ${file}`);
  const sharp = await sharpModule();
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
  const sharp = await sharpModule();
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
  constructor(readonly count: number, readonly height: number, readonly width: number, readonly channels: 1 | 3, shared = false) {
    const length = count * height * width * channels;
    this.images = shared ? new Float32Array(new SharedArrayBuffer(length * Float32Array.BYTES_PER_ELEMENT)) : new Float32Array(length);
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

/** The window [offset, offset + limit) of `total` items, checked, with a note when it is not all of them. */
function selectWindow(total: number, options: DatasetOptions, notes: string[], what: string): { first: number; count: number } {
  const offset = options.offset ?? 0;
  if (!Number.isInteger(offset) || offset < 0) throw new DatasetError(`offset must be a whole number ≥ 0, got ${offset}`);
  if (options.limit !== undefined && (!Number.isInteger(options.limit) || options.limit < 1)) throw new DatasetError(`limit must be a positive whole number, got ${options.limit}`);
  if (offset > 0 && offset >= total) throw new DatasetError(`offset ${offset} is beyond the ${total} ${what} of the dataset`);
  const count = Math.min(total - offset, options.limit ?? Infinity);
  if (count < total) notes.push(offset === 0 ? `using the first ${count} of ${total} ${what}` : `using ${what} ${offset}-${offset + count - 1} of ${total}`);
  return { first: offset, count };
}

function checkMemory(count: number, height: number, width: number, channels: number): void {
  const bytes = count * height * width * channels * 4;
  if (bytes > MAX_DATASET_BYTES) {
    throw new DatasetError(`${count} images of ${width}x${height}x${channels} need ${formatBytes(bytes)} of memory, above the ${formatBytes(MAX_DATASET_BYTES)} one load may take: take them in parts with a limit and an offset`);
  }
}

function checkCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError();
}

/** Integer labels are class indices: refuse one the model does not have, naming the image. */
function checkLabelRange(labels: Int32Array, ids: readonly string[], classNames: readonly string[] | undefined): void {
  if (!classNames) return;
  const bad = labels.findIndex((label) => label < 0 || label >= classNames.length);
  if (bad >= 0) throw new DatasetError(`label ${labels[bad]} of image ${ids[bad]} is out of range for a model with ${classNames.length} classes`);
}

/** Bytes 0..255 as values in [0,1]: out[at + i] = piece[i] / 255, the float32 nearest the quotient. */
function scaleToUnit(piece: Uint8Array, out: Float32Array, at: number): void {
  for (let i = 0; i < piece.length; i++) out[at + i] = piece[i] / 255;
}

async function loadIdx(imagesFile: string, options: DatasetOptions, notes: string[]): Promise<Dataset> {
  const name = path.basename(imagesFile);
  const labelsFile = labelsFileFor(imagesFile);
  const labelsName = path.basename(labelsFile);
  // Headers first (a few bytes each): every check that needs no pixels is done before any is read.
  const shape = idxImageShape((await readIdxRange(imagesFile, 0, 0, { signal: options.signal })).header, name);
  const labelsHeader = (await readIdxRange(labelsFile, 0, 0, { signal: options.signal })).header;
  if (labelsHeader.dims.length !== 1) throw new DatasetError(`${labelsName} is not an IDX labels file: dimensions ${labelsHeader.dims.join('x')}, expected one`);
  if (labelsHeader.dims[0] !== shape.count) {
    throw new DatasetError(`labels count ≠ images count: ${labelsName} has ${labelsHeader.dims[0]} labels, ${name} has ${shape.count} images`);
  }
  if (shape.channels !== 1 && shape.channels !== 3) throw new DatasetError(`${name}: images with ${shape.channels} channels are not supported (1 or 3)`);
  const { first, count } = selectWindow(shape.count, options, notes, 'images');
  const height = options.height ?? shape.height;
  const width = options.width ?? shape.width;
  const channels = options.channels ?? (shape.channels as 1 | 3);
  checkMemory(count, height, width, channels);
  const labels = await readIdxRange(labelsFile, first, count, { signal: options.signal });
  const reading = {
    signal: options.signal,
    onProgress: options.onProgress && ((done: number, total: number) => options.onProgress!(done, total, `reading ${name}`)),
  };
  const packer = new ImagePacker(count, height, width, channels, options.sharedMemory);
  const perImage = shape.height * shape.width * shape.channels;
  if (height === shape.height && width === shape.width && channels === shape.channels) {
    // The common case (MNIST into a 28x28 model): no per-image arrays, and each piece is scaled as
    // it arrives, while zlib inflates the next on libuv's thread pool (issue 12, start-up: scaled at
    // the end of the read, the CLI's main thread had the MNIST test set 985 ms after its start;
    // piece by piece, 821 ms; medians of 6 interleaved runs on a busy 2-core machine).
    await streamIdxRange(imagesFile, first, count, () => (piece, at) => scaleToUnit(piece, packer.images, at), reading);
  } else {
    const images = await readIdxRange(imagesFile, first, count, reading);
    for (let n = 0; n < count; n++) {
      checkCancelled(options.signal);
      const pixels = new Float32Array(perImage);
      for (let p = 0; p < perImage; p++) pixels[p] = images.bytes[n * perImage + p] / 255;
      packer.put(n, pixels, shape.height, shape.width, shape.channels as 1 | 3);
    }
  }
  const ids = Array.from({ length: count }, (_, n) => `${name}#${first + n}`);
  const labelValues = Int32Array.from(decodeIdxValues(labels.header, labels.bytes));
  checkLabelRange(labelValues, ids, options.classNames);
  return { images: packer.images, labels: labelValues, count, sourceCount: shape.count, height, width, channels, ids, notes: [...notes, ...packer.notes()] };
}

interface LabelledFile {
  file: string;
  id: string;
  label: number;
}

/** Decodes the window of labelled image files (in the given order) into a Dataset. */
async function loadImageFiles(files: LabelledFile[], classNames: readonly string[] | undefined, options: DatasetOptions, notes: string[], check?: (chosen: LabelledFile[]) => void): Promise<Dataset> {
  const { first, count } = selectWindow(files.length, options, notes, 'images');
  const chosen = files.slice(first, first + count);
  check?.(chosen);
  let packer: ImagePacker | undefined;
  // A few at a time: sharp decodes on libuv's thread pool; unbounded parallelism only costs memory.
  for (let start = 0; start < chosen.length; start += 8) {
    checkCancelled(options.signal);
    const decoded = await Promise.all(chosen.slice(start, start + 8).map((f) => decodeForDataset(f.file)));
    if (!packer) {
      const height = options.height ?? decoded[0].height;
      const width = options.width ?? decoded[0].width;
      // Without an asked channel count, grey unless an image of the first batch has colour.
      const channels = options.channels ?? (decoded.every((d) => d.channels === 1) ? 1 : 3);
      checkMemory(chosen.length, height, width, channels);
      packer = new ImagePacker(chosen.length, height, width, channels, options.sharedMemory);
    }
    decoded.forEach((d, i) => packer!.put(start + i, d.pixels, d.height, d.width, d.channels));
    options.onProgress?.(start + decoded.length, chosen.length, 'decoding images');
  }
  const labels = Int32Array.from(chosen, (f) => f.label);
  const ids = chosen.map((f) => f.id);
  checkLabelRange(labels, ids, options.classNames);
  return {
    images: packer!.images,
    labels,
    count: chosen.length,
    sourceCount: files.length,
    height: packer!.height,
    width: packer!.width,
    channels: packer!.channels,
    ids,
    ...(classNames ? { classNames } : {}),
    notes: [...notes, ...packer!.notes()],
  };
}

const byName = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });

/**
 * How the labels a source writes become class indices: matched to the model's labels when there is
 * a model (every written label checked now, before any image is decoded), else numbers as they are
 * and names in alphabetical order. `classNames` is what a caption should show for an index.
 */
function classLabelsFor(written: readonly string[], options: DatasetOptions, where: string, notes: string[]): { indexOf: (label: string) => number; classNames?: readonly string[] } {
  const distinct = [...new Set(written.map((l) => l.trim()))];
  const numeric = distinct.every((l) => /^\d+$/.test(l));
  if (!options.classNames) {
    const plain = labelsWithoutModel(distinct);
    if (plain.classNames) notes.push(`labels from ${where} names: ${plain.classNames.map((n, i) => `${i}=${n}`).join(', ')}`);
    else notes.push(`labels from ${where} numbers (${distinct.sort((a, b) => Number(a) - Number(b)).join(', ')})`);
    return plain;
  }
  const matcher = new ClassLabelMatcher(options.classNames);
  const index = new Map(distinct.map((l) => [l, matcher.indexOf(l, where)]));
  const shown = [...index].sort((a, b) => a[1] - b[1]).slice(0, 20);
  notes.push(`labels from ${where} ${numeric ? 'numbers' : 'names'}: ${shown.map(([l, i]) => (l === options.classNames![i] ? l : `${l}=${options.classNames![i]}`)).join(', ')}${index.size > shown.length ? ', …' : ''}`);
  return { indexOf: (l) => index.get(l.trim())!, ...(numeric ? {} : { classNames: options.classNames }) };
}

/** Image files of one folder, sorted by name; the listing is streamed so a huge folder reports progress. */
async function listImages(dir: string, progress: (files: number) => void): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of await opendir(dir, { bufferSize: 256 })) {
    if (entry.isFile() && isImageFile(entry.name)) {
      names.push(entry.name);
      if (names.length % 1000 === 0) progress(names.length);
    }
  }
  return names.sort(byName);
}

/** One sub-folder per class, named by the class's label or index. */
async function loadSubfolders(folder: string, classDirs: string[], options: DatasetOptions, notes: string[]): Promise<Dataset> {
  const labels = classLabelsFor(classDirs, options, 'sub-folder', notes);
  const dirs = [...classDirs].sort((a, b) => labels.indexOf(a) - labels.indexOf(b) || byName(a, b));
  const files: LabelledFile[] = [];
  for (const [done, dir] of dirs.entries()) {
    checkCancelled(options.signal);
    const names = await listImages(path.join(folder, dir), (n) => options.onProgress?.(done, dirs.length, `listing ${files.length + n} files`));
    for (const name of names) files.push({ file: path.join(folder, dir, name), id: `${dir}/${name}`, label: labels.indexOf(dir) });
    options.onProgress?.(done + 1, dirs.length, `listing ${files.length} files`);
  }
  if (files.length === 0) throw new DatasetError(`no images (PNG/JPEG) in the sub-folders of ${folder}`);
  return loadImageFiles(files, labels.classNames, options, notes);
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
  }
  const labels = classLabelsFor(rows.map((r) => r.cells[1]), options, LABELS_CSV, notes);
  const files = rows.map((r) => ({ file: path.join(folder, r.cells[0]), id: r.cells[0], label: labels.indexOf(r.cells[1]), line: r.line }));
  // Only the files of the window are opened, so only theirs must exist.
  return loadImageFiles(files, labels.classNames, options, notes, (chosen) => {
    for (const f of chosen as typeof files) if (!existsSync(f.file)) throw new DatasetError(`${LABELS_CSV} line ${f.line} names a missing file: ${f.id}`);
  });
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
    const file = builtinSamplesPath(options.samplesOf);
    if (!existsSync(file)) throw new DatasetError(`the built-in sample set is missing (${file}); the training script that made it (npm run train:mnist, train:fashion) recreates it`);
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
