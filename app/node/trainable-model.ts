/** What of a model in the lab can be trained further (fine-tuning), and how to get a fresh copy of it. */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { TrainingInputError } from '../defenses/training.js';
import type { ModelManifest } from '../models/manifest.js';
import { fileSystemLoadHandler, readModelJson } from './model-io.js';
import { MANIFEST_FILE, parseManifest } from './model-loader.js';
import { onnxModelFile } from './onnx-loader.js';

/**
 * A trainable copy of the base model: a TF.js Layers model taking pixels in [0,1] and giving logits.
 * A GraphModel's weights are frozen constants of its graph and an ONNX import is a fixed forward
 * pass: neither can be trained, and each is refused by name.
 */
export async function baseNetwork(base: { id: string; folder: string }): Promise<{ create: () => Promise<tf.LayersModel>; manifest?: ModelManifest }> {
  if (onnxModelFile(base.folder)) throw new TrainingInputError(`model "${base.id}" is an ONNX model: it runs as a fixed forward pass and cannot be trained here; train a fresh architecture, or export it as a TF.js Layers model`);
  const { file, json } = await readModelJson(base.folder);
  const manifestFile = path.join(base.folder, MANIFEST_FILE);
  const manifest = existsSync(manifestFile) ? parseManifest(await readFile(manifestFile, 'utf8'), manifestFile) : undefined;
  const graph = manifest?.format === 'graph' || json.format === 'graph-model' || Array.isArray((json.modelTopology as { node?: unknown } | undefined)?.node);
  if (graph) throw new TrainingInputError(`model "${base.id}" is a TF.js GraphModel: its weights are frozen constants of the graph and cannot be trained; fine-tune a Layers model instead`);
  if (manifest && manifest.preprocessing.kind !== 'unit') throw new TrainingInputError(`model "${base.id}" takes ${manifest.preprocessing.kind} preprocessed pixels: fine-tuning supports models that take pixels in [0,1]`);
  if (manifest && manifest.outputs !== 'logits') throw new TrainingInputError(`model "${base.id}" ends in a softmax: fine-tuning needs a model that outputs logits`);
  return { create: () => tf.loadLayersModel(fileSystemLoadHandler(file)), ...(manifest ? { manifest } : {}) };
}

