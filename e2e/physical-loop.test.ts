/**
 * The whole physical experiment driven as a user would, in browser mode: attack built-in samples, make
 * a sheet, point the (fake) camera at a synthesised photo of it, capture, and read the comparison.
 * Also measures cold start to interactive and the live view's analysed frames per second.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { listBuiltinModels } from '../app/node/model-loader.js';
import { attackPrintCaptureCompare } from './flows.js';
import { ensureRendererBuilt, launchChromium, missingPrerequisite, openApp, screenshot, startBrowserMode } from './harness.js';
import type { AppPage, BrowserMode } from './harness.js';

const missing = missingPrerequisite() ?? (listBuiltinModels().length === 0 ? 'no built-in model in assets/models (train it with npm run train:mnist)' : null);
if (missing) console.warn(`e2e physical loop skipped: ${missing}`);

const IMAGES = 6;

describe.skipIf(missing !== null)('physical loop in browser mode', () => {
  let mode: BrowserMode;
  let browser: Browser;
  let app: AppPage;
  let cameraDir: string;
  let y4mFile: string;

  beforeAll(async () => {
    await ensureRendererBuilt();
    mode = await startBrowserMode();
    cameraDir = await mkdtemp(path.join(os.tmpdir(), 'foolprint-camera-'));
    y4mFile = path.join(cameraDir, 'sheet.y4m');
    browser = await launchChromium({ kind: 'fake', y4mFile });
    app = await openApp(browser, mode);
    console.log(`cold start to interactive (browser mode): ${app.coldStartMs} ms`);
  });

  afterAll(async () => {
    await browser?.close();
    await mode?.close();
    if (cameraDir) await rm(cameraDir, { recursive: true, force: true });
  });

  it('attacks, prints, captures and compares', async () => {
    try {
      const figures = await attackPrintCaptureCompare(app.page, { workspaceDir: mode.workspaceDir, y4mFile, images: IMAGES, prefix: 'loop' });
      console.log(`BIM-10 on ${IMAGES} images from the UI: ${figures.attackMs} ms; live view: ${figures.liveFps.toFixed(1)} analysed frames/s`);
    } catch (error) {
      await screenshot(app.page, 'loop-failure');
      throw new Error(`${error instanceof Error ? error.message : String(error)}\npage errors: ${app.consoleErrors.join(' | ') || 'none'}`, { cause: error });
    }
    expect(app.consoleErrors.filter((e) => !/favicon/.test(e))).toEqual([]);
  });

  it('takes the user\'s own image files, labelled by their names, typed labels matched to the model\'s', async () => {
    const { page } = app;
    const files: string[] = [];
    for (const [name, value] of [['3_first.png', 40], ['label-5.png', 200], ['photo.png', 120]] as const) {
      const file = path.join(cameraDir, name);
      await sharp(Buffer.alloc(28 * 28, value), { raw: { width: 28, height: 28, channels: 1 } }).png().toFile(file);
      files.push(file);
    }
    await page.getByRole('tab', { name: 'Attack' }).click();
    await page.getByRole('radio', { name: 'My files' }).check();
    await page.locator('input[type=file]').setInputFiles(files);
    const labels = page.locator('.files input.label');
    expect(await labels.evaluateAll((inputs) => inputs.map((i) => (i as unknown as { value: string }).value))).toEqual(['3', '5', '']);
    // A label the model does not have is refused by name, with the model's labels listed.
    await labels.nth(2).fill('seven');
    await page.getByRole('button', { name: 'Preview images' }).click();
    await page.getByText('photo.png: label "seven" is not one of the model\'s labels: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9').waitFor({ timeout: 10_000 });
    await labels.nth(2).fill(' 7 ');
    await page.getByRole('button', { name: 'Preview images' }).click();
    await page.getByTestId('sample-preview').waitFor({ timeout: 30_000 });
    expect(await page.getByTestId('sample-preview').locator('figcaption').allTextContents()).toEqual(['3', '5', '7']);
    await screenshot(page, 'loop-6-own-files');
  });
});
