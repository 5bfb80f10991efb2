/**
 * Issue 7, item 3: every path read from a model folder or from the workspace stays inside its folder.
 * The repros (a weightsManifest path "../secret/w.bin" or "../../../../etc/passwd", a symbolic link
 * pointing out, an edited sheet-set.json `pdfPath`, an edited analysis.json `record.file`, an edited
 * record.json) through the loader, the CLI, the in-process service and HTTP (browser mode); and a
 * property test of the one confinement function (app/node/confined-path.ts).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, realpath, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awaitJob, createApiClient, createHttpTransport } from '../app/api/index.js';
import type { FetchLike, FoolprintApi, HttpTransport } from '../app/api/index.js';
import type { ModelUploadFile } from '../app/api/models.js';
import { ModelError } from '../app/models/errors.js';
import { ConfinedPathError, confinedPath, isPathInside } from '../app/node/confined-path.js';
import { saveLayersModel } from '../app/node/model-io.js';
import { listBuiltinModels, loadClassifier } from '../app/node/model-loader.js';
import { createFoolprintService } from '../app/node/service.js';
import { startServer } from '../main/server/server.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const hasBuiltin = listBuiltinModels().some((m) => m.id === 'lenet-mnist');
const passwdSize = existsSync('/etc/passwd') ? (await stat('/etc/passwd')).size : -1;

let root: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  root = await realpath(await mkdtemp(path.join(os.tmpdir(), 'foolprint-confined-')));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('confinedPath', () => {
  let folder: string;
  beforeAll(async () => {
    folder = path.join(root, 'unit', 'folder');
    await mkdir(path.join(folder, 'sub'), { recursive: true });
    await mkdir(path.join(root, 'unit', 'secret'), { recursive: true });
    await writeFile(path.join(folder, 'a.bin'), 'a');
    await writeFile(path.join(folder, 'sub', 'b.bin'), 'b');
    await writeFile(path.join(root, 'unit', 'secret', 'w.bin'), 'secret');
    await symlink(path.join(root, 'unit', 'secret', 'w.bin'), path.join(folder, 'link-out.bin'));
    await symlink(path.join(root, 'unit', 'secret'), path.join(folder, 'dir-out'));
    await symlink(path.join(folder, 'sub', 'b.bin'), path.join(folder, 'link-in.bin'));
    await symlink(path.join(root, 'unit', 'secret', 'absent.bin'), path.join(folder, 'dangling-out.bin'));
  });

  const refused = async (stored: string, reason: 'outside' | 'missing') => {
    const error = await confinedPath(folder, stored, { what: 'weights file', folderName: 'the model folder' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfinedPathError);
    expect((error as ConfinedPathError).reason).toBe(reason);
    return (error as Error).message;
  };

  it('returns the real path of files inside, relative or absolute, through links that stay inside', async () => {
    expect(await confinedPath(folder, 'a.bin')).toBe(path.join(folder, 'a.bin'));
    expect(await confinedPath(folder, './sub/../sub/b.bin')).toBe(path.join(folder, 'sub', 'b.bin'));
    expect(await confinedPath(folder, path.join(folder, 'sub', 'b.bin'))).toBe(path.join(folder, 'sub', 'b.bin'));
    expect(await confinedPath(folder, 'link-in.bin')).toBe(path.join(folder, 'sub', 'b.bin'));
  });

  it('refuses "..", absolute paths elsewhere and links pointing out, with one line that names the stored path only', async () => {
    expect(await refused('../secret/w.bin', 'outside')).toBe('weights file "../secret/w.bin" points outside the model folder: refused');
    expect(await refused('../../../../etc/passwd', 'outside')).not.toMatch(/bytes|\d{3,}/);
    await refused('/etc/passwd', 'outside');
    await refused('link-out.bin', 'outside');
    await refused('dir-out/w.bin', 'outside');
    await refused('dangling-out.bin', 'outside');
    await refused('C:\\Windows\\win.ini', 'outside');
    await refused('', 'outside');
    await refused('.', 'outside');
    await refused('sub', 'missing'); // a folder where a file is expected
    await refused('absent.bin', 'missing');
    expect(await confinedPath(folder, 'absent.bin', { allowMissing: true })).toBe(path.join(folder, 'absent.bin'));
  });

  it('property: random relative paths with "..", "." and links never resolve outside the folder', async () => {
    const segment = fc.constantFrom('..', '.', 'sub', 'a.bin', 'b.bin', 'link-out.bin', 'link-in.bin', 'dir-out', 'w.bin', 'dangling-out.bin', 'folder', 'unit', 'secret');
    const realFolder = await realpath(folder);
    await fc.assert(
      fc.asyncProperty(fc.array(segment, { minLength: 1, maxLength: 8 }), async (segments) => {
        const stored = segments.join('/');
        const result = await confinedPath(folder, stored).then(
          (file) => ({ file }),
          (error: unknown) => ({ error }),
        );
        if ('error' in result) {
          expect(result.error).toBeInstanceOf(ConfinedPathError);
          return;
        }
        // Whatever came back is a real file strictly inside the folder's real path.
        const real = await realpath(result.file);
        expect(real).toBe(result.file);
        expect(real.startsWith(realFolder + path.sep)).toBe(true);
        expect((await stat(real)).isFile()).toBe(true);
      }),
      { numRuns: 300, seed: 7 },
    );
  });

  it('property: isPathInside agrees with "no .. step out of the folder" for lexical paths', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('..', '.', 'x', 'y', '..x'), { maxLength: 8 }), (segments) => {
        let depth = 0;
        let escaped = false;
        for (const s of segments) {
          if (s === '..') depth--;
          else if (s !== '.') depth++;
          if (depth < 0) escaped = true;
        }
        const base = path.join(root, 'p');
        const lexical = path.resolve(base, ...segments);
        expect(isPathInside(base, lexical)).toBe(!escaped);
      }),
      { numRuns: 500, seed: 11 },
    );
  });
});

/** Bias 5 on class 1: every input is class 1, so a model loaded from the right weights says 1. */
async function tinyModelFolder(folder: string): Promise<{ json: tf.io.ModelJSON; weights: Buffer }> {
  const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [4, 4, 1] }), tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: 'zeros' })] });
  (model.layers[1] as tf.layers.Layer).setWeights([tf.zeros([16, 3]), tf.tensor1d([0, 5, 0])]);
  await saveLayersModel(model, folder);
  model.dispose();
  await writeFile(path.join(folder, 'foolprint.json'), JSON.stringify({ schemaVersion: 1, name: 'tiny', inputSize: [4, 4], channels: 1, outputs: 'probabilities', labels: ['a', 'b', 'c'] }));
  return { json: JSON.parse(await readFile(path.join(folder, 'model.json'), 'utf8')) as tf.io.ModelJSON, weights: await readFile(path.join(folder, 'weights.bin')) };
}

/** A model folder whose model.json lists `shard` (relative to it) instead of weights.bin. */
async function modelListing(folder: string, shard: string): Promise<void> {
  const { json } = await tinyModelFolder(folder);
  json.weightsManifest[0].paths = [shard];
  await writeFile(path.join(folder, 'model.json'), JSON.stringify(json));
}

describe('weightsManifest paths stay in the model folder', () => {
  let models: string;
  beforeAll(async () => {
    models = path.join(root, 'models');
    // The right bytes outside: before the fix the model loaded from them.
    const secret = path.join(models, 'secret');
    await mkdir(secret, { recursive: true });
    const { weights } = await tinyModelFolder(path.join(models, 'source'));
    await writeFile(path.join(secret, 'w.bin'), weights);
    await modelListing(path.join(models, 'dotdot'), '../secret/w.bin');
    await modelListing(path.join(models, 'passwd'), '../../../../../../../../../../etc/passwd');
    await tinyModelFolder(path.join(models, 'linked'));
    await rm(path.join(models, 'linked', 'weights.bin'));
    await symlink(path.join(secret, 'w.bin'), path.join(models, 'linked', 'weights.bin'));
  });

  const loadError = async (name: string) => {
    const error = await loadClassifier({ kind: 'folder', path: path.join(models, name) }).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(ModelError);
    return (error as Error).message;
  };

  it('"../secret/w.bin" is refused, though the file there holds the right weights', async () => {
    expect(await loadError('dotdot')).toMatch(/^weights file "\.\.\/secret\/w\.bin" points outside the model folder: refused/);
  });
  it('"../../../../etc/passwd" is refused without its size in the message', async () => {
    const message = await loadError('passwd');
    expect(message).toMatch(/points outside the model folder/);
    expect(message).not.toMatch(/bytes/);
    if (passwdSize > 0) expect(message).not.toContain(String(passwdSize));
  });
  it('a weights.bin that is a symbolic link out of the folder is refused', async () => {
    expect(await loadError('linked')).toMatch(/weights file "weights\.bin" points outside the model folder through a symbolic link: refused .*copy the folder with its links resolved \(cp -rL\)/);
  });
  it('the CLI says so in one line and exits non-zero', async () => {
    const run = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(process.execPath, [path.join(repo, 'bin/foolprint.js'), 'doctor', '--model', path.join(models, 'dotdot'), '--workers', '1'], { cwd: repo, env: { ...process.env, FOOLPRINT_DEBUG: '' } }, (error, _stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stderr });
      });
    });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/weights file "\.\.\/secret\/w\.bin" points outside the model folder/);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });
});

interface Host {
  api: FoolprintApi;
  close(): Promise<void>;
}

const hosts: Record<string, (workspaceDir: string) => Promise<Host>> = {
  'in-process service': async (workspaceDir) => {
    const service = createFoolprintService({ workspaceDir, checkOutputs: true, workers: 1 });
    return { api: createApiClient(service), close: () => service.close() };
  },
  'HTTP (browser mode)': async (workspaceDir) => {
    const server = await startServer({ workspaceDir, port: 0, workers: 1 });
    const transport: HttpTransport = createHttpTransport({ baseUrl: server.origin, fetch: globalThis.fetch as unknown as FetchLike, headers: { authorization: `Bearer ${server.token}` }, reconnectMs: 100 });
    return {
      api: createApiClient(transport),
      async close() {
        transport.close();
        await server.close();
      },
    };
  },
};

describe.each(Object.keys(hosts))('paths in the workspace and in models, through the %s', (hostName) => {
  let dir: string;
  let workspace: string;
  let host: Host;

  beforeAll(async () => {
    dir = path.join(root, hostName.replace(/\W+/g, '-'));
    workspace = path.join(dir, 'workspace');
    await mkdir(dir, { recursive: true });
    host = await hosts[hostName](workspace);
  }, 60_000);
  afterAll(async () => {
    await host?.close();
  });

  const failure = async (call: Promise<unknown>) => {
    const error = await call.then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    const message = (error as Error).message;
    expect(message).not.toContain('\n');
    expect(message).not.toContain('root:x:0:0');
    return message;
  };

  it('models.import refuses a model whose weightsManifest leaves its folder', async () => {
    const models = path.join(dir, 'import');
    await mkdir(path.join(models, 'secret'), { recursive: true });
    const { weights } = await tinyModelFolder(path.join(models, 'source'));
    await writeFile(path.join(models, 'secret', 'w.bin'), weights);
    await modelListing(path.join(models, 'dotdot'), '../secret/w.bin');
    expect(await failure(host.api.models.import({ path: path.join(models, 'dotdot'), id: 'dotdot' }))).toMatch(/weights file "\.\.\/secret\/w\.bin" points outside the model folder/);
    expect((await host.api.models.list()).map((m) => m.id)).not.toContain('dotdot');
  }, 60_000);

  it('models.upload refuses a model.json listing "../secret/w.bin" (which would be another folder of the workspace)', async () => {
    const source = path.join(dir, 'upload-source');
    const { json, weights } = await tinyModelFolder(source);
    // Where "../secret/w.bin" lands from a staging folder under <workspace>/models/.
    await mkdir(path.join(workspace, 'models', 'secret'), { recursive: true });
    await writeFile(path.join(workspace, 'models', 'secret', 'w.bin'), weights);
    json.weightsManifest[0].paths = ['../secret/w.bin'];
    const files: ModelUploadFile[] = [
      { path: 'model.json', base64: Buffer.from(JSON.stringify(json)).toString('base64') },
      { path: 'foolprint.json', base64: (await readFile(path.join(source, 'foolprint.json'))).toString('base64') },
    ];
    expect(await failure(host.api.models.upload({ name: 'escape', files }))).toMatch(/weights file "\.\.\/secret\/w\.bin" points outside the model folder/);
    json.weightsManifest[0].paths = ['../../../../../../../../../../etc/passwd'];
    files[0].base64 = Buffer.from(JSON.stringify(json)).toString('base64');
    const message = await failure(host.api.models.upload({ name: 'escape', files }));
    expect(message).toMatch(/points outside the model folder/);
    if (passwdSize > 0) expect(message).not.toContain(String(passwdSize));
    expect((await readdir(path.join(workspace, 'models'))).sort()).toEqual(['secret']);
  }, 60_000);

  describe.skipIf(!hasBuiltin)('an experiment whose JSON files were edited', () => {
    let experimentId: string;
    let runId: string;
    let sheetSetId: string;
    let experimentDir: string;

    beforeAll(async () => {
      const experiment = await host.api.experiments.create({ name: 'edited files', modelId: 'lenet-mnist' });
      experimentId = experiment.id;
      experimentDir = experiment.folder;
      const { jobId } = await host.api.attacks.start({ experimentId, modelId: 'lenet-mnist', images: { kind: 'samples', limit: 2 }, params: { method: 'fgsm', epsilons: [0.1] } });
      runId = (await awaitJob(host.api, jobId, 'attack')).runId;
      const exported = await host.api.sheets.export({ experimentId, runId, pairs: true, dpi: 72 });
      sheetSetId = (await awaitJob(host.api, exported.jobId, 'sheetExport')).sheetSetId;
      // A capture of that sheet, as analyzePhoto stores it (analysis.json + capture.json), built from the manifest.
      const [manifest] = await host.api.capture.manifests({ experimentId });
      const top5 = [{ label: 1, probability: 0.9 }];
      const cells = manifest.cells.map((cell) => ({
        index: cell.index,
        role: cell.role,
        caption: cell.caption,
        status: 'ok',
        quad: [],
        quality: { ok: true, flags: [], sharpness: 1, contrast: 50, clippedDark: 0, clippedBright: 0, pixelsAcross: 60, darkLevel: 20, brightLevel: 230 },
        top5,
        record: { ...cell, index: undefined, role: undefined },
      }));
      const captureDir = path.join(experimentDir, 'captures', 'capture-edited');
      await mkdir(captureDir, { recursive: true });
      await writeFile(path.join(captureDir, 'analysis.json'), JSON.stringify({ status: 'ok', message: '', sheetId: manifest.sheetId, cells, warnings: [], missingMarkers: [] }));
      await writeFile(
        path.join(captureDir, 'capture.json'),
        JSON.stringify({ captureId: 'capture-edited', experimentId, createdAt: '', fileName: 'p.jpg', status: 'ok', message: '', sheetId: manifest.sheetId, cellCount: cells.length, analysedCells: cells.length, missingMarkers: [], reprojectionErrorPx: 0.3, warnings: [] }),
      );
    }, 120_000);

    const edit = async (file: string, change: (json: Record<string, unknown>) => void): Promise<() => Promise<void>> => {
      const original = await readFile(file, 'utf8');
      const json = JSON.parse(original) as Record<string, unknown>;
      change(json);
      await writeFile(file, JSON.stringify(json));
      return () => writeFile(file, original);
    };

    it('untouched, the files and thumbnails are served', async () => {
      const pdf = await host.api.sheets.file({ experimentId, sheetSetId, file: 'pdf' });
      expect(Buffer.from(pdf.base64, 'base64').subarray(0, 5).toString()).toBe('%PDF-');
      const report = await host.api.compare.get({ experimentId });
      expect(report.cells.length).toBeGreaterThan(0);
      expect(report.cells.every((c) => c.digitalPng?.startsWith('data:image/png;base64,'))).toBe(true);
      expect((await host.api.attacks.gallery({ experimentId, runId })).items).toHaveLength(2);
    }, 60_000);

    it('sheet-set.json with pdfPath "/etc/passwd" (or a link out): sheets.file and sheets.list refuse it', async () => {
      const setFile = path.join(experimentDir, 'sheets', sheetSetId, 'sheet-set.json');
      let restore = await edit(setFile, (json) => void (json.pdfPath = '/etc/passwd'));
      expect(await failure(host.api.sheets.file({ experimentId, sheetSetId, file: 'pdf' }))).toMatch(/the PDF of sheet set ".*" "\/etc\/passwd" points outside its folder/);
      expect(await failure(host.api.sheets.list({ experimentId }))).toMatch(/points outside/);
      await restore();
      restore = await edit(setFile, (json) => void (json.manifestPaths = ['../../../../../../../../../../etc/passwd']));
      expect(await failure(host.api.sheets.file({ experimentId, sheetSetId, file: 'manifest' }))).toMatch(/points outside/);
      expect(await failure(host.api.capture.manifests({ experimentId }))).toMatch(/points outside/);
      await restore();
      const link = path.join(experimentDir, 'sheets', sheetSetId, 'linked.pdf');
      await symlink('/etc/passwd', link);
      restore = await edit(setFile, (json) => void (json.pdfPath = link));
      expect(await failure(host.api.sheets.file({ experimentId, sheetSetId, file: 'pdf' }))).toMatch(/points outside/);
      await restore();
      await rm(link);
    }, 60_000);

    it('analysis.json with record.file "../../../../etc/passwd": compare.get refuses it instead of returning it as a thumbnail', async () => {
      const analysisFile = path.join(experimentDir, 'captures', 'capture-edited', 'analysis.json');
      const restore = await edit(analysisFile, (json) => void ((json.cells as { record: { file: string } }[])[0].record.file = '../../../../../../../../../../../etc/passwd'));
      expect(await failure(host.api.compare.get({ experimentId }))).toMatch(/the cell image "(\.\.\/)+etc\/passwd" points outside its attack run's folder \(capture "capture-edited": analysis\.json edited\?\)/);
      // Without thumbnails nothing is read, so nothing is refused.
      expect((await host.api.compare.get({ experimentId, thumbnails: false })).cells.length).toBeGreaterThan(0);
      await restore();
    }, 60_000);

    it('a sheet manifest whose source record lies outside the experiment gives no thumbnails from there', async () => {
      const manifestFile = (await readdir(path.join(experimentDir, 'sheets', sheetSetId))).find((f) => f.endsWith('.manifest.json')) as string;
      const restore = await edit(path.join(experimentDir, 'sheets', sheetSetId, manifestFile), (json) => void ((json.source as { path: string }).path = '/etc/record.json'));
      expect(await failure(host.api.compare.get({ experimentId }))).toMatch(/the sheet's source record "\/etc\/record\.json" points outside/);
      await restore();
    }, 60_000);

    it('record.json naming "../../../../etc/passwd" as an image: the gallery and sheets refuse it', async () => {
      const recordFile = path.join(experimentDir, 'images', runId, 'record.json');
      const restore = await edit(recordFile, (json) => void ((json.images as { clean: { file: string } }[])[0].clean.file = '../../../../../../../../../../etc/passwd'));
      expect(await failure(host.api.attacks.gallery({ experimentId, runId }))).toMatch(/record\.json image "(\.\.\/)+etc\/passwd" points outside the folder of run/);
      expect(await failure(host.api.sheets.preview({ experimentId, runId, pairs: true, previewDpi: 24 }))).toMatch(/record\.json image "(\.\.\/)+etc\/passwd" points outside the run folder/);
      await restore();
    }, 60_000);
  });
});
