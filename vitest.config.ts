import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['grader/test/**/*.test.ts'],
    // Tests start real servers; a slow CI runner needs room, and the grader bounds itself anyway.
    testTimeout: 120_000,
    hookTimeout: 60_000,
    maxConcurrency: 4,
    // Fails the run if it leaves a temp folder or a server process behind (see the file).
    globalSetup: ['grader/test/support/leak-guard.ts'],
  },
});
