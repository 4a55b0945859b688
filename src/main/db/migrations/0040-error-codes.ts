import type { Migration } from '../migrate';

/**
 * 0040: the outbox keeps the stable error code of a refusal beside its sentence, so that the CLI
 * and the window report a refused item with its own code (ARCHITECTURE.md §7); the tables nothing
 * ever read (settings, apps, channels: the mirror and the statements hold what they would have)
 * are dropped; `bundle_file_lists` keeps the file lists of bundles other consoles built, taken from
 * the server and checked against the approved statement's `fileListSha256` (ARCHITECTURE.md §5).
 * Shipped: never edit; add a new numbered migration.
 */
export const migration0040: Migration = {
  version: 40,
  name: 'error-codes',
  up(db) {
    db.exec(`
      ALTER TABLE outbox ADD COLUMN last_error_code TEXT;
      DROP TABLE channels;
      DROP TABLE apps;
      DROP TABLE settings;
      CREATE TABLE bundle_file_lists (
        encrypted_sha256 TEXT PRIMARY KEY,
        file_list_json TEXT NOT NULL
      ) STRICT;
    `);
  },
};
