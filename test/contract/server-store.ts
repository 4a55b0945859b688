import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  calcKeyId,
  createApproval,
  decodeSignature,
  ed25519Verify,
  rsaSignerFromPrivateKey,
  serverKeyBytes,
  signRoot,
  statementId,
  statementSigningBytes,
  verifyCheckpoint,
  verifyEncryptedBundle,
  verifyLogEntries,
  verifyRootChain,
  type BundleFile,
  type IdentitySigner,
} from '../../src/core';
import {
  ChannelSettingsSchema,
  type Approval,
  type ChannelSettings,
  type LogEntry,
  type SignedTrustRoot,
  type Statement,
  type StatementKind,
  type TrustRoot,
} from '../../src/shared/schemas';
import type {
  DeviceFacingChannel,
  Evidence,
  EvidenceLimits,
  OutcomeReport,
} from '../../src/server/store/device-store';
import type { ApplyInput, NewApp, ServerStore } from '../../src/server/store/types';
import { generateTestRsaKey, makeTempDir, type TempDir } from '../helpers/bundle-fixtures';
import { makeEncryptedBundle, seededDeviceIds, type BundleInfo } from '../helpers/device-sim';
import {
  controlStatement,
  releaseStatement,
  testIdentity,
  type StatementSpec,
  type TestIdentity,
} from '../helpers/server';

/**
 * The ServerStore contract (issue 15 item 4): every invariant and method rule stated in
 * src/server/store/types.ts and src/server/store/device-store.ts, driven through the interface
 * only, with real statements, real Ed25519 approvals and root signatures, and real encrypted
 * bundles. One `describeServerStore(name, make)` line runs it against a backend.
 *
 * What `make` must hand back: a store on a fresh, empty data set whose trust root version 1 was made
 * by the real init path from exactly `CONTRACT_ADMINS` (root threshold 1, default policies), and a
 * `dispose` that closes the store (it may be closed already) and deletes what `make` created.
 *
 * Times: a test clock one hour behind the wall clock, so that statements and approvals are always
 * in the past of what the store signs with its own clock (automatic pauses, head checkpoints).
 */

export interface StoreHarness {
  readonly store: ServerStore;
  /** Closes the store (tolerating one closed already) and deletes its data. */
  dispose(): Promise<void>;
}

// TEST-ONLY identities: the first admins of every store the contract runs on.
const alice = testIdentity('server-store contract alice');
const bob = testIdentity('server-store contract bob');
const carol = testIdentity('server-store contract carol');

/** The admins of trust root version 1 that every `make` must initialise its store with. */
export const CONTRACT_ADMINS: readonly TestIdentity[] = [alice, bob, carol];

const APP = 'com.example.contract';
const OTHER_APP = 'com.example.contract.other';
const PROD = 'production';
const BETA = 'beta';
const HOUR_MS = 60 * 60 * 1000;
const WIDE: EvidenceLimits = { perSource: 1000, devices: 1000 };
const DEFAULT_SETTINGS: ChannelSettings = ChannelSettingsSchema.parse({});
const OTHER_SETTINGS: ChannelSettings = ChannelSettingsSchema.parse({
  allowSelfSet: true,
  public: false,
  autoPause: { failureThreshold: 0.5, minSamples: 10, maxDevicesPerSource: 2 },
});

type Bundle = { path: string; info: BundleInfo };

/** Sorted by key id: the contract states no order for approvals. */
function byKey(approvals: readonly Approval[]): Approval[] {
  return [...approvals].sort((a, b) => (a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : 0));
}

/** A copy of a device view that later changes cannot reach (releasedVersions grows in place). */
function frozen(view: DeviceFacingChannel | null): unknown {
  return view === null ? null : { ...view, releasedVersions: [...view.releasedVersions].sort() };
}

async function* bodyOf(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  await Promise.resolve();
  yield bytes;
}

export function describeServerStore(name: string, make: () => Promise<StoreHarness>): void {
  describe(`ServerStore contract: ${name}`, () => {
    // TEST-ONLY RSA bundle keys: the app's and one of the beta channel's own.
    const appKey = generateTestRsaKey();
    const betaKey = generateTestRsaKey();
    let tmp: TempDir;
    let bundles: Record<'v1' | 'v2' | 'v3', Bundle>;
    /** What the server's own bundle check finds in v1 (what ReleaseControl records). */
    let v1Files: BundleFile[];

    let h: StoreHarness;
    let store: ServerStore;
    let clockBase: number;
    let seconds: number;

    beforeAll(async () => {
      tmp = makeTempDir('airlock-store-contract-');
      const signer = rsaSignerFromPrivateKey(appKey.privateKey);
      const [v1, v2, v3] = await Promise.all(
        ['v1', 'v2', 'v3'].map((label) => makeEncryptedBundle(tmp.path, signer, label)),
      );
      bundles = { v1: v1 as Bundle, v2: v2 as Bundle, v3: v3 as Bundle };
      const { sessionKey, checksum } = bundles.v1.info;
      const verified = await verifyEncryptedBundle(bundles.v1.path, {
        publicKeyPem: appKey.publicKeyPem,
        sessionKey,
        checksum,
      });
      v1Files = verified.fileList;
    });

    afterAll(() => tmp.cleanup());

    beforeEach(async () => {
      h = await make();
      store = h.store;
      clockBase = Math.floor((Date.now() - HOUR_MS) / 1000) * 1000;
      seconds = 0;
    });

    afterEach(async () => {
      await h.dispose();
    });

    // -----------------------------------------------------------------------------------------
    // Drivers: what ReleaseControl does, without its rules (the store applies what it is given)

    /** The test clock: one second later on every call. */
    function tick(): Date {
      seconds += 1;
      return new Date(clockBase + seconds * 1000);
    }

    function createApp(): Promise<void> {
      return store.createApp(
        {
          app: APP,
          bundlePublicKey: appKey.publicKeyPem,
          bundleKeyId: calcKeyId(appKey.publicKeyPem),
          channels: [
            { name: PROD, settings: DEFAULT_SETTINGS },
            {
              name: BETA,
              settings: DEFAULT_SETTINGS,
              bundlePublicKey: betaKey.publicKeyPem,
              bundleKeyId: calcKeyId(betaKey.publicKeyPem),
            },
          ],
        },
        tick(),
      );
    }

    /** The names of APP's channels, sorted (the contract states no order). */
    function channelNames(): string[] {
      return store
        .channels(APP)
        .map((view) => view.channel)
        .sort();
    }

    /** An app without a bundle key, with one channel. */
    function keylessApp(app: string, channel: string, settings = DEFAULT_SETTINGS): NewApp {
      return {
        app,
        bundlePublicKey: null,
        bundleKeyId: null,
        channels: [{ name: channel, settings }],
      };
    }

    function createOtherApp(channel: string): Promise<void> {
      return store.createApp(keylessApp(OTHER_APP, channel), tick());
    }

    /** The shared fields of the statement that takes `channel`'s next position now. */
    function nextSpec(channel: string = PROD): StatementSpec {
      const status = store.channelStatus(APP, channel);
      if (status === null) throw new Error(`There is no channel ${channel}.`);
      return {
        app: APP,
        channel,
        seq: status.seq + 1,
        prev: status.head,
        proposer: alice,
        now: tick(),
      };
    }

    function release(
      version: string,
      bundle: Bundle = bundles.v1,
      options: { channel?: string; percent?: number } = {},
    ): Statement {
      return releaseStatement({
        ...nextSpec(options.channel),
        version,
        bundle: bundle.info,
        ...(options.percent === undefined ? {} : { percent: options.percent }),
      });
    }

    function control(
      kind: Exclude<StatementKind, 'release'>,
      extra: { target?: string; percent?: number } = {},
      channel: string = PROD,
    ): Statement {
      return controlStatement(kind, { ...nextSpec(channel), ...extra });
    }

    function approve(
      statement: Statement,
      approvers: readonly IdentitySigner[],
    ): Promise<Approval[]> {
      return Promise.all(approvers.map((approver) => createApproval(statement, approver)));
    }

    /** Submits `statement` with bob's approval; carol's is made but not stored. */
    async function proposed(
      statement: Statement,
    ): Promise<{ id: string; byBob: Approval; byCarol: Approval }> {
      const id = statementId(statement);
      const [byBob, byCarol] = (await approve(statement, [bob, carol])) as [Approval, Approval];
      await store.submitStatement(id, statement, [byBob], tick());
      return { id, byBob, byCarol };
    }

    /** What a push hands the store: approvals by `approvers`, all new, judged under the current root. */
    async function pushInput(
      statement: Statement,
      approvers: readonly IdentitySigner[] = [bob],
    ): Promise<ApplyInput> {
      const approvals = await approve(statement, approvers);
      return {
        id: statementId(statement),
        statement,
        approvals,
        newApprovals: approvals,
        rootVersion: store.currentRoot().version,
      };
    }

    async function applied(statement: Statement, now: Date = tick()): Promise<LogEntry> {
      const outcome = await store.applyStatement(await pushInput(statement), now);
      if (outcome.result !== 'applied') throw new Error(`Not applied: ${JSON.stringify(outcome)}`);
      return outcome.entry;
    }

    async function allEntries(channel: string = PROD): Promise<LogEntry[]> {
      return (await store.logPage(APP, channel, 0, 1000))?.entries ?? [];
    }

    /** The channel's whole log verifies with core's verifier against the store's root chain. */
    async function expectLogVerifies(channel: string = PROD): Promise<void> {
      const entries = await allEntries(channel);
      const result = verifyLogEntries(entries, {
        roots: await store.rootChain(),
        serverKey: serverKeyBytes(store.serverKey),
        app: APP,
        channel,
        requireRootVersion: true,
        now: new Date(),
      });
      expect(result).toEqual({
        ok: true,
        head: expect.anything() as unknown,
        verified: entries.length,
      });
    }

    /** Everything the interface shows of APP/PROD, the root chain and the given statements. */
    async function observe(ids: readonly string[] = []): Promise<unknown> {
      return {
        status: store.channelStatus(APP, PROD),
        view: frozen(store.channel(APP, PROD)),
        log: await allEntries(PROD),
        chain: await store.rootChain(),
        statements: await Promise.all(ids.map((id) => store.statement(id))),
      };
    }

    /** Trust root version current + 1 with `change` applied, signed by alice (threshold 1). */
    async function nextRoot(
      change: Partial<TrustRoot> = {},
      version?: number,
    ): Promise<SignedTrustRoot> {
      const current = store.currentRoot();
      const root: TrustRoot = { ...current, ...change, version: version ?? current.version + 1 };
      return { root, signatures: [await signRoot(root, alice)] };
    }

    // -----------------------------------------------------------------------------------------

    describe('a fresh store', () => {
      it('holds trust root version 1 of the contract admins and nothing else', async () => {
        const chain = await store.rootChain();
        expect(chain.map((signed) => signed.root.version)).toEqual([1]);
        expect(chain[0]?.root.members.map((member) => member.keyId)).toEqual(
          CONTRACT_ADMINS.map((admin) => admin.keyId),
        );
        expect(store.currentRoot()).toEqual(chain[0]?.root);
        expect(await store.listApps()).toEqual([]);
        expect(store.appExists(APP)).toBe(false);
        expect(store.defaultChannel(APP)).toBeNull();
        expect(store.channels(APP)).toEqual([]);
        expect(store.channel(APP, PROD)).toBeNull();
        expect(store.channelStatus(APP, PROD)).toBeNull();
        expect(store.bundlePublicKey(APP, PROD)).toBeNull();
        expect(await store.logPage(APP, PROD, 0, 10)).toBeNull();
        expect(await store.evidence(APP, PROD)).toBeNull();
      });

      it('has a server key whose key id is its public key’s', () => {
        expect(() => serverKeyBytes(store.serverKey)).not.toThrow();
      });
    });

    describe('trust root: #rootChain, #currentRoot, #appendRoot', () => {
      it('appends version current + 1 and keeps the whole chain, version 1 first, as signed', async () => {
        const v2 = await nextRoot({ members: [...store.currentRoot().members].slice(0, 2) });
        await store.appendRoot(v2, tick());
        expect(store.currentRoot()).toEqual(v2.root);
        const v3 = await nextRoot({
          rootThreshold: 1,
          policies: store.currentRoot().policies.slice(1),
        });
        await store.appendRoot(v3, tick());
        const chain = await store.rootChain();
        expect(chain.map((signed) => signed.root.version)).toEqual([1, 2, 3]);
        expect(chain.slice(1)).toEqual([v2, v3]);
        expect(store.currentRoot()).toEqual(v3.root);
        expect(verifyRootChain(chain)).toMatchObject({ ok: true, root: v3.root });
      });

      it('refuses (STALE) any version but current + 1 and leaves the chain as it was', async () => {
        const before = await store.rootChain();
        for (const version of [1, 3]) {
          const signed = await nextRoot({}, version);
          await expect(store.appendRoot(signed, tick())).rejects.toThrowWithCode('STALE');
        }
        expect(await store.rootChain()).toEqual(before);
        expect(store.currentRoot()).toEqual(before[0]?.root);
        const v2 = await nextRoot();
        await store.appendRoot(v2, tick());
        await expect(store.appendRoot(await nextRoot({}, 2), tick())).rejects.toThrowWithCode(
          'STALE',
        );
        expect((await store.rootChain()).slice(1)).toEqual([v2]);
        expect(store.currentRoot()).toEqual(v2.root);
      });
    });

    describe('#useNonce', () => {
      const t = new Date('2026-05-01T12:00:00Z');
      const nowS = t.getTime() / 1000;

      it('accepts a nonce once and refuses its replay', async () => {
        expect(await store.useNonce(alice.keyId, 'nonce-1', nowS + 300, t)).toBe(true);
        expect(await store.useNonce(alice.keyId, 'nonce-1', nowS + 300, t)).toBe(false);
      });

      it('keeps nonces apart per key and per nonce', async () => {
        expect(await store.useNonce(alice.keyId, 'shared', nowS + 300, t)).toBe(true);
        expect(await store.useNonce(bob.keyId, 'shared', nowS + 300, t)).toBe(true);
        expect(await store.useNonce(alice.keyId, 'other', nowS + 300, t)).toBe(true);
        expect(await store.useNonce(bob.keyId, 'shared', nowS + 300, t)).toBe(false);
      });

      it('refuses a replay until the nonce expires, whatever expiry the replay names', async () => {
        expect(await store.useNonce(alice.keyId, 'n', nowS + 300, t)).toBe(true);
        const late = new Date(t.getTime() + 299_000);
        expect(await store.useNonce(alice.keyId, 'n', nowS + 900, late)).toBe(false);
        expect(await store.useNonce(alice.keyId, 'n', nowS + 1, late)).toBe(false);
      });

      it('keeps an unexpired nonce while many others are recorded and expire', async () => {
        expect(await store.useNonce(alice.keyId, 'long', nowS + 3600, t)).toBe(true);
        // Requests every 10 s, each nonce kept for 5 s: whatever sweeps the expired ones runs.
        for (let i = 1; i <= 200; i += 1) {
          const now = new Date(t.getTime() + i * 10_000);
          expect(await store.useNonce(bob.keyId, `short-${i}`, nowS + i * 10 + 5, now)).toBe(true);
        }
        const later = new Date(t.getTime() + 3000_000);
        expect(await store.useNonce(alice.keyId, 'long', nowS + 3600, later)).toBe(false);
      });
    });

    describe('apps and channels', () => {
      it('#createApp makes the app and its channels, the first the default, each with an empty log', async () => {
        await createApp();
        expect(store.appExists(APP)).toBe(true);
        expect(store.defaultChannel(APP)).toBe(PROD);
        expect(channelNames()).toEqual([BETA, PROD]);
        for (const channel of [PROD, BETA]) {
          expect(store.channel(APP, channel)).toEqual({
            app: APP,
            channel,
            numericId: expect.any(Number) as unknown,
            settings: DEFAULT_SETTINGS,
            current: null,
            paused: false,
            rolledBack: false,
            releasedVersions: new Set(),
            highestVersion: null,
            countingSince: 0,
          });
          expect(store.channelStatus(APP, channel)).toEqual({
            app: APP,
            channel,
            settings: DEFAULT_SETTINGS,
            seq: 0,
            head: null,
            current: null,
            paused: false,
            rolledBack: false,
          });
        }
        expect(store.channel(APP, 'staging')).toBeNull();
        expect(store.appExists(OTHER_APP)).toBe(false);
      });

      // The code is what the admin routes answer 409 with; types.ts itself names none.
      it('#createApp refuses an app that exists (ALREADY_EXISTS) and keeps the first one', async () => {
        await createApp();
        const before = await store.listApps();
        await expect(
          store.createApp(keylessApp(APP, 'other', OTHER_SETTINGS), tick()),
        ).rejects.toThrowWithCode('ALREADY_EXISTS');
        expect(await store.listApps()).toEqual(before);
        expect(store.channel(APP, 'other')).toBeNull();
        expect(store.bundlePublicKey(APP, PROD)).toBe(appKey.publicKeyPem);
      });

      it('#createChannel adds a channel with an empty log; the default stays the first', async () => {
        await createApp();
        await store.createChannel(APP, { name: 'staging', settings: OTHER_SETTINGS }, tick());
        expect(store.defaultChannel(APP)).toBe(PROD);
        expect(channelNames()).toEqual([BETA, PROD, 'staging']);
        expect(store.channelStatus(APP, 'staging')).toMatchObject({
          settings: OTHER_SETTINGS,
          seq: 0,
          head: null,
          current: null,
        });
        expect(store.channel(APP, 'staging')?.settings).toEqual(OTHER_SETTINGS);
      });

      // The codes are what the admin routes answer 409 and 404 with; types.ts itself names none.
      it('#createChannel refuses a channel that exists (ALREADY_EXISTS) and an unknown app (NOT_FOUND)', async () => {
        await createApp();
        await expect(
          store.createChannel(APP, { name: PROD, settings: OTHER_SETTINGS }, tick()),
        ).rejects.toThrowWithCode('ALREADY_EXISTS');
        expect(store.channel(APP, PROD)?.settings).toEqual(DEFAULT_SETTINGS);
        await expect(
          store.createChannel(OTHER_APP, { name: PROD, settings: DEFAULT_SETTINGS }, tick()),
        ).rejects.toThrowWithCode('NOT_FOUND');
        expect(store.appExists(OTHER_APP)).toBe(false);
        expect(store.channel(OTHER_APP, PROD)).toBeNull();
      });

      it('#listApps lists every app with its bundle key id, default channel and channels', async () => {
        await createApp();
        await createOtherApp(BETA);
        await store.createChannel(OTHER_APP, { name: PROD, settings: DEFAULT_SETTINGS }, tick());
        const apps = [...(await store.listApps())].sort((a, b) => (a.app < b.app ? -1 : 1));
        expect(apps.map((app) => ({ ...app, channels: [...app.channels].sort() }))).toEqual([
          {
            app: APP,
            bundleKeyId: calcKeyId(appKey.publicKeyPem),
            defaultChannel: PROD,
            channels: [BETA, PROD],
          },
          { app: OTHER_APP, bundleKeyId: null, defaultChannel: BETA, channels: [BETA, PROD] },
        ]);
      });

      it('#bundlePublicKey is the channel’s own key, else the app’s, else null', async () => {
        await createApp();
        await createOtherApp(PROD);
        await store.createChannel(
          OTHER_APP,
          {
            name: BETA,
            settings: DEFAULT_SETTINGS,
            bundlePublicKey: betaKey.publicKeyPem,
            bundleKeyId: calcKeyId(betaKey.publicKeyPem),
          },
          tick(),
        );
        await store.createChannel(APP, { name: 'staging', settings: DEFAULT_SETTINGS }, tick());
        expect(store.bundlePublicKey(APP, PROD)).toBe(appKey.publicKeyPem);
        expect(store.bundlePublicKey(APP, 'staging')).toBe(appKey.publicKeyPem);
        expect(store.bundlePublicKey(APP, BETA)).toBe(betaKey.publicKeyPem);
        expect(store.bundlePublicKey(OTHER_APP, BETA)).toBe(betaKey.publicKeyPem);
        expect(store.bundlePublicKey(OTHER_APP, PROD)).toBeNull();
      });

      it('#updateChannelSettings changes the settings of the status and the device view, nothing else', async () => {
        await createApp();
        await applied(release('1.0.0'));
        const status = store.channelStatus(APP, PROD);
        const view = frozen(store.channel(APP, PROD)) as Record<string, unknown>;
        await store.updateChannelSettings(APP, PROD, OTHER_SETTINGS);
        expect(store.channelStatus(APP, PROD)).toEqual({ ...status, settings: OTHER_SETTINGS });
        expect(frozen(store.channel(APP, PROD))).toEqual({ ...view, settings: OTHER_SETTINGS });
        expect(store.channel(APP, BETA)?.settings).toEqual(DEFAULT_SETTINGS);
      });

      it('#updateChannelSettings refuses an unknown channel', async () => {
        await createApp();
        await expect(store.updateChannelSettings(APP, 'staging', OTHER_SETTINGS)).rejects.toThrow();
        await expect(
          store.updateChannelSettings(OTHER_APP, PROD, OTHER_SETTINGS),
        ).rejects.toThrow();
        expect(store.channel(APP, 'staging')).toBeNull();
      });

      it('gives each channel a small numeric id of its own that changes keep', async () => {
        await createApp();
        const ids = (): number[] =>
          [PROD, BETA].map((channel) => store.channel(APP, channel)?.numericId as number);
        const first = ids();
        expect(first.every((id) => Number.isSafeInteger(id) && id >= 0)).toBe(true);
        expect(new Set(first).size).toBe(2);
        await applied(release('1.0.0'));
        await store.updateChannelSettings(APP, PROD, OTHER_SETTINGS);
        expect(ids()).toEqual(first);
      });
    });

    describe('statements', () => {
      it('#submitStatement stores a pending statement once: created true, then false', async () => {
        await createApp();
        const statement = release('1.0.0');
        const id = statementId(statement);
        const approvals = await approve(statement, [bob]);
        expect(await store.submitStatement(id, statement, approvals, tick())).toEqual({
          created: true,
        });
        expect(await store.submitStatement(id, statement, approvals, tick())).toEqual({
          created: false,
        });
        expect(await store.statementsAt(APP, PROD, 1, 10)).toHaveLength(1);
      });

      it('#statement returns a pending statement with its approvals and submission time; null when unknown', async () => {
        await createApp();
        const statement = release('1.0.0');
        const id = statementId(statement);
        const approvals = await approve(statement, [bob, carol]);
        const submittedAt = tick();
        await store.submitStatement(id, statement, approvals, submittedAt);
        const stored = await store.statement(id);
        expect(stored).toMatchObject({ id, statement, applied: null });
        expect(byKey(stored?.approvals ?? [])).toEqual(byKey(approvals));
        expect(Date.parse(stored?.submittedAt ?? '')).toBe(submittedAt.getTime());
        expect(await store.statement('0'.repeat(64))).toBeNull();
      });

      it('#addApprovals adds one approval per key; a repeat is a no-op', async () => {
        await createApp();
        const { id, byBob, byCarol } = await proposed(release('1.0.0'));
        await store.addApprovals(id, [byBob, byCarol, byCarol], tick());
        expect(byKey((await store.statement(id))?.approvals ?? [])).toEqual(
          byKey([byBob, byCarol]),
        );
        // Another signature by a key that approved already (a forgery: Ed25519 is deterministic).
        const forged = { ...byBob, sig: byCarol.sig };
        await store.addApprovals(id, [forged], tick());
        const keys = (await store.statement(id))?.approvals.map((approval) => approval.keyId) ?? [];
        expect(keys.sort()).toEqual([bob.keyId, carol.keyId].sort());
      });

      it('#statementsAt lists the unapplied statements of app/channel at seq, oldest first, at most limit', async () => {
        await createApp();
        // Three proposals for seq 1, submitted against the order of their ids.
        const candidates = ['1.0.0', '1.0.1', '1.0.2'].map((version) => release(version));
        const ids = candidates.map(statementId);
        const order = [...candidates].sort((a, b) => (statementId(a) > statementId(b) ? -1 : 1));
        for (const statement of order) {
          await store.submitStatement(
            statementId(statement),
            statement,
            await approve(statement, [bob]),
            tick(),
          );
        }
        const expected = order.map(statementId);
        // Elsewhere: another channel, another app, another seq.
        const beta = release('1.0.0', bundles.v1, { channel: BETA });
        await store.submitStatement(statementId(beta), beta, [], tick());
        await createOtherApp(PROD);
        const elsewhere = releaseStatement({
          ...nextSpec(),
          app: OTHER_APP,
          version: '1.0.0',
          bundle: bundles.v1.info,
        });
        await store.submitStatement(statementId(elsewhere), elsewhere, [], tick());
        const second = releaseStatement({
          ...nextSpec(),
          seq: 2,
          prev: ids[0] as string,
          version: '2.0.0',
          bundle: bundles.v2.info,
        });
        await store.submitStatement(statementId(second), second, [], tick());

        const listed = await store.statementsAt(APP, PROD, 1, 10);
        expect(listed.map((stored) => stored.id)).toEqual(expected);
        expect(
          listed.every((stored) => stored.applied === null && stored.approvals.length === 1),
        ).toBe(true);
        expect(listed[0]?.statement).toEqual(order[0]);
        expect((await store.statementsAt(APP, PROD, 1, 2)).map((stored) => stored.id)).toEqual(
          expected.slice(0, 2),
        );
        expect((await store.statementsAt(APP, PROD, 2, 10)).map((stored) => stored.id)).toEqual([
          statementId(second),
        ]);
        expect((await store.statementsAt(APP, BETA, 1, 10)).map((stored) => stored.id)).toEqual([
          statementId(beta),
        ]);
        expect(await store.statementsAt(APP, PROD, 3, 10)).toEqual([]);

        await applied(order[1] as Statement);
        expect((await store.statementsAt(APP, PROD, 1, 10)).map((stored) => stored.id)).toEqual([
          expected[0],
          expected[2],
        ]);
      });

      it('#isAppliedRelease is true only for a release applied on that channel', async () => {
        await createApp();
        const first = release('1.0.0');
        await applied(first);
        const pause = control('pause');
        await applied(pause);
        const pending = release('2.0.0', bundles.v2);
        await store.submitStatement(statementId(pending), pending, [], tick());
        const beta = release('1.0.0', bundles.v1, { channel: BETA });
        await applied(beta);
        expect(await store.isAppliedRelease(APP, PROD, statementId(first))).toBe(true);
        expect(await store.isAppliedRelease(APP, BETA, statementId(first))).toBe(false);
        expect(await store.isAppliedRelease(APP, BETA, statementId(beta))).toBe(true);
        expect(await store.isAppliedRelease(APP, PROD, statementId(pause))).toBe(false);
        expect(await store.isAppliedRelease(APP, PROD, statementId(pending))).toBe(false);
        expect(await store.isAppliedRelease(APP, PROD, '0'.repeat(64))).toBe(false);
      });
    });

    describe('#applyStatement', () => {
      it('shows an applied statement with the approvals recorded with its log entry', async () => {
        await createApp();
        const statement = release('1.0.0');
        const id = statementId(statement);
        const [byBob, byCarol] = (await approve(statement, [bob, carol])) as [Approval, Approval];
        await store.submitStatement(id, statement, [byBob, byCarol], tick());
        await store.applyStatement(
          { id, statement, approvals: [byBob], newApprovals: [], rootVersion: 1 },
          tick(),
        );
        const stored = await store.statement(id);
        expect(stored?.applied?.approvals).toEqual([byBob]);
        // types.ts: "Approvals gathered so far (pending), or recorded with the log entry (applied)".
        expect(stored?.approvals).toEqual(stored?.applied?.approvals);
      });

      it('applies a statement together: log entry, approvals, checkpoint, channel head, device view', async () => {
        await createApp();
        const statement = release('1.0.0', bundles.v1, { percent: 30 });
        const { id, byBob, byCarol } = await proposed(statement);
        const now = tick();
        const outcome = await store.applyStatement(
          {
            id,
            statement,
            approvals: [byBob, byCarol],
            newApprovals: [byCarol],
            rootVersion: 1,
          },
          now,
        );
        expect(outcome.result).toBe('applied');
        const entry = (outcome as { entry: LogEntry }).entry;
        expect(entry).toMatchObject({ seq: 1, id, statement, rootVersion: 1 });
        expect(byKey(entry.approvals)).toEqual(byKey([byBob, byCarol]));
        expect(Date.parse(entry.appliedAt)).toBe(now.getTime());
        // The checkpoint: the server key's, naming exactly this position, time and root version.
        expect(entry.checkpoint.keyId).toBe(store.serverKey.keyId);
        expect(verifyCheckpoint(entry.checkpoint, serverKeyBytes(store.serverKey))).toBe(true);
        expect(entry.checkpoint.checkpoint).toMatchObject({
          app: APP,
          channel: PROD,
          seq: 1,
          head: id,
          rootVersion: 1,
        });
        expect(Date.parse(entry.checkpoint.checkpoint.time)).toBe(now.getTime());
        // The same entry everywhere, and the new approval kept with the statement.
        expect(await allEntries()).toEqual([entry]);
        const stored = await store.statement(id);
        expect(stored?.applied).toEqual(entry);
        expect(byKey(stored?.approvals ?? [])).toEqual(byKey([byBob, byCarol]));
        // The channel head and what devices get.
        expect(store.channelStatus(APP, PROD)).toEqual({
          app: APP,
          channel: PROD,
          settings: DEFAULT_SETTINGS,
          seq: 1,
          head: id,
          current: {
            statementId: id,
            version: '1.0.0',
            minNativeVersion: '1.0.0',
            rolloutPercent: 30,
            encryptedSha256: bundles.v1.info.encryptedSha256,
          },
          paused: false,
          rolledBack: false,
        });
        expect(store.channel(APP, PROD)).toMatchObject({
          current: {
            statementId: id,
            version: '1.0.0',
            minNativeVersion: '1.0.0',
            rolloutPercent: 30,
            bundle: bundles.v1.info,
          },
          paused: false,
          rolledBack: false,
          highestVersion: '1.0.0',
          countingSince: 1,
        });
        expect([...(store.channel(APP, PROD)?.releasedVersions ?? [])]).toEqual(['1.0.0']);
        // The other channel is untouched.
        expect(store.channelStatus(APP, BETA)).toMatchObject({ seq: 0, head: null, current: null });
        await expectLogVerifies();
      });

      it('folds each kind into the device view and the channel status (DeviceFacingChannel rules)', async () => {
        await createApp();
        const view = (): DeviceFacingChannel => store.channel(APP, PROD) as DeviceFacingChannel;
        const expectView = (fields: Partial<Record<keyof DeviceFacingChannel, unknown>>): void => {
          const { releasedVersions, ...rest } = fields;
          expect(view()).toMatchObject(rest);
          if (releasedVersions !== undefined) {
            expect([...view().releasedVersions].sort()).toEqual(releasedVersions);
          }
          const status = store.channelStatus(APP, PROD);
          const current = view().current;
          expect(status).toMatchObject({
            paused: view().paused,
            rolledBack: view().rolledBack,
            current:
              current === null
                ? null
                : {
                    statementId: current.statementId,
                    version: current.version,
                    rolloutPercent: current.rolloutPercent,
                    encryptedSha256: current.bundle.encryptedSha256,
                  },
          });
        };
        const first = await applied(release('9.0.0', bundles.v1, { percent: 30 }));
        const releaseOf = (entry: LogEntry, bundle: Bundle, rolloutPercent: number): unknown => ({
          statementId: entry.id,
          version: entry.statement.kind === 'release' ? entry.statement.release.version : '',
          minNativeVersion: '1.0.0',
          rolloutPercent,
          bundle: bundle.info,
        });
        expectView({
          current: releaseOf(first, bundles.v1, 30),
          paused: false,
          rolledBack: false,
          releasedVersions: ['9.0.0'],
          highestVersion: '9.0.0',
          countingSince: 1,
        });
        await applied(control('rollout', { percent: 60 }));
        expectView({ current: releaseOf(first, bundles.v1, 60), countingSince: 1 });
        await applied(control('pause'));
        expectView({ current: releaseOf(first, bundles.v1, 60), paused: true, countingSince: 1 });
        await applied(control('resume'));
        expectView({ paused: false, countingSince: 4 });
        const second = await applied(release('10.0.0', bundles.v2));
        expectView({
          current: releaseOf(second, bundles.v2, 100),
          rolledBack: false,
          releasedVersions: ['10.0.0', '9.0.0'],
          highestVersion: '10.0.0', // semver, not string order
          countingSince: 5,
        });
        // A rollback serves the target to every device; the highest version stays.
        await applied(control('rollback', { target: first.id }));
        expectView({
          current: releaseOf(first, bundles.v1, 100),
          rolledBack: true,
          paused: false,
          highestVersion: '10.0.0',
          countingSince: 6,
        });
        const third = await applied(release('11.0.0', bundles.v3, { percent: 5 }));
        expectView({
          current: releaseOf(third, bundles.v3, 5),
          rolledBack: false,
          releasedVersions: ['10.0.0', '11.0.0', '9.0.0'],
          highestVersion: '11.0.0',
          countingSince: 7,
        });
        expect(store.channelStatus(APP, PROD)).toMatchObject({ seq: 7, head: third.id });
        expect((await allEntries()).map((entry) => entry.statement.kind)).toEqual([
          'release',
          'rollout',
          'pause',
          'resume',
          'release',
          'rollback',
          'release',
        ]);
        await expectLogVerifies();
      });

      it('refuses a second statement for a taken seq (seq_conflict, with the head) and changes nothing', async () => {
        await createApp();
        const first = await applied(release('1.0.0'));
        const rival = releaseStatement({
          ...nextSpec(),
          seq: 1,
          prev: null,
          version: '1.0.1',
          bundle: bundles.v2.info,
        });
        const rivalId = statementId(rival);
        await store.submitStatement(rivalId, rival, await approve(rival, [bob]), tick());
        const before = await observe([rivalId]);
        const input = await pushInput(rival, [bob, carol]);
        expect(await store.applyStatement(input, tick())).toEqual({
          result: 'seq_conflict',
          head: { seq: 1, id: first.id, checkpoint: first.checkpoint },
        });
        expect(await observe([rivalId])).toEqual(before);
        expect(store.servable(bundles.v2.info.encryptedSha256)).toBe(false);
      });

      it('re-checks prev and seq: the next seq on another head, or a skipped seq, is a seq_conflict', async () => {
        await createApp();
        const empty = releaseStatement({
          ...nextSpec(),
          seq: 2,
          prev: 'e'.repeat(64),
          version: '0.9.0',
          bundle: bundles.v1.info,
        });
        expect(await store.applyStatement(await pushInput(empty), tick())).toEqual({
          result: 'seq_conflict',
          head: { seq: 0, id: null, checkpoint: null },
        });
        const first = await applied(release('1.0.0'));
        const head = { seq: 1, id: first.id, checkpoint: first.checkpoint };
        const before = await observe();
        const forks = [
          controlStatement('pause', { ...nextSpec(), prev: 'f'.repeat(64) }),
          controlStatement('pause', { ...nextSpec(), seq: 3 }),
        ];
        for (const statement of forks) {
          expect(await store.applyStatement(await pushInput(statement), tick())).toEqual({
            result: 'seq_conflict',
            head,
          });
        }
        expect(await observe(forks.map(statementId))).toEqual({
          ...(before as object),
          statements: [null, null],
        });
      });

      it('lets exactly one of two statements racing for one seq apply', async () => {
        await createApp();
        const a = release('1.0.0');
        const b = releaseStatement({ ...nextSpec(), version: '1.0.1', bundle: bundles.v2.info });
        const inputs = [await pushInput(a), await pushInput(b)];
        const now = tick();
        const outcomes = await Promise.all(inputs.map((input) => store.applyStatement(input, now)));
        const results = outcomes.map((outcome) => outcome.result).sort();
        expect(results).toEqual(['applied', 'seq_conflict']);
        const winner = outcomes.find((outcome) => outcome.result === 'applied') as {
          entry: LogEntry;
        };
        const loser = outcomes.find((outcome) => outcome.result === 'seq_conflict') as {
          head: { id: string };
        };
        expect(loser.head.id).toBe(winner.entry.id);
        expect(await allEntries()).toEqual([winner.entry]);
      });

      it('refuses (root_changed) approvals judged under a root that is no longer the current one, and changes nothing', async () => {
        await createApp();
        const statement = release('1.0.0');
        const judged = await pushInput(statement);
        expect(judged.rootVersion).toBe(1);
        await store.appendRoot(await nextRoot(), tick());
        const before = await observe([judged.id]);
        expect(await store.applyStatement(judged, tick())).toEqual({
          result: 'root_changed',
          current: 2,
        });
        expect(await store.applyStatement({ ...judged, rootVersion: 3 }, tick())).toEqual({
          result: 'root_changed',
          current: 2,
        });
        expect(await observe([judged.id])).toEqual(before);
        const entry = await applied(statement);
        expect(entry.rootVersion).toBe(2);
        expect(entry.checkpoint.checkpoint.rootVersion).toBe(2);
        await expectLogVerifies();
      });

      it('answers already_applied with the stored entry for a statement applied before, and adds nothing', async () => {
        await createApp();
        const statement = release('1.0.0');
        const input = await pushInput(statement);
        const first = await store.applyStatement(input, tick());
        expect(first.result).toBe('applied');
        const entry = (first as { entry: LogEntry }).entry;
        expect(await store.applyStatement(input, tick())).toEqual({
          result: 'already_applied',
          entry,
        });
        await applied(control('pause'));
        const before = await observe([input.id]);
        expect(await store.applyStatement(input, tick())).toEqual({
          result: 'already_applied',
          entry,
        });
        expect(await observe([input.id])).toEqual(before);
      });

      it('keeps the note off the log', async () => {
        await createApp();
        const note = 'contract: this note is not part of the log';
        await store.applyStatement({ ...(await pushInput(release('1.0.0'))), note }, tick());
        const page = await store.logPage(APP, PROD, 0, 10);
        expect(page?.entries).toHaveLength(1);
        expect(page?.entries[0]).not.toHaveProperty('note');
        expect(JSON.stringify(page)).not.toContain(note);
      });

      it('replaces the device view instead of changing the one read before', async () => {
        await createApp();
        const before = store.channel(APP, PROD) as DeviceFacingChannel;
        await applied(release('1.0.0'));
        expect(before).toMatchObject({ current: null, highestVersion: null, countingSince: 0 });
        expect(store.channel(APP, PROD)).not.toBe(before);
        expect(store.channel(APP, PROD)?.current?.version).toBe('1.0.0');
      });
    });

    describe('#logPage', () => {
      it('is null for an unknown channel, and empty with no head before the first entry', async () => {
        await createApp();
        expect(await store.logPage(APP, 'staging', 0, 10)).toBeNull();
        expect(await store.logPage(OTHER_APP, PROD, 0, 10)).toBeNull();
        expect(await store.logPage(APP, PROD, 0, 10)).toEqual({
          app: APP,
          channel: PROD,
          entries: [],
          head: null,
          more: false,
        });
      });

      it('pages with after/limit, says whether more follow, and names the latest signed head', async () => {
        await createApp();
        await applied(release('1.0.0'));
        for (const percent of [10, 20, 30, 40]) await applied(control('rollout', { percent }));
        const all = await allEntries();
        expect(all.map((entry) => entry.seq)).toEqual([1, 2, 3, 4, 5]);
        const last = all[4] as LogEntry;
        const pages: [number, number, number[], boolean][] = [
          [0, 2, [1, 2], true],
          [2, 2, [3, 4], true],
          [3, 2, [4, 5], false],
          [4, 2, [5], false],
          [0, 5, [1, 2, 3, 4, 5], false],
          [5, 10, [], false],
          [9, 10, [], false],
        ];
        for (const [after, limit, seqs, more] of pages) {
          const page = await store.logPage(APP, PROD, after, limit);
          expect(page).toMatchObject({ app: APP, channel: PROD, more });
          expect(page?.entries).toEqual(all.filter((entry) => seqs.includes(entry.seq)));
          const head = page?.head;
          expect(head?.checkpoint).toMatchObject({
            app: APP,
            channel: PROD,
            seq: 5,
            head: last.id,
          });
          expect(head?.keyId).toBe(store.serverKey.keyId);
          expect(
            head !== undefined &&
              head !== null &&
              verifyCheckpoint(head, serverKeyBytes(store.serverKey)),
          ).toBe(true);
        }
        const beta = await store.logPage(APP, BETA, 0, 10);
        expect(beta).toMatchObject({ entries: [], head: null, more: false });
      });
    });

    describe('bundles', () => {
      it('#markBundleChecked records the check and its file list (#bundleChecked, #checkedFileList)', async () => {
        const sha = bundles.v1.info.encryptedSha256;
        expect(store.bundleChecked(sha)).toBe(false);
        expect(await store.checkedFileList(sha)).toBeNull();
        await store.markBundleChecked(sha, tick(), v1Files);
        expect(store.bundleChecked(sha)).toBe(true);
        expect(await store.checkedFileList(sha)).toEqual(v1Files);
        expect(store.bundleChecked(bundles.v2.info.encryptedSha256)).toBe(false);
        expect(await store.checkedFileList(bundles.v2.info.encryptedSha256)).toBeNull();
      });

      it('#servable is true only for a bundle both checked and named by a pending or applied statement', async () => {
        await createApp();
        const [v1, v2, v3] = [bundles.v1, bundles.v2, bundles.v3].map(
          (bundle) => bundle.info.encryptedSha256,
        ) as [string, string, string];
        expect([v1, v2, v3].map((sha) => store.servable(sha))).toEqual([false, false, false]);
        // Checked, then named by a pending statement.
        await store.markBundleChecked(v1, tick(), v1Files);
        expect(store.servable(v1)).toBe(false);
        const pending = release('1.0.0', bundles.v1);
        await store.submitStatement(statementId(pending), pending, [], tick());
        expect(store.servable(v1)).toBe(true);
        // Named by a pending statement, then checked.
        const other = release('1.0.1', bundles.v2);
        await store.submitStatement(statementId(other), other, [], tick());
        expect(store.servable(v2)).toBe(false);
        await store.markBundleChecked(v2, tick(), v1Files);
        expect(store.servable(v2)).toBe(true);
        // Named by a statement applied without being submitted first.
        await applied(release('1.0.2', bundles.v3));
        expect(store.servable(v3)).toBe(false);
        await store.markBundleChecked(v3, tick(), v1Files);
        expect(store.servable(v3)).toBe(true);
        expect(store.servable('0'.repeat(64))).toBe(false);
      });

      it('#blobs shows a bundle only complete and hash-checked', async () => {
        const bytes = new Uint8Array(readFileSync(bundles.v1.path));
        const sha = bundles.v1.info.encryptedSha256;
        const wrong = bundles.v2.info.encryptedSha256;
        await expect(store.blobs.put(wrong, bodyOf(bytes), 1 << 24)).rejects.toThrowWithCode(
          'BUNDLE_MISMATCH',
        );
        expect(await store.blobs.stat(wrong)).toBeNull();
        expect(await store.blobs.put(sha, bodyOf(bytes), 1 << 24)).toEqual({
          created: true,
          size: bytes.byteLength,
        });
        expect(await store.blobs.stat(sha)).toEqual({ size: bytes.byteLength });
      });
    });

    describe('stats: #addStats, #channelHealth', () => {
      it('counts outcomes of released versions only, in release order: totals, and hours from sinceHour', async () => {
        await createApp();
        await createOtherApp(PROD);
        await applied(release('9.0.0', bundles.v1));
        await applied(release('10.0.0', bundles.v2));
        await applied(release('11.0.0', bundles.v3));
        await applied(release('9.0.0', bundles.v1, { channel: BETA }));
        const h0 = Math.floor(clockBase / HOUR_MS) * HOUR_MS - 5 * HOUR_MS;
        const hour = (n: number): number => h0 + n * HOUR_MS;
        const row = (
          version: string,
          action: string,
          at: number,
          count: number,
          channel = PROD,
          app = APP,
        ) => ({
          app,
          channel,
          version,
          action,
          hour: hour(at),
          count,
        });
        await store.addStats([
          row('9.0.0', 'set', 0, 3), // before the window: totals only
          row('9.0.0', 'set', 3, 2),
          row('9.0.0', 'update_fail', 3, 1),
          row('9.0.0', 'download_complete', 4, 7), // neutral
          row('10.0.0', 'app_crash', 4, 4),
          row('10.0.0', 'set', 2, 1),
          row('0.1.0', 'set', 4, 50), // a version this channel never released
          row('9.0.0', 'set', 4, 60, BETA), // another channel
          row('9.0.0', 'set', 4, 70, PROD, OTHER_APP), // another app
        ]);
        await store.addStats([]);
        expect(await store.channelHealth(APP, PROD, hour(2))).toEqual([
          {
            version: '9.0.0',
            successes: 5,
            failures: 1,
            series: [{ hour: hour(3), successes: 2, failures: 1 }],
          },
          {
            version: '10.0.0',
            successes: 1,
            failures: 4,
            series: [
              { hour: hour(2), successes: 1, failures: 0 },
              { hour: hour(4), successes: 0, failures: 4 },
            ],
          },
          { version: '11.0.0', successes: 0, failures: 0, series: [] },
        ]);
        expect(await store.channelHealth(APP, BETA, hour(0))).toEqual([
          {
            version: '9.0.0',
            successes: 60,
            failures: 0,
            series: [{ hour: hour(4), successes: 60, failures: 0 }],
          },
        ]);
      });

      it('#addStats adds to the counters on every call', async () => {
        await createApp();
        await applied(release('1.0.0'));
        const hour = Math.floor(clockBase / HOUR_MS) * HOUR_MS;
        const rows = [{ app: APP, channel: PROD, version: '1.0.0', action: 'set', hour, count: 2 }];
        await store.addStats(rows);
        await store.addStats(rows);
        await store.addStats([
          { ...rows[0], action: 'set_fail', count: 1 } as (typeof rows)[number],
        ]);
        expect(await store.channelHealth(APP, PROD, hour)).toEqual([
          {
            version: '1.0.0',
            successes: 4,
            failures: 1,
            series: [{ hour, successes: 4, failures: 1 }],
          },
        ]);
      });
    });

    describe('evidence: #recordOutcomes, #evidence', () => {
      const [d1, d2, d3, d4, d5] = seededDeviceIds('server-store contract', 5) as [
        string,
        string,
        string,
        string,
        string,
      ];
      const ok = (deviceId: string): OutcomeReport => ({ deviceId, failed: false });
      const failed = (deviceId: string): OutcomeReport => ({ deviceId, failed: true });
      /** Evidence as [since, devices, successes, failures]. */
      const counts = (evidence: Evidence | null): number[] | null =>
        evidence === null
          ? null
          : [evidence.since, evidence.devices, evidence.successes, evidence.failures];

      async function record(
        since: number,
        source: string,
        reports: readonly OutcomeReport[],
        limits: EvidenceLimits = WIDE,
      ): Promise<number[] | null> {
        return counts(await store.recordOutcomes(APP, PROD, since, source, reports, limits));
      }

      it('counts a device once per period; a failure replaces its success, never the reverse', async () => {
        await createApp();
        await applied(release('1.0.0'));
        expect(await record(1, 'a', [ok(d1), failed(d2)])).toEqual([1, 2, 1, 1]);
        expect(await record(1, 'a', [ok(d1), ok(d2), ok(d1)])).toEqual([1, 2, 1, 1]);
        expect(await record(1, 'b', [failed(d1)])).toEqual([1, 2, 0, 2]);
        expect(await record(1, 'b', [ok(d1), failed(d1)])).toEqual([1, 2, 0, 2]);
        expect(counts(await store.evidence(APP, PROD))).toEqual([1, 2, 0, 2]);
        expect(counts(await store.evidence(APP, BETA))).toEqual([0, 0, 0, 0]);
      });

      it('lets one source add at most perSource devices, and the period at most `devices`', async () => {
        await createApp();
        await applied(release('1.0.0'));
        const limits: EvidenceLimits = { perSource: 2, devices: 3 };
        expect(await record(1, 'a', [ok(d1), ok(d2), ok(d3)], limits)).toEqual([1, 2, 2, 0]);
        expect(await record(1, 'a', [failed(d4)], limits)).toEqual([1, 2, 2, 0]);
        expect(await record(1, 'b', [ok(d3), ok(d4)], limits)).toEqual([1, 3, 3, 0]);
        expect(await record(1, 'c', [failed(d5)], limits)).toEqual([1, 3, 3, 0]);
        // A device counted already may still turn into a failure, whichever source says so.
        expect(await record(1, 'a', [failed(d3)], limits)).toEqual([1, 3, 2, 1]);
      });

      it('refuses (null) outcomes for a period a release, rollback or resume ended; each starts anew', async () => {
        await createApp();
        const first = await applied(release('1.0.0'));
        expect(await record(1, 'a', [ok(d1)])).toEqual([1, 1, 1, 0]);
        // A rollout and a pause keep the period.
        await applied(control('rollout', { percent: 50 }));
        await applied(control('pause'));
        expect(await record(1, 'a', [ok(d2)])).toEqual([1, 2, 2, 0]);
        expect(await record(0, 'a', [ok(d3)])).toBeNull();
        let previous = 1;
        for (const [next, seq] of [
          [() => control('resume'), 4],
          [() => release('2.0.0', bundles.v2), 5],
          [() => control('rollback', { target: first.id }), 6],
        ] as const) {
          await applied(next());
          expect(await record(previous, 'a', [failed(d4)])).toBeNull();
          expect(counts(await store.evidence(APP, PROD))).toEqual([seq, 0, 0, 0]);
          expect(await record(seq, 'a', [failed(d1)])).toEqual([seq, 1, 0, 1]);
          previous = seq;
        }
      });

      it('#evidence is null for an unknown channel', async () => {
        await createApp();
        expect(await store.evidence(APP, 'staging')).toBeNull();
        expect(await store.evidence(OTHER_APP, PROD)).toBeNull();
      });
    });

    describe('#applyAutomaticPause', () => {
      it('applies a server-signed automatic pause once, in a log that verifies', async () => {
        await createApp();
        const first = await applied(release('1.0.0'));
        const reason = 'contract: failure rate above the threshold';
        expect(await store.applyAutomaticPause(APP, PROD, reason, 1)).toBe(true);
        expect(store.channel(APP, PROD)).toMatchObject({ paused: true, countingSince: 1 });
        expect(store.channelStatus(APP, PROD)).toMatchObject({ seq: 2, paused: true });
        const entries = await allEntries();
        expect(entries).toHaveLength(2);
        const pause = entries[1] as LogEntry;
        expect(pause.statement).toMatchObject({
          kind: 'pause',
          automatic: true,
          app: APP,
          channel: PROD,
          seq: 2,
          prev: first.id,
        });
        expect(pause.approvals).toEqual([]);
        const signature = decodeSignature(pause.serverSig ?? '');
        expect(signature).not.toBeNull();
        expect(
          ed25519Verify(
            signature as Uint8Array,
            statementSigningBytes(pause.statement),
            serverKeyBytes(store.serverKey),
          ),
        ).toBe(true);
        expect(JSON.stringify(entries)).not.toContain(reason);
        await expectLogVerifies();
        // Once: the channel is paused now.
        expect(await store.applyAutomaticPause(APP, PROD, reason, 1)).toBe(false);
        expect(await allEntries()).toHaveLength(2);
      });

      it('refuses (false) without a release, when paused, and for a period that ended', async () => {
        await createApp();
        expect(await store.applyAutomaticPause(APP, PROD, 'no release', 0)).toBe(false);
        await applied(release('1.0.0'));
        await applied(release('2.0.0', bundles.v2));
        expect(await store.applyAutomaticPause(APP, PROD, 'old period', 1)).toBe(false);
        await applied(control('pause'));
        expect(await store.applyAutomaticPause(APP, PROD, 'paused already', 2)).toBe(false);
        expect(store.channelStatus(APP, PROD)).toMatchObject({ seq: 3, paused: true });
        expect(await allEntries()).toHaveLength(3);
        expect(await store.applyAutomaticPause(APP, 'staging', 'unknown channel', 0)).toBe(false);
      });
    });

    describe('#close', () => {
      it('closes the store: it answers nothing afterwards', async () => {
        await createApp();
        await store.close();
        await expect(store.rootChain()).rejects.toThrow();
        await store.close();
      });
    });
  });
}
