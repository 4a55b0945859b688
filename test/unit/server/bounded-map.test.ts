import { describe, expect, it } from 'vitest';
import { BoundedMap, MAX_SWEEP } from '../../../src/server/bounded-map';
import { AnswerMemo, type MemoEntry } from '../../../src/server/device/answer-cache';
import { NO_UPDATE } from '../../../src/server/device/decide';
import { RateLimiter } from '../../../src/server/rate-limit';

/**
 * The device path's bounded structures at fleet scale (ARCHITECTURE.md "Fleet scale"): a million
 * distinct keys through structures that hold 100,000. The work of a new key is counted (slots the
 * eviction examines), not timed, so the assertions hold on any machine.
 */

const MILLION = 1_000_000;

/**
 * Fills a structure of `capacity` keys, then measures the sweeps per new key while keys 200,000 to
 * 300,000 pass through it (early) and while keys 900,000 to 1,000,000 do (late).
 */
function workAtScale(
  insert: (key: string) => void,
  sweeps: () => number,
  capacity: number,
): { early: number; late: number } {
  sweepsPerKey(insert, sweeps, 0, capacity);
  sweepsPerKey(insert, sweeps, capacity, 200_000 - capacity);
  const early = sweepsPerKey(insert, sweeps, 200_000, 100_000);
  sweepsPerKey(insert, sweeps, 300_000, 600_000);
  const late = sweepsPerKey(insert, sweeps, 900_000, 100_000);
  return { early, late };
}

/** Sweeps per new key over `count` insertions starting at key number `from`. */
function sweepsPerKey(
  insert: (key: string) => void,
  sweeps: () => number,
  from: number,
  count: number,
): number {
  const before = sweeps();
  for (let i = from; i < from + count; i++) insert(`key-${i}`);
  return (sweeps() - before) / count;
}

describe('BoundedMap', () => {
  it('never holds more than its capacity', () => {
    const map = new BoundedMap<number>(3);
    for (let i = 0; i < 10; i++) map.set(`k${i}`, i);
    expect(map.size).toBe(3);
    expect(map.get('k9')).toBe(9);
  });

  it('gives a recently used key a second chance', () => {
    const map = new BoundedMap<number>(3);
    map.set('a', 1);
    map.set('b', 2);
    map.set('c', 3);
    map.get('a'); // used: the hand passes over it once
    map.set('d', 4); // evicts b, the first unused slot
    expect(map.has('a')).toBe(true);
    expect(map.has('b')).toBe(false);
  });

  it('keeps a key in constant use however many others pass through', () => {
    const map = new BoundedMap<number>(1000);
    map.set('hot', 0);
    for (let i = 0; i < 100_000; i++) {
      map.set(`cold-${i}`, i);
      if (i % 100 === 0) map.get('hot');
    }
    expect(map.get('hot')).toBe(0);
  });

  it('costs at most MAX_SWEEP slots per new key, the same at 200,000 and at 1,000,000 keys', () => {
    const map = new BoundedMap<number>(100_000);
    const { early, late } = workAtScale(
      (key) => map.set(key, 1),
      () => map.sweeps,
      100_000,
    );
    expect(map.size).toBe(100_000);
    expect(early).toBeLessThanOrEqual(MAX_SWEEP);
    expect(late).toBeLessThanOrEqual(MAX_SWEEP);
    expect(late).toBe(early);
  }, 60_000);

  it('refuses a capacity below 1', () => {
    expect(() => new BoundedMap(0)).toThrow(RangeError);
  });
});

describe('the per-device rate limiter at 1,000,000 distinct devices', () => {
  it('holds maxKeys buckets and does constant work per new device', () => {
    const limiter = new RateLimiter({ capacity: 30, refillPerSecond: 0.5, maxKeys: 100_000 });
    const { early, late } = workAtScale(
      (key) => void limiter.take(key, 1, 0),
      () => limiter.stats.sweeps,
      100_000,
    );
    expect(limiter.stats.size).toBe(100_000);
    expect(late).toBeLessThanOrEqual(MAX_SWEEP);
    expect(late).toBe(early);
  }, 60_000);

  it('still limits a device that keeps asking while a million others pass', () => {
    const limiter = new RateLimiter({ capacity: 5, refillPerSecond: 0.001, maxKeys: 10_000 });
    let refused = 0;
    for (let i = 0; i < MILLION; i++) {
      limiter.take(`device-${i}`, 1, 0);
      if (i % 1000 === 0 && !limiter.take('greedy', 1, 0).allowed) refused++;
    }
    // 1,000 asks, 5 allowed: the greedy device's bucket is never evicted while it is in use.
    expect(refused).toBe(995);
  });
});

describe('the /updates answer memo at 1,000,000 distinct bodies', () => {
  it('holds maxEntries and does constant work per new body', () => {
    const entry: MemoEntry = { deviceId: 'd', generation: 0, decision: NO_UPDATE.noRelease };
    const memo = new AnswerMemo(50_000);
    const { early, late } = workAtScale(
      (key) => memo.set(key, entry),
      () => memo.sweeps,
      50_000,
    );
    expect(memo.size).toBe(50_000);
    expect(late).toBeLessThanOrEqual(MAX_SWEEP);
    expect(late).toBe(early);
  }, 60_000);
});
