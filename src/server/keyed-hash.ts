import { randomBytes } from 'node:crypto';

/**
 * A keyed 64-bit fingerprint of a string, for the fixed tables of the device path (rate-limit
 * buckets, devices handed a release): 8 bytes a key in a typed array, instead of a retained string
 * in a Map, so that a fleet of millions costs neither memory nor garbage collection per device.
 *
 * Keys (device ids, addresses) are attacker controlled. The per-process random key keeps an
 * attacker from choosing where its fingerprints land (hash flooding); the tables also cap every
 * probe, so even a lucky attacker only costs the probe cap. Not cryptographic: a collision merges
 * two keys' entries, which the tables' users tolerate (a shared bucket, one more device counted).
 */

const key = randomBytes(8);
const K1 = key.readUInt32LE(0);
const K2 = key.readUInt32LE(4);

/** The last fingerprint computed: two numbers, not an array (this runs on the /updates path). */
export const fp = { lo: 0, hi: 0 };

/**
 * Fingerprints `text` with a 32-bit `salt` into {@link fp} (murmur3-style mixing). Never (0, 0),
 * which the tables use for an empty slot.
 */
export function fingerprint(text: string, salt: number): void {
  let h1 = (K1 ^ salt) >>> 0;
  let h2 = (K2 ^ Math.imul(salt, 0x9e3779b1)) >>> 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0xcc9e2d51);
    h1 = (h1 << 15) | (h1 >>> 17);
    h2 = Math.imul(h2 ^ c, 0x1b873593);
    h2 = (h2 << 13) | (h2 >>> 19);
    h1 = (h1 + h2) | 0;
  }
  h1 ^= h1 >>> 16;
  h1 = Math.imul(h1, 0x85ebca6b);
  h1 ^= h1 >>> 13;
  h2 ^= h2 >>> 16;
  h2 = Math.imul(h2, 0xc2b2ae35);
  h2 ^= h2 >>> 13;
  fp.lo = h1 >>> 0;
  fp.hi = (h2 | 1) >>> 0;
}

/** The smallest power of two ≥ `n` (at least 2). */
export function powerOfTwoAtLeast(n: number): number {
  let size = 2;
  while (size < n) size *= 2;
  return size;
}
