import type { Migration } from '../migrate';

/**
 * The mirrored release logs (ARCHITECTURE.md §3, §7): verified entries, the checkpoints seen, and what the
 * mirror found wrong with a server's log (kept, never overwriting verified data).
 */
export const migration0020: Migration = {
  version: 20,
  name: '0020-log-mirror',
  up(db) {
    db.exec(`
      CREATE TABLE log_entries (
        server_id INTEGER NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
        app TEXT NOT NULL,
        channel TEXT NOT NULL,
        seq INTEGER NOT NULL,
        statement_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        version TEXT,
        entry_json TEXT NOT NULL,
        applied_at TEXT NOT NULL,
        PRIMARY KEY (server_id, app, channel, seq)
      ) STRICT;

      CREATE TABLE checkpoints (
        server_id INTEGER NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
        app TEXT NOT NULL,
        channel TEXT NOT NULL,
        seq INTEGER NOT NULL,
        head TEXT NOT NULL,
        time TEXT NOT NULL,
        json TEXT NOT NULL,
        -- The trust-root version the head entry was judged under (continues incremental checks).
        root_version INTEGER NOT NULL,
        fetched_at TEXT NOT NULL,
        PRIMARY KEY (server_id, app, channel)
      ) STRICT;

      CREATE TABLE mirror_findings (
        id INTEGER PRIMARY KEY,
        server_id INTEGER NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
        app TEXT NOT NULL,
        channel TEXT NOT NULL,
        kind TEXT NOT NULL,
        seq INTEGER,
        message TEXT NOT NULL,
        evidence_json TEXT NOT NULL,
        found_at TEXT NOT NULL
      ) STRICT;
    `);
  },
};
