import type { IncomingMessage, ServerResponse } from 'node:http';
import type {
  DeviceFacingChannel,
  DeviceStore,
  OutcomeReport,
  StatsRow,
} from '../store/device-store';
import { resolveChannel } from './channels';
import type { DeviceContext, DeviceState } from './context';
import {
  bodyLeftUnread,
  readJson,
  sendBodyError,
  sendError,
  sendJson,
  sendMethodNotAllowed,
} from './http';
import { isRecord, parseDeviceInfo, type InputError } from './info';
import { releaseFacts } from './decide';
import type { HandedSet } from './handed';
import { sendRateLimited } from './limits';
import { STAT_ACTIONS, outcomeOf } from './stats-actions';
import { shouldAutoPause, wilsonLowerBound } from './wilson';

/**
 * `POST /stats` (PROTOCOL.md §5): a JSON array of events (the plugin's batches, ≤ 200) or one
 * event object (`DownloadService.sendStatsAsync`, `rate_limit_reached`). Events are aggregated into
 * hourly counters per app/channel/version/action (the health charts). The hour is the server's
 * receive time: device clocks and queued timestamps are not trusted.
 *
 * The automatic pause is a control action taken on unauthenticated input, so its evidence is
 * narrower than the counters (ARCHITECTURE.md "Unauthenticated input never steers"):
 * 1. only a success or failure of the channel's *current* release counts;
 * 2. only from a device `/updates` handed that release (HandedSet);
 * 3. once per device per counting period (the store keeps one outcome per device);
 * 4. a source (peer address, /64 for IPv6, or the client a trusted proxy names) adds at most
 *    `autoPause.maxDevicesPerSource` devices per period;
 * 5. the period restarts with every release, rollback and resume (src/core/channel/state.ts).
 * A real failure wave, many devices from many networks, still pauses by the Wilson rule.
 */

/** The plugin holds at most 200 pending events (PROTOCOL.md §5). */
export const MAX_STATS_EVENTS = 200;

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
 * counter per name would let anyone grow the stats table without bound (ARCHITECTURE.md §6: every input is
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
  /** Per channel: outcomes of its current release from devices it was handed to (rules 1, 2). */
  readonly evidence = new Map<string, { channel: DeviceFacingChannel; reports: OutcomeReport[] }>();

  constructor(
    private readonly store: DeviceStore,
    private readonly handed: HandedSet,
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
    this.addEvidence(channel, event);
    return null;
  }

  private addEvidence(channel: DeviceFacingChannel, event: StatEvent): void {
    const outcome = outcomeOf(event.action);
    const release = channel.current;
    if (outcome === 'neutral' || release === null || release.version !== event.versionName) return;
    if (!this.handed.has(event.deviceId, releaseFacts(release).salt)) return;
    let entry = this.evidence.get(channel.channel);
    if (entry === undefined) {
      entry = { channel, reports: [] };
      this.evidence.set(channel.channel, entry);
    }
    entry.reports.push({ deviceId: event.deviceId, failed: outcome === 'failure' });
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

/** Devices counted per period in all (bounded storage; far above any useful minSamples). */
const MAX_EVIDENCE_DEVICES = 1_000_000;

/**
 * Records the batch's evidence (rules 3 and 4 in the store) and pauses a channel when the Wilson
 * lower bound (z = 1.96) of its failure rate over at least `minSamples` devices exceeds
 * `failureThreshold`: a server-signed `pause` marked `automatic: true`, applied once.
 */
export async function weighEvidence(
  store: DeviceStore,
  batch: StatsBatch,
  source: string,
): Promise<AutomaticPause[]> {
  const pauses: AutomaticPause[] = [];
  for (const { channel, reports } of batch.evidence.values()) {
    const settings = channel.settings.autoPause;
    const release = channel.current;
    if (release === null || channel.paused) continue;
    const evidence = await store.recordOutcomes(
      batch.app,
      channel.channel,
      channel.countingSince,
      source,
      reports,
      { perSource: settings?.maxDevicesPerSource ?? 5, devices: MAX_EVIDENCE_DEVICES },
    );
    if (evidence === null || settings === null || !shouldAutoPause(evidence, settings)) continue;
    const total = evidence.successes + evidence.failures;
    const bound = wilsonLowerBound(evidence.failures, total);
    const reason =
      `Failure rate of ${release.version}: lower bound ${bound.toFixed(3)} > ` +
      `${settings.failureThreshold} over ${total} devices (${evidence.failures} failed).`;
    const applied = await store.applyAutomaticPause(
      batch.app,
      channel.channel,
      reason,
      channel.countingSince,
    );
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
  state: DeviceState,
  events: readonly unknown[],
): { results: StatResult[]; batch: StatsBatch | null } {
  const parsed = events.map(parseStatEvent);
  const app = parsed.find((event): event is StatEvent => !('error' in event))?.appId;
  const batch =
    app !== undefined && ctx.store.appExists(app)
      ? new StatsBatch(ctx.store, state.handed, app)
      : null;
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
  const json = await readJson(req, state.bodies.stats);
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
  // Per source always (a sender picks its device ids), and per device for a runaway phone.
  const device = events === null ? null : rateKey(events);
  const limited =
    sendRateLimited(res, state.limiters.ip, ctx.sourceOf(req), nowMs) ??
    (device === null ? null : sendRateLimited(res, state.limiters.stats, device, nowMs));
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
  const { results, batch } = countEvents(ctx, state, events);
  if (batch !== null) {
    const rows = batch.rows(Math.floor(nowMs / HOUR_MS) * HOUR_MS);
    if (rows.length > 0) await ctx.store.addStats(rows);
    const pauses = await weighEvidence(ctx.store, batch, ctx.sourceOf(req));
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
