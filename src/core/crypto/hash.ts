import { sha256Bytes, sha256HexOf } from './backend';

/**
 * SHA-256 of `bytes` (src/core/crypto/backend.ts picks the implementation).
 * @example bytesToHex(sha256(new Uint8Array())) // 'e3b0c442…b855'
 */
export function sha256(bytes: Uint8Array): Uint8Array {
  return sha256Bytes(bytes);
}

/**
 * Lowercase hex SHA-256 of `input` (a string is hashed as its UTF-8 bytes).
 * @example sha256Hex('abc') // 'ba7816bf…15ad'
 */
export function sha256Hex(input: Uint8Array | string): string {
  return sha256HexOf(input);
}

/**
 * Compares two byte strings in time that depends only on their length (ARCHITECTURE.md rule 7).
 * Returns false, without comparing, when the lengths differ: lengths are not secret here.
 * @example constantTimeEqual(sha256(a), sha256(b))
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  // Accumulate every difference; no early exit, no data-dependent branch.
  let difference = 0;
  for (let index = 0; index < a.byteLength; index += 1) {
    difference |= (a[index] as number) ^ (b[index] as number);
  }
  return difference === 0;
}
