import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { statementId } from '../../../src/core';
import { dataDirPaths } from '../../../src/server/data-dir';
import { initServer } from '../../../src/server/init';
import { loadServerKey } from '../../../src/server/server-key';
import { FsBlobStore } from '../../../src/server/store/blobs';
import { migratePostgres, PG_MIGRATIONS } from '../../../src/server/store/postgres/migrations';
import {
  openPostgresStore,
  type PostgresServerStore,
  type PostgresStoreOptions,
} from '../../../src/server/store/postgres/postgres-store';
import { HEAD_RESIGN_MS } from '../../../src/server/store/rules';
import { ChannelSettingsSchema, type Statement } from '../../../src/shared/schemas';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-backend';
import { testIdentity } from '../../helpers/server';

/**
 * What the PostgreSQL store does beyond the ServerStore contract (which
 * store-contract-pg.test.ts runs): several stores on one database, as several processes are
 * (issue 15 item 3). Each store here is what one `airlock server start --database` process opens.
 */

// TEST-ONLY identity.
const alice = testIdentity('postgres store alice');
const APP = 'com.example.pgstore';
const CHANNEL = 'production';

let db: TestDatabase;
let dataDir: string;
const opened: PostgresServerStore[] = [];

beforeAll(async () => {
  db = await createTestDatabase('pgstore');
  dataDir = join(mkdtempSync(join(tmpdir(), 'airlock-pg-store-')), 'data');
  await initServer({ dataDir, admins: [alice.publicKeyHex], database: db.config });
  const first = await open();
  await first.createApp(
    {
      app: APP,
      bundlePublicKey: null,
      bundleKeyId: null,
      channels: [{ name: CHANNEL, settings: ChannelSettingsSchema.parse({}) }],
    },
    new Date(),
  );
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close()));
});

afterAll(async () => {
  await db.drop();
  rmSync(join(dataDir, '..'), { recursive: true, force: true });
});

async function open(options: Partial<PostgresStoreOptions> = {}): Promise<PostgresServerStore> {
  const paths = dataDirPaths(dataDir);
  const store = await openPostgresStore(db.config, loadServerKey(paths.serverKey), {
    blobs: new FsBlobStore(paths.bundles, paths.bundlesTmp),
    poolSize: 2,
    ...options,
  });
  opened.push(store);
  return store;
}

/** Applies a pause or resume at the channel's next position through `store`. */
async function applyNext(store: PostgresServerStore, kind: 'pause' | 'resume'): Promise<void> {
  const status = store.channelStatus(APP, CHANNEL);
  if (status === null) throw new Error('no channel');
  const statement: Statement = {
    v: 1,
    kind,
    app: APP,
    channel: CHANNEL,
    seq: status.seq + 1,
    prev: status.head,
    createdAt: new Date(Date.now() - 60_000).toISOString(),
    expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    proposer: alice.keyId,
  };
  const outcome = await store.applyStatement(
    {
      id: statementId(statement),
      statement,
      approvals: [],
      newApprovals: [],
      rootVersion: store.currentRoot().version,
    },
    new Date(),
  );
  expect(outcome.result).toBe('applied');
}

async function until(what: string, limitMs: number, ready: () => boolean): Promise<number> {
  const started = performance.now();
  while (!ready()) {
    if (performance.now() - started > limitMs) throw new Error(`not within ${limitMs} ms: ${what}`);
    await sleep(10);
  }
  return performance.now() - started;
}

async function admin<R extends pg.QueryResultRow>(sql: string, values: unknown[] = []) {
  return db.query<R>(sql, values);
}

describe('several stores on one database', () => {
  it('follows another store’s apply by notification, with the re-read switched off', async () => {
    const a = await open();
    const b = await open({ resyncMs: 3_600_000 });
    const before = b.channelStatus(APP, CHANNEL)?.seq ?? -1;
    await applyNext(a, b.channel(APP, CHANNEL)?.paused === true ? 'resume' : 'pause');
    const ms = await until(
      'b sees the new seq',
      1000,
      () => b.channelStatus(APP, CHANNEL)?.seq === before + 1,
    );
    expect(ms).toBeLessThan(1000);
    expect(b.channel(APP, CHANNEL)?.paused).toBe(a.channel(APP, CHANNEL)?.paused);
  });

  it('listens again after its LISTEN connection is cut, and re-reads what it missed', async () => {
    const a = await open();
    const b = await open({ resyncMs: 3_600_000, onError: () => undefined });
    const cut = await admin<{ ok: boolean }>(
      `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1`,
      [`airlock listen ${b.origin}`],
    );
    expect(cut).toEqual([{ ok: true }]);
    const before = b.channelStatus(APP, CHANNEL)?.seq ?? -1;
    // Applied while b has no LISTEN connection: its notification reaches nobody at b.
    await applyNext(a, b.channel(APP, CHANNEL)?.paused === true ? 'resume' : 'pause');
    await until('b catches up', 5000, () => b.channelStatus(APP, CHANNEL)?.seq === before + 1);
    const listening = await admin<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1`,
      [`airlock listen ${b.origin}`],
    );
    expect(listening).toEqual([{ n: 1 }]);
    // And it hears notifications again.
    await applyNext(a, b.channel(APP, CHANNEL)?.paused === true ? 'resume' : 'pause');
    await until('b follows again', 1000, () => b.channelStatus(APP, CHANNEL)?.seq === before + 2);
  });

  it('re-reads a change no notification announced (the safety net)', async () => {
    const b = await open({ resyncMs: 100 });
    const settings = { ...ChannelSettingsSchema.parse({}), allowSelfSet: true };
    // Written behind every store's back: no NOTIFY.
    await admin('UPDATE channels SET settings = $1 WHERE app = $2 AND name = $3', [
      JSON.stringify(settings),
      APP,
      CHANNEL,
    ]);
    await until(
      'b sees the settings',
      2000,
      () => b.channel(APP, CHANNEL)?.settings.allowSelfSet === true,
    );
    await admin('UPDATE channels SET settings = $1 WHERE app = $2 AND name = $3', [
      JSON.stringify(ChannelSettingsSchema.parse({})),
      APP,
      CHANNEL,
    ]);
    await until(
      'b sees them reverted',
      2000,
      () => b.channel(APP, CHANNEL)?.settings.allowSelfSet === false,
    );
  });

  it('signs the head checkpoint once per interval for all stores', async () => {
    let clock = Date.now();
    const now = (): Date => new Date(clock);
    const a = await open({ now });
    const b = await open({ now });
    await applyNext(a, a.channel(APP, CHANNEL)?.paused === true ? 'resume' : 'pause');
    await until(
      'b sees it',
      1000,
      () => b.channelStatus(APP, CHANNEL)?.seq === a.channelStatus(APP, CHANNEL)?.seq,
    );
    const first = (await a.logPage(APP, CHANNEL, 1_000_000, 1))?.head;
    const fromB = (await b.logPage(APP, CHANNEL, 1_000_000, 1))?.head;
    expect(first).not.toBeNull();
    expect(fromB).toEqual(first);
    clock += HEAD_RESIGN_MS + 1000;
    const later = (await b.logPage(APP, CHANNEL, 1_000_000, 1))?.head;
    expect(later?.sig).not.toBe(first?.sig);
    expect(Date.parse(later?.checkpoint.time ?? '')).toBe(clock);
    expect((await a.logPage(APP, CHANNEL, 1_000_000, 1))?.head).toEqual(later);
    const rows = await admin<{ n: number }>('SELECT count(*)::int AS n FROM heads');
    expect(rows[0]?.n).toBe(1);
  });

  it('buffers stats and writes them in batches', async () => {
    const a = await open({ statsFlushMs: 3_600_000 });
    const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000;
    for (let i = 0; i < 500; i++) {
      await a.addStats([
        { app: APP, channel: CHANNEL, version: '9.9.9', action: 'set', hour, count: 1 },
      ]);
    }
    const count = async (): Promise<number> =>
      (
        await admin<{ n: number | null }>(
          `SELECT sum(count)::int AS n FROM stats WHERE app = $1 AND version = '9.9.9'`,
          [APP],
        )
      )[0]?.n ?? 0;
    expect(await count()).toBe(0);
    await a.close();
    expect(await count()).toBe(500);
  });
});

describe('migrations', () => {
  it('migrates once when several processes start together, and refuses a newer schema', async () => {
    const fresh = await createTestDatabase('migrate');
    try {
      const pools = Array.from({ length: 4 }, () => new pg.Pool({ ...fresh.config, max: 1 }));
      try {
        const versions = await Promise.all(pools.map((pool) => migratePostgres(pool)));
        expect(new Set(versions)).toEqual(new Set([PG_MIGRATIONS.at(-1)?.version]));
        const rows = await fresh.query<{ version: number }>('SELECT version FROM airlock_schema');
        expect(rows.map((row) => row.version)).toEqual(PG_MIGRATIONS.map((step) => step.version));
        await fresh.query(`INSERT INTO airlock_schema (version, name) VALUES (999999, 'future')`);
        await expect(migratePostgres(pools[0] as pg.Pool)).rejects.toMatchObject({
          code: 'DB_FROM_FUTURE',
        });
      } finally {
        await Promise.all(pools.map((pool) => pool.end()));
      }
    } finally {
      await fresh.drop();
    }
  });
});
