/**
 * Importing an .onnx file on the Models screen in browser mode, in Chromium: the file dropped on the
 * drop zone (or chosen with the file picker), what the graph says shown (input size, channels, classes), the preprocessing and a
 * labels file chosen, the model imported and then attacked from the Attack screen; and a broken
 * .onnx file, whose loader message shows in the page and leaves nothing in the workspace.
 */
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { ensureRendererBuilt, launchChromium, missingPrerequisite, openApp, screenshot, startBrowserMode } from './harness.js';
import type { AppPage, BrowserMode } from './harness.js';

const missing = missingPrerequisite();
if (missing) console.warn(`e2e ONNX import skipped: ${missing}`);

const FIXTURES = path.join(import.meta.dirname, '..', 'test', 'fixtures', 'onnx');
const DIGITS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];

/** A drop event carrying `name` with `bytes`, as a drag from the file manager delivers it. */
async function dropFile(page: Page, name: string, bytes: Buffer): Promise<void> {
  const dataTransfer = await page.evaluateHandle(([fileName, base64]) => {
    const { DataTransfer } = globalThis as unknown as { DataTransfer: new () => { items: { add(file: File): void } } };
    const transfer = new DataTransfer();
    transfer.items.add(new File([Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))], fileName));
    return transfer;
  }, [name, bytes.toString('base64')] as const);
  const zone = page.getByRole('region', { name: 'Drop zone for a TF.js or ONNX model' });
  await zone.dispatchEvent('dragover', { dataTransfer });
  await zone.dispatchEvent('drop', { dataTransfer });
}

describe.skipIf(missing !== null)('ONNX import on the Models screen (browser mode)', () => {
  let mode: BrowserMode;
  let browser: Browser;
  let app: AppPage;
  const modelsDir = () => path.join(mode.workspaceDir, 'models');

  beforeAll(async () => {
    await ensureRendererBuilt();
    mode = await startBrowserMode();
    browser = await launchChromium({ kind: 'none' });
    app = await openApp(browser, mode);
    await app.page.getByRole('tab', { name: 'Models' }).click();
  });

  afterAll(async () => {
    await browser?.close();
    await mode?.close();
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
});
