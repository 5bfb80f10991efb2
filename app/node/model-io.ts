/**
 * TF.js IOHandlers for a model folder on disk (model.json + weight shards). Plain @tensorflow/tfjs
 * has no `file://` scheme (that comes with tfjs-node, which cannot be installed offline), so we read
 * and write the TF.js "model.json" format ourselves and check it on the way in: every failure is a
 * `ModelError` with one line naming the file and what was expected.
 */
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ModelError, notJsonReason } from '../models/errors.js';
import { ConfinedPathError, confinedPath } from './confined-path.js';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_FILE = 'weights.bin';

/** model.json as TF.js writes it (layers or graph). */
export type ModelJson = tf.io.ModelJSON;

/** Where model.json is: `target` may be the folder or the model.json file itself. */
export function modelJsonPath(target: string): string {
  if (!existsSync(target)) throw new ModelError(`model folder not found: ${target}`);
  if (statSync(target).isDirectory()) {
    const file = path.join(target, MODEL_JSON);
    if (!existsSync(file)) throw new ModelError(`no ${MODEL_JSON} in ${target}`);
    return file;
  }
  return target;
}

/** Reads and checks model.json: valid JSON, and a TF.js model (modelTopology + weightsManifest). */
export async function readModelJson(target: string): Promise<{ file: string; json: ModelJson }> {
  const file = modelJsonPath(target);
  const text = await readFile(file, 'utf8').catch((error: unknown) => {
    throw new ModelError(`cannot read ${file}: ${(error as Error).message}`);
  });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ModelError(`${file} is not JSON: ${notJsonReason(text, error)}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ModelError(`${file} is not a TF.js model: expected an object with modelTopology and weightsManifest`);
  }
  const json = parsed as Partial<ModelJson>;
  const missing = (['modelTopology', 'weightsManifest'] as const).filter((key) => json[key] == null);
  if (missing.length > 0) {
    throw new ModelError(`${file} is not a TF.js model: no ${missing.join(' or ')}`);
  }
  if (!Array.isArray(json.weightsManifest)) {
    throw new ModelError(`${file} is not a TF.js model: weightsManifest is not a list`);
  }
  for (const [g, group] of json.weightsManifest.entries()) {
    if (!group || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      throw new ModelError(`${file} is not a TF.js model: weightsManifest[${g}] lacks paths or weights`);
    }
  }
  return { file, json: json as ModelJson };
}

/** Bytes per element of each dtype a shard can hold (tfjs-core's DTYPE_VALUE_SIZE_MAP is not exported). */
const STORED_DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2, complex64: 8 };

/** Bytes a weight occupies in its shard (quantized weights are stored in their quantized dtype). */
function storedBytes(entry: tf.io.WeightsManifestEntry): number | undefined {
  const dtype = entry.quantization?.dtype ?? entry.dtype;
  if (dtype === 'string') return undefined; // variable length: cannot be checked from the manifest
  const size = STORED_DTYPE_BYTES[dtype];
  if (size === undefined) return undefined;
  return entry.shape.reduce((a, b) => a * b, 1) * size;
}

/**
 * Reads every shard of every weight group, checking that each group's shards add up to what its
 * weights need (a truncated download or a shard from another model is caught here, not as NaNs).
 */
async function readWeights(folder: string, manifest: tf.io.WeightsManifestConfig): Promise<[tf.io.WeightsManifestEntry[], ArrayBuffer]> {
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: ArrayBuffer[] = [];
  for (const group of manifest) {
    const groupBuffers: Buffer[] = [];
    for (const shard of group.paths) {
      let file: string;
      try {
        file = await confinedPath(folder, shard, { what: 'weights file', folderName: 'the model folder' });
      } catch (error) {
        if (!(error instanceof ConfinedPathError)) throw error;
        if (error.reason === 'missing') throw new ModelError(`weights file ${shard} is missing (model.json lists it, looked in ${folder})`);
        // A download cache (Hugging Face, git-annex) links weights to blobs elsewhere: say how to keep them.
        const linked = error.message.includes('symbolic link') ? '; copy the folder with its links resolved (cp -rL) to use it' : '';
        throw new ModelError(`${error.message} (model.json lists it; weights must sit in ${folder}${linked})`);
      }
      groupBuffers.push(await readFile(file));
    }
    const sizes = group.weights.map(storedBytes);
    if (sizes.every((s) => s !== undefined)) {
      const expected = (sizes as number[]).reduce((a, b) => a + b, 0);
      const actual = groupBuffers.reduce((a, b) => a + b.byteLength, 0);
      if (actual !== expected) {
        const names = group.paths.join(', ');
        const verb = group.paths.length === 1 ? `weights file ${names} is` : `weights files ${names} total`;
        throw new ModelError(`${verb} ${actual} bytes, the manifest expects ${expected}`);
      }
    }
    specs.push(...group.weights);
    for (const b of groupBuffers) buffers.push(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
  }
  return [specs, tf.io.concatenateArrayBuffers(buffers)];
}

/** A load handler for `tf.loadLayersModel` / `tf.loadGraphModel`: `target` is a folder or its model.json. */
export function fileSystemLoadHandler(target: string): tf.io.IOHandler {
  return {
    load: async () => {
      const { file, json } = await readModelJson(target);
      const folder = path.dirname(file);
      return tf.io.getModelArtifactsForJSON(json, (manifest) => readWeights(folder, manifest));
    },
  };
}

/** A save handler for `model.save(...)`: writes `folder/model.json` and one `folder/weights.bin`. */
export function fileSystemSaveHandler(folder: string): tf.io.IOHandler {
  return {
    save: async (artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> => {
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new ModelError('cannot save a model whose topology is a binary protobuf; save it as JSON');
      }
      await mkdir(folder, { recursive: true });
      const weightData = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.concatenateArrayBuffers(artifacts.weightData as ArrayBuffer | ArrayBuffer[]);
      const manifest: tf.io.WeightsManifestConfig = [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs ?? [] }];
      const json: ModelJson = {
        modelTopology: artifacts.modelTopology ?? {},
        weightsManifest: manifest,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
        ...(artifacts.signature ? { signature: artifacts.signature } : {}),
        ...(artifacts.userDefinedMetadata ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
        ...(artifacts.modelInitializer ? { modelInitializer: artifacts.modelInitializer } : {}),
      };
      await writeFile(path.join(folder, WEIGHTS_FILE), Buffer.from(weightData));
      await writeFile(path.join(folder, MODEL_JSON), JSON.stringify(json));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
  };
}

/** Saves a LayersModel to `folder` (model.json + weights.bin). */
export async function saveLayersModel(model: tf.LayersModel, folder: string): Promise<void> {
  await model.save(fileSystemSaveHandler(folder));
}
