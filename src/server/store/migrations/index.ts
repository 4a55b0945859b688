import { MIGRATION_0010 } from './0010-initial';
import { MIGRATION_0020 } from './0020-fleet';

/** One numbered step of the server schema (ARCHITECTURE.md rule 11): append only, never edit a shipped one. */
export interface Migration {
  /** The `PRAGMA user_version` after this migration; multiples of 10, strictly increasing. */
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  { version: 10, name: 'initial', sql: MIGRATION_0010 },
  { version: 20, name: 'fleet', sql: MIGRATION_0020 },
];
