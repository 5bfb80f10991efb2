import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, awaitJob, createApiClient } from '../app/api/index.js';
import type { FoolprintApi } from '../app/api/index.js';
import { createFoolprintService } from '../app/node/service.js';
import type { FoolprintService } from '../app/node/service.js';
import { listBuiltinModels } from '../app/node/model-loader.js';
import { renderSheets } from '../app/node/sheet-render.js';
import { simulatePhoto } from '../app/physical/simulate.js';
import sharp from 'sharp';
import { mnistAvailable, mnistDir } from './physical-fixture.js';

const hasBuiltin = listBuiltinModels().some((m) => m.id === 'lenet-mnist');
if (!hasBuiltin) console.warn('service feature tests skipped: the built-in model lenet-mnist is not in assets/models');

describe.skipIf(!hasBuiltin)('service features on the built-in model and samples', () => {
  let dir: string;
  let service: FoolprintService;
  let api: FoolprintApi;
  const events: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'foolprint-features-'));
    service = createFoolprintService({ workspaceDir: path.join(dir, 'workspace'), checkOutputs: true, workers: 1 });
    service.subscribe('jobFinished', (e) => events.push((e as { status: string }).status));
    api = createApiClient(service);
  });

  afterAll(async () => {
    await service?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists the built-in model with its input shape, and the backend once a pool is open', async () => {
    const [model] = (await api.models.list()).filter((m) => m.id === 'lenet-mnist');
    expect(model).toMatchObject({ source: 'builtin', inputShape: [28, 28, 1], labels: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], backend: null });
    expect((await api.system.info()).backend).toBeNull();
  });

  it('previews the built-in samples page by page', async () => {
    const page = await api.samples.list({ modelId: 'lenet-mnist', images: { kind: 'samples' }, offset: 10, limit: 5 });
    expect(page.count).toBe(300);
    expect(page.items.map((i) => i.index)).toEqual([10, 11, 12, 13, 14]);
    expect(page.items[0].png).toMatch(/^data:image\/png;base64,/);
    const limited = await api.samples.list({ modelId: 'lenet-mnist', images: { kind: 'samples', offset: 290 }, limit: 48 });
    expect(limited.count).toBe(10);
  });

  it('gives each built-in model its own built-in samples, their labels named by the model\'s class names', async () => {
    const digits = await api.samples.list({ modelId: 'lenet-mnist', images: { kind: 'samples' }, limit: 10 });
    expect(digits.classNames).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    const garments = await api.samples.list({ modelId: 'cnn-fashion-mnist', images: { kind: 'samples' }, limit: 10 });
    expect(garments.count).toBe(300);
    expect(garments.items.map((i) => garments.classNames?.[i.label])).toEqual(['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']);
    expect(garments.items.map((i) => i.png)).not.toEqual(digits.items.map((i) => i.png));
    const { jobId } = await api.models.evaluate({ modelId: 'cnn-fashion-mnist', images: { kind: 'samples' } });
    const evaluation = await awaitJob(api, jobId, 'evaluate');
    expect(evaluation.count).toBe(300);
    expect(evaluation.top1).toBeGreaterThanOrEqual(0.9);
  });

  it('evaluates clean accuracy as a job (the model reaches ≥ 0.95 on 100 samples)', async () => {
    const { jobId } = await api.models.evaluate({ modelId: 'lenet-mnist', images: { kind: 'samples', limit: 100 } });
    const evaluation = await awaitJob(api, jobId, 'evaluate');
    expect(evaluation.count).toBe(100);
    expect(evaluation.top1).toBeGreaterThanOrEqual(0.95);
    expect(evaluation.top5).toBeGreaterThanOrEqual(evaluation.top1);
    expect((await api.system.info()).backend).toMatch(/^(wasm|cpu|tensorflow)$/);
  });

  it('sweeps FGSM over ε: accuracy falls strictly from ε = 0 to 0.3, and the sweep is kept in the experiment', async () => {
    const experiment = await api.experiments.create({ name: 'sweep', modelId: 'lenet-mnist' });
    const { jobId } = await api.sweeps.start({ experimentId: experiment.id, modelId: 'lenet-mnist', images: { kind: 'samples', limit: 40 }, params: { method: 'fgsm', epsilons: [0, 0.1, 0.2, 0.3] } });
    const sweep = await awaitJob(api, jobId, 'sweep');
    const accuracy = sweep.perEpsilon.map((e) => e.float.accuracy);
    expect(accuracy[0]).toBe(sweep.cleanAccuracy);
    for (let i = 1; i < accuracy.length; i++) expect(accuracy[i]).toBeLessThan(accuracy[i - 1]);
    // ‖δ‖∞ ≤ ε; below ε on average only where clipping to [0,1] stops the step (black MNIST background).
    expect(sweep.perEpsilon[3].float.meanLinf).toBeLessThanOrEqual(0.3 + 1e-6);
    expect(sweep.perEpsilon[3].float.meanLinf).toBeGreaterThan(sweep.perEpsilon[2].float.meanLinf);
    expect(sweep.perEpsilon[0].float.meanLinf).toBe(0);
    const stored = (await readdir(path.join(experiment.folder, 'results'))).filter((f) => f.startsWith('sweep-'));
    expect(stored).toHaveLength(1);
    expect(JSON.parse(await readFile(path.join(experiment.folder, 'results', stored[0]), 'utf8'))).toEqual(sweep);
  });

  it.skipIf(!mnistAvailable)('reads a dataset path (the MNIST test IDX files) with offset and limit', async () => {
    const page = await api.samples.list({ modelId: 'lenet-mnist', images: { kind: 'dataset', path: path.join(mnistDir, 't10k-images-idx3-ubyte.gz'), offset: 2, limit: 3 } });
    expect(page.count).toBe(3);
    // The first MNIST test labels are 7, 2, 1, 0, 4.
    expect(page.items.map((i) => i.label)).toEqual([1, 0, 4]);
  });

  it('reports bad models, bad uploads and unknown ids clearly', async () => {
    const corrupt = path.join(dir, 'corrupt-model');
    await mkdir(corrupt, { recursive: true });
    await writeFile(path.join(corrupt, 'model.json'), '{"this is": "not a model"');
    await expect(api.models.import({ path: corrupt })).rejects.toMatchObject({ code: 'invalid-input', message: expect.stringMatching(/model\.json|JSON/) });
    await expect(api.models.list()).resolves.not.toContainEqual(expect.objectContaining({ id: 'corrupt-model' }));
    const experiment = await api.experiments.create({ name: 'errors' });
    const upload = { kind: 'files' as const, files: [{ name: 'broken.png', mimeType: 'image/png', base64: Buffer.from('not a png').toString('base64'), label: 1 }] };
    const { jobId } = await api.attacks.start({ experimentId: experiment.id, modelId: 'lenet-mnist', images: upload, params: { method: 'fgsm', epsilons: [0.1] } });
    const failure = await awaitJob(api, jobId, 'attack').catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ApiError);
    expect((failure as ApiError).message).toMatch(/^cannot decode uploaded image "broken.png"/);
    expect((await api.jobs.get({ jobId })).status).toBe('failed');
    // The failed run is recorded, the experiment is usable again.
    expect(await api.experiments.get({ experimentId: experiment.id })).toMatchObject({ state: 'ready' });
    await expect(api.attacks.start({ experimentId: experiment.id, modelId: 'no-model', images: upload, params: { method: 'fgsm', epsilons: [0.1] } })).rejects.toMatchObject({ code: 'not-found' });
    await expect(api.attacks.start({ experimentId: experiment.id, modelId: 'lenet-mnist', images: { kind: 'samples', limit: 2 }, params: { method: 'll', epsilons: [0.1], targetClass: 3 } })).resolves.toHaveProperty('jobId');
    await expect(api.jobs.get({ jobId: 'job-missing' })).rejects.toMatchObject({ code: 'not-found' });
    await expect(api.capture.analyzePhoto({ experimentId: experiment.id, photo: { name: 'x.jpg', mimeType: 'image/jpeg', base64: '' } })).rejects.toMatchObject({ code: 'invalid-input', message: expect.stringContaining('no exported sheets') });
    await expect(api.capture.classifyCrops({ modelId: 'lenet-mnist', crops: Buffer.alloc(4 * 32 * 32).toString('base64'), count: 1, height: 32, width: 32, channels: 1 })).rejects.toMatchObject({ message: 'crops are 32x32x1 but model "lenet-mnist" takes 28x28x1' });
    await expect(api.capture.classifyCrops({ modelId: 'lenet-mnist', crops: Buffer.alloc(10).toString('base64'), count: 1, height: 28, width: 28, channels: 1 })).rejects.toMatchObject({ code: 'invalid-input' });
    expect(events).toContain('failed');
  });

  it('answers classifyCrops directly for uint8 crops, fast enough for a live view', async () => {
    const crops = Buffer.alloc(24 * 784);
    const started = performance.now();
    const answer = await api.capture.classifyCrops({ modelId: 'lenet-mnist', crops: crops.toString('base64'), dtype: 'uint8', count: 24, height: 28, width: 28, channels: 1 });
    const ms = performance.now() - started;
    console.log(`classifyCrops 24 uint8 crops: ${ms.toFixed(1)} ms round trip`);
    expect(answer.top5).toHaveLength(24);
    expect(answer.top5[0]).toHaveLength(5);
    // Blank crops are all one image: one answer for all.
    expect(new Set(answer.top5.map((t) => t[0].label)).size).toBe(1);
  });

  it('capture.analyzePhoto scores a photo only against the sheet set it shows', async () => {
    const experiment = await api.experiments.create({ name: 'two sets', modelId: 'lenet-mnist' });
    const attack = await api.attacks.start({ experimentId: experiment.id, modelId: 'lenet-mnist', images: { kind: 'samples', limit: 2 }, params: { method: 'fgsm', epsilons: [0.1] } });
    const run = await awaitJob(api, attack.jobId, 'attack');
    const exportSet = async () => awaitJob(api, (await api.sheets.export({ experimentId: experiment.id, runId: run.runId, dpi: 100 })).jobId, 'sheetExport');
    // Two sets of one run: both start at sheet 0 (corner ids 0-3); their identities tell them apart.
    const first = await exportSet();
    const second = await exportSet();
    const manifests = await api.capture.manifests({ experimentId: experiment.id });
    expect(manifests.map((m) => m.sheetNumber)).toEqual([0, 0]);
    expect(manifests[0].identity).not.toBe(manifests[1].identity);
    const identityOf = (sheetId: string) => manifests.find((m) => m.sheetId === sheetId)!.identity;

    const photoOf = async (png: Buffer, seed: number) => {
      const raw = await sharp(png).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
      const photo = simulatePhoto({ data: new Uint8ClampedArray(raw.data.buffer, raw.data.byteOffset, raw.data.length), width: raw.info.width, height: raw.info.height }, { blurSigma: 0.8, noiseSigma: 0.01, jpegQuality: 0 }, seed).image;
      return (await sharp(Buffer.from(photo.data.buffer, photo.data.byteOffset, photo.data.length), { raw: { width: photo.width, height: photo.height, channels: 4 } }).jpeg({ quality: 90 }).toBuffer()).toString('base64');
    };
    const analyse = async (base64: string) => awaitJob(api, (await api.capture.analyzePhoto({ experimentId: experiment.id, photo: { name: 'photo.jpg', mimeType: 'image/jpeg', base64 } })).jobId, 'photoAnalysis');
    for (const [k, set] of [first, second].entries()) {
      const png = Buffer.from((await api.sheets.file({ experimentId: experiment.id, sheetSetId: set.sheetSetId, file: 'png' })).base64, 'base64');
      expect(await analyse(await photoOf(png, 20 + k))).toMatchObject({ status: 'ok', sheetId: set.sheetIds[0], cellCount: 4 });
    }

    // A sheet 0 of another set (printed elsewhere): refused, naming the set seen and the sets expected.
    const foreign = await renderSheets({ images: new Float32Array(784), shape: [1, 28, 28, 1], records: [{ kind: 'clean', imageId: 'x', sourceIndex: 0 }], options: { experiment: 'elsewhere', dpi: 100 } }, path.join(dir, 'foreign-sheet'));
    const capture = await analyse(await photoOf(await readFile(foreign.pngPaths[0]), 22));
    expect(capture).toMatchObject({ status: 'unknown-sheet', sheetId: null, analysedCells: 0 });
    expect(capture.message).toContain(`the photo shows sheet 0 of set ${foreign.manifests[0].identity}, which no given manifest describes`);
    for (const set of [first, second]) expect(capture.message).toContain(`set ${identityOf(set.sheetIds[0])} (${set.sheetIds[0]})`);
  });
});
