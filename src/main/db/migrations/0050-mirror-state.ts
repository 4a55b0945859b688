import type { Migration } from '../migrate';

/**
 * 0050: each mirrored channel keeps its channel state (src/core/channel/state.ts, the fold the
 * server and the device guard run) beside its head, updated with the entries in one transaction,
 * so that the console's view of a channel is the same function's answer (ARCHITECTURE.md §11) and
 * costs one row to read. NULL until the next sync or read folds the stored entries once.
 * Shipped: never edit; add a new numbered migration.
 */
export const migration0050: Migration = {
  version: 50,
  name: 'mirror-state',
  up(db) {
    db.exec(`ALTER TABLE checkpoints ADD COLUMN state_json TEXT;`);
  },
};
