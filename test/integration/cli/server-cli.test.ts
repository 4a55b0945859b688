import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import keytar from '@github/keytar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesToHex, publicKeyFromSeed } from '../../../src/core/crypto';
import { runCli, runCliOk, type CliResult } from '../../helpers/cli';
import { startTestServer, type TestServer } from '../../helpers/server';

// The whole release flow through the built CLI against a real server on loopback, with identity
// keys in the real (throwaway, test/with-keyring.sh) keychain. Three people share the keychain;
// each picks their key with AIRLOCK_IDENTITY, as ARCHITECTURE.md §8 allows. Every key made is deleted.
const SERVICE = 'airlock';
const APP = 'com.example.cli';

interface Person {
  readonly name: string;
  keyId: string;
  publicKey: string;
  env: NodeJS.ProcessEnv;
}

describe('airlock members, apps, policy, propose, approve, push, rollout, rollback, log', () => {
  let work: string;
  let server: TestServer;
  let bundleKeyId = '';
  const made: string[] = [];
  const people: Record<'alice' | 'bob' | 'carol', Person> = {
    alice: { name: 'alice', keyId: '', publicKey: '', env: {} },
    bob: { name: 'bob', keyId: '', publicKey: '', env: {} },
    carol: { name: 'carol', keyId: '', publicKey: '', env: {} },
  };
  // TEST-ONLY seed of a CI pipeline that may only propose (ARCHITECTURE.md §2).
  const ciSeed = randomBytes(32);
  const ciPublicKey = bytesToHex(publicKeyFromSeed(ciSeed));

  function run(who: Person, args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<CliResult> {
    return runCliOk([...args, '--server', server.url], {
      env: { ...who.env, ...extraEnv },
      cwd: work,
    });
  }

  function attempt(who: Person, args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
    return runCli([...args, '--server', server.url], {
      env: { ...who.env, ...extraEnv },
      cwd: work,
    });
  }

  /** Proposes with `args` as `who`, returns the new statement id (`--json`). */
  async function propose(
    who: Person,
    args: string[],
    env: NodeJS.ProcessEnv = {},
  ): Promise<string> {
    const { stdout } = await run(who, [...args, '--json'], env);
    const { statementId } = JSON.parse(stdout) as { statementId: string };
    expect(statementId).toMatch(/^[0-9a-f]{64}$/);
    return statementId;
  }

  async function approveAndPush(id: string, approvers: Person[], seq: number): Promise<void> {
    for (const approver of approvers) await run(approver, ['approve', id, '--key', approver.keyId]);
    const { stdout } = await run(people.bob, ['push', id, '--json']);
    expect(JSON.parse(stdout)).toMatchObject({ id, seq, alreadyApplied: false });
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'airlock-server-cli-'));
    for (const person of Object.values(people)) {
      const home = join(work, `home-${person.name}`);
      mkdirSync(home);
      const { stdout } = await runCliOk(
        ['keys', 'create', '--type', 'identity', '--label', `cli test ${person.name}`],
        { env: { AIRLOCK_HOME: home } },
      );
      person.keyId = stdout.trim();
      made.push(`identity:${person.keyId}`);
      person.publicKey = (
        await runCliOk(['keys', 'export-public', person.keyId, '--format', 'hex'], {
          env: { AIRLOCK_HOME: home },
        })
      ).stdout.trim();
      person.env = { AIRLOCK_HOME: home, AIRLOCK_IDENTITY: person.keyId };
    }
    const bundle = await runCliOk(['keys', 'create', '--type', 'bundle', '--label', 'cli test'], {
      env: people.alice.env,
    });
    bundleKeyId = bundle.stdout.trim();
    made.push(`bundle:${bundleKeyId}`);
    const pem = await runCliOk(['keys', 'export-public', bundleKeyId, '--format', 'pem'], {
      env: people.alice.env,
    });
    writeFileSync(join(work, 'bundle-key.pub.pem'), pem.stdout);
    for (const version of ['1.0.0', '1.0.1']) {
      const web = join(work, `web-${version}`);
      mkdirSync(join(web, 'assets'), { recursive: true });
      writeFileSync(join(web, 'index.html'), `<!doctype html><title>app ${version}</title>`);
      writeFileSync(join(web, 'assets', 'app.js'), `console.log("${version}");\n`.repeat(300));
    }
    // `airlock server init` with the first admin's public key, then a server on loopback.
    server = await startTestServer({ admins: [people.alice.publicKey] });
  });

  afterAll(async () => {
    await server?.dispose();
    for (const account of made) await keytar.deletePassword(SERVICE, account);
    rmSync(work, { recursive: true, force: true });
  });

  it('lists the first admin of trust root version 1', async () => {
    const { stdout } = await run(people.alice, ['members', 'list', '--json']);
    const listed = JSON.parse(stdout) as { version: number; members: { keyId: string }[] };
    expect(listed.version).toBe(1);
    expect(listed.members.map((member) => member.keyId)).toEqual([people.alice.keyId]);
  });

  it('adds members, each as a new trust-root version signed by the admin', async () => {
    const added = await run(people.alice, [
      'members',
      'add',
      '--key',
      people.bob.publicKey,
      '--name',
      'bob',
      '--role',
      'release_manager',
    ]);
    expect(added.stdout).toMatch(
      /^Trust root version 2 is published \(fingerprint [0-9a-f]{64}\)\.$/m,
    );
    writeFileSync(join(work, 'carol.hex'), `${people.carol.publicKey}\n`);
    await run(people.alice, [
      'members',
      'add',
      '--key',
      'carol.hex',
      '--name',
      'carol',
      '--role',
      'signing_officer',
    ]);
    await run(people.alice, [
      'members',
      'add',
      '--key',
      ciPublicKey,
      '--name',
      'ci',
      '--role',
      'developer',
    ]);
    const { stdout } = await run(people.bob, ['members', 'list', '--json']);
    const listed = JSON.parse(stdout) as {
      version: number;
      members: { name: string; roles: string[] }[];
    };
    expect(listed.version).toBe(4);
    expect(listed.members.map((member) => `${member.name}:${member.roles.join(',')}`)).toEqual([
      expect.stringMatching(/:admin$/) as unknown,
      'bob:release_manager',
      'carol:signing_officer',
      'ci:developer',
    ]);
  });

  it('refuses a trust-root change by a non-admin, in one sentence', async () => {
    const result = await attempt(people.bob, ['members', 'remove', '--key', people.carol.keyId]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n').at(-1)).toMatch(/^airlock: .*\.$/);
  });

  it('creates the app with its channels', async () => {
    const { stdout } = await run(people.alice, [
      'apps',
      'create',
      '--app',
      APP,
      '--channel',
      'production',
      '--channel',
      'beta',
      '--bundle-public-key',
      'bundle-key.pub.pem',
      '--allow-self-set',
      'beta',
    ]);
    expect(stdout.trim()).toBe(`Created ${APP} with channels production, beta.`);
  });

  it('sets a stricter release policy for production as a new root version', async () => {
    const { stdout } = await run(people.alice, [
      'policy',
      'set',
      '--app',
      APP,
      '--channel',
      'production',
      '--kind',
      'release',
      '--threshold',
      '2',
      '--roles',
      'release_manager,signing_officer',
      '--require',
      'signing_officer=1',
    ]);
    expect(stdout).toContain('Trust root version 5 is published');
  });

  it('builds and encrypts two bundles', async () => {
    for (const version of ['1.0.0', '1.0.1']) {
      await runCliOk(['bundle', 'build', `web-${version}`, '--out', `${version}.zip`], {
        cwd: work,
        env: people.alice.env,
      });
      await runCliOk(
        ['bundle', 'encrypt', `${version}.zip`, '--key', bundleKeyId, '--out', `${version}.enc`],
        {
          cwd: work,
          env: people.alice.env,
        },
      );
    }
  });

  let release1 = '';

  it('asks which identity to use when several are in the keychain and none is chosen', async () => {
    // `apps list` is public; adding a channel is signed.
    const add = ['apps', 'channel', 'add', '--server', server.url, '--app', APP, '--channel', 'x'];
    const result = await runCli(add, {
      env: { AIRLOCK_HOME: people.alice.env['AIRLOCK_HOME'], AIRLOCK_IDENTITY: '' },
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/holds \d+ identity keys \(.*\); choose one with --identity/);
  });

  it('proposes a release: uploads the bundle and prints the statement id', async () => {
    const { stdout, stderr } = await run(people.alice, [
      'propose',
      '--app',
      APP,
      '--channel',
      'production',
      '--version',
      '1.0.0',
      '--bundle',
      '1.0.0.enc',
      '--rollout',
      '10',
      '--notes',
      'first',
    ]);
    release1 = stdout.trim();
    expect(release1).toMatch(/^[0-9a-f]{64}$/);
    expect(stderr).toContain('0/2 approvals');
  });

  it("refuses the proposer's own approval with the server's sentence", async () => {
    const result = await attempt(people.alice, ['approve', release1, '--key', people.alice.keyId]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("The proposer's own approval does not count");
  });

  it('refuses a push below the threshold with the verdict', async () => {
    const approved = await run(people.bob, ['approve', release1, '--key', people.bob.keyId]);
    expect(approved.stdout).toContain('1/2 approvals: missing signing_officer');
    const result = await attempt(people.bob, ['push', release1]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n').at(-1)).toBe(
      'airlock: The policy is not satisfied: 1/2 approvals: missing signing_officer.',
    );
  });

  it('applies the release once a signing officer approved, and a retried push changes nothing', async () => {
    const approved = await run(people.carol, ['approve', release1, '--key', people.carol.keyId]);
    expect(approved.stdout).toContain('2/2 approvals: satisfied');
    const pushed = await run(people.bob, ['push', release1]);
    expect(pushed.stdout).toMatch(/^Applied: seq 1 of com\.example\.cli\/production, checkpoint /);
    const again = await run(people.bob, ['push', release1, '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ id: release1, seq: 1, alreadyApplied: true });
  });

  it('verifies the log', async () => {
    const { stdout } = await run(people.carol, [
      'log',
      'verify',
      '--app',
      APP,
      '--channel',
      'production',
    ]);
    expect(stdout.trim()).toBe(`ok: 1 statements, head 1 ${release1} (${APP}/production)`);
  });

  it('changes the rollout, pauses and resumes, each approved and pushed', async () => {
    const rollout = await propose(people.bob, [
      'rollout',
      '--app',
      APP,
      '--channel',
      'production',
      '--percent',
      '50',
    ]);
    await approveAndPush(rollout, [people.carol], 2);
    const pause = await propose(people.bob, [
      'rollout',
      '--app',
      APP,
      '--channel',
      'production',
      '--pause',
    ]);
    await approveAndPush(pause, [people.carol], 3);
    const resume = await propose(people.bob, [
      'rollout',
      '--app',
      APP,
      '--channel',
      'production',
      '--resume',
    ]);
    await approveAndPush(resume, [people.carol], 4);
  });

  it('lets a CI pipeline propose with AIRLOCK_IDENTITY_KEY, with a warning, but never approve', async () => {
    const ciEnv = { AIRLOCK_IDENTITY: '', AIRLOCK_IDENTITY_KEY: ciSeed.toString('base64') };
    const { stdout, stderr } = await run(
      people.alice,
      [
        'propose',
        '--app',
        APP,
        '--channel',
        'production',
        '--version',
        '1.0.1',
        '--bundle',
        '1.0.1.enc',
        '--json',
      ],
      ciEnv,
    );
    expect(stderr).toContain('warning: signing with the identity key from AIRLOCK_IDENTITY_KEY');
    const { statementId } = JSON.parse(stdout) as { statementId: string };
    const refused = await attempt(people.alice, ['approve', statementId], ciEnv);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('AIRLOCK_IDENTITY_KEY may only be used to propose');
    await approveAndPush(statementId, [people.bob, people.carol], 5);
  });

  let rollback = '';

  it('rolls back to an earlier version, approved and pushed', async () => {
    const { stdout, stderr } = await run(people.bob, [
      'rollback',
      '--app',
      APP,
      '--channel',
      'production',
      '--to',
      '1.0.0',
    ]);
    rollback = stdout.trim();
    expect(stderr).toContain(`airlock approve ${rollback}`);
    await approveAndPush(rollback, [people.carol], 6);
  });

  it('still verifies the whole log, for one channel and for every channel of the app', async () => {
    const one = await run(people.carol, ['log', 'verify', '--app', APP, '--channel', 'production']);
    expect(one.stdout.trim()).toBe(`ok: 6 statements, head 6 ${rollback} (${APP}/production)`);
    const all = await run(people.carol, ['log', 'verify', '--app', APP, '--json']);
    expect(JSON.parse(all.stdout)).toMatchObject({
      ok: true,
      channels: [
        { channel: 'production', statements: 6, head: { seq: 6, head: rollback } },
        { channel: 'beta', statements: 0, head: null },
      ],
    });
  });

  it('refuses a rollback to a version the channel never released', async () => {
    const result = await attempt(people.bob, [
      'rollback',
      '--app',
      APP,
      '--channel',
      'production',
      '--to',
      '9.9.9',
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n').at(-1)).toBe(
      `airlock: No applied release 9.9.9 is in the verified log of ${APP}/production.`,
    );
  });

  it('collects a second admin signature for a root change when the root threshold is 2', async () => {
    const strict = await startTestServer({
      admins: [people.alice.publicKey, people.bob.publicKey],
      rootThreshold: 2,
    });
    try {
      const onStrict = (who: Person, args: string[]) =>
        runCli([...args, '--server', strict.url], { env: who.env, cwd: work });
      const add = [
        'members',
        'add',
        '--key',
        people.carol.publicKey,
        '--name',
        'carol',
        '--role',
        'signing_officer',
      ];
      const alone = await onStrict(people.alice, add);
      expect(alone.code).toBe(1);
      expect(alone.stderr).toContain(
        'needs more admin signatures (trust root version 2: 1/2 admin signatures)',
      );
      const written = await onStrict(people.alice, [...add, '--out', 'root-2.json']);
      expect(written.stdout).toContain(
        'Wrote root-2.json: trust root version 2: 1/2 admin signatures.',
      );
      const early = await onStrict(people.bob, ['members', 'submit', 'root-2.json']);
      expect(early.code).toBe(1);
      const signed = await onStrict(people.bob, ['members', 'sign', 'root-2.json']);
      expect(signed.stderr).toContain('+ member carol');
      expect(signed.stdout).toContain('2/2 admin signatures');
      const submitted = await onStrict(people.carol, ['members', 'submit', 'root-2.json']);
      // carol is not a member of version 1, so she may not call the admin API; an admin submits.
      expect(submitted.code).toBe(1);
      const published = await onStrict(people.alice, ['members', 'submit', 'root-2.json']);
      expect(published.stdout).toContain('Trust root version 2 is published');
    } finally {
      await strict.dispose();
    }
  });

  it('says clearly when the server is not reachable', async () => {
    const result = await runCli(
      [
        'log',
        'verify',
        '--app',
        APP,
        '--channel',
        'production',
        '--server',
        'http://127.0.0.1:59997',
      ],
      { env: people.carol.env },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^airlock: Cannot reach the Airlock server at http:\/\/127\.0\.0\.1:59997 /,
    );
  });
});
