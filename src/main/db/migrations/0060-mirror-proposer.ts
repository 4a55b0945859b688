import type { Migration } from '../migrate';

/**
 * 0060: each mirrored entry keeps its proposer in a column of its own, indexed per channel, so the
 * history can be filtered by who proposed in SQL (and list the channel's proposers) without
 * parsing every entry's JSON. Filled from the stored entries once.
 * Shipped: never edit; add a new numbered migration.
 */
export const migration0060: Migration = {
  version: 60,
  name: 'mirror-proposer',
  up(db) {
    db.exec(`
      ALTER TABLE log_entries ADD COLUMN proposer TEXT;
      UPDATE log_entries SET proposer = json_extract(entry_json, '$.statement.proposer');
      CREATE INDEX log_entries_by_proposer ON log_entries (server_id, app, channel, proposer);
    `);
  },
};
