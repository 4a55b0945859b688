import type { BodyOptions } from '../http/body';
import type { DeadlineQueue } from '../http/deadlines';
import type { SourceOf } from '../http/source';
import type { DeviceStore } from '../store/device-store';
import { HandedSet } from './handed';
import {
  DEFAULT_DEVICE_LIMITS,
  createDeviceLimiters,
  type DeviceLimiters,
  type DeviceLimits,
} from './rate-limit';

/** What the server hands the device endpoints (see src/server/routes/device.ts). */
export interface DeviceContext {
  readonly store: DeviceStore;
  /**
   * The base of the bundle URLs devices get (`<base>/bundles/<sha>`, no trailing slash needed):
   * `--bundle-base-url` (a CDN whose origin is this server), else `--public-url` or the listen
   * address; never the request's Host header (ARCHITECTURE.md "Unauthenticated input").
   */
  readonly publicUrl: string;
  /** The source of a request (peer address, or the client a trusted proxy names): per-source limits. */
  readonly sourceOf: SourceOf;
  /** Deadlines for request bodies (slow clients are answered 408); none in unit tests. */
  readonly bodyDeadlines?: DeadlineQueue | null;
  /** The clock, in ms since the epoch (rate limits, stats hours). */
  readonly nowMs: () => number;
  /** Called once per request with at least {method, path, status, ms}. */
  readonly log: (fields: Record<string, unknown>) => void;
  /**
   * Bundle downloads answered with a 302 to a URL the bundle store signs, valid this many seconds
   * (S3: a presigned GET), instead of streamed through the server; undefined: streamed.
   */
  readonly redirectBundlesSeconds?: number;
  /** Rate limits (ARCHITECTURE.md §6); read once, when the store is first seen. Defaults are generous. */
  readonly limits?: Partial<DeviceLimits>;
}

/**
 * How a device handler reports the end of its request (src/server/routes/device.ts): callbacks,
 * not a promise, so that the /updates hot path allocates none.
 */
export interface Finish {
  /** The answer went out with `status` (0: the client went away first). */
  done(status: number): void;
  /** Store or I/O failure, never bad input: answered with a generic 500. */
  fail(error: unknown): void;
}

/** Per-server state of the device endpoints, kept beside the store it serves. */
export interface DeviceState {
  readonly limiters: DeviceLimiters;
  /** Which devices were handed which release (stats evidence, handed.ts). */
  readonly handed: HandedSet;
  /** How each endpoint reads its body: JSON only, size-limited, with a deadline. */
  readonly bodies: {
    readonly updates: BodyOptions;
    readonly stats: BodyOptions;
    readonly channel: BodyOptions;
  };
}

/** The info object is small; 16 KiB leaves room for long custom ids and future fields. */
export const UPDATES_BODY_LIMIT = 16 * 1024;
/** 200 events with metadata fit comfortably; anything bigger is not a plugin. */
export const STATS_BODY_LIMIT = 512 * 1024;
export const CHANNEL_BODY_LIMIT = 16 * 1024;

const states = new WeakMap<DeviceStore, DeviceState>();

/** The state for `ctx.store`, created on first use (the server passes the same store every time). */
export function deviceState(ctx: DeviceContext): DeviceState {
  let state = states.get(ctx.store);
  if (state === undefined) {
    const deadlines = ctx.bodyDeadlines ?? null;
    const json = (limit: number): BodyOptions => ({ limit, jsonOnly: true, deadlines });
    state = {
      limiters: createDeviceLimiters(ctx.limits),
      handed: new HandedSet(ctx.limits?.handedDevices ?? DEFAULT_DEVICE_LIMITS.handedDevices),
      bodies: {
        updates: json(UPDATES_BODY_LIMIT),
        stats: json(STATS_BODY_LIMIT),
        channel: json(CHANNEL_BODY_LIMIT),
      },
    };
    states.set(ctx.store, state);
  }
  return state;
}
