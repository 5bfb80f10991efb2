/**
 * The same user journeys against the Electron build (Playwright's _electron). Electron's binary is
 * downloaded at its first run, which fails on offline machines such as this one: the spec then skips
 * and says why.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { _electron } from 'playwright-core';
import type { ElectronApplication, Page } from 'playwright-core';
import { listBuiltinModels } from '../app/node/model-loader.js';
import { attackPrintCaptureCompare, importCorruptModel } from './flows.js';
import { cameraArgs, ensureRendererBuilt, missingPrerequisite, repoRoot } from './harness.js';

/** node_modules/electron writes path.txt once its binary is downloaded; no download is attempted here. */
function electronBinary(): string | null {
  const packageDir = path.join(repoRoot, 'node_modules', 'electron');
  const pathFile = path.join(packageDir, 'path.txt');
  if (!existsSync(pathFile)) return null;
  const binary = path.join(packageDir, 'dist', readFileSync(pathFile, 'utf8').trim());
  return existsSync(binary) ? binary : null;
}

const binary = electronBinary();
const mainScript = path.join(repoRoot, 'dist', 'main', 'electron', 'main.js');
const missing =
  missingPrerequisite() ??
  (binary === null ? "Electron's binary is not installed (node_modules/electron has no dist/; it is downloaded at first run, which needs the network)" : null) ??
  (existsSync(mainScript) ? null : 'dist/main/electron/main.js is not built: run npm run build');
if (missing) console.warn(`e2e Electron specs skipped: ${missing}`);

describe.skipIf(missing !== null)('the same specs in the Electron window', () => {
  let electron: ElectronApplication;
  let page: Page;
  let workspaceDir: string;
  let y4mFile: string;

  beforeAll(async () => {
    await ensureRendererBuilt();
    workspaceDir = await mkdtemp(path.join(os.tmpdir(), 'foolprint-e2e-electron-'));
    y4mFile = path.join(workspaceDir, 'camera.y4m');
    // Chromium switches pass through Electron's command line; the app grants the camera to its own page.
    electron = await _electron.launch({ executablePath: binary!, args: [mainScript, '--workspace', workspaceDir, ...cameraArgs({ kind: 'fake', y4mFile })] });
    page = await electron.firstWindow();
    await page.locator('[data-ready="true"]').waitFor({ timeout: 60_000 });
  });

  afterAll(async () => {
    await electron?.close();
    if (workspaceDir) await rm(workspaceDir, { recursive: true, force: true });
  });

  it('reports a corrupt model folder on import', async () => {
    await importCorruptModel(page, workspaceDir, 'electron');
  });

  it.skipIf(listBuiltinModels().length === 0)('attacks, prints, captures and compares', async () => {
    await attackPrintCaptureCompare(page, { workspaceDir, y4mFile, images: 6, prefix: 'electron-loop' });
  });
});
