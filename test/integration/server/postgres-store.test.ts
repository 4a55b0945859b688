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

  it('follows a new root, app, checked bundle and named bundle by notification alone', async () => {
    const a = await open();
    const b = await open({ resyncMs: 3_600_000 });
    const version = b.currentRoot().version;
    const next = { ...a.currentRoot(), version: version + 1 };
    await a.appendRoot({ root: next, signatures: [] }, new Date());
    await until('b has the new root', 1000, () => b.currentRoot().version === version + 1);
    const other = `${APP}.n${version}`;
    await a.createApp(
      {
        app: other,
        bundlePublicKey: null,
        bundleKeyId: null,
        channels: [{ name: CHANNEL, settings: ChannelSettingsSchema.parse({}) }],
      },
      new Date(),
    );
    await until('b has the new app', 1000, () => b.channel(other, CHANNEL) !== null);
    const sha = 'ab'.repeat(32);
    await a.markBundleChecked(sha, new Date(), []);
    await until('b knows it is checked', 1000, () => b.bundleChecked(sha));
    expect(b.servable(sha)).toBe(false);
    const status = a.channelStatus(other, CHANNEL);
    const release: Statement = {
      v: 1,
      kind: 'release',
      release: {
        version: '1.0.1',
        minNativeVersion: '1.0.0',
        rollout: { percent: 100 },
        bundle: {
          sha256: 'cd'.repeat(32),
          size: 1,
          encryptedSha256: sha,
          encryptedSize: 1,
          sessionKey: 'QUFB:QUFB',
          checksum: 'a'.repeat(512),
          keyId: 'QUFB',
          files: 1,
        },
      },
      app: other,
      channel: CHANNEL,
      seq: (status?.seq ?? 0) + 1,
      prev: status?.head ?? null,
      createdAt: new Date(Date.now() - 60_000).toISOString(),
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
      proposer: alice.keyId,
    };
    await a.submitStatement(statementId(release), release, [], new Date());
    await until('b may serve it', 1000, () => b.servable(sha));
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

  it('catches up on demand (admin decisions) with no notification and no re-read', async () => {
    const a = await open();
    const b = await open({ resyncMs: 3_600_000, onError: () => undefined });
    // b hears nothing: its LISTEN connection is cut and it does not re-read on its own.
    await admin(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`,
      [`airlock listen ${b.origin}`],
    );
    const before = b.channelStatus(APP, CHANNEL)?.seq ?? -1;
    const version = b.currentRoot().version;
    await applyNext(a, b.channel(APP, CHANNEL)?.paused === true ? 'resume' : 'pause');
    await a.appendRoot(
      { root: { ...a.currentRoot(), version: version + 1 }, signatures: [] },
      new Date(),
    );
    await b.catchUp(APP, CHANNEL);
    expect(b.channelStatus(APP, CHANNEL)?.seq).toBe(before + 1);
    expect(b.currentRoot().version).toBe(version + 1);
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
    // Clocks 5 s apart: a checkpoint b signed itself would carry b's time, not a's.
    let clock = Date.now();
    const a = await open({ now: () => new Date(clock) });
    const b = await open({ now: () => new Date(clock + 5000) });
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
    expect(Date.parse(fromB?.checkpoint.time ?? '')).toBe(clock);
    clock += HEAD_RESIGN_MS + 1000;
    const later = (await b.logPage(APP, CHANNEL, 1_000_000, 1))?.head;
    expect(later?.sig).not.toBe(first?.sig);
    expect(Date.parse(later?.checkpoint.time ?? '')).toBe(clock + 5000);
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

describe('evidence under concurrent reports (group commit)', () => {
  it('folds concurrent reports as if they came one by one', async () => {
    const a = await open();
    const since = a.channel(APP, CHANNEL)?.countingSince ?? 0;
    const limits = { perSource: 5, devices: 1_000_000 };
    const record = (source: string, deviceId: string, failed: boolean) =>
      a.recordOutcomes(APP, CHANNEL, since, source, [{ deviceId, failed }], limits);
    const before = (await a.evidence(APP, CHANNEL)) ?? { devices: 0, successes: 0, failures: 0 };
    const calls: Promise<unknown>[] = [];
    // 200 sources with one failing device each; one source with 10 devices (5 count); one device
    // reported a success, then a failure, by two calls in flight together (one device, failed).
    for (let i = 0; i < 200; i++)
      calls.push(record(`10.1.${i >> 8}.${i & 255}`, `wave-${i}`, true));
    for (let i = 0; i < 10; i++) calls.push(record('10.2.0.1', `crowd-${i}`, false));
    calls.push(record('10.3.0.1', 'flaky', false), record('10.3.0.2', 'flaky', true));
    const results = await Promise.all(calls);
    expect(results.every((result) => result !== null)).toBe(true);
    const after = await a.evidence(APP, CHANNEL);
    expect(after).toMatchObject({
      since,
      devices: before.devices + 200 + 5 + 1,
      failures: before.failures + 200 + 1,
      successes: before.successes + 5,
    });
    const flaky = await admin<{ failed: boolean }>(
      `SELECT failed FROM evidence_devices WHERE device_id = 'flaky'`,
    );
    expect(flaky).toEqual([{ failed: true }]);
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
