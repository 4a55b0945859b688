/**
 * The trust-root version of each log entry (ARCHITECTURE.md §11). Shipped: never edit; add a new
 * numbered migration.
 *
 * - `log.root_version`: the version the entry's approvals were judged under when it was applied;
 *   its checkpoint signs the same number. NULL for entries applied before servers recorded it
 *   (verifiers then fall back to the assignment search of src/core/log/verify.ts).
 */
export const MIGRATION_0040 = `
ALTER TABLE log ADD COLUMN root_version INTEGER;
`;
