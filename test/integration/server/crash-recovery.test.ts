import Database from 'better-sqlite3';
import { request } from 'node:http';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createApproval,
  serverKeyBytes,
  sha256,
  sha256Hex,
  signRequest,
  verifyLogEntries,
} from '../../../src/core';
import type { LogPage, PushResult, RootChain, StatementStatus } from '../../../src/shared/schemas';
import { makeTempDir, type TempDir } from '../../helpers/bundle-fixtures';
import {
  callApi,
  makeTestBundle,
  releaseStatement,
  startTestServer,
  testIdentity,
  type TestServer,
} from '../../helpers/server';

/**
 * SIGKILL of a spawned `airlock server start` (the built CLI) in the middle of a bundle upload and
 * of a push, then a restart on the same data directory: no partial bundle is ever served, the
 * database is intact, the log verifies, and a retried push applies exactly once (ARCHITECTURE.md §3, §6).
 */

// TEST-ONLY identities.
const alice = testIdentity('crash alice');
const bob = testIdentity('crash bob');

const APP = 'com.example.crash';
let dir: TempDir;
let server: TestServer | null = null;

beforeAll(() => {
  dir = makeTempDir('airlock-crash-');
});

afterEach(async () => {
  await server?.dispose();
  server = null;
});

afterAll(() => {
  dir.cleanup();
});

async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

function bundlePath(dataDir: string, sha: string): string {
  return join(dataDir, 'bundles', sha.slice(0, 2), sha);
}

/**
 * 'ok' when the database is intact: SQLite's integrity check (PostgreSQL's WAL replay has no
 * equivalent to ask), and on both that every channel's head is its last log row.
 */
async function integrityOk(running: TestServer): Promise<string> {
  if (running.backend === 'sqlite') {
    const db = new Database(join(running.dataDir, 'server.db'), {
      readonly: true,
      fileMustExist: true,
    });
    try {
      const verdict = db.pragma('integrity_check', { simple: true }) as string;
      if (verdict !== 'ok') return verdict;
    } finally {
      db.close();
    }
  }
  const torn = await running.query<{ name: string }>(
    `SELECT c.name FROM channels c WHERE c.seq <> COALESCE((SELECT MAX(l.seq) FROM log l WHERE l.channel_id = c.id), 0)
       OR c.head IS DISTINCT FROM (SELECT l.statement FROM log l WHERE l.channel_id = c.id AND l.seq = c.seq)`,
  );
  return torn.length === 0
    ? 'ok'
    : `channels whose head is not their last entry: ${torn.map((row) => row.name).join(', ')}`;
}

/**
 * Starts a signed upload of `bytes`, sends `sendFirst` bytes, and resolves once the server has
 * written some of them to its temp folder. The request is left hanging.
 */
async function startUpload(
  running: TestServer,
  sha: string,
  bytes: Buffer,
  sendFirst: number,
): Promise<void> {
  const url = `${running.url}/api/v1/bundles/${sha}`;
  const headers = await signRequest({ method: 'PUT', url, bodySha256: sha256(bytes) }, alice);
  const req = request(url, {
    method: 'PUT',
    headers: { ...headers, 'content-length': bytes.length },
  });
  req.on('error', () => undefined); // the server dies under it
  req.write(bytes.subarray(0, sendFirst));
  const tmp = join(running.dataDir, 'bundles', 'tmp');
  await waitFor(
    () => existsSync(tmp) && readdirSync(tmp).some((name) => statSync(join(tmp, name)).size > 0),
    'a partial upload in bundles/tmp',
  );
}

describe('SIGKILL during a bundle upload', () => {
  it('never serves the partial file, and a second upload completes', async () => {
    server = await startTestServer({ admins: [alice, bob], spawn: true });
    const bytes = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < bytes.length; i += 4096) bytes[i] = (i / 4096) % 251;
    const sha = sha256Hex(bytes);

    await startUpload(server, sha, bytes, 3 * 1024 * 1024);
    await server.kill();
    const tmp = join(server.dataDir, 'bundles', 'tmp');
    expect(readdirSync(tmp).length).toBeGreaterThan(0); // the kill did land mid-upload
    expect(existsSync(bundlePath(server.dataDir, sha))).toBe(false);

    await server.restart();
    expect(readdirSync(tmp)).toEqual([]); // leftovers cleaned at start-up
    const download = await fetch(`${server.url}/bundles/${sha}`);
    expect(download.status).toBe(404);
    expect(await integrityOk(server)).toBe('ok');

    const again = await callApi(server.url, `/api/v1/bundles/${sha}`, {
      method: 'PUT',
      signer: alice,
      body: bytes,
    });
    expect(again.status).toBe(201);
    expect(sha256Hex(readFileSync(bundlePath(server.dataDir, sha)))).toBe(sha);
    // Complete, but no statement names it: devices cannot fetch it (only released bundles are).
    expect((await fetch(`${server.url}/bundles/${sha}`)).status).toBe(404);
  });
});

describe('SIGKILL during a push', () => {
  async function prepareRelease(running: TestServer, label: string) {
    const bundle = await makeTestBundle(dir.path, { label, padding: 24 * 1024 * 1024 });
    const created = await callApi(running.url, '/api/v1/apps', {
      signer: alice,
      body: { app: APP, bundlePublicKey: bundle.publicKeyPem, channels: [{ name: 'production' }] },
    });
    expect(created.status).toBe(201);
    const uploaded = await callApi(running.url, `/api/v1/bundles/${bundle.ref.encryptedSha256}`, {
      method: 'PUT',
      signer: alice,
      body: bundle.bytes,
    });
    expect(uploaded.status).toBe(201);
    const statement = releaseStatement({
      app: APP,
      seq: 1,
      prev: null,
      proposer: alice,
      version: '1.0.0',
      bundle: bundle.ref,
    });
    const submitted = await callApi<StatementStatus>(running.url, '/api/v1/statements', {
      signer: alice,
      body: { statement, approvals: [await createApproval(statement, bob)] },
    });
    expect(submitted.status).toBe(201);
    return submitted.json.id;
  }

  function push(running: TestServer, id: string) {
    return callApi<PushResult>(running.url, `/api/v1/statements/${id}/push`, {
      method: 'POST',
      signer: bob,
      body: {},
    });
  }

  async function verifiedLog(running: TestServer) {
    const chain = (await callApi<RootChain>(running.url, '/api/v1/root')).json;
    const page = (
      await callApi<LogPage>(running.url, `/api/v1/apps/${APP}/channels/production/log`)
    ).json;
    const verdict = verifyLogEntries(page.entries, {
      roots: chain.roots,
      serverKey: serverKeyBytes(chain.server),
      app: APP,
      channel: 'production',
      now: new Date(),
    });
    return { page, verdict };
  }

  it('while the bundle is being checked: nothing applied, and the retry applies once', async () => {
    const scratch = join(dir.path, 'server-tmp');
    mkdirSync(scratch, { recursive: true });
    server = await startTestServer({
      admins: [alice, bob],
      spawn: true,
      env: { TMPDIR: scratch },
    });
    const id = await prepareRelease(server, 'kill-in-check');
    const inFlight = push(server, id).catch((error: unknown) => error);
    // verifyEncryptedBundle decrypts into a temp folder: the push is past its first checks.
    await waitFor(
      () => readdirSync(scratch).some((name) => name.startsWith('airlock-verify-')),
      'the bundle check of the push',
    );
    await server.kill();
    expect(await inFlight).toBeInstanceOf(Error);

    await server.restart();
    expect(await integrityOk(server)).toBe('ok');
    const before = await verifiedLog(server);
    expect(before.page.entries).toHaveLength(0);
    expect(before.page.head).toBeNull();

    const retried = await push(server, id);
    expect(retried.status, JSON.stringify(retried.json)).toBe(200);
    expect(retried.json).toMatchObject({ id, seq: 1, alreadyApplied: false });
    const again = await push(server, id);
    expect(again.json).toEqual({ ...retried.json, alreadyApplied: true });
    const after = await verifiedLog(server);
    expect(after.page.entries.map((entry) => entry.id)).toEqual([id]);
    expect(after.verdict).toMatchObject({ ok: true, verified: 1 });
  });

  it('right after the answer: the applied push survives, and the retry says alreadyApplied', async () => {
    server = await startTestServer({ admins: [alice, bob], spawn: true });
    const id = await prepareRelease(server, 'kill-after');
    const first = await push(server, id);
    expect(first.status).toBe(200);
    await server.kill();

    await server.restart();
    expect(await integrityOk(server)).toBe('ok');
    const retried = await push(server, id);
    expect(retried.json).toEqual({ ...first.json, alreadyApplied: true });
    const log = await verifiedLog(server);
    expect(log.page.entries).toHaveLength(1);
    expect(log.verdict).toMatchObject({ ok: true, verified: 1 });
    // The head is re-signed with a fresh time (freeze detection); it names the same position.
    const { time: _time, ...position } = first.json.checkpoint.checkpoint;
    expect(log.page.head?.checkpoint).toMatchObject(position);
  });
});
