import { join } from 'node:path';

/**
 * The server's data directory (ARCHITECTURE.md §6, embedded default):
 *
 * - `server.db`: SQLite (WAL) with apps, channels, statements, approvals, the log, nonces and stats;
 * - `server-key.json`: the server's Ed25519 seed (mode 0600; a server has no desktop keychain);
 * - `bundles/<aa>/<sha256>`: encrypted bundles, content-addressed by the SHA-256 of their bytes;
 * - `bundles/tmp/`: uploads in progress, renamed into place only once complete and hash-checked.
 */
export interface DataDirPaths {
  readonly root: string;
  readonly db: string;
  readonly serverKey: string;
  readonly bundles: string;
  readonly bundlesTmp: string;
}

export function dataDirPaths(root: string): DataDirPaths {
  return {
    root,
    db: join(root, 'server.db'),
    serverKey: join(root, 'server-key.json'),
    bundles: join(root, 'bundles'),
    bundlesTmp: join(root, 'bundles', 'tmp'),
  };
}
