import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DeviceFacingRelease } from '../store/device-store';
import { resolveChannel } from './channels';
import type { DeviceContext, DeviceState, Finish } from './context';
import {
  NO_UPDATE,
  decideUpdate,
  releaseFacts,
  type NoUpdateDecision,
  type UpdateDecision,
} from './decide';
import {
  bodyText,
  parseJsonText,
  readBodyThen,
  sendBodyError,
  sendError,
  sendJson,
  sendMethodNotAllowed,
  type BodyResult,
} from './http';
import { parseDeviceInfo } from './info';
import { sendRateLimited } from './limits';

/**
 * `POST /updates` (PROTOCOL.md §3): the info object in, the decision out. Success is
 * `{version, url, session_key, checksum}`; "no update" is HTTP 200 `{error, message, kind}`
 * (§3.2). This is the hot path, and at fleet scale every check is a device not seen for minutes:
 * each costs one JSON parse, the hand-written validation (info.ts), the decision and one answer,
 * with constant answers pre-serialized and the success body of a release serialized once. No
 * cache of answers: a fleet larger than any cache would only pay for filling it (measured: a
 * 50,000-body memo cost 5 µs per request at 200,000 devices and saved nothing).
 */

const noUpdateBodies = new WeakMap<UpdateDecision, Buffer>();

/** The pre-serialized body of a constant "no update" decision. */
function noUpdateBody(decision: UpdateDecision & { install: false }): Buffer {
  let bytes = noUpdateBodies.get(decision);
  if (bytes === undefined) {
    bytes = Buffer.from(JSON.stringify(decision.answer), 'utf8');
    noUpdateBodies.set(decision, bytes);
  }
  return bytes;
}

interface SuccessCache {
  base: string;
  bytes: Buffer;
}

const successBodies = new WeakMap<DeviceFacingRelease, SuccessCache>();

/** `https://host/` → `https://host`: bundle URLs are `<base>/bundles/<sha>`. */
function trimBase(base: string): string {
  let end = base.length;
  while (end > 0 && base.charCodeAt(end - 1) === 0x2f) end--;
  return end === base.length ? base : base.slice(0, end);
}

/**
 * The success answer for a release (PROTOCOL.md §3.1). `checksum` is the V3 RSA-signed sha256
 * and `session_key` the wrapped AES key (§7); both come from the approved statement's bundle.
 */
export function successBody(release: DeviceFacingRelease, publicBase: string): Buffer {
  const cached = successBodies.get(release);
  if (cached !== undefined && cached.base === publicBase) return cached.bytes;
  const bytes = Buffer.from(
    JSON.stringify({
      version: release.version,
      url: `${trimBase(publicBase)}/bundles/${release.bundle.encryptedSha256}`,
      session_key: release.bundle.sessionKey,
      checksum: release.bundle.checksum,
    }),
    'utf8',
  );
  successBodies.set(release, { base: publicBase, bytes });
  return bytes;
}

/**
 * Sends a decision: 200 either way (PROTOCOL.md §3.2). A release handed out is remembered for
 * the device (handed.ts): only its outcomes may count toward an automatic pause.
 */
function sendDecision(
  res: ServerResponse,
  ctx: DeviceContext,
  state: DeviceState,
  deviceId: string,
  decision: UpdateDecision,
): number {
  if (decision.install) {
    state.handed.add(deviceId, releaseFacts(decision.release).salt);
    return sendJson(res, 200, successBody(decision.release, ctx.publicUrl));
  }
  return sendJson(res, 200, noUpdateBody(decision));
}

/** A constant "no update" answer (nothing is handed out). */
function sendNoUpdate(res: ServerResponse, decision: NoUpdateDecision): number {
  return sendJson(res, 200, noUpdateBody(decision));
}

/** Parses, validates and decides (ARCHITECTURE.md "The update decision"). */
function answerBody(
  res: ServerResponse,
  ctx: DeviceContext,
  state: DeviceState,
  req: IncomingMessage,
  bytes: Buffer,
): number {
  const nowMs = ctx.nowMs();
  const json = parseJsonText(bodyText(bytes));
  if (!json.ok) {
    return (
      sendRateLimited(res, state.limiters.ip, ctx.sourceOf(req), nowMs) ?? sendBodyError(res, json)
    );
  }
  const { store } = ctx;
  const info = parseDeviceInfo(json.value, store);
  if ('error' in info) {
    return (
      sendRateLimited(res, state.limiters.ip, ctx.sourceOf(req), nowMs) ?? sendError(res, 400, info)
    );
  }
  const limited = sendRateLimited(res, state.limiters.updates, info.deviceId, nowMs);
  if (limited !== null) return limited;
  if (!store.appExists(info.appId)) return sendNoUpdate(res, NO_UPDATE.appNotFound);
  const channel = resolveChannel(store, info.appId, info.defaultChannel);
  if (channel === null) return sendNoUpdate(res, NO_UPDATE.noChannel);
  return sendDecision(res, ctx, state, info.deviceId, decideUpdate(info, channel));
}

/** Answers a read /updates body (synchronous: everything after the read is in memory). */
function answerUpdates(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: DeviceContext,
  state: DeviceState,
  body: BodyResult | null,
): number {
  if (body === null) return 0;
  if (!body.ok) return sendBodyError(res, body);
  return answerBody(res, ctx, state, req, body.bytes);
}

/**
 * Handles `POST /updates` and reports the status sent through `finish` (0 when the client went
 * away). No promise: the body is read with callbacks and answered synchronously.
 */
export function handleUpdates(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: DeviceContext,
  state: DeviceState,
  finish: Finish,
): void {
  if (req.method !== 'POST') {
    finish.done(sendMethodNotAllowed(res, 'POST'));
    return;
  }
  readBodyThen(req, state.bodies.updates, (body) => {
    let status: number;
    try {
      status = answerUpdates(req, res, ctx, state, body);
    } catch (error) {
      finish.fail(error);
      return;
    }
    finish.done(status);
  });
}
