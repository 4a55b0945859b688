import { AirlockError } from '../errors';
import type { SqlDatabase } from './sql';

/**
 * The one migration runner of the console and the server (ARCHITECTURE.md rule 11, after Signal's
 * runner and Actual's validity check): numbered steps, append only, every pending step in ONE
 * transaction together with the `user_version` bumps, so a crash leaves the database at the version
 * it had; a database written by a newer Airlock is refused rather than guessed at.
 */

/** One schema step. Shipped migrations are append-only: never edit one, add the next. */
export interface Migration<D extends SqlDatabase = SqlDatabase> {
  /** Multiples of 10, strictly increasing: the value `PRAGMA user_version` takes after it. */
  readonly version: number;
  readonly name: string;
  up(db: D): void;
}

/** A migration that runs one SQL script. */
export function sqlMigration(version: number, name: string, sql: string): Migration {
  return { version, name, up: (db) => void db.exec(sql) };
}

/** The schema version the database is at (0 for a new file). */
export function schemaVersion(db: SqlDatabase): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Brings `db` to the last of `migrations` in one transaction. Returns the versions applied.
 * @throws AirlockError DB_FROM_FUTURE for a newer schema, INTERNAL for steps out of order.
 * @example migrate(db, MIGRATIONS) // [10, 20] on a new file
 */
export function migrate<D extends SqlDatabase>(
  db: D,
  migrations: readonly Migration<D>[],
  what = 'The database',
): number[] {
  assertOrdered(migrations);
  const latest = migrations.at(-1)?.version ?? 0;
  const current = schemaVersion(db);
  if (current > latest) {
    throw new AirlockError(
      'DB_FROM_FUTURE',
      `${what} is at schema version ${current}, newer than this Airlock understands (${latest}): update Airlock, or open a copy of the data with the version that wrote it.`,
    );
  }
  const pending = migrations.filter((migration) => migration.version > current);
  if (pending.length === 0) return [];
  db.transaction(() => {
    for (const migration of pending) {
      migration.up(db);
      db.pragma(`user_version = ${migration.version}`);
    }
  }).immediate();
  return pending.map((migration) => migration.version);
}

function assertOrdered(migrations: readonly Migration<never>[]): void {
  migrations.forEach((migration, index) => {
    const previous = index === 0 ? 0 : (migrations[index - 1]?.version ?? 0);
    if (!Number.isInteger(migration.version) || migration.version <= previous) {
      throw new AirlockError(
        'INTERNAL',
        `Migration ${migration.name} is out of order (${migration.version} after ${previous}).`,
      );
    }
  });
}
