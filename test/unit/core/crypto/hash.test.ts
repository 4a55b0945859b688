import { describe, expect, it } from 'vitest';
import { constantTimeEqual, sha256, sha256Hex } from '../../../../src/core/crypto/hash';
import { bytesToHex } from '../../../../src/core/crypto/encoding';

// FIPS 180-2 / NIST CSRC known answers for SHA-256.
const EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const ABC = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';

describe('#sha256', () => {
  it('hashes the empty input to the FIPS 180-2 known answer', () => {
    expect(bytesToHex(sha256(new Uint8Array()))).toBe(EMPTY);
  });

  it('returns 32 bytes', () => {
    expect(sha256(new Uint8Array([1, 2, 3]))).toHaveLength(32);
  });
});

describe('#sha256Hex', () => {
  it('hashes a string as its UTF-8 bytes', () => {
    expect(sha256Hex('abc')).toBe(ABC);
  });

  it('hashes bytes to the same answer as the equal string', () => {
    expect(sha256Hex(new Uint8Array([0x61, 0x62, 0x63]))).toBe(ABC);
  });

  it('changes completely when one input byte changes', () => {
    expect(sha256Hex('abd')).not.toBe(ABC);
  });
});

describe('#constantTimeEqual', () => {
  it('is true for equal bytes', () => {
    expect(constantTimeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3]))).toBe(true);
  });

  it('is false when one byte differs', () => {
    expect(constantTimeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 4]))).toBe(false);
  });

  it('is false, without throwing, when the lengths differ', () => {
    expect(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 3]))).toBe(false);
  });

  it('is true for two empty inputs', () => {
    expect(constantTimeEqual(new Uint8Array(), new Uint8Array())).toBe(true);
  });
});
