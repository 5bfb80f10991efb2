/**
 * Decodes an ONNX file (a protobuf `ModelProto`) with protobufjs into plain objects.
 *
 * The schema below lists only the messages and fields we read, with their field numbers from ONNX's
 * onnx.proto (IR version 3 onwards); protobuf skips every field a schema does not name, so newer
 * files with fields we ignore (training info, sparse initialisers, functions) still decode.
 * int64 fields come back as JS numbers: exact up to 2^53, which covers every shape and index; the
 * INT64_MAX that Slice uses for "to the end" rounds to 2^63, still larger than any dimension.
 */
import protobuf from 'protobufjs/light.js';
import { ModelError } from '../errors.js';

const fields = (entries: Record<string, [number, string, ('repeated' | undefined)?]>) =>
  Object.fromEntries(Object.entries(entries).map(([name, [id, type, rule]]) => [name, rule ? { id, type, rule } : { id, type }]));

const ONNX_SCHEMA = {
  nested: {
    onnx: {
      nested: {
        ModelProto: {
          fields: fields({
            irVersion: [1, 'int64'], producerName: [2, 'string'], producerVersion: [3, 'string'], domain: [4, 'string'],
            modelVersion: [5, 'int64'], docString: [6, 'string'], graph: [7, 'GraphProto'],
            opsetImport: [8, 'OperatorSetIdProto', 'repeated'], metadataProps: [14, 'StringStringEntryProto', 'repeated'],
          }),
        },
        OperatorSetIdProto: { fields: fields({ domain: [1, 'string'], version: [2, 'int64'] }) },
        StringStringEntryProto: { fields: fields({ key: [1, 'string'], value: [2, 'string'] }) },
        GraphProto: {
          fields: fields({
            node: [1, 'NodeProto', 'repeated'], name: [2, 'string'], initializer: [5, 'TensorProto', 'repeated'],
            input: [11, 'ValueInfoProto', 'repeated'], output: [12, 'ValueInfoProto', 'repeated'], valueInfo: [13, 'ValueInfoProto', 'repeated'],
          }),
        },
        NodeProto: {
          fields: fields({
            input: [1, 'string', 'repeated'], output: [2, 'string', 'repeated'], name: [3, 'string'], opType: [4, 'string'],
            attribute: [5, 'AttributeProto', 'repeated'], domain: [7, 'string'],
          }),
        },
        AttributeProto: {
          fields: fields({
            name: [1, 'string'], f: [2, 'float'], i: [3, 'int64'], s: [4, 'bytes'], t: [5, 'TensorProto'], g: [6, 'GraphProto'],
            floats: [7, 'float', 'repeated'], ints: [8, 'int64', 'repeated'], strings: [9, 'bytes', 'repeated'],
            tensors: [10, 'TensorProto', 'repeated'], type: [20, 'int32'], refAttrName: [21, 'string'],
          }),
        },
        TensorProto: {
          fields: fields({
            dims: [1, 'int64', 'repeated'], dataType: [2, 'int32'], floatData: [4, 'float', 'repeated'], int32Data: [5, 'int32', 'repeated'],
            int64Data: [7, 'int64', 'repeated'], name: [8, 'string'], rawData: [9, 'bytes'], doubleData: [10, 'double', 'repeated'],
            uint64Data: [11, 'uint64', 'repeated'], externalData: [13, 'StringStringEntryProto', 'repeated'], dataLocation: [14, 'int32'],
          }),
        },
        ValueInfoProto: { fields: fields({ name: [1, 'string'], type: [2, 'TypeProto'] }) },
        TypeProto: { fields: fields({ tensorType: [1, 'TypeProtoTensor'] }) },
        TypeProtoTensor: { fields: fields({ elemType: [1, 'int32'], shape: [2, 'TensorShapeProto'] }) },
        TensorShapeProto: { fields: fields({ dim: [1, 'TensorShapeDimension', 'repeated'] }) },
        TensorShapeDimension: { fields: fields({ dimValue: [1, 'int64'], dimParam: [2, 'string'] }) },
      },
    },
  },
};

export interface OnnxTensorProto {
  name: string;
  dims: number[];
  dataType: number;
  floatData: number[];
  int32Data: number[];
  int64Data: number[];
  doubleData: number[];
  uint64Data: number[];
  rawData?: Uint8Array;
  externalData: { key: string; value: string }[];
  dataLocation: number;
}

export interface OnnxAttributeProto {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: OnnxTensorProto;
  floats: number[];
  ints: number[];
  strings: Uint8Array[];
  refAttrName?: string;
}

export interface OnnxNodeProto {
  name: string;
  opType: string;
  domain: string;
  input: string[];
  output: string[];
  attribute: OnnxAttributeProto[];
}

export interface OnnxValueInfo {
  name: string;
  type?: { tensorType?: { elemType: number; shape?: { dim: { dimValue?: number; dimParam?: string }[] } } };
}

export interface OnnxGraphProto {
  name: string;
  node: OnnxNodeProto[];
  initializer: OnnxTensorProto[];
  input: OnnxValueInfo[];
  output: OnnxValueInfo[];
}

export interface OnnxModelProto {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  opsetImport: { domain: string; version: number }[];
  graph?: OnnxGraphProto;
}

let modelType: protobuf.Type | undefined;

function modelProtoType(): protobuf.Type {
  modelType ??= protobuf.Root.fromJSON(ONNX_SCHEMA).lookupType('onnx.ModelProto');
  return modelType;
}

/**
 * Bytes of an .onnx file → its ModelProto. Anything that is not a protobuf ModelProto with a graph
 * (truncated file, another format, garbage) is a one-line ModelError naming `file`.
 */
export function decodeOnnxModel(bytes: Uint8Array, file: string): OnnxModelProto {
  const type = modelProtoType();
  let model: OnnxModelProto;
  try {
    const message = type.decode(bytes);
    model = type.toObject(message, { longs: Number, enums: Number, bytes: Uint8Array, arrays: true, defaults: true }) as OnnxModelProto;
  } catch (error) {
    throw new ModelError(`${file} is not an ONNX model (protobuf decoding failed: ${(error as Error).message.split('\n')[0]})`);
  }
  if (!model.graph || model.graph.node.length === 0) {
    throw new ModelError(`${file} is not an ONNX model (no graph with nodes in it)`);
  }
  return model;
}

/**
 * A ModelProto (plain object, the field names above) → ONNX bytes. Foolprint never writes models;
 * tests use it to build small graphs operator by operator.
 */
export function encodeOnnxModel(model: Record<string, unknown>): Uint8Array {
  const type = modelProtoType();
  return type.encode(type.fromObject(model)).finish();
}
