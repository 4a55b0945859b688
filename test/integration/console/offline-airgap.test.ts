import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import keytar from '@github/keytar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatFingerprint } from '../../../src/core/crypto';
import { openStore } from '../../../src/main/db/connection';
import { CLI_PATH, REPO_ROOT, runCli, runCliOk } from '../../helpers/cli';
import { DeviceSim } from '../../helpers/device-sim';
import { freePort, startTestServer, type TestServer } from '../../helpers/server';

/**
 * Issue 4 end to end through the built CLI, with identity and bundle keys in the real (throwaway)
 * keychain: the air-gapped round trip across two data directories (the officer's never sees a
 * server), and offline work that waits in the outbox and is delivered exactly once, even when the
 * CLI is killed between the server applying a push and the console hearing about it. A device
 * simulator receives each release.
 */

const APP = 'com.example.airgap';
const SERVICE = 'airlock';

interface Person {
  keyId: string;
  publicKey: string;
  env: NodeJS.ProcessEnv;
}

let work: string;
let server: TestServer;
let gate: Gate;
let url: string;
const made: string[] = [];
const alice: Person = { keyId: '', publicKey: '', env: {} }; // admin, proposes and pushes
const officer: Person = { keyId: '', publicKey: '', env: {} }; // signing officer, air-gapped
let bundleKeyId = '';
let bundlePem = '';

/**
 * The network between the console and the server, on a fixed port: closed (offline), open, or
 * open but cutting the CLI down right after the server has applied a push and before the answer
 * reaches it (the worst moment for a crash).
 */
interface Gate {
  open(mode: 'pass' | 'kill-after-push', victim?: () => ChildProcess | null): Promise<void>;
  close(): Promise<void>;
  pushesForwarded: number;
}

function makeGate(port: number, target: () => string): Gate {
  let server: Server | null = null;
  const gate: Gate = {
    pushesForwarded: 0,
    async open(mode, victim) {
      server = createServer((req, res) => {
        void (async () => {
          const chunks: Buffer[] = [];
          for await (const chunk of req) chunks.push(chunk as Buffer);
          const body = Buffer.concat(chunks);
          // Signatures cover @target-uri: forward with the Host the client signed for.
          const upstream = await forward(
            target(),
            req.method ?? 'GET',
            req.url ?? '/',
            req.headers,
            body,
          );
          const text = upstream.body;
          if (/\/push$/.test(req.url ?? '')) {
            gate.pushesForwarded += 1;
            if (mode === 'kill-after-push') {
              victim?.()?.kill('SIGKILL');
              res.destroy();
              return;
            }
          }
          res.writeHead(upstream.status, { ...upstream.headers, connection: 'close' });
          res.end(text);
        })().catch(() => res.destroy());
      });
      await new Promise<void>((resolve) => server?.listen(port, '127.0.0.1', resolve));
    },
    async close() {
      const current = server;
      server = null;
      if (current !== null) {
        current.closeAllConnections();
        await new Promise<void>((resolve) => current.close(() => resolve()));
      }
    },
  };
  return gate;
}

/** One request to `base`, keeping the original headers (Host included). */
function forward(
  base: string,
  method: string,
  path: string,
  headers: IncomingHttpHeaders,
  body: Buffer,
): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const target = new URL(base);
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        method,
        path,
        headers: { ...headers, connection: 'close' },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (chunk: Buffer) => parts.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 502,
            headers: res.headers,
            body: Buffer.concat(parts),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function as(who: Person, args: string[]) {
  return runCliOk(args, { env: who.env, cwd: work });
}

async function keyFor(home: string, type: 'identity' | 'bundle'): Promise<string> {
  const { stdout } = await runCliOk(['keys', 'create', '--type', type, '--label', 'airgap test'], {
    env: { AIRLOCK_HOME: home },
  });
  const keyId = stdout.trim();
  made.push(`${type}:${keyId}`);
  return keyId;
}

async function person(target: Person, name: string): Promise<void> {
  const home = join(work, `home-${name}`);
  mkdirSync(home);
  target.keyId = await keyFor(home, 'identity');
  target.publicKey = (
    await runCliOk(['keys', 'export-public', target.keyId, '--format', 'hex'], {
      env: { AIRLOCK_HOME: home },
    })
  ).stdout.trim();
  target.env = { AIRLOCK_HOME: home, AIRLOCK_IDENTITY: target.keyId };
}

async function buildRelease(version: string): Promise<string> {
  const web = join(work, `web-${version}`);
  mkdirSync(join(web, 'assets'), { recursive: true });
  writeFileSync(join(web, 'index.html'), `<!doctype html><title>${version}</title>`);
  writeFileSync(join(web, 'assets', 'app.js'), `console.log(${JSON.stringify(version)});\n`);
  if (version !== '1.0.0') writeFileSync(join(web, 'assets', 'new.css'), 'body{margin:0}\n');
  const zip = join(work, `${version}.zip`);
  const enc = join(work, `${version}.enc`);
  await as(alice, ['bundle', 'build', web, '--out', zip]);
  await as(alice, ['bundle', 'encrypt', zip, '--key', bundleKeyId, '--out', enc]);
  return enc;
}

function phone(): DeviceSim {
  return new DeviceSim({
    baseUrl: url,
    appId: APP,
    publicKeyPem: bundlePem,
    versionBuild: '0.9.0',
  });
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'airlock-airgap-'));
  await person(alice, 'alice');
  await person(officer, 'officer');
  bundleKeyId = await keyFor(alice.env['AIRLOCK_HOME'] as string, 'bundle');
  bundlePem = (await as(alice, ['keys', 'export-public', bundleKeyId, '--format', 'pem'])).stdout;
  writeFileSync(join(work, 'bundle.pub.pem'), bundlePem);
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  // Everyone reaches the server through the gate: that is the URL requests are signed for.
  server = await startTestServer({ admins: [alice.publicKey], start: { publicUrl: url } });
  gate = makeGate(port, () => server.url);
  await gate.open('pass');
  writeFileSync(join(work, 'officer.hex'), officer.publicKey);
  await as(alice, [
    'members',
    'add',
    '--server',
    url,
    '--key',
    'officer.hex',
    '--name',
    'officer',
    '--role',
    'signing_officer',
  ]);
  await as(alice, [
    'apps',
    'create',
    '--server',
    url,
    '--app',
    APP,
    '--channel',
    'production',
    '--bundle-public-key',
    'bundle.pub.pem',
  ]);
}, 120_000);

afterAll(async () => {
  await gate?.close();
  await server?.dispose();
  for (const account of made) await keytar.deletePassword(SERVICE, account);
  rmSync(work, { recursive: true, force: true });
});

describe('air-gapped approval by file', () => {
  it('pinned the server on first contact (members add) and shows the fingerprint to compare', async () => {
    const { stdout } = await as(alice, ['connect', url, '--json']);
    expect(JSON.parse(stdout)).toMatchObject({
      firstContact: false,
      rootVersion: 2,
      rootId: server.rootId,
      fingerprint: formatFingerprint(server.rootId),
    });
  });

  it('proposes with a signing request, approves it offline, imports the approval and pushes', async () => {
    const enc = await buildRelease('1.0.0');
    const proposed = await as(alice, [
      'propose',
      '--server',
      url,
      '--app',
      APP,
      '--channel',
      'production',
      '--version',
      '1.0.0',
      '--bundle',
      enc,
      '--out',
      'request-1.json',
      '--json',
    ]);
    const { statementId, state } = JSON.parse(proposed.stdout) as {
      statementId: string;
      state: string;
    };
    expect(state).toBe('pending');

    // The officer's machine: its own data directory, never configured with a server. It refuses
    // to sign until the officer confirms the fingerprint the administrator gave out of band.
    const unconfirmed = await runCli(
      ['approve', 'request-1.json', '--key', officer.keyId, '--out', 'approval-1.json'],
      { env: officer.env, cwd: work },
    );
    expect(unconfirmed.code).toBe(1);
    expect(unconfirmed.stderr).toContain('has not pinned');
    const approved = await as(officer, [
      'approve',
      'request-1.json',
      '--key',
      officer.keyId,
      '--out',
      'approval-1.json',
      '--root-fingerprint',
      formatFingerprint(server.rootId),
    ]);
    expect(approved.stderr).toContain('release 1.0.0 to com.example.airgap/production');
    const officerDb = openStore(officer.env['AIRLOCK_HOME'] as string);
    try {
      // The confirmed request pinned the server here, from its verified chain.
      expect(officerDb.prepare('SELECT pinned_root_id FROM servers').pluck().all()).toEqual([
        server.rootId,
      ]);
      expect(
        officerDb
          .prepare("SELECT count(*) FROM audit WHERE action = 'approval.signed'")
          .pluck()
          .get(),
      ).toBe(1);
    } finally {
      officerDb.close();
    }

    const imported = await as(alice, ['import', 'approval-1.json', '--json']);
    const result = JSON.parse(imported.stdout) as {
      statementId: string;
      pushed: { seq: number } | null;
    };
    expect(result.statementId).toBe(statementId);
    expect(result.pushed).toMatchObject({ seq: 1, alreadyApplied: false });
    expect(await phone().update()).toMatchObject({ result: 'installed', version: '1.0.0' });
  });

  it('refuses a tampered request, an approval for another statement, and a duplicate', async () => {
    const request = JSON.parse(readFileSync(join(work, 'request-1.json'), 'utf8')) as {
      summary: { rolloutPercent: number };
    };
    request.summary.rolloutPercent = 1;
    writeFileSync(join(work, 'tampered.json'), JSON.stringify(request));
    const tampered = await runCli(
      ['approve', 'tampered.json', '--key', officer.keyId, '--out', 'x.json'],
      { env: officer.env, cwd: work },
    );
    expect(tampered.code).toBe(1);
    expect(tampered.stderr).toContain('the file was altered');
    const duplicate = await runCli(['import', 'approval-1.json'], { env: alice.env, cwd: work });
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toContain('already approved');
  });
});

describe('offline-first: the outbox', () => {
  it('takes work while the server is unreachable and delivers it exactly once when it is back, across a crash', async () => {
    await as(alice, ['sync']);
    await gate.close(); // offline from here

    const enc = await buildRelease('1.1.0');
    const proposed = await as(alice, [
      'propose',
      '--server',
      url,
      '--app',
      APP,
      '--channel',
      'production',
      '--version',
      '1.1.0',
      '--bundle',
      enc,
      '--out',
      'request-2.json',
      '--json',
    ]);
    const { statementId, state } = JSON.parse(proposed.stdout) as {
      statementId: string;
      state: string;
    };
    expect(state).toBe('queued');
    const request = JSON.parse(readFileSync(join(work, 'request-2.json'), 'utf8')) as {
      statement: { seq: number };
      summary: { fileDiff: { added: string[]; changed: string[] } };
    };
    expect(request.statement.seq).toBe(2);
    expect(request.summary.fileDiff).toMatchObject({
      added: ['assets/new.css'],
      changed: ['assets/app.js', 'index.html'],
    });

    await as(officer, [
      'approve',
      'request-2.json',
      '--key',
      officer.keyId,
      '--out',
      'approval-2.json',
    ]);
    const imported = await as(alice, ['import', 'approval-2.json', '--json']);
    expect(JSON.parse(imported.stdout)).toMatchObject({ pushQueued: true, pushed: null });
    const waiting = JSON.parse((await as(alice, ['outbox', '--json'])).stdout) as {
      items: { payload: { kind: string }; lastError: string | null }[];
    };
    expect(waiting.items.map((item) => item.payload.kind)).toEqual([
      'upload-bundle',
      'submit-statement',
      'add-approvals',
      'push',
    ]);
    expect(waiting.items[0]?.lastError).toContain('Cannot reach the Airlock server');

    // The server comes back, and the CLI dies right after the server applied the push.
    let child: ChildProcess | null = null;
    await gate.open('kill-after-push', () => child);
    child = spawn(process.execPath, [CLI_PATH, 'sync', '--server', url], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...alice.env },
      stdio: 'ignore',
    });
    const killed = await new Promise<NodeJS.Signals | null>((resolve) =>
      child?.once('exit', (_code, signal) => resolve(signal)),
    );
    expect(killed).toBe('SIGKILL');
    await gate.close();
    const stillQueued = JSON.parse((await as(alice, ['outbox', '--json'])).stdout) as {
      items: { payload: { kind: string } }[];
    };
    expect(stillQueued.items.map((item) => item.payload.kind)).toEqual(['push']);

    // The retry goes through; the server applies the push once.
    await gate.open('pass');
    const synced = await as(alice, ['sync', '--json']);
    expect(synced.stderr).toContain('Delivered push');
    // The first release's push, the one cut down with the CLI, and its retry.
    expect(gate.pushesForwarded).toBe(3);
    expect((await as(alice, ['outbox'])).stdout).toContain('The outbox is empty');
    const log = (await (
      await fetch(`${url}/api/v1/apps/${APP}/channels/production/log`)
    ).json()) as {
      entries: { id: string; seq: number }[];
    };
    expect(log.entries.map((entry) => entry.seq)).toEqual([1, 2]);
    expect(log.entries.filter((entry) => entry.id === statementId)).toHaveLength(1);
    expect(await phone().update()).toMatchObject({ result: 'installed', version: '1.1.0' });
  }, 120_000);

  it('keeps an audit trail that verifies on both machines', async () => {
    for (const who of [alice, officer]) {
      const { stdout } = await as(who, ['audit', 'verify']);
      expect(stdout).toMatch(/^ok: \d+ entries/);
    }
    const entries = JSON.parse((await as(alice, ['audit', 'list', '--json'])).stdout) as {
      entries: { action: string }[];
    };
    const actions = new Set(entries.entries.map((entry) => entry.action));
    for (const action of [
      'key.created',
      'server.connected',
      'statement.proposed',
      'request.exported',
      'approval.imported',
      'push.queued',
      'push.delivered',
    ]) {
      expect(actions).toContain(action);
    }
  });
});
