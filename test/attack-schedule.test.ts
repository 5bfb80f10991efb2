/**
 * Issue 8 item 1: BIM and least-likely follow Kurakin et al.'s schedule per ε unless the caller fixes
 * the steps; the schedule the UI previews is the one the attack runs, and the run records it per ε.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awaitJob, createApiClient } from '../app/api/index.js';
import type { FoolprintApi } from '../app/api/index.js';
import { bimSchedule, kurakinSteps, pgdSchedule, reachesBallEdge, stepSchedule } from '../app/attacks/schedule.js';
import { createFoolprintService } from '../app/node/service.js';
import type { FoolprintService } from '../app/node/service.js';
import { listBuiltinModels } from '../app/node/model-loader.js';

describe('step schedules', () => {
  it.each([
    [1, 1], // min(5, 1.25) → 1
    [2, 3], // min(6, 2.5) → 2.5 rounds to 3
    [4, 5],
    [8, 10],
    [16, 20], // min(20, 20)
    [32, 36], // min(36, 40)
    [64, 68],
  ])('Kurakin et al.: ε = %i levels takes %i steps', (levels, steps) => {
    expect(kurakinSteps(levels / 255)).toBe(steps);
    expect(bimSchedule(levels / 255, {})).toEqual({ steps, stepSize: 1 / 255 });
  });

  it('a number the user gives overrides the rule at every ε', () => {
    for (const levels of [2, 8, 16]) expect(bimSchedule(levels / 255, { steps: 10 }).steps).toBe(10);
    expect(stepSchedule('ll', 16 / 255, {})).toEqual(bimSchedule(16 / 255, {}));
    expect(stepSchedule('fgsm', 0.1, { steps: 7 })).toEqual({ steps: 1, stepSize: 0.1 });
    expect(stepSchedule('deepfool', 0.1, {})).toBeUndefined();
  });

  it('PGD keeps its own default: 40 steps of 2.5·ε/40', () => {
    expect(pgdSchedule(0.1, {})).toEqual({ steps: 40, stepSize: 0.1 * 2.5 / 40 });
    expect(stepSchedule('pgd', 0.1, { steps: 10 })).toEqual({ steps: 10, stepSize: 0.025 });
  });

  it('knows when steps × step size cannot reach the edge of the ε-ball', () => {
    // The case: 10 steps of 1 level at ε = 16 reach 10 levels only.
    expect(reachesBallEdge(16 / 255, bimSchedule(16 / 255, { steps: 10 }))).toBe(false);
    expect(reachesBallEdge(8 / 255, bimSchedule(8 / 255, { steps: 10 }))).toBe(true);
    // The paper's rule always reaches it, whatever ε (also in [0,1] units, e.g. 0.1 = 25.5 levels).
    for (let levels = 0; levels <= 255; levels += 0.5) expect(reachesBallEdge(levels / 255, bimSchedule(levels / 255, {}))).toBe(true);
  });
});

const hasBuiltin = listBuiltinModels().some((m) => m.id === 'lenet-mnist');

describe.skipIf(!hasBuiltin)('the attack service runs and records the per-ε schedule', () => {
  let dir: string;
  let service: FoolprintService;
  let api: FoolprintApi;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'foolprint-schedule-'));
    service = createFoolprintService({ workspaceDir: path.join(dir, 'workspace'), workers: 1 });
    api = createApiClient(service);
  });

  afterAll(async () => {
    await service?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('BIM without steps: 3, 10 and 20 steps at ε 2, 8, 16 levels, and the images reach the ε-ball edge', async () => {
    const experiment = await api.experiments.create({ name: 'schedule' });
    const { jobId } = await api.attacks.start({ experimentId: experiment.id, modelId: 'lenet-mnist', images: { kind: 'samples', limit: 4 }, params: { method: 'bim', epsilons: [2, 8, 16].map((l) => l / 255) } });
    // The host's job list says which experiment the job works in, and names the model, not its id.
    const listed = (await api.jobs.list()).find((j) => j.jobId === jobId);
    expect(listed).toMatchObject({ kind: 'attack', experimentId: experiment.id, label: 'BIM on LeNet (seed) on MNIST' });
    const run = await awaitJob(api, jobId, 'attack');
    expect(run.perEpsilon.map((e) => e.steps)).toEqual([3, 10, 20]);
    expect(run.perEpsilon.map((e) => e.stepSize)).toEqual([1 / 255, 1 / 255, 1 / 255]);
    // At ε = 16 levels the mean L∞ reaches 16 levels (it was 10 with the UI's fixed 10 steps).
    expect(run.perEpsilon[2].quantized.meanLinf * 255).toBeCloseTo(16, 3);
    const [stored] = await api.attacks.list({ experimentId: experiment.id });
    expect(stored.perEpsilon.map((e) => e.steps)).toEqual([3, 10, 20]);
    // The gallery says how much the amplified perturbation magnifies: ±ε spans the grey range, 1/(2ε).
    const page = await api.attacks.gallery({ experimentId: experiment.id, runId: run.runId, limit: 1 });
    expect(page.items[0].adversarial.map((a) => Number(a.amplification.toFixed(4)))).toEqual([255 / 4, 255 / 16, 255 / 32].map((f) => Number(f.toFixed(4))));
  });
});
