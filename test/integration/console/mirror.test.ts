import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rsaSignerFromPrivateKey } from '../../../src/core/bundle';
import { formatFingerprint } from '../../../src/core/crypto';
import { signCheckpoint } from '../../../src/core/log';
import { statementId } from '../../../src/core/statement';
import { openStore, type Db } from '../../../src/main/db/connection';
import { MirrorRepo } from '../../../src/main/db/repositories/mirror.repo';
import { createServerClient, type ServerClient } from '../../../src/main/server-client';
import {
  connectServer,
  listFindings,
  syncChannel,
  type ServerRecord,
} from '../../../src/main/services/mirror';
import { loadServerKey } from '../../../src/server/server-key';
import type { ChannelStatus, LogEntry, LogPage, Statement } from '../../../src/shared/schemas';
import { generateTestRsaKey, makeTempDir, type TempDir } from '../../helpers/bundle-fixtures';
import { ReleaseDesk, makeEncryptedBundle, type BundleInfo } from '../../helpers/device-sim';
import { startTestServer, testIdentity, type TestServer } from '../../helpers/server';
import { startTamperProxy, type TamperProxy } from '../../helpers/tamper-proxy';

/**
 * The console's log mirror against a real server, and against that server's log served altered in
 * each way a compromised or broken server could (issue 4): the mirror reports each one and keeps
 * its verified data exactly as it was.
 */

const APP = 'com.example.mirror';
const CHANNEL = 'production';
const alice = testIdentity('mirror proposer'); // TEST-ONLY
const bob = testIdentity('mirror approver'); // TEST-ONLY
const key = generateTestRsaKey(); // TEST-ONLY bundle key

let server: TestServer;
let proxy: TamperProxy;
let dir: TempDir;
let desk: ReleaseDesk;
let bundle: { path: string; info: BundleInfo };
let db: Db;
let client: ServerClient;
let record: ServerRecord;

/** Everything the mirror holds for the channel, to compare before and after an attack. */
function snapshot(): unknown {
  return {
    entries: db.prepare('SELECT seq, statement_id, entry_json FROM log_entries ORDER BY seq').all(),
    head: db.prepare('SELECT seq, head, json FROM checkpoints').all(),
  };
}

async function releaseMore(count: number, from: number): Promise<void> {
  for (let index = 0; index < count; index += 1) {
    await desk.release(APP, CHANNEL, `1.${from + index}.0`, bundle);
  }
}

beforeAll(async () => {
  dir = makeTempDir('airlock-mirror-');
  server = await startTestServer({ admins: [alice, bob] });
  proxy = await startTamperProxy(() => server.url);
  desk = new ReleaseDesk(() => server.url, alice, bob);
  await desk.createApp(APP, key.publicKeyPem, [{ name: CHANNEL }]);
  bundle = await makeEncryptedBundle(dir.path, rsaSignerFromPrivateKey(key.privateKey), 'mirror');
  await releaseMore(3, 0);
  await desk.rollout(APP, CHANNEL, 50);
  db = openStore(join(dir.path, 'console'));
  client = createServerClient({ baseUrl: proxy.url });
}, 60_000);

afterAll(async () => {
  db.close();
  await proxy.close();
  await server.dispose();
  dir.cleanup();
});

describe('the log mirror', () => {
  it('pins the trust root on first contact and shows its fingerprint', async () => {
    const connected = await connectServer(db, client);
    expect(connected.firstContact).toBe(true);
    expect(connected.rootId).toBe(server.rootId);
    expect(connected.fingerprint).toBe(formatFingerprint(server.rootId));
    record = connected.server;
    const again = await connectServer(db, client);
    expect(again.firstContact).toBe(false);
  });

  it('refuses a server whose root is not the pinned one', async () => {
    const other = await startTestServer({ admins: [bob] });
    try {
      const otherDb = openStore(join(dir.path, 'console-other'));
      try {
        await expect(
          connectServer(otherDb, createServerClient({ baseUrl: other.url }), {
            expectRootId: server.rootId,
          }),
        ).rejects.toThrow(/not the pinned/);
      } finally {
        otherDb.close();
      }
    } finally {
      await other.dispose();
    }
  });

  it('verifies and stores the whole log, then only what is new', async () => {
    const progress: number[] = [];
    const first = await syncChannel(db, client, record, APP, CHANNEL, {
      onProgress: (p) => progress.push(p.verified),
    });
    expect(first).toMatchObject({ added: 4, seq: 4, findings: [] });
    expect(progress.at(-1)).toBe(4);
    await releaseMore(2, 3);
    const second = await syncChannel(db, client, record, APP, CHANNEL);
    expect(second).toMatchObject({ added: 2, seq: 6, findings: [] });
    const third = await syncChannel(db, client, record, APP, CHANNEL);
    expect(third).toMatchObject({ added: 0, seq: 6, findings: [] });
  });

  it('keeps the channel state the server computes, by the same fold, and folds an older mirror once', async () => {
    const repo = new MirrorRepo(db);
    const status = (await desk.call('GET', `/apps/${APP}/channels/${CHANNEL}`)) as ChannelStatus;
    const state = repo.state(record.id, APP, CHANNEL);
    expect(state).toMatchObject({
      seq: status.seq,
      head: status.head,
      currentRelease: status.current?.statementId,
      rolloutPercent: status.current?.rolloutPercent,
      paused: status.paused,
      rolledBack: status.rolledBack,
    });
    // A mirror written before migration 0050 has no stored state: it is folded from the entries.
    db.prepare('UPDATE checkpoints SET state_json = NULL').run();
    expect(repo.state(record.id, APP, CHANNEL)).toEqual(state);
    const stored = db.prepare('SELECT state_json FROM checkpoints').get() as { state_json: string };
    expect(JSON.parse(stored.state_json)).toEqual(state);
  });

  it('filters the history in SQL: action, part of a version (wildcards taken literally), proposer', () => {
    const repo = new MirrorRepo(db);
    const all = repo.count(record.id, APP, CHANNEL);
    expect(repo.count(record.id, APP, CHANNEL, { kind: 'rollout' })).toBe(1);
    expect(repo.count(record.id, APP, CHANNEL, { version: '1.' })).toBe(all - 1);
    expect(repo.count(record.id, APP, CHANNEL, { version: '1.%' })).toBe(0);
    expect(repo.count(record.id, APP, CHANNEL, { version: '_' })).toBe(0);
    expect(repo.proposers(record.id, APP, CHANNEL)).toEqual([alice.keyId]);
    expect(repo.count(record.id, APP, CHANNEL, { proposers: [alice.keyId] })).toBe(all);
    expect(repo.count(record.id, APP, CHANNEL, { proposers: [bob.keyId] })).toBe(0);
    expect(repo.count(record.id, APP, CHANNEL, { proposers: [] })).toBe(0);
    const page = repo.page(record.id, APP, CHANNEL, 2, 1, { kind: 'release' });
    expect(page.map((entry) => entry.kind)).toEqual(['release', 'release']);
    expect(page[0]?.seq).toBeGreaterThan(page[1]?.seq ?? Infinity);
  });

  describe('reports a tampered log and keeps its verified data', () => {
    async function expectFinding(
      tamper: (page: LogPage, after: number) => LogPage,
      kind: string,
      opts: { now?: () => Date; maxCheckpointAgeMs?: number } = {},
    ): Promise<void> {
      const before = snapshot();
      proxy.tamper = tamper;
      try {
        const report = await syncChannel(db, client, record, APP, CHANNEL, opts);
        expect(report.findings.map((finding) => finding.kind)).toEqual([kind]);
        expect(listFindings(db, record.id)[0]?.kind).toBe(kind);
      } finally {
        proxy.tamper = null;
      }
      expect(snapshot()).toEqual(before);
    }

    function editEntry(entry: LogEntry, edit: (statement: Statement) => void): LogEntry {
      const copy = structuredClone(entry);
      edit(copy.statement);
      return copy;
    }

    it('a statement the mirror already holds, modified', async () => {
      await expectFinding(
        (page) => ({
          ...page,
          entries: page.entries.map((entry, index) =>
            index === 0
              ? editEntry(entry, (s) => void (s.expiresAt = '2099-01-01T00:00:00Z'))
              : entry,
          ),
        }),
        'modified',
      );
    });

    it('a new statement, modified', async () => {
      await releaseMore(2, 5);
      await expectFinding(
        (page) => ({
          ...page,
          entries: page.entries.map((entry) =>
            entry.seq === 7
              ? editEntry(entry, (s) => void (s.createdAt = '2026-01-01T00:00:00Z'))
              : entry,
          ),
        }),
        'modified',
      );
    });

    it('a dropped entry', async () => {
      await expectFinding(
        (page) => ({ ...page, entries: page.entries.filter((entry) => entry.seq !== 7) }),
        'dropped-or-reordered',
      );
    });

    it('reordered entries', async () => {
      await expectFinding((page) => {
        const entries = [...page.entries];
        const seven = entries.findIndex((entry) => entry.seq === 7);
        const eight = entries.findIndex((entry) => entry.seq === 8);
        [entries[seven], entries[eight]] = [entries[eight] as LogEntry, entries[seven] as LogEntry];
        return { ...page, entries };
      }, 'dropped-or-reordered');
    });

    it('an approval that does not verify', async () => {
      await expectFinding(
        (page) => ({
          ...page,
          entries: page.entries.map((entry) =>
            entry.seq === 7 ? { ...entry, approvals: [] } : entry,
          ),
        }),
        'invalid',
      );
    });

    it('a fork: the server signs another statement for a seq the mirror holds', async () => {
      // The test plays a compromised server that holds the real server key.
      const serverKey = loadServerKey(join(server.dataDir, 'server-key.json'));
      const forked = async (entry: LogEntry): Promise<LogEntry> => {
        const statement = { ...entry.statement, expiresAt: '2099-12-31T00:00:00Z' } as Statement;
        const id = statementId(statement);
        const checkpoint = await signCheckpoint(
          { ...entry.checkpoint.checkpoint, head: id },
          serverKey,
        );
        return { ...entry, statement, id, checkpoint };
      };
      const page = await client.getLogPage(APP, CHANNEL, { after: 5 });
      const own = page.entries[0] as LogEntry;
      const fork = await forked(own);
      await expectFinding(
        (served) => ({
          ...served,
          entries: served.entries.map((entry) => (entry.seq === 6 ? fork : entry)),
        }),
        'fork',
      );
    });

    it('a rollback: the server head behind the mirror', async () => {
      const old = (await client.getLogPage(APP, CHANNEL, { after: 2, limit: 1 })).entries[0];
      await expectFinding(
        (page) => ({
          ...page,
          entries: page.entries.filter((entry) => entry.seq <= 3),
          head: old?.checkpoint ?? null,
          more: false,
        }),
        'rollback',
      );
    });

    it('a freeze: the newest checkpoint older than allowed', async () => {
      // The server vouches for its head at least once a minute: a live server is never "frozen".
      const live = await syncChannel(db, client, record, APP, CHANNEL, {
        maxCheckpointAgeMs: 65_000,
      });
      expect(live.findings).toEqual([]);
      // A server (or a network attacker) replaying that head two minutes later is.
      const { head } = await client.getLogPage(APP, CHANNEL, { after: 0, limit: 1 });
      await expectFinding((page) => ({ ...page, head }), 'freeze', {
        maxCheckpointAgeMs: 65_000,
        now: () => new Date(Date.now() + 120_000),
      });
    });
  });

  it('goes on once the server serves the true log again', async () => {
    const report = await syncChannel(db, client, record, APP, CHANNEL);
    expect(report.findings).toEqual([]);
    expect(report.seq).toBe(8);
  });
});
