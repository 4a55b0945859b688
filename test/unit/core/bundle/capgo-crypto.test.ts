import { createHash, generateKeyPairSync } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fileListSha256,
  buildBundle,
  calcKeyId,
  encryptBundle,
  openChecksum,
  rsaSignerFromPrivateKey,
  unwrapSessionKey,
  verifyEncryptedBundle,
  type EncryptedBundleInfo,
  type RsaPrivateSigner,
} from '../../../../src/core/bundle';
import {
  encryptLikeCapgo,
  generateTestRsaKey,
  makeTempDir,
  sampleWebBuild,
  sha256File,
  writeRawZip,
  writeTree,
  type TestRsaKey,
} from '../../../helpers/bundle-fixtures';

const tmp = makeTempDir('airlock-capgo-crypto-');
afterAll(() => tmp.cleanup());

// TEST-ONLY keys, generated for this run.
let key: TestRsaKey;
let otherKey: TestRsaKey;
let signer: RsaPrivateSigner;
let zipPath: string;
let encPath: string;
let info: EncryptedBundleInfo;

beforeAll(async () => {
  key = generateTestRsaKey();
  otherKey = generateTestRsaKey();
  signer = rsaSignerFromPrivateKey(key.privateKey);
  const web = join(tmp.path, 'web');
  writeTree(web, sampleWebBuild());
  zipPath = join(tmp.path, 'bundle.zip');
  encPath = join(tmp.path, 'bundle.enc');
  await buildBundle(web, zipPath);
  info = await encryptBundle(zipPath, encPath, signer);
});

/** A copy of the encrypted bundle with `mutate` applied. */
function tamperedCopy(mutate: (bytes: Buffer) => void): string {
  const bytes = readFileSync(encPath);
  mutate(bytes);
  const path = join(tmp.path, `tampered-${Math.random().toString(36).slice(2)}.enc`);
  writeFileSync(path, bytes);
  return path;
}

function verifyBundle(
  path: string,
  overrides: Partial<{ publicKeyPem: string; sessionKey: string; checksum: string }> = {},
): Promise<unknown> {
  return verifyEncryptedBundle(path, {
    publicKeyPem: key.publicKeyPem,
    sessionKey: info.sessionKey,
    checksum: info.checksum,
    ...overrides,
  });
}

function flipBase64Byte(text: string, index: number): string {
  const bytes = Buffer.from(text, 'base64');
  bytes[index] = (bytes[index] ?? 0) ^ 0x01;
  return bytes.toString('base64');
}

describe('#rsaSignerFromPrivateKey', () => {
  it('exposes the PKCS#1 public key the app config needs, from a KeyObject or a PEM', () => {
    expect(signer.publicKeyPem).toBe(key.publicKeyPem);
    expect(signer.publicKeyPem.startsWith('-----BEGIN RSA PUBLIC KEY-----')).toBe(true);
    expect(rsaSignerFromPrivateKey(key.privatePkcs1Pem).publicKeyPem).toBe(key.publicKeyPem);
  });

  it('refuses keys that are not RSA-2048 private keys', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const publicOnly = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    expect(() => rsaSignerFromPrivateKey(small)).toThrowWithCode('KEY_INVALID');
    expect(() => rsaSignerFromPrivateKey(ec)).toThrowWithCode('KEY_INVALID');
    expect(() => rsaSignerFromPrivateKey(publicOnly)).toThrowWithCode('KEY_INVALID');
    expect(() => rsaSignerFromPrivateKey('not a pem')).toThrowWithCode('KEY_INVALID');
  });
});

describe('#encryptBundle', () => {
  it('describes the bundle like a Capgo upload (PROTOCOL.md §7)', () => {
    const zip = readFileSync(zipPath);
    expect(info.sha256).toBe(createHash('sha256').update(zip).digest('hex'));
    expect(info.size).toBe(zip.length);
    expect(info.encryptedSize).toBe(16 * Math.floor(zip.length / 16) + 16);
    expect(info.encryptedSha256).toBe(sha256File(encPath));
    expect(info.checksum).toMatch(/^[0-9a-f]{512}$/);
    expect(info.sessionKey).toMatch(/^[A-Za-z0-9+/]{22}==:[A-Za-z0-9+/]{342}==$/);
    expect(info.keyId).toBe(calcKeyId(key.publicKeyPem));
    expect(info.keyId).toHaveLength(20);
    expect(info.files).toBe(6);
  });

  it('signs the plaintext SHA-256 (V3 checksum) and wraps a 16-byte AES key', () => {
    expect(openChecksum(info.checksum, key.publicKeyPem).toString('hex')).toBe(info.sha256);
    const { iv, key: aesKey } = unwrapSessionKey(info.sessionKey, key.publicKeyPem);
    expect(iv).toHaveLength(16);
    expect(aesKey).toHaveLength(16);
  });

  it('uses a fresh key and IV every time, with the same deterministic checksum', async () => {
    const again = await encryptBundle(zipPath, join(tmp.path, 'again.enc'), signer);
    expect(again.sessionKey).not.toBe(info.sessionKey);
    expect(again.encryptedSha256).not.toBe(info.encryptedSha256);
    expect(again.checksum).toBe(info.checksum);
  });

  it('reports progress in bytes', async () => {
    const done: number[] = [];
    await encryptBundle(zipPath, join(tmp.path, 'progress.enc'), signer, {
      onProgress: (p) => done.push(p.done),
    });
    expect(done.at(-1)).toBe(info.size);
  });

  it('refuses a ZIP a phone would refuse, and writes nothing', async () => {
    const bad = join(tmp.path, 'dotdot.zip');
    writeRawZip(bad, [
      { name: 'index.html', data: '<p>' },
      { name: '../evil.js', data: 'x' },
    ]);
    const out = join(tmp.path, 'dotdot.enc');
    await expect(encryptBundle(bad, out, signer)).rejects.toThrowWithCode('BUNDLE_PATH_REJECTED');
    expect(existsSync(out)).toBe(false);
  });

  it('refuses a signer whose private key does not match its public key', async () => {
    const liar: RsaPrivateSigner = {
      publicKeyPem: otherKey.publicKeyPem,
      privateEncrypt: (data) => signer.privateEncrypt(data),
    };
    const out = join(tmp.path, 'liar.enc');
    await expect(encryptBundle(zipPath, out, liar)).rejects.toThrowWithCode('KEY_INVALID');
    expect(existsSync(out)).toBe(false);
  });
});

describe('#verifyEncryptedBundle', () => {
  it('accepts what encryptBundle wrote, with the phone’s steps', async () => {
    const verified = await verifyEncryptedBundle(encPath, {
      publicKeyPem: key.publicKeyPem,
      sessionKey: info.sessionKey,
      checksum: info.checksum,
    });
    const { fileList, ...facts } = verified;
    expect(facts).toEqual({
      sha256: info.sha256,
      size: info.size,
      files: 6,
      fileListSha256: info.fileListSha256,
      encryptedSha256: info.encryptedSha256,
      encryptedSize: info.encryptedSize,
    });
    // The list the server reads back is the one encryptBundle bound into the release statement.
    expect(fileList).toHaveLength(6);
    expect(fileListSha256(fileList)).toBe(info.fileListSha256);
  });

  it('accepts a bundle encrypted by an independent rendering of the Capgo CLI code', async () => {
    const out = join(tmp.path, 'independent.enc');
    const { sessionKey, checksum } = encryptLikeCapgo(zipPath, out, key.privateKey);
    const verified = await verifyEncryptedBundle(out, {
      publicKeyPem: key.publicKeyPem,
      sessionKey,
      checksum,
    });
    expect(verified.sha256).toBe(info.sha256);
  });

  it('removes its decrypted scratch copy', async () => {
    const before = readdirSync(tmpdir()).filter((n) => n.startsWith('airlock-verify-')).length;
    await verifyBundle(encPath);
    await verifyBundle(tamperedCopy((b) => (b[100] = (b[100] ?? 0) ^ 1))).catch(() => undefined);
    const after = readdirSync(tmpdir()).filter((n) => n.startsWith('airlock-verify-')).length;
    expect(after).toBe(before);
  });

  describe('tampering', () => {
    it('a flipped ciphertext byte in the middle → CHECKSUM_MISMATCH', async () => {
      const path = tamperedCopy(
        (b) => (b[Math.floor(b.length / 2)] = (b[Math.floor(b.length / 2)] ?? 0) ^ 0x01),
      );
      await expect(verifyBundle(path)).rejects.toThrowWithCode('CHECKSUM_MISMATCH');
    });

    it('a flipped byte that breaks the padding → DECRYPT_FAILED', async () => {
      // CBC: the last byte of the second-to-last block is XORed into the last padding byte.
      const path = tamperedCopy((b) => (b[b.length - 17] = (b[b.length - 17] ?? 0) ^ 0xff));
      await expect(verifyBundle(path)).rejects.toThrowWithCode('DECRYPT_FAILED');
    });

    it('a truncated or empty ciphertext → DECRYPT_FAILED', async () => {
      const truncated = join(tmp.path, 'truncated.enc');
      writeFileSync(truncated, readFileSync(encPath).subarray(0, info.encryptedSize - 5));
      await expect(verifyBundle(truncated)).rejects.toThrowWithCode('DECRYPT_FAILED');
      const empty = join(tmp.path, 'empty.enc');
      writeFileSync(empty, '');
      await expect(verifyBundle(empty)).rejects.toThrowWithCode('DECRYPT_FAILED');
    });

    it('a changed IV → CHECKSUM_MISMATCH', async () => {
      const [iv = '', wrapped = ''] = info.sessionKey.split(':');
      await expect(
        verifyBundle(encPath, { sessionKey: `${flipBase64Byte(iv, 3)}:${wrapped}` }),
      ).rejects.toThrowWithCode('CHECKSUM_MISMATCH');
    });

    it('a changed wrapped key → SESSION_KEY_INVALID', async () => {
      const [iv = '', wrapped = ''] = info.sessionKey.split(':');
      await expect(
        verifyBundle(encPath, { sessionKey: `${iv}:${flipBase64Byte(wrapped, 200)}` }),
      ).rejects.toThrowWithCode('SESSION_KEY_INVALID');
    });

    it.each([
      ['no colon', 'abc'],
      ['three parts', 'a:b:c'],
      ['a short IV', `${Buffer.alloc(8).toString('base64')}:x`],
      ['not base64', '!!!!:????'],
    ])('a malformed session key (%s) → SESSION_KEY_INVALID', async (_why, sessionKey) => {
      await expect(verifyBundle(encPath, { sessionKey })).rejects.toThrowWithCode(
        'SESSION_KEY_INVALID',
      );
    });

    it('a changed checksum byte → CHECKSUM_INVALID', async () => {
      const checksum = `${info.checksum.slice(0, 100)}${info.checksum[100] === '0' ? '1' : '0'}${info.checksum.slice(101)}`;
      await expect(verifyBundle(encPath, { checksum })).rejects.toThrowWithCode('CHECKSUM_INVALID');
    });

    it('a validly signed checksum of other bytes → CHECKSUM_MISMATCH', async () => {
      const other = signer
        .privateEncrypt(createHash('sha256').update('other').digest())
        .toString('hex');
      await expect(verifyBundle(encPath, { checksum: other })).rejects.toThrowWithCode(
        'CHECKSUM_MISMATCH',
      );
    });

    it('a plain (unsigned) sha256 checksum → CHECKSUM_INVALID', async () => {
      await expect(verifyBundle(encPath, { checksum: info.sha256 })).rejects.toThrowWithCode(
        'CHECKSUM_INVALID',
      );
    });

    it('a wrong public key → SESSION_KEY_INVALID', async () => {
      await expect(
        verifyBundle(encPath, { publicKeyPem: otherKey.publicKeyPem }),
      ).rejects.toThrowWithCode('SESSION_KEY_INVALID');
    });

    it('a public key in SPKI form (refused by Android) or a private key → PUBLIC_KEY_INVALID', async () => {
      const privatePem = key.privatePkcs1Pem;
      const spkiPublic = generateKeyPairSync('rsa', { modulusLength: 2048 })
        .publicKey.export({ type: 'spki', format: 'pem' })
        .toString();
      await expect(verifyBundle(encPath, { publicKeyPem: spkiPublic })).rejects.toThrowWithCode(
        'PUBLIC_KEY_INVALID',
      );
      await expect(verifyBundle(encPath, { publicKeyPem: privatePem })).rejects.toThrowWithCode(
        'PUBLIC_KEY_INVALID',
      );
    });

    it.each([
      ['a ".." entry', 'BUNDLE_PATH_REJECTED', '../evil.js'],
      ['a "\\" entry', 'BUNDLE_PATH_REJECTED', 'assets\\evil.js'],
      ['an absolute entry', 'BUNDLE_PATH_REJECTED', '/data/evil.js'],
    ])('a properly signed ZIP with %s → %s', async (_why, code, name) => {
      const bad = join(tmp.path, `signed-bad-${code}-${name.length}.zip`);
      writeRawZip(bad, [
        { name: 'index.html', data: '<p>' },
        { name, data: 'evil()' },
      ]);
      const out = `${bad}.enc`;
      const signed = encryptLikeCapgo(bad, out, key.privateKey);
      await expect(verifyBundle(out, signed)).rejects.toThrowWithCode(code);
    });

    it('a properly signed ZIP without index.html → BUNDLE_NO_INDEX', async () => {
      const bad = join(tmp.path, 'signed-noindex.zip');
      writeRawZip(bad, [{ name: 'main.js', data: 'x' }]);
      const signed = encryptLikeCapgo(bad, `${bad}.enc`, key.privateKey);
      await expect(verifyBundle(`${bad}.enc`, signed)).rejects.toThrowWithCode('BUNDLE_NO_INDEX');
    });

    it('a properly signed file that is not a ZIP → ZIP_INVALID', async () => {
      const bad = join(tmp.path, 'signed-notzip.zip');
      writeFileSync(bad, 'just text');
      const signed = encryptLikeCapgo(bad, `${bad}.enc`, key.privateKey);
      await expect(verifyBundle(`${bad}.enc`, signed)).rejects.toThrowWithCode('ZIP_INVALID');
    });

    it('a missing file → IO_ERROR', async () => {
      await expect(verifyBundle(join(tmp.path, 'missing.enc'))).rejects.toThrowWithCode('IO_ERROR');
    });
  });
});
