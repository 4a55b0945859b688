import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DeviceFacingChannel } from '../store/device-store';
import type { DeviceContext, DeviceState } from './context';
import {
  bodyLeftUnread,
  readJson,
  sendBodyError,
  sendError,
  sendJson,
  sendMethodNotAllowed,
} from './http';
import { isChannelName, isRecord, parseDeviceInfo, type DeviceInfo, type InputError } from './info';
import { sendRateLimited } from './limits';

/**
 * `/channel_self` (PROTOCOL.md §4): POST = setChannel, PUT = getChannel, GET = listChannels with
 * the info object in the query string. Airlock stores no per-device override: like the Capgo
 * backend for 8.x plugins, the phone keeps its choice and sends it as `defaultChannel`; POST only
 * checks that the move is allowed. Errors are HTTP 400 `{error, message}`: Android's getChannel
 * falls back to its local channel on a 400 that says `channel_not_found`.
 */

const ALLOW = 'GET, POST, PUT';
/** Query strings longer than this are not an info object. */
const MAX_QUERY = 8 * 1024;

function fail(error: string, message: string): InputError {
  return { error, message };
}

const APP_NOT_FOUND = fail('app_not_found', 'This app is not known to the server.');
const CHANNEL_NOT_FOUND = fail('channel_not_found', 'The app has no channel of that name.');

/** Reads and validates the info object of a POST/PUT body; sends the error itself. */
async function readInfo(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: DeviceContext,
  state: DeviceState,
): Promise<{ info: DeviceInfo; body: Record<string, unknown> } | number> {
  const json = await readJson(req, state.bodies.channel);
  if (json === null) return 0;
  if (!json.ok && bodyLeftUnread(json.status)) return sendBodyError(res, json);
  const limited = sendRateLimited(res, state.limiters.ip, ctx.sourceOf(req), ctx.nowMs());
  if (limited !== null) return limited;
  if (!json.ok) return sendBodyError(res, json);
  const info = parseDeviceInfo(json.value);
  if ('error' in info) return sendError(res, 400, info);
  return { info, body: json.value as Record<string, unknown> };
}

/**
 * setChannel: `{status: "ok", allowSet: true}` when the device may move to `channel`. Moving to the
 * app's default channel is always allowed and answered with `unset: true`, which makes the plugin
 * drop its local override (CapgoUpdater.java setChannel).
 */
function setChannel(
  res: ServerResponse,
  ctx: DeviceContext,
  info: DeviceInfo,
  body: Record<string, unknown>,
): number {
  const requested = body.channel;
  if (requested === undefined || requested === null || requested === '') {
    return sendError(res, 400, fail('missing_channel', 'The field "channel" is required.'));
  }
  if (!ctx.store.appExists(info.appId)) return sendError(res, 400, APP_NOT_FOUND);
  if (typeof requested !== 'string' || !isChannelName(requested)) {
    return sendError(res, 400, CHANNEL_NOT_FOUND);
  }
  const channel = ctx.store.channel(info.appId, requested);
  if (channel === null) return sendError(res, 400, CHANNEL_NOT_FOUND);
  if (ctx.store.defaultChannel(info.appId) === requested) {
    return sendJson(res, 200, { status: 'ok', unset: true, allowSet: true });
  }
  if (!channel.settings.allowSelfSet) {
    return sendError(
      res,
      400,
      fail('channel_self_set_not_allowed', 'Devices may not move themselves to this channel.'),
    );
  }
  return sendJson(res, 200, { status: 'ok', allowSet: true });
}

/**
 * getChannel: the channel the device sends as `defaultChannel` when it names a channel of the app
 * other than the default (`override`), else the app's default channel (`default`). The plugin
 * stores the answer's `channel` as its defaultChannel.
 */
function getChannel(res: ServerResponse, ctx: DeviceContext, info: DeviceInfo): number {
  const { store } = ctx;
  if (!store.appExists(info.appId)) return sendError(res, 400, APP_NOT_FOUND);
  const defaultName = store.defaultChannel(info.appId);
  const requested =
    info.defaultChannel !== undefined ? store.channel(info.appId, info.defaultChannel) : null;
  if (requested !== null && requested.channel !== defaultName) {
    return sendJson(res, 200, {
      channel: requested.channel,
      status: 'override',
      allowSet: requested.settings.allowSelfSet,
    });
  }
  const fallback = defaultName === null ? null : store.channel(info.appId, defaultName);
  if (fallback === null) return sendError(res, 400, CHANNEL_NOT_FOUND);
  return sendJson(res, 200, {
    channel: fallback.channel,
    status: 'default',
    allowSet: fallback.settings.allowSelfSet,
  });
}

/** The info object from the query string (Android: every key as a query parameter, §4). */
function queryInfo(url: string): unknown {
  const at = url.indexOf('?');
  if (at === -1) return {};
  const query = url.slice(at + 1);
  if (query.length > MAX_QUERY) return null;
  const params = new URLSearchParams(query);
  const object: Record<string, string> = {};
  for (const [key, value] of params) if (!Object.hasOwn(object, key)) object[key] = value;
  return object;
}

/** One entry of listChannels: Android rejects a non-number `id` (§4). */
function listEntry(channel: DeviceFacingChannel): Record<string, unknown> {
  return {
    id: channel.numericId,
    name: channel.channel,
    public: channel.settings.public,
    allow_self_set: channel.settings.allowSelfSet,
  };
}

/** listChannels: the app's public channels as a JSON array. */
function listChannels(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: DeviceContext,
  state: DeviceState,
): number {
  const limited = sendRateLimited(res, state.limiters.ip, ctx.sourceOf(req), ctx.nowMs());
  if (limited !== null) return limited;
  const query = queryInfo(req.url ?? '');
  if (!isRecord(query)) {
    return sendError(res, 400, fail('invalid_query', 'The query string is too long.'));
  }
  const info = parseDeviceInfo(query);
  if ('error' in info) return sendError(res, 400, info);
  if (!ctx.store.appExists(info.appId)) return sendError(res, 400, APP_NOT_FOUND);
  const channels = ctx.store
    .channels(info.appId)
    .filter((channel) => channel.settings.public)
    .map(listEntry);
  return sendJson(res, 200, channels);
}

/** Handles `/channel_self`; returns the status sent (0 when the client went away). */
export async function handleChannelSelf(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: DeviceContext,
  state: DeviceState,
): Promise<number> {
  if (req.method === 'GET') return listChannels(req, res, ctx, state);
  if (req.method !== 'POST' && req.method !== 'PUT') return sendMethodNotAllowed(res, ALLOW);
  const read = await readInfo(req, res, ctx, state);
  if (typeof read === 'number') return read;
  return req.method === 'POST'
    ? setChannel(res, ctx, read.info, read.body)
    : getChannel(res, ctx, read.info);
}
