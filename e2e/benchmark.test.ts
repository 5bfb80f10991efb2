/**
 * Browser-mode figures for the report: cold start to interactive, and a 100-image BIM-10 attack run
 * from the UI (click to gallery). CPU-heavy, so it runs only when FOOLPRINT_E2E_BENCH=1. The live
 * view's analysed frames/s is measured by the physical-loop spec.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { listBuiltinModels } from '../app/node/model-loader.js';
import { ensureRendererBuilt, launchChromium, missingPrerequisite, openApp, screenshot, startBrowserMode } from './harness.js';
import type { BrowserMode } from './harness.js';

const missing =
  (process.env.FOOLPRINT_E2E_BENCH === '1' ? null : 'set FOOLPRINT_E2E_BENCH=1 to run the UI benchmark') ??
  missingPrerequisite() ??
  (listBuiltinModels().length === 0 ? 'no built-in model in assets/models' : null);
if (missing) console.warn(`e2e benchmark skipped: ${missing}`);

describe.skipIf(missing !== null)('browser-mode benchmark', () => {
  let mode: BrowserMode;
  let browser: Browser;

  beforeAll(async () => {
    await ensureRendererBuilt();
    mode = await startBrowserMode();
    browser = await launchChromium({ kind: 'none' });
  });

  afterAll(async () => {
    await browser?.close();
    await mode?.close();
  });

  it('cold start and a 100-image BIM-10 attack from the UI', async () => {
    const colds: number[] = [];
    for (let i = 0; i < 3; i++) {
      const app = await openApp(browser, mode);
      colds.push(app.coldStartMs);
      await app.context.close();
    }
    const app = await openApp(browser, mode);
    const { page } = app;
    await page.getByRole('tab', { name: 'Attack' }).click();
    await page.getByLabel('Count').fill('100');
    await page.locator('select[name=method]').selectOption('bim');
    await page.locator('input[name=epsilons]').fill('8');
    await page.locator('input[name=steps]').fill('10');
    await page.locator('input[name=step]').fill('1');
    const started = Date.now();
    await page.getByRole('button', { name: 'Run attack' }).click();
    await page.getByTestId('run-summary').waitFor({ timeout: 170_000 });
    const attackMs = Date.now() - started;
    const summary = await page.getByTestId('run-summary').textContent();
    await screenshot(page, 'bench-attack-100');
    console.log(`cold start to interactive: ${colds.join(', ')} ms (first is the cold one); BIM-10 on 100 images from the UI: ${attackMs} ms (${summary?.trim()})`);
    expect(await page.locator('option', { hasText: /BIM · 100 images/ }).count()).toBe(1);
    expect(summary).toMatch(/^clean \d+\.\d% → ε 8\/255/);
  });
});
