import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  mkdirSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import keytar from '@github/keytar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCliOk, type CliResult } from '../../helpers/cli';

// The CLI uses the real keychain service "airlock"; npm test runs this inside a throwaway
// gnome-keyring (test/with-keyring.sh), and the test deletes every key it made.
const SERVICE = 'airlock';

describe('airlock keys and bundle commands', () => {
  let work: string;
  let env: NodeJS.ProcessEnv;
  const outputs: CliResult[] = [];
  const made: string[] = [];
  let identityId = '';
  let bundleId = '';
  let importedId = '';
  let importedPem = '';

  async function run(args: string[]): Promise<CliResult> {
    const result = await runCliOk(args, { env, cwd: work });
    outputs.push(result);
    return result;
  }

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'airlock-cli-'));
    mkdirSync(join(work, 'home'));
    env = { AIRLOCK_HOME: join(work, 'home'), AIRLOCK_PASSPHRASE: 'correct horse battery staple' };
    mkdirSync(join(work, 'web', 'assets'), { recursive: true });
    writeFileSync(join(work, 'web', 'index.html'), '<!doctype html><title>app</title>');
    writeFileSync(join(work, 'web', 'assets', 'app.js'), 'console.log("hello");\n'.repeat(500));
  });

  afterAll(async () => {
    for (const account of made) await keytar.deletePassword(SERVICE, account);
    rmSync(work, { recursive: true, force: true });
  });

  it('creates an identity key and prints only its keyId', async () => {
    const { stdout } = await run(['keys', 'create', '--type', 'identity', '--label', 'alice']);
    identityId = stdout.trim();
    expect(identityId).toMatch(/^[0-9a-f]{64}$/);
    made.push(`identity:${identityId}`);
  });

  it('creates a bundle key with --json and public facts only', async () => {
    const { stdout } = await run([
      'keys',
      'create',
      '--type',
      'bundle',
      '--label',
      'prod',
      '--json',
    ]);
    const key = JSON.parse(stdout) as Record<string, string>;
    bundleId = key['keyId'] ?? '';
    made.push(`bundle:${bundleId}`);
    expect(key['type']).toBe('bundle');
    expect(key['publicKey']).toContain('-----BEGIN RSA PUBLIC KEY-----');
    expect(key['capgoKeyId']).toHaveLength(20);
    expect(Object.keys(key)).not.toContain('privateKey');
  });

  it('lists both keys', async () => {
    const { stdout } = await run(['keys', 'list', '--json']);
    const ids = (JSON.parse(stdout) as { keys: { keyId: string }[] }).keys.map((k) => k.keyId);
    expect(ids).toEqual(expect.arrayContaining([identityId, bundleId]));
  });

  it('exports public keys as hex and as PKCS#1 PEM', async () => {
    const hex = (await run(['keys', 'export-public', identityId, '--format', 'hex'])).stdout.trim();
    expect(hex).toMatch(/^[0-9a-f]{64}$/);
    const pem = (await run(['keys', 'export-public', bundleId.slice(0, 12)])).stdout;
    expect(pem).toMatch(/^-----BEGIN RSA PUBLIC KEY-----\n/);
    writeFileSync(join(work, 'bundle.pub.pem'), pem);
  });

  it('imports a PKCS#1 bundle key from a Capgo-style file', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 }); // TEST-ONLY key
    importedPem = privateKey.export({ format: 'pem', type: 'pkcs1' }).toString();
    const file = join(tmpdir(), `capgo_key_v2-${process.pid}`); // outside `work`: the leak scan reads work
    writeFileSync(file, importedPem);
    try {
      const { stdout } = await run(['keys', 'import', '--type', 'bundle', file, '--json']);
      importedId = (JSON.parse(stdout) as { keyId: string }).keyId;
      made.push(`bundle:${importedId}`);
      expect(importedId).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      rmSync(file);
    }
  });

  it('backs up, deletes and restores a key to the same keyId', async () => {
    await run(['keys', 'backup', identityId, '--out', join(work, 'alice.backup.json')]);
    expect(statSync(join(work, 'alice.backup.json')).mode & 0o777).toBe(0o600);
    await run(['keys', 'delete', identityId, '--yes']);
    const gone = await runCli(['keys', 'export-public', identityId], { env, cwd: work });
    expect(gone.code).toBe(1);
    const { stdout } = await run(['keys', 'restore', join(work, 'alice.backup.json')]);
    expect(stdout.trim()).toBe(identityId);
  });

  it('refuses a restore with the wrong passphrase, in one sentence', async () => {
    const result = await runCli(['keys', 'restore', join(work, 'alice.backup.json')], {
      env: { ...env, AIRLOCK_PASSPHRASE: 'wrong passphrase here' },
      cwd: work,
    });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/passphrase/i);
  });

  it('refuses to delete without confirmation when there is no terminal', async () => {
    const result = await runCli(['keys', 'delete', bundleId], { env, cwd: work });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/--yes/);
  });

  it('builds, encrypts and verifies a bundle with a keychain key', async () => {
    const built = await run(['bundle', 'build', 'web', '--out', 'bundle.zip', '--json']);
    const zip = JSON.parse(built.stdout) as { sha256: string; files: number };
    expect(zip.files).toBe(2);
    const enc = await run([
      'bundle',
      'encrypt',
      'bundle.zip',
      '--key',
      bundleId,
      '--out',
      'bundle.enc',
      '--json',
    ]);
    const info = JSON.parse(enc.stdout) as { sha256: string; sessionKey: string; checksum: string };
    expect(info.sha256).toBe(zip.sha256);
    expect(JSON.parse(readFileSync(join(work, 'bundle.enc.json'), 'utf8'))).toEqual(info);
    const ok = await run([
      'bundle',
      'verify',
      'bundle.enc',
      '--public-key',
      'bundle.pub.pem',
      '--session-key',
      info.sessionKey,
      '--checksum',
      info.checksum,
    ]);
    expect(ok.stdout).toMatch(/^OK/);
    const tampered = `${info.checksum.slice(0, -2)}${info.checksum.endsWith('00') ? '01' : '00'}`;
    const bad = await runCli(
      [
        'bundle',
        'verify',
        'bundle.enc',
        '--public-key',
        'bundle.pub.pem',
        '--session-key',
        info.sessionKey,
        '--checksum',
        tampered,
      ],
      { env, cwd: work },
    );
    expect(bad.code).toBe(1);
  });

  it('never lets a private key byte reach a file, stdout or stderr', async () => {
    const needles: string[] = [];
    for (const account of made) {
      const secret = await keytar.getPassword(SERVICE, account);
      expect(secret, `${account} should be in the keychain`).not.toBeNull();
      const { privateKey } = JSON.parse(secret as string) as { privateKey: string };
      if (account.startsWith('identity:')) {
        const seed = Buffer.from(privateKey, 'hex');
        needles.push(privateKey, seed.toString('base64'), seed.toString('latin1'));
      } else {
        const der = createPrivateKey(privateKey).export({ format: 'der', type: 'pkcs1' });
        const body = privateKey
          .split('\n')
          .filter((line) => line !== '' && !line.startsWith('-----'));
        // Any 48-character line of the PEM body, the DER as hex, and a slice of the raw bytes.
        needles.push(
          ...body.slice(1, -1),
          der.toString('hex').slice(64, 192),
          der.subarray(40, 80).toString('latin1'),
        );
      }
    }
    needles.push(...importedPem.split('\n').slice(2, 5));
    expect(needles.length).toBeGreaterThan(6);

    const haystacks: [string, string][] = outputs.map((o, i) => [
      `command ${i}`,
      `${o.stdout}\n${o.stderr}`,
    ]);
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else haystacks.push([path, readFileSync(path).toString('latin1')]);
      }
    };
    walk(work);
    expect(haystacks.length).toBeGreaterThan(outputs.length);
    for (const [where, text] of haystacks) {
      for (const needle of needles)
        expect(text.includes(needle), `private key bytes in ${where}`).toBe(false);
    }
  });
});

describe('airlock without a reachable keychain', () => {
  const noBus = { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/airlock-test-bus' };
  const commands = [
    ['keys', 'create', '--type', 'identity'],
    ['keys', 'create', '--type', 'bundle'],
    ['keys', 'list'],
    ['keys', 'export-public', 'abcdef0123456789'],
    ['keys', 'delete', 'abcdef0123456789', '--yes'],
    ['keys', 'backup', 'abcdef0123456789', '--out', '/tmp/airlock-never-written.json'],
    ['bundle', 'encrypt', 'x.zip', '--key', 'abcdef0123456789', '--out', '/tmp/airlock-never.enc'],
  ];

  it.each(commands.map((c) => [c.slice(0, 2).join(' '), c] as const))(
    '%s fails with one sentence naming the missing keychain',
    async (_name, args) => {
      const result = await runCli(args, { env: noBus, timeoutMs: 30_000 });
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      const lines = result.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/keychain/i);
      expect(lines[0]).toMatch(/Secret Service/);
    },
  );
});
