import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awaitJob, createApiClient } from '../app/api/index.js';
import { createFoolprintService } from '../app/node/service.js';
import type { FoolprintService } from '../app/node/service.js';
import { mnistAvailable, mnistDir, prepareFixture, runContractLoop } from './service-loop.js';
import type { LoopFixture } from './service-loop.js';

if (!mnistAvailable) console.warn(`service contract test skipped: MNIST test files not found in ${mnistDir}`);

describe.skipIf(!mnistAvailable)('the API contract against the service in-process', () => {
  let dir: string;
  let service: FoolprintService;
  let fixture: LoopFixture;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'foolprint-service-'));
    fixture = await prepareFixture(dir);
    service = createFoolprintService({ workspaceDir: path.join(dir, 'workspace'), checkOutputs: true, workers: 1 });
  }, 60_000);

  afterAll(async () => {
    await service?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs the whole loop: model, attack with progress and cancel, gallery, sheet, photo analysis, compare', async () => {
    const figures = await runContractLoop(createApiClient(service), fixture, path.join(dir, 'photos'));
    console.log('service loop figures', JSON.stringify(figures));
    expect(figures.analysedCells).toBe(figures.cellCount);
  }, 90_000);

  it('leaves no tensors behind in the workers after a job, a cancelled job and a failed one', async () => {
    const api = createApiClient(service);
    const modelId = fixture.modelFolder ? 'softmax-test' : 'lenet-mnist';
    const before = await service.memory();
    expect(Object.keys(before)).toContain(modelId);
    expect(Object.keys(before)).toContain(`${modelId} (live)`);
    const experiment = await api.experiments.create({ name: 'leaks' });
    const images = { kind: 'files' as const, files: fixture.files };
    const ok = await api.attacks.start({ experimentId: experiment.id, modelId, images, params: { method: 'pgd', epsilons: [0.1], steps: 5, seed: 1 } });
    await awaitJob(api, ok.jobId, 'attack');
    const long = await api.attacks.start({ experimentId: experiment.id, modelId, images, params: { method: 'bim', epsilons: [0.2], steps: 10000, stepSize: 0.001 } });
    await new Promise((resolve) => setTimeout(resolve, 200));
    // The live view is not queued behind the running attack: crops are answered on the live pool.
    const started = performance.now();
    const crops = await api.capture.classifyCrops({ modelId, crops: Buffer.alloc(2 * 784).toString('base64'), dtype: 'uint8', count: 2, height: 28, width: 28, channels: 1 });
    const liveMs = performance.now() - started;
    expect(crops.top5).toHaveLength(2);
    expect((await api.jobs.get({ jobId: long.jobId })).status).toBe('running');
    console.log(`classifyCrops during an attack: ${liveMs.toFixed(1)} ms`);
    await api.jobs.cancel({ jobId: long.jobId });
    await expect(awaitJob(api, long.jobId, 'attack')).rejects.toMatchObject({ code: 'cancelled' });
    // Label 42 of a 10-class model: the attack itself refuses it, inside the worker.
    const wrongLabels = { kind: 'files' as const, files: fixture.files.map((f) => ({ ...f, label: 42 })) };
    const bad = await api.attacks.start({ experimentId: experiment.id, modelId, images: wrongLabels, params: { method: 'fgsm', epsilons: [0.1] } });
    await expect(awaitJob(api, bad.jobId, 'attack')).rejects.toMatchObject({ code: 'failed', message: expect.stringMatching(/label/) });
    expect(await service.memory()).toEqual(before);
  }, 60_000);
});
