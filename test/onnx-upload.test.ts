/**
 * Importing an .onnx file as the Models screen does: models.inspectOnnx reads what the graph says
 * (in-process and over HTTP), the answers become a foolprint.json (renderer/src/onnx-import.ts,
 * checked by the manifest schema), and models.upload stores model.onnx with it; labels files are
 * parsed as one name per line or a JSON array and must name every class.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiClient, createHttpTransport } from '../app/api/index.js';
import { MAX_MODEL_UPLOAD_BYTES, onnxFileNameSchema } from '../app/api/models.js';
import type { FetchLike, FoolprintApi, HttpTransport } from '../app/api/index.js';
import { createFoolprintService } from '../app/node/service.js';
import { startServer } from '../main/server/server.js';
import { onnxManifest, parseLabelsFile } from '../renderer/src/onnx-import.js';
import { onnxDataEntries, onnxFiles } from '../renderer/src/onnx-files.js';
import { ModelFolderError } from '../renderer/src/model-folder.js';
import { byRange, withExternalData } from './onnx-external-fixture.js';

const FIXTURES = path.join(import.meta.dirname, 'fixtures', 'onnx');

describe('labels files and answers (renderer/src/onnx-import.ts)', () => {
  it('reads one name per line or a JSON array, and needs every class named', () => {
    expect(parseLabelsFile('cat\r\ndog\n\n bird \n', 3, 'l.txt')).toEqual(['cat', 'dog', 'bird']);
    expect(parseLabelsFile('["cat", "dog"]', 2, 'l.json')).toEqual(['cat', 'dog']);
    expect(() => parseLabelsFile('cat\ndog\n', 3, 'l.txt')).toThrow('l.txt names 2 classes, the model outputs 3');
    expect(() => parseLabelsFile('[1, 2]', 2, 'l.json')).toThrow('l.json is a JSON value but not an array of strings');
    expect(() => parseLabelsFile('[cat', 1, 'l.json')).toThrow('l.json starts like a JSON array but is not valid JSON');
  });

  const rgb = { inputSize: [18, 18] as [number, number], channels: 3 as const, classes: 3, outputs: 'probabilities' as const, notes: [] };
  it('makes the manifest of each preset', () => {
    expect(onnxManifest(rgb, { name: ' m ', preset: 'imagenet', bgr: true, labels: null })).toEqual({
      schemaVersion: 1, name: 'm', inputSize: [18, 18], channels: 3, outputs: 'probabilities', channelOrder: 'BGR', labels: ['0', '1', '2'],
      preprocessing: { kind: 'meanStd', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
    });
    expect(onnxManifest(rgb, { name: 'm', preset: 'symmetric', bgr: false, labels: ['a', 'b', 'c'] })).toMatchObject({ preprocessing: { kind: 'symmetric' }, channelOrder: 'RGB', labels: ['a', 'b', 'c'] });
    expect(() => onnxManifest({ ...rgb, channels: 1 }, { name: 'm', preset: 'imagenet', bgr: false, labels: null })).toThrow(/one-channel/);
  });
});

describe('the files of a dropped or chosen ONNX model (renderer/src/onnx-files.ts)', () => {
  const entry = (p: string, size = 10) => ({ path: p, size, file: p });

  it('finds the .onnx, the files beside it, its foolprint.json and a labels file; hidden files and subfolders left out', () => {
    const files = onnxFiles(['/m/net.onnx', '/m/net.onnx.data', '/m/foolprint.json', '/m/labels.txt', '/m/.DS_Store', '/m/sub/x.bin', '/m/net.pt'].map((p) => entry(p)))!;
    expect(files.fileName).toBe('net.onnx');
    expect(files.folderName).toBe('m');
    expect([...files.beside.keys()].sort()).toEqual(['foolprint.json', 'labels.txt', 'net.onnx.data', 'net.pt']);
    expect(files.manifest?.path).toBe('/m/foolprint.json');
    expect(files.labels?.path).toBe('/m/labels.txt');
    // Loose files chosen together, and a chosen folder's relative paths.
    expect(onnxFiles([entry('net.onnx'), entry('classes.json')])).toMatchObject({ folderName: null, manifest: null, labels: { path: 'classes.json' } });
    expect(onnxFiles([entry('m/model.onnx'), entry('m/foolprint.json')])).toMatchObject({ fileName: 'model.onnx', folderName: 'm', manifest: { path: 'm/foolprint.json' } });
    // A TF.js model.json wins (as on the host); two models are ambiguous; no .onnx is not an ONNX model.
    expect(onnxFiles([entry('m/model.json'), entry('m/model.onnx')])).toBeNull();
    expect(onnxFiles([entry('m/weights.bin')])).toBeNull();
    expect(() => onnxFiles([entry('a.onnx'), entry('b/c.onnx')])).toThrow(new ModelFolderError('2 .onnx files: choose one model'));
  });

  it('sends only the data files the graph names, and says which are missing or out of reach', () => {
    const files = onnxFiles(['net.onnx', 'w1.bin', 'w2.bin', 'net.pt'].map((p) => entry(p)))!;
    expect(onnxDataEntries(files, ['w2.bin', 'w1.bin', 'w2.bin']).map((d) => d.name)).toEqual(['w2.bin', 'w1.bin']);
    expect(() => onnxDataEntries(files, ['w1.bin', 'gone.bin'])).toThrow(new ModelFolderError('net.onnx keeps its weights in "gone.bin", not among the files dropped or chosen: drop the model\'s folder, or choose the .onnx file together with that file'));
    expect(() => onnxDataEntries(files, ['sub/w.bin'])).toThrow(/keeps weights in "sub\/w\.bin", which is not a file beside it: type the model's folder path below instead/);
    expect(() => onnxDataEntries(files, ['..'])).toThrow(/keeps weights in "\.\."/);
    expect(() => onnxDataEntries(files, ['model.onnx'])).toThrow(/a name the import needs for itself/);
    const big = onnxFiles([entry('net.onnx', 10), entry('w.bin', MAX_MODEL_UPLOAD_BYTES)])!;
    expect(() => onnxDataEntries(big, ['w.bin'])).toThrow(/the model and its data files are 40\.0 MiB, more than the 40\.0 MiB an upload may carry/);
  });

  it('whatever locations a graph names, what is sent is plain names found beside the model', () => {
    const name = fc.oneof(fc.constantFrom('w.bin', 'a/b', '..', '.', 'x\\y', 'model.onnx', 'foolprint.json', '', 'w\u0001'), fc.string({ maxLength: 8 }));
    fc.assert(fc.property(fc.array(name, { maxLength: 6 }), fc.array(name, { maxLength: 6 }), (beside, locations) => {
      try {
        const files = onnxFiles([entry('m/net.onnx'), ...beside.map((b) => entry(`m/${b}`))]);
        if (!files) return;
        const sent = onnxDataEntries(files, locations);
        expect(new Set(sent.map((d) => d.name))).toEqual(new Set(locations));
        for (const d of sent) {
          expect(onnxFileNameSchema.safeParse(d.name).success).toBe(true);
          expect(files.beside.get(d.name)).toBe(d.entry);
        }
      } catch (error) {
        if (!(error instanceof ModelFolderError)) throw error;
      }
    }), { numRuns: 300 });
  });

  it('the contract takes only plain names beside model.onnx, which stay in their folder', () => {
    fc.assert(fc.property(fc.string({ maxLength: 20 }), (name) => {
      if (!onnxFileNameSchema.safeParse(name).success) return;
      const folder = path.join(os.tmpdir(), 'model');
      expect(path.dirname(path.join(folder, name))).toBe(folder);
      expect(path.basename(path.join(folder, name))).toBe(name);
    }), { numRuns: 500 });
    for (const bad of ['../x.bin', 'a/b.bin', 'a\\b.bin', '..', '.', '', 'w\n.bin']) expect(onnxFileNameSchema.safeParse(bad).success, bad).toBe(false);
  });
});

const hosts: Record<string, (workspaceDir: string) => Promise<{ api: FoolprintApi; close(): Promise<void> }>> = {
  'in-process service': async (workspaceDir) => {
    const service = createFoolprintService({ workspaceDir, checkOutputs: true, workers: 1 });
    return { api: createApiClient(service), close: () => service.close() };
  },
  'HTTP (browser mode)': async (workspaceDir) => {
    const server = await startServer({ workspaceDir, port: 0, workers: 1 });
    const transport: HttpTransport = createHttpTransport({ baseUrl: server.origin, fetch: globalThis.fetch as unknown as FetchLike, headers: { authorization: `Bearer ${server.token}` }, reconnectMs: 100 });
    return { api: createApiClient(transport), close: async () => { transport.close(); await server.close(); } };
  },
};

describe.each(Object.keys(hosts))('ONNX import through the %s', (hostName) => {
  let dir: string;
  let host: { api: FoolprintApi; close(): Promise<void> };
  let dwsep: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'foolprint-onnx-upload-'));
    host = await hosts[hostName](path.join(dir, 'workspace'));
    dwsep = (await readFile(path.join(FIXTURES, 'dwsep.onnx'))).toString('base64');
  }, 60_000);

  afterAll(async () => {
    await host?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('inspects an .onnx file without keeping anything, naming it as it was chosen', async () => {
    const inspection = await host.api.models.inspectOnnx({ name: 'My Net.onnx', base64: dwsep });
    expect(inspection).toMatchObject({ inputSize: [18, 18], channels: 3, classes: 6, outputs: 'probabilities' });
    expect(inspection.notes[0]).toMatch(/^no foolprint\.json beside my-net\.onnx: took input 18x18x3 and 6 outputs/);
    const broken = await host.api.models.inspectOnnx({ name: 'broken.onnx', base64: dwsep.slice(0, 400) }).catch((e: unknown) => e);
    expect(broken).toMatchObject({ code: 'invalid-input', message: expect.stringMatching(/^broken\.onnx is not an ONNX model/) });
  });

  it('uploads model.onnx with the foolprint.json the answers make, and lists it', async () => {
    const inspection = await host.api.models.inspectOnnx({ name: 'dwsep.onnx', base64: dwsep });
    const manifest = onnxManifest(inspection, { name: 'Depthwise', preset: 'unit', bgr: false, labels: ['a', 'b', 'c', 'd', 'e', 'f'] });
    const info = await host.api.models.upload({ name: manifest.name, files: [{ path: 'model.onnx', base64: dwsep }, { path: 'foolprint.json', base64: Buffer.from(JSON.stringify(manifest)).toString('base64') }] });
    expect(info).toMatchObject({ id: 'depthwise', name: 'Depthwise', inputShape: [18, 18, 3], labels: ['a', 'b', 'c', 'd', 'e', 'f'], source: 'imported' });
    expect((await readdir(info.folder)).sort()).toEqual(['foolprint.json', 'model.onnx']);
    expect((await host.api.models.list()).map((m) => m.id)).toContain('depthwise');
  });

  it('inspects and uploads a model whose weights are in an external data file, and refuses one without it', async () => {
    const { model, data } = withExternalData(await readFile(path.join(FIXTURES, 'lenet.onnx')), byRange('lenet.onnx.data'));
    const [base64, dataBase64] = [Buffer.from(model).toString('base64'), data.toString('base64')];
    const externalData = [{ path: 'lenet.onnx.data', base64: dataBase64 }];
    expect(await host.api.models.inspectOnnx({ name: 'lenet.onnx', base64, externalData })).toMatchObject({ inputSize: [28, 28], channels: 1, classes: 10 });
    const without = await host.api.models.inspectOnnx({ name: 'lenet.onnx', base64 }).catch((e: unknown) => e);
    expect(without).toMatchObject({ code: 'invalid-input', message: expect.stringMatching(/"lenet\.onnx\.data" is missing/) });
    const escaping = await host.api.models.inspectOnnx({ name: 'lenet.onnx', base64, externalData: [{ path: '../lenet.onnx.data', base64: dataBase64 }] }).catch((e: unknown) => e);
    expect(escaping).toMatchObject({ code: 'invalid-input', message: expect.stringMatching(/must be a file name beside model\.onnx/) });

    const manifest = { schemaVersion: 1, name: 'External LeNet', inputSize: [28, 28], channels: 1, preprocessing: { kind: 'symmetric' }, labels: 'abcdefghij'.split('') };
    const files = [{ path: 'model.onnx', base64 }, ...externalData, { path: 'foolprint.json', base64: Buffer.from(JSON.stringify(manifest)).toString('base64') }];
    const info = await host.api.models.upload({ name: 'ext-folder', files });
    expect(info).toMatchObject({ id: 'ext-folder', name: 'External LeNet', labels: manifest.labels });
    expect((await readdir(info.folder)).sort()).toEqual(['foolprint.json', 'lenet.onnx.data', 'model.onnx']);
    // In a subfolder, the data file is refused by the contract: an ONNX model's files sit beside it.
    const nested = await host.api.models.upload({ name: 'nested', files: [{ path: 'model.onnx', base64 }, { path: 'data/lenet.onnx.data', base64: dataBase64 }] }).catch((e: unknown) => e);
    expect(nested).toMatchObject({ code: 'invalid-input', message: expect.stringMatching(/the files of an ONNX model sit beside model\.onnx, not in subfolders/) });
  });

  it('a foolprint.json the schema refuses is its one-line error, and nothing is kept', async () => {
    const before = (await readdir(path.join(dir, 'workspace', 'models'))).filter((f) => !f.startsWith('.'));
    const bad = { schemaVersion: 1, name: 'Bad', inputSize: [18, 18], channels: 3, lables: ['a', 'b'] };
    const error = await host.api.models.upload({ name: 'bad-manifest', files: [{ path: 'model.onnx', base64: dwsep }, { path: 'foolprint.json', base64: Buffer.from(JSON.stringify(bad)).toString('base64') }] }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'invalid-input', message: expect.stringMatching(/^foolprint\.json: .*unknown key "lables" \(did you mean "labels"\?\)/) });
    expect((error as Error).message).not.toContain('\n');
    expect((await readdir(path.join(dir, 'workspace', 'models'))).filter((f) => !f.startsWith('.'))).toEqual(before);
    expect(existsSync(path.join(dir, 'workspace', 'models', 'bad-manifest'))).toBe(false);
  });

  it('refuses an upload with neither model.json nor model.onnx', async () => {
    const error = await host.api.models.upload({ name: 'x', files: [{ path: 'net.onnx', base64: dwsep }] }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'invalid-input', message: expect.stringMatching(/no model\.json \(or model\.onnx\) at the top of the upload/) });
  });
});
