import {
  constants,
  createHash,
  createPublicKey,
  generateKeyPairSync,
  publicDecrypt,
  randomBytes,
  verify,
} from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calcKeyId } from '../../../src/core/bundle/capgo-crypto';
import { ed25519Verify, formatFingerprint } from '../../../src/core/crypto/ed25519';
import type { KeyBackupEnvelope } from '../../../src/core/crypto/key-backup';
import { createOsKeychain } from '../../../src/main/keys/keychain';
import { KeyStore, type KeyInfo } from '../../../src/main/keys/key-store';

// Runs against the real Secret Service: `bash test/with-keyring.sh npx vitest run --config
// test/vitest.config.ts test/integration/keys` (gnome-keyring on a private D-Bus session). A service
// name of its own keeps this file away from every other key, and afterAll removes what it made.
const SERVICE = `airlock-test-${randomBytes(6).toString('hex')}`;
const PASSPHRASE = 'correct horse battery staple';
const MESSAGE = new TextEncoder().encode('statement bytes to sign');

const keychain = createOsKeychain(SERVICE);
const store = new KeyStore(keychain);

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The private key as the keychain holds it (tests only: to prove it never leaks elsewhere). */
async function storedPrivateKey(key: KeyInfo): Promise<string> {
  const secret = await keychain.get(`${key.type}:${key.keyId}`);
  if (secret === null) throw new Error(`no keychain entry for ${key.keyId}`);
  return (JSON.parse(secret) as { privateKey: string }).privateKey;
}

/** Strings that would betray the private key if they showed up in any output. */
async function needles(key: KeyInfo): Promise<string[]> {
  const privateKey = await storedPrivateKey(key);
  if (key.type === 'identity') {
    return [privateKey, Buffer.from(privateKey, 'hex').toString('base64')];
  }
  return privateKey.split('\n').filter((line) => line.length === 64);
}

function expectNoLeak(text: string, secrets: string[]): void {
  expect(secrets.length).toBeGreaterThan(0);
  for (const secret of secrets) expect(text.includes(secret)).toBe(false);
}

function edited(envelope: KeyBackupEnvelope, edit: (e: Record<string, unknown>) => void): unknown {
  const copy = JSON.parse(JSON.stringify(envelope)) as Record<string, unknown>;
  edit(copy);
  return copy;
}

function flipBase64Byte(text: string, index: number): string {
  const bytes = Buffer.from(text, 'base64');
  bytes[index] = (bytes[index] ?? 0) ^ 0x80;
  return bytes.toString('base64');
}

describe('KeyStore against the real Secret Service', () => {
  let identity: KeyInfo;
  let bundle: KeyInfo;

  beforeAll(async () => {
    expect(await keychain.list()).toEqual([]);
  });

  afterAll(async () => {
    for (const { account } of await keychain.list()) await keychain.delete(account);
    expect(await keychain.list()).toEqual([]);
  });

  describe('#create', () => {
    it('creates an identity key and returns only public facts', async () => {
      identity = await store.create('identity', 'alice');
      expect(identity.keyId).toMatch(/^[0-9a-f]{64}$/);
      expect(identity.publicKey).toMatch(/^[0-9a-f]{64}$/);
      expect(identity.keyId).toBe(sha256Hex(Buffer.from(identity.publicKey, 'hex')));
      expect(identity.fingerprint).toBe(formatFingerprint(identity.keyId));
      expect(identity).toMatchObject({ type: 'identity', label: 'alice' });
      expect(Object.keys(identity).sort()).toEqual(
        ['createdAt', 'fingerprint', 'keyId', 'label', 'publicKey', 'type'].sort(),
      );
      expectNoLeak(JSON.stringify(identity), await needles(identity));
    });

    it('creates a bundle key (RSA-2048, PKCS#1) with its Capgo key id', async () => {
      bundle = await store.create('bundle', 'prod');
      expect(bundle.publicKey).toMatch(/^-----BEGIN RSA PUBLIC KEY-----\n/);
      const publicKey = createPublicKey({ key: bundle.publicKey, format: 'pem', type: 'pkcs1' });
      expect(publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
      expect(bundle.keyId).toBe(sha256Hex(publicKey.export({ format: 'der', type: 'pkcs1' })));
      expect(bundle.capgoKeyId).toBe(calcKeyId(bundle.publicKey));
      expect(bundle.capgoKeyId).toHaveLength(20);
      expect(bundle).toMatchObject({ type: 'bundle', label: 'prod' });
      expectNoLeak(JSON.stringify(bundle), await needles(bundle));
    });

    it('stores one keychain entry per key, as versioned JSON under <type>:<keyId>', async () => {
      const secret = await keychain.get(`identity:${identity.keyId}`);
      const stored = JSON.parse(secret ?? 'null') as Record<string, unknown>;
      expect(Object.keys(stored).sort()).toEqual(
        ['createdAt', 'keyId', 'label', 'privateKey', 'publicKey', 'type', 'v'].sort(),
      );
      expect(stored).toMatchObject({
        v: 1,
        type: 'identity',
        keyId: identity.keyId,
        label: 'alice',
      });
      expect(stored['privateKey']).toMatch(/^[0-9a-f]{64}$/);
      const bundleSecret = JSON.parse((await keychain.get(`bundle:${bundle.keyId}`)) ?? 'null') as {
        privateKey: string;
      };
      expect(bundleSecret.privateKey).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\n/);
    });

    it('defaults the label to empty and refuses a bad type or label', async () => {
      const unlabelled = await store.create('identity');
      expect(unlabelled.label).toBe('');
      await store.delete(unlabelled.keyId);
      await expect(store.create('admin' as 'identity')).rejects.toMatchObject({
        code: 'INVALID_INPUT',
      });
      await expect(store.create('identity', 'two\nlines')).rejects.toMatchObject({
        code: 'INVALID_INPUT',
      });
      await expect(store.create('identity', 'x'.repeat(201))).rejects.toMatchObject({
        code: 'INVALID_INPUT',
      });
    });
  });

  describe('#list', () => {
    it('lists every key, oldest first', async () => {
      const keys = await store.list();
      expect(keys.map((k) => k.keyId)).toEqual([identity.keyId, bundle.keyId]);
      expect(keys).toEqual([identity, bundle]);
    });

    it('skips entries that are not Airlock keys or do not parse', async () => {
      await keychain.set('not-an-airlock-account', 'whatever');
      await keychain.set(`identity:${'b'.repeat(64)}`, 'not json');
      try {
        expect((await store.list()).map((k) => k.keyId)).toEqual([identity.keyId, bundle.keyId]);
      } finally {
        await keychain.delete('not-an-airlock-account');
        await keychain.delete(`identity:${'b'.repeat(64)}`);
      }
    });
  });

  describe('#get', () => {
    it('finds a key by its full id, a prefix of 8, any case, or its fingerprint', async () => {
      expect(await store.get(identity.keyId)).toEqual(identity);
      expect(await store.get(identity.keyId.slice(0, 8))).toEqual(identity);
      expect(await store.get(bundle.keyId.slice(0, 12).toUpperCase())).toEqual(bundle);
      expect(await store.get(identity.fingerprint)).toEqual(identity);
    });

    it('refuses a prefix shorter than 8 or not hex', async () => {
      await expect(store.get(identity.keyId.slice(0, 7))).rejects.toMatchObject({
        code: 'INVALID_INPUT',
      });
      await expect(store.get('zzzzzzzz')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    });

    it('says KEY_NOT_FOUND when no key matches', async () => {
      const missing = identity.keyId.startsWith('0') ? 'f'.repeat(64) : '0'.repeat(64);
      await expect(store.get(missing)).rejects.toMatchObject({ code: 'KEY_NOT_FOUND' });
    });

    it('lists the matches when a prefix is ambiguous', async () => {
      const a = `identity:${'a'.repeat(8)}${'0'.repeat(56)}`;
      const b = `bundle:${'a'.repeat(8)}${'1'.repeat(56)}`;
      await keychain.set(a, 'x');
      await keychain.set(b, 'x');
      try {
        const error: unknown = await store.get('aaaaaaaa').catch((e: unknown) => e);
        expect(error).toMatchObject({ code: 'INVALID_INPUT' });
        expect((error as Error).message).toContain('aaaaaaaa00000000');
        expect((error as Error).message).toContain('aaaaaaaa11111111');
        await expect(store.get('aaaaaaaa0')).rejects.toMatchObject({ code: 'KEY_INVALID' });
      } finally {
        await keychain.delete(a);
        await keychain.delete(b);
      }
    });

    it('says an entry is damaged when it does not parse, or does not hold together', async () => {
      const other = await store.create('identity', 'other');
      const otherSecret = JSON.parse(
        (await keychain.get(`identity:${other.keyId}`)) ?? '{}',
      ) as Record<string, unknown>;
      await store.delete(other.keyId);
      const damaged: [string, string][] = [
        ['c'.repeat(64), 'not json'],
        ['d'.repeat(64), JSON.stringify({ v: 1, type: 'identity' })],
        // A valid key filed under another key's account.
        ['e'.repeat(64), JSON.stringify(otherSecret)],
        // The right account, but a private key that belongs to another public key.
        [
          other.keyId,
          JSON.stringify({ ...otherSecret, privateKey: await storedPrivateKey(identity) }),
        ],
      ];
      for (const [keyId, secret] of damaged) await keychain.set(`identity:${keyId}`, secret);
      try {
        for (const [keyId] of damaged) {
          const error: unknown = await store.get(keyId).catch((e: unknown) => e);
          expect(error).toMatchObject({ code: 'KEY_INVALID' });
          expect((error as Error).message).toMatch(/is damaged/);
          expectNoLeak((error as Error).message, await needles(identity));
        }
        expect((await store.list()).map((k) => k.keyId)).toEqual([identity.keyId, bundle.keyId]);
      } finally {
        // delete works on damaged entries too
        for (const [keyId] of damaged) await store.delete(keyId);
      }
    });
  });

  describe('#exportPublic', () => {
    it('exports an identity key as raw hex and as SPKI PEM', async () => {
      expect(await store.exportPublic(identity.keyId, 'hex')).toBe(identity.publicKey);
      const pem = await store.exportPublic(identity.keyId, 'pem');
      expect(pem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
      const key = createPublicKey(pem);
      expect(key.asymmetricKeyType).toBe('ed25519');
      const { x } = key.export({ format: 'jwk' });
      expect(Buffer.from(x ?? '', 'base64url').toString('hex')).toBe(identity.publicKey);
    });

    it('exports a bundle key as PKCS#1 PEM and as PKCS#1 DER hex', async () => {
      const pem = await store.exportPublic(bundle.keyId, 'pem');
      expect(pem).toBe(bundle.publicKey);
      const key = createPublicKey({ format: 'pem', type: 'pkcs1', key: pem });
      expect(key.asymmetricKeyType).toBe('rsa');
      const hex = await store.exportPublic(bundle.keyId.slice(0, 8), 'hex');
      expect(hex).toBe(key.export({ format: 'der', type: 'pkcs1' }).toString('hex'));
      expect(sha256Hex(Buffer.from(hex, 'hex'))).toBe(bundle.keyId);
    });

    it('refuses an unknown format', async () => {
      await expect(store.exportPublic(bundle.keyId, 'der' as 'pem')).rejects.toMatchObject({
        code: 'INVALID_INPUT',
      });
    });
  });

  describe('signers', () => {
    it('signs with an identity key; the signature verifies with the public key', async () => {
      const signer = await store.identitySigner(identity.keyId.slice(0, 10));
      expect(signer.keyId).toBe(identity.keyId);
      expect(Buffer.from(signer.publicKey).toString('hex')).toBe(identity.publicKey);
      const signature = await signer.sign(MESSAGE);
      expect(ed25519Verify(signature, MESSAGE, signer.publicKey)).toBe(true);
      // An independent verifier: node:crypto over the exported SPKI PEM.
      const spki = createPublicKey(await store.exportPublic(identity.keyId, 'pem'));
      expect(verify(null, MESSAGE, spki, signature)).toBe(true);
      expect(ed25519Verify(signature, new TextEncoder().encode('other'), signer.publicKey)).toBe(
        false,
      );
      expectNoLeak(JSON.stringify(signer) + Object.keys(signer).join(), await needles(identity));
    });

    it('hands out a copy of the public key, so callers cannot change the signer', async () => {
      const signer = await store.identitySigner(identity.keyId);
      signer.publicKey.fill(0);
      expect(Buffer.from(signer.publicKey).toString('hex')).toBe(identity.publicKey);
    });

    it('signs with a bundle key; the public key opens what it encrypted', async () => {
      const signer = await store.bundleSigner(bundle.keyId);
      expect(signer.publicKeyPem).toBe(bundle.publicKey);
      const data = randomBytes(32);
      const sealed = signer.privateEncrypt(data);
      const opened = publicDecrypt(
        {
          key: createPublicKey({ key: bundle.publicKey, format: 'pem', type: 'pkcs1' }),
          padding: constants.RSA_PKCS1_PADDING,
        },
        sealed,
      );
      expect(opened.equals(data)).toBe(true);
      expectNoLeak(JSON.stringify(signer), await needles(bundle));
    });

    it('refuses a signer of the wrong kind', async () => {
      await expect(store.bundleSigner(identity.keyId)).rejects.toMatchObject({
        code: 'KEY_TYPE_MISMATCH',
      });
      await expect(store.identitySigner(bundle.keyId)).rejects.toMatchObject({
        code: 'KEY_TYPE_MISMATCH',
      });
    });
  });

  describe('#importBundleKey', () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 }); // TEST-ONLY key
    const pkcs1 = privateKey.export({ format: 'pem', type: 'pkcs1' }).toString();
    const bodyLines = pkcs1.split('\n').filter((line) => line.length === 64);

    it('imports a PKCS#1 key as Capgo writes it', async () => {
      const imported = await store.importBundleKey(pkcs1, 'from capgo');
      const publicKey = createPublicKey(privateKey);
      expect(imported.keyId).toBe(sha256Hex(publicKey.export({ format: 'der', type: 'pkcs1' })));
      expect(imported).toMatchObject({ type: 'bundle', label: 'from capgo' });
      expect(imported.publicKey).toBe(
        publicKey.export({ format: 'pem', type: 'pkcs1' }).toString(),
      );
      const signer = await store.bundleSigner(imported.keyId);
      const data = randomBytes(16);
      expect(
        publicDecrypt(
          { key: publicKey, padding: constants.RSA_PKCS1_PADDING },
          signer.privateEncrypt(data),
        ),
      ).toEqual(data);
    });

    it('refuses the same key again as ALREADY_EXISTS', async () => {
      await expect(store.importBundleKey(`\n${pkcs1}\n`)).rejects.toMatchObject({
        code: 'ALREADY_EXISTS',
      });
    });

    const pkcs8 = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey; // TEST-ONLY
    const refusals: [string, string, RegExp][] = [
      ['PKCS#8', pkcs8, /found a PKCS#8 private key/],
      [
        'encrypted PKCS#8',
        privateKey
          .export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'x' })
          .toString(),
        /passphrase-protected PKCS#8/,
      ],
      [
        'a public key',
        createPublicKey(privateKey).export({ format: 'pem', type: 'pkcs1' }).toString(),
        /found a public key/,
      ],
      [
        'an EC key',
        generateKeyPairSync('ec', { namedCurve: 'P-256' })
          .privateKey.export({ format: 'pem', type: 'sec1' })
          .toString(),
        /elliptic-curve/,
      ],
      ['RSA-1024', small.export({ format: 'pem', type: 'pkcs1' }).toString(), /RSA-1024/],
      ['garbage', 'this is not a key at all', /no PEM block/],
      ['an empty file', '', /no PEM block/],
      ['two keys in one file', `${pkcs1}${pkcs1}`, /2 PEM blocks/],
      [
        'a PKCS#1 block that does not parse',
        '-----BEGIN RSA PRIVATE KEY-----\nMIIBAAAA\n-----END RSA PRIVATE KEY-----\n',
        /does not parse/,
      ],
      [
        // OpenSSL loads this without complaint: the modulus no longer equals p·q.
        'a PKCS#1 key with a damaged modulus',
        pkcs1.replace(bodyLines[3] ?? '', 'A'.repeat(64)),
        /do not form one RSA key/,
      ],
    ];

    it.each(refusals)(
      'refuses %s with KEY_INVALID saying what it found',
      async (_what, pem, found) => {
        const error: unknown = await store.importBundleKey(pem).catch((e: unknown) => e);
        expect(error).toMatchObject({ code: 'KEY_INVALID' });
        const { message } = error as Error;
        expect(message).toMatch(/PKCS#1 PEM \(BEGIN RSA PRIVATE KEY\)/);
        expect(message).toMatch(found);
        expectNoLeak(message, bodyLines);
      },
    );
  });

  describe('#delete', () => {
    it('removes a key; it is then not found, and deleting again says so', async () => {
      const doomed = await store.create('identity', 'doomed');
      await store.delete(doomed.keyId.slice(0, 8));
      await expect(store.get(doomed.keyId)).rejects.toMatchObject({ code: 'KEY_NOT_FOUND' });
      await expect(store.delete(doomed.keyId)).rejects.toMatchObject({ code: 'KEY_NOT_FOUND' });
      expect(await keychain.get(`identity:${doomed.keyId}`)).toBeNull();
    });
  });

  describe('#backup and #restore', () => {
    it.each(['identity', 'bundle'] as const)(
      'round-trips a %s key: delete, restore, and the signer signs the same',
      async (type) => {
        const key = type === 'identity' ? identity : bundle;
        const before =
          type === 'identity'
            ? await (await store.identitySigner(key.keyId)).sign(MESSAGE)
            : (await store.bundleSigner(key.keyId)).privateEncrypt(MESSAGE);
        const secrets = await needles(key);
        const envelope = await store.backup(key.keyId, PASSPHRASE);
        expect(envelope).toMatchObject({
          format: 'airlock-key-backup',
          v: 1,
          type,
          keyId: key.keyId,
        });
        expectNoLeak(JSON.stringify(envelope), secrets);

        await store.delete(key.keyId);
        await expect(store.get(key.keyId)).rejects.toMatchObject({ code: 'KEY_NOT_FOUND' });
        const restored = await store.restore(JSON.parse(JSON.stringify(envelope)), PASSPHRASE);
        expect(restored).toEqual(key);

        const after =
          type === 'identity'
            ? await (await store.identitySigner(key.keyId)).sign(MESSAGE)
            : (await store.bundleSigner(key.keyId)).privateEncrypt(MESSAGE);
        expect(Buffer.from(after).equals(Buffer.from(before))).toBe(true);
        if (type === 'identity') {
          expect(ed25519Verify(after, MESSAGE, Buffer.from(key.publicKey, 'hex'))).toBe(true);
        }
        expect(await store.list()).toEqual(expect.arrayContaining([key]));
      },
    );

    it('refuses to restore a key that is already there', async () => {
      const envelope = await store.backup(identity.keyId, PASSPHRASE);
      await expect(store.restore(envelope, PASSPHRASE)).rejects.toMatchObject({
        code: 'ALREADY_EXISTS',
      });
    });

    it('restores over a damaged entry of the same key', async () => {
      const envelope = await store.backup(identity.keyId, PASSPHRASE);
      await keychain.set(`identity:${identity.keyId}`, 'damaged');
      await expect(store.get(identity.keyId)).rejects.toMatchObject({ code: 'KEY_INVALID' });
      expect(await store.restore(envelope, PASSPHRASE)).toEqual(identity);
      expect(await store.get(identity.keyId)).toEqual(identity);
    });

    describe('when the backup is wrong or altered', () => {
      let envelope: KeyBackupEnvelope;
      let doomed: KeyInfo;

      beforeAll(async () => {
        doomed = await store.create('identity', 'to be restored');
        envelope = await store.backup(doomed.keyId, PASSPHRASE);
        await store.delete(doomed.keyId);
      });

      afterAll(async () => {
        // Nothing below may have put the key back.
        expect(await keychain.get(`identity:${doomed.keyId}`)).toBeNull();
      });

      it('says wrong passphrase', async () => {
        const error: unknown = await store
          .restore(envelope, 'not the passphrase')
          .catch((e: unknown) => e);
        expect(error).toMatchObject({ code: 'BACKUP_WRONG_PASSPHRASE' });
        expect((error as Error).message).toMatch(
          /wrong passphrase, or the backup file was altered/,
        );
      });

      const kdf = (e: Record<string, unknown>): Record<string, unknown> =>
        e['kdf'] as Record<string, unknown>;
      const cipher = (e: Record<string, unknown>): Record<string, unknown> =>
        e['cipher'] as Record<string, unknown>;
      const tampers: [string, (e: Record<string, unknown>) => void, string][] = [
        ['keyId', (e) => (e['keyId'] = identity.keyId), 'BACKUP_WRONG_PASSPHRASE'],
        ['type', (e) => (e['type'] = 'bundle'), 'BACKUP_INVALID'],
        ['label', (e) => (e['label'] = 'mallory'), 'BACKUP_WRONG_PASSPHRASE'],
        ['publicKey', (e) => (e['publicKey'] = identity.publicKey), 'BACKUP_WRONG_PASSPHRASE'],
        [
          'createdAt',
          (e) => (e['createdAt'] = '2001-01-01T00:00:00.000Z'),
          'BACKUP_WRONG_PASSPHRASE',
        ],
        ['kdf.N (raised)', (e) => (kdf(e)['N'] = 2 ** 18), 'BACKUP_WRONG_PASSPHRASE'],
        ['kdf.N (lowered)', (e) => (kdf(e)['N'] = 2 ** 14), 'BACKUP_INVALID'],
        ['kdf.r', (e) => (kdf(e)['r'] = 16), 'BACKUP_WRONG_PASSPHRASE'],
        ['kdf.p', (e) => (kdf(e)['p'] = 2), 'BACKUP_WRONG_PASSPHRASE'],
        [
          'kdf.salt',
          (e) => (kdf(e)['salt'] = flipBase64Byte(kdf(e)['salt'] as string, 0)),
          'BACKUP_WRONG_PASSPHRASE',
        ],
        [
          'cipher.iv',
          (e) => (cipher(e)['iv'] = flipBase64Byte(cipher(e)['iv'] as string, 11)),
          'BACKUP_WRONG_PASSPHRASE',
        ],
        [
          'cipher.tag',
          (e) => (cipher(e)['tag'] = flipBase64Byte(cipher(e)['tag'] as string, 0)),
          'BACKUP_WRONG_PASSPHRASE',
        ],
        [
          'a ciphertext byte',
          (e) => (e['ciphertext'] = flipBase64Byte(e['ciphertext'] as string, 10)),
          'BACKUP_WRONG_PASSPHRASE',
        ],
        ['the format', (e) => (e['format'] = 'airlock-key-backup-2'), 'BACKUP_INVALID'],
        ['the version', (e) => (e['v'] = 2), 'BACKUP_INVALID'],
      ];

      it.each(tampers)('refuses an altered %s and stores nothing', async (_field, edit, code) => {
        await expect(store.restore(edited(envelope, edit), PASSPHRASE)).rejects.toMatchObject({
          code,
        });
        expect(await keychain.get(`identity:${doomed.keyId}`)).toBeNull();
      });
    });
  });
});
