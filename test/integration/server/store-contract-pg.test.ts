import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { dataDirPaths } from '../../../src/server/data-dir';
import { initServer } from '../../../src/server/init';
import { loadServerKey } from '../../../src/server/server-key';
import { FsBlobStore } from '../../../src/server/store/blobs';
import { openPostgresStore } from '../../../src/server/store/postgres/postgres-store';
import {
  CONTRACT_ADMINS,
  describeServerStore,
  type StoreHarness,
} from '../../contract/server-store';
import { startPostgres, type PgTestCluster } from '../../helpers/postgres';

/**
 * The ServerStore contract (test/contract/server-store.ts) on PostgreSQL: one throwaway cluster
 * (test/helpers/postgres.ts) for the file, a fresh database per test made by `airlock server
 * init --database`'s own path, opened as `airlock server start --database` opens it.
 */

let cluster: PgTestCluster;
let databases = 0;

beforeAll(async () => {
  cluster = await startPostgres();
}, 60_000);

afterAll(async () => {
  await cluster.stop();
});

async function postgresStore(): Promise<StoreHarness> {
  databases += 1;
  const url = await cluster.createDatabase(`contract_${databases}`);
  const dataDir = join(mkdtempSync(join(tmpdir(), 'airlock-store-contract-pg-')), 'data');
  await initServer({
    dataDir,
    admins: CONTRACT_ADMINS.map((admin) => admin.publicKeyHex),
    database: cluster.clientConfig(url),
  });
  const paths = dataDirPaths(dataDir);
  const store = await openPostgresStore(cluster.clientConfig(url), loadServerKey(paths.serverKey), {
    blobs: new FsBlobStore(paths.bundles, paths.bundlesTmp),
    poolSize: 4,
  });
  return {
    store,
    dispose: async () => {
      await store.close();
      rmSync(join(dataDir, '..'), { recursive: true, force: true });
    },
  };
}

describeServerStore('postgres', postgresStore);
