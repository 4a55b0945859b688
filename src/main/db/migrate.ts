/**
 * The console's migrations run on the one runner the server uses too (src/core/db, ARCHITECTURE.md
 * rule 11); this module keeps the import path the migrations and tests use.
 */
export { migrate, schemaVersion, type Migration } from '../../core/db';
