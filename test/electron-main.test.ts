/**
 * The built Electron main process (dist/main/electron/main.js) wired up against a stand-in for the
 * `electron` module (there is no Electron binary here): a module hook in a child Node process
 * resolves `electron` to a recorder, main.js runs unchanged, and the recorder then drives what
 * Electron would: the window's events, the app-scheme handler, the permission handlers, IPC calls
 * from our page and from elsewhere, navigation attempts of any frame, a second launch, DevTools,
 * and printing a sheet set whose sheet-set.json points outside the workspace or at a real PDF that
 * fails to print. FAKE_PACKAGED plays a packaged build, FAKE_SECOND_INSTANCE a second launch.
 * (npm test builds dist/ first.)
 */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { realpathSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { API_METHOD_NAMES } from '../app/api/methods.js';
import { CONTENT_SECURITY_POLICY } from '../main/electron/security.js';
import { ensureRendererAndPreload, requireBuilt, root } from './electron-build-fixture.js';
import { tempDirForTest } from './temp-dir.js';

/** The stand-in: records what main.js asks of Electron, then plays Electron's part and prints a report. */
const fakeElectron = String.raw`
const report = { windows: [], ipcChannels: [], shown: false, loaded: [], exposed: null, focused: 0, opened: [], shownInFolder: [], printed: [], devToolsClosed: 0 };
const packaged = process.env.FAKE_PACKAGED === '1';
const listeners = {};
const handlers = {};
class Emitter {
  constructor() { this.events = {}; }
  on(name, fn) { (this.events[name] ??= []).push(fn); return this; }
  once(name, fn) { return this.on(name, fn); }
  emit(name, ...args) { for (const fn of this.events[name] ?? []) fn(...args); }
}
export const app = Object.assign(new Emitter(), {
  isPackaged: packaged,
  enableSandbox() { report.sandboxEnabled = true; },
  requestSingleInstanceLock() { report.lockRequested = true; return process.env.FAKE_SECOND_INSTANCE !== '1'; },
  whenReady() { report.whenReadyCalled = true; return Promise.resolve(); },
  quit() { report.quit = true; },
  exit(code) { report.exitCode = code; },
});
class WebContents extends Emitter {
  setWindowOpenHandler(fn) { this.windowOpen = fn; }
  send(channel, payload) { (report.sent ??= []).push([channel, payload]); }
  // The printer fails, so the fallback path runs.
  print(options, callback) { report.printed.push(options); callback(false, 'no printer'); }
  closeDevTools() { report.devToolsClosed++; }
}
export class BrowserWindow extends Emitter {
  constructor(options) {
    super();
    this.options = options;
    this.minimized = false;
    this.destroyed = false;
    this.webContents = new WebContents();
    report.windows.push({ ...options, webPreferences: { ...options.webPreferences, session: options.webPreferences?.session?.name } });
    app.emit('web-contents-created', {}, this.webContents);
    BrowserWindow.all.push(this);
  }
  loadURL(url) { report.loaded.push(url); return Promise.resolve(); }
  show() { report.shown = true; }
  focus() { report.focused++; }
  isMinimized() { return this.minimized; }
  restore() { this.minimized = false; report.restored = true; }
  isDestroyed() { return this.destroyed; }
  destroy() { this.destroyed = true; }
}
BrowserWindow.all = [];
export const ipcMain = {
  handle(channel, fn) { handlers[channel] = fn; report.ipcChannels.push(channel); },
  removeHandler(channel) { delete handlers[channel]; },
};
export const protocol = {
  registerSchemesAsPrivileged(schemes) { report.schemes = schemes; },
  handle(scheme, fn) { report.protocolScheme = scheme; this.handler = fn; },
};
function makeSession(name) {
  const made = {
    name,
    setPermissionRequestHandler(fn) { made.request = fn; },
    setPermissionCheckHandler(fn) { made.check = fn; },
    webRequest: { onBeforeRequest(fn) { made.beforeRequest = fn; } },
  };
  return made;
}
const ses = makeSession('default');
const partitions = {};
export const session = { defaultSession: ses, fromPartition(name) { return (partitions[name] ??= makeSession(name)); } };
export const shell = {
  openPath: async (file) => { report.opened.push(file); return ''; },
  openExternal: async (url) => { report.opened.push(url); },
  showItemInFolder(file) { report.shownInFolder.push(file); },
};
export default { app, BrowserWindow, ipcMain, protocol, session, shell };

// Play Electron's part once main.js has set everything up.
setTimeout(async () => {
  if (process.env.FAKE_SECOND_INSTANCE === '1') {
    process.stdout.write('REPORT ' + JSON.stringify(report) + '\n');
    process.exit(0);
  }
  try {
    const window = BrowserWindow.all[0];
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
    report.permissions.checkUnknownMedia = ses.check(window.webContents, 'media', 'foolprint://app', { mediaType: 'unknown' });
    const request = (url) => new Promise((resolve) => ses.beforeRequest({ url }, (r) => resolve(r.cancel)));
    report.cancelled = { remote: await request('https://cdn.example/x.js'), own: await request('foolprint://app/assets/a.js'), devtools: await request('devtools://devtools/bundled/inspector.html'), extension: await request('chrome-extension://abcdefghijklmnopabcdefghijklmnop/x.js') };
    let prevented = false;
    window.webContents.emit('will-navigate', { preventDefault() { prevented = true; } }, 'https://evil.example/');
    report.navigationPrevented = prevented;
    const frameNavigation = (url, isMainFrame) => {
      let blocked = false;
      window.webContents.emit('will-frame-navigate', { url, isMainFrame, isSameDocument: false, frame: null, preventDefault() { blocked = true; } });
      return blocked;
    };
    report.framePrevented = {
      mainOwn: frameNavigation('foolprint://app/index.html', true),
      mainEvil: frameNavigation('https://evil.example/', true),
      subEvil: frameNavigation('https://evil.example/', false),
      subFile: frameNavigation('file:///etc/passwd', false),
    };
    window.webContents.emit('devtools-opened');
    window.minimized = true;
    app.emit('second-instance', {}, ['electron', 'main.js'], '/');
    report.windowOpen = window.webContents.windowOpen({ url: 'https://evil.example/' });
    report.ipcOwn = await handlers['foolprint:call:system.info']({ senderFrame: { url: 'foolprint://app/index.html' } }, {});
    report.ipcForeign = await handlers['foolprint:call:system.info']({ senderFrame: { url: 'https://evil.example/' } }, {});
    report.ipcInvalid = await handlers['foolprint:call:experiments.create']({ senderFrame: { url: 'foolprint://app/index.html' } }, { name: 42 });
    report.ipcCreate = await handlers['foolprint:call:experiments.create']({ senderFrame: { url: 'foolprint://app/index.html' } }, { name: 'from the window' });

    // Printing: sheet-set.json is workspace data; one points outside, one at a real PDF.
    const fs = await import('node:fs');
    const path = await import('node:path');
    const experiment = report.ipcCreate.value.id;
    const workspace = process.argv[process.argv.indexOf('--workspace') + 1];
    // The edited set gets an experiment of its own: a set pointing outside makes its experiment's
    // sheet list refuse (the service's confinement), which would hide the good set beside it.
    const tampered = (await handlers['foolprint:call:experiments.create']({ senderFrame: { url: 'foolprint://app/index.html' } }, { name: 'tampered' })).value.id;
    const writeSet = (setId, pdfPath, experimentId = experiment) => {
      const folder = path.join(workspace, experimentId, 'sheets', setId);
      fs.mkdirSync(folder, { recursive: true });
      fs.writeFileSync(path.join(folder, 'sheet-set.json'), JSON.stringify({ sheetSetId: setId, experimentId, runId: 'r1', createdAt: new Date().toISOString(), pageCount: 1, cellCount: 1, sheetIds: [0], pdfPath, pngPaths: [], manifestPaths: [] }));
      return folder;
    };
    const printSheet = (sheetSetId, experimentId = experiment) => handlers['foolprint:host:printSheet']({ senderFrame: { url: 'foolprint://app/index.html' } }, { experimentId, sheetSetId });
    writeSet('outside', '/etc/passwd', tampered);
    const windowsBefore = BrowserWindow.all.length;
    report.printOutside = await printSheet('outside', tampered);
    report.printOutsideWindows = BrowserWindow.all.length - windowsBefore;
    const inside = path.join(writeSet('inside', ''), 'sheet.pdf');
    fs.writeFileSync(inside, '%PDF-1.7\n');
    writeSet('inside', inside);
    report.pdfFile = inside;
    report.printInside = await printSheet('inside');
    const printWindow = BrowserWindow.all[BrowserWindow.all.length - 1];
    report.printWindowDestroyed = printWindow.destroyed;
    const printSession = partitions['foolprint-print'];
    const printRequest = (url) => new Promise((resolve) => printSession.beforeRequest({ url }, (r) => resolve(r.cancel)));
    report.printCancelled = {
      pdf: await printRequest(report.loaded[report.loaded.length - 1]),
      passwd: await printRequest('file:///etc/passwd'),
      viewer: await printRequest('chrome-extension://mhjfbmdgcfjbbpaeojofohoefgiehjai/index.html'),
      otherExtension: await printRequest('chrome-extension://abcdefghijklmnopabcdefghijklmnop/x.js'),
    };
  } catch (error) {
    report.error = String(error && error.stack || error);
  }
  process.stdout.write('REPORT ' + JSON.stringify(report) + '\n');
  process.exit(0);
}, 300);
`;

/** Runs the built main.js against the stand-in, in a child process; returns its report. */
async function runMain(env: Record<string, string>): Promise<{ report: Record<string, any>; workspace: string }> {
  const mainJs = requireBuilt('dist/main/electron/main.js', 'main/electron/main.ts');
  await ensureRendererAndPreload();
  const dir = realpathSync(tempDirForTest('fp-electron-main-'));
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
    execFile(process.execPath, ['--import', pathToFileURL(path.join(dir, 'register.mjs')).href, mainJs, '--workspace', workspace], { cwd: root, timeout: 60_000, env: { ...process.env, ...env } }, (error, out, err) => {
      if (error) reject(new Error(`${error.message}\n${err}`));
      else resolve(out);
    });
  });
  return { report: JSON.parse(/^REPORT (.*)$/m.exec(stdout)![1]), workspace };
}

const securePreferences = { contextIsolation: true, sandbox: true, nodeIntegration: false, nodeIntegrationInWorker: false, nodeIntegrationInSubFrames: false, webSecurity: true, allowRunningInsecureContent: false, webviewTag: false, disableBlinkFeatures: 'Auxclick' };

describe('dist/main/electron/main.js wired to a stand-in electron module', () => {
  it('packaged: secure window on ready-to-show, app scheme with CSP, permissions, requests, navigation of any frame, no DevTools, IPC, a second launch, confined printing', async () => {
    const { report, workspace } = await runMain({ FAKE_PACKAGED: '1' });
    expect(report.error).toBeUndefined();

    expect(report.sandboxEnabled).toBe(true);
    expect(report.lockRequested).toBe(true);
    expect(report.schemes).toEqual([{ scheme: 'foolprint', privileges: expect.objectContaining({ standard: true, secure: true }) }]);
    expect(report.windows[0].webPreferences).toEqual({ ...securePreferences, experimentalFeatures: false, navigateOnDragDrop: false, spellcheck: false, devTools: false, preload: path.join(root, 'dist/main/preload/preload.cjs') });
    expect(report.shownBeforeReady).toBe(false);
    expect(report.shown).toBe(true);
    expect(report.loaded[0]).toBe('foolprint://app/index.html');

    expect(report.page).toEqual({ status: 200, type: 'text/html; charset=utf-8', csp: CONTENT_SECURITY_POLICY, hasApp: true });
    expect(report.escape).toBe(404);
    expect(report.permissions).toEqual({ ownCamera: true, foreignCamera: false, ownGeolocation: false, checkOwn: true, checkForeign: false, checkUnknownMedia: false });
    expect(report.cancelled).toEqual({ remote: true, own: false, devtools: true, extension: true });
    expect(report.navigationPrevented).toBe(true);
    expect(report.framePrevented).toEqual({ mainOwn: false, mainEvil: true, subEvil: true, subFile: true });
    expect(report.windowOpen).toEqual({ action: 'deny' });
    expect(report.devToolsClosed).toBe(1);
    // The second launch brought the minimized window back.
    expect(report.restored).toBe(true);
    expect(report.focused).toBe(1);

    expect(report.ipcChannels.sort()).toEqual([...API_METHOD_NAMES.map((m) => `foolprint:call:${m}`), 'foolprint:host:printSheet'].sort());
    expect(report.ipcOwn).toMatchObject({ ok: true, value: { host: 'electron', workspaceDir: workspace } });
    expect(report.ipcForeign).toMatchObject({ ok: false, error: { code: 'failed' } });
    expect(report.ipcInvalid).toMatchObject({ ok: false, error: { code: 'invalid-input', message: 'Name must be text, got 42' } });
    expect(report.ipcCreate).toMatchObject({ ok: true, value: { name: 'from the window', state: 'ready' } });

    // sheet-set.json's pdfPath edited to /etc/passwd: refused before any window, nothing opened.
    expect(report.printOutside).toMatchObject({ ok: false, error: { message: expect.stringMatching(/\/etc\/passwd.*(outside the workspace|points outside its folder)|no sheet set/) } });
    expect(report.printOutsideWindows).toBe(0);
    // A real PDF inside the workspace: a print window without preload in its own session; the printer
    // fails, and the PDF is shown in its folder, never opened with the system's handler.
    expect(report.windows).toHaveLength(2);
    expect(report.windows[1].webPreferences).toEqual({ ...securePreferences, experimentalFeatures: false, navigateOnDragDrop: false, spellcheck: false, devTools: false, plugins: true, session: 'foolprint-print' });
    expect(report.loaded[1]).toBe(pathToFileURL(report.pdfFile).href);
    expect(report.printed).toHaveLength(1);
    expect(report.printInside).toMatchObject({ ok: true, value: { printed: false, message: expect.stringMatching(/^printing from Foolprint failed \(no printer\); the PDF is .*sheet\.pdf, shown in its folder/) } });
    expect(report.shownInFolder).toEqual([report.pdfFile]);
    expect(report.opened).toEqual([]);
    expect(report.printWindowDestroyed).toBe(true);
    expect(report.printCancelled).toEqual({ pdf: false, passwd: true, viewer: false, otherExtension: true });
  });

  it('from source: DevTools on, with their devtools: and chrome-extension: pages', async () => {
    const { report } = await runMain({ FAKE_PACKAGED: '0' });
    expect(report.error).toBeUndefined();
    expect(report.windows[0].webPreferences).toMatchObject({ ...securePreferences, devTools: true });
    expect(report.cancelled).toEqual({ remote: true, own: false, devtools: false, extension: false });
    expect(report.devToolsClosed).toBe(0);
  });

  it('a second launch opens nothing and quits (the first instance focuses its window)', async () => {
    const { report } = await runMain({ FAKE_SECOND_INSTANCE: '1' });
    expect(report.lockRequested).toBe(true);
    expect(report.quit).toBe(true);
    expect(report.whenReadyCalled).toBeUndefined();
    expect(report.windows).toEqual([]);
    expect(report.ipcChannels).toEqual([]);
  });
});
