import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AirlockError } from '../../core/errors';
import { migrate } from './migrate';
import { MIGRATIONS } from './migrations';

export type Db = Database.Database;

/** The console's database file inside a data directory (DESIGN §7). */
export function databasePath(dataDirectory: string): string {
  return join(dataDirectory, 'airlock.db');
}

/**
 * Opens (creating if needed) the SQLite database at `path` with the pragmas every connection needs:
 * WAL, foreign keys on, a busy timeout so a second process (CLI beside the console) waits instead of
 * failing. Throws AirlockError IO_ERROR with a sentence when the file cannot be opened.
 */
export function openDatabase(path: string): Db {
  let db: Db;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    db = new Database(path);
  } catch (cause) {
    throw new AirlockError('IO_ERROR', `Cannot open the database at ${path}.`, { cause });
  }
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  db.pragma('synchronous = NORMAL');
  return db;
}

/** Opens the data directory's database and brings it to the current schema. */
export function openStore(dataDirectory: string): Db {
  const db = openDatabase(databasePath(dataDirectory));
  try {
    migrate(db, MIGRATIONS);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}
