/**
 * The screens tell the truth about what was printed and photographed, in real Chromium with the fake
 * camera: Print (runs told apart, the exported sheets previewed, sheet-N.png and every manifest),
 * Capture (which sheet to hold up next, the overlay's legend, labels inside their cells), Compare
 * (cells per capture, images × captures, photos without a sheet apart, vote/mean, CSV layouts); and on
 * every screen and the exported report, zero axe-core violations, radio groups as one Tab stop, and no
 * header or button wrapping into several lines at 1024x700.
 *
 * With FOOLPRINT_DOCS=1 the main flow's screenshots are written to docs/ for the README.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Download, Locator, Page } from 'playwright-core';
import { listBuiltinModels } from '../app/node/model-loader.js';
import { parseSheetManifestText } from '../app/physical/sheet-manifest.js';
import { axeViolations, describeViolations } from './axe.js';
import { readRgba, sheetPhotoFrames, writeY4m } from './fake-camera.js';
import { ensureRendererBuilt, findFiles, launchChromium, missingPrerequisite, openApp, repoRoot, screenshot, startBrowserMode } from './harness.js';
import type { AppPage, BrowserMode } from './harness.js';

const missing = missingPrerequisite() ?? (listBuiltinModels().length === 0 ? 'no built-in model in assets/models (train it with npm run train:mnist)' : null);
if (missing) console.warn(`e2e views skipped: ${missing}`);

// The page-side functions below run in Chromium; this Node program has no DOM types (on purpose: app/
// must not compile against the DOM), so the few DOM names they use are declared here, loosely.
declare const document: any;
declare class DOMPoint {
  constructor(x: number, y: number);
  x: number;
  y: number;
  matrixTransform(matrix: unknown): DOMPoint;
}

const IMAGES = 4;
const UNZIP = '/usr/bin/unzip';
const writeDocs = process.env.FOOLPRINT_DOCS === '1';

/** The README's pictures (docs/) when asked for, else beside the other e2e screenshots. */
async function flowShot(page: Page, name: string, focus: Locator | 'full page'): Promise<void> {
  if (focus !== 'full page') await focus.scrollIntoViewIfNeeded();
  if (!writeDocs) {
    await screenshot(page, `views-${name}`);
    return;
  }
  await mkdir(path.join(repoRoot, 'docs'), { recursive: true });
  await page.screenshot({ path: path.join(repoRoot, 'docs', `${name}.png`), fullPage: focus === 'full page' });
}

async function expectNoAxeViolations(page: Page, where: string): Promise<void> {
  const violations = await axeViolations(page);
  expect(violations, `axe on ${where}:\n${describeViolations(violations)}`).toEqual([]);
}

async function download(page: Page, click: () => Promise<void>): Promise<Download> {
  const [file] = await Promise.all([page.waitForEvent('download', { timeout: 60_000 }), click()]);
  return file;
}

/**
 * A named radio group is one Tab stop: Tab from its checked radio leaves the group, Shift+Tab comes
 * back to the checked one, and ArrowRight checks the next option.
 */
async function expectOneTabStop(page: Page, group: Locator): Promise<void> {
  const radios = group.getByRole('radio');
  const count = await radios.count();
  expect(count).toBeGreaterThan(1);
  const checked = await radios.evaluateAll((all) => all.findIndex((r) => (r as unknown as { checked: boolean }).checked));
  await radios.nth(checked).focus();
  await page.keyboard.press('Tab');
  expect(await group.evaluate((g) => g.contains(document.activeElement)), 'Tab leaves the group').toBe(false);
  await page.keyboard.press('Shift+Tab');
  expect(await radios.nth(checked).evaluate((r) => r === document.activeElement), 'Shift+Tab returns to the checked radio').toBe(true);
  await page.keyboard.press('ArrowRight');
  const next = (checked + 1) % count;
  expect(await radios.nth(next).isChecked(), 'ArrowRight checks the next radio').toBe(true);
  await page.keyboard.press('ArrowLeft');
  expect(await radios.nth(checked).isChecked()).toBe(true);
}

/**
 * At 1024x700 no table header and no button breaks its text over more than two lines (buttons: one),
 * no row of controls takes more than two lines, and no table, chart or row runs past its panel.
 */
async function expectCompactLayout(page: Page, where: string): Promise<void> {
  const problems = await page.evaluate(() => {
    const found: string[] = [];
    // Lines of text an element's contents take: distinct tops of the rectangles of its text.
    const lines = (el: unknown): number => {
      const range = document.createRange();
      range.selectNodeContents(el);
      const tops = [...range.getClientRects()].filter((r: { width: number }) => r.width > 0).map((r: { top: number }) => Math.round(r.top));
      return tops.sort((a: number, b: number) => a - b).filter((top: number, i: number, all: number[]) => i === 0 || top - all[i - 1] > 4).length;
    };
    for (const th of document.querySelectorAll('#panel th')) if (lines(th) > 2) found.push(`header "${th.textContent?.trim()}" takes ${lines(th)} lines`);
    for (const button of document.querySelectorAll('#panel button')) {
      if (button.getBoundingClientRect().height > 0 && lines(button) > 1) found.push(`button "${button.textContent?.trim()}" takes ${lines(button)} lines`);
    }
    for (const row of document.querySelectorAll('#panel .row, #panel td.files')) {
      const tops = [...row.children].filter((c) => c.getBoundingClientRect().height > 0).map((c) => c.getBoundingClientRect().top).sort((a, b) => a - b);
      const rowLines = tops.filter((top, i) => i === 0 || top - tops[i - 1] > 8).length;
      if (rowLines > 2) found.push(`a row of controls ("${row.textContent?.trim().slice(0, 40)}…") takes ${rowLines} lines`);
    }
    // Nothing runs past its panel's right edge, nor a panel past the window's, where it would be cut off.
    for (const panel of document.querySelectorAll('#panel section.panel')) {
      const style = panel.ownerDocument.defaultView!.getComputedStyle(panel);
      const inner = panel.getBoundingClientRect().right - parseFloat(style.paddingRight) - parseFloat(style.borderRightWidth);
      const edge = Math.min(inner, document.documentElement.clientWidth);
      for (const el of panel.querySelectorAll('table, figure, .row')) {
        const right = el.getBoundingClientRect().right;
        if (right > edge + 1) found.push(`"${(el.textContent ?? '').trim().slice(0, 40)}…" runs ${Math.round(right - edge)} px past its panel`);
      }
    }
    return found;
  });
  expect(problems, `layout at 1024x700 on ${where}`).toEqual([]);
}

describe.skipIf(missing !== null)('screens in browser mode: what was printed and photographed, accessibility', () => {
  let mode: BrowserMode;
  let browser: Browser;
  let app: AppPage;
  let scratch: string;
  let y4mFile: string;
  /** Distinct images on sheet 1, the sheet the camera shows. */
  let imagesOnSheet1 = 0;

  beforeAll(async () => {
    await ensureRendererBuilt();
    mode = await startBrowserMode();
    scratch = await mkdtemp(path.join(os.tmpdir(), 'foolprint-views-'));
    y4mFile = path.join(scratch, 'sheet.y4m');
    browser = await launchChromium({ kind: 'fake', y4mFile });
    app = await openApp(browser, mode);
    await app.page.setViewportSize({ width: 1280, height: 860 });
  });

  afterAll(async () => {
    await browser?.close();
    await mode?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('Experiments and Models have no axe violations; image source radios are one Tab stop', async () => {
    const { page } = app;
    await expectNoAxeViolations(page, 'Experiments (empty)');
    await page.getByLabel('New experiment').fill('Views');
    await page.getByRole('button', { name: 'Create' }).click();
    // Create moves to the Attack screen once the experiment exists; going back before that lands
    // would be undone by it.
    await page.getByRole('tab', { name: 'Attack', selected: true }).waitFor();
    await page.getByRole('tab', { name: 'Experiments' }).click();
    await page.locator('table.experiments').waitFor();
    await expectNoAxeViolations(page, 'Experiments');
    await page.getByRole('tab', { name: 'Models' }).click();
    await page.locator('table.models').waitFor();
    await expectNoAxeViolations(page, 'Models');
    await expectOneTabStop(page, page.getByRole('group', { name: 'Images' }));
  });

  it('Attack with its gallery has no axe violations', async () => {
    const { page } = app;
    await page.getByRole('tab', { name: 'Attack' }).click();
    await expectOneTabStop(page, page.getByRole('group', { name: 'Images' }));
    await page.getByLabel('Count').fill(String(IMAGES));
    await page.locator('select[name=method]').selectOption('bim');
    await page.locator('input[name=epsilons]').fill('64');
    await page.locator('input[name=steps]').fill('10');
    await page.locator('input[name=step]').fill('8');
    await page.getByRole('button', { name: 'Run attack' }).click();
    await page.getByTestId('gallery').waitFor({ timeout: 120_000 });
    await expectNoAxeViolations(page, 'Attack with gallery');
    await flowShot(page, 'attack-gallery', page.getByTestId('gallery'));
  });

  it('Print tells runs apart, previews the exported sheets, downloads sheet-N.png and every manifest', async () => {
    const { page } = app;
    await page.getByRole('tab', { name: 'Print' }).click();
    const runOption = page.getByLabel('Run').locator('option');
    await expect.poll(async () => runOption.allTextContents(), { timeout: 30_000 }).toEqual([expect.stringMatching(new RegExp(`^BIM · ε 64/255 · ${IMAGES} images · \\d\\d:\\d\\d`))]);
    await page.getByLabel('Images to print').fill(String(IMAGES));
    // Large cells: the clean/adversarial pairs of 4 images need two A4 pages.
    await page.getByLabel('Cell (mm)').fill('70');
    await expect.poll(async () => page.getByText(/cells on \d+ page/).textContent(), { timeout: 60_000 }).toMatch(/8 cells on 2 page\(s\)/);
    await expectNoAxeViolations(page, 'Print (layout preview)');
    await page.getByRole('button', { name: 'Export PDF + PNG' }).click();
    await page.getByRole('status').filter({ hasText: /^Exported/ }).waitFor({ timeout: 120_000 });

    // The preview now shows the exported page itself, at real size.
    const exported = page.getByTestId('exported-preview');
    await exported.waitFor({ timeout: 30_000 });
    await expect.poll(async () => exported.getByRole('heading').textContent()).toBe('Exported sheet 1 of 2, at real scale');
    const shown = exported.getByRole('img', { name: /^exported sheet 1 of 2/ });
    const [onScreen] = await findFiles(mode.workspaceDir, /^sheet\.png$/);
    const shownPng = Buffer.from((await shown.getAttribute('src'))!.replace(/^data:image\/png;base64,/, ''), 'base64');
    expect(shownPng.equals(await readFile(onScreen)), 'the preview is the exported sheet.png').toBe(true);
    expect(await shown.evaluate((img) => Math.round(img.getBoundingClientRect().width))).toBe(Math.round((210 / 25.4) * 96));
    await exported.getByLabel('Page').selectOption('2');
    await exported.getByRole('img', { name: /^exported sheet 2 of 2/ }).waitFor();
    await expectNoAxeViolations(page, 'Print (exported preview)');
    await exported.getByLabel('Page').selectOption('1');
    await flowShot(page, 'print-preview', 'full page');

    const sets = page.getByTestId('sheet-sets');
    expect(await sets.locator('tbody td').nth(1).textContent()).toMatch(/^BIM · ε 64\/255 · 4 images/);
    const png2 = await download(page, () => sets.getByRole('button', { name: 'PNG 2' }).click());
    expect(png2.suggestedFilename()).toBe('sheet-2.png');
    expect((await sharp(await png2.path()).metadata()).format).toBe('png');
    const png1 = await download(page, () => sets.getByRole('button', { name: 'PNG 1' }).click());
    expect(png1.suggestedFilename()).toBe('sheet-1.png');

    const zip = await download(page, () => sets.getByRole('button', { name: 'Manifests (.zip)' }).click());
    expect(zip.suggestedFilename()).toBe('sheet-manifests.zip');
    // Read back with Info-ZIP where installed, else from the workspace copies the zip was made of.
    const unzipped = path.join(scratch, 'manifests');
    if (existsSync(UNZIP)) execFileSync(UNZIP, ['-q', await zip.path(), '-d', unzipped]);
    else console.warn(`${UNZIP} missing: the zip's contents are not checked`);
    const manifestDir = existsSync(UNZIP) ? unzipped : path.dirname(onScreen);
    const manifests = await Promise.all(['sheet.manifest.json', 'sheet-2.manifest.json'].map(async (name) => parseSheetManifestText(await readFile(path.join(manifestDir, name), 'utf8'), name)));
    expect(manifests.map((m) => m.page)).toEqual([1, 2]);
    expect(manifests.reduce((n, m) => n + m.cells.length, 0)).toBe(2 * IMAGES);
    imagesOnSheet1 = new Set(manifests[0].cells.filter((c) => c.kind === 'adversarial').map((c) => c.imageId)).size;
    expect(imagesOnSheet1).toBeGreaterThan(0);

    // The camera will show sheet 1: written now, Chromium opens the file when the page asks for it.
    await writeY4m(y4mFile, sheetPhotoFrames(await readRgba(onScreen), { frames: 3, seed: 5 }));
  });

  it('Capture says which sheet to hold up, explains the overlay and keeps labels inside their cells', async () => {
    const { page } = app;
    await page.getByRole('tab', { name: 'Capture' }).click();
    const next = page.getByTestId('next-sheet');
    await expect.poll(async () => next.textContent(), { timeout: 30_000 }).toMatch(/^Hold up sheet 1 of 2/);
    await expectNoAxeViolations(page, 'Capture (camera off)');
    await page.getByRole('button', { name: 'Start camera' }).click();
    const live = page.getByTestId('live-status');
    await expect.poll(async () => live.textContent(), { timeout: 60_000 }).toMatch(/sheet 1 of 2[\s\S]*\d+\/\d+ cells agree/);
    await page.getByTestId('overlay-legend').waitFor();
    expect(await page.getByTestId('overlay-legend').textContent()).toMatch(/1 \(≠7\)[\s\S]*differs/);

    // Every label's box lies inside its own cell's outline, on screen.
    const outside = await page.locator('svg.overlay').evaluate((svg) => {
      const inside = (poly: DOMPoint[], x: number, y: number) => {
        let hit = false;
        for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
          if (poly[i].y > y !== poly[j].y > y && x < ((poly[j].x - poly[i].x) * (y - poly[i].y)) / (poly[j].y - poly[i].y) + poly[i].x) hit = !hit;
        }
        return hit;
      };
      const problems: string[] = [];
      const texts = [...svg.querySelectorAll('text')];
      for (const text of texts) {
        const polygon = svg.querySelector(`polygon[data-cell="${text.dataset.cell}"]`) as unknown as { getScreenCTM(): unknown; points: Iterable<{ x: number; y: number }> };
        const matrix = polygon.getScreenCTM()!;
        const corners = [...polygon.points].map((p) => new DOMPoint(p.x, p.y).matrixTransform(matrix));
        const box = text.getBoundingClientRect();
        for (const [x, y] of [[box.left, box.top], [box.right, box.top], [box.right, box.bottom], [box.left, box.bottom]]) {
          if (!inside(corners, x, y)) problems.push(`label "${text.textContent}" of cell ${text.dataset.cell} reaches (${x.toFixed(0)}, ${y.toFixed(0)}) outside its cell`);
        }
      }
      return { problems, labels: texts.length };
    });
    expect(outside.labels).toBe(2 * imagesOnSheet1);
    expect(outside.problems).toEqual([]);
    await expectNoAxeViolations(page, 'Capture (live)');
    await flowShot(page, 'capture-live', page.locator('.live'));

    // Two stills of sheet 1, then a photo with no sheet in it.
    for (const n of [1, 2]) {
      await page.getByRole('button', { name: 'Capture still' }).click();
      await expect.poll(async () => page.getByTestId('capture-sheets').locator('li').first().textContent(), { timeout: 90_000 }).toMatch(new RegExp(`photographed ${n}×`));
    }
    expect(await next.textContent()).toMatch(/^Hold up sheet 2 of 2/);
    const blank = path.join(scratch, 'IMG_blank.png');
    await sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 200, g: 190, b: 180 } } }).png().toFile(blank);
    await page.getByRole('button', { name: /^Drop phone photos/ }).locator('input[type=file]').setInputFiles(blank);
    await page.getByTestId('last-capture').filter({ hasText: /^IMG_blank\.png/ }).waitFor({ timeout: 60_000 });
    const photoColumn = await page.locator('tbody tr td:first-child').allTextContents();
    expect(photoColumn).toEqual([expect.stringMatching(/^camera still, \d\d:\d\d(:\d\d)?( \(\d+\))?$/), expect.stringMatching(/^camera still, \d\d:\d\d(:\d\d)?( \(\d+\))?$/), 'IMG_blank.png']);
    await page.getByRole('button', { name: 'Stop camera' }).click();
    await expectNoAxeViolations(page, 'Capture (with captures)');
  });

  it('Compare groups cells per capture, counts images × captures, merges by vote, exports CSV both ways and an accessible report', async () => {
    const { page } = app;
    await page.getByRole('tab', { name: 'Compare' }).click();
    const groups = page.getByTestId('compare-group');
    await expect.poll(async () => groups.count(), { timeout: 60_000 }).toBe(2);
    const titles = await groups.locator('h4').allTextContents();
    expect(titles.every((t) => /^camera still, \d\d:\d\d(:\d\d)?( \(\d+\))? · sheet \S+-s0 · \d+\/\d+ agree$/.test(t)), titles.join(' | ')).toBe(true);
    for (const group of await groups.all()) expect(await group.locator('figure').count()).toBe(2 * imagesOnSheet1);
    expect(await page.getByTestId('compare-summary').textContent()).toMatch(/^\s*2 captures counted: camera still/);
    expect(await page.getByTestId('compare-apart').textContent()).toMatch(/IMG_blank\.png: /);
    const counts = page.getByTestId('rate-count');
    expect(await counts.first().textContent()).toBe(`${imagesOnSheet1} image${imagesOnSheet1 === 1 ? '' : 's'} × 2 captures`);
    await expectNoAxeViolations(page, 'Compare');
    await flowShot(page, 'compare', 'full page');

    const combine = page.getByRole('group', { name: 'Several captures of one sheet' });
    await expectOneTabStop(page, combine);
    await combine.getByRole('radio', { name: 'merged by vote' }).check();
    await expect.poll(async () => groups.count(), { timeout: 30_000 }).toBe(1);
    expect(await groups.locator('h4').textContent()).toMatch(/^Sheet \S+-s0 · vote of 2 captures: camera still/);
    expect(await counts.first().textContent()).toBe(`${imagesOnSheet1} image${imagesOnSheet1 === 1 ? '' : 's'} × 1 sheet (vote)`);
    expect(await groups.locator('figure .votes').first().textContent()).toMatch(/^per capture: \S+ \S+$/);
    await expectNoAxeViolations(page, 'Compare (vote)');

    // CSV: one table whose first column says which, rows of cells naming the stills' files.
    const single = await download(page, () => page.getByRole('button', { name: 'Export CSV' }).click());
    const table = (await readFile(await single.path(), 'utf8')).trim().split('\n');
    expect(table[0]).toMatch(/^table,method,epsilon,case,images,captures,count,/);
    expect(table.filter((l) => l.startsWith('cells,'))).toHaveLength(2 * imagesOnSheet1);
    expect(table.find((l) => l.startsWith('cells,'))).toMatch(/still-[^,]+\.png \+ still-[^,]+\.png/);
    // …or one file per table.
    await page.getByLabel('CSV as').selectOption('files');
    const [rates, cells] = await Promise.all([
      page.waitForEvent('download', { predicate: (d) => d.suggestedFilename().endsWith('-rates.csv'), timeout: 60_000 }),
      page.waitForEvent('download', { predicate: (d) => d.suggestedFilename().endsWith('-cells.csv'), timeout: 60_000 }),
      page.getByRole('button', { name: 'Export CSV' }).click(),
    ]);
    expect((await readFile(await rates.path(), 'utf8')).split('\n')[0]).toMatch(/^method,epsilon,case,images,captures,count,/);
    expect((await readFile(await cells.path(), 'utf8')).split('\n')[0]).toMatch(/^photo,capture,sheet,cell,/);

    // The exported HTML report, opened on its own, passes axe too.
    const report = await download(page, () => page.getByRole('button', { name: 'Export HTML report' }).click());
    const reportFile = path.join(scratch, 'report.html');
    await report.saveAs(reportFile);
    const reportPage = await app.context.newPage();
    await reportPage.goto(`file://${reportFile}`);
    expect(await reportPage.locator('main').count()).toBe(1);
    await expectNoAxeViolations(reportPage, 'the exported HTML report');
    await reportPage.close();
    await combine.getByRole('radio', { name: 'each counts on its own' }).check();
  });

  it('at 1024x700 no header, button or row of controls wraps into several lines, on any screen', async () => {
    const { page } = app;
    await page.setViewportSize({ width: 1024, height: 700 });
    for (const tab of ['Experiments', 'Models', 'Attack', 'Print', 'Capture', 'Compare']) {
      await page.getByRole('tab', { name: tab }).click();
      await page.getByRole('heading', { level: 2, name: tab }).waitFor();
      await page.waitForTimeout(1500);
      await expectCompactLayout(page, tab);
      await screenshot(page, `views-1024-${tab.toLowerCase()}`);
    }
    expect(app.consoleErrors.filter((e) => !/favicon/.test(e))).toEqual([]);
  });
});
