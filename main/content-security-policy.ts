/**
 * The Content-Security-Policy of the page, written once: renderer/index.html carries it as a meta
 * tag (inserted at build by renderer/vite.config.ts), and both hosts send it as a header too (browser
 * mode adds its framing directive, which a meta tag cannot carry). Kept free of imports: Vite's config
 * loads this file.
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
 * The policy the page carries itself. No form ever posts (forms are handled in script), and
 * frame-ancestors is left to the headers: browsers ignore it in a meta tag.
 */
export const PAGE_META_CSP = [...PAGE_DIRECTIVES, "form-action 'none'"].join('; ');

/** The place in renderer/index.html where the build puts the meta tag. */
export const CSP_META_MARKER = '<!-- content-security-policy -->';

/**
 * renderer/index.html with PAGE_META_CSP as its `<meta http-equiv>`, at the marker; the build fails
 * rather than ship a page without its policy.
 */
export function withCspMetaTag(html: string): string {
  if (!html.includes(CSP_META_MARKER)) throw new Error(`renderer/index.html has no ${CSP_META_MARKER} marker for the Content-Security-Policy meta tag`);
  const content = PAGE_META_CSP.replace(/&/g, '&amp;').replace(/"/g, '&quot;');
  return html.replace(CSP_META_MARKER, `<meta http-equiv="Content-Security-Policy" content="${content}" />`);
}

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
