/**
 * The built Electron main process (dist/main/electron/main.js) wired up against a stand-in for the
 * `electron` module (there is no Electron binary here): a module hook in a child Node process
 * resolves `electron` to a recorder, main.js runs unchanged, and the recorder then drives what
 * Electron would: the window's events, the app-scheme handler, the permission handlers, IPC calls
 * from our page and from elsewhere, a navigation attempt. (npm test builds dist/ first.)
 */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { API_METHOD_NAMES } from '../app/api/methods.js';
import { CONTENT_SECURITY_POLICY } from '../main/electron/security.js';
import { ensureRendererAndPreload, requireBuilt, root } from './electron-build-fixture.js';

/** The stand-in: records what main.js asks of Electron, then plays Electron's part and prints a report. */
const fakeElectron = String.raw`
const report = { windows: [], ipcChannels: [], shown: false, loaded: [], exposed: null };
const listeners = {};
const handlers = {};
class Emitter {
  constructor() { this.events = {}; }
  on(name, fn) { (this.events[name] ??= []).push(fn); return this; }
  once(name, fn) { return this.on(name, fn); }
  emit(name, ...args) { for (const fn of this.events[name] ?? []) fn(...args); }
}
export const app = Object.assign(new Emitter(), {
  enableSandbox() { report.sandboxEnabled = true; },
  whenReady() { return Promise.resolve(); },
  quit() { report.quit = true; },
  exit(code) { report.exitCode = code; },
});
class WebContents extends Emitter {
  setWindowOpenHandler(fn) { this.windowOpen = fn; }
  send(channel, payload) { (report.sent ??= []).push([channel, payload]); }
}
export class BrowserWindow extends Emitter {
  constructor(options) {
    super();
    this.options = options;
    this.webContents = new WebContents();
    report.windows.push(options);
    app.emit('web-contents-created', {}, this.webContents);
    BrowserWindow.last = this;
  }
  loadURL(url) { report.loaded.push(url); return Promise.resolve(); }
  show() { report.shown = true; }
  isDestroyed() { return false; }
}
export const ipcMain = {
  handle(channel, fn) { handlers[channel] = fn; report.ipcChannels.push(channel); },
  removeHandler(channel) { delete handlers[channel]; },
};
export const protocol = {
  registerSchemesAsPrivileged(schemes) { report.schemes = schemes; },
  handle(scheme, fn) { report.protocolScheme = scheme; this.handler = fn; },
};
const ses = {
  setPermissionRequestHandler(fn) { this.request = fn; },
  setPermissionCheckHandler(fn) { this.check = fn; },
  webRequest: { onBeforeRequest(fn) { ses.beforeRequest = fn; } },
};
export const session = { defaultSession: ses, fromPartition() { return ses; } };
export const shell = { openPath: async () => '' };
export default { app, BrowserWindow, ipcMain, protocol, session, shell };

// Play Electron's part once main.js has set everything up.
setTimeout(async () => {
  try {
    const window = BrowserWindow.last;
    report.shownBeforeReady = report.shown;
    window.emit('ready-to-show');
    const page = await protocol.handler(new Request('foolprint://app/index.html'));
    report.page = { status: page.status, type: page.headers.get('content-type'), csp: page.headers.get('content-security-policy'), hasApp: (await page.text()).includes('id="app"') };
    report.escape = (await protocol.handler(new Request('foolprint://app/..%2f..%2fpackage.json'))).status;
    const permission = (permissionName, url, mediaTypes) => new Promise((resolve) => ses.request(window.webContents, permissionName, resolve, { requestingUrl: url, mediaTypes }));
    report.permissions = {
      ownCamera: await permission('media', 'foolprint://app/index.html', ['video']),
      foreignCamera: await permission('media', 'https://evil.example/', ['video']),
      ownGeolocation: await permission('geolocation', 'foolprint://app/index.html', []),
      checkOwn: ses.check(window.webContents, 'media', 'foolprint://app', { mediaType: 'video' }),
      checkForeign: ses.check(window.webContents, 'media', 'https://evil.example', { mediaType: 'video' }),
    };
    const request = (url) => new Promise((resolve) => ses.beforeRequest({ url }, (r) => resolve(r.cancel)));
    report.cancelled = { remote: await request('https://cdn.example/x.js'), own: await request('foolprint://app/assets/a.js') };
    let prevented = false;
    window.webContents.emit('will-navigate', { preventDefault() { prevented = true; } }, 'https://evil.example/');
    report.navigationPrevented = prevented;
    report.windowOpen = window.webContents.windowOpen({ url: 'https://evil.example/' });
    report.ipcOwn = await handlers['foolprint:call:system.info']({ senderFrame: { url: 'foolprint://app/index.html' } }, {});
    report.ipcForeign = await handlers['foolprint:call:system.info']({ senderFrame: { url: 'https://evil.example/' } }, {});
    report.ipcInvalid = await handlers['foolprint:call:experiments.create']({ senderFrame: { url: 'foolprint://app/index.html' } }, { name: 42 });
    report.ipcCreate = await handlers['foolprint:call:experiments.create']({ senderFrame: { url: 'foolprint://app/index.html' } }, { name: 'from the window' });
  } catch (error) {
    report.error = String(error && error.stack || error);
  }
  process.stdout.write('REPORT ' + JSON.stringify(report) + '\n');
  process.exit(0);
}, 300);
`;

describe('dist/main/electron/main.js wired to a stand-in electron module', () => {
  it('secure window shown on ready-to-show, app scheme with CSP, permissions, requests, navigation, IPC', async () => {
    const mainJs = requireBuilt('dist/main/electron/main.js', 'main/electron/main.ts');
    await ensureRendererAndPreload();
    const dir = mkdtempSync(path.join(tmpdir(), 'fp-electron-main-'));
    writeFileSync(path.join(dir, 'electron.mjs'), fakeElectron);
    writeFileSync(
      path.join(dir, 'hooks.mjs'),
      `export async function resolve(specifier, context, next) {
  if (specifier === 'electron') return { url: ${JSON.stringify(pathToFileURL(path.join(dir, 'electron.mjs')).href)}, shortCircuit: true };
  return next(specifier, context);
}\n`,
    );
    writeFileSync(path.join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(path.join(dir, 'hooks.mjs')).href)});\n`);
    const workspace = path.join(dir, 'workspace');

    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--import', pathToFileURL(path.join(dir, 'register.mjs')).href, mainJs, '--workspace', workspace], { cwd: root, timeout: 60_000 }, (error, out, err) => {
        if (error) reject(new Error(`${error.message}\n${err}`));
        else resolve(out);
      });
    });
    const report = JSON.parse(/^REPORT (.*)$/m.exec(stdout)![1]);
    expect(report.error).toBeUndefined();

    expect(report.sandboxEnabled).toBe(true);
    expect(report.schemes).toEqual([{ scheme: 'foolprint', privileges: expect.objectContaining({ standard: true, secure: true }) }]);
    expect(report.windows).toHaveLength(1);
    expect(report.windows[0].webPreferences).toMatchObject({ sandbox: true, contextIsolation: true, nodeIntegration: false, webviewTag: false, preload: path.join(root, 'dist/main/preload/preload.cjs') });
    expect(report.shownBeforeReady).toBe(false);
    expect(report.shown).toBe(true);
    expect(report.loaded).toEqual(['foolprint://app/index.html']);

    expect(report.page).toEqual({ status: 200, type: 'text/html; charset=utf-8', csp: CONTENT_SECURITY_POLICY, hasApp: true });
    expect(report.escape).toBe(404);
    expect(report.permissions).toEqual({ ownCamera: true, foreignCamera: false, ownGeolocation: false, checkOwn: true, checkForeign: false });
    expect(report.cancelled).toEqual({ remote: true, own: false });
    expect(report.navigationPrevented).toBe(true);
    expect(report.windowOpen).toEqual({ action: 'deny' });

    expect(report.ipcChannels.sort()).toEqual([...API_METHOD_NAMES.map((m) => `foolprint:call:${m}`), 'foolprint:host:printSheet'].sort());
    expect(report.ipcOwn).toMatchObject({ ok: true, value: { host: 'electron', workspaceDir: workspace } });
    expect(report.ipcForeign).toMatchObject({ ok: false, error: { code: 'failed' } });
    expect(report.ipcInvalid).toMatchObject({ ok: false, error: { code: 'invalid-input', message: 'Name must be text, got 42' } });
    expect(report.ipcCreate).toMatchObject({ ok: true, value: { name: 'from the window', state: 'ready' } });
  });
});
