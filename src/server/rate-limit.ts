import { BoundedMap } from './bounded-map';

/**
 * Token buckets per client key (usually the client IP), for answering 429 with `Retry-After`
 * (RFC 6585 §4, RFC 9110 §10.2.3). Memory and time are bounded: at most `maxKeys` buckets, kept in
 * a {@link BoundedMap} whose eviction (CLOCK) drops a bucket not used recently in O(1). A dropped
 * bucket comes back full, so eviction can only make a limit more lenient, never lock a client out.
 */

export interface RateLimitOptions {
  /** Burst size: requests allowed at once. */
  readonly capacity: number;
  /** Tokens added per second. */
  readonly refillPerSecond: number;
  /** Most buckets kept in memory (default 10,000). */
  readonly maxKeys?: number;
}

export type RateDecision =
  { readonly allowed: true } | { readonly allowed: false; readonly retryAfterSeconds: number };

/** The common answer, shared: a device's every check takes a token. */
const ALLOWED: RateDecision = Object.freeze({ allowed: true });

interface Bucket {
  tokens: number;
  /** Milliseconds timestamp of the last refill. */
  at: number;
}

/**
 * @example
 * const limiter = new RateLimiter({ capacity: 60, refillPerSecond: 10 });
 * const decision = limiter.take(req.socket.remoteAddress ?? '');
 * if (!decision.allowed) res.setHeader('retry-after', String(decision.retryAfterSeconds));
 */
export class RateLimiter {
  private readonly buckets: BoundedMap<Bucket>;

  constructor(private readonly options: RateLimitOptions) {
    if (!(options.capacity >= 1) || !(options.refillPerSecond > 0)) {
      throw new RangeError('A rate limit needs capacity ≥ 1 and a positive refill rate.');
    }
    this.buckets = new BoundedMap(options.maxKeys ?? 10_000);
  }

  /** Buckets held, and slots examined by evictions so far (tests count work, not time). */
  get stats(): { readonly size: number; readonly sweeps: number } {
    return { size: this.buckets.size, sweeps: this.buckets.sweeps };
  }

  /** Takes `cost` tokens for `key` at `nowMs` (default: the clock), or says how long to wait. */
  take(key: string, cost = 1, nowMs: number = Date.now()): RateDecision {
    const bucket = this.refilled(key, nowMs);
    if (bucket.tokens >= cost) {
      bucket.tokens -= cost;
      return ALLOWED;
    }
    const missing = cost - bucket.tokens;
    return {
      allowed: false,
      retryAfterSeconds: Math.max(1, Math.ceil(missing / this.options.refillPerSecond)),
    };
  }

  private refilled(key: string, nowMs: number): Bucket {
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: this.options.capacity, at: nowMs };
      this.buckets.set(key, bucket);
      return bucket;
    }
    const elapsed = Math.max(0, nowMs - bucket.at) / 1000;
    bucket.tokens = Math.min(
      this.options.capacity,
      bucket.tokens + elapsed * this.options.refillPerSecond,
    );
    bucket.at = nowMs;
    return bucket;
  }
}
