import { fingerprint, fp, powerOfTwoAtLeast } from './keyed-hash';

/**
 * Token buckets per client key (a device id, an address), for answering 429 with `Retry-After`
 * (RFC 6585 §4, RFC 9110 §10.2.3).
 *
 * Bounded in memory and in time (ARCHITECTURE.md "Fleet scale"): the buckets live in one fixed
 * table of typed arrays (a keyed 8-byte fingerprint, the tokens and the time of each bucket; no
 * strings, no Map), sized for `maxKeys`. A key's bucket is found within {@link MAX_PROBE} slots of
 * where its fingerprint points; a new key takes an empty slot there, or replaces the bucket of that
 * window used least recently. So every `take` touches at most MAX_PROBE slots, whatever the number
 * of keys seen: a million devices, or an attacker's random ids, cost what ten do. A replaced
 * bucket comes back full, so replacement only ever makes a limit more lenient for a key not used
 * lately; a key used often stays (it is never the least recent of its window).
 */

/** Slots one `take` examines at most. */
export const MAX_PROBE = 8;

export interface RateLimitOptions {
  /** Burst size: requests allowed at once. */
  readonly capacity: number;
  /** Tokens added per second. */
  readonly refillPerSecond: number;
  /** Keys the table is sized for (default 10,000; it holds twice as many slots). */
  readonly maxKeys?: number;
}

export type RateDecision =
  { readonly allowed: true } | { readonly allowed: false; readonly retryAfterSeconds: number };

/** The common answer, shared: a device's every check takes a token. */
const ALLOWED: RateDecision = Object.freeze({ allowed: true });

/**
 * @example
 * const limiter = new RateLimiter({ capacity: 60, refillPerSecond: 10 });
 * const decision = limiter.take(req.socket.remoteAddress ?? '');
 * if (!decision.allowed) res.setHeader('retry-after', String(decision.retryAfterSeconds));
 */
export class RateLimiter {
  private readonly lo: Uint32Array;
  private readonly hi: Uint32Array;
  private readonly tokens: Float64Array;
  /** Milliseconds timestamp of each bucket's last refill (its last use). */
  private readonly at: Float64Array;
  private readonly mask: number;
  private used = 0;
  /** Slots examined so far (tests count work with it, not time). */
  probes = 0;

  constructor(private readonly options: RateLimitOptions) {
    if (!(options.capacity >= 1) || !(options.refillPerSecond > 0)) {
      throw new RangeError('A rate limit needs capacity ≥ 1 and a positive refill rate.');
    }
    const slots = powerOfTwoAtLeast(Math.max(MAX_PROBE, (options.maxKeys ?? 10_000) * 2));
    this.lo = new Uint32Array(slots);
    this.hi = new Uint32Array(slots);
    this.tokens = new Float64Array(slots);
    this.at = new Float64Array(slots);
    this.mask = slots - 1;
  }

  /** Buckets held, and slots examined so far. */
  get stats(): { readonly size: number; readonly probes: number } {
    return { size: this.used, probes: this.probes };
  }

  /** Takes `cost` tokens for `key` at `nowMs` (default: the clock), or says how long to wait. */
  take(key: string, cost = 1, nowMs: number = Date.now()): RateDecision {
    const slot = this.bucketOf(key, nowMs);
    const refilled = Math.min(
      this.options.capacity,
      (this.tokens[slot] as number) +
        (Math.max(0, nowMs - (this.at[slot] as number)) / 1000) * this.options.refillPerSecond,
    );
    this.at[slot] = nowMs;
    if (refilled >= cost) {
      this.tokens[slot] = refilled - cost;
      return ALLOWED;
    }
    this.tokens[slot] = refilled;
    return {
      allowed: false,
      retryAfterSeconds: Math.max(1, Math.ceil((cost - refilled) / this.options.refillPerSecond)),
    };
  }

  /** The slot of `key`'s bucket; a new key gets a full bucket (see the module comment). */
  private bucketOf(key: string, nowMs: number): number {
    fingerprint(key, 0);
    const { lo, hi } = fp;
    let slot = (lo ^ (hi >>> 11)) & this.mask;
    let oldest = slot;
    for (let probe = 0; probe < MAX_PROBE; probe++) {
      this.probes++;
      const a = this.lo[slot] as number;
      const b = this.hi[slot] as number;
      if (a === lo && b === hi) return slot;
      if (a === 0 && b === 0) {
        this.used++;
        return this.claim(slot, lo, hi, nowMs);
      }
      if ((this.at[slot] as number) < (this.at[oldest] as number)) oldest = slot;
      slot = (slot + 1) & this.mask;
    }
    return this.claim(oldest, lo, hi, nowMs);
  }

  private claim(slot: number, lo: number, hi: number, nowMs: number): number {
    this.lo[slot] = lo;
    this.hi[slot] = hi;
    this.tokens[slot] = this.options.capacity;
    this.at[slot] = nowMs;
    return slot;
  }
}
