// Builds the Svelte renderer into renderer/dist (served by browser mode and loaded by Electron).
// `base: './'` keeps every asset path relative, so the same bundle works from http://127.0.0.1 and file://.
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// import.meta.dirname (Node ≥ 20.11, set by Vite's config loader) instead of node:path/url: lint keeps
// everything under renderer/ free of Node imports.
const root = import.meta.dirname;

export default defineConfig({
  root,
  base: './',
  plugins: [svelte()],
  // Workers are ES modules so they can import the pure app/physical code (OpenCV.js marker detection).
  worker: { format: 'es' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // OpenCV.js is one ~11 MB file with its wasm inlined; it is loaded lazily by the Capture worker.
    chunkSizeWarningLimit: 12_000,
  },
  server: { fs: { allow: [`${root}/..`] } },
});
