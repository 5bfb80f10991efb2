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

/** `name` appears in error messages (usually the file name). */
export function parseIdx(bytes: Uint8Array, name = 'IDX data'): IdxArray {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    throw new DatasetError(`${name} is gzip-compressed: decompress it before parsing`);
  }
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    throw new DatasetError(`${name} is not an IDX file (it must start with two zero bytes, a type byte and a dimension count)`);
  }
  const type = IDX_TYPES[bytes[2]];
  if (!type) throw new DatasetError(`${name}: unknown IDX type byte 0x${bytes[2].toString(16).padStart(2, '0')}`);
  const ndims = bytes[3];
  const header = 4 + 4 * ndims;
  if (ndims === 0 || bytes.length < header) throw new DatasetError(`${name}: IDX header is truncated (${ndims} dimensions, ${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: ndims }, (_, i) => view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1);
  const expected = header + count * type.bytes;
  if (bytes.length < expected) {
    throw new DatasetError(`${name} is truncated: dimensions ${dims.join('x')} of ${type.name} need ${expected} bytes, the file has ${bytes.length}`);
  }
  if (type.bytes === 1 && bytes[2] === 0x08) return { dims, data: bytes.slice(header, expected) };
  const data = type.make(count);
  for (let i = 0; i < count; i++) data[i] = type.read(view, header + i * type.bytes);
  return { dims, data };
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

/** Checks an IDX images array ([N, H, W] or [N, H, W, C]) and returns its shape. */
export function idxImageShape(images: IdxArray, name: string): { count: number; height: number; width: number; channels: number } {
  const [count, height, width, channels = 1] = images.dims;
  if ((images.dims.length !== 3 && images.dims.length !== 4) || !(images.data instanceof Uint8Array)) {
    throw new DatasetError(`${name} is not an IDX image file: expected unsigned bytes [count, height, width], got ${images.dims.join('x')}`);
  }
  return { count, height, width, channels };
}
