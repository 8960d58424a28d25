import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['grader/test/**/*.test.ts'],
    // Tests start real servers; a slow CI runner needs room, and the grader bounds itself anyway.
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // Graders mostly wait on servers: three test files side by side (the broken fixtures are split
    // into groups for this), each grading up to three servers at once.
    maxWorkers: 3,
    minWorkers: 1,
    maxConcurrency: 3,
    // Fails the run if it leaves a temp folder or a server process behind (see the file).
    globalSetup: ['grader/test/support/leak-guard.ts'],
  },
});
