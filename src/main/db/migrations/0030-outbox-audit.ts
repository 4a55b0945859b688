import type { Migration } from '../migrate';

/**
 * The outbox of work waiting for a server (each item with an idempotency key, so a retry never
 * applies twice) and the local hash-chained audit trail (ARCHITECTURE.md §7).
 */
export const migration0030: Migration = {
  version: 30,
  name: '0030-outbox-audit',
  up(db) {
    db.exec(`
      CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        idempotency_key TEXT NOT NULL UNIQUE,
        server_url TEXT NOT NULL,
        -- The identity that signs the request (the server checks proposer and roles).
        signer_key_id TEXT,
        kind TEXT NOT NULL,
        payload_json TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error TEXT,
        created_at TEXT NOT NULL,
        delivered_at TEXT
      ) STRICT;
      CREATE INDEX outbox_pending ON outbox (state, id);

      CREATE TABLE audit (
        seq INTEGER PRIMARY KEY,
        time TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        details_json TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
      ) STRICT;
    `);
  },
};
