/**
 * An ONNX model with its float initialisers moved into one data file, as
 * onnx.save(..., save_as_external_data=True) writes it: for the loader's tests (test/onnx-import.test.ts),
 * the upload's (test/onnx-upload.test.ts) and the Models screen's (e2e/onnx-import.test.ts).
 */
import { decodeOnnxModel, encodeOnnxModel } from '../app/models/onnx/onnx-proto.js';

const FLOAT = 1;

export interface ByteRange {
  offset: number;
  length: number;
  last: boolean;
}

/** The location/offset/length entries of a tensor at `range` of `location` (the last one runs to the end of the file). */
export const byRange = (location: string) => ({ offset, length, last }: ByteRange): [string, string][] =>
  last ? [['location', location], ['offset', String(offset)]] : [['location', location], ['offset', String(offset)], ['length', String(length)]];

/**
 * `onnx` with every float initialiser's data moved out: `entries` gives each tensor's external-data
 * entries from its byte range in `data` (16 bytes of padding between tensors, so offsets matter).
 */
export function withExternalData(onnx: Uint8Array, entries: (range: ByteRange) => [string, string][]): { model: Uint8Array; data: Buffer; moved: number } {
  const model = decodeOnnxModel(onnx, 'model.onnx') as unknown as { graph: { initializer: { dataType: number; rawData?: Uint8Array; dataLocation: number; externalData: { key: string; value: string }[] }[] } };
  const floats = model.graph.initializer.filter((t) => t.dataType === FLOAT && t.rawData && t.rawData.byteLength > 0);
  const chunks: Buffer[] = [];
  let offset = 0;
  floats.forEach((t, i) => {
    const data = Buffer.from(t.rawData!);
    chunks.push(data, Buffer.alloc(16, 0xee));
    t.externalData = entries({ offset, length: data.byteLength, last: i === floats.length - 1 }).map(([key, value]) => ({ key, value }));
    t.dataLocation = 1;
    t.rawData = new Uint8Array(0);
    offset += data.byteLength + 16;
  });
  return { model: encodeOnnxModel(model as unknown as Record<string, unknown>), data: Buffer.concat(chunks).subarray(0, Math.max(0, offset - 16)), moved: floats.length };
}
