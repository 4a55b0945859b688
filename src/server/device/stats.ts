import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DeviceFacingChannel, DeviceStore, StatsRow } from '../store/device-store';
import { resolveChannel } from './channels';
import type { DeviceContext, DeviceState } from './context';
import {
  bodyLeftUnread,
  clientIp,
  readJson,
  sendBodyError,
  sendError,
  sendJson,
  sendMethodNotAllowed,
} from './http';
import { isRecord, parseDeviceInfo, type InputError } from './info';
import { sendRateLimited } from './limits';
import { STAT_ACTIONS, outcomeOf } from './stats-actions';
import { shouldAutoPause, wilsonLowerBound } from './wilson';

/**
 * `POST /stats` (capgo-protocol §5): a JSON array of events (the plugin's batches, ≤ 200) or one
 * event object (`DownloadService.sendStatsAsync`, `rate_limit_reached`). Events are aggregated into
 * hourly counters per app/channel/version/action (DESIGN §6), then the channel's automatic pause is
 * checked. The hour is the server's receive time: device clocks and queued timestamps are not
 * trusted.
 */

/** The plugin holds at most 200 pending events (capgo-protocol §5). */
export const MAX_STATS_EVENTS = 200;
/** 200 events with metadata fit comfortably; anything bigger is not a plugin. */
export const STATS_BODY_LIMIT = 512 * 1024;

const MAX_METADATA_KEYS = 30;
const MAX_METADATA_KEY = 64;
const MAX_METADATA_VALUE = 2048;
const MAX_VERSION = 128;
const HOUR_MS = 3_600_000;

/** One valid event, reduced to what is counted. */
export interface StatEvent {
  readonly appId: string;
  readonly deviceId: string;
  readonly defaultChannel: string | undefined;
  readonly action: string;
  /** The bundle the event is about, as the plugin names it (`builtin` included). */
  readonly versionName: string;
}

function fail(error: string, message: string): InputError {
  return { error, message };
}

/** metadata: a string map, ≤ 30 keys, key ≤ 64, value ≤ 2048 (the backend's limits, §5). */
function checkMetadata(value: unknown): InputError | null {
  if (value === undefined || value === null) return null;
  if (!isRecord(value)) return fail('invalid_metadata', 'The metadata must be an object.');
  let count = 0;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    count++;
    const item = value[key];
    if (
      count > MAX_METADATA_KEYS ||
      key.length > MAX_METADATA_KEY ||
      typeof item !== 'string' ||
      item.length > MAX_METADATA_VALUE
    ) {
      return fail(
        'invalid_metadata',
        `The metadata must map at most ${MAX_METADATA_KEYS} keys to strings of at most ${MAX_METADATA_VALUE} characters.`,
      );
    }
  }
  return null;
}

/** The event-only fields besides the info object (§5). */
function checkEventFields(body: Record<string, unknown>): InputError | null {
  const old = body.old_version_name;
  if (old !== undefined && old !== null && (typeof old !== 'string' || old.length > MAX_VERSION)) {
    return fail('invalid_old_version_name', 'The old_version_name must be a short string.');
  }
  const timestamp = body.timestamp;
  if (timestamp !== undefined && timestamp !== null && !Number.isFinite(timestamp)) {
    return fail('invalid_timestamp', 'The timestamp must be a number (ms since the epoch).');
  }
  return checkMetadata(body.metadata);
}

/**
 * Validates one event: the info object (§2), a known `action`, and the event fields (§5).
 * @example parseStatEvent({ ...info, action: 'set' })
 */
export function parseStatEvent(value: unknown): StatEvent | InputError {
  const info = parseDeviceInfo(value);
  if ('error' in info) return info;
  const body = value as Record<string, unknown>;
  const action = body.action;
  if (action === undefined || action === null || action === '') {
    return fail('missing_action', 'The field "action" is required.');
  }
  if (typeof action !== 'string' || !STAT_ACTIONS.has(action)) {
    // plugins/stats_actions.ts: unknown actions are rejected (§5).
    return fail('unknown_action', 'The action is not one the plugin sends.');
  }
  const invalid = checkEventFields(body);
  if (invalid !== null) return invalid;
  return {
    appId: info.appId,
    deviceId: info.deviceId,
    defaultChannel: info.defaultChannel,
    action,
    versionName: info.versionName,
  };
}

/** One entry of a batch answer (§5). */
export interface StatResult {
  readonly status: 'ok' | 'error';
  readonly index: number;
  readonly error?: string;
  readonly message?: string;
}

/** The one bucket for stats about versions the channel never released (see countedVersion). */
export const OTHER_VERSION = '(other)';

/**
 * The version an event is counted under. `version_name` comes from unauthenticated devices, so a
 * counter per name would let anyone grow the stats table without bound (DESIGN §6: every input is
 * bounded): events about a version the channel's signed log never released, other than the
 * plugin's `builtin`, all count under OTHER_VERSION.
 */
function countedVersion(channel: DeviceFacingChannel, versionName: string): string {
  return versionName === 'builtin' || channel.releasedVersions.has(versionName)
    ? versionName
    : OTHER_VERSION;
}

/** Counters of one request, keyed by app/channel/version/action, plus what the pause check needs. */
class StatsBatch {
  private readonly counts = new Map<
    string,
    { channel: string; version: string; action: string; count: number }
  >();
  private readonly channels = new Map<string, DeviceFacingChannel | null>();
  /** Channels that got a success or failure for their current release. */
  readonly outcomeChannels = new Map<string, DeviceFacingChannel>();

  constructor(
    private readonly store: DeviceStore,
    readonly app: string,
  ) {}

  /** Adds an event; returns an error when the app has no channel to count it on. */
  add(event: StatEvent): InputError | null {
    const channel = this.channelFor(event.defaultChannel);
    if (channel === null) return fail('no_channel', 'The app has no channel to count this on.');
    const version = countedVersion(channel, event.versionName);
    const key = `${channel.channel}\n${version}\n${event.action}`;
    const entry = this.counts.get(key);
    if (entry === undefined) {
      this.counts.set(key, {
        channel: channel.channel,
        version,
        action: event.action,
        count: 1,
      });
    } else {
      entry.count++;
    }
    if (outcomeOf(event.action) !== 'neutral' && channel.current?.version === event.versionName) {
      this.outcomeChannels.set(channel.channel, channel);
    }
    return null;
  }

  /** The hourly rows for `store.addStats`. */
  rows(hour: number): StatsRow[] {
    return [...this.counts.values()].map((entry) => ({ app: this.app, hour, ...entry }));
  }

  private channelFor(requested: string | undefined): DeviceFacingChannel | null {
    const key = requested ?? '';
    let channel = this.channels.get(key);
    if (channel === undefined) {
      channel = resolveChannel(this.store, this.app, requested);
      this.channels.set(key, channel);
    }
    return channel;
  }
}

/** An automatic pause decided while counting (logged with the request). */
export interface AutomaticPause {
  readonly channel: string;
  readonly version: string;
  /** False when the store found the channel already paused. */
  readonly applied: boolean;
  readonly reason: string;
}

/**
 * Automatic pause (DESIGN §6): for each channel whose current release got outcomes in this request,
 * pause when at least `minSamples` outcomes were seen and the Wilson lower bound (z = 1.96) of the
 * failure rate exceeds `failureThreshold`. The store applies a server-signed `pause` marked
 * `automatic: true`.
 */
export function checkAutomaticPause(
  store: DeviceStore,
  app: string,
  channels: Iterable<DeviceFacingChannel>,
): AutomaticPause[] {
  const pauses: AutomaticPause[] = [];
  for (const channel of channels) {
    const settings = channel.settings.autoPause;
    const release = channel.current;
    if (settings === null || release === null || channel.paused) continue;
    const outcomes = store.outcomes(app, channel.channel, release.version);
    if (!shouldAutoPause(outcomes, settings)) continue;
    const total = outcomes.successes + outcomes.failures;
    const bound = wilsonLowerBound(outcomes.failures, total);
    const reason =
      `Failure rate of ${release.version}: lower bound ${bound.toFixed(3)} > ` +
      `${settings.failureThreshold} over ${total} outcomes (${outcomes.failures} failures).`;
    const applied = store.applyAutomaticPause(app, channel.channel, reason);
    pauses.push({ channel: channel.channel, version: release.version, applied, reason });
  }
  return pauses;
}

/** Batch-level checks: size and one app_id for all (`mixed_app_ids`, §5). */
function checkBatch(events: readonly unknown[]): InputError | null {
  if (events.length > MAX_STATS_EVENTS) {
    return fail('too_many_events', `A batch holds at most ${MAX_STATS_EVENTS} events.`);
  }
  let app: unknown;
  for (const event of events) {
    if (!isRecord(event) || typeof event.app_id !== 'string') continue;
    if (app === undefined) app = event.app_id;
    else if (app !== event.app_id) {
      return fail('mixed_app_ids', 'All events of a batch must have the same app_id.');
    }
  }
  return null;
}

/** The key a request is charged to: the first event's device, else the peer's address. */
function rateKey(events: readonly unknown[]): string | null {
  for (const event of events) {
    if (isRecord(event) && typeof event.device_id === 'string' && event.device_id.length <= 36) {
      return event.device_id.toLowerCase();
    }
  }
  return null;
}

/** Validates and counts every event; the answer entry per event, in order. */
function countEvents(
  ctx: DeviceContext,
  events: readonly unknown[],
): { results: StatResult[]; batch: StatsBatch | null } {
  const parsed = events.map(parseStatEvent);
  const app = parsed.find((event): event is StatEvent => !('error' in event))?.appId;
  const batch =
    app !== undefined && ctx.store.appExists(app) ? new StatsBatch(ctx.store, app) : null;
  const results = parsed.map((event, index): StatResult => {
    const error =
      'error' in event
        ? event
        : batch === null
          ? fail('app_not_found', 'This app is not known to the server.')
          : batch.add(event);
    return error === null
      ? { status: 'ok', index }
      : { status: 'error', index, error: error.error, message: error.message };
  });
  return { results, batch };
}

/** Handles `POST /stats`; returns the status sent (0 when the client went away). */
export async function handleStats(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: DeviceContext,
  state: DeviceState,
  log: Record<string, unknown>,
): Promise<number> {
  if (req.method !== 'POST') return sendMethodNotAllowed(res, 'POST');
  const json = await readJson(req, STATS_BODY_LIMIT);
  if (json === null) return 0;
  if (!json.ok && bodyLeftUnread(json.status)) return sendBodyError(res, json);
  const nowMs = ctx.nowMs();
  const single = json.ok && isRecord(json.value);
  const events = !json.ok
    ? null
    : single
      ? [json.value]
      : Array.isArray(json.value)
        ? json.value
        : null;
  const device = events === null ? null : rateKey(events);
  const limited =
    device === null
      ? sendRateLimited(res, state.limiters.ip, clientIp(req), nowMs)
      : sendRateLimited(res, state.limiters.stats, device, nowMs);
  if (limited !== null) return limited;
  if (!json.ok) return sendBodyError(res, json);
  if (events === null) {
    return sendError(
      res,
      400,
      fail('invalid_body', 'The body must be an event object or an array of events.'),
    );
  }
  const invalid = checkBatch(events);
  if (invalid !== null) return sendError(res, 400, invalid);
  const { results, batch } = countEvents(ctx, events);
  if (batch !== null) {
    const rows = batch.rows(Math.floor(nowMs / HOUR_MS) * HOUR_MS);
    if (rows.length > 0) ctx.store.addStats(rows);
    const pauses = checkAutomaticPause(ctx.store, batch.app, batch.outcomeChannels.values());
    if (pauses.length > 0) log.automaticPauses = pauses;
  }
  if (!single) return sendJson(res, 200, { status: 'ok', results });
  const [only] = results;
  if (only?.status === 'error') {
    return sendError(res, 400, {
      error: only.error ?? 'invalid_body',
      message: only.message ?? '',
    });
  }
  return sendJson(res, 200, { status: 'ok' });
}
