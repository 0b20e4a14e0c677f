import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Tests that start real rank processes run the built package.
    globalSetup: ['test/helpers/build.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Each test spawns real rank processes; two cores do not gain from more workers.
    maxWorkers: 2,
  },
});
