import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('..', import.meta.url));

// Vitest owns test/unit and test/integration only; Playwright specs (test/e2e) have their own runner.
export default defineConfig({
  root,
  test: {
    setupFiles: ['test/support/matchers.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Keychain and CLI tests share one Secret Service and spawn processes: one file at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
