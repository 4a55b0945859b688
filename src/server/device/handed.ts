import { randomBytes } from 'node:crypto';

/**
 * Which devices this process handed which release (ARCHITECTURE.md "Unauthenticated input"): an
 * outcome in `/stats` counts toward the automatic pause only from a device `/updates` answered
 * with that release. A fleet of millions passes through it, so it stores 64-bit fingerprints in
 * flat typed arrays (8 bytes a device), not strings, and every operation is O(1):
 *
 * - fingerprints are keyed with a random per-process secret, so an attacker choosing device ids
 *   cannot aim them at one region of the table (hash flooding), and a probe is capped at
 *   {@link MAX_PROBE} slots anyway;
 * - two generations: when the current table is half full (or a probe runs long) it becomes the
 *   previous one and a fresh, lazily zeroed table takes its place; a lookup checks both. So the
 *   set remembers at least the last `perGeneration` devices handed, and memory stays bounded
 *   (two tables of 2 × perGeneration slots) without ever scanning or deleting.
 *
 * A device forgotten this way (or handed by another process) does not count: less evidence, never
 * a false pause.
 */

/** Slots one probe examines at most. */
export const MAX_PROBE = 16;

class Table {
  /** Low and high halves of each slot's fingerprint; (0, 0) is an empty slot. */
  readonly lo: Uint32Array;
  readonly hi: Uint32Array;
  readonly mask: number;
  count = 0;

  constructor(slots: number) {
    this.lo = new Uint32Array(slots);
    this.hi = new Uint32Array(slots);
    this.mask = slots - 1;
  }

  /** The slot of (lo, hi), or the first empty slot of its probe (-1 - slot), or null: too far. */
  find(lo: number, hi: number): number | null {
    let slot = (lo ^ (hi >>> 7)) & this.mask;
    for (let probe = 0; probe < MAX_PROBE; probe++) {
      const a = this.lo[slot] as number;
      const b = this.hi[slot] as number;
      if (a === lo && b === hi) return slot;
      if (a === 0 && b === 0) return -1 - slot;
      slot = (slot + 1) & this.mask;
    }
    return null;
  }
}

/** The last fingerprint computed (two numbers, not an array: this runs on the /updates path). */
let fpLo = 0;
let fpHi = 0;

/**
 * A keyed 64-bit hash of `text` and a 32-bit `salt` into fpLo/fpHi (murmur3-style mixing; not
 * cryptographic: the key only keeps attackers from choosing where fingerprints land).
 */
function fingerprint(text: string, salt: number, k1: number, k2: number): void {
  let h1 = (k1 ^ salt) >>> 0;
  let h2 = (k2 ^ Math.imul(salt, 0x9e3779b1)) >>> 0;
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
  fpLo = h1 >>> 0;
  // Never (0, 0): that marks an empty slot.
  fpHi = (h2 | 1) >>> 0;
}

function holds(table: Table | null, lo: number, hi: number): boolean {
  const found = table === null ? null : table.find(lo, hi);
  return found !== null && found >= 0;
}

/** A release's 32-bit salt: the first 8 hex digits of its statement id (a SHA-256). */
export function releaseSalt(statementId: string): number {
  return Number.parseInt(statementId.slice(0, 8), 16) >>> 0;
}

/**
 * @example
 * const handed = new HandedSet(1 << 20);
 * handed.add(deviceId, releaseSalt(release.statementId));
 * handed.has(deviceId, releaseSalt(release.statementId)) // true
 */
export class HandedSet {
  private current: Table | null = null;
  private previous: Table | null = null;
  private readonly slots: number;
  private readonly k1: number;
  private readonly k2: number;
  /** Generations started so far (tests). */
  rotations = 0;

  constructor(readonly perGeneration: number) {
    if (!Number.isInteger(perGeneration) || perGeneration < 1) {
      throw new RangeError('A HandedSet needs at least one device per generation.');
    }
    let slots = 2;
    while (slots < perGeneration * 2) slots *= 2;
    this.slots = slots;
    const key = randomBytes(8);
    this.k1 = key.readUInt32LE(0);
    this.k2 = key.readUInt32LE(4);
  }

  add(deviceId: string, salt: number): void {
    fingerprint(deviceId, salt, this.k1, this.k2);
    const lo = fpLo;
    const hi = fpHi;
    let table = this.current ?? this.rotate();
    let found = table.find(lo, hi);
    if (found !== null && found >= 0) return;
    if (found === null || table.count >= this.perGeneration) {
      table = this.rotate();
      found = table.find(lo, hi);
      if (found === null || found >= 0) return;
    }
    const slot = -1 - found;
    table.lo[slot] = lo;
    table.hi[slot] = hi;
    table.count++;
  }

  has(deviceId: string, salt: number): boolean {
    fingerprint(deviceId, salt, this.k1, this.k2);
    return holds(this.current, fpLo, fpHi) || holds(this.previous, fpLo, fpHi);
  }

  private rotate(): Table {
    this.previous = this.current;
    this.current = new Table(this.slots);
    this.rotations++;
    return this.current;
  }
}
