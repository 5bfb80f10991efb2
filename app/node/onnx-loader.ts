/**
 * Opens an ONNX model from disk: `model.onnx` in a model folder (with its foolprint.json), or any
 * `.onnx` file. Without a manifest we infer what the graph says (input size and channels, number of
 * outputs, a Softmax at the end) and say what we assumed in `notes`, as for TF.js models.
 */
import { existsSync, statSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { classifierFromModel } from '../models/classifier.js';
import { ModelError } from '../models/errors.js';
import { modelManifestSchema, type ModelManifest } from '../models/manifest.js';
import { buildOnnxNetwork, type OnnxNetwork } from '../models/onnx/onnx-network.js';
import { decodeOnnxModel, type OnnxModelProto } from '../models/onnx/onnx-proto.js';
import { externalDataOf, shown } from '../models/onnx/onnx-tensor.js';
import { ConfinedPathError, confinedPath } from './confined-path.js';
import type { LoadedClassifier } from './model-loader.js';

export const ONNX_MODEL_FILE = 'model.onnx';

/**
 * The ONNX file a `--model` path names: the path itself when it ends in .onnx, or model.onnx inside
 * a folder that holds no TF.js model.json (a folder with both is read as TF.js, as before).
 */
export function onnxModelFile(target: string): string | undefined {
  if (!existsSync(target)) return undefined;
  if (statSync(target).isDirectory()) {
    const file = path.join(target, ONNX_MODEL_FILE);
    return existsSync(file) && !existsSync(path.join(target, 'model.json')) ? file : undefined;
  }
  return target.toLowerCase().endsWith('.onnx') ? target : undefined;
}

/** The ONNX network of a file, decoded and checked (every operator supported) before anything runs. */
export async function readOnnxNetwork(file: string): Promise<OnnxNetwork> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw new ModelError(`cannot read ${file}: ${(error as Error).message.split('\n')[0]}`);
  }
  const model = decodeOnnxModel(bytes, file);
  await readExternalData(model, file);
  return buildOnnxNetwork(model, file);
}

/**
 * Fills raw_data of every initialiser stored in an external file (`torch.onnx.export` of a model over
 * 2 GB, `onnx.save(..., save_as_external_data=True)`). The location is data from the file, so it goes
 * through confinedPath: only files inside the model's folder are read. A range beyond the end of the
 * file is a clear error; the size matching the tensor's shape is checked by readTensorProto.
 */
async function readExternalData(model: OnnxModelProto, file: string): Promise<void> {
  const folder = path.dirname(path.resolve(file));
  const handles = new Map<string, Awaited<ReturnType<typeof open>>>();
  try {
    for (const tensor of model.graph?.initializer ?? []) {
      const what = `${file}: initializer "${shown(tensor.name)}"`;
      const ref = externalDataOf(tensor, what);
      if (!ref) continue;
      let real: string;
      try {
        real = await confinedPath(folder, ref.location, { what: `external data file of initializer "${shown(tensor.name)}"`, folderName: 'the model\'s folder' });
      } catch (error) {
        // The location is the file's text: control characters in it are escaped, so the message stays one line.
        if (error instanceof ConfinedPathError) throw new ModelError(`${file}: ${shown(error.message, Infinity)}`);
        throw error;
      }
      let handle = handles.get(real);
      if (!handle) {
        handle = await open(real, 'r');
        handles.set(real, handle);
      }
      const size = (await handle.stat()).size;
      const length = ref.length ?? size - ref.offset;
      if (ref.offset + length > size || length < 0) {
        throw new ModelError(`${what}: its external data (bytes ${ref.offset}..${ref.offset + Math.max(length, 0)} of ${ref.location}) runs past the end of the file (${size} bytes): truncated?`);
      }
      const data = new Uint8Array(length);
      const { bytesRead } = await handle.read(data, 0, length, ref.offset);
      if (bytesRead !== length) throw new ModelError(`${what}: read ${bytesRead} of ${length} bytes from ${ref.location}`);
      tensor.rawData = data;
      tensor.dataLocation = 0;
      tensor.externalData = [];
    }
  } finally {
    await Promise.all([...handles.values()].map((h) => h.close()));
  }
}

function inferOnnxManifest(network: OnnxNetwork, file: string, endsInSoftmax: boolean, notes: string[]): ModelManifest {
  const [, h, w, c] = network.inputShape;
  if (h === null || w === null || (c !== 1 && c !== 3)) {
    const shown = `[N,${c ?? '?'},${h ?? '?'},${w ?? '?'}]`;
    throw new ModelError(`${file} takes input ${shown}, not an image of known size with 1 or 3 channels: write a foolprint.json beside it`);
  }
  let k = network.outputSize;
  if (k === undefined) {
    // The graph leaves its output size free: one forward pass on a blank image tells.
    const probe = tf.tidy(() => network.forward(tf.zeros([1, h, w, c])));
    k = probe.size;
    probe.dispose();
  }
  const outputs = endsInSoftmax ? 'probabilities' : 'logits';
  notes.push(
    `no foolprint.json beside ${file}: took input ${h}x${w}x${c} and ${k} outputs from the graph (ONNX opset ${network.opset}, made by ${network.producer}), assumed pixels in [0,1], RGB order, labels "0".."${k - 1}" and ${outputs === 'probabilities' ? 'probabilities (the graph ends in Softmax)' : 'logits'}`,
  );
  return modelManifestSchema.parse({
    schemaVersion: 1,
    name: path.basename(file, path.extname(file)),
    inputSize: [h, w],
    channels: c,
    outputs,
    labels: Array.from({ length: k }, (_, i) => String(i)),
  });
}

export interface OnnxSource {
  file: string;
  folder: string;
  id: string;
  /** foolprint.json beside the file, when there is one. */
  manifest?: ModelManifest;
}

export async function loadOnnxClassifier(source: OnnxSource): Promise<LoadedClassifier> {
  const network = await readOnnxNetwork(source.file);
  const notes: string[] = [];
  try {
    const manifest = source.manifest ?? inferOnnxManifest(network, source.file, network.outputOperator === 'Softmax', notes);
    const classifier = classifierFromModel(network, manifest, source.id);
    // A first forward pass now, so a shape the graph cannot fold fails at load, not at the first attack.
    tf.tidy(() => classifier.logits(tf.zeros([1, manifest.inputSize[0], manifest.inputSize[1], manifest.channels])));
    return Object.assign(classifier, { manifest, folder: source.folder, format: 'onnx' as const, notes });
  } catch (error) {
    network.dispose();
    throw error;
  }
}
