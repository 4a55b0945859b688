import { mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildBundle,
  encryptBundle,
  rsaSignerFromPrivateKey,
  verifyEncryptedBundle,
  type EncryptedBundleInfo,
} from '../../src/core/bundle';
import {
  generateTestRsaKey,
  makeTempDir,
  sampleWebBuild,
  sha256File,
  writeTree,
  type TestRsaKey,
} from '../helpers/bundle-fixtures';
import { parseCapgoJson, runCapgo as runCapgoCli, type CapgoRun } from '../helpers/capgo';

/**
 * ARCHITECTURE.md §10: the real `@capgo/cli` (pinned 8.x) must decrypt and verify what Airlock encrypts, and
 * Airlock must verify what the CLI encrypts. The CLI runs offline in a throwaway Capacitor project:
 * a package.json, `@capgo/capacitor-updater` resolvable (so the CLI picks the V3 checksum format),
 * the public key in capacitor.config.json, a PKCS#1 private key file, and `notifyAppReady()` in the
 * sources.
 */

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const APP_ID = 'com.example.airlock';

const tmp = makeTempDir('airlock-capgo-compat-');
const project = join(tmp.path, 'app');
const home = join(tmp.path, 'home');
// TEST-ONLY RSA keys for this run.
let key: TestRsaKey;

const runCapgo = (args: readonly string[]): Promise<CapgoRun> =>
  runCapgoCli(args, { cwd: project, home });
const parseJson = parseCapgoJson;

beforeAll(() => {
  key = generateTestRsaKey();
  mkdirSync(home);
  mkdirSync(join(project, 'node_modules', '@capgo'), { recursive: true });
  symlinkSync(
    join(repoRoot, 'node_modules', '@capgo', 'capacitor-updater'),
    join(project, 'node_modules', '@capgo', 'capacitor-updater'),
  );
  const updater = JSON.parse(
    readFileSync(join(repoRoot, 'node_modules/@capgo/capacitor-updater/package.json'), 'utf8'),
  ) as { version: string };
  writeTree(project, {
    'package.json': JSON.stringify({
      name: 'compat-app',
      version: '1.0.0',
      private: true,
      dependencies: { '@capgo/capacitor-updater': updater.version },
    }),
    'capacitor.config.json': JSON.stringify({
      appId: APP_ID,
      appName: 'Compat',
      webDir: 'www',
      plugins: { CapacitorUpdater: { publicKey: key.publicKeyPem } },
    }),
    'private-key.pem': key.privatePkcs1Pem,
    'public-key.pem': key.publicKeyPem,
  });
  writeTree(join(project, 'www'), {
    ...sampleWebBuild(),
    'assets/main.js':
      "import { CapacitorUpdater } from '@capgo/capacitor-updater';\nCapacitorUpdater.notifyAppReady();\n",
  });
});

afterAll(() => tmp.cleanup());

describe('@capgo/cli 8.x compatibility', () => {
  describe('when Airlock builds and encrypts', () => {
    let info: EncryptedBundleInfo;
    const zip = join(tmp.path, 'airlock.zip');
    const enc = join(project, 'airlock.enc');

    beforeAll(async () => {
      await buildBundle(join(project, 'www'), zip);
      info = await encryptBundle(zip, enc, rsaSignerFromPrivateKey(key.privateKey));
    });

    it('`capgo bundle decrypt` checks the V3 checksum and recovers the exact ZIP', async () => {
      const run = await runCapgo([
        'bundle',
        'decrypt',
        'airlock.enc',
        info.sessionKey,
        '--checksum',
        info.checksum,
        '--key',
        'public-key.pem',
      ]);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('Decrypting checksum with V3');
      expect(run.stdout).toContain('Checksum matches');
      const decrypted = readFileSync(join(project, 'airlock.enc_decrypted.zip'));
      expect(decrypted.equals(readFileSync(zip))).toBe(true);
    });

    it('`capgo bundle decrypt` refuses the bundle when the checksum is signed by another key', async () => {
      const other = generateTestRsaKey();
      const foreign = rsaSignerFromPrivateKey(other.privateKey)
        .privateEncrypt(Buffer.from(info.sha256, 'hex'))
        .toString('hex');
      const run = await runCapgo([
        'bundle',
        'decrypt',
        'airlock.enc',
        info.sessionKey,
        '--checksum',
        foreign,
        '--key',
        'public-key.pem',
      ]);
      expect(run.code).not.toBe(0);
      expect(run.stdout).not.toContain('Checksum matches');
    });
  });

  describe('when the Capgo CLI zips and encrypts', () => {
    let zipped: Record<string, string>;
    let encrypted: Record<string, string>;

    beforeAll(async () => {
      zipped = parseJson(
        await runCapgo([
          'bundle',
          'zip',
          APP_ID,
          '--path',
          'www',
          '--json',
          '--name',
          'capgo-bundle',
        ]),
      );
      const zipFile = zipped.filename ?? '';
      encrypted = parseJson(
        await runCapgo([
          'bundle',
          'encrypt',
          zipFile,
          zipped.checksum ?? '',
          '--key',
          'private-key.pem',
          '--json',
        ]),
      );
    });

    it('the CLI reports the SHA-256 of its ZIP as the checksum', () => {
      expect(zipped.checksum).toBe(sha256File(join(project, zipped.filename ?? '')));
    });

    it('verifyEncryptedBundle accepts it with the phone’s steps', async () => {
      const verified = await verifyEncryptedBundle(join(project, encrypted.filename ?? ''), {
        publicKeyPem: key.publicKeyPem,
        sessionKey: encrypted.ivSessionKey ?? '',
        checksum: encrypted.checksum ?? '',
      });
      expect(verified.sha256).toBe(zipped.checksum);
      expect(verified.files).toBe(7); // sampleWebBuild's 6 files + assets/main.js
      expect(verified.encryptedSha256).toBe(sha256File(join(project, encrypted.filename ?? '')));
    });

    it('verifyEncryptedBundle refuses it when the IV is changed', async () => {
      const [iv = '', wrapped = ''] = (encrypted.ivSessionKey ?? '').split(':');
      const ivBytes = Buffer.from(iv, 'base64');
      ivBytes[0] = (ivBytes[0] ?? 0) ^ 0x80;
      await expect(
        verifyEncryptedBundle(join(project, encrypted.filename ?? ''), {
          publicKeyPem: key.publicKeyPem,
          sessionKey: `${ivBytes.toString('base64')}:${wrapped}`,
          checksum: encrypted.checksum ?? '',
        }),
      ).rejects.toThrowWithCode('CHECKSUM_MISMATCH');
    });

    it('Airlock can re-encrypt the CLI’s ZIP and the CLI decrypts it', async () => {
      const zipFile = join(project, zipped.filename ?? '');
      const info = await encryptBundle(
        zipFile,
        join(project, 'reencrypted.enc'),
        rsaSignerFromPrivateKey(key.privateKey),
      );
      expect(info.sha256).toBe(zipped.checksum);
      const run = await runCapgo([
        'bundle',
        'decrypt',
        'reencrypted.enc',
        info.sessionKey,
        '--checksum',
        info.checksum,
        '--key',
        'public-key.pem',
      ]);
      expect(run.stdout).toContain('Checksum matches');
      expect(
        readFileSync(join(project, 'reencrypted.enc_decrypted.zip')).equals(readFileSync(zipFile)),
      ).toBe(true);
    });
  });
});
