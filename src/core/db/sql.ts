/**
 * What the migration runner and the opener need of a SQLite connection, as a structural type:
 * better-sqlite3's `Database` has this shape, so the console (src/main/db) and the server
 * (src/server/store) share one runner and one opener without either importing the other, and
 * without src/core importing a database driver (ARCHITECTURE.md §1).
 */

export interface SqlTransaction {
  (): unknown;
  /** BEGIN IMMEDIATE: takes the write lock at once, so that concurrent writers queue. */
  immediate(): unknown;
}

export interface SqlDatabase {
  exec(source: string): unknown;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  transaction(fn: () => void): SqlTransaction;
  close(): unknown;
}

/** A driver's constructor: `new Database(path, options)` (better-sqlite3's). */
export type SqlDatabaseConstructor<D extends SqlDatabase> = new (
  path: string,
  options?: { nativeBinding?: string; fileMustExist?: boolean },
) => D;
