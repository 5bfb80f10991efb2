// Lint enforces the house layering (see STYLE.md): pure `app/` code imports neither Node nor the DOM,
// so the renderer can use it; Node-only code lives in `app/node/` or `*.node.ts`.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeModules = ['node:*', 'fs', 'path', 'os', 'worker_threads', 'child_process', 'zlib', 'url', 'crypto', 'http', 'https', 'net'];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'renderer/dist/**', 'assets/**', 'bin/**', 'test-results/**', 'e2e/artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['app/**/*.ts'],
    ignores: ['app/node/**', 'app/**/*.node.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: nodeModules, message: 'app/ is pure: Node-only code belongs in app/node/ or *.node.ts' },
          { group: ['**/node/**', '*.node.js', '**/*.node.js'], message: 'pure app/ code must not import Node-only modules' },
          { group: ['electron', 'svelte', 'svelte/*', '**/main/**', '**/renderer/**'], message: 'app/ knows nothing of hosts or UI' },
        ],
      }],
    },
  },
  {
    files: ['renderer/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: nodeModules, message: 'the renderer has no Node: talk to the typed API' },
          { group: ['electron', '**/app/node/**', '**/main/**', '@tensorflow/*'], message: 'the renderer talks only to window.foolprint / the API client' },
        ],
      }],
    },
  },
);
