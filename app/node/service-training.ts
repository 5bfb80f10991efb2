/**
 * The training.* handlers: a training job per call, run on a thread of its own (training-thread.ts),
 * its model saved under the workspace's models/ folder and registered like an imported model, so it
 * is offered wherever a model is chosen. Checkpoints live in models/.training/<id>.ckpt until the
 * run finishes; starting the same id with the same settings resumes from there.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ApiError } from '../api/errors.js';
import type { ModelInfo } from '../api/models.js';
import { TrainingInputError } from '../defenses/training.js';
import type { Handlers, ServiceCore } from './service.js';
import { UPLOADED_MODELS_DIR, modelIdFromName } from './model-upload.js';
import { TrainingError, trainInWorker } from './training-thread.js';
import type { TrainingWorkerData } from './training-worker.js';
import { trainingSettings } from './training-worker.js';
import { checkTrainingSettings } from '../defenses/training.js';

export interface TrainingServiceDeps {
  /** Ids in use (built-in and imported). */
  modelIds(): Promise<string[]>;
  /** The folder of a model of models.list (for fine-tuning). */
  modelFolder(modelId: string): Promise<string>;
  isBuiltin(modelId: string): boolean;
  register(modelId: string, folder: string): Promise<void>;
}

export function createTrainingHandlers(core: ServiceCore, deps: TrainingServiceDeps): Pick<Handlers, 'training.start'> {
  return {
    'training.start': async ({ name, id, data, params }) => {
      const modelId = id ?? modelIdFromName(name);
      if (deps.isBuiltin(modelId)) throw new ApiError('invalid-input', `id: "${modelId}" is a built-in model's id; choose another`);
      const modelsDir = path.join(path.resolve(core.options.workspaceDir), UPLOADED_MODELS_DIR);
      const folder = path.join(modelsDir, modelId);
      if ((await deps.modelIds()).includes(modelId) || existsSync(folder)) {
        throw new ApiError('invalid-input', `id: a model "${modelId}" already exists; choose another name or id`);
      }
      const workerParams = params as TrainingWorkerData['params'];
      // Bad settings fail the call at once, not the job a second later.
      try {
        checkTrainingSettings(trainingSettings(workerParams));
      } catch (error) {
        if (error instanceof TrainingInputError) throw new ApiError('invalid-input', `params: ${error.message}`);
        throw error;
      }
      const base = params.baseModelId ? { id: params.baseModelId, folder: await deps.modelFolder(params.baseModelId) } : undefined;
      const request: TrainingWorkerData = {
        name,
        modelId,
        folder,
        checkpointFile: path.join(modelsDir, '.training', `${modelId}.ckpt`),
        data: data.kind === 'dataset' ? { kind: 'dataset', path: data.path, offset: data.offset, ...(data.limit ? { limit: data.limit } : {}) } : { kind: 'mnist-package' },
        params: workerParams,
        ...(base ? { base } : {}),
        ...(core.options.backend ? { backend: core.options.backend } : {}),
      };
      const job = core.jobs.start('training', `Training ${name} (${params.method})`, async (context) => {
        try {
          const { history, resumedEpochs } = await trainInWorker(request, {
            signal: context.signal,
            onBatch: (done, total) => context.progress(done, total),
            onEpoch: (record) => {
              context.progress(context.signal.aborted ? 0 : record.epoch, record.epochs, `${record.phase === 'model' ? '' : `${record.phase} `}epoch ${record.epoch}/${record.epochs}`);
              core.emit('trainingEpoch', { jobId: context.jobId, modelId, record });
            },
          });
          await deps.register(modelId, folder);
          const model: ModelInfo = await core.modelInfo(modelId);
          return { model, history, resumedEpochs };
        } catch (error) {
          if (error instanceof TrainingError) throw new ApiError('failed', error.message);
          throw error;
        }
      });
      return { jobId: job.jobId, modelId };
    },
  };
}
