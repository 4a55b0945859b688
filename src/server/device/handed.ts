import { fingerprint, fp, powerOfTwoAtLeast } from '../keyed-hash';

/**
 * Which devices this process handed which release (ARCHITECTURE.md "Unauthenticated input"): an
 * outcome in `/stats` counts toward the automatic pause only from a device `/updates` answered
 * with that release. A fleet of millions passes through it, so it stores 64-bit fingerprints in
 * flat typed arrays (8 bytes a device), not strings, and every operation is O(1):
 *
 * - fingerprints are keyed with a random per-process secret (keyed-hash.ts), so an attacker
 *   choosing device ids cannot aim them at one region of the table (hash flooding), and a probe is
 *   capped at {@link MAX_PROBE} slots anyway;
 * - two generations: when the current table is half full it becomes the previous one and a fresh,
 *   lazily zeroed table takes its place; a lookup checks both. So the set remembers the last
 *   `perGeneration` devices handed, and memory stays bounded (two tables of 2 × perGeneration
 *   slots) without ever scanning or deleting. (A probe that finds no room within MAX_PROBE slots
 *   takes the last slot it examined; at a load of one half that does not happen in practice.)
 *
 * A device forgotten this way (or handed by another process) does not count: less evidence, never
 * a false pause.
 */

/** Slots one probe examines at most (at a load of at most one half, far beyond a run's length). */
export const MAX_PROBE = 64;

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

  /**
   * The slot of (lo, hi), or else -1 - the slot to store it in: the first empty slot of its probe,
   * or the last slot examined when the probe found none within MAX_PROBE.
   */
  find(lo: number, hi: number): number {
    let slot = (lo ^ (hi >>> 7)) & this.mask;
    for (let probe = 1; ; probe++) {
      const a = this.lo[slot] as number;
      const b = this.hi[slot] as number;
      if (a === lo && b === hi) return slot;
      if ((a === 0 && b === 0) || probe === MAX_PROBE) return -1 - slot;
      slot = (slot + 1) & this.mask;
    }
  }
}

function holds(table: Table | null, lo: number, hi: number): boolean {
  return table !== null && table.find(lo, hi) >= 0;
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
  /** Generations started so far (tests). */
  rotations = 0;

  constructor(readonly perGeneration: number) {
    if (!Number.isInteger(perGeneration) || perGeneration < 1) {
      throw new RangeError('A HandedSet needs at least one device per generation.');
    }
    this.slots = powerOfTwoAtLeast(perGeneration * 2);
  }

  add(deviceId: string, salt: number): void {
    fingerprint(deviceId, salt);
    const { lo, hi } = fp;
    let table = this.current ?? this.rotate();
    let found = table.find(lo, hi);
    if (found >= 0) return;
    if (table.count >= this.perGeneration) {
      table = this.rotate();
      found = table.find(lo, hi);
    }
    const slot = -1 - found;
    if ((table.lo[slot] as number) === 0 && (table.hi[slot] as number) === 0) table.count++;
    table.lo[slot] = lo;
    table.hi[slot] = hi;
  }

  has(deviceId: string, salt: number): boolean {
    fingerprint(deviceId, salt);
    return holds(this.current, fp.lo, fp.hi) || holds(this.previous, fp.lo, fp.hi);
  }

  private rotate(): Table {
    this.previous = this.current;
    this.current = new Table(this.slots);
    this.rotations++;
    return this.current;
  }
}
