/**
 * Fleet scale and hostile input (ARCHITECTURE.md "Fleet scale", "Unauthenticated input"). Shipped:
 * never edit; add a new numbered migration.
 *
 * - `channels.bundle_public_key`, `bundle_key_id`: a channel may have a bundle key of its own, so
 *   that its releases are encrypted for its own builds only (channels are not access control).
 * - `channels.counting_since`: the seq of the release, rollback or resume the automatic pause
 *   counts outcomes from (the channel-state fold keeps it).
 * - `checked_bundles`: bundles whose contents the server has checked itself (limits, native code);
 *   only those, and only when a statement names them, are served.
 * - `evidence_*`: the automatic pause's evidence: one outcome per device per counting period, a
 *   count of devices per source (capped), and the totals, so that deciding never scans devices.
 */
export const MIGRATION_0020 = `
ALTER TABLE channels ADD COLUMN bundle_public_key TEXT;
ALTER TABLE channels ADD COLUMN bundle_key_id TEXT;
ALTER TABLE channels ADD COLUMN counting_since INTEGER NOT NULL DEFAULT 0;

CREATE TABLE checked_bundles (
  encrypted_sha256 TEXT PRIMARY KEY,
  checked_at TEXT NOT NULL
) STRICT;

CREATE TABLE evidence_devices (
  channel_id INTEGER NOT NULL REFERENCES channels(id),
  since INTEGER NOT NULL,
  device_id TEXT NOT NULL,
  source TEXT NOT NULL,
  failed INTEGER NOT NULL,
  PRIMARY KEY (channel_id, since, device_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE evidence_sources (
  channel_id INTEGER NOT NULL REFERENCES channels(id),
  since INTEGER NOT NULL,
  source TEXT NOT NULL,
  devices INTEGER NOT NULL,
  PRIMARY KEY (channel_id, since, source)
) STRICT, WITHOUT ROWID;

CREATE TABLE evidence_totals (
  channel_id INTEGER NOT NULL REFERENCES channels(id),
  since INTEGER NOT NULL,
  devices INTEGER NOT NULL,
  successes INTEGER NOT NULL,
  failures INTEGER NOT NULL,
  PRIMARY KEY (channel_id, since)
) STRICT;

CREATE INDEX statements_by_kind ON statements (kind);
`;
