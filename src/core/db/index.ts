/** The console's and the server's shared SQLite plumbing, over a structural connection type. */
export { migrate, schemaVersion, sqlMigration, type Migration } from './migrate';
export { openSqlite, type OpenOptions } from './open';
export type { SqlDatabase, SqlDatabaseConstructor, SqlTransaction } from './sql';
