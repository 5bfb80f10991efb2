/**
 * The Electron host's security decisions, checked without Electron (main/electron/security.ts is
 * pure): the CSP (header and the page's meta tag), own-page checks, permissions, navigation of any
 * frame, new windows, requests (DevTools' schemes only outside packaged builds, the print window's
 * own list), and the app-scheme file mapping (no way out of renderer/dist). The window options are
 * checked on the built main.js (electron-main.test.ts) and by Electronegativity.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CSP_META_MARKER, PAGE_DIRECTIVES, PAGE_META_CSP, withCspMetaTag } from '../main/content-security-policy.js';
import { PAGE_CSP } from '../main/server/security.js';
import {
  APP_ENTRY_URL,
  CONTENT_SECURITY_POLICY,
  PDF_VIEWER_ORIGIN,
  contentSecurityPolicyFor,
  allowFrameNavigation,
  allowNavigation,
  allowPermissionCheck,
  allowPermissionRequest,
  allowPrintRequest,
  allowRequest,
  contentTypeFor,
  isOwnPageUrl,
  resolveAppFile,
  windowOpenDecision,
} from '../main/electron/security.js';

describe('Content-Security-Policy', () => {
  it('renderer/index.html gets the page policy as its one meta tag, in <head> before any script', () => {
    const source = readFileSync(path.resolve(import.meta.dirname, '../renderer/index.html'), 'utf8');
    expect(source).not.toMatch(/http-equiv/i);
    const html = withCspMetaTag(source);
    const metas = [...html.matchAll(/<meta http-equiv="Content-Security-Policy" content="([^"]*)" \/>/g)];
    expect(metas).toHaveLength(1);
    expect(metas[0][1]).toBe(PAGE_META_CSP);
    expect(html.indexOf(metas[0][0])).toBeLessThan(html.indexOf('</head>'));
    expect(html.indexOf(metas[0][0])).toBeLessThan(html.indexOf('<script'));
    expect(() => withCspMetaTag(source.replace(CSP_META_MARKER, ''))).toThrow(/no <!-- content-security-policy --> marker/);
  });

  it('one policy: Electron sends the meta policy; browser mode sends the same page directives plus framing', () => {
    expect(CONTENT_SECURITY_POLICY).toBe(PAGE_META_CSP);
    expect(PAGE_CSP.startsWith(PAGE_DIRECTIVES.join('; '))).toBe(true);
    expect(PAGE_CSP).toContain("frame-ancestors 'none'");
  });

  it('the CSP allows nothing remote and no inline or eval scripts', () => {
    const directives = Object.fromEntries(CONTENT_SECURITY_POLICY.split('; ').map((d) => [d.split(' ')[0], d.split(' ').slice(1)]));
    expect(directives['default-src']).toEqual(["'self'"]);
    expect(directives['script-src']).toEqual(["'self'", "'wasm-unsafe-eval'"]);
    expect(directives['object-src']).toEqual(["'none'"]);
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/https?:|'unsafe-eval'|\*/);
  });

  it('pages get the page policy; scripts (a worker runs under its own script\'s CSP) may eval for OpenCV.js', () => {
    expect(contentSecurityPolicyFor('/r/index.html')).toBe(CONTENT_SECURITY_POLICY);
    const worker = contentSecurityPolicyFor('/r/assets/live-analysis-abc.js');
    expect(worker).toMatch(/script-src 'self' 'wasm-unsafe-eval' 'unsafe-eval'/);
    expect(worker).not.toMatch(/https?:|\*/);
  });
});

describe('own page', () => {
  it.each([
    [APP_ENTRY_URL, true],
    ['foolprint://app/', true],
    ['foolprint://app/assets/index-abc.js', true],
    ['foolprint://app.evil/index.html', false],
    ['foolprint://evil/index.html', false],
    ['foolprint://user:pw@app/index.html', false],
    ['https://app/index.html', false],
    ['file:///work/main/renderer/dist/index.html', false],
    ['http://127.0.0.1:8765/?token=x', false],
    ['about:blank', false],
    ['', false],
    ['not a url', false],
  ])('%s → %s', (url, own) => expect(isOwnPageUrl(url)).toBe(own));
});

describe('permissions', () => {
  it('camera (video only) for our page; microphone, other pages and other permissions denied', () => {
    expect(allowPermissionRequest('media', APP_ENTRY_URL, ['video'])).toBe(true);
    expect(allowPermissionRequest('media', APP_ENTRY_URL, ['video', 'audio'])).toBe(false);
    expect(allowPermissionRequest('media', APP_ENTRY_URL, ['audio'])).toBe(false);
    expect(allowPermissionRequest('media', APP_ENTRY_URL, [])).toBe(false);
    expect(allowPermissionRequest('media', 'https://evil.example/', ['video'])).toBe(false);
    expect(allowPermissionRequest('media', undefined, ['video'])).toBe(false);
    for (const permission of ['geolocation', 'notifications', 'midi', 'openExternal', 'clipboard-read', 'hid', 'serial', 'usb']) {
      expect(allowPermissionRequest(permission, APP_ENTRY_URL, ['video'])).toBe(false);
    }
    expect(allowPermissionRequest('fullscreen', APP_ENTRY_URL)).toBe(true);
  });

  it('permission checks by origin; media only when it is known to be video', () => {
    expect(allowPermissionCheck('media', 'foolprint://app', 'video')).toBe(true);
    expect(allowPermissionCheck('media', 'foolprint://app', 'audio')).toBe(false);
    expect(allowPermissionCheck('media', 'foolprint://app', 'unknown')).toBe(false);
    expect(allowPermissionCheck('media', 'foolprint://app')).toBe(false);
    expect(allowPermissionCheck('media', 'https://evil.example', 'video')).toBe(false);
    expect(allowPermissionCheck('media', 'foolprint://app.evil', 'video')).toBe(false);
    expect(allowPermissionCheck('geolocation', 'foolprint://app')).toBe(false);
  });
});

describe('navigation, windows, requests', () => {
  it('navigation only to our entry page; window.open always denied', () => {
    expect(allowNavigation(APP_ENTRY_URL)).toBe(true);
    expect(allowNavigation('foolprint://app/')).toBe(true);
    for (const url of ['https://example.com/', 'file:///etc/passwd', 'foolprint://app/other.html', 'foolprint://evil/index.html', 'javascript:alert(1)']) {
      expect(allowNavigation(url)).toBe(false);
    }
    expect(windowOpenDecision('https://arxiv.org/abs/1607.02533')).toEqual({ action: 'deny' });
    expect(windowOpenDecision(APP_ENTRY_URL)).toEqual({ action: 'deny' });
  });

  it('frames: the main frame as will-navigate; sub-frames only the PDF viewer and the PDF being printed', () => {
    expect(allowFrameNavigation(APP_ENTRY_URL, true)).toBe(true);
    expect(allowFrameNavigation('https://example.com/', true)).toBe(false);
    expect(allowFrameNavigation(APP_ENTRY_URL, false)).toBe(false);
    expect(allowFrameNavigation('https://example.com/', false)).toBe(false);
    expect(allowFrameNavigation('about:blank', false)).toBe(false);
    expect(allowFrameNavigation(`${PDF_VIEWER_ORIGIN}/index.html`, false)).toBe(true);
    expect(allowFrameNavigation('chrome-extension://aaaabbbbccccddddeeeeffffgggghhhh/index.html', false)).toBe(false);
    expect(allowFrameNavigation(`${PDF_VIEWER_ORIGIN}.evil/index.html`, false)).toBe(false);
    const printing = new Set(['file:///ws/experiments/e/sheets/s/sheet.pdf']);
    expect(allowFrameNavigation('file:///ws/experiments/e/sheets/s/sheet.pdf', false, printing)).toBe(true);
    expect(allowFrameNavigation('file:///etc/passwd', false, printing)).toBe(false);
    expect(allowFrameNavigation('file:///ws/experiments/e/sheets/s/sheet.pdf', true, printing)).toBe(false);
  });

  it('requests: our scheme, data: and blob:; DevTools pages only when DevTools are on', () => {
    for (const devTools of [true, false]) {
      for (const url of [APP_ENTRY_URL, 'foolprint://app/assets/opencv.js', 'data:image/png;base64,AA==', 'blob:foolprint://app/1234']) {
        expect(allowRequest(url, devTools)).toBe(true);
      }
      for (const url of ['https://cdn.example/tf.js', 'http://127.0.0.1:8765/api/x', 'ws://localhost/', 'file:///etc/passwd', 'foolprint://evil/x.js', 'ftp://x/']) {
        expect(allowRequest(url, devTools)).toBe(false);
      }
    }
    for (const url of ['devtools://devtools/bundled/x.html', 'chrome-extension://abc/x.js', 'DevTools://devtools/x']) {
      expect(allowRequest(url, true)).toBe(true);
      expect(allowRequest(url, false)).toBe(false);
    }
  });

  it('print window requests: the one PDF, the PDF viewer, in-memory URLs', () => {
    const pdf = 'file:///ws/experiments/e/sheets/s/sheet.pdf';
    for (const url of [pdf, `${PDF_VIEWER_ORIGIN}/index.html`, 'data:application/pdf;base64,AA==', `blob:${PDF_VIEWER_ORIGIN}/1`]) expect(allowPrintRequest(url, pdf)).toBe(true);
    for (const url of ['file:///etc/passwd', 'file:///ws/experiments/e/sheets/s/sheet.pdf.bak', 'chrome-extension://abc/x.js', 'https://example.com/', 'devtools://devtools/x', APP_ENTRY_URL]) {
      expect(allowPrintRequest(url, pdf)).toBe(false);
    }
  });
});

describe('app-scheme files', () => {
  const root = path.resolve('/srv/foolprint/renderer/dist');
  it('maps our URLs into renderer/dist, the root to index.html', () => {
    expect(resolveAppFile('foolprint://app/', root)).toBe(path.join(root, 'index.html'));
    expect(resolveAppFile(APP_ENTRY_URL, root)).toBe(path.join(root, 'index.html'));
    expect(resolveAppFile('foolprint://app/assets/index-1a2b.js?v=1#x', root)).toBe(path.join(root, 'assets/index-1a2b.js'));
    expect(resolveAppFile('foolprint://app/assets/my%20file.png', root)).toBe(path.join(root, 'assets/my file.png'));
  });

  it.each([
    // The URL parser already clamps plain and %2e dot segments at the root: they stay inside.
    ['foolprint://app/../../etc/passwd', path.join(root, 'etc/passwd')],
    ['foolprint://app/%2e%2e/%2e%2e/etc/passwd', path.join(root, 'etc/passwd')],
    // Encoded separators are decoded after parsing: those would escape, so they are refused.
    ['foolprint://app/..%2f..%2fetc%2fpasswd', null],
    ['foolprint://app/assets/..%5c..%5csecret', null],
    ['foolprint://app/%00', null],
    ['foolprint://app/%E0%A4%A', null],
    ['foolprint://evil/index.html', null],
    ['file:///srv/foolprint/renderer/dist/index.html', null],
  ])('never leaves renderer/dist: %s → %s', (url, expected) => {
    expect(resolveAppFile(url, root)).toBe(expected);
  });

  it('content types that module scripts and wasm need', () => {
    expect(contentTypeFor('a/index-1.js')).toBe('text/javascript; charset=utf-8');
    expect(contentTypeFor('opencv.wasm')).toBe('application/wasm');
    expect(contentTypeFor('index.html')).toBe('text/html; charset=utf-8');
    expect(contentTypeFor('logo.SVG')).toBe('image/svg+xml');
    expect(contentTypeFor('blob.bin')).toBe('application/octet-stream');
  });
});
