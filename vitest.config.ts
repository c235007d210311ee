import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Backstops for tests and hooks without a budget of their own; tests that start processes derive theirs
    // from a measured start cost and what each step waits for (test/harness/budget.ts).
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // The process registry comes first: its teardown, which stops what tests left running, runs last.
    globalSetup: ['test/harness/process-registry-setup.ts', 'test/harness/global-setup.ts'],
    setupFiles: ['test/harness/process-cleanup.ts'],
    reporters: ['default', './test/harness/summary-line-reporter.ts'],
  },
});
