import { AirlockError } from '../errors';
import { portableHex } from './backend';

/**
 * Strict byte encodings. Every parser here refuses anything but the one canonical spelling of a
 * value, so that two different strings never decode to the same bytes (attacker-controlled input).
 */

const LOWER_HEX = /^(?:[0-9a-f]{2})*$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Lowercase hex of `bytes`.
 * @example bytesToHex(new Uint8Array([0xab, 0x01])) // 'ab01'
 */
export function bytesToHex(bytes: Uint8Array): string {
  return portableHex(bytes);
}

/**
 * Decodes lowercase hex. Throws AirlockError INVALID_INPUT on an odd length, a character outside
 * `[0-9a-f]` (uppercase included: there is one spelling), or a length other than `expectedBytes`.
 * @example hexToBytes('ab01') // Uint8Array [0xab, 0x01]
 */
export function hexToBytes(hex: string, expectedBytes?: number): Uint8Array {
  if (!LOWER_HEX.test(hex)) {
    throw new AirlockError('INVALID_INPUT', 'Expected lowercase hexadecimal with an even length.');
  }
  if (expectedBytes !== undefined && hex.length !== expectedBytes * 2) {
    throw new AirlockError(
      'INVALID_INPUT',
      `Expected ${expectedBytes * 2} hex characters, got ${hex.length}.`,
    );
  }
  const bytes = new Uint8Array(hex.length / 2);
  for (let index = 0; index < bytes.length; index += 1) {
    bytes[index] = Number.parseInt(hex.slice(index * 2, index * 2 + 2), 16);
  }
  return bytes;
}

/**
 * Standard padded base64 (RFC 4648 §4) of `bytes`.
 * @example bytesToBase64(new Uint8Array([1, 2, 3])) // 'AQID'
 */
export function bytesToBase64(bytes: Uint8Array): string {
  // btoa over a binary string, in chunks: String.fromCharCode takes a bounded argument list.
  let binary = '';
  for (let start = 0; start < bytes.length; start += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(start, start + 0x8000));
  }
  return btoa(binary);
}

/**
 * Decodes standard padded base64 (RFC 4648 §4). Throws AirlockError INVALID_INPUT on missing padding,
 * the URL-safe alphabet, whitespace, non-zero padding bits (RFC 4648 §3.5: a non-canonical
 * spelling), or a length other than `expectedBytes`.
 * @example base64ToBytes('AQID') // Uint8Array [1, 2, 3]
 */
export function base64ToBytes(base64: string, expectedBytes?: number): Uint8Array {
  if (!BASE64.test(base64)) {
    throw new AirlockError('INVALID_INPUT', 'Expected standard padded base64.');
  }
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index += 1) bytes[index] = binary.charCodeAt(index);
  // Decoders ignore the unused low bits of the last character; re-encoding exposes them.
  if (bytesToBase64(bytes) !== base64) {
    throw new AirlockError('INVALID_INPUT', 'Base64 is not in canonical form (padding bits set).');
  }
  if (expectedBytes !== undefined && bytes.length !== expectedBytes) {
    throw new AirlockError(
      'INVALID_INPUT',
      `Expected base64 of ${expectedBytes} bytes, got ${bytes.length}.`,
    );
  }
  return bytes;
}

/** UTF-8 bytes of `text`. */
export function utf8Bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}
