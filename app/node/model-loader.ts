/**
 * Opens a model from disk: a built-in one under assets/models/<id>/ or any folder holding a TF.js
 * model.json (layers or graph) + shards, with its foolprint.json manifest beside it. Without a
 * manifest we infer what the model file says (input size and channels, number of outputs) and say
 * what we assumed (preprocessing [0,1], labels "0".."K-1") in `notes`.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Classifier } from '../engine/classifier.js';
import { classifierFromModel } from '../models/classifier.js';
import { ModelError, notJsonReason } from '../models/errors.js';
import { describeManifestIssues, modelManifestSchema, type ModelManifest } from '../models/manifest.js';
import { BUILTIN_MODEL_IDS, type BuiltinModelInfo, type ModelSource } from '../models/source.js';
import { repoRoot } from './repo-root.js';
import { fileSystemLoadHandler, readModelJson, type ModelJson } from './model-io.js';
import { loadOnnxClassifier, ONNX_MODEL_FILE, onnxModelFile } from './onnx-loader.js';

export const MANIFEST_FILE = 'foolprint.json';

/** A classifier plus what was loaded: the manifest in force and what the loader assumed. */
export interface LoadedClassifier extends Classifier {
  readonly manifest: ModelManifest;
  readonly folder: string;
  readonly format: 'layers' | 'graph' | 'onnx';
  readonly notes: readonly string[];
}

export { repoRoot } from './repo-root.js';

export function builtinModelsDir(): string {
  return path.join(repoRoot(), 'assets', 'models');
}

/** Parses and validates a foolprint.json text; errors name the file and the bad field. */
export function parseManifest(text: string, file: string): ModelManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ModelError(`${file} is not JSON: ${notJsonReason(text, error)}`);
  }
  const parsed = modelManifestSchema.safeParse(raw);
  if (!parsed.success) throw new ModelError(`${file}: ${describeManifestIssues(parsed.error, raw)}`);
  return parsed.data;
}

export function listBuiltinModels(): BuiltinModelInfo[] {
  const dir = builtinModelsDir();
  if (!existsSync(dir)) return [];
  const models: BuiltinModelInfo[] = [];
  // The shipped models in BUILTIN_MODEL_IDS order (its first, the digits' LeNet, is the default the
  // UI starts with), then any other folder by name.
  const rank = (id: string) => (BUILTIN_MODEL_IDS.includes(id) ? BUILTIN_MODEL_IDS.indexOf(id) : BUILTIN_MODEL_IDS.length);
  for (const id of readdirSync(dir).sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0))) {
    const folder = path.join(dir, id);
    const file = path.join(folder, MANIFEST_FILE);
    if (!statSync(folder).isDirectory() || !existsSync(file)) continue;
    const manifest = parseManifest(readFileSync(file, 'utf8'), file);
    models.push({
      id,
      name: manifest.name,
      ...(manifest.description ? { description: manifest.description } : {}),
      inputSize: [...manifest.inputSize] as [number, number],
      channels: manifest.channels,
      labels: [...manifest.labels],
      folder,
    });
  }
  return models;
}

function modelFormat(json: ModelJson, manifest: ModelManifest | undefined, file: string): 'layers' | 'graph' {
  if (manifest?.format) return manifest.format;
  if (json.format === 'layers-model') return 'layers';
  if (json.format === 'graph-model') return 'graph';
  const topology = json.modelTopology as Record<string, unknown>;
  if (Array.isArray(topology.node)) return 'graph';
  if (typeof topology.class_name === 'string' || topology.model_config) return 'layers';
  throw new ModelError(`${file}: cannot tell whether this is a layers or a graph model; set "format" in ${MANIFEST_FILE}`);
}

/** Infers a manifest from the model itself when foolprint.json is absent, noting every assumption. */
function inferManifest(model: tf.LayersModel | tf.GraphModel, folder: string, notes: string[]): ModelManifest {
  const inputShape = model.inputs[0]?.shape;
  const outputShape = model.outputs[0]?.shape;
  const known = (d: number | null | undefined) => (d == null || d < 0 ? undefined : d);
  const [h, w, c] = [known(inputShape?.[1]), known(inputShape?.[2]), known(inputShape?.[3])];
  const k = known(outputShape?.[outputShape.length - 1]);
  if (!inputShape || inputShape.length !== 4 || h === undefined || w === undefined || (c !== 1 && c !== 3)) {
    throw new ModelError(`no ${MANIFEST_FILE} in ${folder} and the model does not declare an image input of known [height, width, 1 or 3]: write a ${MANIFEST_FILE}`);
  }
  if (k === undefined) {
    throw new ModelError(`no ${MANIFEST_FILE} in ${folder} and the model does not declare its number of outputs: write a ${MANIFEST_FILE} with its labels`);
  }
  let outputs: 'logits' | 'probabilities' = 'logits';
  if (model instanceof tf.LayersModel) {
    const last = model.layers[model.layers.length - 1]?.getConfig() as { activation?: string } | undefined;
    if (last?.activation === 'softmax') outputs = 'probabilities';
  }
  notes.push(
    `no ${MANIFEST_FILE} in ${folder}: took input ${h}x${w}x${c} and ${k} outputs from the model, assumed pixels in [0,1], RGB order, labels "0".."${k - 1}" and ${outputs === 'probabilities' ? 'probabilities (last layer is softmax)' : 'logits'}`,
  );
  return modelManifestSchema.parse({
    schemaVersion: 1,
    name: path.basename(folder),
    inputSize: [h, w],
    channels: c,
    outputs,
    labels: Array.from({ length: k }, (_, i) => String(i)),
  });
}

function resolveFolder(source: ModelSource): { folder: string; id: string } {
  if (source.kind === 'builtin') {
    const folder = path.join(builtinModelsDir(), source.id);
    if (!/^[\w.-]+$/.test(source.id) || !existsSync(path.join(folder, 'model.json'))) {
      const ids = listBuiltinModels().map((m) => m.id);
      throw new ModelError(`no built-in model "${source.id}" (built-in models: ${ids.length > 0 ? ids.join(', ') : 'none installed'})`);
    }
    return { folder, id: source.id };
  }
  const target = path.resolve(source.path);
  if (!existsSync(target)) throw new ModelError(`model folder not found: ${source.path}`);
  const folder = statSync(target).isDirectory() ? target : path.dirname(target);
  return { folder, id: path.basename(folder) };
}

/**
 * A weight that is NaN or ±Infinity makes every prediction NaN: such a model "loads", scores top-1
 * 0.1 and writes `probability: null` into records that later steps reject. Refused here, naming the
 * tensor, so the damaged file is found at once.
 */
function refuseNonFiniteWeights(model: tf.LayersModel | tf.GraphModel, file: string): void {
  const named: [string, tf.Tensor][] =
    model instanceof tf.LayersModel
      ? model.weights.map((weight) => [weight.originalName, weight.read()])
      : Object.entries(model.weights).flatMap(([name, tensors]) => tensors.map((tensor): [string, tf.Tensor] => [name, tensor]));
  for (const [name, tensor] of named) {
    if (tensor.dtype !== 'float32') continue;
    const values = tensor.dataSync();
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i])) {
        throw new ModelError(`${file}: weight "${name}" holds ${values[i]} at index ${i} of ${values.length}: the weights file is damaged or was saved from a diverged training`);
      }
    }
  }
}

export async function loadClassifier(source: ModelSource): Promise<LoadedClassifier> {
  const { folder, id } = resolveFolder(source);
  const onnxFile = source.kind === 'folder' ? onnxModelFile(path.resolve(source.path)) : undefined;
  if (onnxFile) {
    const manifestFile = path.join(folder, MANIFEST_FILE);
    const manifest = existsSync(manifestFile) ? parseManifest(await readFile(manifestFile, 'utf8'), manifestFile) : undefined;
    // A model folder is named by its folder, a loose .onnx file by its own name.
    const onnxId = path.basename(onnxFile) === ONNX_MODEL_FILE ? id : path.basename(onnxFile, path.extname(onnxFile));
    return loadOnnxClassifier({ file: onnxFile, folder, id: onnxId, ...(manifest ? { manifest } : {}) });
  }
  const { file, json } = await readModelJson(source.kind === 'folder' ? path.resolve(source.path) : folder);
  const manifestFile = path.join(folder, MANIFEST_FILE);
  const manifest = existsSync(manifestFile) ? parseManifest(await readFile(manifestFile, 'utf8'), manifestFile) : undefined;
  const format = modelFormat(json, manifest, file);
  const handler = fileSystemLoadHandler(file);
  let model: tf.LayersModel | tf.GraphModel;
  try {
    model = format === 'layers' ? await tf.loadLayersModel(handler) : await tf.loadGraphModel(handler);
  } catch (error) {
    if (error instanceof ModelError) throw error;
    throw new ModelError(`cannot build the ${format} model in ${file}: ${(error as Error).message.split('\n')[0]}`);
  }
  const notes: string[] = [];
  try {
    refuseNonFiniteWeights(model, file);
    const inForce = manifest ?? inferManifest(model, folder, notes);
    const classifier = classifierFromModel(model, inForce, id);
    return Object.assign(classifier, { manifest: inForce, folder, format, notes });
  } catch (error) {
    model.dispose();
    throw error;
  }
}
