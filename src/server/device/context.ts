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
  readonly now: () => Date;
  /** Called once per request with at least {method, path, status, ms}. */
  readonly log: (fields: Record<string, unknown>) => void;
  /** Rate limits (DESIGN §6); read once, when the store is first seen. Defaults are generous. */
  readonly limits?: Partial<DeviceLimits>;
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
