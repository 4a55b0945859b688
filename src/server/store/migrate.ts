import type Database from 'better-sqlite3';
import { AirlockError } from '../../core';
import { MIGRATIONS, type Migration } from './migrations';

/**
 * Brings a server database to the newest schema (ARCHITECTURE.md rule 11, after Signal's runner): every
 * pending migration runs in ONE transaction against `PRAGMA user_version`; a database written by a
 * newer Airlock is refused rather than guessed at.
 * @example migrate(db); // user_version is now the last migration's version
 */
export function migrate(
  db: Database.Database,
  migrations: readonly Migration[] = MIGRATIONS,
): number {
  assertMonotonic(migrations);
  const latest = migrations.at(-1)?.version ?? 0;
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > latest) {
    throw new AirlockError(
      'DB_FROM_FUTURE',
      `The server database has schema version ${current}, newer than this Airlock knows (${latest}); upgrade Airlock.`,
    );
  }
  const pending = migrations.filter((migration) => migration.version > current);
  if (pending.length === 0) return current;
  db.transaction(() => {
    for (const migration of pending) {
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    }
  }).immediate();
  return latest;
}

function assertMonotonic(migrations: readonly Migration[]): void {
  migrations.forEach((migration, index) => {
    const previous = migrations[index - 1]?.version ?? 0;
    if (!Number.isInteger(migration.version) || migration.version <= previous) {
      throw new AirlockError(
        'INTERNAL',
        `Server migration ${migration.name} is out of order (${migration.version} after ${previous}).`,
      );
    }
  });
}
