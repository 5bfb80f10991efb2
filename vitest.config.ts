import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // TF.js keeps one global engine per process; files run in separate forks so backends never mix.
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});
