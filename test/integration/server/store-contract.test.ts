import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dataDirPaths } from '../../../src/server/data-dir';
import { initServer } from '../../../src/server/init';
import { loadServerKey } from '../../../src/server/server-key';
import { openSqliteStore } from '../../../src/server/store/sqlite-store';
import {
  CONTRACT_ADMINS,
  describeServerStore,
  type StoreHarness,
} from '../../contract/server-store';

/**
 * The ServerStore contract (test/contract/server-store.ts) on each backend. SQLite: a data
 * directory made by `airlock server init`'s own path in a temporary folder, opened as
 * `airlock server start` opens it.
 */

async function sqliteStore(): Promise<StoreHarness> {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'airlock-store-contract-')), 'data');
  await initServer({
    dataDir,
    admins: CONTRACT_ADMINS.map((admin) => admin.publicKeyHex),
  });
  const paths = dataDirPaths(dataDir);
  const store = openSqliteStore(paths, loadServerKey(paths.serverKey));
  return {
    store,
    dispose: async () => {
      await store.close();
      rmSync(join(dataDir, '..'), { recursive: true, force: true });
    },
  };
}

describeServerStore('sqlite', sqliteStore);
