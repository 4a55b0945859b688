import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  calcKeyId,
  openChecksum,
  parseCapgoPublicKey,
  rsaPublicDecrypt,
} from '../../../../src/core/bundle';

/**
 * Known-answer vectors from `@capgo/capacitor-updater`'s own contract tests (PROTOCOL.md §0; fixture
 * `test/fixtures/vectors/capgo-crypto-rsa.json`): RSA values made with `crypto.privateEncrypt` (PKCS#1) as the
 * Capgo CLI makes them. The fixture holds a public key only.
 */
interface Vectors {
  readonly version: number;
  readonly publicKeyPem: string;
  readonly rsaPublicDecrypt: readonly {
    id: string;
    input: { ciphertextHex: string };
    expect: { plaintextHex: string };
  }[];
  readonly decryptChecksum: readonly {
    id: string;
    input: { checksumHex: string };
    expect: { decryptedHex: string };
  }[];
  readonly calcKeyId: readonly {
    id: string;
    input: { publicKeyPem: string };
    expect: { keyId: string };
  }[];
  readonly rsaPublicKeyLoad: readonly {
    id: string;
    input: { publicKeyPem: string };
    expect: { loads: boolean };
  }[];
  readonly decryptChecksumInvalid: readonly {
    id: string;
    input: { checksumHex: string };
    expect: { throws: boolean };
  }[];
}

const vectors = JSON.parse(
  readFileSync(new URL('../../../fixtures/vectors/capgo-crypto-rsa.json', import.meta.url), 'utf8'),
) as Vectors;

describe('capgo-crypto-rsa.json vectors', () => {
  it('has the groups this file tests, and only those', () => {
    expect(vectors.version).toBe(1);
    expect(Object.keys(vectors).sort()).toEqual([
      'calcKeyId',
      'decryptChecksum',
      'decryptChecksumInvalid',
      'description',
      'publicKeyPem',
      'rsaPublicDecrypt',
      'rsaPublicKeyLoad',
      'version',
    ]);
  });

  describe('#rsaPublicDecrypt', () => {
    it.each(vectors.rsaPublicDecrypt.map((v) => [v.id, v] as const))('%s', (_id, v) => {
      const opened = rsaPublicDecrypt(
        Buffer.from(v.input.ciphertextHex, 'hex'),
        vectors.publicKeyPem,
      );
      expect(opened.toString('hex')).toBe(v.expect.plaintextHex);
    });

    it('rejects a ciphertext with one byte flipped', () => {
      const first = vectors.rsaPublicDecrypt[0];
      if (!first) throw new Error('no vector');
      const bytes = Buffer.from(first.input.ciphertextHex, 'hex');
      bytes[100] = (bytes[100] ?? 0) ^ 0x01;
      expect(() => rsaPublicDecrypt(bytes, vectors.publicKeyPem)).toThrowWithCode('DECRYPT_FAILED');
    });
  });

  describe('#openChecksum (plugin decryptChecksum)', () => {
    it.each(vectors.decryptChecksum.map((v) => [v.id, v] as const))('%s', (_id, v) => {
      const opened = openChecksum(v.input.checksumHex, vectors.publicKeyPem);
      expect(opened.toString('hex')).toBe(v.expect.decryptedHex);
    });

    it('accepts the same checksum in upper-case hex and in base64 (legacy form)', () => {
      const v = vectors.decryptChecksum[0];
      if (!v) throw new Error('no vector');
      const upper = openChecksum(v.input.checksumHex.toUpperCase(), vectors.publicKeyPem);
      const b64 = Buffer.from(v.input.checksumHex, 'hex').toString('base64');
      expect(upper.toString('hex')).toBe(v.expect.decryptedHex);
      expect(openChecksum(b64, vectors.publicKeyPem).toString('hex')).toBe(v.expect.decryptedHex);
    });
  });

  describe('#openChecksum invalid', () => {
    it.each(vectors.decryptChecksumInvalid.map((v) => [v.id, v] as const))('%s', (_id, v) => {
      expect(v.expect.throws).toBe(true);
      expect(() => openChecksum(v.input.checksumHex, vectors.publicKeyPem)).toThrowWithCode(
        'CHECKSUM_INVALID',
      );
    });
  });

  describe('#calcKeyId', () => {
    it.each(vectors.calcKeyId.map((v) => [v.id, v] as const))('%s', (_id, v) => {
      expect(calcKeyId(v.input.publicKeyPem)).toBe(v.expect.keyId);
    });

    it('ignores CRLF line endings and trailing whitespace like the plugin', () => {
      const v = vectors.calcKeyId[0];
      if (!v) throw new Error('no vector');
      const crlf = `${v.input.publicKeyPem.replace(/\n/g, '\r\n')}\r\n  `;
      expect(calcKeyId(crlf)).toBe(v.expect.keyId);
    });
  });

  describe('#parseCapgoPublicKey (rsaPublicKeyLoad)', () => {
    it.each(vectors.rsaPublicKeyLoad.map((v) => [v.id, v] as const))('%s', (_id, v) => {
      const load = (): unknown => parseCapgoPublicKey(v.input.publicKeyPem);
      if (v.expect.loads) expect(load).not.toThrow();
      else expect(load).toThrowWithCode('PUBLIC_KEY_INVALID');
    });
  });
});
