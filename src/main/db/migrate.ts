import type Database from 'better-sqlite3';
import { AirlockError } from '../../core/errors';

/** One schema step. Shipped migrations are append-only: never edit one, add the next (ARCHITECTURE.md rule 11). */
export interface Migration {
  /** Multiples of 10, strictly increasing: the value `PRAGMA user_version` takes after it. */
  readonly version: number;
  readonly name: string;
  up(db: Database.Database): void;
}

/** The schema version the database is at (0 for a new file). */
export function schemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Brings `db` to the last of `migrations`, each step in its own transaction together with its
 * `user_version` bump, so a crash leaves the database at a whole version. A database written by a
 * newer Airlock is refused rather than guessed at (Signal's runner, Actual's validity check).
 * Returns the versions applied.
 */
export function migrate(db: Database.Database, migrations: readonly Migration[]): number[] {
  assertOrdered(migrations);
  const latest = migrations.at(-1)?.version ?? 0;
  const current = schemaVersion(db);
  if (current > latest) {
    throw new AirlockError(
      'DB_FROM_FUTURE',
      `The database is at schema version ${current}, newer than this Airlock understands (${latest}): update Airlock, or open a copy of your data with the version that wrote it.`,
    );
  }
  const applied: number[] = [];
  for (const migration of migrations) {
    if (migration.version <= current) continue;
    db.transaction(() => {
      migration.up(db);
      db.pragma(`user_version = ${migration.version}`);
    })();
    applied.push(migration.version);
  }
  return applied;
}

function assertOrdered(migrations: readonly Migration[]): void {
  migrations.forEach((migration, index) => {
    const previous = index === 0 ? 0 : (migrations[index - 1]?.version ?? 0);
    if (!Number.isInteger(migration.version) || migration.version <= previous) {
      throw new AirlockError('INTERNAL', `Migration ${migration.name} is out of order.`);
    }
  });
}
