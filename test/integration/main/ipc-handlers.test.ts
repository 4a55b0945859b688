import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatFingerprint } from '../../../src/core/crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IdentitySigner } from '../../../src/core/statement';
import { invokeHandler, type HandlerTable } from '../../../src/main/ipc/handle';
import { createHandlers } from '../../../src/main/ipc/handlers';
import { createOsKeychain } from '../../../src/main/keys/keychain';
import { KeyStore } from '../../../src/main/keys/key-store';
import { ConsoleServices } from '../../../src/main/services/console';
import type { IpcChannel } from '../../../src/shared/ipc/channels';
import type { IpcRequestInput, IpcResponse, ProgressEvent } from '../../../src/shared/ipc/contract';
import { refusal } from '../../e2e/console-window';
import { sampleWebBuild, writeTree } from '../../helpers/bundle-fixtures';
import {
  addMembers,
  callApi,
  freePort,
  startTestServer,
  type TestServer,
} from '../../helpers/server';

/**
 * The handler table end to end (issue 5), exactly as the window reaches it (through
 * `invokeHandler`), against a real server on loopback, real SQLite stores and the real (throwaway)
 * keychain. Three consoles: Alice proposes and pushes (admin), Bob approves online (release
 * manager), Olga signs air-gapped request files on a console that never connects (signing
 * officer). The flows follow the CLI's: propose through the outbox, approve, import, push,
 * rollback while the server is down, sync.
 */

const APP = 'com.example.ipc';
const CHANNEL = 'production';

interface Console {
  readonly services: ConsoleServices;
  readonly keys: KeyStore;
  readonly table: HandlerTable;
  readonly progress: ProgressEvent[];
}

let work: string;
let webDir: string;
let server: TestServer;
let url: string;
let alice: Console;
let bob: Console;
let olga: Console;
let aliceKey: string;
let bundleKey: string;

function makeConsole(name: string): Console {
  const services = ConsoleServices.open(join(work, name));
  const keys = new KeyStore(createOsKeychain(`airlock-ipc-test-${name}-${process.pid}`));
  const table = createHandlers({
    services,
    keys,
    dialogs: { chooseFolder: () => Promise.resolve(webDir) },
    appVersion: '0.0.0-test',
    probeTimeoutMs: 2_000,
  });
  return { services, keys, table, progress: [] };
}

/** Calls a channel as the window does; the value, or a failed test naming the error. */
async function call<C extends IpcChannel>(
  who: Console,
  channel: C,
  input: IpcRequestInput<C>,
): Promise<IpcResponse<C>> {
  const result = await invokeHandler(who.table, channel, input, {
    progress: (event) => who.progress.push(event),
    progressIntervalMs: 0,
    onInternalError: (_channel, error) => {
      throw error;
    },
  });
  if (!result.ok) throw new Error(`${channel}: ${result.error.code}: ${result.error.message}`);
  return result.value;
}

async function identity(who: Console, label: string): Promise<IdentitySigner> {
  const key = await call(who, 'keys:create', { type: 'identity', label });
  return who.keys.identitySigner(key.keyId);
}

async function buildBundle(): Promise<string> {
  const folder = await call(alice, 'dialog:choose-folder', { purpose: 'web-build' });
  const built = await call(alice, 'bundles:build', {
    webDir: folder.path as string,
    bundleKeyId: bundleKey,
  });
  return built.bundle.encryptedSha256;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'airlock-ipc-'));
  webDir = join(work, 'www');
  writeTree(webDir, sampleWebBuild());
  alice = makeConsole('alice');
  bob = makeConsole('bob');
  olga = makeConsole('olga');
  const aliceSigner = await identity(alice, 'alice');
  aliceKey = aliceSigner.keyId;
  const bobSigner = await identity(bob, 'bob');
  const olgaSigner = await identity(olga, 'olga');
  const bundle = await call(alice, 'keys:create', { type: 'bundle', label: 'app' });
  bundleKey = bundle.keyId;
  // A fixed port, so the server keeps its URL across the restart below.
  server = await startTestServer({ admins: [aliceSigner], port: await freePort() });
  url = server.url;
  await addMembers(
    url,
    [aliceSigner],
    [
      { signer: bobSigner, roles: ['release_manager'], name: 'Bob' },
      { signer: olgaSigner, roles: ['signing_officer'], name: 'Olga' },
    ],
  );
  const created = await callApi(url, '/api/v1/apps', {
    signer: aliceSigner,
    body: { app: APP, channels: [{ name: CHANNEL }], bundlePublicKey: bundle.publicKey },
  });
  expect(created.status).toBe(201);
});

afterAll(async () => {
  await server?.dispose();
  for (const who of [alice, bob, olga]) {
    if (who === undefined) continue;
    for (const key of await who.keys.list()) await who.keys.delete(key.keyId);
    who.services.close();
  }
  rmSync(work, { recursive: true, force: true });
});

describe('the console handlers against a real server', () => {
  let firstRelease = '';

  it('connects, pinning the trust root, and reports status', async () => {
    const connected = await call(alice, 'servers:connect', { url });
    expect(connected).toMatchObject({ firstContact: true, rootId: server.rootId, rootVersion: 2 });
    await call(bob, 'servers:connect', { url, expectRootId: server.rootId });
    const status = await call(alice, 'app:status', {});
    expect(status).toMatchObject({
      dataDir: join(work, 'alice'),
      keychain: { available: true, message: null },
      keys: { identity: 1, bundle: 1 },
      servers: [{ url, reachable: true, error: null }],
      online: true,
      outbox: { pending: 0, failed: 0 },
    });
    const { servers } = await call(alice, 'servers:list', {});
    expect(servers[0]?.members.map((member) => member.name)).toEqual(
      expect.arrayContaining(['Bob', 'Olga']),
    );
  });

  it('refuses to send anything to a server that was not connected', async () => {
    const error = await refusal(alice, 'releases:propose', {
      server: 'http://127.0.0.1:9',
      app: APP,
      channel: CHANNEL,
      version: '1.0.0',
      bundle: 'a'.repeat(64),
    });
    expect(error.code).toBe('NOT_FOUND');
  });

  it('proposes a release with a signing request; an air-gapped officer approves it; the import pushes it', async () => {
    const bundle = await buildBundle();
    alice.progress.length = 0;
    const proposed = await call(alice, 'releases:propose', {
      server: url,
      app: APP,
      channel: CHANNEL,
      version: '1.0.0',
      bundle,
      rolloutPercent: 100,
      exportRequest: true,
      operationId: 'propose-1',
    });
    firstRelease = proposed.statementId;
    expect(proposed).toMatchObject({ seq: 1, state: 'pending', warnings: [] });
    expect(proposed.verdict?.satisfied).toBe(false);
    const phases = new Set(alice.progress.map((event) => event.phase));
    expect(phases).toEqual(new Set(['hash', 'upload', 'deliver']));
    expect(alice.progress.every((event) => event.operationId === 'propose-1')).toBe(true);

    const request = proposed.request?.content as string;
    const review = await call(olga, 'approvals:review', { source: 'request', content: request });
    expect(review).toMatchObject({
      statementId: firstRelease,
      rootPinned: 'unknown',
      expired: false,
      verdict: { satisfied: false },
      summary: { version: '1.0.0', kind: 'release' },
      notes: expect.arrayContaining([]) as unknown,
    });
    const approved = await call(olga, 'approvals:approve', {
      mode: 'request',
      content: request,
      // Olga's console never saw the server: she confirms the fingerprint she was given.
      rootFingerprint: formatFingerprint(server.rootId),
    });
    expect(approved.verdict?.satisfied).toBe(true);
    expect(approved.approvalFile?.fileName).toMatch(/\.airlock-approval\.json$/);

    const imported = await call(alice, 'approvals:import', {
      content: approved.approvalFile?.content as string,
      push: true,
    });
    expect(imported).toMatchObject({
      statementId: firstRelease,
      pushQueued: true,
      applied: { seq: 1, alreadyApplied: false },
      queued: 0,
    });
    // Importing the same file again is refused: one key, one approval.
    expect(
      (
        await refusal(alice, 'approvals:import', {
          content: approved.approvalFile?.content as string,
        })
      ).code,
    ).toBe('DUPLICATE_APPROVAL');
  });

  it('syncs the verified log and shows the channel and its history', async () => {
    // The import's push already mirrored the channel (handlers.ts, mirrorPushedChannels): the
    // log entry is in the verified mirror before any sync, and a sync finds nothing new.
    const mirrored = await call(alice, 'history:list', { server: url, app: APP, channel: CHANNEL });
    expect(mirrored.total).toBe(1);
    const synced = await call(alice, 'sync:run', { operationId: 'sync-1' });
    expect(synced.servers).toEqual([
      {
        url,
        delivered: 0,
        failed: [],
        waiting: null,
        channels: [{ app: APP, channel: CHANNEL, added: 0, seq: 1, findings: [] }],
        error: null,
      },
    ]);
    const overview = await call(alice, 'apps:overview', {});
    expect(overview.channels).toEqual([
      expect.objectContaining({
        app: APP,
        channel: CHANNEL,
        mirror: expect.objectContaining({ seq: 1, currentVersion: '1.0.0' }) as unknown,
        live: expect.objectContaining({
          seq: 1,
          paused: false,
          current: expect.objectContaining({ version: '1.0.0', rolloutPercent: 100 }) as unknown,
        }) as unknown,
        pendingStatements: 0,
      }),
    ]);
    const history = await call(alice, 'history:list', { server: url, app: APP, channel: CHANNEL });
    expect(history).toMatchObject({
      total: 1,
      entries: [{ seq: 1, id: firstRelease, kind: 'release', version: '1.0.0', approvals: 1 }],
    });
  });

  it('lets a second person review and approve online, then pushes', async () => {
    const bundle = await buildBundle();
    const proposed = await call(alice, 'releases:propose', {
      server: url,
      app: APP,
      channel: CHANNEL,
      version: '1.1.0',
      bundle,
      rolloutPercent: 20,
    });
    expect(proposed).toMatchObject({ seq: 2, state: 'pending', request: null });
    const inbox = await call(alice, 'approvals:inbox', {});
    expect(inbox.items.map((item) => [item.statementId, item.state])).toEqual([
      [proposed.statementId, 'pending'],
    ]);

    const review = await call(bob, 'approvals:review', {
      source: 'server',
      server: url,
      statementId: proposed.statementId,
    });
    expect(review).toMatchObject({ state: 'pending', rootPinned: 'match', notes: [] });
    expect(review.names[aliceKey]).toMatch(/^admin /);
    // Alice's own approval would not count: the review says so before she signs.
    const own = await call(alice, 'approvals:review', {
      source: 'server',
      server: url,
      statementId: proposed.statementId,
    });
    expect(own.notes.join(' ')).toMatch(/proposer's own approval does not count/);

    const approved = await call(bob, 'approvals:approve', {
      mode: 'online',
      server: url,
      statementId: proposed.statementId,
    });
    expect(approved).toMatchObject({ state: 'pending', verdict: { satisfied: true } });

    const refreshed = await call(alice, 'approvals:inbox', { refresh: true });
    expect(refreshed.items[0]?.verdict?.satisfied).toBe(true);
    const pushed = await call(alice, 'releases:push', {
      server: url,
      statementId: proposed.statementId,
    });
    expect(pushed).toMatchObject({ queued: false, applied: { seq: 2, alreadyApplied: false } });
    const again = await call(alice, 'releases:push', {
      server: url,
      statementId: proposed.statementId,
    });
    expect(again.applied?.alreadyApplied).toBe(true);
    await call(alice, 'sync:run', {});
    expect((await call(alice, 'approvals:inbox', {})).items).toEqual([]);
  });

  it('proposes a rollback while the server is down; it waits in the outbox and goes out on sync', async () => {
    expect(
      (
        await refusal(alice, 'rollback:propose', {
          server: url,
          app: APP,
          channel: CHANNEL,
          to: '0.9.0',
        })
      ).code,
    ).toBe('NOT_FOUND');
    await server.stop();
    const status = await call(alice, 'app:status', {});
    expect(status.online).toBe(false);
    const proposed = await call(alice, 'rollback:propose', {
      server: url,
      app: APP,
      channel: CHANNEL,
      to: '1.0.0',
    });
    expect(proposed).toMatchObject({ seq: 3, state: 'queued' });
    expect(proposed.warnings.join(' ')).toMatch(/Cannot reach the Airlock server/);
    const outbox = await call(alice, 'outbox:list', {});
    expect(outbox.items.map((item) => [item.kind, item.state])).toEqual([
      ['submit-statement', 'pending'],
    ]);
    const inbox = await call(alice, 'approvals:inbox', {});
    expect(inbox.items[0]).toMatchObject({ statementId: proposed.statementId, state: 'queued' });
    const offline = await call(alice, 'sync:run', {});
    expect(offline.servers[0]?.error).toMatch(/Cannot reach the Airlock server/);

    await server.restart();
    const synced = await call(alice, 'sync:run', {});
    expect(synced.servers[0]).toMatchObject({ delivered: 1, waiting: null, error: null });
    await call(bob, 'approvals:approve', {
      mode: 'online',
      server: url,
      statementId: proposed.statementId,
    });
    const pushed = await call(alice, 'releases:push', {
      server: url,
      statementId: proposed.statementId,
    });
    expect(pushed.applied?.seq).toBe(3);
    await call(alice, 'sync:run', {});
    const history = await call(alice, 'history:list', {
      server: url,
      app: APP,
      channel: CHANNEL,
      limit: 2,
    });
    expect(history.total).toBe(3);
    expect(history.entries.map((entry) => [entry.seq, entry.kind, entry.target])).toEqual([
      [3, 'rollback', firstRelease],
      [2, 'release', null],
    ]);
    const page2 = await call(alice, 'history:list', {
      server: url,
      app: APP,
      channel: CHANNEL,
      offset: 2,
      limit: 2,
    });
    expect(page2.entries.map((entry) => entry.seq)).toEqual([1]);
    const overview = await call(alice, 'apps:overview', { live: false });
    expect(overview.channels[0]?.mirror.currentVersion).toBe('1.0.0');
    expect(overview.channels[0]?.live).toBeNull();
  });

  it('proposes rollout changes', async () => {
    const paused = await call(alice, 'rollout:change', {
      server: url,
      app: APP,
      channel: CHANNEL,
      change: { kind: 'pause' },
      expiresInHours: 1,
    });
    expect(paused).toMatchObject({ seq: 4, state: 'pending' });
    expect(paused.verdict?.summary).toMatch(/0\/1/);
  });

  it('keeps a verifiable audit trail, no findings, and an empty outbox', async () => {
    const verdict = await call(alice, 'audit:verify', {});
    expect(verdict).toMatchObject({ ok: true, brokenAt: null });
    const { entries } = await call(alice, 'audit:list', { limit: 1000 });
    expect(entries.length).toBe(verdict.entries);
    expect(new Set(entries.map((entry) => entry.action))).toEqual(
      new Set([
        'key.created',
        'server.connected',
        'bundle.built',
        'bundle.encrypted',
        'statement.proposed',
        'request.exported',
        'push.queued',
        'push.delivered',
        'approval.imported',
      ]),
    );
    expect((await call(alice, 'findings:list', {})).findings).toEqual([]);
    expect((await call(alice, 'outbox:list', {})).items).toEqual([]);
    const olgaAudit = await call(olga, 'audit:list', {});
    // The confirmed request pinned the server on Olga's console (from its verified chain).
    expect(olgaAudit.entries.map((entry) => entry.action)).toEqual([
      'key.created',
      'server.connected',
      'approval.signed',
      'approval.exported',
    ]);
  });

  it('backs up and restores keys as files, never as private keys', async () => {
    const backup = await call(alice, 'keys:backup', {
      keyId: aliceKey,
      passphrase: 'correct horse battery',
    });
    expect(backup.fileName).toMatch(/^airlock-identity-key-[0-9a-f]{16}\.backup\.json$/);
    expect(
      (
        await refusal(alice, 'keys:restore', {
          content: backup.content,
          passphrase: 'wrong passphrase',
        })
      ).code,
    ).toBe('BACKUP_WRONG_PASSPHRASE');
    expect(
      (
        await refusal(alice, 'keys:restore', {
          content: backup.content,
          passphrase: 'correct horse battery',
        })
      ).code,
    ).toBe('ALREADY_EXISTS');
    const restored = await call(olga, 'keys:restore', {
      content: backup.content,
      passphrase: 'correct horse battery',
    });
    expect(restored.keyId).toBe(aliceKey);
    const { keys } = await call(alice, 'keys:list', {});
    expect(JSON.stringify(keys)).not.toMatch(/privateKey|PRIVATE KEY/);
    const exported = await call(alice, 'keys:export-public', { keyId: bundleKey });
    expect(exported.text).toMatch(/^-----BEGIN RSA PUBLIC KEY-----/);
  });
});
