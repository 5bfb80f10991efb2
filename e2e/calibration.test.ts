/**
 * Channel calibration as a user does it, in browser mode and real Chromium: make the calibration sheet
 * on the Print screen, then drop a photo of it (simulated through a known printer tone) on the Capture
 * screen and read the fitted profile's figures.
 */
import { readdir } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { simulatePhoto } from '../app/physical/simulate.js';
import { writeY4m } from './fake-camera.js';
import { ensureRendererBuilt, launchChromium, missingPrerequisite, openApp, screenshot, startBrowserMode } from './harness.js';
import type { AppPage, BrowserMode } from './harness.js';

const missing = missingPrerequisite();
if (missing) console.warn(`e2e calibration skipped: ${missing}`);

describe.skipIf(missing !== null)('channel calibration in browser mode', () => {
  let mode: BrowserMode;
  let browser: Browser;
  let app: AppPage;
  let dir: string;
  let y4mFile: string;

  beforeAll(async () => {
    await ensureRendererBuilt();
    mode = await startBrowserMode();
    dir = await mkdtemp(path.join(os.tmpdir(), 'foolprint-calibration-e2e-'));
    y4mFile = path.join(dir, 'calibration.y4m');
    browser = await launchChromium({ kind: 'fake', y4mFile });
    app = await openApp(browser, mode);
  });

  afterAll(async () => {
    await browser?.close();
    await mode?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('makes the sheet on the Print screen and fits a profile from its photo on the Capture screen', async () => {
    const { page } = app;
    try {
      await page.getByRole('tab', { name: 'Print' }).click();
      await page.getByRole('button', { name: 'Make a calibration sheet' }).click();
      await page.getByTestId('calibration-sheets').getByRole('button', { name: 'PDF' }).waitFor({ timeout: 30_000 });
      await screenshot(page, 'calibration-1-sheet');

      const sheetsDir = path.join(mode.workspaceDir, 'calibration', 'sheets');
      const [sheetFolder] = await readdir(sheetsDir);
      const { data, info } = await sharp(path.join(sheetsDir, sheetFolder, 'calibration.png')).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
      const darkened = (v: number) => 0.1 + 0.8 * v ** 1.3;
      const knots = Array.from({ length: 17 }, (_, k) => darkened(k / 16));
      const photo = simulatePhoto({ data: new Uint8ClampedArray(data), width: info.width, height: info.height }, { width: 1280, height: 960, tiltDeg: 10, jpegQuality: 0, tone: [knots, knots, knots], vignetting: 0, unevenLight: 0, colourCast: 0 }, 11);
      const photoFile = path.join(dir, 'calibration-photo.png');
      await sharp(Buffer.from(photo.image.data), { raw: { width: 1280, height: 960, channels: 4 } }).png().toFile(photoFile);

      await page.getByRole('tab', { name: 'Capture' }).click();
      const panel = page.getByTestId('channel-profiles');
      await panel.getByLabel('Profile name').fill('e2e printer');
      await panel.locator('input[type=file]').setInputFiles([photoFile]);
      await panel.getByTestId('profile-figures').waitFor({ timeout: 60_000 });
      expect(await panel.getByTestId('calibration-message').textContent()).toContain('Profile "e2e printer" fitted from 1 photo(s).');
      expect(await panel.getByRole('img', { name: 'Tone curves' }).count()).toBe(1);
      expect(await panel.getByTestId('profile-figures').textContent()).toMatch(/Blur σ\s*0\.\d{3} mm/);
      await screenshot(page, 'calibration-2-profile');

      // The camera: with an experiment open, a still of the running camera fits a second profile.
      await writeY4m(y4mFile, [simulatePhoto({ data: new Uint8ClampedArray(data), width: info.width, height: info.height }, { width: 1280, height: 960, tiltDeg: 8, jpegQuality: 0, clutter: 4 }, 12).image]);
      await page.getByRole('tab', { name: 'Experiments' }).click();
      await page.getByLabel('New experiment').fill('calibration e2e');
      await page.getByRole('button', { name: 'Create' }).click();
      // Creating opens the experiment on the Attack screen; only then go to Capture.
      await page.getByRole('heading', { name: 'Attack' }).waitFor({ timeout: 30_000 });
      await page.getByRole('tab', { name: 'Capture' }).click();
      await page.getByRole('button', { name: 'Start camera' }).click();
      await panel.getByLabel('Profile name').fill('camera still');
      await panel.getByRole('button', { name: 'Calibrate from a camera still' }).click();
      await expect.poll(async () => panel.getByTestId('calibration-message').textContent(), { timeout: 60_000 }).toMatch(/^Profile "camera still" fitted from 1 photo\(s\)\.$/);
      expect(await panel.locator('select option').allTextContents()).toEqual(['e2e printer', 'camera still']);
    } catch (error) {
      await screenshot(page, 'calibration-failure');
      throw new Error(`${error instanceof Error ? error.message : String(error)}\npage errors: ${app.consoleErrors.join(' | ') || 'none'}`, { cause: error });
    }
    expect(app.consoleErrors.filter((e) => !/favicon/.test(e))).toEqual([]);
  });
});
