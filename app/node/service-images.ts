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
import { loadDataset } from './dataset-loader.js';

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

/** Decodes uploaded PNG/JPEG files (EXIF orientation honoured) and resizes them to [height, width, channels]. */
async function decodeUploads(files: ParsedImageSelection & { kind: 'files' }, shape: readonly [number, number, number]): Promise<Dataset> {
  const [height, width, channels] = shape;
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
    height,
    width,
    channels,
    ids: files.files.map((f) => f.name),
    notes: [...notes],
  };
}

/** The selected images at the model's input size. */
export async function loadSelection(selection: ParsedImageSelection, shape: readonly [number, number, number]): Promise<Dataset> {
  const [height, width, channels] = shape;
  if (channels !== 1 && channels !== 3) throw new ApiError('invalid-input', `models with ${channels} channels are not supported (1 or 3)`);
  if (selection.kind === 'files') return decodeUploads(selection, shape);
  const spec = selection.kind === 'samples' ? 'samples' : selection.path;
  const limit = selection.limit === undefined ? undefined : selection.offset + selection.limit;
  const dataset = await loadDataset(spec, { height, width, channels, limit });
  return sliceDataset(dataset, selection.offset, selection.limit);
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
