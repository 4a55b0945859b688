import { createHash, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cohortBucket, inCohort } from '../../../../src/core/channel';

const STATEMENT = 'ab'.repeat(32);

describe('#cohortBucket', () => {
  it('is uint32be(sha256(device_id + ":" + statementId)[0..4]) mod 10000 (ARCHITECTURE.md §6)', () => {
    const device = '6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab';
    const digest = createHash('sha256').update(`${device}:${STATEMENT}`).digest();
    expect(cohortBucket(device, STATEMENT)).toBe(digest.readUInt32BE(0) % 10_000);
  });

  it('is the same for the same device and release, and differs across releases', () => {
    const device = randomUUID();
    expect(cohortBucket(device, STATEMENT)).toBe(cohortBucket(device, STATEMENT));
    const buckets = new Set(
      Array.from({ length: 20 }, (_, i) => cohortBucket(device, i.toString(16).padStart(64, '0'))),
    );
    expect(buckets.size).toBeGreaterThan(1);
  });
});

describe('#inCohort', () => {
  it('lets about P % of devices in', () => {
    const devices = Array.from({ length: 20_000 }, () => randomUUID());
    for (const percent of [1, 10, 30, 75]) {
      const share = devices.filter((d) => inCohort(d, STATEMENT, percent)).length / devices.length;
      expect(Math.abs(share - percent / 100)).toBeLessThan(0.015);
    }
  });

  it('only adds devices when the rollout grows', () => {
    const devices = Array.from({ length: 2000 }, () => randomUUID());
    for (const device of devices) {
      if (inCohort(device, STATEMENT, 10)) expect(inCohort(device, STATEMENT, 50)).toBe(true);
    }
  });

  it('lets everyone in at 100 % and nobody at 0 %', () => {
    const device = randomUUID();
    expect(inCohort(device, STATEMENT, 100)).toBe(true);
    expect(inCohort(device, STATEMENT, 0)).toBe(false);
  });

  it('counts hundredths of a percent exactly', () => {
    // 12.34 % is 1234 buckets; floating point would make it 1233.9999….
    let i = 0;
    while (cohortBucket(`device-${i}`, STATEMENT) !== 1233) i++;
    expect(inCohort(`device-${i}`, STATEMENT, 12.34)).toBe(true);
    expect(inCohort(`device-${i}`, STATEMENT, 12.33)).toBe(false);
  });
});
