import { describe, expect, it } from 'vitest';
import {
  createDeviceLimiters,
  DEFAULT_DEVICE_LIMITS,
} from '../../../../src/server/device/rate-limit';

describe('#createDeviceLimiters', () => {
  it('builds the three limiters from the defaults', () => {
    const limiters = createDeviceLimiters();
    expect(limiters.updates).not.toBeNull();
    expect(limiters.stats).not.toBeNull();
    expect(limiters.ip).not.toBeNull();
  });

  it('lets a device burst, then asks it to wait', () => {
    const { updates } = createDeviceLimiters({ updatesPerDevice: { burst: 3, perSecond: 0.5 } });
    const now = 1_000_000;
    const answers = Array.from({ length: 4 }, () => updates?.take('device', 1, now));
    expect(answers.map((a) => a?.allowed)).toEqual([true, true, true, false]);
    expect(answers[3]).toEqual({ allowed: false, retryAfterSeconds: 2 });
    expect(updates?.take('device', 1, now + 2000).allowed).toBe(true);
  });

  it('turns a limit off with null', () => {
    expect(createDeviceLimiters({ perIp: null }).ip).toBeNull();
  });

  it('has generous defaults for a phone', () => {
    expect(DEFAULT_DEVICE_LIMITS.updatesPerDevice?.burst).toBeGreaterThanOrEqual(10);
  });
});
