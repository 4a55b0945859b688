import type { IncomingMessage } from 'node:http';
import type { DeviceStore } from '../store/device-store';
import { AnswerMemo } from './answer-cache';
import {
  DEFAULT_DEVICE_LIMITS,
  createDeviceLimiters,
  type DeviceLimiters,
  type DeviceLimits,
} from './rate-limit';

/** What the server hands the device endpoints (see src/server/routes/device.ts). */
export interface DeviceContext {
  readonly store: DeviceStore;
  /** The server's public base URL for this request (no trailing slash needed), e.g. for bundle URLs. */
  readonly publicUrl: (req: IncomingMessage) => string;
  /** The clock, in ms since the epoch (rate limits, stats hours). */
  readonly nowMs: () => number;
  /** Called once per request with at least {method, path, status, ms}. */
  readonly log: (fields: Record<string, unknown>) => void;
  /** Rate limits (DESIGN §6); read once, when the store is first seen. Defaults are generous. */
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
  /** /updates answers by request body (answer-cache.ts). */
  readonly memo: AnswerMemo;
}

const states = new WeakMap<DeviceStore, DeviceState>();

/** The state for `ctx.store`, created on first use (the server passes the same store every time). */
export function deviceState(ctx: DeviceContext): DeviceState {
  let state = states.get(ctx.store);
  if (state === undefined) {
    const entries = ctx.limits?.answerMemoEntries ?? DEFAULT_DEVICE_LIMITS.answerMemoEntries;
    state = { limiters: createDeviceLimiters(ctx.limits), memo: new AnswerMemo(entries) };
    states.set(ctx.store, state);
  }
  return state;
}
