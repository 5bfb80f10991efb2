/**
 * The Electron host's security decisions, checked without Electron (main/electron/security.ts is
 * pure): window flags, own-page checks, permissions, navigation, new windows, requests, and the
 * app-scheme file mapping (no way out of renderer/dist).
 */
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import {
  APP_ENTRY_URL,
  CONTENT_SECURITY_POLICY,
  contentSecurityPolicyFor,
  allowNavigation,
  allowPermissionCheck,
  allowPermissionRequest,
  allowRequest,
  contentTypeFor,
  isOwnPageUrl,
  mainWindowOptions,
  printWindowOptions,
  resolveAppFile,
  windowOpenDecision,
} from '../main/electron/security.js';

describe('window options', () => {
  it.each([
    ['main window', mainWindowOptions('/app/dist/main/preload/preload.cjs')],
    ['print window', printWindowOptions()],
  ])('%s: sandboxed, isolated, no Node, no webview, hidden until ready-to-show', (_, options) => {
    expect(options.show).toBe(false);
    expect(options.webPreferences).toMatchObject({
      sandbox: true,
      contextIsolation: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webviewTag: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
    });
  });

  it('the main window loads our preload; the print window none', () => {
    expect(mainWindowOptions('/x/preload.cjs').webPreferences?.preload).toBe('/x/preload.cjs');
    expect(printWindowOptions().webPreferences?.preload).toBeUndefined();
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

  it('permission checks by origin', () => {
    expect(allowPermissionCheck('media', 'foolprint://app', 'video')).toBe(true);
    expect(allowPermissionCheck('media', 'foolprint://app', 'audio')).toBe(false);
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

  it('requests: our scheme, data:, blob: and DevTools only', () => {
    for (const url of [APP_ENTRY_URL, 'foolprint://app/assets/opencv.js', 'data:image/png;base64,AA==', 'blob:foolprint://app/1234', 'devtools://devtools/bundled/x.html']) {
      expect(allowRequest(url)).toBe(true);
    }
    for (const url of ['https://cdn.example/tf.js', 'http://127.0.0.1:8765/api/x', 'ws://localhost/', 'file:///etc/passwd', 'foolprint://evil/x.js', 'ftp://x/']) {
      expect(allowRequest(url)).toBe(false);
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
