import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createApproval,
  serverKeyBytes,
  statementId,
  verifyCheckpoint,
  verifyLogEntries,
  verifyRootChain,
} from '../../../src/core';
import type {
  PendingStatements,
  ChannelStatus,
  LogPage,
  PushResult,
  RootChain,
  Statement,
  StatementStatus,
} from '../../../src/shared/schemas';
import { makeTempDir, type TempDir } from '../../helpers/bundle-fixtures';
import {
  addMembers,
  callApi,
  controlStatement,
  makeTestBundle,
  releaseStatement,
  startTestServer,
  testIdentity,
  type TestBundle,
  type TestServer,
} from '../../helpers/server';

/**
 * The admin and log API over real HTTP on loopback (ARCHITECTURE.md §6): apps and channels, bundle upload,
 * statements, approvals and pushes, the public root chain and log (verified with the same code a
 * console mirror runs), racing pushes, and rate limits.
 */

// TEST-ONLY identities.
const alice = testIdentity('admin-api alice'); // admin
const bob = testIdentity('admin-api bob'); // admin
const rita = testIdentity('admin-api rita'); // release manager
const sam = testIdentity('admin-api sam'); // signing officer
const dev = testIdentity('admin-api dev'); // developer
const audrey = testIdentity('admin-api audrey'); // auditor

const APP = 'com.example.api';
let server: TestServer;
let dir: TempDir;
let privateKeyPem: string;
let v1: TestBundle;

beforeAll(async () => {
  dir = makeTempDir('airlock-admin-api-');
  server = await startTestServer({ admins: [alice, bob] });
  await addMembers(
    server.url,
    [alice],
    [
      { signer: rita, roles: ['release_manager'] },
      { signer: sam, roles: ['signing_officer'] },
      { signer: dev, roles: ['developer'] },
      { signer: audrey, roles: ['auditor'] },
    ],
  );
  const bundle = await makeTestBundle(dir.path, { label: 'v1' });
  privateKeyPem = bundle.privateKeyPem;
  v1 = bundle;
  const created = await callApi(server.url, '/api/v1/apps', {
    signer: rita,
    body: {
      app: APP,
      bundlePublicKey: bundle.publicKeyPem,
      channels: [{ name: 'production' }, { name: 'beta' }],
    },
  });
  expect(created.status).toBe(201);
});

afterAll(async () => {
  await server.dispose();
  dir.cleanup();
});

async function head(channel = 'production'): Promise<ChannelStatus> {
  const answer = await callApi<ChannelStatus>(
    server.url,
    `/api/v1/apps/${APP}/channels/${channel}`,
    {
      signer: audrey,
    },
  );
  expect(answer.status).toBe(200);
  return answer.json;
}

async function upload(bundle: TestBundle, signer = dev): Promise<number> {
  const answer = await callApi(server.url, `/api/v1/bundles/${bundle.ref.encryptedSha256}`, {
    method: 'PUT',
    signer,
    body: bundle.bytes,
  });
  return answer.status;
}

/** Submits `statement` (by its proposer), has `approver` approve it, pushes it as `pusher`. */
async function submitApprovePush(
  statement: Statement,
  proposer: typeof rita,
  approver: typeof sam,
  pusher = rita,
): Promise<PushResult> {
  const submitted = await callApi<StatementStatus>(server.url, '/api/v1/statements', {
    signer: proposer,
    body: { statement },
  });
  expect(submitted.status, JSON.stringify(submitted.json)).toBe(201);
  const approval = await createApproval(statement, approver);
  const pushed = await callApi<PushResult>(
    server.url,
    `/api/v1/statements/${submitted.json.id}/push`,
    { signer: pusher, body: { approvals: [approval] } },
  );
  expect(pushed.status, JSON.stringify(pushed.json)).toBe(200);
  return pushed.json;
}

async function fullLog(channel = 'production'): Promise<LogPage> {
  const answer = await callApi<LogPage>(
    server.url,
    `/api/v1/apps/${APP}/channels/${channel}/log?after=0&limit=1000`,
  );
  expect(answer.status).toBe(200);
  return answer.json;
}

async function verifyWholeLog(channel = 'production') {
  const chain = (await callApi<RootChain>(server.url, '/api/v1/root')).json;
  const page = await fullLog(channel);
  return verifyLogEntries(page.entries, {
    roots: chain.roots,
    serverKey: serverKeyBytes(chain.server),
    app: APP,
    channel,
    now: new Date(),
  });
}

describe('the public root chain', () => {
  it('is readable without a signature and verifies from the fingerprint printed at init', async () => {
    const answer = await callApi<RootChain>(server.url, '/api/v1/root');
    expect(answer.status).toBe(200);
    expect(answer.json.server).toEqual(server.serverKey);
    expect(answer.json.roots.map((signed) => signed.root.version)).toEqual([1, 2]);
    expect(answer.json.roots[0]?.signatures).toEqual([]);
    const chain = verifyRootChain(answer.json.roots, server.rootId);
    expect(chain.ok).toBe(true);
  });
});

describe('apps and channels', () => {
  it('lists apps for any member and shows the default channel first', async () => {
    const answer = await callApi<{ apps: { app: string; channels: string[] }[] }>(
      server.url,
      '/api/v1/apps',
      { signer: audrey },
    );
    expect(answer.status).toBe(200);
    expect(answer.json.apps).toContainEqual(
      expect.objectContaining({
        app: APP,
        defaultChannel: 'production',
        channels: ['production', 'beta'],
      }),
    );
  });

  it('creates a channel and updates its settings', async () => {
    const created = await callApi<ChannelStatus>(server.url, `/api/v1/apps/${APP}/channels`, {
      signer: alice,
      body: { name: 'canary', settings: { allowSelfSet: true } },
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ channel: 'canary', seq: 0, head: null, current: null });
    expect(created.json.settings.allowSelfSet).toBe(true);
    const updated = await callApi<ChannelStatus>(
      server.url,
      `/api/v1/apps/${APP}/channels/canary/settings`,
      { method: 'PUT', signer: rita, body: { public: false, autoPause: null } },
    );
    expect(updated.status).toBe(200);
    expect(updated.json.settings).toEqual({ allowSelfSet: false, public: false, autoPause: null });
    expect(server.store?.channel(APP, 'canary')?.settings.public).toBe(false);
  });

  it('refuses a second app with the same id', async () => {
    const again = await callApi(server.url, '/api/v1/apps', {
      signer: alice,
      body: { app: APP, channels: [{ name: 'x' }] },
    });
    expect(again.status).toBe(409);
    expect(again.json.error).toBe('ALREADY_EXISTS');
  });
});

describe('a release from upload to push', () => {
  let release: Statement;
  let result: PushResult;

  it('stores an uploaded bundle once, by its hash', async () => {
    expect(await upload(v1)).toBe(201);
    expect(await upload(v1)).toBe(200);
    expect((await server.store?.blobs.stat(v1.ref.encryptedSha256))?.size).toBe(
      v1.ref.encryptedSize,
    );
  });

  it('keeps a statement pending until a second person approves, then applies it', async () => {
    release = releaseStatement({
      app: APP,
      seq: 1,
      prev: null,
      proposer: rita,
      version: '1.0.0',
      bundle: v1.ref,
      percent: 10,
    });
    const submitted = await callApi<StatementStatus>(server.url, '/api/v1/statements', {
      signer: rita,
      body: { statement: release },
    });
    expect(submitted.status).toBe(201);
    expect(submitted.json).toMatchObject({ id: statementId(release), state: 'pending' });
    expect(submitted.json.verdict.satisfied).toBe(false);

    // An approver finds it without being handed the id; a stranger does not.
    const pendingPath = `/api/v1/apps/${APP}/channels/production/pending`;
    const listed = await callApi<PendingStatements>(server.url, pendingPath, { signer: sam });
    expect(listed.status).toBe(200);
    expect(listed.json.statements.map((entry) => entry.id)).toEqual([statementId(release)]);
    expect(listed.json.statements[0]).toMatchObject({ state: 'pending', approvals: [] });
    expect((await callApi(server.url, pendingPath)).status).toBe(401);
    const unknown = await callApi(server.url, `/api/v1/apps/${APP}/channels/nope/pending`, {
      signer: sam,
    });
    expect(unknown.status).toBe(404);

    const early = await callApi(server.url, `/api/v1/statements/${submitted.json.id}/push`, {
      signer: rita,
      body: {},
    });
    expect(early.status).toBe(403);
    expect(early.json.error).toBe('POLICY_NOT_SATISFIED');

    const approved = await callApi<StatementStatus>(
      server.url,
      `/api/v1/statements/${submitted.json.id}/approvals`,
      { signer: sam, body: { approvals: [await createApproval(release, sam)] } },
    );
    expect(approved.status).toBe(200);
    expect(approved.json.verdict.satisfied).toBe(true);

    const pushed = await callApi<PushResult>(
      server.url,
      `/api/v1/statements/${submitted.json.id}/push`,
      { signer: rita, method: 'POST' },
    );
    expect(pushed.status).toBe(200);
    result = pushed.json;
    expect(result).toMatchObject({ id: statementId(release), seq: 1, alreadyApplied: false });
    expect(verifyCheckpoint(result.checkpoint, serverKeyBytes(server.serverKey))).toBe(true);
    // Applied, it waits no more.
    const after = await callApi<PendingStatements>(
      server.url,
      `/api/v1/apps/${APP}/channels/production/pending`,
      { signer: sam },
    );
    expect(after.json.statements).toEqual([]);
  });

  it('answers a retried push with alreadyApplied and the same checkpoint', async () => {
    const again = await callApi<PushResult>(server.url, `/api/v1/statements/${result.id}/push`, {
      signer: rita,
      body: { approvals: [] },
    });
    expect(again.status).toBe(200);
    expect(again.json).toEqual({ ...result, alreadyApplied: true });
    const status = await callApi<StatementStatus>(server.url, `/api/v1/statements/${result.id}`, {
      signer: audrey,
    });
    expect(status.json.state).toBe('applied');
  });

  it('shows the release in the channel status and in the device view', async () => {
    const status = await head();
    expect(status).toMatchObject({
      seq: 1,
      head: result.id,
      paused: false,
      rolledBack: false,
      current: {
        statementId: result.id,
        version: '1.0.0',
        rolloutPercent: 10,
        encryptedSha256: v1.ref.encryptedSha256,
      },
    });
    expect(server.store?.channel(APP, 'production')?.current?.bundle).toEqual(v1.ref);
  });
});

describe('rollout, pause, resume, rollback and the log', () => {
  it('applies each control statement and a second release, and the public log verifies', async () => {
    let status = await head();
    const r1 = status.head as string;
    await submitApprovePush(
      controlStatement('rollout', { app: APP, seq: 2, prev: r1, proposer: rita, percent: 50 }),
      rita,
      bob,
    );
    status = await head();
    expect(status.current?.rolloutPercent).toBe(50);

    await submitApprovePush(
      controlStatement('pause', { app: APP, seq: 3, prev: status.head, proposer: rita }),
      rita,
      sam,
    );
    status = await head();
    expect(status.paused).toBe(true);
    await submitApprovePush(
      controlStatement('resume', { app: APP, seq: 4, prev: status.head, proposer: bob }),
      bob,
      alice,
      alice,
    );
    status = await head();
    expect(status.paused).toBe(false);

    const v2 = await makeTestBundle(dir.path, { label: 'v2', privateKeyPem });
    expect(await upload(v2, rita)).toBe(201);
    await submitApprovePush(
      releaseStatement({
        app: APP,
        seq: 5,
        prev: status.head,
        proposer: dev,
        version: '1.1.0',
        bundle: v2.ref,
      }),
      dev,
      sam,
    );
    status = await head();
    expect(status.current?.version).toBe('1.1.0');

    await submitApprovePush(
      controlStatement('rollback', {
        app: APP,
        seq: 6,
        prev: status.head,
        proposer: rita,
        target: r1,
      }),
      rita,
      sam,
    );
    status = await head();
    expect(status).toMatchObject({
      seq: 6,
      rolledBack: true,
      current: { version: '1.0.0', rolloutPercent: 100 },
    });

    const verified = await verifyWholeLog();
    expect(verified).toMatchObject({ ok: true, verified: 6, head: { seq: 6, head: status.head } });
  });

  it('pages the log with after and limit', async () => {
    const first = await callApi<LogPage>(
      server.url,
      `/api/v1/apps/${APP}/channels/production/log?limit=2`,
    );
    expect(first.json.entries.map((entry) => entry.seq)).toEqual([1, 2]);
    expect(first.json.more).toBe(true);
    expect(first.json.head?.checkpoint.seq).toBe(6);
    const last = await callApi<LogPage>(
      server.url,
      `/api/v1/apps/${APP}/channels/production/log?after=5&limit=2`,
    );
    expect(last.json.entries.map((entry) => entry.seq)).toEqual([6]);
    expect(last.json.more).toBe(false);
    const bad = await callApi(server.url, `/api/v1/apps/${APP}/channels/production/log?after=-1`);
    expect(bad.status).toBe(400);
    const missing = await callApi(server.url, `/api/v1/apps/${APP}/channels/nope/log`);
    expect(missing.status).toBe(404);
  });

  it('records an automatic pause the log verifier accepts', async () => {
    const since = (await head()).seq;
    const period = server.store?.channel(APP, 'production')?.countingSince ?? -1;
    expect(period).toBeLessThanOrEqual(since);
    expect(await server.store?.applyAutomaticPause(APP, 'production', 'test: spike', period)).toBe(
      true,
    );
    expect(await server.store?.applyAutomaticPause(APP, 'production', 'again', period)).toBe(false);
    const status = await head();
    expect(status.paused).toBe(true);
    const page = await fullLog();
    const last = page.entries.at(-1);
    expect(last?.statement).toMatchObject({
      kind: 'pause',
      automatic: true,
      proposer: server.serverKey.keyId,
    });
    expect(last?.serverSig).toBeTypeOf('string');
    expect(await verifyWholeLog()).toMatchObject({ ok: true, verified: 7 });
  });
});

describe('racing pushes', () => {
  it('applies exactly one of two statements for the same seq; the other gets 409', async () => {
    const before = await head('beta');
    const v3 = await makeTestBundle(dir.path, { label: 'v3', privateKeyPem });
    expect(await upload(v3)).toBe(201);
    const a = releaseStatement({
      app: APP,
      channel: 'beta',
      seq: 1,
      prev: null,
      proposer: rita,
      version: '2.0.0',
      bundle: v3.ref,
    });
    const b = releaseStatement({
      app: APP,
      channel: 'beta',
      seq: 1,
      prev: null,
      proposer: dev,
      version: '2.0.1',
      bundle: v3.ref,
    });
    const ids: string[] = [];
    for (const [statement, proposer] of [
      [a, rita],
      [b, dev],
    ] as const) {
      const submitted = await callApi<StatementStatus>(server.url, '/api/v1/statements', {
        signer: proposer,
        body: { statement, approvals: [await createApproval(statement, sam)] },
      });
      expect(submitted.status).toBe(201);
      ids.push(submitted.json.id);
    }
    expect(before.seq).toBe(0);
    const answers = await Promise.all(
      ids.map((id) =>
        callApi<PushResult>(server.url, `/api/v1/statements/${id}/push`, {
          method: 'POST',
          signer: alice,
        }),
      ),
    );
    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses).toEqual([200, 409]);
    const loser = answers.find((answer) => answer.status === 409) as { json: unknown };
    expect(['SEQ_CONFLICT', 'STALE']).toContain((loser.json as { error: string }).error);
    const page = await fullLog('beta');
    expect(page.entries).toHaveLength(1);
    const winner = page.entries[0]?.id;
    const loserId = ids.find((id) => id !== winner) as string;
    const loserStatus = await callApi<StatementStatus>(
      server.url,
      `/api/v1/statements/${loserId}`,
      {
        signer: audrey,
      },
    );
    expect(loserStatus.json.state).toBe('stale');
    expect(await verifyWholeLog('beta')).toMatchObject({ ok: true, verified: 1 });
  });

  it('answers two racing pushes of the same statement once applied, once alreadyApplied', async () => {
    const status = await head('beta');
    const statement = controlStatement('rollout', {
      app: APP,
      channel: 'beta',
      seq: 2,
      prev: status.head,
      proposer: rita,
      percent: 20,
    });
    const submitted = await callApi<StatementStatus>(server.url, '/api/v1/statements', {
      signer: rita,
      body: { statement, approvals: [await createApproval(statement, bob)] },
    });
    const answers = await Promise.all(
      [1, 2].map(() =>
        callApi<PushResult>(server.url, `/api/v1/statements/${submitted.json.id}/push`, {
          method: 'POST',
          signer: rita,
        }),
      ),
    );
    expect(answers.map((answer) => answer.status)).toEqual([200, 200]);
    expect(answers.map((answer) => answer.json.alreadyApplied).sort()).toEqual([false, true]);
    expect((await fullLog('beta')).entries).toHaveLength(2);
  });
});

describe('HTTP edges', () => {
  it('answers unknown paths and wrong methods with JSON errors', async () => {
    const missing = await callApi(server.url, '/api/v1/nothing');
    expect(missing).toMatchObject({ status: 404, json: { error: 'NOT_FOUND' } });
    const wrong = await callApi(server.url, '/api/v1/root', { method: 'DELETE' });
    expect(wrong).toMatchObject({ status: 405, json: { error: 'METHOD_NOT_ALLOWED' } });
    expect(wrong.headers.get('allow')).toBe('GET, POST');
    const outside = await callApi(server.url, '/elsewhere');
    expect(outside).toMatchObject({ status: 404, json: { error: 'NOT_FOUND' } });
  });

  it('refuses a JSON body above 1 MiB with 413 and malformed JSON with 400', async () => {
    const huge = await callApi(server.url, '/api/v1/apps', {
      signer: alice,
      body: 'x'.repeat(1024 * 1024 + 1),
    });
    expect(huge).toMatchObject({ status: 413, json: { error: 'PAYLOAD_TOO_LARGE' } });
    const broken = await callApi(server.url, '/api/v1/apps', { signer: alice, body: '{"app":' });
    expect(broken).toMatchObject({ status: 400, json: { error: 'INVALID_INPUT' } });
  });

  it('rate-limits the admin API per client IP with 429 and Retry-After', async () => {
    const running = await startTestServer({
      admins: [alice],
      start: { adminRateLimit: { capacity: 3, refillPerSecond: 0.5 } },
    });
    try {
      const statuses: number[] = [];
      let retryAfter: string | null = null;
      for (let i = 0; i < 5; i += 1) {
        const answer = await callApi(running.url, '/api/v1/root');
        statuses.push(answer.status);
        if (answer.status === 429) {
          retryAfter = answer.headers.get('retry-after');
          expect(answer.json.error).toBe('RATE_LIMITED');
        }
      }
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    } finally {
      await running.dispose();
    }
  });
});
