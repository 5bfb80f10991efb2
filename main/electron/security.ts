/**
 * Every security decision of the Electron host as a pure function (no Electron import), so unit
 * tests check them without the Electron binary: which URLs are our own page, which permissions,
 * navigations and requests are allowed, the CSP, and how app-scheme URLs map to files. (The window
 * options are written out at each `new BrowserWindow` in main.ts, where a reviewer and
 * Electronegativity can see them.)
 *
 * Following Electron's security checklist (https://www.electronjs.org/docs/latest/tutorial/security):
 * sandboxed, context-isolated renderer without Node; content served from a custom privileged scheme
 * rather than file:// (file:// pages may read any local file); no navigation, no new windows, no
 * <webview>, no remote content; camera only for our own page.
 */
import path from 'node:path';
import { PAGE_META_CSP, SCRIPT_CSP } from '../content-security-policy.js';

/** Our page is served as foolprint://app/… (registered as standard + secure, so getUserMedia works). */
export const APP_SCHEME = 'foolprint';
export const APP_HOST = 'app';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_ENTRY_URL = `${APP_ORIGIN}/index.html`;

/**
 * The policy of renderer/index.html's meta tag, sent as a header too (a header cannot be removed by
 * the page). Nothing to add: only our own windows can load the app scheme, so framing needs no directive.
 */
export const CONTENT_SECURITY_POLICY = PAGE_META_CSP;

/**
 * A worker runs under the CSP of its own script's response, not the page's. OpenCV.js (the Capture
 * worker) builds its bindings with `new Function`, so scripts are served with browser mode's script
 * policy, which adds 'unsafe-eval' there and only there; the page itself never gets it.
 */
export function contentSecurityPolicyFor(file: string): string {
  return /\.(m?js)$/i.test(file) ? SCRIPT_CSP : CONTENT_SECURITY_POLICY;
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

/**
 * Permission checks (session.setPermissionCheckHandler): the synchronous "may this origin use it"
 * question. Media only when Chromium says it is video: an unknown or missing media type could be
 * the microphone.
 */
export function allowPermissionCheck(permission: string, requestingOrigin: string | undefined, mediaType?: string): boolean {
  if (!isOwnOrigin(requestingOrigin)) return false;
  if (permission === 'media') return mediaType === 'video';
  return permission === 'fullscreen';
}

/** will-navigate / will-redirect: the single-page app never leaves its entry page. */
export function allowNavigation(url: string): boolean {
  if (!isOwnPageUrl(url)) return false;
  const { pathname } = new URL(url);
  return pathname === '/' || pathname === '/index.html';
}

/**
 * Chromium's PDF viewer is a built-in extension with this fixed id; the print window needs it and
 * nothing else of chrome-extension:.
 */
export const PDF_VIEWER_ORIGIN = 'chrome-extension://mhjfbmdgcfjbbpaeojofohoefgiehjai';

function isPdfViewerUrl(url: string): boolean {
  return url === PDF_VIEWER_ORIGIN || url.startsWith(`${PDF_VIEWER_ORIGIN}/`);
}

/**
 * will-frame-navigate (any frame, the main one included). Main frames as allowNavigation; our page
 * has no frames, so a sub-frame may only be the PDF viewer's own, showing the PDF being printed.
 */
export function allowFrameNavigation(url: string, isMainFrame: boolean, printingPdfUrls: ReadonlySet<string> = new Set()): boolean {
  if (isMainFrame) return allowNavigation(url);
  return isPdfViewerUrl(url) || printingPdfUrls.has(url);
}

/** setWindowOpenHandler: no new windows, ever (links to papers are plain text in the UI). */
export function windowOpenDecision(_url: string): { action: 'deny' } {
  return { action: 'deny' };
}

function protocolOf(url: string): string | undefined {
  return /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
}

/**
 * session.webRequest.onBeforeRequest: our scheme and in-memory URLs; no http(s), ws(s) or file://
 * (the PDF print window is the exception, allowed by its own session). The DevTools' devtools: and
 * chrome-extension: pages only where DevTools are on, i.e. never in a packaged build.
 */
export function allowRequest(url: string, devTools: boolean): boolean {
  const protocol = protocolOf(url);
  if (protocol === APP_SCHEME) return isOwnPageUrl(url);
  if (protocol === 'devtools' || protocol === 'chrome-extension') return devTools;
  return protocol === 'data' || protocol === 'blob';
}

/** The print window's session: the one PDF being printed, the PDF viewer, and its in-memory URLs. */
export function allowPrintRequest(url: string, pdfUrl: string): boolean {
  const protocol = protocolOf(url);
  return url === pdfUrl || isPdfViewerUrl(url) || protocol === 'data' || protocol === 'blob';
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
