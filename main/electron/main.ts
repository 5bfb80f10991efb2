/**
 * The Electron main process (issue 4, "Hosts"): one sandboxed window showing the Svelte renderer
 * from foolprint://app/, the API served over IPC by the in-process service (compute on its worker
 * threads, never in the renderer), files read and written here, sheets printed here.
 *
 * Every security decision lives in ./security.ts and every IPC handler in ./ipc.ts, pure and unit
 * tested; this file only wires them to Electron.
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
  allowNavigation,
  allowPermissionCheck,
  allowPermissionRequest,
  allowRequest,
  contentTypeFor,
  mainWindowOptions,
  printWindowOptions,
  resolveAppFile,
  windowOpenDecision,
} from './security.js';

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
  ses.webRequest.onBeforeRequest((details, callback) => callback({ cancel: !allowRequest(details.url) }));
}

/** Every web contents, including any we did not create: no new windows, no navigation, no <webview>. */
function guardContents(contents: WebContents): void {
  contents.setWindowOpenHandler(({ url }) => windowOpenDecision(url));
  const blockNavigation = (event: { preventDefault(): void }, url: string) => {
    if (!allowNavigation(url)) event.preventDefault();
  };
  contents.on('will-navigate', blockNavigation);
  contents.on('will-redirect', blockNavigation);
  contents.on('will-attach-webview', (event) => event.preventDefault());
}

/**
 * Print an exported sheet PDF: a hidden window in its own session shows it in Chromium's PDF viewer
 * and opens the system print dialog, so the PDF's exact page size reaches the printer. If that
 * fails, the PDF opens in the system viewer instead (print from there at 100 %).
 */
async function printPdf(pdfPath: string): Promise<{ printed: boolean; message: string }> {
  const pdfUrl = pathToFileURL(pdfPath).href;
  const options = printWindowOptions();
  const printSession = session.fromPartition('foolprint-print');
  printSession.webRequest.onBeforeRequest((details, callback) => callback({ cancel: !(details.url === pdfUrl || details.url.startsWith('chrome-extension://') || details.url.startsWith('data:') || details.url.startsWith('blob:')) }));
  const printWindow = new BrowserWindow({ ...options, parent: mainWindow ?? undefined, webPreferences: { ...options.webPreferences, session: printSession } });
  try {
    await printWindow.loadURL(pdfUrl);
    const result = await new Promise<{ success: boolean; reason: string }>((resolve) =>
      printWindow.webContents.print({ silent: false, printBackground: true, margins: { marginType: 'none' } }, (success, reason) => resolve({ success, reason })),
    );
    if (result.success) return { printed: true, message: 'sent to the printer' };
    if (result.reason === 'cancelled') return { printed: false, message: 'printing cancelled' };
    throw new Error(result.reason);
  } catch (error) {
    const failure = await shell.openPath(pdfPath);
    if (failure) return { printed: false, message: `cannot print ${pdfPath}: ${failure}` };
    return { printed: false, message: `printing from Foolprint failed (${(error as Error).message}); the PDF is open in the system viewer: print it there at 100 % scale` };
  } finally {
    if (!printWindow.isDestroyed()) printWindow.destroy();
  }
}

function createMainWindow(): BrowserWindow {
  const window = new BrowserWindow(mainWindowOptions(preloadPath));
  window.once('ready-to-show', () => window.show());
  window.on('closed', () => {
    if (mainWindow === window) mainWindow = null;
  });
  void window.loadURL(APP_ENTRY_URL);
  return window;
}

app.on('web-contents-created', (_event, contents) => guardContents(contents));

app.whenReady().then(
  () => {
    serveRenderer();
    lockDownSession();
    service = createFoolprintService({ workspaceDir: workspaceDirFromArgs(process.argv), host: 'electron' });
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
