import { RateLimiter } from '../rate-limit';

/**
 * Rate limits of the device endpoints (ARCHITECTURE.md §6), on the server's token buckets
 * (src/server/rate-limit.ts, bounded memory): per device_id for /updates and /stats, per IP for
 * /channel_self, /bundles, and for input too broken to name a device.
 */

/** One bucket's shape: `burst` requests at once, refilled at `perSecond` (> 0). */
export interface BucketSpec {
  readonly burst: number;
  readonly perSecond: number;
}

/** Device endpoint limits (rates and memory); null turns a rate limit off. */
export interface DeviceLimits {
  /** POST /updates, per device_id. */
  readonly updatesPerDevice: BucketSpec | null;
  /** POST /stats, per device_id (of the first event). */
  readonly statsPerDevice: BucketSpec | null;
  /** /channel_self, /bundles, and bodies that name no valid device, per IP. */
  readonly perIp: BucketSpec | null;
  /** Keys each limiter's table is sized for (bounded memory: 48 bytes a key, rate-limit.ts). */
  readonly maxKeys: number;
  /**
   * Devices remembered per generation as handed a release (handed.ts: 16 bytes of table each,
   * two generations), whose outcomes may count toward an automatic pause.
   */
  readonly handedDevices: number;
}

/**
 * Generous defaults: a plugin checks for updates on launch, on foreground and every
 * `periodCheckDelay` (≥ 600 s), and flushes stats at most once a second (PROTOCOL.md §5).
 */
export const DEFAULT_DEVICE_LIMITS: DeviceLimits = {
  updatesPerDevice: { burst: 30, perSecond: 0.5 },
  statsPerDevice: { burst: 60, perSecond: 2 },
  perIp: { burst: 1000, perSecond: 200 },
  maxKeys: 100_000,
  handedDevices: 1 << 20,
};

/** The limiters of one server, built from its settings. */
export interface DeviceLimiters {
  readonly updates: RateLimiter | null;
  readonly stats: RateLimiter | null;
  readonly ip: RateLimiter | null;
}

/**
 * Builds the limiters; `overrides` replace the defaults field by field.
 * @example createDeviceLimiters({ updatesPerDevice: null }) // no per-device limit on /updates
 */
export function createDeviceLimiters(overrides: Partial<DeviceLimits> = {}): DeviceLimiters {
  const limits = { ...DEFAULT_DEVICE_LIMITS, ...overrides };
  const make = (spec: BucketSpec | null): RateLimiter | null =>
    spec === null
      ? null
      : new RateLimiter({
          capacity: spec.burst,
          refillPerSecond: spec.perSecond,
          maxKeys: limits.maxKeys,
        });
  return {
    updates: make(limits.updatesPerDevice),
    stats: make(limits.statsPerDevice),
    ip: make(limits.perIp),
  };
}
