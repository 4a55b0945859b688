/**
 * Bundle file lists (ARCHITECTURE.md §5, "A request states verified facts"). Shipped: never edit;
 * add a new numbered migration.
 *
 * - `checked_bundles.file_list_json`: the file list the server read from the decrypted bundle when
 *   it checked it, so that consoles can show and diff the files of any release; a console checks
 *   it against the `fileListSha256` the approved statement carries.
 */
export const MIGRATION_0030 = `
ALTER TABLE checked_bundles ADD COLUMN file_list_json TEXT;
`;
