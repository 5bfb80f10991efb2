/**
 * A protected model: the built-in LeNet behind a real SafetyNet detector trained on a few FGSM
 * examples. Chosen wherever a model is chosen (attack, sweep, photo analysis, Compare), it rejects
 * what the detector flags and the reports count rejections apart: more adversarial than clean
 * images are rejected, and accepted-right + accepted-wrong + rejected is always the total.
 */
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awaitJob, createApiClient } from '../app/api/index.js';
import type { FoolprintApi } from '../app/api/index.js';
import { defenseWorkerThreads } from '../app/node/defense-jobs.js';
import { createFoolprintService } from '../app/node/service.js';
import type { FoolprintService } from '../app/node/service.js';
import { simulatePhoto } from '../app/physical/simulate.js';
import { foolprint, root } from './cli-harness.js';

const total = (c: { correct: number; wrong: number; rejected: number }) => c.correct + c.wrong + c.rejected;

describe('a protected model (LeNet behind a SafetyNet detector)', () => {
  let dir: string;
  let service: FoolprintService;
  let api: FoolprintApi;
  let detectorId: string;
  let detectorFolder: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'foolprint-protected-'));
    service = createFoolprintService({ workspaceDir: path.join(dir, 'workspace'), checkOutputs: true, workers: 1 });
    api = createApiClient(service);
    // Trained on the first 80 samples (40 of them to train: a few dozen FGSM examples).
    const { jobId } = await api.defenses.detect({ images: { kind: 'samples', limit: 80 }, params: { modelId: 'lenet-mnist', epsilon: 0.25 } });
    const info = await awaitJob(api, jobId, 'detector');
    detectorId = info.detectorId;
    detectorFolder = info.folder;
  }, 120_000);

  afterAll(async () => {
    await service?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('is offered beside the models, as its base model behind the detector', async () => {
    const models = await api.models.list();
    const protectedModel = models.find((m) => m.id === detectorId);
    expect(protectedModel?.protection).toMatchObject({ detectorId, baseModelId: 'lenet-mnist', attack: 'fgsm', epsilon: 0.25 });
    expect(protectedModel?.inputShape).toEqual([28, 28, 1]);
    expect(models.find((m) => m.id === 'lenet-mnist')?.protection).toBeUndefined();
  });

  it('attack and sweep: rejects more FGSM than clean images, counted apart, adding up, per image in the gallery', async () => {
    const experiment = await api.experiments.create({ name: 'protected' });
    // Held-out samples: none of them trained the detector.
    const images = { kind: 'samples' as const, offset: 80, limit: 40 };
    const started = await api.attacks.start({ experimentId: experiment.id, modelId: detectorId, images, params: { method: 'fgsm', epsilons: [0.25] } });
    const run = await awaitJob(api, started.jobId, 'attack');
    const clean = run.cleanProtected!;
    const adversarial = run.perEpsilon[0].float.protected!;
    expect(total(clean)).toBe(run.count);
    expect(total(adversarial)).toBe(run.count);
    expect(total(run.perEpsilon[0].quantized.protected!)).toBe(run.count);
    expect(adversarial.rejected).toBeGreaterThan(clean.rejected);
    // Accuracy stays the classifier's own, rejections are not folded into it.
    expect(clean.correct).toBeLessThanOrEqual(Math.round(run.cleanAccuracy * run.count));

    const gallery = await api.attacks.gallery({ experimentId: experiment.id, runId: run.runId, limit: 40 });
    expect(gallery.items.filter((item) => item.adversarial[0].float.rejected).length).toBe(adversarial.rejected);

    // The plain model's run has no protected counts.
    const plain = await awaitJob(api, (await api.attacks.start({ experimentId: experiment.id, modelId: 'lenet-mnist', images, params: { method: 'fgsm', epsilons: [0.25] } })).jobId, 'attack');
    expect(plain.cleanProtected).toBeUndefined();
    expect(plain.perEpsilon[0].float.protected).toBeUndefined();
    expect(plain.perEpsilon[0].float.accuracy).toBe(run.perEpsilon[0].float.accuracy);

    const sweep = await awaitJob(api, (await api.sweeps.start({ modelId: detectorId, images, params: { method: 'fgsm', epsilons: [0, 0.25] } })).jobId, 'sweep');
    expect(sweep.cleanProtected).toEqual(clean);
    expect(sweep.perEpsilon[1].float.protected).toEqual(adversarial);
    // At ε 0 the "adversarial" images are the clean ones: the same verdicts.
    expect(sweep.perEpsilon[0].float.protected!.rejected).toBe(clean.rejected);
  }, 180_000);

  it('photo analysis and Compare: the photographed cells are screened, the rates carry rejections apart', async () => {
    const experiment = await api.experiments.create({ name: 'protected photo', modelId: detectorId });
    const run = await awaitJob(api, (await api.attacks.start({ experimentId: experiment.id, modelId: detectorId, images: { kind: 'samples', offset: 80, limit: 8 }, params: { method: 'fgsm', epsilons: [0.3] } })).jobId, 'attack');
    const sheetSet = await awaitJob(api, (await api.sheets.export({ experimentId: experiment.id, runId: run.runId, epsilons: [0.3], pairs: true, dpi: 150 })).jobId, 'sheetExport');
    const sheetPng = Buffer.from((await api.sheets.file({ experimentId: experiment.id, sheetSetId: sheetSet.sheetSetId, file: 'png' })).base64, 'base64');
    const raw = await sharp(sheetPng).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    const photo = simulatePhoto({ data: new Uint8ClampedArray(raw.data.buffer, raw.data.byteOffset, raw.data.length), width: raw.info.width, height: raw.info.height }, { width: 1600, height: 1200, tiltDeg: 10, rotationDeg: 4, blurSigma: 0.5, noiseSigma: 0.01, jpegQuality: 0, clutter: 2 }, 3);
    const jpeg = await sharp(Buffer.from(photo.image.data.buffer, photo.image.data.byteOffset, photo.image.data.length), { raw: { width: photo.image.width, height: photo.image.height, channels: 4 } }).jpeg({ quality: 92 }).toBuffer();
    const capture = await awaitJob(api, (await api.capture.analyzePhoto({ experimentId: experiment.id, modelId: detectorId, photo: { name: 'photo.jpg', mimeType: 'image/jpeg', base64: jpeg.toString('base64') } })).jobId, 'photoAnalysis');
    expect(capture.analysedCells).toBe(16);

    const report = await api.compare.get({ experimentId: experiment.id });
    expect(report.cells.every((cell) => typeof cell.rejected === 'boolean')).toBe(true);
    const average = report.rates.find((r) => r.case === 'average')!;
    expect(total(average.rejections!.photoAdversarial)).toBe(average.count);
    expect(total(average.rejections!.photoClean)).toBe(average.count);
    const rejectedCells = (kind: 'clean' | 'adversarial') => report.cells.filter((c) => c.kind === kind && c.rejected).length;
    expect(average.rejections!.photoAdversarial.rejected).toBe(rejectedCells('adversarial'));
    expect(average.rejections!.photoClean.rejected).toBe(rejectedCells('clean'));
    const csv = Buffer.from((await api.compare.export({ experimentId: experiment.id, format: 'csv', table: 'rates' })).base64, 'base64').toString('utf8');
    expect(csv.split('\n')[0]).toMatch(/photo_clean_rejected,photo_adv_rejected$/);
    // The HTML report shows the same refusals, as rejected/photographed per case.
    const html = Buffer.from((await api.compare.export({ experimentId: experiment.id, format: 'html' })).base64, 'base64').toString('utf8');
    expect(html).toContain('<th scope="col">photo adv rejected</th>');
    const { photoClean, photoAdversarial } = average.rejections!;
    expect(html).toContain(`<td>${photoClean.rejected}/${total(photoClean)}</td><td>${photoAdversarial.rejected}/${total(photoAdversarial)}</td></tr>`);
  }, 180_000);

  it('CLI: sweep --detector --json counts rejections apart; a file that is no detector is refused in one line', async () => {
    const sweep = await foolprint('sweep', '--detector', detectorFolder, '--offset', '80', '--limit', '40', '--eps', '0.25', '--json');
    expect(sweep.stderr).toBe('');
    const report = JSON.parse(sweep.stdout) as { count: number; cleanProtected: { correct: number; wrong: number; rejected: number }; perEpsilon: { float: { protected: { correct: number; wrong: number; rejected: number } } }[] };
    expect(total(report.cleanProtected)).toBe(40);
    expect(total(report.perEpsilon[0].float.protected)).toBe(40);
    expect(report.perEpsilon[0].float.protected.rejected).toBeGreaterThan(report.cleanProtected.rejected);
    const table = await foolprint('sweep', '--detector', detectorFolder, '--offset', '80', '--limit', '40', '--eps', '0.25');
    expect(table.stdout).toMatch(/rejected \(8-bit\)/);
    expect(table.stdout).toMatch(/protected model: \d+\/40 clean images rejected \(false positives\)/);
    const bad = await foolprint('sweep', '--detector', path.join(root, 'package.json'), '--limit', '4');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/is not a Foolprint detector/);
  }, 120_000);

  it('keeps its defense worker across requests, screens with a rewritten detector.json, and matches the CLI that keeps nothing', async () => {
    // A copy under another id, rewritten below without touching the detector the other tests use.
    const copyId = `${detectorId}.copy`;
    const copyFile = path.join(dir, 'workspace', 'detectors', copyId, 'detector.json');
    await mkdir(path.dirname(copyFile));
    const text = await readFile(path.join(detectorFolder, 'detector.json'), 'utf8');
    await writeFile(copyFile, text);
    const experiment = await api.experiments.create({ name: 'protected twice' });
    const images = { kind: 'samples' as const, offset: 80, limit: 16 };
    const attack = async () => awaitJob(api, (await api.attacks.start({ experimentId: experiment.id, modelId: copyId, images, params: { method: 'fgsm', epsilons: [0.25] } })).jobId, 'attack');
    const verdicts = (run: Awaited<ReturnType<typeof attack>>) => [run.cleanProtected, run.perEpsilon[0].float.protected, run.perEpsilon[0].quantized.protected];

    const first = await attack();
    const started = defenseWorkerThreads().started;
    expect(verdicts(await attack())).toEqual(verdicts(first));
    expect(defenseWorkerThreads().started).toBe(started);

    // "Retrained" (written anew and renamed over, as the service writes): Platt's slope negated,
    // so the SVM's scores turn around and the clean images it passed are flagged.
    const stored = JSON.parse(text) as { svm: string };
    const svm = stored.svm.replace(/^probA (\S+)$/m, (_, a: string) => `probA ${-Number(a)}`);
    expect(svm).not.toBe(stored.svm);
    await writeFile(`${copyFile}.tmp`, JSON.stringify({ ...stored, svm }));
    await rename(`${copyFile}.tmp`, copyFile);
    const retrained = await attack();
    expect(retrained.cleanProtected!.rejected).toBeGreaterThan(first.cleanProtected!.rejected);
    expect(defenseWorkerThreads().started).toBe(started);

    const sweep = await awaitJob(api, (await api.sweeps.start({ modelId: copyId, images, params: { method: 'fgsm', epsilons: [0.25] } })).jobId, 'sweep');
    expect(sweep.cleanProtected).toEqual(retrained.cleanProtected);
    const cli = await foolprint('sweep', '--detector', path.dirname(copyFile), '--workers', '1', '--offset', '80', '--limit', '16', '--eps', '0.25', '--json');
    expect(cli.stderr).toBe('');
    const report = JSON.parse(cli.stdout) as { cleanProtected: unknown; perEpsilon: { float: { protected: unknown } }[] };
    expect(report.cleanProtected).toEqual(sweep.cleanProtected);
    expect(report.perEpsilon[0].float.protected).toEqual(sweep.perEpsilon[0].float.protected);
  }, 180_000);

  it('closing the service ends its defense workers', async () => {
    expect(defenseWorkerThreads().running).toBeGreaterThan(0);
    await service.close();
    expect(defenseWorkerThreads().running).toBe(0);
  });
});
