import Database from 'better-sqlite3';
import { join } from 'node:path';
import { openSqlite } from '../../core/db';
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
 * Opens (creating if needed) the SQLite database at `path` with the shared opener (src/core/db:
 * WAL, foreign keys, a busy timeout so a second process (the CLI beside the console) waits).
 * Throws AirlockError IO_ERROR with a sentence when the file or the addon cannot be opened.
 */
export function openDatabase(path: string, options: DatabaseOptions = {}): Db {
  return openSqlite<Db>(Database, path, options);
}

/** Opens the data directory's database and brings it to the current schema. */
export function openStore(dataDirectory: string, options: DatabaseOptions = {}): Db {
  return openSqlite<Db>(Database, databasePath(dataDirectory), {
    ...options,
    migrations: MIGRATIONS,
    what: 'The console database',
  });
}
