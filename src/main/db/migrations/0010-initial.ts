import type { Migration } from '../migrate';

/**
 * The console's first schema (ARCHITECTURE.md §7): settings, servers with their pinned trust root, apps and
 * channels, local bundle artifacts, statements and the approvals gathered for them.
 */
export const migration0010: Migration = {
  version: 10,
  name: '0010-initial',
  up(db) {
    db.exec(`
      CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) STRICT;

      CREATE TABLE servers (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL UNIQUE,
        -- Trust root pinned on first contact (its id, compared out of band), and the newest version
        -- accepted since, only through the root chain (ARCHITECTURE.md §4).
        pinned_root_id TEXT NOT NULL,
        root_version INTEGER NOT NULL,
        root_json TEXT NOT NULL,
        server_key_id TEXT NOT NULL,
        server_public_key TEXT NOT NULL,
        added_at TEXT NOT NULL
      ) STRICT;

      CREATE TABLE apps (
        id INTEGER PRIMARY KEY,
        server_id INTEGER REFERENCES servers(id) ON DELETE CASCADE,
        app TEXT NOT NULL,
        UNIQUE (server_id, app)
      ) STRICT;

      CREATE TABLE channels (
        id INTEGER PRIMARY KEY,
        app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        UNIQUE (app_id, name)
      ) STRICT;

      CREATE TABLE bundles (
        encrypted_sha256 TEXT PRIMARY KEY,
        path TEXT NOT NULL,
        info_json TEXT NOT NULL,
        file_list_json TEXT,
        created_at TEXT NOT NULL
      ) STRICT;

      CREATE TABLE statements (
        id TEXT PRIMARY KEY,
        server_id INTEGER REFERENCES servers(id) ON DELETE SET NULL,
        app TEXT NOT NULL,
        channel TEXT NOT NULL,
        seq INTEGER NOT NULL,
        kind TEXT NOT NULL,
        json TEXT NOT NULL,
        created_at TEXT NOT NULL
      ) STRICT;
      CREATE INDEX statements_by_channel ON statements (app, channel, seq);

      CREATE TABLE approvals (
        statement_id TEXT NOT NULL REFERENCES statements(id) ON DELETE CASCADE,
        key_id TEXT NOT NULL,
        sig TEXT NOT NULL,
        source TEXT NOT NULL,
        added_at TEXT NOT NULL,
        PRIMARY KEY (statement_id, key_id)
      ) STRICT;
    `);
  },
};
