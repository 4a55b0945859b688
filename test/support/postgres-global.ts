import type { TestProject } from 'vitest/node';
import { startPostgres, type PgClusterInfo } from '../helpers/postgres';

/**
 * vitest globalSetup of the integration projects: one throwaway PostgreSQL cluster
 * (test/helpers/postgres.ts) for the whole run, handed to test files as `inject('postgres')`;
 * each server or store a test makes gets a database of its own on it (test/helpers/test-backend.ts).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cluster = await startPostgres();
  project.provide('postgres', {
    port: cluster.port,
    user: cluster.user,
    password: cluster.password,
  });
  return () => cluster.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    postgres: PgClusterInfo;
  }
}
