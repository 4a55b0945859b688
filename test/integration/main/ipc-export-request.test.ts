import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatFingerprint } from '../../../src/core/crypto';
import { invokeHandler } from '../../../src/main/ipc/handle';
import type { AppErrorShape } from '../../../src/shared/errors';
import type { IpcChannel } from '../../../src/shared/ipc/channels';
import type { IpcRequestInput } from '../../../src/shared/ipc/contract';
import { SigningRequestSchema } from '../../../src/shared/schemas';
import { call, makeConsole, type TestConsole } from '../../e2e/console-window';
import { sampleWebBuild, writeTree } from '../../helpers/bundle-fixtures';
import { addMembers, callApi, startTestServer, type TestServer } from '../../helpers/server';

/**
 * `approvals:export-request` (DESIGN §5): a signing request for a statement this console holds,
 * written by the same code as `releases:propose … exportRequest`, against a real server on
 * loopback, real SQLite and the throwaway keychain. Alice proposes (admin); Olga (signing officer)
 * approves the exported file on a console that never connects. Also the trust-root view of
 * `servers:list` (members with fingerprints, policies) that the Members screen shows.
 */

const APP = 'com.example.exportreq';
const CHANNEL = 'production';

let work: string;
let webDir: string;
let server: TestServer;
let url: string;
let alice: TestConsole;
let olga: TestConsole;
let aliceKey = '';
let olgaKey = '';
let bundleKey = '';

async function refusal<C extends IpcChannel>(
  who: TestConsole,
  channel: C,
  input: IpcRequestInput<C>,
): Promise<AppErrorShape> {
  const result = await invokeHandler(who.table, channel, input);
  if (result.ok) throw new Error(`${channel} unexpectedly succeeded`);
  return result.error;
}

async function proposeRelease(version: string, exportRequest = false) {
  const folder = await call(alice, 'dialog:choose-folder', { purpose: 'web-build' });
  const built = await call(alice, 'bundles:build', {
    webDir: folder.path as string,
    bundleKeyId: bundleKey,
  });
  return call(alice, 'releases:propose', {
    server: url,
    app: APP,
    channel: CHANNEL,
    version,
    bundle: built.bundle.encryptedSha256,
    exportRequest,
  });
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'airlock-export-request-'));
  webDir = join(work, 'www');
  writeTree(webDir, sampleWebBuild());
  alice = makeConsole(work, 'xr-alice', () => webDir);
  olga = makeConsole(work, 'xr-olga', () => webDir);
  aliceKey = (await call(alice, 'keys:create', { type: 'identity', label: 'alice' })).keyId;
  olgaKey = (await call(olga, 'keys:create', { type: 'identity', label: 'olga' })).keyId;
  const bundle = await call(alice, 'keys:create', { type: 'bundle', label: 'app' });
  bundleKey = bundle.keyId;
  const aliceSigner = await alice.keys.identitySigner(aliceKey);
  const olgaSigner = await olga.keys.identitySigner(olgaKey);
  server = await startTestServer({ admins: [aliceSigner] });
  url = server.url;
  await addMembers(
    url,
    [aliceSigner],
    [{ signer: olgaSigner, roles: ['signing_officer'], name: 'Olga' }],
    undefined,
    [
      {
        app: APP,
        channel: CHANNEL,
        kind: 'release',
        threshold: 1,
        roles: ['release_manager', 'signing_officer'],
        require: { signing_officer: 1 },
        proposerCounts: false,
      },
    ],
  );
  const created = await callApi(url, '/api/v1/apps', {
    signer: aliceSigner,
    body: { app: APP, channels: [{ name: CHANNEL }], bundlePublicKey: bundle.publicKey },
  });
  expect(created.status).toBe(201);
  await call(alice, 'servers:connect', { url });
});

afterAll(async () => {
  await server?.dispose();
  await alice?.dispose();
  await olga?.dispose();
  rmSync(work, { recursive: true, force: true });
});

describe('approvals:export-request', () => {
  it('writes the signing request of a pending proposal; the exported file is approved offline and imported', async () => {
    const proposed = await proposeRelease('1.0.0');
    expect(proposed).toMatchObject({ seq: 1, state: 'pending', request: null });

    const offer = await call(alice, 'approvals:export-request', {
      server: url,
      statementId: proposed.statementId,
    });
    expect(offer.fileName).toBe(`${APP}-${CHANNEL}-seq1.airlock-request.json`);
    const request = SigningRequestSchema.parse(JSON.parse(offer.content));
    expect(request).toMatchObject({
      statementId: proposed.statementId,
      server: url,
      approvals: [],
      summary: { kind: 'release', version: '1.0.0' },
      policy: { threshold: 1, require: { signing_officer: 1 } },
    });
    const audit = await call(alice, 'audit:list', { limit: 1000 });
    expect(audit.entries.filter((entry) => entry.action === 'request.exported')).toHaveLength(1);

    const review = await call(olga, 'approvals:review', {
      source: 'request',
      content: offer.content,
    });
    expect(review).toMatchObject({
      statementId: proposed.statementId,
      rootPinned: 'unknown',
      expired: false,
      verdict: { satisfied: false },
    });
    expect(review.verdict.summary).toMatch(/^0\/1 approvals/);
    const approved = await call(olga, 'approvals:approve', {
      mode: 'request',
      content: offer.content,
    });
    const imported = await call(alice, 'approvals:import', {
      content: approved.approvalFile?.content as string,
    });
    expect(imported).toMatchObject({
      statementId: proposed.statementId,
      approver: olgaKey,
      pushQueued: true,
      applied: { seq: 1, alreadyApplied: false },
    });

    // Once the verified log holds it there is nothing left to approve.
    await call(alice, 'sync:run', {});
    const settled = await refusal(alice, 'approvals:export-request', {
      server: url,
      statementId: proposed.statementId,
    });
    expect(settled.code).toBe('INVALID_ARGUMENT');
    expect(settled.message).toMatch(/already applied/);
  });

  it('names and writes the file exactly as releases:propose does with exportRequest', async () => {
    const proposed = await proposeRelease('1.1.0', true);
    const offer = await call(alice, 'approvals:export-request', {
      server: url,
      statementId: proposed.statementId,
    });
    expect(offer.fileName).toBe(proposed.request?.fileName);
    const fromPropose = JSON.parse(proposed.request?.content as string) as { createdAt: string };
    const fromExport = JSON.parse(offer.content) as { createdAt: string };
    expect({ ...fromExport, createdAt: '' }).toEqual({ ...fromPropose, createdAt: '' });
  });

  it('refuses statements this console does not hold for that server, and malformed input', async () => {
    const unknown = await refusal(alice, 'approvals:export-request', {
      server: url,
      statementId: 'a'.repeat(64),
    });
    expect(unknown.code).toBe('NOT_FOUND');
    const elsewhere = await refusal(alice, 'approvals:export-request', {
      server: 'http://127.0.0.1:9',
      statementId: 'a'.repeat(64),
    });
    expect(elsewhere.code).toBe('NOT_FOUND');
    const notOlgas = await refusal(olga, 'approvals:export-request', {
      server: url,
      statementId: 'b'.repeat(64),
    });
    expect(notOlgas.code).toBe('NOT_FOUND');
    const malformed = await invokeHandler(alice.table, 'approvals:export-request', {
      server: url,
      statementId: 'not-an-id',
    });
    expect(malformed).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } });
    const extra = await invokeHandler(alice.table, 'approvals:export-request', {
      server: url,
      statementId: 'a'.repeat(64),
      bundle: true,
    });
    expect(extra).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } });
  });
});

describe('servers:list, the trust root as the Members screen shows it', () => {
  it('lists members with their fingerprints and the policies of the pinned root', async () => {
    const { servers } = await call(alice, 'servers:list', {});
    expect(servers).toHaveLength(1);
    const view = servers[0];
    expect(view).toMatchObject({ url, rootVersion: 2, rootThreshold: 1 });
    expect(Date.parse(view?.rootExpiresAt ?? '')).toBeGreaterThan(Date.now());
    expect(view?.members).toEqual(
      expect.arrayContaining([
        {
          keyId: aliceKey,
          name: expect.any(String) as unknown,
          roles: ['admin'],
          fingerprint: formatFingerprint(aliceKey),
        },
        {
          keyId: olgaKey,
          name: 'Olga',
          roles: ['signing_officer'],
          fingerprint: formatFingerprint(olgaKey),
        },
      ]),
    );
    expect(view?.policies).toContainEqual({
      app: APP,
      channel: CHANNEL,
      kind: 'release',
      threshold: 1,
      roles: ['release_manager', 'signing_officer'],
      require: { signing_officer: 1 },
      proposerCounts: false,
    });
    // The default policies of `airlock server init`: every kind, with no role minimums.
    expect(view?.policies.filter((policy) => policy.app === '*')).toHaveLength(5);
    expect(view?.policies.find((policy) => policy.app === '*')?.require).toEqual({});
  });
});
