import Database from 'better-sqlite3';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AirlockError } from '../../core/errors';
import { migrate } from './migrate';
import { MIGRATIONS } from './migrations';

export type Db = Database.Database;

/** The console's database file inside a data directory (ARCHITECTURE.md §7). */
export function databasePath(dataDirectory: string): string {
  return join(dataDirectory, 'airlock.db');
}

export interface DatabaseOptions {
  /**
   * The compiled better-sqlite3 addon (`better_sqlite3.node`) to load instead of the one in
   * node_modules, which is built for Node. src/main/index.ts passes the Electron build that
   * scripts/electron-native.mjs prepares when the console runs from a checkout.
   */
  readonly nativeBinding?: string;
}

/**
 * Opens (creating if needed) the SQLite database at `path` with the pragmas every connection needs:
 * WAL, foreign keys on, a busy timeout so a second process (CLI beside the console) waits instead of
 * failing. Throws AirlockError IO_ERROR with a sentence when the file or the addon cannot be opened.
 */
export function openDatabase(path: string, options: DatabaseOptions = {}): Db {
  const { nativeBinding } = options;
  if (nativeBinding !== undefined && !existsSync(nativeBinding)) {
    throw new AirlockError(
      'IO_ERROR',
      `Cannot load SQLite from ${nativeBinding}: the file does not exist.`,
    );
  }
  let db: Db;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    db = new Database(path, nativeBinding === undefined ? {} : { nativeBinding });
  } catch (cause) {
    const using = nativeBinding === undefined ? '' : ` with SQLite from ${nativeBinding}`;
    throw new AirlockError('IO_ERROR', `Cannot open the database at ${path}${using}.`, { cause });
  }
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  db.pragma('synchronous = NORMAL');
  return db;
}

/** Opens the data directory's database and brings it to the current schema. */
export function openStore(dataDirectory: string, options: DatabaseOptions = {}): Db {
  const db = openDatabase(databasePath(dataDirectory), options);
  try {
    migrate(db, MIGRATIONS);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}
