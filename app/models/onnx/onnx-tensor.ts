/**
 * ONNX TensorProto → a host tensor (shape + numbers), from `raw_data` (little-endian, fixed width)
 * or from the typed fields. Floating types become a Float32Array (TF.js computes in float32);
 * integer and boolean types become plain numbers (shapes, axes, indices). Types we cannot read (strings,
 * complex) are a ModelError naming the tensor. External data is read by the Node loader
 * (app/node/onnx-loader.ts), which fills raw_data from the file `externalDataOf` names.
 */
import { ModelError } from '../errors.js';
import type { OnnxTensorProto } from './onnx-proto.js';

/** TensorProto.DataType codes we read. */
export const ONNX_DTYPE = {
  FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8, BOOL: 9,
  FLOAT16: 10, DOUBLE: 11, UINT32: 12, UINT64: 13, BFLOAT16: 16,
} as const;

const DTYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(ONNX_DTYPE).map(([name, code]) => [code, name.toLowerCase()]));

/** A tensor held in JS: float data for weights, integer data for shapes, axes and indices. */
export interface HostTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array | readonly number[];
  /** Integer (or boolean) data: shape arithmetic stays exact and on the host. */
  readonly integer: boolean;
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function dtypeName(code: number): string {
  return DTYPE_NAMES[code] ?? `type ${code}`;
}

export function isFloatType(code: number): boolean {
  return code === ONNX_DTYPE.FLOAT || code === ONNX_DTYPE.FLOAT16 || code === ONNX_DTYPE.DOUBLE || code === ONNX_DTYPE.BFLOAT16;
}

/** IEEE 754 half precision (1 sign, 5 exponent, 10 mantissa bits) → number. */
export function float16ToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

function fromRaw(raw: Uint8Array, dataType: number, count: number, what: string): Float32Array | number[] {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const width: Record<number, number> = { 1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2 };
  const bytes = width[dataType];
  if (bytes === undefined) throw new ModelError(`${what}: cannot read ${dtypeName(dataType)} data`);
  if (raw.byteLength !== count * bytes) {
    throw new ModelError(`${what}: raw_data holds ${raw.byteLength} bytes, its shape needs ${count * bytes} (${count} × ${bytes})`);
  }
  const floats = isFloatType(dataType);
  const out = floats ? new Float32Array(count) : new Array<number>(count);
  for (let i = 0; i < count; i++) {
    const at = i * bytes;
    switch (dataType) {
      case ONNX_DTYPE.FLOAT: out[i] = view.getFloat32(at, true); break;
      case ONNX_DTYPE.DOUBLE: out[i] = view.getFloat64(at, true); break;
      case ONNX_DTYPE.FLOAT16: out[i] = float16ToNumber(view.getUint16(at, true)); break;
      case ONNX_DTYPE.BFLOAT16: out[i] = new Float32Array(new Uint32Array([view.getUint16(at, true) << 16]).buffer)[0]; break;
      case ONNX_DTYPE.UINT8: case ONNX_DTYPE.BOOL: out[i] = view.getUint8(at); break;
      case ONNX_DTYPE.INT8: out[i] = view.getInt8(at); break;
      case ONNX_DTYPE.UINT16: out[i] = view.getUint16(at, true); break;
      case ONNX_DTYPE.INT16: out[i] = view.getInt16(at, true); break;
      case ONNX_DTYPE.INT32: out[i] = view.getInt32(at, true); break;
      case ONNX_DTYPE.UINT32: out[i] = view.getUint32(at, true); break;
      case ONNX_DTYPE.INT64: out[i] = Number(view.getBigInt64(at, true)); break;
      case ONNX_DTYPE.UINT64: out[i] = Number(view.getBigUint64(at, true)); break;
    }
  }
  return out;
}

function fromTypedFields(t: OnnxTensorProto, count: number, what: string): Float32Array | number[] {
  let values: readonly number[];
  switch (t.dataType) {
    case ONNX_DTYPE.FLOAT: values = t.floatData; break;
    case ONNX_DTYPE.DOUBLE: values = t.doubleData; break;
    // float16 and bfloat16 sit bit-wise in int32_data.
    case ONNX_DTYPE.FLOAT16: values = t.int32Data.map(float16ToNumber); break;
    case ONNX_DTYPE.BFLOAT16: values = t.int32Data.map((b) => new Float32Array(new Uint32Array([b << 16]).buffer)[0]); break;
    case ONNX_DTYPE.INT64: values = t.int64Data; break;
    case ONNX_DTYPE.UINT32: case ONNX_DTYPE.UINT64: values = t.uint64Data; break;
    case ONNX_DTYPE.INT32: case ONNX_DTYPE.INT16: case ONNX_DTYPE.INT8: case ONNX_DTYPE.UINT16: case ONNX_DTYPE.UINT8: case ONNX_DTYPE.BOOL:
      values = t.int32Data; break;
    default:
      throw new ModelError(`${what}: cannot read ${dtypeName(t.dataType)} data`);
  }
  if (values.length !== count) throw new ModelError(`${what}: holds ${values.length} values, its shape [${t.dims.join(',')}] needs ${count}`);
  return isFloatType(t.dataType) ? Float32Array.from(values) : [...values];
}

/** Text from the file, fit for a one-line message: control characters escaped, cut to a readable length. */
export function shown(text: string, max = 80): string {
  // eslint-disable-next-line no-control-regex -- control characters are what is escaped
  const escaped = text.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return escaped.length > max ? `${escaped.slice(0, max)}…` : escaped;
}

/** Where ONNX's external data of a tensor lies: a file beside the model, a byte range in it. */
export interface ExternalDataRef {
  location: string;
  offset: number;
  /** Absent: to the end of the file. */
  length?: number;
}

/**
 * The external-data reference of a tensor (`data_location = EXTERNAL`, keys location/offset/length),
 * or undefined when its data is inline. Malformed entries are a ModelError naming the tensor.
 */
export function externalDataOf(t: OnnxTensorProto, what: string): ExternalDataRef | undefined {
  if (t.dataLocation !== 1 && t.externalData.length === 0) return undefined;
  const entries = new Map(t.externalData.map((e) => [e.key, e.value]));
  const location = entries.get('location');
  if (!location) throw new ModelError(`${what}: its data is in an external file, but the model does not say which (no "location")`);
  const count = (key: string): number | undefined => {
    const value = entries.get(key);
    if (value === undefined) return undefined;
    if (!/^\d{1,15}$/.test(value)) throw new ModelError(`${what}: external data ${key} "${shown(value.slice(0, 40))}" is not a byte count`);
    return Number(value);
  };
  const length = count('length');
  return { location, offset: count('offset') ?? 0, ...(length === undefined ? {} : { length }) };
}

/** Reads a TensorProto; `what` names it in errors ("initializer conv1.weight"). */
export function readTensorProto(t: OnnxTensorProto, what: string): HostTensor {
  if (t.dataLocation === 1 || t.externalData.length > 0) {
    throw new ModelError(`${what}: its data is in an external file that was not read (open the model from its file, with the data file beside it)`);
  }
  const shape = t.dims.map(Number);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new ModelError(`${what}: bad shape [${shape.join(',')}]`);
  const count = sizeOf(shape);
  const data = t.rawData && t.rawData.byteLength > 0 ? fromRaw(t.rawData, t.dataType, count, what) : fromTypedFields(t, count, what);
  return { shape, data, integer: !isFloatType(t.dataType) };
}
