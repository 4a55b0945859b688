import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../../src/server/rate-limit';

describe('RateLimiter', () => {
  it('allows a burst of `capacity`, then asks to wait', () => {
    const limiter = new RateLimiter({ capacity: 3, refillPerSecond: 1 });
    const decisions = [1, 2, 3, 4].map(() => limiter.take('ip', 1, 0));
    expect(decisions.slice(0, 3).every((decision) => decision.allowed)).toBe(true);
    expect(decisions[3]).toEqual({ allowed: false, retryAfterSeconds: 1 });
  });

  it('refills over time, never above capacity', () => {
    const limiter = new RateLimiter({ capacity: 2, refillPerSecond: 2 });
    limiter.take('ip', 2, 0);
    expect(limiter.take('ip', 1, 100).allowed).toBe(false);
    expect(limiter.take('ip', 1, 500).allowed).toBe(true);
    expect(limiter.take('ip', 2, 60_000).allowed).toBe(true);
    expect(limiter.take('ip', 1, 60_000).allowed).toBe(false);
  });

  it('keeps one bucket per key', () => {
    const limiter = new RateLimiter({ capacity: 1, refillPerSecond: 0.1 });
    expect(limiter.take('a', 1, 0).allowed).toBe(true);
    expect(limiter.take('b', 1, 0).allowed).toBe(true);
    expect(limiter.take('a', 1, 0)).toEqual({ allowed: false, retryAfterSeconds: 10 });
  });

  it('bounds memory: the oldest bucket goes when maxKeys is reached', () => {
    const limiter = new RateLimiter({ capacity: 1, refillPerSecond: 0.001, maxKeys: 2 });
    limiter.take('a', 1, 0);
    limiter.take('b', 1, 0);
    limiter.take('c', 1, 0); // evicts a
    expect(limiter.take('a', 1, 0).allowed).toBe(true);
  });

  it('refuses a nonsensical configuration', () => {
    expect(() => new RateLimiter({ capacity: 0, refillPerSecond: 1 })).toThrow(RangeError);
    expect(() => new RateLimiter({ capacity: 1, refillPerSecond: 0 })).toThrow(RangeError);
  });
});
