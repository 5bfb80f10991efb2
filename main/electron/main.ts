/**
 * The Electron main process (issue 4, "Hosts"): one sandboxed window showing the Svelte renderer
 * from foolprint://app/, the API served over IPC by the in-process service (compute on its worker
 * threads, never in the renderer), files read and written here, sheets printed here.
 *
 * Every security decision lives in ./security.ts and every IPC handler in ./ipc.ts, pure and unit
 * tested; this file only wires them to Electron. The window options are the exception: each
 * `new BrowserWindow` states its security-critical webPreferences literally, where a reviewer and
 * Electronegativity (test/electron-scanner.test.ts) can see them. One instance per user.
 *
 *   electron dist/main/electron/main.js [--workspace DIR]
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { app, BrowserWindow, ipcMain, protocol, session, shell } from 'electron';
import type { WebContents } from 'electron';
import { API_EVENT_NAMES } from '../../app/api/events.js';
import { createFoolprintService } from '../../app/node/service.js';
import type { FoolprintService } from '../../app/node/service.js';
import { defaultWorkspaceDir } from '../../app/node/experiment-store.js';
import { eventChannel } from '../preload/channels.js';
import { registerIpcHandlers } from './ipc.js';
import {
  APP_ENTRY_URL,
  APP_SCHEME,
  contentSecurityPolicyFor,
  allowFrameNavigation,
  allowNavigation,
  allowPermissionCheck,
  allowPermissionRequest,
  allowPrintRequest,
  allowRequest,
  contentTypeFor,
  resolveAppFile,
  windowOpenDecision,
} from './security.js';
import { confinedSheetPdf } from './sheet-pdf.js';

// dist/main/electron/main.js → the project (or app.asar) root holds dist/ and renderer/dist/.
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const rendererDir = path.join(root, 'renderer/dist');
const preloadPath = path.join(root, 'dist/main/preload/preload.cjs');

function workspaceDirFromArgs(argv: readonly string[]): string {
  const index = argv.indexOf('--workspace');
  return index >= 0 && argv[index + 1] ? path.resolve(argv[index + 1]) : defaultWorkspaceDir();
}

// Must precede `ready`: a standard + secure scheme gets an origin, fetch, module workers and getUserMedia.
// corsEnabled stays off: our page only loads from its own origin, and no other origin may read ours.
protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, stream: true, codeCache: true } }]);
app.enableSandbox();

let mainWindow: BrowserWindow | null = null;
let service: FoolprintService | null = null;
const workspaceDir = workspaceDirFromArgs(process.argv);
// DevTools (and the devtools:/chrome-extension: pages they load) only when run from source.
const devTools = !app.isPackaged;
/** file: URLs of the PDFs being printed: the only files a print window's frames may show. */
const printingPdfUrls = new Set<string>();

/** Serve renderer/dist on foolprint://app/, with the CSP as a header as well as the page's meta tag. */
function serveRenderer(): void {
  protocol.handle(APP_SCHEME, async (request) => {
    const file = resolveAppFile(request.url, rendererDir);
    if (!file) return new Response('not found', { status: 404 });
    try {
      const body = await readFile(file);
      return new Response(body, {
        headers: {
          'content-type': contentTypeFor(file),
          'content-security-policy': contentSecurityPolicyFor(file),
          'x-content-type-options': 'nosniff',
        },
      });
    } catch {
      return new Response('not found', { status: 404 });
    }
  });
}

function lockDownSession(): void {
  const ses = session.defaultSession;
  ses.setPermissionRequestHandler((_contents, permission, callback, details) => {
    const mediaTypes = 'mediaTypes' in details ? ((details.mediaTypes as string[] | undefined) ?? []) : [];
    callback(allowPermissionRequest(permission, details.requestingUrl, mediaTypes));
  });
  ses.setPermissionCheckHandler((_contents, permission, requestingOrigin, details) => allowPermissionCheck(permission, requestingOrigin, (details as { mediaType?: string }).mediaType));
  ses.webRequest.onBeforeRequest((details, callback) => callback({ cancel: !allowRequest(details.url, devTools) }));
}

/**
 * Every web contents, including any we did not create: no new windows, no navigation of any frame,
 * no <webview>, no DevTools in a packaged build.
 */
function guardContents(contents: WebContents): void {
  contents.setWindowOpenHandler(({ url }) => windowOpenDecision(url));
  const blockNavigation = (event: { preventDefault(): void }, url: string) => {
    if (!allowNavigation(url)) event.preventDefault();
  };
  contents.on('will-navigate', blockNavigation);
  contents.on('will-redirect', blockNavigation);
  contents.on('will-frame-navigate', (details) => {
    if (!allowFrameNavigation(details.url, details.isMainFrame, printingPdfUrls)) details.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
  if (!devTools) contents.on('devtools-opened', () => contents.closeDevTools());
}

/**
 * Print an exported sheet PDF: a hidden window in its own session shows it in Chromium's PDF viewer
 * and opens the system print dialog, so the PDF's exact page size reaches the printer. The path
 * comes from the workspace's sheet-set.json, so only a PDF inside the workspace is opened, and never
 * with the system's handler (shell.openPath would run whatever the file is): when printing here
 * fails, the file is shown in its folder to print from a PDF viewer.
 */
async function printPdf(pdfPath: string): Promise<{ printed: boolean; message: string }> {
  const pdfFile = await confinedSheetPdf(workspaceDir, pdfPath);
  const pdfUrl = pathToFileURL(pdfFile).href;
  const printSession = session.fromPartition('foolprint-print');
  printSession.webRequest.onBeforeRequest((details, callback) => callback({ cancel: !allowPrintRequest(details.url, pdfUrl) }));
  // No preload: the window runs no code of ours, only Chromium's PDF viewer, which needs `plugins`.
  const printWindow = new BrowserWindow({
    show: false,
    width: 800,
    height: 1100,
    title: 'Foolprint: print sheet',
    parent: mainWindow ?? undefined,
    webPreferences: {
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      experimentalFeatures: false,
      navigateOnDragDrop: false,
      disableBlinkFeatures: 'Auxclick',
      devTools,
      plugins: true,
      spellcheck: false,
      session: printSession,
    },
  });
  printingPdfUrls.add(pdfUrl);
  try {
    await printWindow.loadURL(pdfUrl);
    const result = await new Promise<{ success: boolean; reason: string }>((resolve) =>
      printWindow.webContents.print({ silent: false, printBackground: true, margins: { marginType: 'none' } }, (success, reason) => resolve({ success, reason })),
    );
    if (result.success) return { printed: true, message: 'sent to the printer' };
    if (result.reason === 'cancelled') return { printed: false, message: 'printing cancelled' };
    throw new Error(result.reason);
  } catch (error) {
    shell.showItemInFolder(pdfFile);
    return { printed: false, message: `printing from Foolprint failed (${(error as Error).message}); the PDF is ${pdfFile}, shown in its folder: print it from a PDF viewer at 100 % scale` };
  } finally {
    printingPdfUrls.delete(pdfUrl);
    if (!printWindow.isDestroyed()) printWindow.destroy();
  }
}

/** The one application window, shown on ready-to-show (no white flash of an unpainted page). */
function createMainWindow(): BrowserWindow {
  const window = new BrowserWindow({
    width: 1360,
    height: 900,
    minWidth: 960,
    minHeight: 640,
    show: false,
    title: 'Foolprint',
    backgroundColor: '#ffffff',
    autoHideMenuBar: true,
    webPreferences: {
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      experimentalFeatures: false,
      navigateOnDragDrop: false,
      // No middle-click (auxclick) handling: it is a way to open links in new windows, which we never want.
      disableBlinkFeatures: 'Auxclick',
      devTools,
      spellcheck: false,
      preload: preloadPath,
    },
  });
  window.once('ready-to-show', () => window.show());
  window.on('closed', () => {
    if (mainWindow === window) mainWindow = null;
  });
  void window.loadURL(APP_ENTRY_URL);
  return window;
}

/** A second launch (same user) lands here: bring the one window back instead of opening another. */
function focusMainWindow(): void {
  if (!mainWindow || mainWindow.isDestroyed()) return;
  if (mainWindow.isMinimized()) mainWindow.restore();
  mainWindow.show();
  mainWindow.focus();
}

function runPrimaryInstance(): void {
  app.on('second-instance', () => focusMainWindow());
  app.on('web-contents-created', (_event, contents) => guardContents(contents));

  app.whenReady().then(
    () => {
      serveRenderer();
      lockDownSession();
      service = createFoolprintService({ workspaceDir, host: 'electron' });
      registerIpcHandlers(ipcMain, service, { print: printPdf });
      for (const event of API_EVENT_NAMES) {
        service.subscribe(event, (payload) => {
          if (mainWindow && !mainWindow.isDestroyed()) mainWindow.webContents.send(eventChannel(event), payload);
        });
      }
      mainWindow = createMainWindow();
      app.on('activate', () => {
        if (!mainWindow) mainWindow = createMainWindow();
      });
    },
    (error: Error) => {
      console.error(`foolprint: ${error.message}`);
      app.exit(1);
    },
  );

  app.on('window-all-closed', () => app.quit());

  let closing = false;
  app.on('before-quit', (event) => {
    if (closing || !service) return;
    // Let running jobs stop and the compute workers close before the process goes.
    event.preventDefault();
    closing = true;
    service.close().finally(() => app.quit());
  });
}

// One instance per user: a second launch only wakes the first one's window (second-instance) and quits.
if (app.requestSingleInstanceLock()) runPrimaryInstance();
else app.quit();
