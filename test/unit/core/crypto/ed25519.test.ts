import * as ed from '@noble/ed25519';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ed25519Sign,
  ed25519Verify,
  formatFingerprint,
  generateIdentityKeyPair,
  identityKeyId,
  parseIdentityPublicKey,
  publicKeyFromSeed,
} from '../../../../src/core/crypto/ed25519';
import { bytesToHex, hexToBytes } from '../../../../src/core/crypto/encoding';
import { sha256Hex } from '../../../../src/core/crypto/hash';

interface Rfc8032Vector {
  name: string;
  secretKey: string;
  publicKey: string;
  message: string;
  signature: string;
}

// RFC 8032 §7.1 known answers; the keys in them are public TEST-ONLY keys.
const { vectors } = JSON.parse(
  readFileSync(new URL('../../../fixtures/vectors/ed25519-rfc8032.json', import.meta.url), 'utf8'),
) as { vectors: Rfc8032Vector[] };

/** The Ed25519 group order L (RFC 8032 §5.1). */
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

function littleEndianToBigInt(bytes: Uint8Array): bigint {
  let value = 0n;
  for (let index = bytes.length - 1; index >= 0; index -= 1) {
    value = (value << 8n) | BigInt(bytes[index] ?? 0);
  }
  return value;
}

function bigIntToLittleEndian(value: bigint, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let index = 0; index < length; index += 1) {
    bytes[index] = Number((value >> BigInt(8 * index)) & 0xffn);
  }
  return bytes;
}

const test1 = vectors[0] as Rfc8032Vector;
const seed1 = hexToBytes(test1.secretKey);
const publicKey1 = hexToBytes(test1.publicKey);
const signature1 = hexToBytes(test1.signature);
const message1 = hexToBytes(test1.message);

describe('RFC 8032 §7.1 known answers', () => {
  it('has the five vectors the fixture promises', () => {
    expect(vectors.map((vector) => vector.name)).toEqual([
      'TEST 1',
      'TEST 2',
      'TEST 3',
      'TEST 1024',
      'TEST SHA(abc)',
    ]);
  });

  describe.each(vectors)('$name', (vector) => {
    const seed = hexToBytes(vector.secretKey);
    const message = hexToBytes(vector.message);

    it('derives the published public key', () => {
      expect(bytesToHex(publicKeyFromSeed(seed))).toBe(vector.publicKey);
    });

    it('reproduces the published signature byte for byte', () => {
      expect(bytesToHex(ed25519Sign(message, seed))).toBe(vector.signature);
    });

    it('verifies the published signature', () => {
      expect(
        ed25519Verify(hexToBytes(vector.signature), message, hexToBytes(vector.publicKey)),
      ).toBe(true);
    });
  });

  it('uses SHA-512("abc") as the message of TEST SHA(abc)', () => {
    const vector = vectors[4] as Rfc8032Vector;
    expect(vector.message).toBe(createHash('sha512').update('abc').digest('hex'));
  });
});

describe('#ed25519Verify', () => {
  describe('when one input is tampered with', () => {
    it('rejects a changed message', () => {
      expect(ed25519Verify(signature1, new Uint8Array([0x00]), publicKey1)).toBe(false);
    });

    it.each([0, 31, 32, 63])('rejects a signature with byte %i flipped', (index) => {
      const tampered = Uint8Array.from(signature1);
      tampered[index] = (tampered[index] ?? 0) ^ 0x01;
      expect(ed25519Verify(tampered, message1, publicKey1)).toBe(false);
    });

    it('rejects the right signature under another key', () => {
      const other = hexToBytes((vectors[1] as Rfc8032Vector).publicKey);
      expect(ed25519Verify(signature1, message1, other)).toBe(false);
    });
  });

  describe('when the signature is not strictly valid (RFC 8032 §5.1.7, not ZIP-215)', () => {
    it('rejects a non-canonical S (S + L), which satisfies the group equation', () => {
      const s = littleEndianToBigInt(signature1.subarray(32));
      expect(s < L).toBe(true);
      const malleated = Uint8Array.from(signature1);
      malleated.set(bigIntToLittleEndian(s + L, 32), 32);
      expect(bytesToHex(malleated)).not.toBe(test1.signature);
      expect(ed25519Verify(malleated, message1, publicKey1)).toBe(false);
    });

    it('rejects a small-order public key that ZIP-215 accepts for every message', () => {
      // A = the identity point (y = 1), R = identity, S = 0: [8](SB - R - kA) = 0 for any k.
      const identity = hexToBytes(`01${'00'.repeat(31)}`);
      const signature = new Uint8Array(64);
      signature.set(identity, 0);
      const message = new TextEncoder().encode('any message at all');
      expect(ed.verify(signature, message, identity)).toBe(true); // noble's ZIP-215 default
      expect(ed25519Verify(signature, message, identity)).toBe(false);
    });
  });

  describe('when the inputs have the wrong shape', () => {
    it.each([
      ['a short signature', signature1.subarray(0, 63), publicKey1],
      ['a long signature', new Uint8Array([...signature1, 0]), publicKey1],
      ['an empty signature', new Uint8Array(), publicKey1],
      ['a short public key', signature1, publicKey1.subarray(0, 31)],
      ['a public key that is not a point', signature1, hexToBytes(`02${'00'.repeat(30)}80`)],
    ])('returns false, without throwing, for %s', (_label, signature, publicKey) => {
      expect(ed25519Verify(signature, message1, publicKey)).toBe(false);
    });
  });
});

describe('#ed25519Sign', () => {
  it('is deterministic (RFC 8032 §5.1.6)', () => {
    expect(bytesToHex(ed25519Sign(message1, seed1))).toBe(bytesToHex(ed25519Sign(message1, seed1)));
  });

  it('throws KEY_INVALID for a seed that is not 32 bytes', () => {
    expect(() => ed25519Sign(message1, new Uint8Array(31))).toThrowWithCode('KEY_INVALID');
  });
});

describe('#generateIdentityKeyPair', () => {
  it('returns a 32-byte seed whose public key it also returns', () => {
    const { seed, publicKey } = generateIdentityKeyPair();
    expect(seed).toHaveLength(32);
    expect(bytesToHex(publicKeyFromSeed(seed))).toBe(bytesToHex(publicKey));
  });

  it('returns a different key each time', () => {
    const a = generateIdentityKeyPair();
    const b = generateIdentityKeyPair();
    expect(bytesToHex(a.seed)).not.toBe(bytesToHex(b.seed));
  });

  it('returns keys that sign and verify', () => {
    const { seed, publicKey } = generateIdentityKeyPair();
    const message = new TextEncoder().encode('hello');
    expect(ed25519Verify(ed25519Sign(message, seed), message, publicKey)).toBe(true);
  });
});

describe('#publicKeyFromSeed', () => {
  it('throws KEY_INVALID for a seed that is not 32 bytes', () => {
    expect(() => publicKeyFromSeed(new Uint8Array(64))).toThrowWithCode('KEY_INVALID');
  });
});

describe('#identityKeyId', () => {
  it('is the lowercase hex SHA-256 of the raw public key (ARCHITECTURE.md §2)', () => {
    expect(identityKeyId(publicKey1)).toBe(sha256Hex(publicKey1));
    expect(identityKeyId(publicKey1)).toBe(
      createHash('sha256').update(Buffer.from(test1.publicKey, 'hex')).digest('hex'),
    );
  });

  it('differs for another key', () => {
    expect(identityKeyId(hexToBytes((vectors[1] as Rfc8032Vector).publicKey))).not.toBe(
      identityKeyId(publicKey1),
    );
  });

  it('throws KEY_INVALID for a key that is not 32 bytes', () => {
    expect(() => identityKeyId(new Uint8Array(33))).toThrowWithCode('KEY_INVALID');
  });
});

describe('#formatFingerprint', () => {
  it('shows the first 16 hex characters in groups of four', () => {
    expect(formatFingerprint(`abcd1234ef567890${'0'.repeat(48)}`)).toBe('abcd 1234 ef56 7890');
  });

  it('throws INVALID_INPUT for something that is not a key id', () => {
    expect(() => formatFingerprint('abcd1234ef567890')).toThrowWithCode('INVALID_INPUT');
    expect(() => formatFingerprint('A'.repeat(64))).toThrowWithCode('INVALID_INPUT');
  });
});

describe('#parseIdentityPublicKey', () => {
  it('parses a valid key', () => {
    expect(bytesToHex(parseIdentityPublicKey(test1.publicKey))).toBe(test1.publicKey);
  });

  describe('when the key is not a usable Ed25519 point', () => {
    // p = 2^255 - 19; y = p + 1 is a non-canonical encoding of y = 1 (RFC 8032 §5.1.3 step 1).
    const nonCanonical = bytesToHex(bigIntToLittleEndian(2n ** 255n - 19n + 1n, 32));

    it.each([
      ['too short', test1.publicKey.slice(0, 62)],
      ['uppercase hex', test1.publicKey.toUpperCase()],
      ['not a point on the curve', `02${'00'.repeat(30)}80`],
      ['a non-canonical encoding (y ≥ p)', nonCanonical],
      ['the identity (small order)', `01${'00'.repeat(31)}`],
      ['a point of order 8', 'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a'],
    ])('throws KEY_INVALID when it is %s', (_label, hex) => {
      expect(() => parseIdentityPublicKey(hex)).toThrowWithCode('KEY_INVALID');
    });
  });
});
