import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { AirlockError } from '../errors';
import { migrate, type Migration } from './migrate';
import type { SqlDatabase, SqlDatabaseConstructor } from './sql';

/**
 * The one SQLite opener of the console and the server: the pragmas every connection needs (WAL,
 * foreign keys, a busy timeout so that a second process waits instead of failing), then the
 * migrations. The driver is handed in (ARCHITECTURE.md §1: src/core imports no database driver).
 */

export interface OpenOptions<D extends SqlDatabase> {
  /** The compiled addon to load instead of node_modules' (the console in Electron). */
  readonly nativeBinding?: string;
  /** Refuse to create the file (the server: it is made by `airlock server init`). */
  readonly mustExist?: boolean;
  /** `NORMAL` (the console) or `FULL` (the server: a signed checkpoint must survive power loss). */
  readonly synchronous?: 'NORMAL' | 'FULL';
  /** Run these after opening; the connection is closed again when they fail. */
  readonly migrations?: readonly Migration<D>[];
  /** What the database is, for error sentences ("The console database"). */
  readonly what?: string;
}

/**
 * Opens the SQLite database at `path` with `Database` (better-sqlite3's constructor).
 * @throws AirlockError IO_ERROR with a sentence when the file or the addon cannot be opened.
 * @example const db = openSqlite(Database, join(home, 'airlock.db'), { migrations: MIGRATIONS });
 */
export function openSqlite<D extends SqlDatabase>(
  Database: SqlDatabaseConstructor<D>,
  path: string,
  options: OpenOptions<D> = {},
): D {
  const { nativeBinding } = options;
  if (nativeBinding !== undefined && !existsSync(nativeBinding)) {
    throw new AirlockError(
      'IO_ERROR',
      `Cannot load SQLite from ${nativeBinding}: the file does not exist.`,
    );
  }
  let db: D;
  try {
    if (options.mustExist !== true) mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    db = new Database(path, {
      ...(nativeBinding === undefined ? {} : { nativeBinding }),
      ...(options.mustExist === true ? { fileMustExist: true } : {}),
    });
  } catch (cause) {
    const using = nativeBinding === undefined ? '' : ` with SQLite from ${nativeBinding}`;
    throw new AirlockError('IO_ERROR', `Cannot open the database at ${path}${using}.`, { cause });
  }
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  db.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
  if (options.migrations !== undefined) {
    try {
      migrate(db, options.migrations, options.what);
    } catch (error) {
      db.close();
      throw error;
    }
  }
  return db;
}
