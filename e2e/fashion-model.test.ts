/**
 * The second built-in model in real Chromium: choosing the Fashion-MNIST CNN on the Models screen
 * makes "Built-in samples" its own garments, and its class names show wherever a label does: the
 * sample preview, the Attack screen's top-5, the printed sheet's captions (its manifest), and the
 * Compare screen after the sheet itself is imported as a photo.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { listBuiltinModels } from '../app/node/model-loader.js';
import { appForSuite, findFiles, missingPrerequisite, screenshot } from './harness.js';

const FASHION = 'Small CNN on Fashion-MNIST';
const missing = missingPrerequisite() ?? (listBuiltinModels().some((m) => m.name === FASHION) ? null : 'the built-in cnn-fashion-mnist model is absent (npm run train:fashion)');
if (missing) console.warn(`e2e Fashion-MNIST model skipped: ${missing}`);

const IMAGES = 10;

describe.skipIf(missing !== null)('the Fashion-MNIST model in browser mode', () => {
  const suite = appForSuite();

  it('shows garment names in the preview, the top-5, the sheet captions and Compare', async () => {
    const { page } = suite.app;
    try {
      // The digits' LeNet stays the default; the Fashion model is chosen on the Models screen.
      await page.getByRole('tab', { name: 'Models' }).click();
      expect(await page.getByRole('radio', { name: 'Use LeNet (seed) on MNIST' }).isChecked()).toBe(true);
      const row = page.locator('table.models tr', { hasText: FASHION });
      expect(await row.textContent()).toContain('10 (T-shirt/top, Trouser, Pullover, Dress, …)');
      await page.getByRole('radio', { name: `Use ${FASHION}` }).check();

      await page.getByRole('tab', { name: 'Experiments' }).click();
      await page.getByLabel('New experiment').fill('Garments');
      await page.getByRole('button', { name: 'Create' }).click();
      await page.getByRole('tab', { name: 'Attack', selected: true }).waitFor();

      // Built-in samples are now the model's own garments, stored interleaved by class.
      await page.getByLabel('Count').fill(String(IMAGES));
      await page.getByRole('button', { name: 'Preview images' }).click();
      await page.getByTestId('sample-preview').waitFor({ timeout: 60_000 });
      expect(await page.getByTestId('sample-preview').locator('figcaption').allTextContents()).toEqual(['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']);

      await page.locator('select[name=method]').selectOption('fgsm');
      await page.locator('input[name=epsilons]').fill('16');
      await page.getByRole('button', { name: 'Run attack' }).click();
      const gallery = page.getByTestId('gallery');
      await gallery.waitFor({ timeout: 120_000 });
      const captions = await gallery.locator('figcaption').allTextContents();
      expect(captions.length).toBe(IMAGES);
      expect(captions[9]).toMatch(/^\s*true: Ankle boot/);
      // The top-5 lists name classes: no bare class index is shown.
      const predictions = await gallery.locator('li:not(.title)').allTextContents();
      expect(predictions.length).toBeGreaterThanOrEqual(IMAGES * 5);
      for (const text of predictions) expect(text).toMatch(/^(T-shirt\/top|Trouser|Pullover|Dress|Coat|Sandal|Shirt|Sneaker|Bag|Ankle boot) \d+\.\d%$/);
      await screenshot(page, 'fashion-1-attack');

      await page.getByRole('tab', { name: 'Print' }).click();
      await page.getByLabel('Images to print').fill(String(IMAGES));
      await page.getByRole('img', { name: /sheet preview/ }).waitFor({ timeout: 60_000 });
      await page.getByRole('button', { name: 'Export PDF + PNG' }).click();
      await page.getByRole('status').filter({ hasText: /^Exported/ }).waitFor({ timeout: 120_000 });
      const [manifestFile] = await findFiles(suite.mode.workspaceDir, /^sheet\.manifest\.json$/);
      const manifest = JSON.parse(await readFile(manifestFile, 'utf8')) as { modelId: string; cells: { caption: string }[] };
      expect(manifest.modelId).toBe('cnn-fashion-mnist');
      expect(manifest.cells.map((c) => c.caption)).toContain('clean #9 y=Ankle boot');
      await screenshot(page, 'fashion-2-print');

      // The exported sheet itself as the photo: every cell found and classified by the Fashion model.
      const [sheetPng] = await findFiles(suite.mode.workspaceDir, /^sheet\.png$/);
      await page.getByRole('tab', { name: 'Capture' }).click();
      await page.getByRole('button', { name: /^Drop phone photos/ }).locator('input[type=file]').setInputFiles(sheetPng);
      const last = page.getByTestId('last-capture');
      await last.waitFor({ timeout: 60_000 });
      expect(await last.getAttribute('data-status'), (await last.textContent()) ?? '').toBe('ok');

      await page.getByRole('tab', { name: 'Compare' }).click();
      const cells = page.getByTestId('compare-cells').locator('figure');
      await expect.poll(async () => cells.count(), { timeout: 60_000 }).toBe(2 * IMAGES);
      const texts = await cells.allTextContents();
      expect(texts.some((t) => /true Ankle boot/.test(t))).toBe(true);
      expect(texts.every((t) => /digital: (T-shirt\/top|Trouser|Pullover|Dress|Coat|Sandal|Shirt|Sneaker|Bag|Ankle boot)/.test(t))).toBe(true);
      await screenshot(page, 'fashion-3-compare');
    } catch (error) {
      await screenshot(page, 'fashion-failure');
      throw new Error(`${error instanceof Error ? error.message : String(error)}\npage errors: ${suite.app.consoleErrors.join(' | ') || 'none'}`, { cause: error });
    }
    expect(suite.app.consoleErrors.filter((e) => !/favicon/.test(e))).toEqual([]);
  });
});
