import { beforeEach, describe, expect, it } from 'vitest';
import { cohortBucket } from '../../../src/core/channel';
import { signCheckpoint } from '../../../src/core/log';
import { bytesToBase64 } from '../../../src/core/crypto';
import { createApproval, signRoot, statementSigningBytes } from '../../../src/core/statement';
import { createGuard, GUARD_LIMITS, type CheckResult, type Guard } from '../../../src/device';
import type { LogPage, RootChain, SignedTrustRoot } from '../../../src/shared/schemas';
import {
  alice,
  APP,
  bob,
  carol,
  CHANNEL,
  dave,
  HostileServer,
  mallory,
  MemoryStorage,
  ORIGIN,
  RecordingUpdater,
} from '../../helpers/device-log';
import { memberOf } from '../core/test-identities';

// One test per row of the checklist of ARCHITECTURE.md §11 (the row id is in each name). A refusal
// is asserted three ways: its code, the plugin not asked to download or install, the stored state
// byte for byte what it was before the check.

const NOW = new Date('2026-12-01T12:00:00Z');
const HOUR = 3_600_000;
const ago = (hours: number): Date => new Date(NOW.getTime() - hours * HOUR);

interface Rig {
  server: HostileServer;
  updater: RecordingUpdater;
  storage: MemoryStorage;
  guard: Guard;
  trust: unknown;
  clock: { now: Date };
}

function rig(server: HostileServer, overrides: { trust?: unknown; maxAge?: number } = {}): Rig {
  const updater = new RecordingUpdater();
  const storage = new MemoryStorage();
  const clock = { now: NOW };
  const trust = 'trust' in overrides ? overrides.trust : server.trustBundle();
  const guard = createGuard({
    server: ORIGIN,
    app: APP,
    channel: CHANNEL,
    trust,
    storage,
    updater,
    fetch: server.fetch,
    now: () => clock.now,
    requestTimeoutMs: 300,
    checkTimeoutMs: 20_000,
    ...(overrides.maxAge === undefined ? {} : { maxCheckpointAgeSeconds: overrides.maxAge }),
  });
  return { server, updater, storage, guard, trust, clock };
}

/** An honest server with 1.0.0 released two hours ago. */
async function honestServer(): Promise<HostileServer> {
  const server = await new HostileServer(NOW).init();
  await server.release('1.0.0', { appliedAt: ago(2) });
  return server;
}

async function expectRefused(r: Rig, code: string): Promise<CheckResult> {
  const before = r.storage.snapshot();
  const installsBefore = r.updater.installs.length;
  const result = await r.guard.check();
  expect(result, JSON.stringify(result)).toMatchObject({ action: 'refused', code });
  expect(r.updater.installs).toHaveLength(installsBefore);
  expect(r.storage.snapshot()).toBe(before);
  return result;
}

function messageOf(result: CheckResult): string {
  return result.action === 'refused' ? result.message : '';
}

async function expectInstalled(r: Rig, version: string): Promise<void> {
  const result = await r.guard.check();
  expect(result, JSON.stringify(result)).toEqual({ action: 'installed', version });
}

/** A device id whose cohort bucket for `statementId` is at or above `percent`. */
function deviceOutside(statementId: string, percent: number): string {
  for (let index = 0; ; index += 1) {
    const id = `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`;
    if (cohortBucket(id, statementId) >= percent * 100) return id;
  }
}

describe('device guard — bootstrap', () => {
  it('B1: a first check from the built-in bundle verifies the whole log and installs its head', async () => {
    const server = await honestServer();
    await server.rollout(50, { appliedAt: ago(1.5) });
    await server.release('1.1.0', { appliedAt: ago(1) });
    const r = rig(server);
    await expectInstalled(r, '1.1.0');
    const download = r.updater.calls.find((call) => call.method === 'download');
    const head = server.headEntry;
    if (head?.statement.kind !== 'release') throw new Error('head is a release');
    expect(download?.args).toEqual({
      url: `${ORIGIN}/bundles/${head.statement.release.bundle.encryptedSha256}`,
      version: '1.1.0',
      sessionKey: head.statement.release.bundle.sessionKey,
      checksum: head.statement.release.bundle.checksum,
    });
    expect(r.updater.calls.at(-1)).toEqual({ method: 'next', args: { id: 'bundle-1.1.0' } });
    expect(r.storage.writes).toBe(1);
    // I1: nothing from /updates; only the root chain, the log and the bundle's size.
    const paths = server.requests.map((request) => new URL(request.split(' ')[1] ?? '').pathname);
    expect(paths.filter((path) => path === '/updates' || path === '/stats')).toEqual([]);
  });

  it('B2: a missing trust bundle is refused before any network call', async () => {
    const server = await honestServer();
    const r = rig(server, { trust: undefined });
    await expectRefused(r, 'TRUST_BUNDLE_INVALID');
    expect(server.requests).toEqual([]);
  });

  it('B2: an unparseable trust bundle is refused before any network call', async () => {
    const server = await honestServer();
    for (const trust of ['{"format":', 42, { ...server.trustBundle(), extra: true }]) {
      const r = rig(server, { trust });
      await expectRefused(r, 'TRUST_BUNDLE_INVALID');
    }
    expect(server.requests).toEqual([]);
  });

  it('B2: a trust bundle whose root lacks its own threshold of signatures is refused', async () => {
    const server = await honestServer();
    const trust = server.trustBundle();
    const first = trust.roots[0] as SignedTrustRoot;
    first.signatures = first.signatures.slice(0, 1); // one of the two admins
    await expectRefused(rig(server, { trust }), 'TRUST_BUNDLE_INVALID');
    expect(server.requests).toEqual([]);
  });

  it('B2: a trust bundle for another app is refused', async () => {
    const server = await honestServer();
    const trust = { ...server.trustBundle(), app: 'com.example.other' };
    await expectRefused(rig(server, { trust }), 'TRUST_BUNDLE_INVALID');
  });

  it('B3: an expired built-in root is moved forward by a valid N+1', async () => {
    const server = await new HostileServer(NOW).init(ago(24));
    await server.release('1.0.0', { appliedAt: ago(48) });
    const trust = server.trustBundle();
    await server.rotate((root) => ({ ...root, expiresAt: '2027-12-01T00:00:00Z' }));
    await server.release('1.1.0', { appliedAt: ago(1) });
    await expectInstalled(rig(server, { trust }), '1.1.0');
  });

  it('B3: without N+1, an expired newest root is refused (TUF 5.3.10)', async () => {
    const server = await new HostileServer(NOW).init(ago(24));
    await server.release('1.0.0', { appliedAt: ago(48) });
    await expectRefused(rig(server), 'ROOT_EXPIRED');
  });
});

describe('device guard — the root chain', () => {
  let server: HostileServer;
  let r: Rig;

  beforeEach(async () => {
    server = await honestServer();
    r = rig(server); // the trust bundle holds version 1 only
  });

  it('R1: a skip from N to N+2 is refused', async () => {
    await server.rotate((root) => root);
    await server.rotate((root) => root);
    server.tamper = (url, body) =>
      url.pathname === '/api/v1/root'
        ? {
            ...(body as RootChain),
            roots: (body as RootChain).roots.filter((s) => s.root.version !== 2),
          }
        : body;
    await expectRefused(r, 'ROOT_CHAIN_INVALID');
  });

  it('R2: N+1 signed by one admin of two is refused', async () => {
    await server.rotate((root) => root, [alice]);
    await expectRefused(r, 'ROOT_CHAIN_INVALID');
  });

  it('R2: N+1 signed by the old admins but not by its own threshold is refused', async () => {
    await server.rotate(
      (root) => ({
        ...root,
        members: [...root.members, memberOf(dave, ['admin'])],
        rootThreshold: 3,
      }),
      [alice, carol],
    );
    await expectRefused(r, 'ROOT_CHAIN_INVALID');
  });

  it('R3: a wrongly signed intermediate root stops the walk, and nothing is stored', async () => {
    const good = await server.rotate((root) => root);
    await server.rotate((root) => root);
    good.signatures = [
      { keyId: alice.keyId, sig: (good.signatures[0] as { sig: string }).sig },
      { keyId: carol.keyId, sig: (good.signatures[0] as { sig: string }).sig }, // alice's under carol's id
    ];
    await expectRefused(r, 'ROOT_CHAIN_INVALID');
  });

  it('R4: a threshold of 0, a fraction, or above the admins makes the root invalid', async () => {
    for (const rootThreshold of [0, 1.5, 3]) {
      const fresh = await honestServer();
      const freshRig = rig(fresh);
      // Such a root cannot even be signed through core (it does not parse); the server sends it anyway.
      const next = { ...fresh.newestRoot, version: 2, rootThreshold };
      fresh.roots.push({ root: next, signatures: (fresh.roots[0] as SignedTrustRoot).signatures });
      await expectRefused(freshRig, 'ROOT_CHAIN_INVALID');
    }
  });

  it('R5: more root steps than one check allows is refused', async () => {
    for (let index = 0; index <= GUARD_LIMITS.rootSteps; index += 1) {
      await server.rotate((root) => root);
    }
    await expectRefused(r, 'ROOT_CHAIN_TOO_LONG');
  });

  it('R5: a root chain of more bytes than allowed is refused', async () => {
    server.tamper = (url, body) =>
      url.pathname === '/api/v1/root'
        ? new Response(' '.repeat(GUARD_LIMITS.rootChainBytes + 1) + JSON.stringify(body), {
            status: 200,
          })
        : body;
    await expectRefused(r, 'ROOT_CHAIN_TOO_LONG');
  });

  it('R6: one admin signing twice, under its own id and another admin id, counts once', async () => {
    const next = await server.rotate((root) => root, [alice]);
    const sig = (next.signatures[0] as { sig: string }).sig;
    next.signatures = [
      { keyId: alice.keyId, sig },
      { keyId: alice.keyId, sig }, // the same signature twice
      { keyId: carol.keyId, sig }, // alice's signature under carol's id
    ];
    await expectRefused(r, 'ROOT_CHAIN_INVALID');
  });

  it('R6: key ids are recomputed: an admin listed under a wrong id does not count', async () => {
    await server.rotate(
      (root) => ({
        ...root,
        members: root.members.map((member) =>
          member.keyId === alice.keyId ? { ...member, keyId: mallory.keyId } : member,
        ),
      }),
      [alice, carol],
    );
    // Alice signed, but version 2 lists her key under mallory's id: 1 of its 2 admins.
    await expectRefused(r, 'ROOT_CHAIN_INVALID');
  });

  it('a root of an already trusted version that differs from it is a fork', async () => {
    server.tamper = async (url, body) => {
      if (url.pathname !== '/api/v1/root') return body;
      const chain = body as RootChain;
      const forged = {
        ...(chain.roots[0] as SignedTrustRoot).root,
        expiresAt: '2030-01-01T00:00:00Z',
      };
      return {
        ...chain,
        roots: [
          {
            root: forged,
            signatures: [await signRoot(forged, alice), await signRoot(forged, carol)],
          },
        ],
      };
    };
    await expectRefused(r, 'ROOT_FORK');
  });

  it('the server naming another checkpoint key is refused', async () => {
    server.tamper = (url, body) =>
      url.pathname === '/api/v1/root'
        ? {
            ...(body as RootChain),
            server: { keyId: mallory.keyId, publicKey: mallory.publicKeyHex },
          }
        : body;
    await expectRefused(r, 'SERVER_KEY_MISMATCH');
  });
});

describe('device guard — the log', () => {
  it('L1: an entry without enough approvals is refused (the server key signed it)', async () => {
    const server = await honestServer();
    await server.release('1.1.0', { approvers: [alice] });
    await expectRefused(rig(server), 'LOG_INVALID');
  });

  it('L1: approvals from a member the root version removed are refused', async () => {
    const server = await honestServer();
    const trust = server.trustBundle();
    await server.rotate((root) => ({
      ...root,
      members: [
        ...root.members.filter((member) => member.keyId !== bob.keyId),
        memberOf(dave, ['signing_officer']),
      ],
    }));
    await server.release('1.1.0', { approvers: [alice, bob] });
    const result = await expectRefused(rig(server, { trust }), 'LOG_INVALID');
    expect(messageOf(result)).toContain('POLICY_NOT_SATISFIED');
  });

  it('L1: an entry that names an older root than the one before it is refused', async () => {
    const server = await honestServer();
    await server.rotate((root) => root);
    await server.rollout(50, { rootVersion: 2 });
    await server.release('1.1.0', { rootVersion: 1 });
    const result = await expectRefused(rig(server), 'LOG_INVALID');
    expect(messageOf(result)).toContain('ROOT_VERSION_INVALID');
  });

  it('L1: the proposer alone does not satisfy a threshold of two', async () => {
    const server = await honestServer();
    const statement = server.releaseStatement('1.1.0');
    const approval = await createApproval(statement, alice);
    await server.apply(statement, { approvals: [approval, approval] });
    await expectRefused(rig(server), 'LOG_INVALID');
  });

  it('L1: a statement applied after it expired is refused', async () => {
    const server = await honestServer();
    const statement = server.releaseStatement('1.1.0', { appliedAt: ago(24 * 8) });
    await server.apply(statement, { appliedAt: ago(1) });
    await expectRefused(rig(server), 'LOG_INVALID');
  });

  it('L1: an entry whose checkpoint was not signed by the server key is refused', async () => {
    const server = await honestServer();
    await server.release('1.1.0', { checkpointSigner: mallory });
    await expectRefused(rig(server), 'LOG_INVALID');
  });

  it('L2: a dropped entry is refused', async () => {
    const server = await honestServer();
    await server.rollout(50);
    await server.release('1.1.0');
    server.entries.splice(1, 1);
    await expectRefused(rig(server), 'LOG_INVALID');
  });

  it('L2: reordered entries are refused', async () => {
    const server = await honestServer();
    await server.rollout(50);
    await server.release('1.1.0');
    server.entries = [server.entries[0], server.entries[2], server.entries[1]].filter(
      (entry) => entry !== undefined,
    );
    await expectRefused(rig(server), 'LOG_INVALID');
  });

  it('L2: a rewritten entry is refused', async () => {
    const server = await honestServer();
    await server.release('1.1.0');
    const entry = server.entries[1];
    if (entry?.statement.kind !== 'release') throw new Error('release');
    entry.statement.release.notes = 'quietly edited';
    await expectRefused(rig(server), 'LOG_INVALID');
  });

  it('L2: a fork (another id at a seq already verified) is refused after the first check', async () => {
    const server = await honestServer();
    await server.release('1.1.0', { appliedAt: ago(1) });
    const r = rig(server);
    await expectInstalled(r, '1.1.0');
    server.entries.pop();
    await server.release('1.2.0', { appliedAt: ago(0.5) }); // seq 2 again, another statement
    await expectRefused(r, 'CHECKPOINT_FORK');
    // Growing past the fork does not help: its prev is not the stored head.
    await server.rollout(20);
    await expectRefused(r, 'LOG_INVALID');
  });

  it('L3: a page of another channel is refused', async () => {
    const server = await honestServer();
    server.tamper = (url, body) =>
      url.pathname.endsWith('/log') ? { ...(body as LogPage), channel: 'beta' } : body;
    await expectRefused(rig(server), 'LOG_SCOPE_MISMATCH');
  });

  it("L3: another channel's entries inside this channel's page are refused", async () => {
    const server = await honestServer();
    // Properly approved and checkpointed, but for channel beta.
    await server.apply({ ...server.releaseStatement('9.0.0'), channel: 'beta' });
    await expectRefused(rig(server), 'LOG_INVALID');
  });

  it('L4: an automatic pause is accepted on the server key alone, and stops installs', async () => {
    const server = await honestServer();
    await server.pause({ automatic: true });
    const r = rig(server);
    const result = await r.guard.check();
    expect(result).toMatchObject({ action: 'up_to_date', reason: 'channel_paused' });
    expect(r.updater.installs).toEqual([]);
  });

  it('L4: an automatic pause with a bad server signature is refused', async () => {
    const server = await honestServer();
    const entry = await server.pause({ automatic: true });
    entry.serverSig = bytesToBase64(await mallory.sign(statementSigningBytes(entry.statement)));
    await expectRefused(rig(server), 'LOG_INVALID');
  });

  it('L4: a release signed by the server key alone is refused (only a pause may be)', async () => {
    const server = await honestServer();
    await server.apply(server.releaseStatement('1.1.0'), { approvals: [], serverSig: true });
    await expectRefused(rig(server), 'LOG_INVALID');
  });

  it('L5: a page with more entries than asked for is refused', async () => {
    const server = await honestServer();
    for (let index = 0; index < 3; index += 1) await server.rollout(10 + index);
    const limit = GUARD_LIMITS.pageEntries;
    // Pad to more than a page: the same entries over and over.
    server.tamper = (url, body) => {
      if (!url.pathname.endsWith('/log')) return body;
      const page = body as LogPage;
      const entries = Array.from(
        { length: limit + 1 },
        (_, index) => page.entries[index % page.entries.length],
      );
      return { ...page, entries };
    };
    await expectRefused(rig(server), 'LOG_PAGE_TOO_LARGE');
  });

  it('L5: a page of more bytes than allowed is refused', async () => {
    const server = await honestServer();
    server.tamper = (url, body) =>
      url.pathname.endsWith('/log')
        ? new Response(JSON.stringify(body) + ' '.repeat(GUARD_LIMITS.pageBytes), { status: 200 })
        : body;
    await expectRefused(rig(server), 'LOG_PAGE_TOO_LARGE');
  });

  it('L5: endless pages ("more" with nothing in them) are refused', async () => {
    const server = await honestServer();
    server.tamper = (url, body) =>
      url.pathname.endsWith('/log') ? { ...(body as LogPage), entries: [], more: true } : body;
    await expectRefused(rig(server), 'LOG_PAGE_TOO_LARGE');
  });

  it('L5: more pages than one check allows are refused', async () => {
    const server = await honestServer();
    for (let index = 0; index < GUARD_LIMITS.pages; index += 1) {
      await server.rollout(1 + (index % 99), { approvers: [alice, bob] });
    }
    // One entry per page: the server says there is always more.
    server.tamper = (url, body) => {
      if (!url.pathname.endsWith('/log')) return body;
      const page = body as LogPage;
      return { ...page, entries: page.entries.slice(0, 1), more: true };
    };
    await expectRefused(rig(server), 'LOG_TOO_LONG');
  }, 60_000);
});

describe('device guard — checkpoints and freshness', () => {
  it('C1: a head checkpoint signed by another key is refused', async () => {
    const server = await honestServer();
    const head = server.headEntry;
    server.head = await signCheckpoint(
      {
        app: APP,
        channel: CHANNEL,
        seq: 1,
        head: head?.id ?? '',
        time: NOW.toISOString(),
        rootVersion: 1,
      },
      mallory,
    );
    await expectRefused(rig(server), 'CHECKPOINT_INVALID');
  });

  it('C1: a head checkpoint naming another seq than the verified head is refused', async () => {
    const server = await honestServer();
    await server.release('1.1.0');
    const first = server.entries[0];
    server.head = await signCheckpoint(
      {
        app: APP,
        channel: CHANNEL,
        seq: 1,
        head: first?.id ?? '',
        time: NOW.toISOString(),
        rootVersion: 1,
      },
      server.server,
    );
    await expectRefused(rig(server), 'CHECKPOINT_INVALID');
  });

  it('C2: a checkpoint older than the stored one is refused', async () => {
    const server = await honestServer();
    const r = rig(server);
    await expectInstalled(r, '1.0.0');
    const head = server.headEntry;
    server.head = await signCheckpoint(
      {
        app: APP,
        channel: CHANNEL,
        seq: 1,
        head: head?.id ?? '',
        time: ago(1).toISOString(),
        rootVersion: 1,
      },
      server.server,
    );
    await expectRefused(r, 'CHECKPOINT_ROLLBACK');
  });

  it('C2: a server that went back to an older head (a dropped rollback) is refused', async () => {
    const server = await honestServer();
    const first = server.headEntry;
    await server.release('1.1.0', { appliedAt: ago(1.5) });
    await server.rollback(first?.id ?? '', { appliedAt: ago(1) });
    const r = rig(server);
    r.updater.bundle = { id: 'bundle-1.1.0', version: '1.1.0' };
    await expectInstalled(r, '1.0.0');
    server.entries.pop(); // the rollback "never happened"
    await expectRefused(r, 'CHECKPOINT_ROLLBACK');
  });

  it('C3: a checkpoint older than the maximum age is refused (freeze)', async () => {
    const server = await honestServer();
    server.now = ago(25);
    await expectRefused(rig(server), 'CHECKPOINT_STALE');
  });

  it('C4: time + maxAge == now is too old; one second less passes', async () => {
    const server = await honestServer();
    server.now = ago(1);
    await expectRefused(rig(server, { maxAge: 3600 }), 'CHECKPOINT_STALE');
    await expectInstalled(rig(server, { maxAge: 3601 }), '1.0.0');
  });
});

describe('device guard — what may be installed', () => {
  it('I1: the plugin gets the verified statement, whatever /updates or the page head say', async () => {
    const server = await honestServer();
    const r = rig(server);
    await expectInstalled(r, '1.0.0');
    const head = server.headEntry;
    if (head?.statement.kind !== 'release') throw new Error('release');
    expect(r.updater.calls.find((c) => c.method === 'download')?.args).toMatchObject({
      sessionKey: head.statement.release.bundle.sessionKey,
      checksum: head.statement.release.bundle.checksum,
    });
  });

  it('I2: a device outside the cohort installs nothing', async () => {
    const server = await honestServer();
    const entry = await server.release('1.1.0', { percent: 10 });
    const r = rig(server);
    r.updater.deviceId = deviceOutside(entry.id, 10);
    r.updater.bundle = { id: 'bundle-1.0.0', version: '1.0.0' };
    expect(await r.guard.check()).toMatchObject({ action: 'up_to_date', version: '1.0.0' });
    expect(r.updater.installs).toEqual([]);
  });

  it('I2: a device below the minimum native version installs nothing', async () => {
    const server = await honestServer();
    await server.release('1.1.0', { minNative: '2.0.0' });
    const r = rig(server);
    expect(await r.guard.check()).toMatchObject({
      action: 'up_to_date',
      reason: 'disable_auto_update_under_native',
    });
    expect(r.updater.installs).toEqual([]);
  });

  it('I2: a paused channel installs nothing', async () => {
    const server = await honestServer();
    await server.pause();
    const r = rig(server);
    expect(await r.guard.check()).toMatchObject({ action: 'up_to_date', reason: 'channel_paused' });
    expect(r.updater.installs).toEqual([]);
  });

  it('I3: never a version at or below the installed one', async () => {
    const server = await honestServer();
    const r = rig(server);
    r.updater.bundle = { id: 'bundle-2.0.0', version: '2.0.0' };
    expect(await r.guard.check()).toMatchObject({ action: 'up_to_date', version: '2.0.0' });
    r.updater.bundle = { id: 'bundle-1.0.0', version: '1.0.0' };
    expect(await r.guard.check()).toMatchObject({ action: 'up_to_date', version: '1.0.0' });
    expect(r.updater.installs).toEqual([]);
  });

  it('I3: …unless the verified head is a rollback to exactly it', async () => {
    const server = await honestServer();
    const first = server.headEntry;
    await server.release('1.1.0', { appliedAt: ago(1.5) });
    const r = rig(server);
    await expectInstalled(r, '1.1.0');
    await server.rollback(first?.id ?? '', { appliedAt: ago(1) });
    await expectInstalled(r, '1.0.0');
  });

  it('I3: a rollback to a statement the channel never released is refused', async () => {
    const server = await honestServer();
    await server.rollback('f'.repeat(64));
    await expectRefused(rig(server), 'ROLLBACK_TARGET_UNKNOWN');
  });

  it('I4: a served bundle of another size than the statement says is refused', async () => {
    const server = await honestServer();
    const head = server.headEntry;
    if (head?.statement.kind !== 'release') throw new Error('release');
    server.bundleSizes.set(head.statement.release.bundle.encryptedSha256, 1_000_000);
    await expectRefused(rig(server), 'BUNDLE_SIZE_MISMATCH');
  });

  it('I5: nothing is stored after a refusal, and the next honest check starts from the stored state', async () => {
    const server = await honestServer();
    const r = rig(server);
    await expectInstalled(r, '1.0.0');
    const stored = r.storage.snapshot();
    await server.release('1.1.0', { approvers: [alice] }); // not enough approvals
    await expectRefused(r, 'LOG_INVALID');
    expect(r.storage.snapshot()).toBe(stored);
    server.entries.pop();
    await server.release('1.1.0', { approvers: [alice, bob] });
    const before = server.requests.length;
    await expectInstalled(r, '1.1.0');
    // Incremental: the log was read after the stored head, not from seq 0.
    expect(server.requests.slice(before).some((request) => request.includes('after=1&'))).toBe(
      true,
    );
  });

  it('I5: a root update between checks is followed, and later entries must use it', async () => {
    const server = await honestServer();
    const r = rig(server);
    await expectInstalled(r, '1.0.0');
    await server.rotate((root) => ({
      ...root,
      members: [...root.members, memberOf(dave, ['signing_officer'])],
    }));
    // Nothing new in the log: the check passes and stores version 2.
    expect(await r.guard.check()).toMatchObject({ action: 'up_to_date', version: '1.0.0' });
    // Labelled under version 1 although version 2 was known at the last check: refused.
    await server.release('1.1.0', { approvers: [alice, bob], rootVersion: 1 });
    const result = await expectRefused(r, 'LOG_INVALID');
    expect(messageOf(result)).toContain('ROOT_VERSION_INVALID');
    server.entries.pop();
    await server.release('1.1.0', { approvers: [alice, dave] });
    await expectInstalled(r, '1.1.0');
  });
});

describe('device guard — transport', () => {
  it('T1: a silent server ends in a refusal, not a hang', async () => {
    const server = await honestServer();
    server.tamper = (_url, _body, init) =>
      new Promise((resolve, reject) => {
        init?.signal?.addEventListener('abort', () =>
          reject(new DOMException('aborted', 'AbortError')),
        );
        void resolve;
      });
    const started = Date.now();
    await expectRefused(rig(server), 'TIMEOUT');
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('T2: a 5xx is a failed check with nothing stored; the next check starts from the stored state', async () => {
    const server = await honestServer();
    const r = rig(server);
    await expectInstalled(r, '1.0.0');
    await server.release('1.1.0');
    server.tamper = () => new Response('oops', { status: 503 });
    await expectRefused(r, 'SERVER_ERROR');
    server.tamper = () => Promise.reject(new TypeError('connection refused'));
    await expectRefused(r, 'NETWORK_ERROR');
    server.tamper = null;
    await expectInstalled(r, '1.1.0');
  });

  it('answers that are not the JSON asked for are refused', async () => {
    const server = await honestServer();
    server.tamper = () => new Response('<html>', { status: 200 });
    await expectRefused(rig(server), 'RESPONSE_INVALID');
  });
});

describe('device guard — stored state', () => {
  it('a corrupted stored state is refused, not silently replaced by the built-in bundle', async () => {
    const server = await honestServer();
    const r = rig(server);
    await r.storage.set(r.guard.storageKey, '{"format":"airlock-device-state/v1"');
    r.storage.writes = 0;
    await expectRefused(r, 'STATE_INVALID');
  });

  it('one check at a time: concurrent calls share one run', async () => {
    const server = await honestServer();
    const r = rig(server);
    const [a, b] = await Promise.all([r.guard.check(), r.guard.check()]);
    expect(a).toEqual(b);
    expect(r.updater.calls.filter((c) => c.method === 'download')).toHaveLength(1);
  });
});
