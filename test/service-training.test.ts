/**
 * training.* through the service (the same contract every host serves): a small real run on the
 * built-in samples on its own thread, with per-epoch events, ending as a model in models.list with
 * its training record; bad settings refused at the call, cancelling ends the job as cancelled.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, awaitJob, createApiClient } from '../app/api/index.js';
import type { FoolprintApi, TrainingEpochEvent } from '../app/api/index.js';
import { builtinSamplesPath } from '../app/node/dataset-loader.js';
import { createFoolprintService } from '../app/node/service.js';
import type { FoolprintService } from '../app/node/service.js';

describe('training jobs', () => {
  let dir: string;
  let service: FoolprintService;
  let api: FoolprintApi;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'foolprint-training-'));
    service = createFoolprintService({ workspaceDir: path.join(dir, 'workspace'), checkOutputs: true, workers: 1 });
    api = createApiClient(service);
  });

  afterAll(async () => {
    await service?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('trains a distilled MLP on the built-in samples, announces each epoch, and lists the model with how it was made', async () => {
    const epochs: TrainingEpochEvent[] = [];
    const off = api.onTrainingEpoch((e) => epochs.push(e));
    const { jobId, modelId } = await api.training.start({
      name: 'Tiny distilled MLP',
      data: { kind: 'dataset', path: path.dirname(builtinSamplesPath()) },
      params: { method: 'distilled', architecture: 'mlp', epochs: 1, temperature: 10, augment: false, seed: 3, evaluation: { count: 50, epsilon: 0.1, steps: 2 } },
    });
    const result = await awaitJob(api, jobId, 'training');
    off();
    expect(modelId).toBe('tiny-distilled-mlp');
    expect(result.history.map((r) => r.phase)).toEqual(['teacher', 'student']);
    expect(epochs.map((e) => [e.modelId, e.record.phase])).toEqual([[modelId, 'teacher'], [modelId, 'student']]);
    expect(result.model).toMatchObject({ id: modelId, source: 'imported', inputShape: [28, 28, 1], training: { method: 'distilled', temperature: 10, trainCount: 250 } });
    const listed = (await api.models.list()).find((m) => m.id === modelId);
    expect(listed?.training?.method).toBe('distilled');
    const manifest = JSON.parse(await readFile(path.join(result.model.folder, 'foolprint.json'), 'utf8')) as { training: { seed: number } };
    expect(manifest.training.seed).toBe(3);
    // The finished run's checkpoint is gone; the model is usable by every other call.
    expect(existsSync(path.join(dir, 'workspace', 'models', '.training', `${modelId}.ckpt`))).toBe(false);
    const evaluated = await awaitJob(api, (await api.models.evaluate({ modelId, images: { kind: 'samples', limit: 20 } })).jobId, 'evaluate');
    expect(evaluated.count).toBe(20);
    // The id is taken now.
    await expect(api.training.start({ name: 'Tiny distilled MLP', params: { method: 'plain' } })).rejects.toThrow(/already exists/);
  }, 240_000);

  it.each([
    [{ method: 'distilled', temperature: 0 }, /temperature T must be > 0/],
    [{ method: 'adversarial', epsilon: 1.5 }, /epsilon must be in \[0,1\]/],
    [{ method: 'adversarial', epsilon: 0 }, /needs ε > 0/],
  ] as const)('refuses %o at the call', async (params, message) => {
    const call = api.training.start({ name: 'bad', params: params as never });
    await expect(call).rejects.toBeInstanceOf(ApiError);
    await expect(call).rejects.toThrow(message);
  });

  it('a cancelled training job ends as cancelled', async () => {
    const { jobId } = await api.training.start({ name: 'long', data: { kind: 'dataset', path: path.dirname(builtinSamplesPath()) }, params: { method: 'adversarial', architecture: 'mlp', epochs: 500, attack: 'pgd', steps: 5, augment: false } });
    await new Promise<void>((resolve) => {
      const off = api.onProgress((p) => {
        if (p.jobId === jobId && p.done > 0) {
          off();
          resolve();
        }
      });
    });
    await api.jobs.cancel({ jobId });
    await expect(awaitJob(api, jobId, 'training')).rejects.toThrow(/cancel/);
    expect((await api.jobs.get({ jobId })).status).toBe('cancelled');
  }, 120_000);
});
