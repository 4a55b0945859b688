import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  contentDigest,
  createApproval,
  sha256,
  signRequest,
  signRoot,
  statementId,
} from '../../../src/core';
import type {
  ChannelStatus,
  PushResult,
  RootChain,
  Statement,
  StatementStatus,
  TrustRoot,
} from '../../../src/shared/schemas';
import { makeTempDir, type TempDir } from '../../helpers/bundle-fixtures';
import {
  addMembers,
  callApi,
  controlStatement,
  makeTestBundle,
  releaseStatement,
  signedFetch,
  startTestServer,
  testIdentity,
  type ApiAnswer,
  type TestBundle,
  type TestServer,
} from '../../helpers/server';

/**
 * Everything the admin API must refuse (ARCHITECTURE.md §3, §4, §6), each checked twice: the stable error
 * code, and that the database, the log and the bundle files are exactly as before the request.
 */

// TEST-ONLY identities.
const alice = testIdentity('refusals alice'); // admin
const bob = testIdentity('refusals bob'); // admin
const rita = testIdentity('refusals rita'); // release manager
const sam = testIdentity('refusals sam'); // signing officer
const dev = testIdentity('refusals dev'); // developer
const audrey = testIdentity('refusals audrey'); // auditor
const mallory = testIdentity('refusals mallory'); // not a member

const APP = 'com.example.refusals';
let server: TestServer;
let dir: TempDir;
let bundle: TestBundle & { privateKeyPem: string };
/** The server's clock runs `offsetMs` ahead of the real one. */
let offsetMs = 0;
const clock = (): Date => new Date(Date.now() + offsetMs);

beforeAll(async () => {
  dir = makeTempDir('airlock-refusals-');
  server = await startTestServer({ admins: [alice, bob], now: clock });
  await addMembers(
    server.url,
    [alice],
    [
      { signer: rita, roles: ['release_manager'] },
      { signer: sam, roles: ['signing_officer'] },
      { signer: dev, roles: ['developer'] },
      { signer: audrey, roles: ['auditor'] },
    ],
    undefined,
    // The "strict" channel needs two approvers for a release.
    [
      {
        app: APP,
        channel: 'strict',
        kind: 'release',
        threshold: 2,
        roles: ['admin', 'release_manager', 'signing_officer'],
        proposerCounts: false,
      },
    ],
  );
  bundle = await makeTestBundle(dir.path, { label: 'v1' });
  const created = await callApi(server.url, '/api/v1/apps', {
    signer: alice,
    body: {
      app: APP,
      bundlePublicKey: bundle.publicKeyPem,
      channels: [{ name: 'production' }, { name: 'strict' }],
    },
  });
  expect(created.status).toBe(201);
  const uploaded = await callApi(server.url, `/api/v1/bundles/${bundle.ref.encryptedSha256}`, {
    method: 'PUT',
    signer: dev,
    body: bundle.bytes,
  });
  expect(uploaded.status).toBe(201);
});

afterAll(async () => {
  await server.dispose();
  dir.cleanup();
});

beforeEach(() => {
  offsetMs = 0;
});

/** Runs `request`, expects `status` + `code`, and that nothing changed on the server. */
async function expectRefused(
  request: () => Promise<ApiAnswer<unknown> | Response>,
  status: number,
  code: string | RegExp,
): Promise<void> {
  const before = await server.snapshot();
  const answer = await request();
  const json = (answer instanceof Response ? await answer.json() : answer.json) as {
    error: string;
    message: string;
  };
  expect(answer.status).toBe(status);
  if (typeof code === 'string') expect(json.error).toBe(code);
  else expect(json.error).toMatch(code);
  expect(json.message).toMatch(/\S.*[.)]$/);
  expect(json).not.toHaveProperty('stack');
  expect(await server.snapshot()).toEqual(before);
}

async function channel(name = 'production'): Promise<ChannelStatus> {
  return (
    await callApi<ChannelStatus>(server.url, `/api/v1/apps/${APP}/channels/${name}`, {
      signer: audrey,
      now: clock(),
    })
  ).json;
}

function submitting(statement: Statement, signer = rita): Promise<ApiAnswer<StatementStatus>> {
  return callApi<StatementStatus>(server.url, '/api/v1/statements', {
    signer,
    body: { statement },
    now: clock(),
  });
}

async function submit(statement: Statement, signer = rita): Promise<StatementStatus> {
  const answer = await submitting(statement, signer);
  expect(answer.status, JSON.stringify(answer.json)).toBe(201);
  return answer.json;
}

async function nextRelease(
  version: string,
  overrides: Partial<Parameters<typeof releaseStatement>[0]> = {},
  name = 'production',
): Promise<Statement> {
  const status = await channel(name);
  return releaseStatement({
    app: APP,
    channel: name,
    seq: status.seq + 1,
    prev: status.head,
    proposer: rita,
    version,
    bundle: bundle.ref,
    now: clock(),
    ...overrides,
  });
}

function push(id: string, signer = rita, approvals: unknown[] = []) {
  return callApi<PushResult>(server.url, `/api/v1/statements/${id}/push`, {
    signer,
    body: { approvals },
    now: clock(),
  });
}

const newChannel = { name: 'never' };

describe('authentication (RFC 9421, ARCHITECTURE.md §6)', () => {
  it('refuses an unsigned request', async () => {
    await expectRefused(
      () => callApi(server.url, `/api/v1/apps/${APP}/channels`, { body: newChannel }),
      401,
      'SIGNATURE_MISSING',
    );
  });

  it('refuses a key that is not a member of the trust root', async () => {
    await expectRefused(
      () =>
        callApi(server.url, `/api/v1/apps/${APP}/channels`, { signer: mallory, body: newChannel }),
      401,
      'UNKNOWN_KEY',
    );
  });

  it('refuses a reused nonce (a replayed request)', async () => {
    const url = `${server.url}/api/v1/apps/${APP}/channels`;
    const body = new TextEncoder().encode(JSON.stringify({ name: 'replayed' }));
    const headers = {
      ...(await signRequest({ method: 'POST', url, bodySha256: sha256(body) }, alice)),
      'content-type': 'application/json',
    };
    const first = await fetch(url, { method: 'POST', headers, body });
    expect(first.status).toBe(201);
    await expectRefused(() => fetch(url, { method: 'POST', headers, body }), 401, 'NONCE_REUSED');
  });

  it('refuses a clock skew beyond 5 minutes', async () => {
    await expectRefused(
      () =>
        callApi(server.url, `/api/v1/apps/${APP}/channels`, {
          signer: alice,
          body: newChannel,
          now: new Date(Date.now() - 6 * 60_000),
        }),
      401,
      'CLOCK_SKEW',
    );
  });

  it('refuses a body that does not match its Content-Digest', async () => {
    const url = `${server.url}/api/v1/apps/${APP}/channels`;
    const signedBody = new TextEncoder().encode(JSON.stringify({ name: 'signed' }));
    const headers = await signRequest(
      { method: 'POST', url, bodySha256: sha256(signedBody) },
      alice,
    );
    await expectRefused(
      () => fetch(url, { method: 'POST', headers, body: JSON.stringify(newChannel) }),
      400,
      'DIGEST_MISMATCH',
    );
  });

  it('refuses a signature made for another target URI', async () => {
    const url = `${server.url}/api/v1/apps/${APP}/channels`;
    const body = new TextEncoder().encode(JSON.stringify(newChannel));
    const headers = {
      ...(await signRequest(
        { method: 'POST', url: `${url}?elsewhere`, bodySha256: sha256(body) },
        alice,
      )),
      'content-type': 'application/json',
    };
    await expectRefused(
      () => fetch(url, { method: 'POST', headers, body }),
      401,
      'SIGNATURE_INVALID',
    );
  });

  it('refuses a request without its Signature-Input', async () => {
    await expectRefused(
      () =>
        signedFetch(`${server.url}/api/v1/apps/${APP}/channels`, {
          method: 'POST',
          signer: alice,
          body: newChannel,
          headers: { 'signature-input': undefined },
        }),
      401,
      'SIGNATURE_MISSING',
    );
  });
});

describe('authorization by role (ARCHITECTURE.md §4)', () => {
  it.each([
    ['an auditor creating a channel', audrey, 'POST', `/api/v1/apps/${APP}/channels`, newChannel],
    [
      'a developer changing settings',
      dev,
      'PUT',
      `/api/v1/apps/${APP}/channels/production/settings`,
      { public: false },
    ],
    [
      'a signing officer creating an app',
      sam,
      'POST',
      '/api/v1/apps',
      { app: 'com.example.other', channels: [{ name: 'p' }] },
    ],
    ['a release manager updating the root', rita, 'POST', '/api/v1/root', { signed: {} }],
  ] as const)('refuses %s', async (_what, signer, method, path, body) => {
    await expectRefused(
      () => callApi(server.url, path, { signer, method, body }),
      403,
      'FORBIDDEN',
    );
  });

  it('refuses a bundle upload by an auditor', async () => {
    const other = await makeTestBundle(dir.path, {
      label: 'auditor',
      privateKeyPem: bundle.privateKeyPem,
    });
    await expectRefused(
      () =>
        callApi(server.url, `/api/v1/bundles/${other.ref.encryptedSha256}`, {
          method: 'PUT',
          signer: audrey,
          body: other.bytes,
        }),
      403,
      'FORBIDDEN',
    );
  });

  it('refuses a statement submitted by someone other than its proposer', async () => {
    const statement = await nextRelease('1.0.0', { proposer: dev });
    await expectRefused(
      () => callApi(server.url, '/api/v1/statements', { signer: rita, body: { statement } }),
      403,
      'FORBIDDEN',
    );
  });

  it('refuses an automatic pause from a person', async () => {
    const status = await channel();
    const statement = {
      ...controlStatement('pause', {
        app: APP,
        seq: status.seq + 1,
        prev: status.head,
        proposer: rita,
      }),
      automatic: true as const,
    };
    await expectRefused(
      () => callApi(server.url, '/api/v1/statements', { signer: rita, body: { statement } }),
      403,
      'FORBIDDEN',
    );
  });
});

describe('bundle uploads', () => {
  it('refuses bytes that do not hash to the signed digest and keeps no partial file', async () => {
    const other = await makeTestBundle(dir.path, {
      label: 'tampered',
      privateKeyPem: bundle.privateKeyPem,
    });
    const url = `${server.url}/api/v1/bundles/${other.ref.encryptedSha256}`;
    const headers = await signRequest({ method: 'PUT', url, bodySha256: sha256(other.bytes) }, dev);
    const tampered = Buffer.from(other.bytes);
    tampered[100] = (tampered[100] ?? 0) ^ 0xff;
    await expectRefused(
      () => fetch(url, { method: 'PUT', headers, body: tampered }),
      400,
      'DIGEST_MISMATCH',
    );
    expect(await server.store?.blobs.stat(other.ref.encryptedSha256)).toBeNull();
  });

  it('refuses a Content-Digest that is not the bundle name', async () => {
    const other = await makeTestBundle(dir.path, {
      label: 'renamed',
      privateKeyPem: bundle.privateKeyPem,
    });
    await expectRefused(
      () =>
        callApi(server.url, `/api/v1/bundles/${'a'.repeat(64)}`, {
          method: 'PUT',
          signer: dev,
          body: other.bytes,
        }),
      400,
      'DIGEST_MISMATCH',
    );
    expect(contentDigest(sha256(other.bytes))).toContain('sha-256=:');
  });
});

describe('statements, approvals and pushes (ARCHITECTURE.md §3)', () => {
  it('refuses to apply a statement below the policy threshold', async () => {
    const statement = await nextRelease('1.0.0');
    const { id } = await submit(statement);
    await expectRefused(() => push(id), 403, 'POLICY_NOT_SATISFIED');
  });

  it("refuses the proposer's own approval", async () => {
    const statement = await nextRelease('1.0.1');
    const { id } = await submit(statement);
    const own = await createApproval(statement, rita);
    await expectRefused(
      () =>
        callApi(server.url, `/api/v1/statements/${id}/approvals`, {
          signer: rita,
          body: { approvals: [own] },
        }),
      422,
      'APPROVAL_BY_PROPOSER',
    );
    await expectRefused(() => push(id, rita, [own]), 422, 'APPROVAL_BY_PROPOSER');
  });

  it('counts the same approver once: twice in one request is refused, again later is a no-op', async () => {
    const statement = await nextRelease('1.0.2', {}, 'strict');
    const { id } = await submit(statement);
    const approval = await createApproval(statement, sam);
    await expectRefused(
      () =>
        callApi(server.url, `/api/v1/statements/${id}/approvals`, {
          signer: sam,
          body: { approvals: [approval, approval] },
        }),
      422,
      'DUPLICATE_APPROVAL',
    );
    const first = await callApi<StatementStatus>(server.url, `/api/v1/statements/${id}/approvals`, {
      signer: sam,
      body: { approvals: [approval] },
    });
    expect(first.json.verdict.counted).toEqual([sam.keyId]);
    const again = await callApi<StatementStatus>(server.url, `/api/v1/statements/${id}/approvals`, {
      signer: sam,
      body: { approvals: [approval] },
    });
    expect(again.json.approvals).toHaveLength(1);
    expect(again.json.verdict.summary).toMatch(/^1\/2 approvals/);
    await expectRefused(() => push(id, rita, [approval]), 403, 'POLICY_NOT_SATISFIED');
  });

  it('refuses an approval made for another statement', async () => {
    const statement = await nextRelease('1.0.3');
    const { id } = await submit(statement);
    const other = await nextRelease('1.0.4');
    const foreign = await createApproval(other, sam);
    await expectRefused(() => push(id, rita, [foreign]), 400, 'APPROVAL_WRONG_STATEMENT');
    await expectRefused(
      () =>
        callApi(server.url, `/api/v1/statements/${id}/approvals`, {
          signer: sam,
          body: { approvals: [{ ...foreign, statement: id }] },
        }),
      401,
      'SIGNATURE_INVALID',
    );
  });

  it('refuses approvals by non-members and by roles that do not count', async () => {
    const statement = await nextRelease('1.0.5');
    const { id } = await submit(statement);
    await expectRefused(
      async () => push(id, rita, [await createApproval(statement, mallory)]),
      401,
      'UNKNOWN_KEY',
    );
    await expectRefused(
      async () => push(id, rita, [await createApproval(statement, dev)]),
      422,
      'APPROVAL_NOT_COUNTED',
    );
  });

  it('refuses an expired statement, at submission and at push', async () => {
    const statement = await nextRelease('1.0.6', { expiresInMs: 60 * 60_000 });
    const { id } = await submit(statement);
    offsetMs = 2 * 60 * 60_000;
    await expectRefused(
      async () => push(id, rita, [await createApproval(statement, sam)]),
      409,
      'STATEMENT_EXPIRED',
    );
    const late = await nextRelease('1.0.7', {
      now: new Date(Date.now() - 2 * 60 * 60_000),
      expiresInMs: 60_000,
    });
    offsetMs = 0;
    await expectRefused(
      () => callApi(server.url, '/api/v1/statements', { signer: rita, body: { statement: late } }),
      409,
      'STATEMENT_EXPIRED',
    );
  });

  it('refuses a stale seq or prev, at submission and at push', async () => {
    const a = await nextRelease('1.1.0');
    const b = await nextRelease('1.1.1', { proposer: dev });
    const submittedA = await submit(a);
    const submittedB = await submit(b, dev);
    const pushed = await push(submittedA.id, rita, [await createApproval(a, sam)]);
    expect(pushed.status).toBe(200);
    await expectRefused(
      async () => push(submittedB.id, rita, [await createApproval(b, sam)]),
      409,
      'STALE',
    );
    const wrongPrev = await nextRelease('1.1.2', { prev: statementId(b) });
    await expectRefused(
      () =>
        callApi(server.url, '/api/v1/statements', { signer: rita, body: { statement: wrongPrev } }),
      409,
      'STALE',
    );
    const taken = await nextRelease('1.1.3', { seq: 1, prev: null });
    await expectRefused(
      () => callApi(server.url, '/api/v1/statements', { signer: rita, body: { statement: taken } }),
      409,
      'STALE',
    );
  });

  it('refuses a release whose version is not greater than an earlier one, at submit', async () => {
    // Refused before anyone signs it (a push would refuse it too).
    const statement = await nextRelease('1.0.9');
    await expectRefused(() => submitting(statement), 409, 'VERSION_NOT_GREATER');
  });

  it('refuses a rollback to something that is not an earlier release of the channel', async () => {
    const status = await channel();
    const statement = controlStatement('rollback', {
      app: APP,
      seq: status.seq + 1,
      prev: status.head,
      proposer: rita,
      target: status.head as string,
      now: clock(),
    });
    const current = status.current?.statementId as string;
    expect(current).toBe(status.head);
    const bogus = { ...statement, target: 'f'.repeat(64) } as Statement;
    const { id } = await submit(bogus);
    await expectRefused(
      async () => push(id, rita, [await createApproval(bogus, sam)]),
      422,
      'ROLLBACK_TARGET_INVALID',
    );
  });
});

describe('bundles that do not match their release (ARCHITECTURE.md §3, §6)', () => {
  /** A release of an uploaded bundle that does not match is refused at submit: nothing stored. */
  async function refusedRelease(
    version: string,
    bundleRef: TestBundle['ref'],
    status: number,
    code: string | RegExp,
  ): Promise<void> {
    const statement = await nextRelease(version, { bundle: bundleRef });
    await expectRefused(() => submitting(statement), status, code);
  }

  it('refuses to push a release whose bundle was never uploaded', async () => {
    const missing = await makeTestBundle(dir.path, {
      label: 'missing',
      privateKeyPem: bundle.privateKeyPem,
    });
    const statement = await nextRelease('2.0.0', { bundle: missing.ref });
    const { id } = await submit(statement);
    await expectRefused(
      async () => push(id, rita, [await createApproval(statement, sam)]),
      409,
      'BUNDLE_MISSING',
    );
  });

  it('refuses a wrong encrypted size', async () => {
    await refusedRelease(
      '2.0.1',
      { ...bundle.ref, encryptedSize: bundle.ref.encryptedSize + 16 },
      422,
      'BUNDLE_MISMATCH',
    );
  });

  it('refuses a wrong plaintext hash, size or file count', async () => {
    await refusedRelease(
      '2.0.2',
      { ...bundle.ref, sha256: 'e'.repeat(64) },
      422,
      'BUNDLE_MISMATCH',
    );
    await refusedRelease(
      '2.0.3',
      { ...bundle.ref, files: bundle.ref.files + 1 },
      422,
      'BUNDLE_MISMATCH',
    );
  });

  it("refuses another bundle's checksum and session key (the device checks)", async () => {
    const other = await makeTestBundle(dir.path, {
      label: 'other',
      privateKeyPem: bundle.privateKeyPem,
    });
    await refusedRelease(
      '2.0.4',
      { ...bundle.ref, checksum: other.ref.checksum },
      422,
      'CHECKSUM_MISMATCH',
    );
    await refusedRelease(
      '2.0.5',
      { ...bundle.ref, sessionKey: other.ref.sessionKey, checksum: other.ref.checksum },
      422,
      /^(DECRYPT_FAILED|CHECKSUM_MISMATCH)$/,
    );
  });

  it('refuses a bundle signed with a key other than the app’s', async () => {
    const foreign = await makeTestBundle(dir.path, { label: 'foreign' });
    const uploaded = await callApi(server.url, `/api/v1/bundles/${foreign.ref.encryptedSha256}`, {
      method: 'PUT',
      signer: dev,
      body: foreign.bytes,
    });
    expect(uploaded.status).toBe(201);
    await refusedRelease('2.0.6', foreign.ref, 422, 'BUNDLE_MISMATCH');
  });
});

describe('trust-root updates (ARCHITECTURE.md §4)', () => {
  async function current(): Promise<TrustRoot> {
    const chain = await callApi<RootChain>(server.url, '/api/v1/root');
    return chain.json.roots.at(-1)?.root as TrustRoot;
  }

  it('refuses a new version without the admin threshold', async () => {
    const root = { ...(await current()), version: (await current()).version + 1, members: [] };
    const unsigned = { root: { ...root, members: (await current()).members }, signatures: [] };
    await expectRefused(
      () => callApi(server.url, '/api/v1/root', { signer: alice, body: { signed: unsigned } }),
      422,
      'ROOT_UPDATE_INVALID',
    );
    const byNonAdmin = { root: unsigned.root, signatures: [await signRoot(unsigned.root, rita)] };
    await expectRefused(
      () => callApi(server.url, '/api/v1/root', { signer: alice, body: { signed: byNonAdmin } }),
      422,
      'ROOT_UPDATE_INVALID',
    );
  });

  it('refuses a version that skips ahead, even when signed', async () => {
    const base = await current();
    const root = { ...base, version: base.version + 2 };
    const signed = { root, signatures: [await signRoot(root, alice)] };
    await expectRefused(
      () => callApi(server.url, '/api/v1/root', { signer: alice, body: { signed } }),
      422,
      'ROOT_UPDATE_INVALID',
    );
  });
});
