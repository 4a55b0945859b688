import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { rsaSignerFromPrivateKey } from '../../../src/core/bundle';
import { createApproval, signRoot, statementId } from '../../../src/core/statement';
import { createGuard, type CheckResult, type Guard } from '../../../src/device';
import type { LogPage, SignedCheckpoint, Statement, TrustRoot } from '../../../src/shared/schemas';
import { generateTestRsaKey, makeTempDir, type TempDir } from '../../helpers/bundle-fixtures';
import { MemoryStorage, serverTrustBundle, SimUpdater } from '../../helpers/device-log';
import {
  DeviceSim,
  makeEncryptedBundle,
  ReleaseDesk,
  type BundleInfo,
} from '../../helpers/device-sim';
import { startTamperProxy, type TamperProxy } from '../../helpers/tamper-proxy';
import { startTestServer, testIdentity, type TestServer } from '../../helpers/server';

/**
 * The device guard against a real Airlock server (ARCHITECTURE.md §11): first a compromised one — its
 * store driven past the release rules, or its database written directly — then an honest one
 * behind a tampering proxy. Every attack is refused with the plugin untouched and the stored state
 * as it was; against the honest server again, the guard installs. The plugin's native side is the
 * TEST-ONLY bridge of test/helpers/device-log.ts over the device simulator (it really downloads
 * and decrypts the bundle).
 */

const APP = 'com.example.guarded';
const CHANNEL = 'production';
const alice = testIdentity('guard-int alice'); // TEST-ONLY: proposes
const bob = testIdentity('guard-int bob'); // TEST-ONLY: approves
const key = generateTestRsaKey(); // TEST-ONLY bundle key
let dir: TempDir;
let bundles: Record<'a' | 'b' | 'c', { path: string; info: BundleInfo }>;

beforeAll(async () => {
  dir = makeTempDir('airlock-guard-int-');
  const signer = rsaSignerFromPrivateKey(key.privateKey);
  bundles = {
    a: await makeEncryptedBundle(dir.path, signer, 'a'),
    b: await makeEncryptedBundle(dir.path, signer, 'b'),
    c: await makeEncryptedBundle(dir.path, signer, 'c'),
  };
});

afterAll(() => dir.cleanup());

interface Rig {
  server: TestServer;
  desk: ReleaseDesk;
  proxy: TamperProxy;
  sim: DeviceSim;
  updater: SimUpdater;
  storage: MemoryStorage;
  guard: Guard;
  first: string;
}

const open: Rig[] = [];

afterEach(async () => {
  for (const rig of open.splice(0)) {
    await rig.proxy.close();
    await rig.server.dispose();
  }
});

/** An honest server with 1.0.0 released, a proxy in front, a phone whose guard installed it. */
async function rig(): Promise<Rig> {
  const server = await startTestServer({ admins: [alice, bob] });
  const desk = new ReleaseDesk(() => server.url, alice, bob);
  await desk.createApp(APP, key.publicKeyPem, [{ name: CHANNEL }, { name: 'beta' }]);
  const first = await desk.release(APP, CHANNEL, '1.0.1', bundles.a);
  const proxy = await startTamperProxy(() => server.url);
  const sim = new DeviceSim({ baseUrl: proxy.url, appId: APP, publicKeyPem: key.publicKeyPem });
  const updater = new SimUpdater(sim);
  const storage = new MemoryStorage();
  const guard = createGuard({
    server: proxy.url,
    app: APP,
    channel: CHANNEL,
    trust: await serverTrustBundle(server.url, APP, alice),
    storage,
    updater,
    requestTimeoutMs: 5_000,
  });
  const made = { server, desk, proxy, sim, updater, storage, guard, first };
  open.push(made);
  expect(await guard.check()).toEqual({ action: 'installed', version: '1.0.1' });
  expect(sim.versionName).toBe('1.0.1');
  return made;
}

async function expectRefused(r: Rig, code: string): Promise<CheckResult> {
  const before = r.storage.snapshot();
  const calls = r.updater.calls.length;
  const version = r.sim.versionName;
  const result = await r.guard.check();
  expect(result, JSON.stringify(result)).toMatchObject({ action: 'refused', code });
  expect(r.updater.calls).toHaveLength(calls);
  expect(r.sim.versionName).toBe(version);
  expect(r.storage.snapshot()).toBe(before);
  return result;
}

function db(r: Rig): Database.Database {
  return new Database(join(r.server.dataDir, 'server.db'));
}

/** The next statement on the channel, as the compromised server would make it. */
async function nextStatement(r: Rig, body: Partial<Statement>): Promise<Statement> {
  const status = await r.desk.channelStatus(APP, CHANNEL);
  const now = Date.now();
  return {
    v: 1,
    app: APP,
    channel: CHANNEL,
    seq: status.seq + 1,
    prev: status.head,
    createdAt: new Date(now - 1000).toISOString(),
    expiresAt: new Date(now + 86_400_000).toISOString(),
    proposer: alice.keyId,
    ...body,
  } as Statement;
}

function release(version: string, bundle: { info: BundleInfo }): Partial<Statement> {
  return {
    kind: 'release',
    release: {
      version,
      minNativeVersion: '1.0.0',
      rollout: { percent: 100 },
      bundle: bundle.info,
    },
  };
}

describe('a compromised server', () => {
  it('refuses a release applied with no approvals (signed by the server key)', async () => {
    const r = await rig();
    await r.desk.uploadBundle(bundles.b);
    const statement = await nextStatement(r, release('1.1.0', bundles.b));
    const store = r.server.store;
    if (store === null) throw new Error('in process');
    // The store applies what it is given: the release rules are what a compromise skips.
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
    const result = await expectRefused(r, 'LOG_INVALID');
    expect(result).toMatchObject({ code: 'LOG_INVALID' });
    expect(JSON.stringify(result)).toContain('POLICY_NOT_SATISFIED');
  });

  it('refuses approvals by a member a newer root removed', async () => {
    const r = await rig();
    const store = r.server.store;
    if (store === null) throw new Error('in process');
    const current = store.currentRoot();
    const next: TrustRoot = {
      ...current,
      version: current.version + 1,
      members: current.members.filter((member) => member.keyId !== bob.keyId),
    };
    await r.desk.call('POST', '/root', {
      signed: { root: next, signatures: [await signRoot(next, alice)] },
    });
    await r.desk.uploadBundle(bundles.b);
    const statement = await nextStatement(r, release('1.1.0', bundles.b));
    const approval = await createApproval(statement, bob);
    await store.applyStatement(
      {
        id: statementId(statement),
        statement,
        approvals: [approval],
        newApprovals: [approval],
        rootVersion: next.version,
      },
      new Date(),
    );
    expect(JSON.stringify(await expectRefused(r, 'LOG_INVALID'))).toContain('POLICY_NOT_SATISFIED');
  });

  it('refuses an older release put back as head (database written directly)', async () => {
    const r = await rig();
    await r.desk.release(APP, CHANNEL, '1.1.0', bundles.b);
    expect(await r.guard.check()).toEqual({ action: 'installed', version: '1.1.0' });
    const sql = db(r);
    sql
      .prepare("UPDATE channels SET seq = 1, head = ? WHERE app = ? AND name = 'production'")
      .run(r.first, APP);
    sql.close();
    await expectRefused(r, 'CHECKPOINT_ROLLBACK');
  });

  it('refuses a dropped rollback (database written directly)', async () => {
    const r = await rig();
    await r.desk.release(APP, CHANNEL, '1.1.0', bundles.b);
    expect(await r.guard.check()).toEqual({ action: 'installed', version: '1.1.0' });
    await r.desk.rollback(APP, CHANNEL, r.first);
    expect(await r.guard.check()).toEqual({ action: 'installed', version: '1.0.1' });
    const sql = db(r);
    const row = sql
      .prepare("SELECT id FROM channels WHERE app = ? AND name = 'production'")
      .get(APP) as {
      id: number;
    };
    const second = sql
      .prepare('SELECT statement FROM log WHERE channel_id = ? AND seq = 2')
      .get(row.id) as {
      statement: string;
    };
    sql.prepare('DELETE FROM log WHERE channel_id = ? AND seq = 3').run(row.id);
    sql.prepare('UPDATE channels SET seq = 2, head = ? WHERE id = ?').run(second.statement, row.id);
    sql.close();
    await expectRefused(r, 'CHECKPOINT_ROLLBACK');
  });

  it('refuses a fork: another statement at a seq the phone verified (database written directly)', async () => {
    const r = await rig();
    await r.desk.uploadBundle(bundles.b);
    await r.desk.uploadBundle(bundles.c);
    // Two proposals for seq 2; the server keeps both, applies one.
    const applied = await nextStatement(r, release('1.1.0', bundles.b));
    const other = await nextStatement(r, release('1.1.1', bundles.c));
    for (const statement of [applied, other]) {
      await r.desk.call('POST', '/statements', { statement, approvals: [] });
    }
    const approval = await createApproval(applied, bob);
    await r.desk.call('POST', `/statements/${statementId(applied)}/push`, {
      approvals: [approval],
    });
    expect(await r.guard.check()).toEqual({ action: 'installed', version: '1.1.0' });
    const sql = db(r);
    const row = sql
      .prepare("SELECT id FROM channels WHERE app = ? AND name = 'production'")
      .get(APP) as {
      id: number;
    };
    const otherId = statementId(other);
    sql
      .prepare('UPDATE log SET statement = ? WHERE channel_id = ? AND seq = 2')
      .run(otherId, row.id);
    sql.prepare('UPDATE channels SET head = ? WHERE id = ?').run(otherId, row.id);
    sql.close();
    await expectRefused(r, 'CHECKPOINT_FORK');
  });
});

describe('an honest server behind a tampering proxy', () => {
  it('refuses each attack, then installs from the honest answers', async () => {
    const r = await rig();
    const logUrl = `${r.server.url}/api/v1/apps/${APP}/channels/${CHANNEL}/log?after=0&limit=1`;
    const stale: SignedCheckpoint | null = ((await (await fetch(logUrl)).json()) as LogPage).head;
    await r.desk.release(APP, CHANNEL, '1.1.0', bundles.b);

    // A stale checkpoint: an old head replayed after a newer one was stored.
    expect(await r.guard.check()).toEqual({ action: 'installed', version: '1.1.0' });
    r.proxy.tamper = (page) => ({ ...page, head: stale });
    await expectRefused(r, 'CHECKPOINT_ROLLBACK');

    // Another channel's entries in this channel's page.
    await r.desk.release(APP, CHANNEL, '1.2.0', bundles.c);
    await r.desk.release(APP, 'beta', '1.0.1', bundles.a);
    const beta = (await r.desk.log(APP, 'beta')).entries;
    r.proxy.tamper = (page) => ({ ...page, entries: beta });
    await expectRefused(r, 'LOG_INVALID');

    // An oversized page: more entries than asked for.
    r.proxy.tamper = (page) => ({
      ...page,
      entries: Array.from({ length: 600 }, () => page.entries[0]).filter((e) => e !== undefined),
    });
    await expectRefused(r, 'LOG_PAGE_TOO_LARGE');

    // Root N+1 signed by one admin of two.
    r.proxy.tamper = null;
    const current = r.server.store?.currentRoot();
    if (current === undefined) throw new Error('in process');
    const forged: TrustRoot = { ...current, version: current.version + 1, rootThreshold: 2 };
    const signatures = [await signRoot(forged, alice)];
    r.proxy.tamperRoot = (chain) => ({
      ...chain,
      roots: [...chain.roots, { root: forged, signatures }],
    });
    await expectRefused(r, 'ROOT_CHAIN_INVALID');

    // The honest server again.
    r.proxy.tamperRoot = null;
    expect(await r.guard.check()).toEqual({ action: 'installed', version: '1.2.0' });
    expect(r.sim.versionName).toBe('1.2.0');
  });
});
