/**
 * `npm start`'s decisions (arguments, Electron's binary present or not, which mode, how to open a
 * browser) as pure functions, then one real run of the built dist/main/start.js with Electron's binary
 * made unavailable: it says so in one line, serves browser mode, prints the URL, and stops on SIGTERM.
 * (npm test builds dist/ first.)
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureRendererAndPreload, requireBuilt } from './electron-build-fixture.js';
import { tempDirForTest } from './temp-dir.js';
import { StartError, browserOpenCommand, chooseStartMode, electronBinaryStatus, findElectronPackage, isStale, parseStartArgs } from '../main/start.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

describe('arguments', () => {
  it('defaults and every flag', () => {
    expect(parseStartArgs([])).toEqual({ mode: 'auto', open: true, build: true, buildOnly: false });
    expect(parseStartArgs(['--browser', '--no-open', '--no-build', '--port', '8765', '--workspace', 'ws'])).toEqual({ mode: 'browser', open: false, build: false, buildOnly: false, port: 8765, workspaceDir: path.resolve('ws') });
    expect(parseStartArgs(['--build-only']).buildOnly).toBe(true);
    expect(parseStartArgs(['--electron']).mode).toBe('electron');
  });

  it.each([
    [['--port'], '--port needs a value'],
    [['--port', '70000'], '--port must be a whole number from 0 to 65535, not "70000"'],
    [['--port', '--no-open'], '--port needs a value'],
    [['--browser', '--electron'], 'choose one of --browser and --electron'],
    [['--fast'], 'unknown option "--fast"'],
    [['--build-only', '--no-build'], '--build-only and --no-build contradict each other'],
  ])('%j → %s', (argv, message) => {
    expect(() => parseStartArgs(argv)).toThrow(StartError);
    expect(() => parseStartArgs(argv)).toThrow(message);
  });
});

describe("Electron's binary, found without running the electron package", () => {
  const fakeFs = (files: Record<string, string>) => ({ exists: (file: string) => file in files, readText: (file: string) => files[file] });
  const dir = '/p/node_modules/electron';

  it('present: path.txt names an existing executable in dist/', () => {
    expect(electronBinaryStatus(dir, {}, fakeFs({ [`${dir}/path.txt`]: 'electron', [`${dir}/dist/electron`]: '' }))).toEqual({ available: true, binary: `${dir}/dist/electron` });
    expect(electronBinaryStatus(dir, {}, fakeFs({ [`${dir}/path.txt`]: 'Electron.app/Contents/MacOS/Electron\n', [`${dir}/dist/Electron.app/Contents/MacOS/Electron`]: '' }))).toMatchObject({ available: true });
  });

  it('missing: never downloaded, dist emptied, package absent, override pointing nowhere', () => {
    expect(electronBinaryStatus(dir, {}, fakeFs({}))).toEqual({ available: false, reason: 'it was never downloaded: node_modules/electron/path.txt is missing' });
    expect(electronBinaryStatus(dir, {}, fakeFs({ [`${dir}/path.txt`]: 'electron' }))).toEqual({ available: false, reason: `${dir}/dist/electron is missing` });
    expect(electronBinaryStatus(null)).toEqual({ available: false, reason: 'the electron package is not installed' });
    expect(electronBinaryStatus(dir, { ELECTRON_OVERRIDE_DIST_PATH: '/opt/e' }, fakeFs({ [`${dir}/path.txt`]: 'electron' }))).toEqual({ available: false, reason: 'ELECTRON_OVERRIDE_DIST_PATH has no /opt/e/electron' });
    expect(electronBinaryStatus(dir, { ELECTRON_OVERRIDE_DIST_PATH: '/opt/e' }, fakeFs({ '/opt/e/electron': '' }))).toEqual({ available: true, binary: '/opt/e/electron' });
  });

  it('on this machine: agrees with the files (and never starts a download)', () => {
    const electronDir = findElectronPackage(import.meta.url);
    expect(electronDir).toBe(path.join(root, 'node_modules/electron'));
    const status = electronBinaryStatus(electronDir, {});
    const pathFile = path.join(electronDir!, 'path.txt');
    expect(status.available).toBe(existsSync(pathFile) && existsSync(path.join(electronDir!, 'dist')));
  });
});

describe('which mode', () => {
  const present = { available: true as const, binary: '/e/electron' };
  const missing = { available: false as const, reason: 'it was never downloaded: node_modules/electron/path.txt is missing' };

  it('Electron when its binary and a display are there', () => {
    expect(chooseStartMode('auto', present, 'linux', { DISPLAY: ':0' })).toEqual({ mode: 'electron', binary: '/e/electron' });
    expect(chooseStartMode('auto', present, 'linux', { WAYLAND_DISPLAY: 'wayland-0' })).toEqual({ mode: 'electron', binary: '/e/electron' });
    expect(chooseStartMode('auto', present, 'darwin', {})).toEqual({ mode: 'electron', binary: '/e/electron' });
  });

  it('binary missing → browser mode with one line saying why', () => {
    const decision = chooseStartMode('auto', missing, 'linux', { DISPLAY: ':0' });
    expect(decision).toEqual({ mode: 'browser', notice: "Electron's binary is not available (it was never downloaded: node_modules/electron/path.txt is missing); serving browser mode instead." });
    expect(decision.mode === 'browser' && decision.notice).not.toContain('\n');
  });

  it('no display on Linux → browser mode; --browser → browser mode silently; --electron without binary → error', () => {
    expect(chooseStartMode('auto', present, 'linux', {})).toMatchObject({ mode: 'browser', notice: expect.stringMatching(/^no display for a window/) });
    expect(chooseStartMode('browser', present, 'linux', { DISPLAY: ':0' })).toEqual({ mode: 'browser', notice: null });
    expect(() => chooseStartMode('electron', missing, 'linux', { DISPLAY: ':0' })).toThrow(/^cannot open the Electron window: Electron's binary is not available/);
  });

  it('opening the system browser per platform', () => {
    const url = 'http://127.0.0.1:8765/?token=abc&x=1';
    expect(browserOpenCommand('linux', url)).toEqual({ command: 'xdg-open', args: [url] });
    expect(browserOpenCommand('darwin', url)).toEqual({ command: 'open', args: [url] });
    expect(browserOpenCommand('win32', url)).toEqual({ command: 'cmd', args: ['/d', '/s', '/c', 'start', '""', 'http://127.0.0.1:8765/?token=abc^&x=1'] });
  });

  it('staleness: a missing output, or any input newer than it', () => {
    // Own files with set mtimes: a fresh clone gives the repository's files one and the same mtime.
    const dir = tempDirForTest('fp-stale-');
    const output = path.join(dir, 'bundle.js');
    const inputs = path.join(dir, 'src');
    mkdirSync(path.join(inputs, 'deep'), { recursive: true });
    writeFileSync(output, 'built');
    writeFileSync(path.join(inputs, 'deep', 'a.ts'), 'source');
    utimesSync(output, 2000, 2000);
    utimesSync(path.join(inputs, 'deep', 'a.ts'), 1000, 1000);
    expect(isStale(path.join(dir, 'no-such-output'), [inputs])).toBe(true);
    expect(isStale(output, [path.join(dir, 'no-such-input')])).toBe(false);
    expect(isStale(output, [inputs])).toBe(false);
    utimesSync(path.join(inputs, 'deep', 'a.ts'), 3000, 3000);
    expect(isStale(output, [inputs])).toBe(true);
  });
});

describe('a real run of dist/main/start.js', () => {
  it("without Electron's binary: one line saying so, browser mode served at the printed URL, stopped by SIGTERM", async () => {
    const script = requireBuilt('dist/main/start.js', 'main/start.ts');
    await ensureRendererAndPreload();
    const workspace = tempDirForTest('fp-start-');
    // An override folder without the binary makes "missing" certain even where Electron is installed.
    const noElectron = tempDirForTest('fp-no-electron-');
    const child = spawn(process.execPath, [script, '--no-open', '--no-build', '--port', '0', '--workspace', workspace], {
      cwd: root,
      env: { ...process.env, ELECTRON_OVERRIDE_DIST_PATH: noElectron, DISPLAY: ':99' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no URL within 60 s; stdout: ${stdout} stderr: ${stderr}`)), 60_000);
        child.stdout.on('data', (d) => {
          stdout += d;
          const match = /browser mode at (http:\/\/127\.0\.0\.1:\d+\/\S*)/.exec(stdout);
          if (match) {
            clearTimeout(timer);
            resolve(match[1]);
          }
        });
        child.on('exit', (code) => reject(new Error(`start.js exited ${code} before serving: ${stderr}`)));
      });
      const lines = stdout.trim().split('\n');
      expect(lines[0]).toBe(`foolprint: Electron's binary is not available (ELECTRON_OVERRIDE_DIST_PATH has no ${path.join(noElectron, 'electron')}); serving browser mode instead.`);
      expect(url).toMatch(/\?token=[0-9a-f]{16,}/);

      // The token URL signs the browser in (cookie) and the page is the renderer.
      const signIn = await fetch(url, { redirect: 'manual' });
      expect(signIn.status).toBe(302);
      const cookie = signIn.headers.get('set-cookie')!.split(';')[0];
      const page = await fetch(new URL('/', url), { headers: { cookie } });
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<title>Foolprint</title>');
      const info = await fetch(new URL('/api/system.info', url), { method: 'POST', headers: { cookie, 'content-type': 'application/json', origin: new URL(url).origin }, body: '{}' });
      expect(await info.json()).toMatchObject({ host: 'browser', workspaceDir: workspace });
      // Without the token: refused.
      expect((await fetch(new URL('/api/system.info', url), { method: 'POST', body: '{}' })).status).toBe(401);
    } finally {
      // A child that has already exited (the test failed because it did) gets no second 'exit' event.
      const exit = child.exitCode !== null || child.signalCode !== null ? Promise.resolve(child.exitCode) : new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exit).toBe(0);
    }
  });
});
