/**
 * What every end-to-end test needs: the built renderer, browser mode started in-process on a temp
 * workspace (main/server startServer), Debian's Chromium launched headless with or without a fake
 * camera, and screenshots kept under e2e/artifacts/ (git-ignored) to look at.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { listBuiltinModels } from '../app/node/model-loader.js';
import { startServer } from '../main/server/server.js';
import type { RunningServer } from '../main/server/server.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const artifactsDir = path.join(repoRoot, 'e2e', 'artifacts');
export const CHROMIUM = process.env.FOOLPRINT_CHROMIUM ?? '/usr/bin/chromium';

/** Why the e2e tests cannot run here, or null when they can. */
export function missingPrerequisite(): string | null {
  if (!existsSync(CHROMIUM)) return `Chromium not found at ${CHROMIUM} (apt-get install chromium, or set FOOLPRINT_CHROMIUM)`;
  if (!existsSync(path.join(repoRoot, 'dist', 'app', 'node', 'compute-worker.js'))) return 'dist/ is not built: run npm run build first';
  return null;
}

/** Why a test of the built-in models' app cannot run here (no Chromium, no dist/, no built-in model), or null. */
export function missingBuiltinApp(): string | null {
  return missingPrerequisite() ?? (listBuiltinModels().length === 0 ? 'no built-in model in assets/models (train it with npm run train:mnist)' : null);
}

/** Builds renderer/dist with Vite unless it is newer than every file it is built from. */
export async function ensureRendererBuilt(): Promise<void> {
  const index = path.join(repoRoot, 'renderer', 'dist', 'index.html');
  const sources = ['renderer/src', 'renderer/index.html', 'renderer/vite.config.ts', 'main/content-security-policy.ts', 'app'].map((p) => path.join(repoRoot, p));
  const newestSource = Math.max(...(await Promise.all(sources.map(newestMtime))));
  if (existsSync(index) && (await stat(index)).mtimeMs >= newestSource) return;
  const { build } = await import('vite');
  await build({ configFile: path.join(repoRoot, 'renderer', 'vite.config.ts'), logLevel: 'warn' });
}

async function newestMtime(target: string): Promise<number> {
  const info = await stat(target);
  if (!info.isDirectory()) return info.mtimeMs;
  let newest = 0;
  for (const entry of await readdir(target, { withFileTypes: true })) {
    newest = Math.max(newest, await newestMtime(path.join(target, entry.name)));
  }
  return newest;
}

export interface BrowserMode {
  server: RunningServer;
  workspaceDir: string;
  close(): Promise<void>;
}

export async function startBrowserMode(): Promise<BrowserMode> {
  const workspaceDir = await mkdtemp(path.join(os.tmpdir(), 'foolprint-e2e-'));
  const server = await startServer({ workspaceDir, port: 0, workers: 1 });
  return {
    server,
    workspaceDir,
    async close() {
      await server.close();
      await rm(workspaceDir, { recursive: true, force: true });
    },
  };
}

const BASE_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/**
 * 'fake': the Y4M file plays as the camera and the permission prompt is auto-accepted;
 * 'denied': a camera exists but nobody grants the permission (headless denies: NotAllowedError);
 * 'none': the prompt is accepted but no camera exists (NotFoundError).
 */
export type CameraSetup = { kind: 'fake'; y4mFile: string } | { kind: 'denied' } | { kind: 'none' };

export function cameraArgs(camera: CameraSetup): string[] {
  switch (camera.kind) {
    case 'fake':
      return ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${camera.y4mFile}`];
    case 'denied':
      return ['--use-fake-device-for-media-stream'];
    case 'none':
      return ['--use-fake-ui-for-media-stream'];
  }
}

export async function launchChromium(camera: CameraSetup): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...BASE_ARGS, ...cameraArgs(camera)] });
}

export interface AppPage {
  context: BrowserContext;
  page: Page;
  /** Messages the page logged as errors and uncaught exceptions, for failure reports. */
  consoleErrors: string[];
  /** ms from navigation start to the UI's first lists being shown. */
  coldStartMs: number;
}

/** Opens the app with the token URL (exchanged for the cookie) and waits until it is interactive. */
export async function openApp(browser: Browser, mode: BrowserMode): Promise<AppPage> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
  const page = await context.newPage();
  const consoleErrors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(`uncaught: ${error.message}`));
  const started = Date.now();
  await page.goto(mode.server.url);
  await page.locator('[data-ready="true"]').waitFor({ timeout: 60_000 });
  return { context, page, consoleErrors, coldStartMs: Date.now() - started };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(artifactsDir, { recursive: true });
  const file = path.join(artifactsDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Files under `dir` whose name matches, depth-first (the exported sheet PNG in the workspace). */
export async function findFiles(dir: string, pattern: RegExp): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await findFiles(full, pattern)));
    else if (pattern.test(entry.name)) found.push(full);
  }
  return found.sort();
}

/** The app of one suite: its browser mode, its Chromium and its page, each filled in by the suite's beforeAll. */
export interface SuiteApp {
  readonly mode: BrowserMode;
  readonly browser: Browser;
  readonly app: AppPage;
}

/**
 * Called inside a describe: before its tests, the renderer is built if stale, browser mode starts on a
 * fresh workspace and Chromium opens the app; after them, both are closed (and the workspace removed).
 */
export function appForSuite(camera: CameraSetup = { kind: 'none' }): SuiteApp {
  // Each part recorded as soon as it is open, so afterAll closes what a failing beforeAll left open.
  const opened: { mode?: BrowserMode; browser?: Browser; app?: AppPage } = {};
  beforeAll(async () => {
    await ensureRendererBuilt();
    opened.mode = await startBrowserMode();
    opened.browser = await launchChromium(camera);
    opened.app = await openApp(opened.browser, opened.mode);
  });
  afterAll(async () => {
    await opened.browser?.close();
    await opened.mode?.close();
  });
  const ready = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`the suite's ${what} is not open (beforeAll failed or has not run)`);
    return value;
  };
  return {
    get mode() {
      return ready(opened.mode, 'browser mode');
    },
    get browser() {
      return ready(opened.browser, 'Chromium');
    },
    get app() {
      return ready(opened.app, 'app page');
    },
  };
}
