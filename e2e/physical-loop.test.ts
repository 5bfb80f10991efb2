/**
 * The whole physical experiment driven as a user would, in browser mode: attack built-in samples, make
 * a sheet, point the (fake) camera at a synthesised photo of it, capture, and read the comparison.
 * Also measures cold start to interactive and the live view's analysed frames per second.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { listBuiltinModels } from '../app/node/model-loader.js';
import { readRgba, sheetPhotoFrames, writeY4m } from './fake-camera.js';
import { ensureRendererBuilt, findFiles, launchChromium, missingPrerequisite, openApp, screenshot, startBrowserMode } from './harness.js';
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
    // Chromium opens the fake camera's file only when the page asks for the camera, so the video is
    // written below, once the UI has exported the sheet it must show.
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
      await physicalLoop();
    } catch (error) {
      await screenshot(app.page, 'loop-failure');
      throw new Error(`${error instanceof Error ? error.message : String(error)}\npage errors: ${app.consoleErrors.join(' | ') || 'none'}`, { cause: error });
    }
  });

  async function physicalLoop(): Promise<void> {
    const { page } = app;
    await page.getByRole('tab', { name: 'Attack' }).click();
    await page.getByLabel('Count').fill(String(IMAGES));
    await page.locator('select[name=method]').selectOption('bim');
    await page.locator('input[name=epsilons]').fill('16');
    await page.getByRole('button', { name: 'Run attack' }).click();
    await page.getByTestId('gallery').waitFor({ timeout: 120_000 });
    expect(await page.getByTestId('gallery').locator('figure').count()).toBe(IMAGES);
    await screenshot(page, 'loop-1-attack');

    await page.getByRole('tab', { name: 'Print' }).click();
    await page.getByLabel('Images').fill(String(IMAGES));
    await page.getByRole('img', { name: /sheet preview/ }).waitFor({ timeout: 60_000 });
    await page.getByRole('button', { name: 'Export PDF + PNG' }).click();
    await page.getByRole('status').filter({ hasText: /^Exported/ }).waitFor({ timeout: 120_000 });
    await screenshot(page, 'loop-2-print');

    const [sheetPng] = await findFiles(mode.workspaceDir, /^sheet\.png$/);
    expect(sheetPng, 'the exported sheet PNG is in the workspace').toBeTruthy();
    const frames = sheetPhotoFrames(await readRgba(sheetPng), { frames: 3, seed: 11 });
    await writeY4m(y4mFile, frames);

    await page.getByRole('tab', { name: 'Capture' }).click();
    await page.getByRole('button', { name: 'Start camera' }).click();
    const live = page.getByTestId('live-status');
    await expect.poll(async () => live.textContent(), { timeout: 60_000 }).toMatch(/4\/4 markers/);
    await page.getByTestId('live-fps').waitFor({ timeout: 30_000 });
    await page.waitForTimeout(3000);
    const fps = Number(await page.getByTestId('live-fps').textContent());
    console.log(`live view: ${fps.toFixed(1)} analysed frames/s (${await live.textContent()})`);
    expect(fps).toBeGreaterThan(0);
    await screenshot(page, 'loop-3-live');

    await page.getByRole('button', { name: 'Capture still' }).click();
    const last = page.getByTestId('last-capture');
    await last.waitFor({ timeout: 60_000 });
    expect(await last.getAttribute('data-status')).toBe('ok');
    await screenshot(page, 'loop-4-captured');

    await page.getByRole('tab', { name: 'Compare' }).click();
    const cells = page.getByTestId('compare-cells').locator('figure');
    await expect.poll(async () => cells.count(), { timeout: 60_000 }).toBe(2 * IMAGES);
    // Every printed cell was found and classified in the photo.
    expect(await page.getByTestId('compare-cells').locator('figure.missing').count()).toBe(0);
    // Clean digits survive the camera: each clean cell's photo prediction equals its digital one.
    const clean = page.getByTestId('compare-cells').locator('figure[data-kind="clean"]');
    expect(await clean.count()).toBe(IMAGES);
    expect(await clean.evaluateAll((figures) => figures.map((f) => f.getAttribute('data-agree')))).toEqual(Array(IMAGES).fill('true'));
    const destruction = await page.getByTestId('destruction-top1').allTextContents();
    expect(destruction.length).toBeGreaterThan(0);
    expect(destruction.some((text) => /\d+(\.\d)?%/.test(text)), `a destruction rate is shown (${destruction.join(', ')})`).toBe(true);
    await screenshot(page, 'loop-5-compare');
    expect(app.consoleErrors.filter((e) => !/favicon/.test(e))).toEqual([]);
  }
});
