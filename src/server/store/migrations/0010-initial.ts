/**
 * The server schema (ARCHITECTURE.md §3, §4, §6). Shipped: never edit; add a new numbered migration.
 *
 * - `roots`: the trust-root chain (SignedTrustRoot JSON per version).
 * - `apps`, `channels`: channels carry the log head and the device-facing state, updated in the
 *   same transaction as the log (so the in-memory device view can be rebuilt from one row).
 * - `statements`, `approvals`: everything submitted; `log` is what was applied, one row per seq.
 * - `nonces`: RFC 9421 nonces until their signature expires.
 * - `stats`: device event counters per app, channel, version, action and hour.
 */
export const MIGRATION_0010 = `
CREATE TABLE roots (
  version INTEGER PRIMARY KEY,
  signed TEXT NOT NULL,
  root_id TEXT NOT NULL,
  added_at TEXT NOT NULL
) STRICT;

CREATE TABLE apps (
  app TEXT PRIMARY KEY,
  bundle_public_key TEXT,
  bundle_key_id TEXT,
  created_at TEXT NOT NULL
) STRICT;

CREATE TABLE channels (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  app TEXT NOT NULL REFERENCES apps(app),
  name TEXT NOT NULL,
  settings TEXT NOT NULL,
  seq INTEGER NOT NULL DEFAULT 0,
  head TEXT,
  current_release TEXT,
  rollout_percent REAL,
  paused INTEGER NOT NULL DEFAULT 0,
  rolled_back INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  UNIQUE (app, name)
) STRICT;

CREATE TABLE statements (
  id TEXT PRIMARY KEY,
  app TEXT NOT NULL,
  channel TEXT NOT NULL,
  seq INTEGER NOT NULL,
  kind TEXT NOT NULL,
  version TEXT,
  body TEXT NOT NULL,
  submitted_at TEXT NOT NULL,
  FOREIGN KEY (app, channel) REFERENCES channels(app, name)
) STRICT;
CREATE INDEX statements_by_channel ON statements (app, channel, seq);

CREATE TABLE approvals (
  statement TEXT NOT NULL REFERENCES statements(id),
  key_id TEXT NOT NULL,
  sig TEXT NOT NULL,
  added_at TEXT NOT NULL,
  PRIMARY KEY (statement, key_id)
) STRICT;

CREATE TABLE log (
  channel_id INTEGER NOT NULL REFERENCES channels(id),
  seq INTEGER NOT NULL,
  statement TEXT NOT NULL UNIQUE REFERENCES statements(id),
  approvals TEXT NOT NULL,
  server_sig TEXT,
  note TEXT,
  applied_at TEXT NOT NULL,
  checkpoint TEXT NOT NULL,
  PRIMARY KEY (channel_id, seq)
) STRICT;

CREATE TABLE nonces (
  key_id TEXT NOT NULL,
  nonce TEXT NOT NULL,
  expires INTEGER NOT NULL,
  PRIMARY KEY (key_id, nonce)
) STRICT;
CREATE INDEX nonces_by_expiry ON nonces (expires);

CREATE TABLE stats (
  app TEXT NOT NULL,
  channel TEXT NOT NULL,
  version TEXT NOT NULL,
  action TEXT NOT NULL,
  hour INTEGER NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (app, channel, version, action, hour)
) STRICT;
`;
