/**
 * The defenses.* API on the service (the same contract the app and the browser mode use): jobs on
 * a worker thread, results stored in the workspace and listed again, bad inputs refused with the
 * field named, cancel ends the job as cancelled.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awaitJob, createApiClient } from '../app/api/index.js';
import type { FoolprintApi } from '../app/api/index.js';
import { createFoolprintService } from '../app/node/service.js';
import type { FoolprintService } from '../app/node/service.js';

describe('defenses API', () => {
  let dir: string;
  let service: FoolprintService;
  let api: FoolprintApi;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'foolprint-defenses-'));
    service = createFoolprintService({ workspaceDir: path.join(dir, 'workspace'), checkOutputs: true, workers: 1 });
    api = createApiClient(service);
  });

  afterAll(async () => {
    await service?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('robustness: a job whose report is stored and listed, with the masking flag on the squeezed model', async () => {
    const progress: number[] = [];
    const off = api.onProgress((p) => progress.push(p.done));
    const { jobId } = await api.defenses.robustness({
      images: { kind: 'samples', limit: 24 },
      params: { models: [{ modelId: 'lenet-mnist' }, { modelId: 'lenet-mnist', transform: { kind: 'bitDepth', bits: 1 } }], attacks: ['fgsm'], epsilons: [0, 0.3] },
    });
    const report = await awaitJob(api, jobId, 'robustness');
    off();
    expect(progress.length).toBeGreaterThan(1);
    expect(report.count).toBe(24);
    expect(report.models.map((m) => [m.id, m.masking.suspected])).toEqual([['lenet-mnist', false], ['lenet-mnist+bits1', true]]);
    const listed = await api.defenses.list();
    expect(listed.robustness.map((r) => r.reportId)).toEqual([report.reportId]);
  });

  it('detect: the detector is saved into the workspace with its manifest', async () => {
    const { jobId } = await api.defenses.detect({ images: { kind: 'samples', limit: 80 }, params: { modelId: 'lenet-mnist', epsilon: 0.25 } });
    const info = await awaitJob(api, jobId, 'detector');
    expect(info.folder.startsWith(path.join(dir, 'workspace', 'detectors'))).toBe(true);
    expect(info.evaluations[0].auc).toBeGreaterThan(0.7);
    expect((await api.defenses.list()).detectors.map((d) => d.detectorId)).toEqual([info.detectorId]);
  });

  it('samples.datasets: the workspace\'s datasets/ entries by name and path, none before the folder exists', async () => {
    expect((await api.samples.datasets()).datasets).toEqual([]);
    const folder = path.join(dir, 'workspace', 'datasets');
    await mkdir(path.join(folder, 'mnist-test'), { recursive: true });
    await writeFile(path.join(folder, 'digits-idx3-ubyte'), '');
    await writeFile(path.join(folder, '.DS_Store'), '');
    const listed = await api.samples.datasets();
    expect(listed.folder).toBe(folder);
    expect(listed.datasets).toEqual([{ name: 'digits-idx3-ubyte', path: path.join(folder, 'digits-idx3-ubyte') }, { name: 'mnist-test', path: path.join(folder, 'mnist-test') }]);
  });

  it('refuses bad inputs naming the field, and an unknown model', async () => {
    await expect(api.defenses.transfer({ images: { kind: 'samples', limit: 8 }, params: { models: [{ modelId: 'lenet-mnist' }, { modelId: 'lenet-mnist' }], attack: 'fgsm', epsilon: 1.5 } })).rejects.toThrow(/epsilon must be at most 1/i);
    await expect(api.defenses.robustness({ images: { kind: 'samples' }, params: { models: [], attacks: ['fgsm'], epsilons: [0.1] } })).rejects.toThrow(/models needs at least 1/i);
    await expect(api.defenses.detect({ images: { kind: 'samples' }, params: { modelId: 'lenet-mnist', epsilon: 0.1, quantisation: 'ternary' as 'binary' } })).rejects.toThrow(/quantisation/i);
    await expect(api.defenses.robustness({ images: { kind: 'samples' }, params: { models: [{ modelId: 'no-such-model' }], attacks: ['fgsm'], epsilons: [0.1] } })).rejects.toThrow(/no model "no-such-model"/);
  });

  it('cancel ends a transfer job as cancelled', async () => {
    const { jobId } = await api.defenses.transfer({ images: { kind: 'samples', limit: 200 }, params: { models: [{ modelId: 'lenet-mnist' }, { modelId: 'lenet-mnist', transform: { kind: 'median', size: 2 } }], attack: 'pgd', epsilon: 0.3, pgdSteps: 100 } });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await api.jobs.cancel({ jobId });
    await expect(awaitJob(api, jobId, 'transfer')).rejects.toThrow(/cancelled/);
  });
});
