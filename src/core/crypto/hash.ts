import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * SHA-256 of `bytes`.
 * @example sha256(new Uint8Array()).toString('hex') // 'e3b0c442…b855'
 */
export function sha256(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest();
}

/**
 * Lowercase hex SHA-256 of `input` (a string is hashed as its UTF-8 bytes).
 * @example sha256Hex('abc') // 'ba7816bf…15ad'
 */
export function sha256Hex(input: Uint8Array | string): string {
  return createHash('sha256').update(input).digest('hex');
}

/**
 * Compares two byte strings in time that depends only on their length (ARCHITECTURE.md rule 7).
 * Returns false, without comparing, when the lengths differ: lengths are not secret here.
 * @example constantTimeEqual(sha256(a), sha256(b))
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  return timingSafeEqual(a, b);
}
