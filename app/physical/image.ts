/**
 * The raster buffers the physical pipeline works on, in the shape of the DOM's ImageData so a
 * canvas frame, a decoded file and a synthetic photo all pass unchanged: row-major, top-left origin.
 */
export interface RgbaImage {
  data: Uint8ClampedArray;
  width: number;
  height: number;
}

/** One byte per pixel, 0 = black. What marker detection and the quality checks read. */
export interface GreyImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export class ImageShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageShapeError';
  }
}

export function checkRgba(image: RgbaImage, what = 'image'): void {
  if (!Number.isInteger(image.width) || !Number.isInteger(image.height) || image.width <= 0 || image.height <= 0) {
    throw new ImageShapeError(`${what} must have a positive whole width and height, got ${image.width}x${image.height}`);
  }
  if (image.data.length !== image.width * image.height * 4) {
    throw new ImageShapeError(`${what} is ${image.width}x${image.height} RGBA and needs ${image.width * image.height * 4} bytes, got ${image.data.length}`);
  }
}

export function createRgba(width: number, height: number, fill: readonly [number, number, number] = [255, 255, 255]): RgbaImage {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < data.length; i += 4) {
    data[i] = fill[0];
    data[i + 1] = fill[1];
    data[i + 2] = fill[2];
    data[i + 3] = 255;
  }
  return { data, width, height };
}

/** ITU-R BT.601 luma, the weights OpenCV's cvtColor(RGBA2GRAY) uses, so both paths agree. */
export function rgbaToGrey(image: RgbaImage): GreyImage {
  const { data, width, height } = image;
  const grey = new Uint8Array(width * height);
  for (let p = 0, i = 0; p < grey.length; p++, i += 4) {
    grey[p] = (data[i] * 299 + data[i + 1] * 587 + data[i + 2] * 114 + 500) / 1000;
  }
  return { data: grey, width, height };
}

export function greyToRgba(image: GreyImage): RgbaImage {
  const { data, width, height } = image;
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let p = 0, i = 0; p < data.length; p++, i += 4) {
    rgba[i] = rgba[i + 1] = rgba[i + 2] = data[p];
    rgba[i + 3] = 255;
  }
  return { data: rgba, width, height };
}

/**
 * Box-filter downscale by an integer factor: each output pixel is the mean of a factor×factor block,
 * the cheapest anti-aliased reduction (what marker detection needs on a 12-megapixel photo).
 */
export function downscaleGrey(image: GreyImage, factor: number): GreyImage {
  if (factor <= 1) return image;
  const width = Math.floor(image.width / factor);
  const height = Math.floor(image.height / factor);
  const out = new Uint8Array(width * height);
  const rowSums = new Uint32Array(width);
  const area = factor * factor;
  for (let y = 0; y < height; y++) {
    rowSums.fill(0);
    for (let dy = 0; dy < factor; dy++) {
      const row = (y * factor + dy) * image.width;
      for (let x = 0; x < width; x++) {
        let sum = 0;
        const start = row + x * factor;
        for (let dx = 0; dx < factor; dx++) sum += image.data[start + dx];
        rowSums[x] += sum;
      }
    }
    for (let x = 0; x < width; x++) out[y * width + x] = Math.round(rowSums[x] / area);
  }
  return { data: out, width, height };
}

/** Images in [0,1] NHWC (the Dataset and attack form) → one RGBA image, for saving and drawing. */
export function unitToRgba(pixels: Float32Array, width: number, height: number, channels: number, offset = 0): RgbaImage {
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    const base = offset + p * channels;
    for (let c = 0; c < 3; c++) rgba[p * 4 + c] = Math.round(pixels[base + (channels === 1 ? 0 : c)] * 255);
    rgba[p * 4 + 3] = 255;
  }
  return { data: rgba, width, height };
}
