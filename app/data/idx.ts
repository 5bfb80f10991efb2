/**
 * The IDX format of the MNIST files (LeCun et al., http://yann.lecun.com/exdb/mnist/): two zero
 * bytes, a type byte, the number of dimensions, then each dimension as a big-endian uint32, then
 * the values, big-endian. Pure (no zlib): the Node loader gunzips `.gz` files before parsing.
 */
import { DatasetError } from './errors.js';

export type IdxValues = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxArray {
  dims: number[];
  data: IdxValues;
}

/** Type byte → element size and how to read one big-endian element. */
const IDX_TYPES: Record<number, { name: string; bytes: number; make: (n: number) => IdxValues; read: (v: DataView, at: number) => number }> = {
  0x08: { name: 'unsigned byte', bytes: 1, make: (n) => new Uint8Array(n), read: (v, at) => v.getUint8(at) },
  0x09: { name: 'signed byte', bytes: 1, make: (n) => new Int8Array(n), read: (v, at) => v.getInt8(at) },
  0x0b: { name: 'short', bytes: 2, make: (n) => new Int16Array(n), read: (v, at) => v.getInt16(at, false) },
  0x0c: { name: 'int', bytes: 4, make: (n) => new Int32Array(n), read: (v, at) => v.getInt32(at, false) },
  0x0d: { name: 'float', bytes: 4, make: (n) => new Float32Array(n), read: (v, at) => v.getFloat32(at, false) },
  0x0e: { name: 'double', bytes: 8, make: (n) => new Float64Array(n), read: (v, at) => v.getFloat64(at, false) },
};

/** What an IDX header says: enough to find any item without reading the others. */
export interface IdxHeader {
  typeByte: number;
  typeName: string;
  dims: number[];
  /** Bytes before the values: 4 + 4 × dimensions. */
  headerBytes: number;
  /** Bytes of one value. */
  valueBytes: number;
  /** Bytes of one item along the first dimension (e.g. one image of [N, 28, 28]). */
  itemBytes: number;
  /** headerBytes + all values: the size the file must have (uncompressed). */
  totalBytes: number;
}

/**
 * The largest uncompressed IDX file we read: 8 GiB (MNIST's training images are 47 MB; the
 * 1.9 M-image files that stalled the server were 1.5 GB). A header asking for more is refused at
 * once instead of after inflating gigabytes.
 */
export const MAX_IDX_BYTES = 8 * 1024 ** 3;

function checkNotGzip(bytes: Uint8Array, name: string): void {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    throw new DatasetError(`${name} is gzip-compressed: decompress it before parsing`);
  }
}

/**
 * Reads the header from the first bytes of an IDX file. Returns the number of bytes still needed
 * when `bytes` is too short to hold the whole header (so a stream can read on), else the header.
 */
export function parseIdxHeader(bytes: Uint8Array, name = 'IDX data'): IdxHeader | { needBytes: number } {
  checkNotGzip(bytes, name);
  if (bytes.length < 4) return { needBytes: 4 };
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new DatasetError(`${name} is not an IDX file (it must start with two zero bytes, a type byte and a dimension count)`);
  }
  const type = IDX_TYPES[bytes[2]];
  if (!type) throw new DatasetError(`${name}: unknown IDX type byte 0x${bytes[2].toString(16).padStart(2, '0')}`);
  const ndims = bytes[3];
  if (ndims === 0) throw new DatasetError(`${name}: IDX header has no dimensions`);
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) return { needBytes: headerBytes };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: ndims }, (_, i) => view.getUint32(4 + 4 * i, false));
  // Doubles stay exact here: every factor is below 2^32 and we stop once the product passes the cap.
  let itemBytes = type.bytes;
  for (const d of dims.slice(1)) itemBytes = Math.min(itemBytes * d, Number.MAX_SAFE_INTEGER);
  const totalBytes = headerBytes + Math.min(itemBytes * dims[0], Number.MAX_SAFE_INTEGER);
  if (totalBytes > MAX_IDX_BYTES) {
    throw new DatasetError(`${name}: its header asks for ${dims.join('x')} ${type.name} values (${formatBytes(totalBytes)}), above the ${formatBytes(MAX_IDX_BYTES)} Foolprint reads from one IDX file`);
  }
  return { typeByte: bytes[2], typeName: type.name, dims, headerBytes, valueBytes: type.bytes, itemBytes, totalBytes };
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} bytes`;
}

/** Big-endian IDX values (as they follow the header) in the typed array of their type. */
export function decodeIdxValues(header: IdxHeader, bytes: Uint8Array): IdxValues {
  if (header.typeByte === 0x08) return bytes.slice();
  const type = IDX_TYPES[header.typeByte];
  const count = Math.floor(bytes.length / type.bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const data = type.make(count);
  for (let i = 0; i < count; i++) data[i] = type.read(view, i * type.bytes);
  return data;
}

/** `name` appears in error messages (usually the file name). */
export function parseIdx(bytes: Uint8Array, name = 'IDX data'): IdxArray {
  const header = parseIdxHeader(bytes, name);
  if ('needBytes' in header) {
    if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
      throw new DatasetError(`${name} is not an IDX file (it must start with two zero bytes, a type byte and a dimension count)`);
    }
    throw new DatasetError(`${name}: IDX header is truncated (${bytes[3]} dimensions, ${bytes.length} bytes)`);
  }
  if (bytes.length < header.totalBytes) {
    throw new DatasetError(`${name} is truncated: dimensions ${header.dims.join('x')} of ${header.typeName} need ${header.totalBytes} bytes, the file has ${bytes.length}`);
  }
  if (bytes.length > header.totalBytes) {
    throw new DatasetError(`${name} has ${bytes.length - header.totalBytes} bytes more than its header's dimensions ${header.dims.join('x')} of ${header.typeName} (${header.totalBytes} bytes): damaged or not IDX`);
  }
  return { dims: header.dims, data: decodeIdxValues(header, bytes.subarray(header.headerBytes)) };
}

/** Encodes unsigned bytes as IDX (type 0x08), e.g. images [N, 28, 28] or labels [N]. */
export function encodeIdxUint8(dims: readonly number[], data: Uint8Array): Uint8Array {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new DatasetError(`IDX dimensions ${dims.join('x')} need ${count} values, got ${data.length}`);
  const header = 4 + 4 * dims.length;
  const out = new Uint8Array(header + count);
  const view = new DataView(out.buffer);
  out[2] = 0x08;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, header);
  return out;
}

/** Checks an IDX images header ([N, H, W] or [N, H, W, C] unsigned bytes) and returns its shape. */
export function idxImageShape(images: Pick<IdxHeader, 'dims' | 'typeByte'>, name: string): { count: number; height: number; width: number; channels: number } {
  const [count, height, width, channels = 1] = images.dims;
  if ((images.dims.length !== 3 && images.dims.length !== 4) || images.typeByte !== 0x08) {
    throw new DatasetError(`${name} is not an IDX image file: expected unsigned bytes [count, height, width], got ${images.dims.join('x')}`);
  }
  return { count, height, width, channels };
}
