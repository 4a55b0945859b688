import { describe, expect, it } from 'vitest';
import { shouldAutoPause, wilsonLowerBound } from '../../../../src/server/device/wilson';

describe('#wilsonLowerBound', () => {
  it('matches published Wilson 95 % intervals', () => {
    // Known answers: 10/10 → [0.7225, 1]; 5/10 → [0.2366, 0.7634] (Wilson 1927, z = 1.96).
    expect(wilsonLowerBound(10, 10)).toBeCloseTo(0.72246, 5);
    expect(wilsonLowerBound(5, 10)).toBeCloseTo(0.23659, 5);
    expect(wilsonLowerBound(30, 100)).toBeCloseTo(0.218948, 6);
    expect(wilsonLowerBound(1, 2)).toBeCloseTo(0.094529, 6);
  });

  it('is 0 with no failures or no trials, and never negative', () => {
    expect(wilsonLowerBound(0, 10)).toBe(0);
    expect(wilsonLowerBound(0, 0)).toBe(0);
    expect(wilsonLowerBound(-3, 10)).toBe(0);
  });

  it('clamps failures above the total', () => {
    expect(wilsonLowerBound(50, 10)).toBe(wilsonLowerBound(10, 10));
  });

  it('grows with the sample size at the same rate', () => {
    expect(wilsonLowerBound(300, 1000)).toBeGreaterThan(wilsonLowerBound(30, 100));
  });
});

describe('#shouldAutoPause', () => {
  const settings = { failureThreshold: 0.2, minSamples: 50 };

  it('waits for minSamples outcomes', () => {
    expect(shouldAutoPause({ successes: 0, failures: 49 }, settings)).toBe(false);
    expect(shouldAutoPause({ successes: 0, failures: 50 }, settings)).toBe(true);
  });

  it('pauses only when the lower bound is strictly above the threshold', () => {
    // 27/100 → 0.1927 ≤ 0.2; 28/100 → 0.2014 > 0.2.
    expect(shouldAutoPause({ successes: 73, failures: 27 }, settings)).toBe(false);
    expect(shouldAutoPause({ successes: 72, failures: 28 }, settings)).toBe(true);
  });

  it('does not pause a healthy release', () => {
    expect(shouldAutoPause({ successes: 990, failures: 10 }, settings)).toBe(false);
  });
});
