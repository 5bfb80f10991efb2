/**
 * The Content-Security-Policy both hosts send (browser mode and Electron's app scheme), written once.
 * Each host adds the few directives where they differ (framing, forms).
 */

/**
 * The page's directives. 'wasm-unsafe-eval' lets OpenCV.js and TF.js compile their WebAssembly;
 * blob: and mediastream: carry camera frames and downloads; data: images are the API's PNG thumbnails.
 */
export const PAGE_DIRECTIVES: readonly string[] = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self' blob:",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob: mediastream:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
];

/**
 * Scripts get a policy of their own: it only takes effect where a script is a worker's top level (a
 * worker runs under its script's CSP). OpenCV.js's embind builds its bindings with `new Function`, so
 * the Capture worker needs 'unsafe-eval'; the page itself never gets it.
 */
export const SCRIPT_CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval' 'unsafe-eval'",
  "worker-src 'self' blob:",
  "connect-src 'self'",
  "img-src 'self' data: blob:",
  "object-src 'none'",
].join('; ');
