import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Suites that run on both server backends (AIRLOCK_TEST_BACKEND). */
const POSTGRES_SUITES = [
  'admin-api',
  'admin-refusals',
  'crash-recovery',
  'device-autopause',
  'device-channel',
  'device-install',
  'device-rollback',
  'device-rollout',
  'device-routes',
  'health',
  'server-bundle-checks',
].map((name) => `test/integration/server/${name}.test.ts`);

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
          globalSetup: ['test/support/postgres-global.ts'],
        },
      },
      {
        extends: true,
        test: {
          // Issue 15 item 4: the device, admin, refusal and crash suites once more, on PostgreSQL
          // (test/helpers/test-backend.ts); the store contract runs on both in its own files.
          name: 'integration-postgres',
          include: POSTGRES_SUITES,
          environment: 'node',
          env: { AIRLOCK_TEST_BACKEND: 'postgres' },
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
          globalSetup: ['test/support/postgres-global.ts'],
        },
      },
    ],
  },
});
