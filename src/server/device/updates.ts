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
import type { MemoEntry } from './answer-cache';
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
 * `POST /updates` (capgo-protocol §3): the info object in, the decision out. Success is
 * `{version, url, session_key, checksum}`; "no update" is HTTP 200 `{error, message, kind}`
 * (§3.2). This is the hot path: constant answers are pre-serialized, the success body of a
 * release is serialized once per release and public URL, and a repeated check with the same body
 * reuses its decision (answer-cache.ts) while the channel's view is unchanged.
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
 * The success answer for a release (capgo-protocol §3.1). `checksum` is the V3 RSA-signed sha256
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
 * Sends a decision: 200 either way (capgo-protocol §3.2). A release handed out is remembered for
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

/**
 * Answers from the memo when this exact body was answered before and nothing a device can see has
 * changed since (the store's view generation; see answer-cache.ts); null when it must be decided
 * afresh.
 */
function answerFromMemo(
  res: ServerResponse,
  ctx: DeviceContext,
  state: DeviceState,
  hit: MemoEntry,
  nowMs: number,
): number | null {
  if (hit.generation !== ctx.store.viewGeneration) return null;
  return (
    sendRateLimited(res, state.limiters.updates, hit.deviceId, nowMs) ??
    sendDecision(res, ctx, state, hit.deviceId, hit.decision)
  );
}

/** Parses, validates and decides (DESIGN §6); memoizes the answer of a valid body. */
function answerFresh(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: DeviceContext,
  state: DeviceState,
  key: string,
  text: string,
  nowMs: number,
): number {
  const json = parseJsonText(text);
  if (!json.ok) {
    return (
      sendRateLimited(res, state.limiters.ip, ctx.sourceOf(req), nowMs) ?? sendBodyError(res, json)
    );
  }
  const info = parseDeviceInfo(json.value);
  if ('error' in info) {
    return (
      sendRateLimited(res, state.limiters.ip, ctx.sourceOf(req), nowMs) ?? sendError(res, 400, info)
    );
  }
  const limited = sendRateLimited(res, state.limiters.updates, info.deviceId, nowMs);
  if (limited !== null) return limited;
  const { store } = ctx;
  const generation = store.viewGeneration;
  if (!store.appExists(info.appId)) return sendNoUpdate(res, NO_UPDATE.appNotFound);
  const channel = resolveChannel(store, info.appId, info.defaultChannel);
  if (channel === null) return sendNoUpdate(res, NO_UPDATE.noChannel);
  const decision = decideUpdate(info, channel);
  state.memo.set(key, { deviceId: info.deviceId, generation, decision });
  return sendDecision(res, ctx, state, info.deviceId, decision);
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
  const nowMs = ctx.nowMs();
  // The memo's key is the body's bytes as latin1 (one character per byte, so equal keys are equal
  // bytes), which costs no UTF-8 check on a hit; only a miss decodes the body as JSON text.
  const key = body.bytes.toString('latin1');
  const hit = state.memo.get(key);
  if (hit !== undefined) {
    const answered = answerFromMemo(res, ctx, state, hit, nowMs);
    if (answered !== null) return answered;
  }
  return answerFresh(req, res, ctx, state, key, bodyText(body.bytes), nowMs);
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
