/**
 * Importing a TF.js model on the Models screen without typing a path, in browser mode: a folder
 * chosen with "Choose folder…" (Playwright's setInputFiles on the webkitdirectory input), loose
 * files dropped on the drop zone, and a folder whose shard is missing, which must show the loader's
 * message in the page and leave no model folder in the workspace.
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { saveLayersModel } from '../app/node/model-io.js';
import { ensureRendererBuilt, launchChromium, missingPrerequisite, openApp, screenshot, startBrowserMode } from './harness.js';
import type { AppPage, BrowserMode } from './harness.js';

const missing = missingPrerequisite();
if (missing) console.warn(`e2e model upload skipped: ${missing}`);

/** A 4x4 grey-level, 3-class model saved as TF.js files, with or without its foolprint.json. */
async function writeModelFolder(folder: string, name: string, withManifest = true): Promise<void> {
  tf.setBackend('cpu');
  const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [4, 4, 1] }), tf.layers.dense({ units: 3, activation: 'softmax' })] });
  await saveLayersModel(model, folder);
  model.dispose();
  if (withManifest) {
    await writeFile(path.join(folder, 'foolprint.json'), JSON.stringify({ schemaVersion: 1, name, inputSize: [4, 4], channels: 1, outputs: 'probabilities', labels: ['cat', 'dog', 'bird'] }));
  }
  // What else sits in a real export folder; the page must leave it out.
  await writeFile(path.join(folder, 'README.md'), 'exported with tensorflowjs_converter\n');
}

describe.skipIf(missing !== null)('model upload on the Models screen (browser mode)', () => {
  let mode: BrowserMode;
  let scratch: string;
  let browser: Browser;
  let app: AppPage;
  const modelsDir = () => path.join(mode.workspaceDir, 'models');

  beforeAll(async () => {
    await ensureRendererBuilt();
    mode = await startBrowserMode();
    scratch = await mkdtemp(path.join(os.tmpdir(), 'foolprint-e2e-upload-'));
    browser = await launchChromium({ kind: 'none' });
    app = await openApp(browser, mode);
    await app.page.getByRole('tab', { name: 'Models' }).click();
  });

  afterAll(async () => {
    await browser?.close();
    await mode?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('imports a folder chosen with "Choose folder…" and lists it', async () => {
    const folder = path.join(scratch, 'chosen-model');
    await writeModelFolder(folder, 'Chosen e2e model');
    const { page } = app;
    // By keyboard: Tab to the button, Enter opens the folder chooser.
    const button = page.getByRole('button', { name: 'Choose folder…' });
    // Listening turns on Playwright's file chooser interception, asynchronously: start well before Enter.
    const chooser = page.waitForEvent('filechooser');
    await page.getByRole('button', { name: 'Evaluate' }).last().focus();
    const focused = () => button.evaluate((b) => b === b.ownerDocument.activeElement);
    for (let presses = 0; presses < 20 && !(await focused()); presses++) await page.keyboard.press('Tab');
    expect(await focused(), 'Tab reaches "Choose folder…"').toBe(true);
    await page.keyboard.press('Enter');
    await (await chooser).setFiles(folder);
    const row = page.locator('table.models tbody tr', { hasText: 'Chosen e2e model' });
    await row.waitFor({ timeout: 60_000 });
    expect(await row.textContent()).toMatch(/4×4×1/);
    await page.getByRole('status').filter({ hasText: 'Imported “Chosen e2e model” as chosen-model' }).waitFor();
    expect(await row.getByRole('radio').isChecked()).toBe(true);
    // The focus stays where the user left it, visibly.
    expect(await button.evaluate((b) => b === b.ownerDocument.activeElement && b.matches(':focus-visible'))).toBe(true);
    expect((await readdir(path.join(modelsDir(), 'chosen-model'))).sort()).toEqual(['foolprint.json', 'model.json', 'weights.bin']);
    await screenshot(page, 'model-upload-chosen-folder');
  });

  it('imports model files dropped on the drop zone', async () => {
    const folder = path.join(scratch, 'dropped-model');
    await writeModelFolder(folder, 'Dropped e2e model');
    const { page } = app;
    const files = await Promise.all(['model.json', 'weights.bin', 'foolprint.json'].map(async (name) => ({ name, base64: (await readFile(path.join(folder, name))).toString('base64') })));
    // A real drag from the file manager cannot be scripted; a drop event carrying the same files can.
    const dataTransfer = await page.evaluateHandle((list) => {
      // This runs in the page; the e2e code compiles without the DOM's types.
      const { DataTransfer } = globalThis as unknown as { DataTransfer: new () => { items: { add(file: File): void } } };
      const transfer = new DataTransfer();
      for (const { name, base64 } of list) transfer.items.add(new File([Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))], name));
      return transfer;
    }, files);
    const zone = page.getByRole('region', { name: 'Drop zone for a TF.js or ONNX model' });
    await zone.dispatchEvent('dragover', { dataTransfer });
    await zone.dispatchEvent('drop', { dataTransfer });
    await page.locator('table.models tbody tr', { hasText: 'Dropped e2e model' }).waitFor({ timeout: 60_000 });
    // Loose files have no folder name: the id comes from foolprint.json's name.
    await page.getByRole('status').filter({ hasText: 'Imported “Dropped e2e model” as dropped-e2e-model' }).waitFor();
  });

  it('shows the loader\'s message for a folder with a missing shard and keeps nothing of it', async () => {
    const folder = path.join(scratch, 'broken-upload');
    await writeModelFolder(folder, 'Broken e2e model');
    const json = JSON.parse(await readFile(path.join(folder, 'model.json'), 'utf8')) as tf.io.ModelJSON;
    json.weightsManifest[0].paths = ['group1-shard1of1.bin'];
    await writeFile(path.join(folder, 'model.json'), JSON.stringify(json));
    const before = await readdir(modelsDir());
    const { page } = app;
    await page.getByTestId('model-folder-input').setInputFiles(folder);
    const alert = page.getByRole('alert').filter({ hasText: /Could not import the model/ });
    await alert.waitFor({ timeout: 60_000 });
    expect(await alert.textContent()).toMatch(/Could not import the model: weights file group1-shard1of1\.bin is missing \(model\.json lists it, looked in the uploaded folder\)/);
    expect(await readdir(modelsDir())).toEqual(before);
    expect(await page.locator('table.models tbody tr', { hasText: 'Broken e2e model' }).count()).toBe(0);
    await screenshot(page, 'model-upload-missing-shard');
    expect(app.consoleErrors.filter((e) => !/Failed to load resource/.test(e))).toEqual([]);
  });
});
