// Builds the Svelte renderer into renderer/dist (served by browser mode and loaded by Electron).
// `base: './'` keeps every asset path relative, so the same bundle works from http://127.0.0.1 and file://.
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
// eslint-disable-next-line no-restricted-imports -- build tooling, not renderer code: the page's one CSP lives with the hosts that also send it
import { withCspMetaTag } from '../main/content-security-policy.js';

// import.meta.dirname (Node ≥ 20.11, set by Vite's config loader) instead of node:path/url: lint keeps
// everything under renderer/ free of Node imports.
const root = import.meta.dirname;

export default defineConfig({
  root,
  base: './',
  // The CSP meta tag goes in before Vite adds its script tags, so it governs them from the start.
  plugins: [svelte(), { name: 'foolprint-csp-meta', transformIndexHtml: { order: 'pre', handler: withCspMetaTag } }],
  // The live-analysis worker is a classic script (it loads opencv.js with importScripts, see the worker),
  // bundled as one file.
  worker: { format: 'iife', rolldownOptions: { output: { codeSplitting: false } } },
  resolve: {
    // app/physical/opencv.ts's default import of the package is never used in the renderer (the worker
    // passes its own loader); the stub keeps the 11 MB file out of the bundle, which ships it as a URL asset.
    alias: [{ find: /^@techstark\/opencv-js$/, replacement: `${root}/src/capture/opencv-unbundled.ts` }],
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // OpenCV.js is one ~11 MB file with its wasm inlined; it is loaded lazily by the Capture worker.
    chunkSizeWarningLimit: 12_000,
    // Rolldown's plugin-timing advice ("the Svelte compiler took 63% of the build") is for people tuning
    // a bundler, and `npm start` prints it to a user opening the app for the first time.
    rolldownOptions: { checks: { bundlerTimings: false } },
  },
  server: { fs: { allow: [`${root}/..`] } },
});
