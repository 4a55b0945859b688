import type pg from 'pg';
import { AirlockError } from '../../../core';

/**
 * The PostgreSQL schema (issue 15): the SQLite schema of src/server/store/migrations in
 * PostgreSQL's types, plus what several processes need. Shipped steps are never edited; add a
 * new numbered one.
 *
 * - `server_meta`: the public key of the server key the deployment signs with, so that a process
 *   started with another data directory's key refuses to start instead of signing a checkpoint
 *   chain with two keys.
 * - `heads`: the deployment's current head checkpoint per channel, so that the head is re-signed
 *   once per interval for all processes (not once per process).
 * - `added` columns: when a row was written (its transaction's start, `now()`), for the periodic
 *   re-read that catches a missed notification; the re-read looks two minutes further back.
 */
const MIGRATION_0010 = `
CREATE TABLE server_meta (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  server_key_id text NOT NULL,
  server_public_key text NOT NULL,
  created_at text NOT NULL
);

CREATE TABLE roots (
  version integer PRIMARY KEY,
  signed text NOT NULL,
  root_id text NOT NULL,
  added_at text NOT NULL
);

CREATE TABLE apps (
  app text PRIMARY KEY,
  bundle_public_key text,
  bundle_key_id text,
  created_at text NOT NULL
);

CREATE TABLE channels (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  app text NOT NULL REFERENCES apps(app),
  name text NOT NULL,
  settings text NOT NULL,
  seq integer NOT NULL DEFAULT 0,
  head text,
  current_release text,
  rollout_percent double precision,
  paused boolean NOT NULL DEFAULT false,
  rolled_back boolean NOT NULL DEFAULT false,
  counting_since integer NOT NULL DEFAULT 0,
  bundle_public_key text,
  bundle_key_id text,
  created_at text NOT NULL,
  UNIQUE (app, name)
);

CREATE TABLE statements (
  id text PRIMARY KEY,
  app text NOT NULL,
  channel text NOT NULL,
  seq integer NOT NULL,
  kind text NOT NULL,
  version text,
  bundle_sha256 text,
  body text NOT NULL,
  submitted_at text NOT NULL,
  added timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (app, channel) REFERENCES channels(app, name)
);
CREATE INDEX statements_by_channel ON statements (app, channel, seq);
CREATE INDEX statements_bundles_by_time ON statements (added) WHERE bundle_sha256 IS NOT NULL;

CREATE TABLE approvals (
  statement text NOT NULL REFERENCES statements(id),
  key_id text NOT NULL,
  sig text NOT NULL,
  added_at text NOT NULL,
  n bigint GENERATED ALWAYS AS IDENTITY,
  PRIMARY KEY (statement, key_id)
);

CREATE TABLE log (
  channel_id integer NOT NULL REFERENCES channels(id),
  seq integer NOT NULL,
  statement text NOT NULL UNIQUE REFERENCES statements(id),
  approvals text NOT NULL,
  server_sig text,
  note text,
  applied_at text NOT NULL,
  checkpoint text NOT NULL,
  root_version integer NOT NULL,
  PRIMARY KEY (channel_id, seq)
);

CREATE TABLE heads (
  channel_id integer PRIMARY KEY REFERENCES channels(id),
  seq integer NOT NULL,
  head text NOT NULL,
  checkpoint text NOT NULL,
  signed_ms bigint NOT NULL
);

CREATE TABLE nonces (
  key_id text NOT NULL,
  nonce text NOT NULL,
  expires bigint NOT NULL,
  PRIMARY KEY (key_id, nonce)
);
CREATE INDEX nonces_by_expiry ON nonces (expires);

CREATE TABLE stats (
  app text NOT NULL,
  channel text NOT NULL,
  version text NOT NULL,
  action text NOT NULL,
  hour bigint NOT NULL,
  count bigint NOT NULL,
  PRIMARY KEY (app, channel, version, action, hour)
);

CREATE TABLE checked_bundles (
  encrypted_sha256 text PRIMARY KEY,
  checked_at text NOT NULL,
  file_list_json text,
  added timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX checked_bundles_by_time ON checked_bundles (added);

CREATE TABLE evidence_devices (
  channel_id integer NOT NULL REFERENCES channels(id),
  since integer NOT NULL,
  device_id text NOT NULL,
  source text NOT NULL,
  failed boolean NOT NULL,
  PRIMARY KEY (channel_id, since, device_id)
);

CREATE TABLE evidence_sources (
  channel_id integer NOT NULL REFERENCES channels(id),
  since integer NOT NULL,
  source text NOT NULL,
  devices integer NOT NULL,
  PRIMARY KEY (channel_id, since, source)
);

CREATE TABLE evidence_totals (
  channel_id integer NOT NULL REFERENCES channels(id),
  since integer NOT NULL,
  devices integer NOT NULL,
  successes integer NOT NULL,
  failures integer NOT NULL,
  PRIMARY KEY (channel_id, since)
);
`;

interface PgMigration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** Append only (ARCHITECTURE.md rule 11). */
export const PG_MIGRATIONS: readonly PgMigration[] = [
  { version: 10, name: 'initial', sql: MIGRATION_0010 },
];

/**
 * Advisory lock keys (PostgreSQL §9.27.10): one for migrations, one the trust root (applies take
 * it shared, a root update exclusive, so an apply never straddles a root change).
 */
export const MIGRATION_LOCK = 0x4169_7201;
export const ROOT_LOCK = 0x4169_7202;
/** First key of the two-key form; the second is the channel id (evidence per channel). */
export const EVIDENCE_LOCK = 0x4169_7203;

/**
 * Brings the database to the newest schema, under an advisory lock held for the transaction, so
 * that processes starting together migrate once (issue 15 item 3). Throws DB_FROM_FUTURE for a
 * schema newer than this build knows.
 */
export async function migratePostgres(pool: pg.Pool): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query(
      `CREATE TABLE IF NOT EXISTS airlock_schema (
         version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const result = await client.query<{ version: number | null }>(
      'SELECT max(version) AS version FROM airlock_schema',
    );
    const current = result.rows[0]?.version ?? 0;
    const newest = PG_MIGRATIONS.at(-1)?.version ?? 0;
    if (current > newest) {
      throw new AirlockError(
        'DB_FROM_FUTURE',
        `The server database has schema version ${current}; this Airlock knows up to ${newest}. Update Airlock.`,
      );
    }
    for (const step of PG_MIGRATIONS) {
      if (step.version <= current) continue;
      await client.query(step.sql);
      await client.query('INSERT INTO airlock_schema (version, name) VALUES ($1, $2)', [
        step.version,
        step.name,
      ]);
    }
    await client.query('COMMIT');
    return newest;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
