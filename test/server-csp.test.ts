/**
 * The CSP in a real browser (Debian's Chromium, skipped where it is absent): the page may compile
 * WebAssembly but not eval; a worker (OpenCV.js's embind uses `new Function`) may do both; remote
 * content is blocked.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';
import { startServer } from '../main/server/server.js';
import type { RunningServer } from '../main/server/server.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`CSP browser test skipped: no Chromium at ${CHROMIUM}`);

// The smallest valid WebAssembly module: magic number and version.
const EMPTY_WASM = '[0, 97, 115, 109, 1, 0, 0, 0]';
const probe = `
  let evalResult;
  try { evalResult = String(new Function('return 6 * 7')()); } catch (e) { evalResult = 'blocked'; }
  let wasmResult;
  try { await WebAssembly.compile(new Uint8Array(${EMPTY_WASM})); wasmResult = 'ok'; } catch (e) { wasmResult = 'blocked'; }
`;

describe.skipIf(!hasChromium)('Content-Security-Policy in Chromium', () => {
  let dir: string;
  let server: RunningServer;
  let browser: Browser;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'foolprint-csp-'));
    const renderer = path.join(dir, 'renderer');
    await mkdir(path.join(renderer, 'assets'), { recursive: true });
    await writeFile(path.join(renderer, 'index.html'), '<!doctype html><title>csp</title><script type="module" src="./assets/page.js"></script><img id="remote" src="http://example.invalid/x.png">');
    await writeFile(path.join(renderer, 'assets', 'page.js'), `${probe}\nwindow.pageResult = { evalResult, wasmResult };`);
    await writeFile(path.join(renderer, 'assets', 'worker.js'), `${probe}\npostMessage({ evalResult, wasmResult });`);
    server = await startServer({ workspaceDir: path.join(dir, 'workspace'), port: 0, rendererDir: renderer });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lets the page compile WebAssembly but not eval, lets the worker do both, and loads nothing remote', async () => {
    const page = await browser.newPage();
    const consoleErrors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    const remoteResponses: string[] = [];
    page.on('response', (response) => {
      if (!response.url().startsWith(server.origin)) remoteResponses.push(response.url());
    });
    await page.goto(server.url);
    expect(new URL(page.url()).search).toBe('');
    // Browser-side code as strings: the test tsconfig has no DOM types.
    await page.waitForFunction('window.pageResult !== undefined');
    expect(await page.evaluate('window.pageResult')).toEqual({ evalResult: 'blocked', wasmResult: 'ok' });
    const fromWorker = await page.evaluate(`new Promise((resolve) => {
      const worker = new Worker('./assets/worker.js', { type: 'module' });
      worker.onmessage = (event) => resolve(event.data);
      worker.onerror = () => resolve('worker failed to load');
    })`);
    expect(fromWorker).toEqual({ evalResult: '42', wasmResult: 'ok' });
    expect(remoteResponses).toEqual([]);
    expect(consoleErrors.some((text) => /image 'http:\/\/example\.invalid\/x\.png' violates the following Content Security Policy directive: "img-src/.test(text))).toBe(true);
    await page.close();
  }, 30_000);
});
