/**
 * Importing an .onnx file on the Models screen in browser mode, in Chromium: the file dropped on the
 * drop zone (or chosen with the file picker), what the graph says shown (input size, channels, classes), the preprocessing and a
 * labels file chosen, the model imported and then attacked from the Attack screen; a broken
 * .onnx file, whose loader message shows in the page and leaves nothing in the workspace; a folder
 * with its own foolprint.json, imported at once under it (a bad one refused, nothing kept); and a
 * model whose weights sit in an external data file, dropped with it and a labels file.
 */
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { ensureRendererBuilt, launchChromium, missingPrerequisite, openApp, screenshot, startBrowserMode } from './harness.js';
import type { AppPage, BrowserMode } from './harness.js';
import { byRange, withExternalData } from '../test/onnx-external-fixture.js';

const missing = missingPrerequisite();
if (missing) console.warn(`e2e ONNX import skipped: ${missing}`);

const FIXTURES = path.join(import.meta.dirname, '..', 'test', 'fixtures', 'onnx');
const DIGITS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];

/** A drop event carrying `name` with `bytes` (and more files), as a drag from the file manager delivers them. */
async function dropFile(page: Page, name: string, bytes: Buffer, more: { name: string; bytes: Buffer }[] = []): Promise<void> {
  const list = [{ name, bytes }, ...more].map((f) => ({ name: f.name, base64: f.bytes.toString('base64') }));
  const dataTransfer = await page.evaluateHandle((files) => {
    const { DataTransfer } = globalThis as unknown as { DataTransfer: new () => { items: { add(file: File): void } } };
    const transfer = new DataTransfer();
    for (const file of files) transfer.items.add(new File([Uint8Array.from(atob(file.base64), (c) => c.charCodeAt(0))], file.name));
    return transfer;
  }, list);
  const zone = page.getByRole('region', { name: 'Drop zone for a TF.js or ONNX model' });
  await zone.dispatchEvent('dragover', { dataTransfer });
  await zone.dispatchEvent('drop', { dataTransfer });
}

describe.skipIf(missing !== null)('ONNX import on the Models screen (browser mode)', () => {
  let mode: BrowserMode;
  let browser: Browser;
  let app: AppPage;
  let scratch: string;
  const modelsDir = () => path.join(mode.workspaceDir, 'models');

  beforeAll(async () => {
    scratch = await mkdtemp(path.join(os.tmpdir(), 'foolprint-e2e-onnx-'));
    await ensureRendererBuilt();
    mode = await startBrowserMode();
    browser = await launchChromium({ kind: 'none' });
    app = await openApp(browser, mode);
    await app.page.getByRole('tab', { name: 'Models' }).click();
  });

  afterAll(async () => {
    await browser?.close();
    await mode?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('a dropped .onnx shows what the graph says, asks the rest, imports, and attacks', async () => {
    const { page } = app;
    await dropFile(page, 'lenet.onnx', await readFile(path.join(FIXTURES, 'lenet.onnx')));
    const inferred = page.getByTestId('onnx-inferred');
    await inferred.waitFor({ timeout: 60_000 });
    expect(await inferred.textContent()).toMatch(/lenet\.onnx: input 28×28, 1 channel \(grey\), 10 classes \(logits\)/);
    // A one-channel model has no per-channel ImageNet statistics and no channel order to choose.
    expect(await page.getByRole('radio', { name: 'ImageNet mean/std' }).isDisabled()).toBe(true);
    expect(await page.getByRole('checkbox', { name: /BGR/ }).count()).toBe(0);

    // A labels file that names the wrong number of classes is refused in the page.
    await page.getByTestId('onnx-labels-input').setInputFiles({ name: 'short.txt', mimeType: 'text/plain', buffer: Buffer.from('cat\ndog\n') });
    await page.getByRole('alert').filter({ hasText: 'short.txt names 2 classes, the model outputs 10' }).waitFor();
    await page.getByTestId('onnx-labels-input').setInputFiles({ name: 'digits.txt', mimeType: 'text/plain', buffer: Buffer.from(DIGITS.join('\n') + '\n') });
    await page.getByText('Labels: digits.txt (zero, one, two, …)').waitFor();
    await page.getByLabel('Name').fill('LeNet from ONNX');
    await page.getByRole('radio', { name: '[−1, 1]' }).check();
    await screenshot(page, 'onnx-import-form');
    await page.getByRole('button', { name: 'Import model' }).click();

    const row = page.locator('table.models tbody tr', { hasText: 'LeNet from ONNX' });
    await row.waitFor({ timeout: 60_000 });
    expect(await row.textContent()).toMatch(/28×28×1/);
    expect(await row.textContent()).toMatch(/zero, one, two, three/);
    await page.getByRole('status').filter({ hasText: 'Imported “LeNet from ONNX” as lenet-from-onnx' }).waitFor();
    expect(await row.getByRole('radio').isChecked()).toBe(true);
    const folder = path.join(modelsDir(), 'lenet-from-onnx');
    expect((await readdir(folder)).sort()).toEqual(['foolprint.json', 'model.onnx']);
    const manifest = JSON.parse(await readFile(path.join(folder, 'foolprint.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest).toMatchObject({ inputSize: [28, 28], channels: 1, labels: DIGITS, preprocessing: { kind: 'symmetric' }, outputs: 'logits' });
    expect((await readFile(path.join(folder, 'model.onnx'))).equals(await readFile(path.join(FIXTURES, 'lenet.onnx')))).toBe(true);

    // Attack with it: FGSM on four built-in digits.
    await page.getByRole('tab', { name: 'Attack' }).click();
    await page.getByLabel('Count').fill('4');
    await page.getByRole('button', { name: 'Preview images' }).click();
    await page.getByTestId('sample-preview').waitFor({ timeout: 60_000 });
    await page.locator('select[name=method]').selectOption('fgsm');
    await page.locator('input[name=epsilons]').fill('32');
    await page.getByRole('button', { name: 'Run attack' }).click();
    const gallery = page.getByTestId('gallery');
    await gallery.waitFor({ timeout: 120_000 });
    expect(await gallery.locator('figure').count()).toBe(4);
    // The class names from the labels file show where labels show.
    expect(await gallery.textContent()).toMatch(new RegExp(DIGITS.join('|')));
    await screenshot(page, 'onnx-import-attack');
    await page.getByRole('tab', { name: 'Models' }).click();
  });

  it('a broken .onnx chosen with "Choose files or .onnx…" shows the loader\'s message and keeps nothing', async () => {
    const { page } = app;
    const before = await readdir(modelsDir());
    const chooser = page.waitForEvent('filechooser');
    await page.getByRole('button', { name: 'Choose files or .onnx…' }).click();
    await (await chooser).setFiles({ name: 'broken.onnx', mimeType: 'application/octet-stream', buffer: (await readFile(path.join(FIXTURES, 'resnet-bn.onnx'))).subarray(0, 1000) });
    const alert = page.getByRole('alert').filter({ hasText: /Could not import the model/ });
    await alert.waitFor({ timeout: 60_000 });
    expect(await alert.textContent()).toMatch(/Could not import the model: broken\.onnx is not an ONNX model/);
    expect(await readdir(modelsDir())).toEqual(before);
    expect(await page.getByTestId('onnx-inferred').count()).toBe(0);
    expect(app.consoleErrors.filter((e) => !/Failed to load resource/.test(e))).toEqual([]);
  });

  /** A model folder holding the ONNX LeNet as model.onnx, the PyTorch checkpoint beside it, and `manifest` as its foolprint.json. */
  async function onnxFolder(name: string, manifest: object): Promise<string> {
    const folder = path.join(scratch, name);
    await mkdir(folder, { recursive: true });
    await writeFile(path.join(folder, 'model.onnx'), await readFile(path.join(FIXTURES, 'lenet.onnx')));
    await writeFile(path.join(folder, 'lenet.pt'), Buffer.alloc(4096, 7));
    await writeFile(path.join(folder, 'foolprint.json'), JSON.stringify(manifest));
    return folder;
  }

  it('a chosen folder with its own foolprint.json is imported at once, with its labels and preprocessing', async () => {
    const { page } = app;
    const manifest = { schemaVersion: 1, name: 'LeNet with its manifest', inputSize: [28, 28], channels: 1, preprocessing: { kind: 'byte' }, labels: DIGITS.map((d) => d.toUpperCase()) };
    const folder = await onnxFolder('onnx-with-manifest', manifest);
    await page.getByTestId('model-folder-input').setInputFiles(folder);
    const row = page.locator('table.models tbody tr', { hasText: 'LeNet with its manifest' });
    await row.waitFor({ timeout: 60_000 });
    expect(await row.textContent()).toMatch(/ZERO, ONE, TWO/);
    await page.getByRole('status').filter({ hasText: 'Imported “LeNet with its manifest” as onnx-with-manifest, with the labels and preprocessing of its foolprint.json.' }).waitFor();
    // No question asked: the manifest said it all.
    expect(await page.getByTestId('onnx-inferred').count()).toBe(0);
    const stored = path.join(modelsDir(), 'onnx-with-manifest');
    // The checkpoint beside it stays behind: only what the model needs is sent.
    expect((await readdir(stored)).sort()).toEqual(['foolprint.json', 'model.onnx']);
    expect(JSON.parse(await readFile(path.join(stored, 'foolprint.json'), 'utf8'))).toEqual(manifest);
    await screenshot(page, 'onnx-import-with-manifest');
  });

  it('a folder whose foolprint.json the schema refuses shows its one-line error and keeps nothing', async () => {
    const { page } = app;
    const before = await readdir(modelsDir());
    const folder = await onnxFolder('onnx-bad-manifest', { schemaVersion: 1, name: 'Misspelt', inputSize: [28, 28], channels: 1, lables: DIGITS });
    await page.getByTestId('model-folder-input').setInputFiles(folder);
    const alert = page.getByRole('alert').filter({ hasText: /Could not import the model/ });
    await alert.waitFor({ timeout: 60_000 });
    expect(await alert.textContent()).toMatch(/Could not import the model: foolprint\.json: .*unknown key "lables" \(did you mean "labels"\?\)/);
    expect(await readdir(modelsDir())).toEqual(before);
    expect(await page.getByTestId('onnx-inferred').count()).toBe(0);
  });

  it('a model with external data: dropped alone it names the missing file; dropped with it and labels.txt, the form takes both', async () => {
    const { page } = app;
    const { model, data } = withExternalData(await readFile(path.join(FIXTURES, 'lenet.onnx')), byRange('net.onnx.data'));
    await dropFile(page, 'net.onnx', Buffer.from(model));
    const alert = page.getByRole('alert').filter({ hasText: /net\.onnx keeps its weights in "net\.onnx\.data", not among the files dropped or chosen/ });
    await alert.waitFor({ timeout: 60_000 });

    await dropFile(page, 'net.onnx', Buffer.from(model), [{ name: 'net.onnx.data', bytes: data }, { name: 'labels.txt', bytes: Buffer.from(DIGITS.join('\n')) }]);
    const inferred = page.getByTestId('onnx-inferred');
    await inferred.waitFor({ timeout: 60_000 });
    expect(await inferred.textContent()).toMatch(/net\.onnx: input 28×28, 1 channel \(grey\), 10 classes/);
    expect(await page.getByTestId('onnx-external-data').textContent()).toMatch(/Weights read from net\.onnx\.data, beside it/);
    await page.getByText('Labels: labels.txt (zero, one, two, …)').waitFor();
    await page.getByLabel('Name').fill('External LeNet');
    await page.getByRole('button', { name: 'Import model' }).click();
    await page.locator('table.models tbody tr', { hasText: 'External LeNet' }).waitFor({ timeout: 60_000 });
    const stored = path.join(modelsDir(), 'external-lenet');
    expect((await readdir(stored)).sort()).toEqual(['foolprint.json', 'model.onnx', 'net.onnx.data']);
    expect((await readFile(path.join(stored, 'net.onnx.data'))).equals(data)).toBe(true);
    expect(JSON.parse(await readFile(path.join(stored, 'foolprint.json'), 'utf8'))).toMatchObject({ labels: DIGITS });
    expect(app.consoleErrors.filter((e) => !/Failed to load resource/.test(e))).toEqual([]);
  });
});
