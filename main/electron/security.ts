/**
 * Every security decision of the Electron host as a pure function (no Electron import), so unit
 * tests check them without the Electron binary: window options, which URLs are our own page, which
 * permissions, navigations and requests are allowed, the CSP, and how app-scheme URLs map to files.
 *
 * Following Electron's security checklist (https://www.electronjs.org/docs/latest/tutorial/security):
 * sandboxed, context-isolated renderer without Node; content served from a custom privileged scheme
 * rather than file:// (file:// pages may read any local file); no navigation, no new windows, no
 * <webview>, no remote content; camera only for our own page.
 */
import path from 'node:path';
import type { BrowserWindowConstructorOptions } from 'electron';
import { PAGE_DIRECTIVES, SCRIPT_CSP } from '../content-security-policy.js';

/** Our page is served as foolprint://app/… (registered as standard + secure, so getUserMedia works). */
export const APP_SCHEME = 'foolprint';
export const APP_HOST = 'app';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_ENTRY_URL = `${APP_ORIGIN}/index.html`;

/**
 * Same policy as renderer/index.html's meta tag, sent as a header too (a header cannot be removed by
 * the page). frame-src: the sheet PDF is printed from a frame; no form ever posts.
 */
export const CONTENT_SECURITY_POLICY = [...PAGE_DIRECTIVES, "form-action 'none'", "frame-src 'self' blob:"].join('; ');

/**
 * A worker runs under the CSP of its own script's response, not the page's. OpenCV.js (the Capture
 * worker) builds its bindings with `new Function`, so scripts are served with browser mode's script
 * policy, which adds 'unsafe-eval' there and only there; the page itself never gets it.
 */
export function contentSecurityPolicyFor(file: string): string {
  return /\.(m?js)$/i.test(file) ? SCRIPT_CSP : CONTENT_SECURITY_POLICY;
}

const commonWebPreferences = {
  sandbox: true,
  contextIsolation: true,
  nodeIntegration: false,
  nodeIntegrationInWorker: false,
  nodeIntegrationInSubFrames: false,
  webviewTag: false,
  webSecurity: true,
  allowRunningInsecureContent: false,
  experimentalFeatures: false,
  navigateOnDragDrop: false,
  spellcheck: false,
} as const;

/** The one application window. Shown on ready-to-show, so no white flash of an unpainted page. */
export function mainWindowOptions(preloadPath: string): BrowserWindowConstructorOptions {
  return {
    width: 1360,
    height: 900,
    minWidth: 960,
    minHeight: 640,
    show: false,
    title: 'Foolprint',
    backgroundColor: '#ffffff',
    autoHideMenuBar: true,
    webPreferences: { ...commonWebPreferences, preload: preloadPath },
  };
}

/**
 * The hidden window that prints an exported sheet PDF: no preload (it runs no code of ours), only
 * Chromium's PDF viewer, which needs `plugins`.
 */
export function printWindowOptions(): BrowserWindowConstructorOptions {
  return {
    show: false,
    width: 800,
    height: 1100,
    title: 'Foolprint: print sheet',
    webPreferences: { ...commonWebPreferences, plugins: true },
  };
}

/** True for a URL of our own page (any path under foolprint://app/), never for look-alikes. */
export function isOwnPageUrl(url: string | undefined | null): boolean {
  if (!url) return false;
  try {
    const parsed = new URL(url);
    return parsed.protocol === `${APP_SCHEME}:` && parsed.host === APP_HOST && parsed.username === '' && parsed.password === '';
  } catch {
    return false;
  }
}

/** Our origin as Chromium reports it to permission checks (`foolprint://app`, maybe with a slash). */
export function isOwnOrigin(origin: string | undefined | null): boolean {
  return origin === APP_ORIGIN || origin === `${APP_ORIGIN}/`;
}

/**
 * Permission requests (session.setPermissionRequestHandler): only `media` for the camera (video, no
 * microphone), only from our own page; everything else is denied. `fullscreen` for the live view.
 */
export function allowPermissionRequest(permission: string, requestingUrl: string | undefined, mediaTypes: readonly string[] = []): boolean {
  if (!isOwnPageUrl(requestingUrl)) return false;
  if (permission === 'media') return mediaTypes.length > 0 && mediaTypes.every((type) => type === 'video');
  return permission === 'fullscreen';
}

/** Permission checks (session.setPermissionCheckHandler): the synchronous "may this origin use it" question. */
export function allowPermissionCheck(permission: string, requestingOrigin: string | undefined, mediaType?: string): boolean {
  if (!isOwnOrigin(requestingOrigin)) return false;
  if (permission === 'media') return mediaType === undefined || mediaType === 'video' || mediaType === 'unknown';
  return permission === 'fullscreen';
}

/** will-navigate / will-redirect: the single-page app never leaves its entry page. */
export function allowNavigation(url: string): boolean {
  if (!isOwnPageUrl(url)) return false;
  const { pathname } = new URL(url);
  return pathname === '/' || pathname === '/index.html';
}

/** setWindowOpenHandler: no new windows, ever (links to papers are plain text in the UI). */
export function windowOpenDecision(_url: string): { action: 'deny' } {
  return { action: 'deny' };
}

/**
 * session.webRequest.onBeforeRequest: our scheme, in-memory URLs and the DevTools only; no http(s),
 * ws(s) or file:// (the PDF print window is the exception, allowed by its own session).
 */
export function allowRequest(url: string): boolean {
  const protocol = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (protocol === APP_SCHEME) return isOwnPageUrl(url);
  return protocol === 'data' || protocol === 'blob' || protocol === 'devtools' || protocol === 'chrome-extension';
}

/** MIME types of what the renderer bundle contains (module scripts and wasm need exact ones). */
const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

export function contentTypeFor(file: string): string {
  return contentTypes[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * The file under `rootDir` (renderer/dist) that an app-scheme URL names, or null when the URL is
 * not ours or would leave the folder (`..`, encoded or not). `/` is the entry page.
 */
export function resolveAppFile(url: string, rootDir: string): string | null {
  if (!isOwnPageUrl(url)) return null;
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(url).pathname);
  } catch {
    return null;
  }
  if (pathname.includes('\0') || pathname.includes('\\')) return null;
  const relative = pathname === '/' ? 'index.html' : pathname.replace(/^\/+/, '');
  const root = path.resolve(rootDir);
  const file = path.resolve(root, relative);
  const inside = path.relative(root, file);
  if (inside === '' || inside.startsWith('..') || path.isAbsolute(inside)) return null;
  return file;
}
