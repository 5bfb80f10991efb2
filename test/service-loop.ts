/**
 * The contract's table of calls, run the same way against the in-process service and over HTTP
 * (test/service-contract.test.ts, test/server-contract.test.ts): list models, attack 4 digits with
 * progress events, cancel a long attack, gallery, sheet preview and export, analyse a synthesised
 * photo of the printed sheet (app/physical/simulate.ts), compare with a destruction rate, exports.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';
import { ApiError, awaitJob } from '../app/api/index.js';
import type { FoolprintApi, ProgressEvent } from '../app/api/index.js';
import { listBuiltinModels } from '../app/node/model-loader.js';
import { saveLayersModel } from '../app/node/model-io.js';
import { encodePng } from '../app/node/png-encode.js';
import { simulatePhoto } from '../app/physical/simulate.js';
import { loadMnistTest, mnistAvailable, mnistDir } from './physical-fixture.js';

export { mnistAvailable, mnistDir };

export interface LoopFixture {
  /** A model folder to import, or null when the built-in LeNet is there. */
  modelFolder: string | null;
  files: { name: string; mimeType: string; base64: string; label: number }[];
}

/**
 * The built-in LeNet when its weights are in assets/; otherwise a softmax regression fitted in a
 * second on 2,000 MNIST test digits far from the four attacked ones (indices 1000..2999).
 */
export async function prepareFixture(dir: string): Promise<LoopFixture> {
  const digits = loadMnistTest(4);
  const files = await Promise.all(
    Array.from({ length: 4 }, async (_, i) => ({
      name: `digit-${i}.png`,
      mimeType: 'image/png',
      base64: (await encodePng(digits.images.subarray(i * 784, (i + 1) * 784), 28, 28, 1)).toString('base64'),
      label: digits.labels[i],
    })),
  );
  if (listBuiltinModels().some((m) => m.id === 'lenet-mnist')) return { modelFolder: null, files };
  const train = loadMnistTest(2000, 1000);
  const folder = path.join(dir, 'softmax-mnist');
  tf.setBackend('cpu');
  const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [28, 28, 1] }), tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: 'zeros' })] });
  model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy' });
  const x = tf.tensor4d(train.images, [train.count, 28, 28, 1]);
  const y = tf.oneHot(tf.tensor1d(train.labels, 'int32'), 10);
  await model.fit(x, y, { epochs: 8, batchSize: 100, verbose: 0 });
  tf.dispose([x, y]);
  await saveLayersModel(model, folder);
  model.dispose();
  await writeFile(
    path.join(folder, 'foolprint.json'),
    JSON.stringify({ schemaVersion: 1, name: 'softmax regression (test)', inputSize: [28, 28], channels: 1, outputs: 'probabilities', labels: Array.from({ length: 10 }, (_, i) => String(i)) }),
  );
  return { modelFolder: folder, files };
}

export interface LoopFigures {
  attackMs: number;
  progressEvents: number;
  cellCount: number;
  analysedCells: number;
  cleanAgreement: number;
  destructionTop1: number | null;
  classifyCropsMs: number;
}

const trace = (text: string) => { if (process.env.FOOLPRINT_TRACE) console.error(`[loop ${new Date().toISOString().slice(11, 23)}] ${text}`); };
const fromDataUrl = (url: string) => Buffer.from(url.replace(/^data:[^;]+;base64,/, ''), 'base64');

export async function runContractLoop(api: FoolprintApi, fixture: LoopFixture, workDir: string): Promise<LoopFigures> {
  const info = await api.system.info();
  expect(info.version).toMatch(/^\d+\.\d+\.\d+/);

  let modelId = 'lenet-mnist';
  if (fixture.modelFolder) {
    const imported = await api.models.import({ path: fixture.modelFolder, id: 'softmax-test' });
    expect(imported).toMatchObject({ id: 'softmax-test', source: 'imported', inputShape: [28, 28, 1] });
    modelId = imported.id;
  }
  const models = await api.models.list();
  expect(models.map((m) => m.id)).toContain(modelId);

  const experiment = await api.experiments.create({ name: 'contract loop', modelId });
  expect(experiment).toMatchObject({ name: 'contract loop', state: 'ready', counts: { attacks: 0, sheets: 0, captures: 0 } });
  expect((await api.experiments.list()).map((e) => e.id)).toContain(experiment.id);

  const images = { kind: 'files' as const, files: fixture.files };
  const preview = await api.samples.list({ modelId, images });
  expect(preview.count).toBe(4);
  expect(preview.items.map((i) => i.label)).toEqual(fixture.files.map((f) => f.label));

  trace('attack');
  // An attack job: progress events, then a stored run.
  const progress: ProgressEvent[] = [];
  const started = Date.now();
  const { jobId } = await api.attacks.start({ experimentId: experiment.id, modelId, images, params: { method: 'fgsm', epsilons: [0.1, 0.3] } });
  const run = await awaitJob(api, jobId, 'attack', (p) => progress.push(p));
  const attackMs = Date.now() - started;
  expect(run).toMatchObject({ experimentId: experiment.id, method: 'fgsm', count: 4, epsilons: [0.1, 0.3] });
  expect(progress.length).toBeGreaterThan(0);
  expect(progress.every((p) => p.jobId === jobId && p.done <= p.total)).toBe(true);
  trace('attack effect');
  // FGSM at ε = 0.3 on MNIST leaves the accuracy below the clean one (the seed's table: 0.981 → 0.087).
  expect(run.perEpsilon[1].quantized.accuracy).toBeLessThan(run.cleanAccuracy);
  expect((await api.jobs.get({ jobId })).status).toBe('succeeded');
  expect(await api.attacks.list({ experimentId: experiment.id })).toHaveLength(1);

  trace('cancel');
  // Cancel: a long iterative attack is stopped and reported as cancelled, not failed.
  const long = await api.attacks.start({ experimentId: experiment.id, modelId, images, params: { method: 'bim', epsilons: [0.2], steps: 10000, stepSize: 0.001 } });
  const cancelled = awaitJob(api, long.jobId, 'attack');
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(await api.jobs.cancel({ jobId: long.jobId })).toEqual({ cancelled: true });
  const error = await cancelled.catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ApiError);
  expect((error as ApiError).code).toBe('cancelled');
  expect(await api.jobs.cancel({ jobId: long.jobId })).toEqual({ cancelled: false });
  expect(await api.attacks.list({ experimentId: experiment.id })).toHaveLength(1);

  trace('gallery');
  // Gallery: PNGs that decode to the model's size, the top-5 before and after.
  const gallery = await api.attacks.gallery({ experimentId: experiment.id, runId: run.runId });
  expect(gallery.total).toBe(4);
  expect(gallery.items).toHaveLength(4);
  const first = gallery.items[0];
  expect(first.adversarial.map((a) => a.epsilon)).toEqual([0.1, 0.3]);
  const meta = await sharp(fromDataUrl(first.adversarial[1].png)).metadata();
  expect([meta.width, meta.height]).toEqual([28, 28]);
  expect(first.clean.top5).toHaveLength(5);
  expect(first.adversarial[1].quantized.linf).toBeLessThanOrEqual(0.3 + 1 / 255);

  trace('classifyCrops');
  // classifyCrops (the live view's path) on the clean PNGs gives their digital top-1.
  const cleanPixels = new Float32Array(4 * 784);
  for (const [i, item] of gallery.items.entries()) {
    const { data } = await sharp(fromDataUrl(item.clean.png)).greyscale().raw().toBuffer({ resolveWithObject: true });
    for (let p = 0; p < 784; p++) cleanPixels[i * 784 + p] = data[p] / 255;
  }
  const crops = await api.capture.classifyCrops({ modelId, crops: Buffer.from(cleanPixels.buffer).toString('base64'), count: 4, height: 28, width: 28, channels: 1 });
  expect(crops.top5.map((t) => t[0].label)).toEqual(gallery.items.map((item) => item.clean.top5[0].label));

  trace('sheet');
  // Sheet: preview, export (PDF + PNG + manifest), download.
  const sheetParams = { experimentId: experiment.id, runId: run.runId, epsilons: [0.3], pairs: true, dpi: 150 };
  const sheetPreview = await api.sheets.preview({ ...sheetParams, previewDpi: 30 });
  expect(sheetPreview).toMatchObject({ pageCount: 1, cellCount: 8 });
  const previewMeta = await sharp(fromDataUrl(sheetPreview.png)).metadata();
  expect(previewMeta.width).toBe(Math.round((210 / 25.4) * 30));
  const exported = await api.sheets.export(sheetParams);
  const sheetSet = await awaitJob(api, exported.jobId, 'sheetExport');
  expect(sheetSet).toMatchObject({ pageCount: 1, cellCount: 8 });
  const pdf = await api.sheets.file({ experimentId: experiment.id, sheetSetId: sheetSet.sheetSetId, file: 'pdf' });
  expect(Buffer.from(pdf.base64, 'base64').subarray(0, 5).toString()).toBe('%PDF-');
  expect(await api.capture.manifests({ experimentId: experiment.id })).toHaveLength(1);
  // Downloads are named by page; a one-page set's "every manifest" is its one manifest, as JSON.
  expect((await api.sheets.file({ experimentId: experiment.id, sheetSetId: sheetSet.sheetSetId, file: 'png', page: 1 })).name).toBe('sheet-1.png');
  const allManifests = await api.sheets.file({ experimentId: experiment.id, sheetSetId: sheetSet.sheetSetId, file: 'manifests' });
  expect(allManifests).toMatchObject({ name: 'sheet.manifest.json', mimeType: 'application/json' });
  expect(JSON.parse(Buffer.from(allManifests.base64, 'base64').toString('utf8')).sheetId).toBe(sheetSet.sheetIds[0]);

  trace('capture');
  // Capture: a synthesised photo of the exported sheet (perspective, blur, noise, JPEG).
  const sheetPng = Buffer.from((await api.sheets.file({ experimentId: experiment.id, sheetSetId: sheetSet.sheetSetId, file: 'png' })).base64, 'base64');
  const raw = await sharp(sheetPng).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const photo = simulatePhoto({ data: new Uint8ClampedArray(raw.data.buffer, raw.data.byteOffset, raw.data.length), width: raw.info.width, height: raw.info.height }, { width: 1600, height: 1200, tiltDeg: 15, rotationDeg: 8, blurSigma: 0.6, noiseSigma: 0.01, jpegQuality: 0, clutter: 4 }, 7);
  const jpeg = await sharp(Buffer.from(photo.image.data.buffer, photo.image.data.byteOffset, photo.image.data.length), { raw: { width: photo.image.width, height: photo.image.height, channels: 4 } }).jpeg({ quality: 92 }).toBuffer();
  await mkdir(workDir, { recursive: true });
  await writeFile(path.join(workDir, 'synthetic-photo.jpg'), jpeg);
  const frames: unknown[] = [];
  const stopFrames = api.onFrameAnalyzed((f) => frames.push(f));
  const analysed = await api.capture.analyzePhoto({ experimentId: experiment.id, photo: { name: 'synthetic-photo.jpg', mimeType: 'image/jpeg', base64: jpeg.toString('base64') } });
  const capture = await awaitJob(api, analysed.jobId, 'photoAnalysis');
  stopFrames();
  expect(capture).toMatchObject({ status: 'ok', sheetId: sheetSet.sheetIds[0], cellCount: 8, analysedCells: 8 });
  expect(frames).toEqual([{ experimentId: experiment.id, captureId: capture.captureId, status: 'ok', message: capture.message }]);

  trace('blank photo');
  // A photo with no sheet in it is a result, not an error.
  const blank = await sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 200, g: 190, b: 180 } } }).jpeg().toBuffer();
  const blankJob = await api.capture.analyzePhoto({ experimentId: experiment.id, photo: { name: 'blank.jpg', mimeType: 'image/jpeg', base64: blank.toString('base64') } });
  expect(await awaitJob(api, blankJob.jobId, 'photoAnalysis')).toMatchObject({ status: 'no-sheet', analysedCells: 0 });
  expect(await api.capture.list({ experimentId: experiment.id })).toHaveLength(2);

  trace('compare');
  // Compare: every printed cell with both thumbnails, a destruction rate per method and ε.
  const report = await api.compare.get({ experimentId: experiment.id });
  // The blank photo is listed, apart: it gives no cells and does not count.
  expect(report.captures.map((c) => [c.fileName, c.counted])).toEqual([['synthetic-photo.jpg', true], ['blank.jpg', false]]);
  expect(report.cells).toHaveLength(8);
  expect(report.cells.every((c) => c.digitalPng !== null && c.capturedPng !== null && c.capturedTop5.length === 5)).toBe(true);
  const cleanCells = report.cells.filter((c) => c.kind === 'clean');
  const cleanAgreement = cleanCells.filter((c) => c.agree).length / cleanCells.length;
  const average = report.rates.find((r) => r.case === 'average' && r.method === 'fgsm' && r.epsilon === 0.3);
  expect(average?.count).toBe(4);
  trace('compare rows');
  // The row's digital figures are the run's own: quantized accuracy at ε = 0.3 over the same 4 images.
  expect(average?.digital.adversarial.top1).toBeCloseTo(run.perEpsilon[1].quantized.accuracy, 10);
  const eligible = gallery.items.filter((item) => item.clean.top5[0].label === item.label && item.adversarial[1].quantized.top5[0].label !== item.label).length;
  if (eligible > 0) expect(average?.destructionTop1).not.toBeNull();
  else expect(average?.destructionTop1).toBeNull();

  for (const format of ['csv', 'json', 'html'] as const) {
    const file = await api.compare.export({ experimentId: experiment.id, format });
    const text = Buffer.from(file.base64, 'base64').toString('utf8');
    expect(await readFile(file.path, 'utf8')).toBe(text);
    if (format === 'csv') {
      // One table, its first column saying which; cells name the photo they were seen on.
      expect(text.split('\n')[0]).toMatch(/^table,method,epsilon,case,images,captures,count,/);
      expect(text.split('\n').filter((line) => line.startsWith('cells,'))).toHaveLength(8);
      expect(text).toContain('synthetic-photo.jpg');
    }
    if (format === 'json') expect(JSON.parse(text).cells).toHaveLength(8);
    if (format === 'html') expect(text).toMatch(/^<!doctype html>[\s\S]*data:image\/png;base64,[\s\S]*<\/html>\n$/);
  }

  const after = await api.experiments.get({ experimentId: experiment.id });
  expect(after).toMatchObject({ state: 'ready', counts: { attacks: 1, sheets: 1, captures: 2 } });

  trace('bad input');
  // Bad input names the field; unknown ids are not-found.
  await expect(api.attacks.start({ experimentId: experiment.id, modelId, images, params: { method: 'fgsm', epsilons: [1.5] } })).rejects.toMatchObject({ code: 'invalid-input', message: expect.stringMatching(/^ε must be at most 1, got 1.5 /) });
  await expect(api.attacks.gallery({ experimentId: experiment.id, runId: 'run-missing' })).rejects.toMatchObject({ code: 'not-found' });
  await expect(api.experiments.get({ experimentId: 'no-such-experiment' })).rejects.toMatchObject({ code: 'not-found' });

  return { attackMs, progressEvents: progress.length, cellCount: capture.cellCount, analysedCells: capture.analysedCells, cleanAgreement, destructionTop1: average?.destructionTop1 ?? null, classifyCropsMs: crops.ms };
}
