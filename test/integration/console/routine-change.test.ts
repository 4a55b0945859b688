import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import keytar from '@github/keytar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatFingerprint } from '../../../src/core/crypto';
import type { SigningRequest } from '../../../src/shared/schemas';
import { runCli, runCliOk, type CliResult } from '../../helpers/cli';
import { startTestServer, type TestServer } from '../../helpers/server';

/**
 * Issue 12: the release workflow across routine change, as a team runs it with the built CLI, each
 * person in a data directory of their own and every key in the real (throwaway) keychain:
 *
 * - Bob's console pins the server early (trust root version 2); the admin then makes three member
 *   changes, a member added in the last one approves online, and Bob's `sync` is clean, agrees with
 *   `log verify`, and his next signing request carries the current chain.
 * - A signing request states only verified facts: the release it replaces and the files added and
 *   removed; after a rollback, the release the channel runs again.
 * - Edited requests are refused by `approve`, naming the field.
 * - One approval given online and one by file add up: the import pushes.
 */

const APP = 'com.example.routine';
const SERVICE = 'airlock';

interface Person {
  name: string;
  keyId: string;
  publicKey: string;
  home: string;
  env: NodeJS.ProcessEnv;
}

let work: string;
let server: TestServer;
let url: string;
const made: string[] = [];
const people: Record<string, Person> = {};
let bundleKeyId = '';

function who(name: string): Person {
  const found = people[name];
  if (found === undefined) throw new Error(`no person ${name}`);
  return found;
}

function as(who: Person, args: string[]): Promise<CliResult> {
  return runCliOk(args, { env: who.env, cwd: work });
}

function attempt(who: Person, args: string[]): Promise<CliResult> {
  return runCli(args, { env: who.env, cwd: work });
}

async function person(name: string): Promise<Person> {
  const home = join(work, `home-${name}`);
  mkdirSync(home);
  const env = { AIRLOCK_HOME: home };
  const { stdout } = await runCliOk(['keys', 'create', '--type', 'identity', '--label', name], {
    env,
  });
  const keyId = stdout.trim();
  made.push(`identity:${keyId}`);
  const publicKey = (
    await runCliOk(['keys', 'export-public', keyId, '--format', 'hex'], { env })
  ).stdout.trim();
  const created = { name, keyId, publicKey, home, env: { ...env, AIRLOCK_IDENTITY: keyId } };
  people[name] = created;
  return created;
}

/** Adds `who` as a member, giving the key as the PEM `keys export-public` prints by default. */
async function addMember(member: Person, role: string): Promise<void> {
  const alice = who('alice');
  const pem = (
    await runCliOk(['keys', 'export-public', member.keyId], { env: { AIRLOCK_HOME: member.home } })
  ).stdout;
  expect(pem).toContain('BEGIN PUBLIC KEY');
  writeFileSync(join(work, `${member.name}.pem`), pem);
  await as(alice, [
    'members',
    'add',
    '--server',
    url,
    '--key',
    `${member.name}.pem`,
    '--name',
    member.name,
    '--role',
    role,
  ]);
}

/** A web build whose files are `files`, built and encrypted by Alice (she holds the bundle key). */
async function bundle(version: string, files: Record<string, string>): Promise<string> {
  const web = join(work, `web-${version}`);
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(web, name, '..'), { recursive: true });
    writeFileSync(join(web, name), content);
  }
  const alice = who('alice');
  await as(alice, ['bundle', 'build', web, '--out', join(work, `${version}.zip`)]);
  await as(alice, [
    'bundle',
    'encrypt',
    join(work, `${version}.zip`),
    '--key',
    bundleKeyId,
    '--out',
    join(work, `${version}.enc`),
  ]);
  return join(work, `${version}.enc`);
}

async function propose(who: Person, version: string, enc: string, out?: string): Promise<string> {
  const { stdout } = await as(who, [
    'propose',
    '--server',
    url,
    '--app',
    APP,
    '--channel',
    'production',
    '--version',
    version,
    '--bundle',
    enc,
    ...(out === undefined ? [] : ['--out', out]),
    '--json',
  ]);
  return (JSON.parse(stdout) as { statementId: string }).statementId;
}

function readRequest(file: string): SigningRequest {
  return JSON.parse(readFileSync(join(work, file), 'utf8')) as SigningRequest;
}

const FILES_1_0 = {
  'index.html': '<!doctype html><title>1.0.0</title>',
  'assets/app.js': 'console.log("1.0.0");\n',
  'assets/old.js': 'console.log("legacy");\n',
};
const FILES_1_1 = {
  'index.html': '<!doctype html><title>1.0.0</title>',
  'assets/app.js': 'console.log("1.1.0");\n',
  'assets/new.css': 'body{margin:0}\n',
};
const FILES_1_2 = { ...FILES_1_1, 'assets/extra.js': 'console.log("1.2.0");\n' };
const FILES_1_3 = { ...FILES_1_0, 'assets/app.js': 'console.log("1.3.0");\n' };

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'airlock-routine-'));
  const alice = await person('alice'); // admin
  const bob = await person('bob'); // release manager, pinned early
  for (const name of ['carol', 'dave', 'erin']) await person(name);
  const { stdout } = await runCliOk(['keys', 'create', '--type', 'bundle'], {
    env: { AIRLOCK_HOME: alice.home },
  });
  bundleKeyId = stdout.trim();
  made.push(`bundle:${bundleKeyId}`);
  writeFileSync(
    join(work, 'bundle.pub.pem'),
    (await as(alice, ['keys', 'export-public', bundleKeyId, '--format', 'pem'])).stdout,
  );
  server = await startTestServer({ admins: [alice.publicKey] });
  url = server.url;
  await addMember(bob, 'release_manager'); // version 2
  await as(bob, ['connect', url]); // Bob pins version 2
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
}, 180_000);

afterAll(async () => {
  await server?.dispose();
  for (const account of made) await keytar.deletePassword(SERVICE, account);
  rmSync(work, { recursive: true, force: true });
});

describe('a console pinned early, across three member changes', () => {
  it('syncs clean after a new member approves online, agrees with log verify, and requests carry the current chain', async () => {
    const [bob, carol, dave, erin] = [who('bob'), who('carol'), who('dave'), who('erin')];
    await addMember(carol, 'release_manager'); // version 3
    await addMember(dave, 'signing_officer'); // version 4
    await addMember(erin, 'release_manager'); // version 5

    // Carol proposes, Erin (added in version 5) approves online, Carol pushes.
    const enc = await bundle('1.0.0', FILES_1_0);
    const id = await propose(carol, '1.0.0', enc);
    await as(erin, ['approve', id, '--server', url]);
    await as(carol, ['push', id, '--server', url]);

    // Bob's console still holds version 2: sync moves the pin through the verified chain.
    const synced = await attempt(bob, ['sync', '--app', APP, '--channel', 'production', '--json']);
    expect(synced.stderr).not.toMatch(/invalid|finding|problem/i);
    expect(synced.code).toBe(0);
    const report = JSON.parse(synced.stdout) as {
      channels: { seq: number; findings: unknown[] }[];
    };
    expect(report.channels[0]).toMatchObject({ seq: 1, findings: [] });
    const verified = await as(bob, ['log', 'verify', '--server', url, '--app', APP, '--json']);
    expect(JSON.parse(verified.stdout)).toMatchObject({
      ok: true,
      rootVersion: 5,
      channels: [{ channel: 'production', head: { seq: 1 } }],
    });

    // Bob's next signing request carries the chain to version 5, and Dave (version 4) can approve it.
    const enc11 = await bundle('1.1.0', FILES_1_1);
    const request11 = await propose(bob, '1.1.0', enc11, 'request-1.1.0.json');
    const request = readRequest('request-1.1.0.json');
    expect(request.statementId).toBe(request11);
    expect(request.roots.map((signed) => signed.root.version)).toEqual([1, 2, 3, 4, 5]);

    // A request states verified facts: what it replaces, and the files by name.
    expect(request.summary.replaces).toMatchObject({ version: '1.0.0' });
    expect(request.summary.fileDiff).toMatchObject({
      added: ['assets/new.css'],
      removed: ['assets/old.js'],
      changed: ['assets/app.js'],
    });

    // Dave's machine never saw the server: he confirms the fingerprint he was given.
    const fingerprint = formatFingerprint(server.rootId);
    const refused = await attempt(dave, ['approve', 'request-1.1.0.json', '--out', 'a.json']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('--root-fingerprint');
    const approved = await as(dave, [
      'approve',
      'request-1.1.0.json',
      '--out',
      'approval-1.1.0.json',
      '--root-fingerprint',
      fingerprint,
    ]);
    expect(approved.stderr).toContain('replaces 1.0.0');
    expect(approved.stderr).toContain('+ assets/new.css');
    expect(approved.stderr).toContain('- assets/old.js');
    expect(approved.stderr).toContain(`signs with dave`);
    const imported = await as(bob, ['import', 'approval-1.1.0.json', '--json']);
    expect(JSON.parse(imported.stdout)).toMatchObject({ pushed: { seq: 2 } });
  });
});

describe('signing requests after a rollback', () => {
  it('names the release the channel runs again, and diffs against it', async () => {
    const [bob, erin] = [who('bob'), who('erin')];
    const enc12 = await bundle('1.2.0', FILES_1_2);
    const id12 = await propose(bob, '1.2.0', enc12);
    await as(erin, ['approve', id12, '--server', url]);
    await as(bob, ['push', id12, '--server', url]);

    const back = await as(bob, [
      'rollback',
      ...['--server', url, '--app', APP, '--channel', 'production', '--to', '1.0.0'],
      ...['--out', 'request-rollback.json', '--json'],
    ]);
    const rollbackId = (JSON.parse(back.stdout) as { statementId: string }).statementId;
    const rollback = readRequest('request-rollback.json');
    expect(rollback.summary).toMatchObject({
      kind: 'rollback',
      version: '1.0.0',
      replaces: { version: '1.2.0' },
      fileDiff: { added: ['assets/old.js'], removed: ['assets/extra.js', 'assets/new.css'] },
    });
    await as(erin, ['approve', rollbackId, '--server', url]);
    await as(bob, ['push', rollbackId, '--server', url]);

    // The channel runs 1.0.0 again: the next release is compared with 1.0.0, not with 1.2.0.
    const enc13 = await bundle('1.3.0', FILES_1_3);
    await propose(bob, '1.3.0', enc13, 'request-1.3.0.json');
    const next = readRequest('request-1.3.0.json');
    expect(next.summary.replaces).toMatchObject({ version: '1.0.0' });
    expect(next.summary.fileDiff).toMatchObject({
      added: [],
      removed: [],
      changed: ['assets/app.js'],
    });
  });
});

describe('edited requests are refused by approve, naming the field', () => {
  const refusedWith = async (edit: (request: Record<string, unknown>) => void, field: RegExp) => {
    const dave = who('dave');
    const request = readRequest('request-1.3.0.json') as unknown as Record<string, unknown>;
    edit(request);
    writeFileSync(join(work, 'edited.json'), JSON.stringify(request));
    const result = await attempt(dave, ['approve', 'edited.json', '--out', 'never.json']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(field);
  };

  it('forged notes', async () => {
    await refusedWith((request) => {
      (request['summary'] as Record<string, unknown>)['notes'] =
        'Security fix CVE-2026-1234, already reviewed by the CTO';
    }, /summary field "notes".*the release has no notes/);
  });

  it('extra fields on a pause, and a rollback version that is not the target', async () => {
    const bob = who('bob');
    await as(bob, [
      'rollout',
      ...['--server', url, '--app', APP, '--channel', 'production', '--pause'],
      ...['--out', 'request-pause.json'],
    ]);
    const dave = who('dave');
    const pause = readRequest('request-pause.json') as unknown as Record<string, unknown>;
    (pause['summary'] as Record<string, unknown>)['version'] = '9.9.9';
    writeFileSync(join(work, 'pause-edited.json'), JSON.stringify(pause));
    const paused = await attempt(dave, ['approve', 'pause-edited.json', '--out', 'never.json']);
    expect(paused.code).toBe(1);
    expect(paused.stderr).toMatch(/summary field "version".*the pause has no version/);

    const rollback = readRequest('request-rollback.json') as unknown as Record<string, unknown>;
    (rollback['summary'] as Record<string, unknown>)['version'] = '1.2.0';
    writeFileSync(join(work, 'rollback-edited.json'), JSON.stringify(rollback));
    const back = await attempt(dave, ['approve', 'rollback-edited.json', '--out', 'never.json']);
    expect(back.code).toBe(1);
    expect(back.stderr).toMatch(/summary field "version"/);
  });

  it('server: null with a forged root chain', async () => {
    await refusedWith((request) => {
      request['server'] = null;
      const roots = request['roots'] as { root: { members: unknown[] } }[];
      roots.splice(1); // a chain that stops at version 1: not what the pin says
    }, /field "server"/);
  });
});

describe('approvals add up wherever they were given', () => {
  it('one online and one by file: the import pushes', async () => {
    const [alice, bob, dave, erin] = [who('alice'), who('bob'), who('dave'), who('erin')];
    // Two approvals for a release, one of them a signing officer's.
    await as(alice, [
      'policy',
      'set',
      ...['--server', url, '--app', APP, '--channel', 'production', '--kind', 'release'],
      ...['--threshold', '2', '--roles', 'release_manager,signing_officer', '--require'],
      'signing_officer=1',
    ]);
    // (The pause proposed above stays pending: it takes no place in the log until pushed.)
    const enc14 = await bundle('1.4.0', { ...FILES_1_3, 'assets/app.js': 'console.log(1.4);' });
    const id = await propose(bob, '1.4.0', enc14, 'request-1.4.0.json');
    const online = await as(erin, ['approve', id, '--server', url, '--json']);
    expect(JSON.parse(online.stdout)).toMatchObject({ verdict: { satisfied: false } });
    await as(dave, [
      'approve',
      'request-1.4.0.json',
      '--out',
      'approval-1.4.0.json',
      '--root-fingerprint',
      formatFingerprint(server.rootId),
    ]);
    const imported = await as(bob, ['import', 'approval-1.4.0.json', '--json']);
    const result = JSON.parse(imported.stdout) as {
      verdict: { satisfied: boolean };
      pushed: { seq: number } | null;
    };
    expect(result.verdict.satisfied).toBe(true);
    expect(result.pushed).not.toBeNull();
  });

  it('policy set refuses a policy no set of members can satisfy, naming the short role', async () => {
    const alice = who('alice');
    const result = await attempt(alice, [
      'policy',
      'set',
      ...['--server', url, '--app', APP, '--channel', 'production', '--kind', 'rollback'],
      ...['--threshold', '2', '--roles', 'signing_officer,release_manager', '--require'],
      'signing_officer=2',
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/signing officer approvals, but only 1 signing officer/);
  });
});
