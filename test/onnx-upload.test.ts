/**
 * Importing an .onnx file as the Models screen does: models.inspectOnnx reads what the graph says
 * (in-process and over HTTP), the answers become a foolprint.json (renderer/src/onnx-import.ts,
 * checked by the manifest schema), and models.upload stores model.onnx with it; labels files are
 * parsed as one name per line or a JSON array and must name every class.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiClient, createHttpTransport } from '../app/api/index.js';
import type { FetchLike, FoolprintApi, HttpTransport } from '../app/api/index.js';
import { createFoolprintService } from '../app/node/service.js';
import { startServer } from '../main/server/server.js';
import { onnxManifest, parseLabelsFile } from '../renderer/src/onnx-import.js';

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

  it('refuses an upload with neither model.json nor model.onnx', async () => {
    const error = await host.api.models.upload({ name: 'x', files: [{ path: 'net.onnx', base64: dwsep }] }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'invalid-input', message: expect.stringMatching(/no model\.json \(or model\.onnx\) at the top of the upload/) });
  });
});
