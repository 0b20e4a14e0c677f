import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Tests that start real rank processes run the built package.
    // A real S3 server (Ceph RGW) for the whole run; test/helpers/rgw.ts.
    globalSetup: ['test/helpers/build.ts', 'test/helpers/rgw.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Each test spawns real rank processes; two cores do not gain from more workers.
    maxWorkers: 2,
  },
});
