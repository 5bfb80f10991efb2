/**
 * The Defenses screen in Chromium (browser mode, the built-in LeNet and digits): compare the
 * LeNet with the LeNet behind a median filter, see the masking flag (the filter hides the gradient,
 * BPDA and the transfer attack find it), the robust-accuracy curves, the transfer matrix as a heat
 * map; axe finds no violation.
 */
import { existsSync } from 'node:fs';
import { cp, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { axeViolations, describeViolations } from './axe.js';
import { appForSuite, missingBuiltinApp, repoRoot, screenshot } from './harness.js';

const MNIST_DIR = path.join(repoRoot, '..', 'shared', 'data', 'mnist');
const missing = missingBuiltinApp();
if (missing) console.warn(`e2e defenses skipped: ${missing}`);

describe.skipIf(missing !== null)('Defenses screen', () => {
  const suite = appForSuite();

  it('measures robust accuracy with the masking flag, draws the curves and the transfer heat map, with no axe violation', async () => {
    const { app, mode } = suite;
    const { page } = app;
    // A dataset kept in the workspace (its datasets/ folder), offered by the picker once the screen opens.
    const mnist = existsSync(MNIST_DIR);
    if (mnist) {
      await mkdir(path.join(mode.workspaceDir, 'datasets'), { recursive: true });
      await cp(MNIST_DIR, path.join(mode.workspaceDir, 'datasets', 'mnist-test'), { recursive: true });
    }
    await page.getByRole('tab', { name: 'Defenses' }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Defenses' }).isVisible()).toBe(true);
    expect(await page.locator('[data-slot="defense-training"]').count()).toBe(1);
    await page.getByLabel('Input transformation').nth(1).selectOption('median');
    await page.getByRole('checkbox', { name: 'PGD' }).uncheck();
    await page.getByLabel('ε list').fill('0, 0.3');
    // The images: the MNIST test folder by path when this machine has it, else the built-in samples.
    if (mnist) {
      await page.getByRole('radio', { name: 'Dataset on disk' }).check();
      await page.getByLabel('Path').fill(path.join(MNIST_DIR, 'no-such-folder'));
      await page.getByRole('button', { name: 'Measure robust accuracy' }).click();
      await expect.poll(() => page.getByRole('alert').filter({ hasText: 'no-such-folder' }).count(), { timeout: 30_000 }).toBe(1);
      await page.getByLabel('Path').fill(MNIST_DIR);
    }
    await page.getByLabel('Count').fill('12');
    await page.getByRole('button', { name: 'Measure robust accuracy' }).click();
    const flag = page.getByRole('alert').filter({ hasText: 'Gradient masking suspected' });
    await flag.waitFor({ timeout: 180_000 });
    expect(await flag.textContent()).toMatch(/median 2x2.*BPDA/s);
    expect(await page.getByRole('img', { name: /Robust accuracy under FGSM/ }).count()).toBe(1);
    expect(await page.getByRole('table').filter({ hasText: 'logit margin' }).count()).toBe(1);
    expect(await page.getByRole('table').filter({ hasText: 'Accuracy under attack on 12 images' }).count()).toBe(1);

    if (mnist) {
      await page.getByRole('radio', { name: 'Workspace dataset' }).check();
      await expect.poll(() => page.getByRole('combobox', { name: /^Dataset/ }).locator('option').allTextContents()).toEqual(['mnist-test']);
      await page.getByLabel('Count').fill('10');
    }
    await page.getByRole('button', { name: 'Transfer matrix' }).click();
    const heatmap = page.getByRole('table').filter({ hasText: new RegExp(`on ${mnist ? 10 : 12} images:\\s+accuracy of the target \\(column\\)`) });
    await heatmap.waitFor({ timeout: 300_000 });
    expect(await heatmap.getByRole('row').count()).toBe(4); // header, clean, two sources
    await screenshot(page, 'defenses');
    const violations = await axeViolations(page);
    expect(violations, `axe on the Defenses screen:\n${describeViolations(violations)}`).toEqual([]);
    expect(app.consoleErrors).toEqual([]);
  });
});
