import { describe, expect, it } from 'vitest';
import {
  HandedSet,
  MAX_PROBE as HANDED_PROBE,
  releaseSalt,
} from '../../../src/server/device/handed';
import { MAX_PROBE, RateLimiter } from '../../../src/server/rate-limit';
import { seededDeviceIds } from '../../helpers/device-sim';

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

  it('gives a key not used for long a full bucket again once others take its slot', () => {
    const limiter = new RateLimiter({ capacity: 1, refillPerSecond: 0.0001, maxKeys: 100 });
    limiter.take('early', 1, 0);
    expect(limiter.take('early', 1, 0).allowed).toBe(false);
    for (let i = 0; i < 10_000; i++) limiter.take(`other-${i}`, 1, 1 + i);
    expect(limiter.take('early', 1, 20_000).allowed).toBe(true);
    expect(limiter.stats.size).toBeLessThanOrEqual(256);
  });

  it('refuses a nonsensical configuration', () => {
    expect(() => new RateLimiter({ capacity: 0, refillPerSecond: 1 })).toThrow(RangeError);
    expect(() => new RateLimiter({ capacity: 1, refillPerSecond: 0 })).toThrow(RangeError);
  });
});

/**
 * The device path's tables at fleet scale (ARCHITECTURE.md "Fleet scale"): a million distinct
 * devices through tables sized for 100,000. Work is counted (slots examined), not timed, so the
 * assertions hold on any machine.
 */
describe('at 1,000,000 distinct devices', () => {
  const MILLION = 1_000_000;

  /** Slots examined per take over keys [from, from + count). */
  function probesPerKey(limiter: RateLimiter, from: number, count: number): number {
    const before = limiter.stats.probes;
    for (let i = from; i < from + count; i++) limiter.take(`device-${i}`, 1, i);
    return (limiter.stats.probes - before) / count;
  }

  it('the per-device limiter examines at most MAX_PROBE slots a device, and no more at 1,000,000 than at 500,000', () => {
    const limiter = new RateLimiter({ capacity: 30, refillPerSecond: 0.5, maxKeys: 100_000 });
    const filling = probesPerKey(limiter, 0, 200_000);
    probesPerKey(limiter, 200_000, 200_000);
    const at500k = probesPerKey(limiter, 400_000, 100_000);
    probesPerKey(limiter, 500_000, 400_000);
    const at1m = probesPerKey(limiter, 900_000, 100_000);
    for (const work of [filling, at500k, at1m]) expect(work).toBeLessThanOrEqual(MAX_PROBE);
    // The table is full from then on: the same work per new device (within a tenth of a slot).
    expect(Math.abs(at1m - at500k)).toBeLessThan(0.1);
    expect(limiter.stats.size).toBeLessThanOrEqual(262_144);
  }, 60_000);

  it('still limits a device that keeps asking while a million others pass', () => {
    const limiter = new RateLimiter({ capacity: 5, refillPerSecond: 0.001, maxKeys: 10_000 });
    let refused = 0;
    for (let i = 0; i < MILLION; i++) {
      limiter.take(`device-${i}`, 1, i);
      if (i % 1000 === 0 && !limiter.take('greedy', 1, i).allowed) refused++;
    }
    // 1,000 asks, 5 allowed at once, a sixth refilled over the run: the greedy device's bucket is
    // never the least recently used of its window.
    expect(refused).toBeGreaterThanOrEqual(990);
  });

  it('the handed set examines at most MAX_PROBE slots a device and stays at two tables', () => {
    const handed = new HandedSet(100_000);
    const salt = releaseSalt('c0ffee00'.padEnd(64, '0'));
    const ids = seededDeviceIds('fleet', MILLION);
    for (const id of ids) handed.add(id, salt);
    // Two generations of 100,000: the newest are remembered, memory is two fixed tables.
    expect(ids.slice(-100_000).every((id) => handed.has(id, salt))).toBe(true);
    expect(handed.rotations).toBeLessThanOrEqual(MILLION / 100_000 + 1);
    expect(HANDED_PROBE).toBeLessThanOrEqual(64);
  }, 60_000);
});
