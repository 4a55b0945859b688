import {
  createCipheriv,
  createHash,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  scryptSync,
  type KeyObject,
} from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { identityKeyId, publicKeyFromSeed } from '../../../../src/core/crypto/ed25519';
import {
  derivePublicKey,
  openKeyBackup,
  sealKeyBackup,
  type KeyBackupEnvelope,
  type KeyBackupInput,
} from '../../../../src/core/crypto/key-backup';

// TEST-ONLY keys and passphrases. Every test runs the real KDF (scrypt N=2^17): ~0.3 s each.
const PASSPHRASE = 'correct horse battery staple';
const TEST_ONLY_SEED = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'; // RFC 8032 test 1

function identityInput(seedHex = TEST_ONLY_SEED): KeyBackupInput {
  const publicKey = publicKeyFromSeed(Buffer.from(seedHex, 'hex'));
  return {
    type: 'identity',
    keyId: identityKeyId(publicKey),
    label: 'alice (TEST-ONLY)',
    publicKey: Buffer.from(publicKey).toString('hex'),
    privateKey: seedHex,
    createdAt: '2024-05-01T12:00:00.000Z',
  };
}

function bundleInput(privateKey: KeyObject): KeyBackupInput {
  const pem = privateKey.export({ format: 'pem', type: 'pkcs1' }).toString();
  const { publicKey, keyId } = derivePublicKey('bundle', pem);
  return { type: 'bundle', keyId, label: 'prod bundle (TEST-ONLY)', publicKey, privateKey: pem };
}

/** A deep copy with one change, as JSON (what a tampered file would parse to). */
function edited(envelope: KeyBackupEnvelope, edit: (e: Record<string, unknown>) => void): unknown {
  const copy = JSON.parse(JSON.stringify(envelope)) as Record<string, unknown>;
  edit(copy);
  return copy;
}

function flipBase64Byte(text: string, index = 0): string {
  const bytes = Buffer.from(text, 'base64');
  bytes[index] = (bytes[index] ?? 0) ^ 0x01;
  return bytes.toString('base64');
}

/**
 * Seals exactly as the documented v1 format says, independently of the implementation: the AAD is
 * the JSON array [format, v, type, keyId, label, publicKey, createdAt, kdf.name, N, r, p, salt,
 * cipher.name, iv]. Used to build an authentic envelope around a mismatched key.
 */
function sealByHand(
  header: Omit<KeyBackupInput, 'privateKey'>,
  plaintext: string,
  pass: string,
): unknown {
  const salt = randomBytes(32);
  const iv = randomBytes(12);
  const N = 2 ** 17;
  const key = scryptSync(Buffer.from(pass.normalize('NFC')), salt, 32, {
    N,
    r: 8,
    p: 1,
    maxmem: 256 * 1024 * 1024,
  });
  const createdAt = header.createdAt ?? '2024-01-01T00:00:00.000Z';
  const aad = JSON.stringify([
    'airlock-key-backup',
    1,
    header.type,
    header.keyId,
    header.label,
    header.publicKey,
    createdAt,
    'scrypt',
    N,
    8,
    1,
    salt.toString('base64'),
    'aes-256-gcm',
    iv.toString('base64'),
  ]);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return {
    format: 'airlock-key-backup',
    v: 1,
    type: header.type,
    keyId: header.keyId,
    label: header.label,
    publicKey: header.publicKey,
    kdf: { name: 'scrypt', N, r: 8, p: 1, salt: salt.toString('base64') },
    cipher: {
      name: 'aes-256-gcm',
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
    },
    ciphertext: ciphertext.toString('base64'),
    createdAt,
  };
}

// Known answer (signed data, TEST-ONLY): a v1 backup of the RFC 8032 test-1 seed, sealed once with
// PASSPHRASE. Every later version of Airlock must keep opening it.
const KNOWN_V1_ENVELOPE = {
  format: 'airlock-key-backup',
  v: 1,
  type: 'identity',
  keyId: '21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9',
  label: 'alice (TEST-ONLY)',
  publicKey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
  kdf: {
    name: 'scrypt',
    N: 131072,
    r: 8,
    p: 1,
    salt: 'MzETAd3iLG6Nla7/D4cJQ2nX61o77CYKe49d/8QjmgI=',
  },
  cipher: { name: 'aes-256-gcm', iv: '35uziWshzLvkLuMk', tag: '+l2keC1rMH2cI0KfwWAFig==' },
  ciphertext:
    'mszjTdmzuCLPeSqzjEbCYqswOwLD1ys7NgohHPpg8HjeB/ex17t+4aRmzCgJ3WqU3yFWNpfWH14YC+4YzvgSbw==',
  createdAt: '2024-05-01T12:00:00.000Z',
};

describe('#derivePublicKey', () => {
  it('derives the raw public key and keyId of an identity seed (RFC 8032 test 1)', () => {
    expect(derivePublicKey('identity', TEST_ONLY_SEED)).toEqual({
      publicKey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
      keyId: '21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9',
    });
  });

  it('refuses a seed that is not 64 lowercase hex characters', () => {
    expect(() => derivePublicKey('identity', TEST_ONLY_SEED.toUpperCase())).toThrow(
      expect.objectContaining({ code: 'KEY_INVALID' }),
    );
    expect(() => derivePublicKey('identity', TEST_ONLY_SEED.slice(2))).toThrow(
      expect.objectContaining({ code: 'KEY_INVALID' }),
    );
  });

  it('derives the PKCS#1 public key of a bundle key, keyId = SHA-256 of its DER', () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 }); // TEST-ONLY
    const derived = derivePublicKey(
      'bundle',
      privateKey.export({ format: 'pem', type: 'pkcs1' }).toString(),
    );
    expect(derived.publicKey).toBe(publicKey.export({ format: 'pem', type: 'pkcs1' }).toString());
    expect(derived.keyId).toBe(
      createHash('sha256')
        .update(publicKey.export({ format: 'der', type: 'pkcs1' }))
        .digest('hex'),
    );
  });

  it('refuses PKCS#8, short RSA keys and keys whose parts do not belong together', () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 }); // TEST-ONLY
    const pkcs1 = privateKey.export({ format: 'pem', type: 'pkcs1' }).toString();
    const line = pkcs1.split('\n')[4] ?? '';
    const bad = [
      privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      generateKeyPairSync('rsa', { modulusLength: 1024 })
        .privateKey.export({ format: 'pem', type: 'pkcs1' })
        .toString(),
      pkcs1.replace(line, 'A'.repeat(line.length)),
    ];
    for (const pem of bad) {
      expect(() => derivePublicKey('bundle', pem)).toThrow(
        expect.objectContaining({ code: 'KEY_INVALID' }),
      );
    }
  });
});

describe('key backup envelope (ARCHITECTURE.md §2)', () => {
  let identity: KeyBackupEnvelope;
  let bundle: KeyBackupEnvelope;
  let bundleContents: KeyBackupInput;

  beforeAll(async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 }); // TEST-ONLY key
    bundleContents = bundleInput(privateKey);
    [identity, bundle] = await Promise.all([
      sealKeyBackup(identityInput(), PASSPHRASE),
      sealKeyBackup(bundleContents, PASSPHRASE),
    ]);
  });

  describe('#sealKeyBackup', () => {
    it('writes a versioned envelope with scrypt N=2^17, r=8, p=1 and AES-256-GCM', () => {
      expect(Object.keys(identity).sort()).toEqual(
        [
          'cipher',
          'ciphertext',
          'createdAt',
          'format',
          'kdf',
          'keyId',
          'label',
          'publicKey',
          'type',
          'v',
        ].sort(),
      );
      expect(identity).toMatchObject({
        format: 'airlock-key-backup',
        v: 1,
        type: 'identity',
        keyId: identityInput().keyId,
        label: 'alice (TEST-ONLY)',
        publicKey: identityInput().publicKey,
        kdf: { name: 'scrypt', N: 2 ** 17, r: 8, p: 1 },
        cipher: { name: 'aes-256-gcm' },
        createdAt: '2024-05-01T12:00:00.000Z',
      });
      expect(Buffer.from(identity.kdf.salt, 'base64')).toHaveLength(32);
      expect(Buffer.from(identity.cipher.iv, 'base64')).toHaveLength(12);
      expect(Buffer.from(identity.cipher.tag, 'base64')).toHaveLength(16);
    });

    it('never writes the private key in the clear', () => {
      const text = JSON.stringify([identity, bundle]);
      expect(text).not.toContain(TEST_ONLY_SEED);
      expect(text).not.toContain(Buffer.from(TEST_ONLY_SEED, 'hex').toString('base64'));
      const body = bundleContents.privateKey
        .split('\n')
        .filter((l) => l !== '' && !l.startsWith('-----'));
      for (const line of body) expect(text).not.toContain(line);
    });

    it('uses a fresh salt and IV each time', async () => {
      const again = await sealKeyBackup(identityInput(), PASSPHRASE);
      expect(again.kdf.salt).not.toBe(identity.kdf.salt);
      expect(again.cipher.iv).not.toBe(identity.cipher.iv);
      expect(again.ciphertext).not.toBe(identity.ciphertext);
    });

    it('defaults createdAt to now', async () => {
      const { createdAt: _omit, ...input } = identityInput();
      const before = Date.now();
      const envelope = await sealKeyBackup(input, PASSPHRASE);
      expect(Date.parse(envelope.createdAt)).toBeGreaterThanOrEqual(before - 1);
    });

    it('refuses a private key that does not match the public key or keyId', async () => {
      const other = identityInput(
        '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
      );
      await expect(
        sealKeyBackup({ ...identityInput(), publicKey: other.publicKey }, PASSPHRASE),
      ).rejects.toMatchObject({ code: 'KEY_INVALID' });
      await expect(
        sealKeyBackup({ ...identityInput(), keyId: other.keyId }, PASSPHRASE),
      ).rejects.toMatchObject({ code: 'KEY_INVALID' });
      await expect(
        sealKeyBackup({ ...bundleContents, keyId: other.keyId }, PASSPHRASE),
      ).rejects.toMatchObject({ code: 'KEY_INVALID' });
    });

    it('refuses an empty passphrase', async () => {
      await expect(sealKeyBackup(identityInput(), '')).rejects.toMatchObject({
        code: 'PASSPHRASE_REQUIRED',
      });
    });
  });

  describe('#openKeyBackup', () => {
    it('round-trips an identity key', async () => {
      const opened = await openKeyBackup(JSON.parse(JSON.stringify(identity)), PASSPHRASE);
      expect(opened).toEqual(identityInput());
    });

    it('round-trips a bundle key', async () => {
      const opened = await openKeyBackup(JSON.parse(JSON.stringify(bundle)), PASSPHRASE);
      expect(opened).toMatchObject({ ...bundleContents, createdAt: bundle.createdAt });
    });

    it('opens an envelope built by hand from the documented v1 format', async () => {
      const { privateKey, ...header } = identityInput();
      const opened = await openKeyBackup(sealByHand(header, privateKey, PASSPHRASE), PASSPHRASE);
      expect(opened.privateKey).toBe(TEST_ONLY_SEED);
    });

    it('opens a known v1 backup (known answer)', async () => {
      const opened = await openKeyBackup(KNOWN_V1_ENVELOPE, PASSPHRASE);
      expect(opened).toEqual(identityInput());
    });

    it('accepts the passphrase in another Unicode normal form', async () => {
      const envelope = await sealKeyBackup(identityInput(), 'caf\u00e9 cr\u00e8me');
      const opened = await openKeyBackup(envelope, 'cafe\u0301 cre\u0300me');
      expect(opened.keyId).toBe(identityInput().keyId);
    });

    it('says "wrong passphrase" for a wrong passphrase', async () => {
      const error: unknown = await openKeyBackup(identity, 'not the passphrase').catch(
        (e: unknown) => e,
      );
      expect(error).toMatchObject({
        code: 'BACKUP_WRONG_PASSPHRASE',
        message: expect.stringMatching(
          /wrong passphrase, or the backup file was altered/,
        ) as unknown,
      });
    });

    it('refuses an empty passphrase', async () => {
      await expect(openKeyBackup(identity, '')).rejects.toMatchObject({
        code: 'PASSPHRASE_REQUIRED',
      });
    });

    describe('when one authenticated field is altered', () => {
      const otherSeed = '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb';
      const tampers: [string, (e: Record<string, unknown>) => void][] = [
        ['keyId', (e) => (e['keyId'] = identityInput(otherSeed).keyId)],
        ['label', (e) => (e['label'] = 'mallory')],
        ['publicKey', (e) => (e['publicKey'] = identityInput(otherSeed).publicKey)],
        ['createdAt', (e) => (e['createdAt'] = '2030-01-01T00:00:00.000Z')],
        ['kdf.N (raised)', (e) => ((e['kdf'] as Record<string, unknown>)['N'] = 2 ** 18)],
        ['kdf.r', (e) => ((e['kdf'] as Record<string, unknown>)['r'] = 9)],
        ['kdf.p', (e) => ((e['kdf'] as Record<string, unknown>)['p'] = 2)],
        [
          'kdf.salt',
          (e) => {
            const kdf = e['kdf'] as Record<string, string>;
            kdf['salt'] = flipBase64Byte(kdf['salt'] ?? '', 5);
          },
        ],
        [
          'cipher.iv',
          (e) => {
            const cipher = e['cipher'] as Record<string, string>;
            cipher['iv'] = flipBase64Byte(cipher['iv'] ?? '', 3);
          },
        ],
        [
          'cipher.tag',
          (e) => {
            const cipher = e['cipher'] as Record<string, string>;
            cipher['tag'] = flipBase64Byte(cipher['tag'] ?? '', 15);
          },
        ],
        [
          'ciphertext (first byte)',
          (e) => (e['ciphertext'] = flipBase64Byte(e['ciphertext'] as string, 0)),
        ],
        [
          'ciphertext (last byte)',
          (e) => (e['ciphertext'] = flipBase64Byte(e['ciphertext'] as string, 63)),
        ],
      ];

      it.each(tampers)('detects an edited %s', async (_field, edit) => {
        await expect(openKeyBackup(edited(identity, edit), PASSPHRASE)).rejects.toMatchObject({
          code: 'BACKUP_WRONG_PASSPHRASE',
        });
      });

      it('detects an edited type', async () => {
        const swapped = edited(bundle, (e) => (e['type'] = 'identity'));
        await expect(openKeyBackup(swapped, PASSPHRASE)).rejects.toMatchObject({
          code: expect.stringMatching(/^BACKUP_(INVALID|WRONG_PASSPHRASE)$/) as unknown,
        });
      });

      it('detects an edited bundle public key', async () => {
        const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 }); // TEST-ONLY
        const pem = createPublicKey(privateKey).export({ format: 'pem', type: 'pkcs1' }).toString();
        await expect(
          openKeyBackup(
            edited(bundle, (e) => (e['publicKey'] = pem)),
            PASSPHRASE,
          ),
        ).rejects.toMatchObject({ code: 'BACKUP_WRONG_PASSPHRASE' });
      });
    });

    it('refuses an authentic envelope whose private key does not match its public key', async () => {
      const { privateKey: _seed, ...header } = identityInput();
      const crafted = sealByHand(
        header,
        '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
        PASSPHRASE,
      );
      await expect(openKeyBackup(crafted, PASSPHRASE)).rejects.toMatchObject({
        code: 'KEY_INVALID',
      });
    });

    describe('when the envelope is malformed', () => {
      const kdf = (e: Record<string, unknown>): Record<string, unknown> =>
        e['kdf'] as Record<string, unknown>;
      const cipher = (e: Record<string, unknown>): Record<string, unknown> =>
        e['cipher'] as Record<string, unknown>;
      const cases: [string, (e: Record<string, unknown>) => void, RegExp][] = [
        ['an unknown format', (e) => (e['format'] = 'something-else'), /not an Airlock key backup/],
        ['a newer version', (e) => (e['v'] = 2), /version 2/],
        ['a missing version', (e) => delete e['v'], /version/],
        ['an unknown field', (e) => (e['note'] = 'hi'), /unknown field/],
        ['an unknown kdf field', (e) => (kdf(e)['maxmem'] = 1), /unknown field/],
        ['an unknown type', (e) => (e['type'] = 'admin'), /type/],
        ['a missing keyId', (e) => delete e['keyId'], /keyId/],
        ['an uppercase keyId', (e) => (e['keyId'] = (e['keyId'] as string).toUpperCase()), /keyId/],
        ['a missing label', (e) => delete e['label'], /label/],
        ['a missing publicKey', (e) => delete e['publicKey'], /publicKey/],
        ['a missing createdAt', (e) => delete e['createdAt'], /createdAt/],
        ['a createdAt that is not a time', (e) => (e['createdAt'] = 'yesterday'), /createdAt/],
        ['a missing kdf', (e) => delete e['kdf'], /kdf/],
        ['another kdf', (e) => (kdf(e)['name'] = 'pbkdf2'), /scrypt/],
        ['N lowered to 2^16', (e) => (kdf(e)['N'] = 2 ** 16), /weaker than the minimum/],
        ['N = 1', (e) => (kdf(e)['N'] = 1), /weaker than the minimum/],
        ['r lowered to 1', (e) => (kdf(e)['r'] = 1), /weaker than the minimum/],
        ['p = 0', (e) => (kdf(e)['p'] = 0), /weaker than the minimum/],
        ['N not a power of two', (e) => (kdf(e)['N'] = 2 ** 17 + 1), /out of range/],
        ['N = 2^21 (would allocate 2 GiB)', (e) => (kdf(e)['N'] = 2 ** 21), /out of range/],
        ['N as a string', (e) => (kdf(e)['N'] = '131072'), /kdf\.N/],
        ['a fractional r', (e) => (kdf(e)['r'] = 8.5), /kdf\.r/],
        ['a short salt', (e) => (kdf(e)['salt'] = Buffer.alloc(8).toString('base64')), /kdf\.salt/],
        ['a salt that is not base64', (e) => (kdf(e)['salt'] = 'not base64!'), /kdf\.salt/],
        ['another cipher', (e) => (cipher(e)['name'] = 'aes-256-cbc'), /aes-256-gcm/],
        [
          'an 8-byte IV',
          (e) => (cipher(e)['iv'] = Buffer.alloc(8).toString('base64')),
          /cipher\.iv/,
        ],
        [
          'a 16-byte IV',
          (e) => (cipher(e)['iv'] = Buffer.alloc(16).toString('base64')),
          /cipher\.iv/,
        ],
        ['a missing tag', (e) => delete cipher(e)['tag'], /cipher\.tag/],
        [
          'a truncated tag',
          (e) => (cipher(e)['tag'] = Buffer.alloc(12).toString('base64')),
          /cipher\.tag/,
        ],
        ['a missing ciphertext', (e) => delete e['ciphertext'], /ciphertext/],
        ['an empty ciphertext', (e) => (e['ciphertext'] = ''), /ciphertext/],
        [
          'URL-safe base64',
          (e) =>
            (e['ciphertext'] =
              (e['ciphertext'] as string).replace(/\+/g, '-').replace(/\//g, '_') + '-'),
          /ciphertext/,
        ],
        ['a public key of the wrong kind', (e) => (e['publicKey'] = 'abcd'), /publicKey/],
      ];

      it.each(cases)('refuses %s as BACKUP_INVALID', async (_what, edit, sentence) => {
        const error: unknown = await openKeyBackup(edited(identity, edit), PASSPHRASE).catch(
          (e: unknown) => e,
        );
        expect(error).toMatchObject({
          code: 'BACKUP_INVALID',
          message: expect.stringMatching(sentence) as unknown,
        });
      });

      it.each([null, 'text', 42, [], {}])('refuses %j as BACKUP_INVALID', async (value) => {
        await expect(openKeyBackup(value, PASSPHRASE)).rejects.toMatchObject({
          code: 'BACKUP_INVALID',
        });
      });

      it('refuses a weakened envelope before spending time on the KDF', async () => {
        const started = performance.now();
        await expect(
          openKeyBackup(
            edited(identity, (e) => (kdf(e)['N'] = 1024)),
            PASSPHRASE,
          ),
        ).rejects.toMatchObject({ code: 'BACKUP_INVALID' });
        expect(performance.now() - started).toBeLessThan(50);
      });
    });
  });
});
