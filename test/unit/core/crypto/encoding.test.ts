import { describe, expect, it } from 'vitest';
import {
  base64ToBytes,
  bytesToBase64,
  bytesToHex,
  hexToBytes,
  utf8Bytes,
} from '../../../../src/core/crypto/encoding';

describe('#bytesToHex', () => {
  it('writes lowercase hex, two characters per byte', () => {
    expect(bytesToHex(new Uint8Array([0x00, 0xab, 0x0f, 0xff]))).toBe('00ab0fff');
  });

  it('encodes only the view, not the whole underlying buffer', () => {
    const view = new Uint8Array([1, 2, 3, 4]).subarray(1, 3);
    expect(bytesToHex(view)).toBe('0203');
  });
});

describe('#hexToBytes', () => {
  it('decodes lowercase hex', () => {
    expect(Array.from(hexToBytes('00ab0fff'))).toEqual([0x00, 0xab, 0x0f, 0xff]);
  });

  it('decodes the empty string to no bytes', () => {
    expect(hexToBytes('')).toHaveLength(0);
  });

  describe('when the input is not canonical lowercase hex', () => {
    it.each([
      ['an odd length', 'abc'],
      ['a non-hex character', 'zz'],
      ['uppercase', 'AB'],
      ['whitespace', 'ab cd'],
      ['a 0x prefix', '0xab'],
    ])('throws INVALID_INPUT for %s', (_label, input) => {
      expect(() => hexToBytes(input)).toThrowWithCode('INVALID_INPUT');
    });
  });

  it('throws INVALID_INPUT when the length is not the expected one', () => {
    expect(() => hexToBytes('abcd', 3)).toThrowWithCode('INVALID_INPUT');
    expect(Array.from(hexToBytes('abcdef', 3))).toEqual([0xab, 0xcd, 0xef]);
  });
});

describe('#bytesToBase64', () => {
  it('writes standard padded base64 (RFC 4648 §10 test vectors)', () => {
    expect(bytesToBase64(utf8Bytes(''))).toBe('');
    expect(bytesToBase64(utf8Bytes('f'))).toBe('Zg==');
    expect(bytesToBase64(utf8Bytes('fo'))).toBe('Zm8=');
    expect(bytesToBase64(utf8Bytes('foo'))).toBe('Zm9v');
    expect(bytesToBase64(utf8Bytes('foobar'))).toBe('Zm9vYmFy');
  });
});

describe('#base64ToBytes', () => {
  it('decodes what bytesToBase64 wrote', () => {
    const bytes = new Uint8Array([0xfb, 0xff, 0x00, 0x10]);
    expect(Array.from(base64ToBytes(bytesToBase64(bytes)))).toEqual(Array.from(bytes));
  });

  describe('when the input is not canonical standard base64', () => {
    it.each([
      ['missing padding', 'Zg'],
      ['the URL-safe alphabet', '-_8='],
      ['whitespace', 'Zm9v YmFy'],
      ['a non-zero padding bit (RFC 4648 §3.5)', 'Zh=='],
      ['padding in the middle', 'Zg==Zm8='],
      ['too much padding', 'Zg==='],
    ])('throws INVALID_INPUT for %s', (_label, input) => {
      expect(() => base64ToBytes(input)).toThrowWithCode('INVALID_INPUT');
    });
  });

  it('throws INVALID_INPUT when the decoded length is not the expected one', () => {
    expect(() => base64ToBytes('Zm9v', 4)).toThrowWithCode('INVALID_INPUT');
    expect(Array.from(base64ToBytes('Zm9v', 3))).toEqual([0x66, 0x6f, 0x6f]);
  });
});

describe('#utf8Bytes', () => {
  it('encodes text as UTF-8', () => {
    expect(bytesToHex(utf8Bytes('a€'))).toBe('61e282ac');
  });
});
