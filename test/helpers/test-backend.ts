import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { attachPostgres } from './postgres';

/**
 * Which server backend a test file runs on (issue 15 item 4: "the device, admin, refusal and crash
 * suites run against both backends"): the `integration-postgres` project of test/vitest.config.ts
 * runs the same files with AIRLOCK_TEST_BACKEND=postgres, everything else runs on SQLite.
 */
export type TestBackend = 'sqlite' | 'postgres';

export function testBackend(): TestBackend {
  return process.env.AIRLOCK_TEST_BACKEND === 'postgres' ? 'postgres' : 'sqlite';
}

/** A fresh database on the run's cluster (test/support/postgres-global.ts). */
export interface TestDatabase {
  readonly name: string;
  /** `postgres://airlock@127.0.0.1:PORT/NAME`, without a password (what `--database` takes). */
  readonly url: string;
  /** For a spawned `airlock server start --database url`. */
  readonly env: Readonly<Record<'PGPASSWORD', string>>;
  /** For `initServer`/`startServer`/`pg` in process (password included). */
  readonly config: pg.ClientConfig;
  /** Rows of `sql` (`$1` placeholders). */
  query<R extends pg.QueryResultRow>(sql: string, values?: unknown[]): Promise<R[]>;
  drop(): Promise<void>;
}

let made = 0;

/**
 * Creates an empty database for one server or store.
 * @example const db = await createTestDatabase('admin'); … await db.drop();
 */
export async function createTestDatabase(prefix = 't'): Promise<TestDatabase> {
  const cluster = attachPostgres(inject('postgres'));
  made += 1;
  const name = `${prefix}_${process.pid}_${made}_${randomBytes(3).toString('hex')}`;
  const url = await cluster.createDatabase(name);
  const config = cluster.clientConfig(url);
  return {
    name,
    url,
    env: cluster.env,
    config,
    query: async <R extends pg.QueryResultRow>(sql: string, values: unknown[] = []) => {
      const client = new pg.Client(config);
      await client.connect();
      try {
        return (await client.query<R>(sql, values)).rows;
      } finally {
        await client.end();
      }
    },
    drop: () => cluster.dropDatabase(name),
  };
}
