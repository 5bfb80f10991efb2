/**
 * The user journeys the e2e specs drive, written once against a Playwright Page so the same steps run
 * in browser mode (Chromium) and in the Electron window.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import type { Page } from 'playwright-core';
import { readRgba, sheetPhotoFrames, writeY4m } from './fake-camera.js';
import { findFiles, screenshot } from './harness.js';

export interface LoopFigures {
  attackMs: number;
  liveFps: number;
  cells: number;
}

/**
 * Attack built-in samples, export a sheet, write the fake camera's video of a simulated photo of that
 * sheet, capture it live, and check the comparison: every cell found, clean cells agree with their
 * digital prediction, a destruction rate shown.
 */
export async function attackPrintCaptureCompare(page: Page, options: { workspaceDir: string; y4mFile: string; images: number; prefix: string }): Promise<LoopFigures> {
  const { images, prefix } = options;
  await page.getByRole('tab', { name: 'Attack' }).click();
  await page.getByLabel('Count').fill(String(images));
  await page.getByRole('button', { name: 'Preview images' }).click();
  await page.getByTestId('sample-preview').waitFor({ timeout: 60_000 });
  expect(await page.getByTestId('sample-preview').locator('img').count()).toBe(images);
  await page.locator('select[name=method]').selectOption('bim');
  // MNIST digits need a larger ε than ImageNet photos: BIM-10 with ε = 64/255 (0.25) and α = 8/255
  // fools the built-in LeNet digitally, so the comparison has a destruction rate to show.
  await page.locator('input[name=epsilons]').fill('64');
  await page.locator('input[name=steps]').fill('10');
  await page.locator('input[name=step]').fill('8');
  const attackStarted = Date.now();
  await page.getByRole('button', { name: 'Run attack' }).click();
  await page.getByTestId('gallery').waitFor({ timeout: 120_000 });
  const attackMs = Date.now() - attackStarted;
  expect(await page.getByTestId('gallery').locator('figure').count()).toBe(Math.min(images, 12));
  await screenshot(page, `${prefix}-1-attack`);

  // The ε-sweep: accuracy vs ε drawn as an SVG line chart, falling as ε grows.
  await page.getByLabel('ε values').fill('0 16 64');
  await page.getByRole('button', { name: 'Run sweep' }).click();
  const chart = page.getByRole('img', { name: /^BIM on \d+ images$/ });
  await chart.waitFor({ timeout: 120_000 });
  expect(await chart.locator('circle').count()).toBe(6);
  const accuracies = (await page.locator('table.sweep tbody tr td:nth-child(2)').allTextContents()).map((t) => Number.parseFloat(t));
  expect(accuracies.length).toBe(3);
  expect(accuracies[2]).toBeLessThan(accuracies[0]);
  await screenshot(page, `${prefix}-1b-sweep`);

  await page.getByRole('tab', { name: 'Print' }).click();
  await page.getByLabel('Images to print').fill(String(images));
  await page.getByRole('img', { name: /sheet preview/ }).waitFor({ timeout: 60_000 });
  await page.getByRole('button', { name: 'Export PDF + PNG' }).click();
  await page.getByRole('status').filter({ hasText: /^Exported/ }).waitFor({ timeout: 120_000 });
  await screenshot(page, `${prefix}-2-print`);

  const [sheetPng] = await findFiles(options.workspaceDir, /^sheet\.png$/);
  expect(sheetPng, 'the exported sheet PNG is in the workspace').toBeTruthy();
  // Chromium opens the fake camera's file only when the page asks for the camera: written now.
  await writeY4m(options.y4mFile, sheetPhotoFrames(await readRgba(sheetPng), { frames: 3, seed: 11 }));

  await page.getByRole('tab', { name: 'Capture' }).click();
  await page.getByRole('button', { name: 'Start camera' }).click();
  const live = page.getByTestId('live-status');
  await expect.poll(async () => live.textContent(), { timeout: 60_000 }).toMatch(/4\/4 markers/);
  // Live per-cell predictions from the host: every cell classified, and the clean ones (half) agree.
  await expect.poll(async () => live.textContent(), { timeout: 30_000 }).toMatch(new RegExp(`\\d+/${2 * images} cells agree`));
  const agreeing = Number(/(\d+)\/\d+ cells agree/.exec((await live.textContent()) ?? '')?.[1]);
  expect(agreeing).toBeGreaterThanOrEqual(images);
  await page.getByTestId('live-fps').waitFor({ timeout: 30_000 });
  await page.waitForTimeout(4000);
  const liveFps = Number(await page.getByTestId('live-fps').textContent());
  expect(liveFps).toBeGreaterThan(0);
  await screenshot(page, `${prefix}-3-live`);

  await page.getByRole('button', { name: 'Capture still' }).click();
  const last = page.getByTestId('last-capture');
  await last.waitFor({ timeout: 60_000 });
  expect(await last.getAttribute('data-status'), (await last.textContent()) ?? '').toBe('ok');
  await screenshot(page, `${prefix}-4-captured`);

  await page.getByRole('tab', { name: 'Compare' }).click();
  const figures = page.getByTestId('compare-cells').locator('figure');
  await expect.poll(async () => figures.count(), { timeout: 60_000 }).toBe(2 * images);
  // Every printed cell was found and classified in the photo.
  expect(await page.getByTestId('compare-cells').locator('figure.missing').count()).toBe(0);
  // Clean digits survive the camera: each clean cell's photo prediction equals its digital one.
  const clean = page.getByTestId('compare-cells').locator('figure[data-kind="clean"]');
  expect(await clean.count()).toBe(images);
  expect(await clean.evaluateAll((cells) => cells.map((c) => c.getAttribute('data-agree')))).toEqual(Array(images).fill('true'));
  const destruction = await page.getByTestId('destruction-top1').allTextContents();
  expect(destruction.some((text) => /\d+(\.\d)?%/.test(text)), `a destruction rate is shown (${destruction.join(', ')})`).toBe(true);
  await screenshot(page, `${prefix}-5-compare`);

  // Exports arrive as browser downloads: a CSV with one row per photographed cell, a self-contained HTML.
  for (const [button, check] of [
    ['Export CSV', (text: string) => expect(text.trim().split('\n').length).toBeGreaterThanOrEqual(2 * images + 1)],
    ['Export HTML report', (text: string) => {
      expect(text).toMatch(/<html/i);
      expect(text).not.toMatch(/<script[^>]+src=|<link[^>]+href="http/i);
    }],
  ] as const) {
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 60_000 }), page.getByRole('button', { name: button }).click()]);
    const file = await download.path();
    check(await readFile(file, 'utf8'));
  }
  return { attackMs, liveFps, cells: 2 * images };
}

/** Import a folder whose model.json is cut off: one clear line in the page. */
export async function importCorruptModel(page: Page, scratchDir: string, prefix: string): Promise<string> {
  const folder = path.join(scratchDir, 'broken-model');
  await mkdir(folder, { recursive: true });
  await writeFile(path.join(folder, 'model.json'), '{"modelTopology": {"truncated": ');
  await writeFile(path.join(folder, 'foolprint.json'), JSON.stringify({ name: 'broken', labels: ['a', 'b'] }));
  await page.getByRole('tab', { name: 'Models' }).click();
  await page.getByLabel('Folder').fill(folder);
  await page.getByRole('button', { name: 'Import' }).click();
  const alert = page.getByRole('alert').filter({ hasText: /Could not import the model/ });
  await alert.waitFor({ timeout: 30_000 });
  const text = (await alert.textContent()) ?? '';
  expect(text.split('\n').length, 'one line').toBe(1);
  expect(text).toMatch(/model|json|foolprint/i);
  await screenshot(page, `${prefix}-corrupt-model`);
  return text;
}
