/**
 * models.upload (drag and drop / "Choose folder…" on the Models screen), run the same way against the
 * in-process service and over HTTP (browser mode): a tiny model saved with saveLayersModel, its shards
 * split in two (one in a subfolder), is stored under <workspace>/models/<id>/, listed and classifies
 * as its weights say; corrupt uploads give the loader's message and leave nothing behind; paths that
 * would leave the model folder are refused before anything is written.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, utimes } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiClient, createHttpTransport } from '../app/api/index.js';
import type { FetchLike, FoolprintApi, HttpTransport } from '../app/api/index.js';
import { MAX_MODEL_UPLOAD_BYTES, MAX_MODEL_UPLOAD_FILES } from '../app/api/models.js';
import type { ModelUploadFile } from '../app/api/models.js';
import { createFoolprintService } from '../app/node/service.js';
import type { FoolprintService } from '../app/node/service.js';
import { saveLayersModel } from '../app/node/model-io.js';
import { listBuiltinModels } from '../app/node/model-loader.js';
import { startServer } from '../main/server/server.js';
import type { RunningServer } from '../main/server/server.js';

const hasBuiltin = listBuiltinModels().some((m) => m.id === 'lenet-mnist');

/** Bias 5 on class 1 and zero kernel: every image is class 1 with p = e^5 / (e^5 + 2). */
const CLASS_1_PROBABILITY = Math.exp(5) / (Math.exp(5) + 2);
const MANIFEST = { schemaVersion: 1, name: 'Tiny test model', inputSize: [4, 4], channels: 1, outputs: 'probabilities', labels: ['cat', 'dog', 'bird'] };

/**
 * The model's files as a browser would send them: model.json listing two shards of weights
 * (the saved weights.bin cut in two, the second in a subfolder), and foolprint.json.
 */
async function tinyModelFiles(dir: string): Promise<ModelUploadFile[]> {
  tf.setBackend('cpu');
  const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [4, 4, 1] }), tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: 'zeros' })] });
  (model.layers[1] as tf.layers.Layer).setWeights([tf.zeros([16, 3]), tf.tensor1d([0, 5, 0])]);
  const folder = path.join(dir, 'saved');
  await saveLayersModel(model, folder);
  model.dispose();
  const json = JSON.parse(await readFile(path.join(folder, 'model.json'), 'utf8')) as tf.io.ModelJSON;
  const weights = await readFile(path.join(folder, 'weights.bin'));
  const cut = 100;
  json.weightsManifest[0].paths = ['group1-shard1of2.bin', 'shards/group1-shard2of2.bin'];
  return [
    { path: 'model.json', base64: Buffer.from(JSON.stringify(json)).toString('base64') },
    { path: 'group1-shard1of2.bin', base64: weights.subarray(0, cut).toString('base64') },
    { path: 'shards/group1-shard2of2.bin', base64: weights.subarray(cut).toString('base64') },
    { path: 'foolprint.json', base64: Buffer.from(JSON.stringify(MANIFEST)).toString('base64') },
  ];
}

interface Host {
  api: FoolprintApi;
  workspaceDir: string;
  close(): Promise<void>;
}

const hosts: Record<string, (workspaceDir: string) => Promise<Host>> = {
  'in-process service': async (workspaceDir) => {
    const service: FoolprintService = createFoolprintService({ workspaceDir, checkOutputs: true, workers: 1 });
    return { api: createApiClient(service), workspaceDir, close: () => service.close() };
  },
  'HTTP (browser mode)': async (workspaceDir) => {
    const server: RunningServer = await startServer({ workspaceDir, port: 0, workers: 1 });
    const transport: HttpTransport = createHttpTransport({ baseUrl: server.origin, fetch: globalThis.fetch as unknown as FetchLike, headers: { authorization: `Bearer ${server.token}` }, reconnectMs: 100 });
    return {
      api: createApiClient(transport),
      workspaceDir,
      async close() {
        transport.close();
        await server.close();
      },
    };
  },
};

describe.each(Object.keys(hosts))('models.upload through the %s', (hostName) => {
  let dir: string;
  let host: Host;
  let files: ModelUploadFile[];
  const modelsDir = () => path.join(host.workspaceDir, 'models');

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'foolprint-upload-'));
    files = await tinyModelFiles(dir);
    host = await hosts[hostName](path.join(dir, 'workspace'));
  }, 60_000);

  afterAll(async () => {
    await host?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a random binary file as model.json with a 4xx saying what it is not, no raw bytes (issue 8 §4)', async () => {
    const random = Buffer.from(Array.from({ length: 256 }, (_, i) => (i * 167 + 13) % 256));
    const upload = [{ path: 'model.json', base64: random.toString('base64') }, ...files.filter((f) => f.path !== 'model.json')];
    const error = await host.api.models.upload({ name: 'Binary', files: upload }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'invalid-input', message: expect.stringMatching(/model\.json is not JSON: it holds binary data, not JSON text/) });
    // eslint-disable-next-line no-control-regex -- raw bytes are what must not reach the user
    expect((error as Error).message).not.toMatch(/[\u0000-\u0008\u000e-\u001f\ufffd]/);
    const notAModel = [{ path: 'model.json', base64: Buffer.from('{"hello": "world"}').toString('base64') }];
    await expect(host.api.models.upload({ name: 'Hello', files: notAModel })).rejects.toMatchObject({ code: 'invalid-input', message: expect.stringMatching(/is not a TF\.js model: no modelTopology or weightsManifest/) });
  });

  it('stores, lists and loads an uploaded model folder', async () => {
    const info = await host.api.models.upload({ name: 'Tiny Model', files });
    expect(info).toMatchObject({ id: 'tiny-model', name: 'Tiny test model', source: 'imported', inputShape: [4, 4, 1], labels: ['cat', 'dog', 'bird'], folder: path.join(modelsDir(), 'tiny-model') });
    expect(await readFile(path.join(info.folder, 'shards', 'group1-shard2of2.bin'))).toEqual(Buffer.from(files[2].base64, 'base64'));
    expect((await host.api.models.list()).map((m) => m.id)).toContain('tiny-model');
    const answer = await host.api.capture.classifyCrops({ modelId: 'tiny-model', crops: Buffer.alloc(16).toString('base64'), dtype: 'uint8', count: 1, height: 4, width: 4, channels: 1 });
    expect(answer.top5[0][0].label).toBe(1);
    expect(answer.top5[0][0].probability).toBeCloseTo(CLASS_1_PROBABILITY, 5);
    // The same name again is another model, not a silent replacement.
    expect((await host.api.models.upload({ name: 'Tiny Model', files })).id).toBe('tiny-model-2');
    // Loose files without a folder name: the id comes from foolprint.json's name.
    expect((await host.api.models.upload({ files })).id).toBe('tiny-test-model');
  }, 60_000);

  it('removes the staging folder a killed upload left hours ago, not one another process is writing now', async () => {
    const stale = path.join(modelsDir(), '.upload-killed');
    const current = path.join(modelsDir(), '.upload-running');
    for (const folder of [stale, current]) await mkdir(folder, { recursive: true });
    const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await utimes(stale, twoHoursAgo, twoHoursAgo);
    await host.api.models.upload({ name: 'After a crash', files });
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(current)).toBe(true);
    await rm(current, { recursive: true });
  }, 60_000);

  it('infers and stores a manifest when foolprint.json is not uploaded', async () => {
    const info = await host.api.models.upload({ name: 'No manifest', files: files.filter((f) => f.path !== 'foolprint.json') });
    expect(info).toMatchObject({ id: 'no-manifest', name: 'No manifest', inputShape: [4, 4, 1], labels: ['0', '1', '2'] });
    expect(JSON.parse(await readFile(path.join(info.folder, 'foolprint.json'), 'utf8'))).toMatchObject({ name: 'No manifest', outputs: 'probabilities' });
  }, 60_000);

  it('models.import of a folder without foolprint.json (or of its model.json) lists it with what the loader inferred, and writes nothing into it', async () => {
    const saved = path.join(dir, 'saved');
    const info = await host.api.models.import({ path: path.join(saved, 'model.json'), id: 'by-path' });
    expect(info).toMatchObject({ id: 'by-path', name: 'saved', folder: saved, inputShape: [4, 4, 1], labels: ['0', '1', '2'] });
    expect((await host.api.models.list()).map((m) => m.id)).toContain('by-path');
    expect((await readdir(saved)).sort()).toEqual(['model.json', 'weights.bin']);
  }, 60_000);

  it.each([
    ['model.json that is not JSON', (f: ModelUploadFile[]) => f.map((x) => (x.path === 'model.json' ? { ...x, base64: Buffer.from('{"modelTopology": {"truncated": ').toString('base64') } : x)), /^model\.json is not JSON/],
    ['model.json that is not a model', (f: ModelUploadFile[]) => f.map((x) => (x.path === 'model.json' ? { ...x, base64: Buffer.from('{"hello": "world"}').toString('base64') } : x)), /^model\.json is not a TF\.js model: no modelTopology or weightsManifest$/],
    ['a missing shard', (f: ModelUploadFile[]) => f.filter((x) => x.path !== 'shards/group1-shard2of2.bin'), /^weights file shards\/group1-shard2of2\.bin is missing \(model\.json lists it, looked in the uploaded folder\)$/],
    ['a truncated shard', (f: ModelUploadFile[]) => f.map((x) => (x.path === 'group1-shard1of2.bin' ? { ...x, base64: Buffer.alloc(10).toString('base64') } : x)), /^weights files group1-shard1of2\.bin, shards\/group1-shard2of2\.bin total \d+ bytes, the manifest expects \d+$/],
  ])('refuses %s with the loader\'s message and leaves nothing behind', async (_, corrupt, message) => {
    const before = await readdir(modelsDir());
    const listed = (await host.api.models.list()).map((m) => m.id);
    await expect(host.api.models.upload({ name: 'Broken', files: corrupt(files) })).rejects.toMatchObject({ code: 'invalid-input', message: expect.stringMatching(message) });
    expect(await readdir(modelsDir())).toEqual(before);
    expect((await host.api.models.list()).map((m) => m.id)).toEqual(listed);
  }, 60_000);

  it.each([
    ['../escaped.json', /File path must not contain "\.\."/],
    ['shards/../../escaped.json', /File path must not contain "\.\."/],
    ['/tmp/escaped.json', /File path must be a relative path/],
    ['C:/escaped.json', /File path must be a relative path/],
    ['shards\\escaped.json', /File path must use "\/"/],
    ['shards//escaped.json', /File path must not contain/],
  ])('refuses the path %s before writing anything', async (badPath, message) => {
    const before = await readdir(modelsDir());
    const upload = [files[0], { path: badPath, base64: files[1].base64 }, ...files.slice(2)];
    await expect(host.api.models.upload({ name: 'Escape', files: upload })).rejects.toMatchObject({ code: 'invalid-input', message: expect.stringMatching(message) });
    expect(await readdir(modelsDir())).toEqual(before);
    expect(existsSync(path.join(dir, 'escaped.json')) || existsSync(path.join(host.workspaceDir, 'escaped.json'))).toBe(false);
  });

  it.skipIf(!hasBuiltin)('an uploaded copy of the built-in LeNet classifies exactly as the built-in one', async () => {
    const folder = listBuiltinModels().find((m) => m.id === 'lenet-mnist')?.folder ?? '';
    const lenetFiles = await Promise.all(['model.json', 'weights.bin', 'foolprint.json'].map(async (name) => ({ path: name, base64: (await readFile(path.join(folder, name))).toString('base64') })));
    const started = performance.now();
    const info = await host.api.models.upload({ name: 'lenet copy', files: lenetFiles });
    console.log(`${hostName}: uploaded LeNet (${lenetFiles.reduce((n, f) => n + f.base64.length, 0)} base64 chars) in ${(performance.now() - started).toFixed(0)} ms`);
    // A vertical bar and a blank image, as uint8 crops.
    const crops = Buffer.alloc(2 * 784);
    for (let y = 4; y < 24; y++) crops.fill(255, y * 28 + 12, y * 28 + 16);
    const ask = (modelId: string) => host.api.capture.classifyCrops({ modelId, crops: crops.toString('base64'), dtype: 'uint8', count: 2, height: 28, width: 28, channels: 1 });
    expect((await ask(info.id)).top5).toEqual((await ask('lenet-mnist')).top5);
  }, 60_000);

  it.skipIf(!hasBuiltin)('refuses the id of the built-in model', async () => {
    await expect(host.api.models.upload({ id: 'lenet-mnist', files })).rejects.toMatchObject({ code: 'invalid-input', message: 'id: "lenet-mnist" is a built-in model\'s id; choose another' });
  });

  it('refuses uploads without model.json, with too many files or too many bytes, saying why', async () => {
    await expect(host.api.models.upload({ files: files.slice(1) })).rejects.toMatchObject({ code: 'invalid-input', message: expect.stringContaining('no model.json (or model.onnx) at the top of the upload') });
    await expect(host.api.models.upload({ files: [...files, files[1]] })).rejects.toMatchObject({ code: 'invalid-input', message: expect.stringContaining('"group1-shard1of2.bin" is uploaded twice') });
    const many = [files[0], ...Array.from({ length: MAX_MODEL_UPLOAD_FILES }, (_, i) => ({ path: `extra-${i}.bin`, base64: '' }))];
    await expect(host.api.models.upload({ files: many })).rejects.toMatchObject({ code: 'invalid-input', message: expect.stringContaining(`more than ${MAX_MODEL_UPLOAD_FILES} files`) });
    const huge = [files[0], { path: 'huge.bin', base64: 'A'.repeat(Math.ceil(((MAX_MODEL_UPLOAD_BYTES + 1024) * 4) / 3 / 4) * 4) }];
    await expect(host.api.models.upload({ files: huge })).rejects.toMatchObject({ code: 'invalid-input', message: expect.stringMatching(/40\.0 MiB an upload may carry/) });
  }, 60_000);
});
