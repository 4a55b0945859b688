import { createHash, randomBytes as nodeRandomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  nodeCrypto,
  portable,
  portableHex,
  randomBytes,
  sha256HexOf,
  sha512Bytes,
} from '../../../../src/core/crypto/backend';
import { base64ToBytes, bytesToBase64, hexToBytes } from '../../../../src/core/crypto/encoding';

// The portable backend is what runs in the app's WebView (src/device); under Node, node:crypto is
// swapped in. Both must give the same answers, or the phone and the server would disagree.
const inputs = [
  new Uint8Array(),
  new Uint8Array([0]),
  ...Array.from({ length: 50 }, (_, index) => nodeRandomBytes(index * 37)),
];

describe('crypto backend', () => {
  it('uses node:crypto under Node', () => {
    expect(nodeCrypto).not.toBeNull();
  });

  it('portable SHA-256 and SHA-512 equal node:crypto on many inputs', () => {
    for (const input of inputs) {
      const sha256 = createHash('sha256').update(input).digest('hex');
      expect(portable.sha256HexOf(input)).toBe(sha256);
      expect(sha256HexOf(input)).toBe(sha256);
      expect(portableHex(portable.sha512Bytes(input))).toBe(
        createHash('sha512').update(input).digest('hex'),
      );
      expect(portableHex(sha512Bytes(input))).toBe(
        createHash('sha512').update(input).digest('hex'),
      );
    }
  });

  it('hashes a string as its UTF-8 bytes on both paths', () => {
    const text = 'device-é-☃:abc';
    const expected = createHash('sha256').update(text, 'utf8').digest('hex');
    expect(portable.sha256HexOf(text)).toBe(expected);
    expect(sha256HexOf(text)).toBe(expected);
  });

  it('the portable hex and base64 round-trip what Buffer writes', () => {
    for (const input of inputs) {
      const buffer = Buffer.from(input);
      expect(portableHex(input)).toBe(buffer.toString('hex'));
      expect(bytesToBase64(input)).toBe(buffer.toString('base64'));
      expect(base64ToBytes(buffer.toString('base64'))).toEqual(new Uint8Array(input));
      expect(hexToBytes(buffer.toString('hex'))).toEqual(new Uint8Array(input));
    }
  });

  it('draws distinct random bytes of the asked length', () => {
    const a = randomBytes(32);
    expect(a).toHaveLength(32);
    expect(portableHex(a)).not.toBe(portableHex(randomBytes(32)));
  });
});
