/**
 * The service's image handling: an API image selection (built-in samples, a dataset on disk,
 * uploaded files) becomes a Dataset at the model's input size; images go back out as PNG data URLs.
 */
import sharp from 'sharp';
import type { OutputInfo } from 'sharp';
import type { Dataset } from '../data/dataset.js';
import type { ImageSelection } from '../api/common.js';
import type { imageSelectionSchema } from '../api/common.js';
import { ApiError } from '../api/errors.js';
import { encodePng } from './png-encode.js';
import { DatasetError } from '../data/errors.js';
import { ClassLabelMatcher } from '../data/class-labels.js';
import { loadDatasetInWorker } from './dataset-thread.js';

export type ParsedImageSelection = ReturnType<typeof imageSelectionSchema.parse>;

/** A short text for records: where the images came from. */
export function describeSelection(selection: ImageSelection | ParsedImageSelection): string {
  switch (selection.kind) {
    case 'samples':
      return 'samples';
    case 'dataset':
      return selection.path;
    case 'files':
      return `${selection.files.length} uploaded file${selection.files.length === 1 ? '' : 's'}`;
  }
}

function sliceDataset(dataset: Dataset, offset: number, limit: number | undefined): Dataset {
  if (offset === 0 && (limit === undefined || limit >= dataset.count)) return dataset;
  const end = Math.min(dataset.count, limit === undefined ? dataset.count : offset + limit);
  if (offset >= dataset.count) throw new ApiError('invalid-input', `offset ${offset} is beyond the ${dataset.count} images of the selection`);
  const size = dataset.height * dataset.width * dataset.channels;
  return {
    ...dataset,
    images: dataset.images.slice(offset * size, end * size),
    labels: dataset.labels.slice(offset, end),
    count: end - offset,
    ids: dataset.ids.slice(offset, end),
  };
}

/** No images, for a page past the end of its selection. */
function emptyPage(dataset: Dataset): Dataset {
  return { ...dataset, images: new Float32Array(0), labels: new Int32Array(0), ids: [], count: 0 };
}

/** Decodes uploaded PNG/JPEG files (EXIF orientation honoured) and resizes them to [height, width, channels]. */
async function decodeUploads(files: ParsedImageSelection & { kind: 'files' }, shape: readonly [number, number, number], labels: readonly string[]): Promise<Dataset> {
  const [height, width, channels] = shape;
  const matcher = new ClassLabelMatcher(labels);
  for (const file of files.files) {
    try {
      matcher.indexOf(String(file.label), `uploaded image "${file.name}":`);
    } catch (error) {
      throw new ApiError('invalid-input', (error as Error).message);
    }
  }
  const size = height * width * channels;
  const images = new Float32Array(files.files.length * size);
  const notes = new Set<string>();
  for (const [n, file] of files.files.entries()) {
    const bytes = Buffer.from(file.base64, 'base64');
    let decoded: { data: Buffer; info: OutputInfo };
    try {
      const image = sharp(bytes).rotate();
      const meta = await image.metadata();
      if (meta.width !== width || meta.height !== height) notes.add(`resized ${meta.width}x${meta.height} to ${width}x${height}`);
      const pipeline = image.resize(width, height, { fit: 'fill' }).removeAlpha();
      decoded = await (channels === 1 ? pipeline.greyscale() : pipeline.toColourspace('srgb')).raw().toBuffer({ resolveWithObject: true });
    } catch (error) {
      throw new ApiError('invalid-input', `cannot decode uploaded image "${file.name}": ${(error as Error).message.split('\n')[0]}`);
    }
    if (decoded.info.channels !== channels) throw new ApiError('invalid-input', `uploaded image "${file.name}" decoded to ${decoded.info.channels} channels, expected ${channels}`);
    for (let p = 0; p < size; p++) images[n * size + p] = decoded.data[p] / 255;
  }
  return {
    images,
    labels: Int32Array.from(files.files.map((f) => f.label)),
    count: files.files.length,
    sourceCount: files.files.length,
    height,
    width,
    channels,
    ids: files.files.map((f) => f.name),
    notes: [...notes],
  };
}

/** What a selection is loaded for: the model's input shape and labels (names in the data are matched to them). */
export interface SelectionTarget {
  inputShape: readonly [number, number, number];
  labels: readonly string[];
  /** The model id whose built-in sample set 'samples' means (dataset-loader's builtinSamplesPath). */
  samplesOf?: string;
}

export interface SelectionControl {
  signal?: AbortSignal;
  onProgress?: (done: number, total: number, label: string) => void;
}

/**
 * Images [offset, offset + limit) of the selection (by default all of it) at the model's input size,
 * and how many images the whole selection has. Datasets on disk are read on a worker thread, and
 * only the asked images are read.
 */
export async function loadSelection(
  selection: ParsedImageSelection,
  target: SelectionTarget,
  page: { offset: number; limit?: number } = { offset: 0 },
  control: SelectionControl = {},
): Promise<{ dataset: Dataset; selectionCount: number }> {
  const [height, width, channels] = target.inputShape;
  if (channels !== 1 && channels !== 3) throw new ApiError('invalid-input', `models with ${channels} channels are not supported (1 or 3)`);
  if (selection.kind === 'files') {
    const all = await decodeUploads(selection, target.inputShape, target.labels);
    if (page.offset >= all.count) return { dataset: emptyPage(all), selectionCount: all.count };
    return { dataset: sliceDataset(all, page.offset, page.limit), selectionCount: all.count };
  }
  const spec = selection.kind === 'samples' ? 'samples' : selection.path;
  // Within the selection's own window: the page never reaches past the selection's limit.
  const room = selection.limit === undefined ? Infinity : selection.limit - page.offset;
  const beyond = room <= 0;
  const limit = beyond ? 1 : Math.min(room, page.limit ?? Infinity);
  const options = {
    height,
    width,
    channels: channels as 1 | 3,
    classNames: target.labels,
    samplesOf: target.samplesOf,
    offset: beyond ? selection.offset : selection.offset + page.offset,
    limit: Number.isFinite(limit) ? limit : undefined,
    ...control,
  };
  let dataset: Dataset;
  try {
    dataset = await loadDatasetInWorker(spec, options);
  } catch (error) {
    if (error instanceof DatasetError) throw new ApiError('invalid-input', error.message);
    throw error;
  }
  const selectionCount = Math.max(0, Math.min(dataset.sourceCount - selection.offset, selection.limit ?? Infinity));
  if (beyond) return { dataset: emptyPage(dataset), selectionCount };
  return { dataset, selectionCount };
}

export async function pngDataUrl(pixels: Float32Array, width: number, height: number, channels: number): Promise<string> {
  return `data:image/png;base64,${(await encodePng(pixels, width, height, channels)).toString('base64')}`;
}

export function bytesDataUrl(bytes: Uint8Array, mimeType = 'image/png'): string {
  return `data:${mimeType};base64,${Buffer.from(bytes).toString('base64')}`;
}

/** RGBA bytes of a photo (JPEG/PNG/WebP...), EXIF orientation applied, for the physical analysis. */
export async function decodePhoto(bytes: Uint8Array, name: string): Promise<{ data: Uint8ClampedArray; width: number; height: number }> {
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: 100_000_000 }).rotate().ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    return { data: new Uint8ClampedArray(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
  } catch (error) {
    throw new ApiError('invalid-input', `cannot decode photo "${name}": ${(error as Error).message.split('\n')[0]}`);
  }
}
