/**
 * Opens the models a defense evaluation compares: a model (built-in or folder) with, optionally,
 * an input transformation in front of it, and for the SafetyNet detector a probe of a late ReLU
 * layer. A transform defense is the base model's classifier wrapped twice (input-transforms.ts):
 * the zero-gradient view attacks see naively, and the straight-through (BPDA) one.
 */
import * as tf from '@tensorflow/tfjs';
import { activationProbe } from '../defenses/activation-probe.js';
import { transformTitle, transformedClassifier } from '../defenses/input-transforms.js';
import type { InputTransform } from '../defenses/input-transforms.js';
import type { ModelUnderTest } from '../defenses/robustness.js';
import type { ActivationProbe } from '../defenses/safetynet.js';
import { DetectorError } from '../defenses/safetynet.js';
import { applyPreprocessing } from '../models/classifier.js';
import type { ModelSource } from '../models/source.js';
import { loadClassifier } from './model-loader.js';
import type { LoadedClassifier } from './model-loader.js';
import { fileSystemLoadHandler, readModelJson } from './model-io.js';

export interface DefendedModelSpec {
  /** The id reports use for the base model (the API's model id, or the CLI's --model text). */
  id: string;
  source: ModelSource;
  transform?: InputTransform;
}

export interface OpenedModels {
  models: ModelUnderTest[];
  /** The base classifiers by id (the first is the transfer surrogate unless told otherwise). */
  bases: Map<string, LoadedClassifier>;
  dispose(): void;
}

/** Loads each base model once, however many transforms are put in front of it. */
export async function openDefendedModels(specs: readonly DefendedModelSpec[]): Promise<OpenedModels> {
  const bases = new Map<string, LoadedClassifier>();
  try {
    for (const spec of specs) if (!bases.has(spec.id)) bases.set(spec.id, await loadClassifier(spec.source));
  } catch (error) {
    for (const b of bases.values()) b.dispose();
    throw error;
  }
  const models: ModelUnderTest[] = specs.map((spec) => {
    const base = bases.get(spec.id)!;
    const title = base.manifest.name;
    if (!spec.transform) return { id: spec.id, title, classifier: base };
    const naive = transformedClassifier(base, spec.transform, 'none');
    return {
      id: `${spec.id}+${naive.id.slice(base.id.length + 1)}`,
      title: `${title} + ${transformTitle(spec.transform)}`,
      classifier: naive,
      bpda: transformedClassifier(base, spec.transform, 'bpda'),
    };
  });
  return { models, bases, dispose: () => bases.forEach((b) => b.dispose()) };
}

/** A probe of `layer` (default: the last ReLU layer before the output) of a TF.js Layers model. */
export async function openActivationProbe(model: LoadedClassifier, layer?: string): Promise<ActivationProbe & { dispose(): void }> {
  if (model.format !== 'layers') throw new DetectorError(`the SafetyNet detector reads a hidden layer, which needs a TF.js Layers model; "${model.id}" is a ${model.format} model`);
  const { file } = await readModelJson(model.folder);
  const layers = await tf.loadLayersModel(fileSystemLoadHandler(file));
  const [h, w, c] = model.inputShape;
  const declared = layers.inputs[0]?.shape[3];
  if (declared != null && declared !== c) {
    layers.dispose();
    throw new DetectorError(`model "${model.id}" takes ${declared} channels, its manifest says ${c}: the detector does not bridge channels`);
  }
  try {
    const probe = activationProbe(layers, (x) => applyPreprocessing(x, model.manifest.preprocessing), [h, w, c], layer);
    return { ...probe, activations: probe.activations.bind(probe), dispose: () => layers.dispose() };
  } catch (error) {
    layers.dispose();
    throw error;
  }
}
