import { sqlMigration, type Migration } from '../../../core/db';
import { MIGRATION_0010 } from './0010-initial';
import { MIGRATION_0020 } from './0020-fleet';
import { MIGRATION_0030 } from './0030-file-lists';
import { MIGRATION_0040 } from './0040-root-version';

/**
 * The server schema's steps (ARCHITECTURE.md rule 11), run by the runner the console uses too
 * (src/core/db): append only, never edit a shipped one.
 */
export const MIGRATIONS: readonly Migration[] = [
  sqlMigration(10, 'initial', MIGRATION_0010),
  sqlMigration(20, 'fleet', MIGRATION_0020),
  sqlMigration(30, 'file-lists', MIGRATION_0030),
  sqlMigration(40, 'root-version', MIGRATION_0040),
];
