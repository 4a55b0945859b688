import { request } from 'node:http';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bytesToHex,
  createApproval,
  rsaSignerFromPrivateKey,
  serverKeyBytes,
  sha256,
  sha256Hex,
  signRequest,
  signRoot,
  statementId,
  verifyLogEntries,
} from '../../../src/core';
import type { LogPage, RootChain, Statement, TrustRoot } from '../../../src/shared/schemas';
import { generateTestRsaKey, makeTempDir, type TempDir } from '../../helpers/bundle-fixtures';
import { runCli } from '../../helpers/cli';
import {
  DeviceSim,
  ReleaseDesk,
  type StatementBody,
  makeEncryptedBundle,
  mapLimit,
  seededDeviceIds,
  type BundleInfo,
} from '../../helpers/device-sim';
import { startNginx, type NginxLb } from '../../helpers/nginx';
import { startS3Server, type S3TestServer } from '../../helpers/s3-server';
import { callApi, freePort, startSpawned, testIdentity, type Running } from '../../helpers/server';
import { createTestDatabase, type TestDatabase } from '../../helpers/test-backend';

/**
 * Issue 15, "several processes, one truth": two `airlock server start` processes (the built CLI)
 * on one PostgreSQL database and one S3-compatible bucket, behind nginx from Debian's packages,
 * all three real and started here. Both processes take nginx's URL as their public one, so a
 * request signed once is valid on either; `via` sends it to the process a test picks.
 */

// TEST-ONLY identities.
const alice = testIdentity('scale-out alice');
const bob = testIdentity('scale-out bob');
const carol = testIdentity('scale-out carol');

const APP = 'com.example.scaleout';
const CHANNEL = 'production';
const PAUSED_CHANNEL = 'canary';
const HASHED_CHANNEL = 'hashed';
const TX_CHANNEL = 'killed-in-transaction';
const AUTO_PAUSE = { failureThreshold: 0.2, minSamples: 20, maxDevicesPerSource: 5 };
const key = generateTestRsaKey();

interface Process {
  readonly name: 'A' | 'B';
  readonly port: number;
  readonly url: string;
  running: Running | null;
}

let dir: TempDir;
let dataDir: string;
let scratch: string;
let db: TestDatabase;
let s3: S3TestServer;
let lb: NginxLb;
let a: Process;
let b: Process;

function serverArgs(): string[] {
  return [
    '--bundles',
    `s3://${s3.bucket}/airlock`,
    '--s3-endpoint',
    s3.endpoint,
    '--s3-region',
    s3.region,
    '--public-url',
    lb.url,
    '--trust-proxy',
    '127.0.0.1',
  ];
}

async function start(process: Process): Promise<void> {
  process.running = await startSpawned(dataDir, db, {
    admins: [],
    port: process.port,
    env: { ...s3.env, AWS_EC2_METADATA_DISABLED: 'true', TMPDIR: scratch },
    args: serverArgs(),
  });
}

async function kill(process: Process): Promise<void> {
  await process.running?.stop('SIGKILL');
  process.running = null;
}

/** A desk whose admin calls go to one process. */
function deskVia(process: Process): ReleaseDesk {
  return new ReleaseDesk(lb.url, alice, bob, process.url);
}

function phone(
  baseUrl: string,
  deviceId: string,
  options: { localAddress?: string; channel?: string } = {},
): DeviceSim {
  return new DeviceSim({
    baseUrl,
    appId: APP,
    publicKeyPem: key.publicKeyPem,
    deviceId,
    ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
    ...(options.channel === undefined ? {} : { defaultChannel: options.channel }),
  });
}

async function log(channel: string, via?: Process): Promise<LogPage> {
  const answer = await callApi<LogPage>(
    lb.url,
    `/api/v1/apps/${APP}/channels/${channel}/log?limit=1000`,
    via === undefined ? {} : { via: via.url },
  );
  expect(answer.status).toBe(200);
  return answer.json;
}

async function verifiedLog(channel: string): Promise<LogPage> {
  const chain = (await callApi<RootChain>(lb.url, '/api/v1/root')).json;
  const page = await log(channel);
  const verdict = verifyLogEntries(page.entries, {
    roots: chain.roots,
    serverKey: serverKeyBytes(chain.server),
    app: APP,
    channel,
    now: new Date(),
  });
  expect(verdict).toMatchObject({ ok: true });
  return page;
}

/** Polls `ready` every 10 ms; resolves with the milliseconds it took, or fails after `limitMs`. */
async function within(limitMs: number, what: string, ready: () => Promise<boolean>) {
  const started = performance.now();
  while (!(await ready())) {
    if (performance.now() - started > limitMs * 5) throw new Error(`never: ${what}`);
    await sleep(10);
  }
  return performance.now() - started;
}

/**
 * Alice's statement at the channel's next position (`status`), made `ageMs` ago (distinct ids for
 * the same content), valid for an hour.
 */
function nextStatement(
  channel: string,
  status: { seq: number; head: string | null },
  body: StatementBody,
  ageMs = 1000,
): Statement {
  const now = Date.now();
  return {
    v: 1,
    app: APP,
    channel,
    seq: status.seq + 1,
    prev: status.head,
    createdAt: new Date(now - ageMs).toISOString(),
    expiresAt: new Date(now + 3_600_000).toISOString(),
    proposer: alice.keyId,
    ...body,
  };
}

async function bundleOf(label: string): Promise<{ path: string; info: BundleInfo }> {
  return makeEncryptedBundle(dir.path, rsaSignerFromPrivateKey(key.privateKey), label);
}

beforeAll(async () => {
  dir = makeTempDir('airlock-scale-out-');
  dataDir = join(mkdtempSync(join(tmpdir(), 'airlock-scale-out-data-')), 'data');
  scratch = join(dir.path, 'server-tmp');
  mkdirSync(scratch, { recursive: true });
  db = await createTestDatabase('scaleout');
  s3 = await startS3Server();
  const init = await runCli(
    [
      'server',
      'init',
      '--data',
      dataDir,
      '--database',
      db.url,
      '--admin',
      bytesToHex(alice.publicKey),
      '--admin',
      bytesToHex(bob.publicKey),
      '--json',
    ],
    { env: db.env },
  );
  expect(init.stderr).toBe('');
  expect(init.code).toBe(0);
  expect(JSON.parse(init.stdout)).toMatchObject({ database: db.url });
  // No server.db: the state is in PostgreSQL; the folder keeps the server key and bundles/.
  expect(readdirSync(dataDir).sort()).toEqual(['bundles', 'server-key.json']);
  const [portA, portB] = [await freePort(), await freePort()];
  a = { name: 'A', port: portA, url: `http://127.0.0.1:${portA}`, running: null };
  b = { name: 'B', port: portB, url: `http://127.0.0.1:${portB}`, running: null };
  lb = await startNginx({ upstreams: [a.url, b.url] });
  await Promise.all([start(a), start(b)]);
  await deskVia(a).createApp(APP, key.publicKeyPem, [
    { name: CHANNEL },
    { name: PAUSED_CHANNEL, settings: { autoPause: AUTO_PAUSE } },
    { name: HASHED_CHANNEL, settings: { autoPause: AUTO_PAUSE } },
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.all([a?.running?.stop('SIGTERM'), b?.running?.stop('SIGTERM')]);
  await lb?.stop();
  await s3?.stop();
  await db?.drop();
  if (dataDir !== undefined) rmSync(join(dataDir, '..'), { recursive: true, force: true });
  dir?.cleanup();
});

describe('two processes on one PostgreSQL and one bucket, behind nginx', () => {
  it('serves a release pushed through one process from the other within a second', async () => {
    const bundle = await bundleOf('first');
    // A new device for each check: the per-device rate limit would refuse a device polling.
    const devices = seededDeviceIds('scale-first', 2000).map((id) => phone(b.url, id));
    const next = (): DeviceSim => devices.pop() as DeviceSim;
    expect((await next().checkForUpdate()).available).toBe(false);
    await deskVia(a).release(APP, CHANNEL, '1.1.0', bundle);
    const ms = await within(1000, 'B offers 1.1.0', async () => {
      const check = await next().checkForUpdate();
      return check.available && check.body.version === '1.1.0';
    });
    expect(ms).toBeLessThan(1000);
    // Through the balancer (either process), the whole install: the bundle from the bucket.
    const viaLb = phone(lb.url, seededDeviceIds('scale-first-lb', 1)[0] as string);
    expect(await viaLb.update()).toMatchObject({ result: 'installed', version: '1.1.0' });
    // One head checkpoint for the deployment: both processes serve the same signature.
    const [fromA, fromB] = [await log(CHANNEL, a), await log(CHANNEL, b)];
    expect(fromA.head).not.toBeNull();
    expect(fromB.head).toEqual(fromA.head);
    await verifiedLog(CHANNEL);
  });

  it('applies exactly one of two pushes racing for one seq through different processes', async () => {
    for (let round = 0; round < 4; round++) {
      const status = await deskVia(a).channelStatus(APP, CHANNEL);
      const statements = [20, 30].map((percent, i) =>
        nextStatement(
          CHANNEL,
          status,
          { kind: 'rollout', rollout: { percent: percent + round } },
          1000 + i,
        ),
      );
      for (const statement of statements) {
        const submitted = await callApi(lb.url, '/api/v1/statements', {
          signer: alice,
          body: { statement, approvals: [await createApproval(statement, bob)] },
          via: a.url,
        });
        expect(submitted.status).toBe(201);
      }
      const answers = await Promise.all(
        statements.map((statement, i) =>
          callApi<{ error?: string }>(lb.url, `/api/v1/statements/${statementId(statement)}/push`, {
            signer: bob,
            body: {},
            via: (i === 0 ? a : b).url,
          }),
        ),
      );
      expect(answers.map((answer) => answer.status).sort()).toEqual([200, 409]);
      // Refused in the apply transaction (SEQ_CONFLICT) or, when the winner had committed by
      // then, by the check before it (STALE); never both applied (the contract suite covers the
      // transaction's re-check on its own).
      expect(['SEQ_CONFLICT', 'STALE']).toContain(
        answers.find((answer) => answer.status === 409)?.json.error,
      );
      const entries = (await log(CHANNEL)).entries.filter((entry) => entry.seq === status.seq + 1);
      expect(entries).toHaveLength(1);
    }
    await verifiedLog(CHANNEL);
  });

  it('refuses a nonce on one process that the other has seen', async () => {
    const url = `${lb.url}/api/v1/apps/${APP}/channels/${CHANNEL}/pending`;
    for (const [first, second] of [
      [a, b],
      [b, a],
    ] as const) {
      const headers = await signRequest(
        { method: 'GET', url, bodySha256: sha256(new Uint8Array()) },
        bob,
      );
      const once = await fetch(`${first.url}${new URL(url).pathname}`, { headers });
      expect(once.status).toBe(200);
      const replay = await fetch(`${second.url}${new URL(url).pathname}`, { headers });
      expect(replay.status).toBe(401);
      expect(((await replay.json()) as { error: string }).error).toBe('NONCE_REUSED');
    }
  });

  it('stops a member removed through one process from signing on the other within a second', async () => {
    const pending = (via: Process) =>
      callApi<{ error?: string }>(lb.url, `/api/v1/apps/${APP}/channels/${CHANNEL}/pending`, {
        signer: carol,
        via: via.url,
      });
    const chain = (await callApi<RootChain>(lb.url, '/api/v1/root')).json;
    const current = chain.roots.at(-1)?.root as TrustRoot;
    const withCarol: TrustRoot = {
      ...current,
      version: current.version + 1,
      members: [
        ...current.members,
        {
          keyId: carol.keyId,
          publicKey: bytesToHex(carol.publicKey),
          name: 'Carol',
          roles: ['release_manager'],
        },
      ],
    };
    await submitRoot(withCarol, a);
    await within(1000, 'B knows Carol', async () => (await pending(b)).status === 200);
    const withoutCarol: TrustRoot = {
      ...withCarol,
      version: withCarol.version + 1,
      members: withCarol.members.filter((member) => member.keyId !== carol.keyId),
    };
    await submitRoot(withoutCarol, a);
    const ms = await within(1000, 'B refuses Carol', async () => (await pending(b)).status !== 200);
    expect(ms).toBeLessThan(1000);
    const refused = await pending(b);
    expect(refused.status).toBe(401);
    expect(refused.json.error).toBe('UNKNOWN_KEY');
  });

  it('pauses automatically once, with failure reports spread over both processes', async () => {
    const bundle = await bundleOf('broken');
    await deskVia(b).release(APP, PAUSED_CHANNEL, '1.1.0', bundle);
    const fleet = seededDeviceIds('scale-broken', 120).map((id, i) =>
      phone((i % 2 === 0 ? a : b).url, id, {
        localAddress: `127.0.${20 + Math.floor(i / 100)}.${1 + (i % 100)}`,
        channel: PAUSED_CHANNEL,
      }),
    );
    // The release must be in both processes' views before the devices check.
    const probes = seededDeviceIds('scale-probe', 2000);
    await within(1000, 'both offer the release', async () => {
      const checks = await Promise.all(
        [a, b].map((p) =>
          phone(p.url, probes.pop() as string, { channel: PAUSED_CHANNEL }).checkForUpdate(),
        ),
      );
      return checks.every((check) => check.available);
    });
    await mapLimit(fleet, 16, async (device) => {
      const check = await device.checkForUpdate();
      if (!check.available) return;
      const { status } = await device.sendStats([device.statEvent('update_fail', '1.1.0')]);
      expect(status).toBe(200);
    });
    const entries = (await log(PAUSED_CHANNEL)).entries;
    const pauses = entries.filter((entry) => entry.statement.kind === 'pause');
    expect(pauses).toHaveLength(1);
    expect(pauses[0]?.statement).toMatchObject({ automatic: true });
    await verifiedLog(PAUSED_CHANNEL);
  });
});

describe('nginx balancing by client address (DEPLOYMENT.md)', () => {
  it('counts every failure report, as one process would: 24 devices pause at minSamples 20', async () => {
    // Round robin would send most devices' /stats to the process that did not hand them the
    // release (handed.ts), leaving about half of the 24 reports counted: below minSamples.
    const hashed = await startNginx({ upstreams: [a.url, b.url], balance: 'client_address' });
    try {
      await deskVia(a).release(APP, HASHED_CHANNEL, '1.1.0', await bundleOf('hashed'));
      const probes = seededDeviceIds('scale-hash-probe', 2000);
      await within(1000, 'both offer the release', async () => {
        const checks = await Promise.all(
          [a, b].map((p) =>
            phone(p.url, probes.pop() as string, { channel: HASHED_CHANNEL }).checkForUpdate(),
          ),
        );
        return checks.every((check) => check.available);
      });
      const fleet = seededDeviceIds('scale-hash', 24).map((id, i) =>
        phone(hashed.url, id, { localAddress: `127.0.40.${1 + i}`, channel: HASHED_CHANNEL }),
      );
      await mapLimit(fleet, 8, async (device) => {
        const check = await device.checkForUpdate();
        expect(check.available).toBe(true);
        const { status } = await device.sendStats([device.statEvent('update_fail', '1.1.0')]);
        expect(status).toBe(200);
      });
      // Both processes served some of the devices.
      const upstreams = new Set(
        [...hashed.accessLog().matchAll(/upstream=(\S+)/g)].map((match) => match[1]),
      );
      expect(upstreams.size).toBe(2);
      const pauses = (await log(HASHED_CHANNEL)).entries.filter(
        (entry) => entry.statement.kind === 'pause',
      );
      expect(pauses).toHaveLength(1);
      expect(pauses[0]?.statement).toMatchObject({ automatic: true });
    } finally {
      await hashed.stop();
    }
  });
});

async function submitRoot(root: TrustRoot, via: Process): Promise<void> {
  const signatures = await Promise.all([alice, bob].map((admin) => signRoot(root, admin)));
  const answer = await callApi(lb.url, '/api/v1/root', {
    signer: alice,
    body: { signed: { root, signatures } },
    via: via.url,
  });
  expect(answer.status).toBe(200);
}

describe('SIGKILL of one process', () => {
  it('during an upload to the bucket: nothing partial anywhere, and the other takes the upload', async () => {
    const bytes = Buffer.alloc(24 * 1024 * 1024);
    for (let i = 0; i < bytes.length; i += 4096) bytes[i] = (i / 4096) % 251;
    const sha = sha256Hex(bytes);
    const url = `${lb.url}/api/v1/bundles/${sha}`;
    const headers = await signRequest({ method: 'PUT', url, bodySha256: sha256(bytes) }, alice);
    const earlier = new Set(s3.pendingUploads());
    const upload = request(`${a.url}/api/v1/bundles/${sha}`, {
      method: 'PUT',
      headers: { ...headers, 'content-length': bytes.length },
    });
    upload.on('error', () => undefined); // the process dies under it
    upload.write(bytes.subarray(0, 12 * 1024 * 1024));
    await within(20_000, 'a multipart upload in the bucket', () =>
      Promise.resolve(s3.pendingUploads().some((id) => !earlier.has(id))),
    );
    await kill(a);
    expect(s3.objects().some((name) => name.endsWith(sha))).toBe(false);
    expect((await fetch(`${b.url}/bundles/${sha}`)).status).toBe(404);
    const again = await callApi(lb.url, `/api/v1/bundles/${sha}`, {
      method: 'PUT',
      signer: alice,
      body: bytes,
      via: b.url,
    });
    expect(again.status).toBe(201);
    expect(s3.objects()).toContain(`airlock/${sha.slice(0, 2)}/${sha}`);
    await start(a);
  });

  it('during a push: nothing applied, the log verifies, the retry on the other applies once', async () => {
    const bundle = await bundleOf('kill-in-push');
    const desk = deskVia(a);
    await desk.uploadBundle(bundle);
    const status = await desk.channelStatus(APP, CHANNEL);
    const statement = nextStatement(CHANNEL, status, {
      kind: 'release',
      release: {
        version: '2.0.0',
        minNativeVersion: '1.0.0',
        rollout: { percent: 100 },
        bundle: bundle.info,
      },
    });
    const id = statementId(statement);
    const approval = await createApproval(statement, bob);
    expect(
      (
        await callApi(lb.url, '/api/v1/statements', {
          signer: alice,
          body: { statement, approvals: [] },
          via: a.url,
        })
      ).status,
    ).toBe(201);
    for (const name of readdirSync(scratch))
      rmSync(join(scratch, name), { recursive: true, force: true });
    const inFlight = callApi(lb.url, `/api/v1/statements/${id}/push`, {
      signer: bob,
      body: { approvals: [approval] },
      via: a.url,
    }).catch((error: unknown) => error);
    // verifyEncryptedBundle decrypts into a temp folder: the push is past its first checks.
    await within(20_000, 'the bundle check of the push', () =>
      Promise.resolve(readdirSync(scratch).some((name) => name.startsWith('airlock-verify-'))),
    );
    await kill(a);
    expect(await inFlight).toBeInstanceOf(Error);
    expect((await log(CHANNEL, b)).entries.some((entry) => entry.id === id)).toBe(false);
    const retried = await callApi<{ alreadyApplied?: boolean }>(
      lb.url,
      `/api/v1/statements/${id}/push`,
      {
        signer: bob,
        body: { approvals: [approval] },
        via: b.url,
      },
    );
    expect(retried.status).toBe(200);
    await start(a);
    const again = await callApi<{ alreadyApplied?: boolean }>(
      lb.url,
      `/api/v1/statements/${id}/push`,
      {
        signer: bob,
        body: { approvals: [approval] },
        via: a.url,
      },
    );
    expect(again.status).toBe(200);
    expect(again.json.alreadyApplied).toBe(true);
    const page = await verifiedLog(CHANNEL);
    expect(page.entries.filter((entry) => entry.id === id)).toHaveLength(1);
  });
});

describe('SIGKILL inside the apply transaction', () => {
  it('rolls back: nothing of the push is kept, and the retry on the other process applies once', async () => {
    await deskVia(a).call('POST', `/apps/${APP}/channels`, { name: TX_CHANNEL });
    await deskVia(a).release(APP, TX_CHANNEL, '1.1.0', await bundleOf('tx-kill'));
    const status = await deskVia(a).channelStatus(APP, TX_CHANNEL);
    const statement = nextStatement(TX_CHANNEL, status, {
      kind: 'rollout',
      rollout: { percent: 77 },
    });
    const id = statementId(statement);
    const approval = await createApproval(statement, bob);
    const submitted = await callApi(lb.url, '/api/v1/statements', {
      signer: alice,
      body: { statement, approvals: [] },
      via: a.url,
    });
    expect(submitted.status).toBe(201);
    // Hold the log table: the push's transaction stops at its INSERT INTO log, after it has
    // locked the channel and stored the push's approval.
    const holder = new pg.Client(db.config);
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE log IN EXCLUSIVE MODE');
      const inFlight = callApi(lb.url, `/api/v1/statements/${id}/push`, {
        signer: bob,
        body: { approvals: [approval] },
        via: a.url,
      }).catch((error: unknown) => error);
      await within(4_000, 'the push waiting on the log inside its transaction', async () => {
        // A fresh connection: statistics views are a snapshot per transaction (the holder's is old).
        const waiting = await db.query(
          `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND backend_xid IS NOT NULL
             AND application_name LIKE 'airlock %'`,
        );
        return waiting.length > 0;
      });
      await kill(a);
      expect(await inFlight).toBeInstanceOf(Error);
      await holder.query('COMMIT');
    } finally {
      await holder.end();
    }
    // The dead client's transaction ends in a rollback once its backend hears the socket close.
    await within(10_000, 'no transaction of the killed process left', async () => {
      const open = await db.query(
        `SELECT 1 FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND application_name LIKE 'airlock %'`,
      );
      return open.length === 0;
    });
    expect(await db.query('SELECT 1 FROM log WHERE statement = $1', [id])).toEqual([]);
    expect(await db.query('SELECT 1 FROM approvals WHERE statement = $1', [id])).toEqual([]);
    expect((await deskVia(b).channelStatus(APP, TX_CHANNEL)).seq).toBe(status.seq);
    const retried = await callApi<{ alreadyApplied?: boolean }>(
      lb.url,
      `/api/v1/statements/${id}/push`,
      { signer: bob, body: { approvals: [approval] }, via: b.url },
    );
    expect(retried.status).toBe(200);
    expect(retried.json.alreadyApplied).toBe(false);
    await start(a);
    const page = await verifiedLog(TX_CHANNEL);
    expect(page.entries.filter((entry) => entry.id === id)).toHaveLength(1);
  });
});

describe('airlock server init|start --database refusals', () => {
  it('refuses a second init of the same database, a foreign server key and a password in the URL', async () => {
    const otherDir = join(dir.path, 'other-data');
    const again = await runCli(
      [
        'server',
        'init',
        '--data',
        otherDir,
        '--database',
        db.url,
        '--admin',
        bytesToHex(alice.publicKey),
      ],
      { env: db.env },
    );
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/holds an Airlock server already/);

    const foreign = join(dir.path, 'foreign-data');
    const scratchDb = await createTestDatabase('foreign');
    try {
      const made = await runCli(
        [
          'server',
          'init',
          '--data',
          foreign,
          '--database',
          scratchDb.url,
          '--admin',
          bytesToHex(alice.publicKey),
        ],
        { env: scratchDb.env },
      );
      expect(made.code).toBe(0);
      const wrongKey = await runCli(
        ['server', 'start', '--data', foreign, '--database', db.url, '--port', '0'],
        { env: db.env, timeoutMs: 30_000 },
      );
      expect(wrongKey.code).not.toBe(0);
      expect(wrongKey.stderr).toMatch(/initialised for server key/);
    } finally {
      await scratchDb.drop();
    }

    const withPassword = db.url.replace('airlock@', 'airlock:secret@');
    const refused = await runCli([
      'server',
      'start',
      '--data',
      dataDir,
      '--database',
      withPassword,
    ]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/PGPASSWORD/);
  });
});
