import {
  Activity,
  History,
  Inbox as InboxIcon,
  PackagePlus,
  Percent,
  SlidersHorizontal,
  Undo2,
  type LucideIcon,
} from 'lucide-react';
import { useState } from 'react';
import type { IpcResponse } from '../../../../shared/ipc/contract';
import { ActionMenu, type MenuAction } from '../../components/ActionMenu';
import { channelKey, channelRef, type ChannelRef } from '../../components/ChannelPicker';
import { EmptyState, Loading } from '../../components/EmptyState';
import { ErrorBanner } from '../../components/ErrorBanner';
import { Sparkline, type SparkPoint } from '../../components/Sparkline';
import { PausedIcon, StatusBadge, type Tone } from '../../components/StatusBadge';
import { api, useQuery } from '../../lib/api';
import { RolloutPanel } from '../rollout/RolloutPanel';

type Row = IpcResponse<'apps:overview'>['channels'][number];
type Inbox = IpcResponse<'approvals:inbox'>['items'];
type Health = IpcResponse<'health:series'>;

const HOUR_MS = 3_600_000;
const SPARK_HOURS = 24;

/** What a channel is doing, first (issue 13: status first), with the tone of its badge. */
export interface ChannelStatus {
  readonly label: string;
  readonly tone: Tone;
  /** A picture for the state when the tone's own is not the right one (paused). */
  readonly icon?: LucideIcon;
}

/**
 * The channel's state in a word or three. Pending work comes first (it waits for a person), then
 * what devices get: paused (by the server itself when its newest statement is an automatic pause),
 * rolled back, rolling out to part of the fleet, live.
 */
export function channelStatus(row: Row, pending: Inbox, autoPaused: boolean): ChannelStatus {
  const live = row.live;
  const waiting = pending.find((item) => item.verdict !== null && !item.verdict.satisfied);
  if (waiting?.verdict != null) {
    const { counted, threshold } = waiting.verdict;
    return { label: `Awaiting approval ${counted.length}/${threshold}`, tone: 'warn' };
  }
  if (pending.length > 0) return { label: 'Approved, waiting to be pushed', tone: 'warn' };
  if (live === null) {
    return row.mirror.currentVersion === null
      ? { label: 'No release', tone: 'neutral' }
      : { label: 'Server not reached', tone: 'neutral' };
  }
  if (live.current === null) return { label: 'No release', tone: 'neutral' };
  if (live.paused)
    return autoPaused
      ? { label: 'Auto-paused', tone: 'danger', icon: PausedIcon }
      : { label: 'Paused', tone: 'danger', icon: PausedIcon };
  if (live.rolledBack) return { label: 'Rolled back', tone: 'warn', icon: Undo2 };
  if (live.current.rolloutPercent < 100) {
    return { label: `Rolling out ${live.current.rolloutPercent}%`, tone: 'ok', icon: Percent };
  }
  return { label: 'Live', tone: 'ok' };
}

/** Outcomes of every version of the channel per hour of the window, oldest first. */
function hourly(health: Health): SparkPoint[] {
  const start = Date.parse(health.since);
  const points = Array.from({ length: health.hours }, () => ({ successes: 0, failures: 0 }));
  for (const version of health.versions) {
    for (const point of version.series) {
      const index = Math.floor((Date.parse(point.hour) - start) / HOUR_MS);
      const slot = points[index];
      if (slot === undefined) continue;
      slot.successes += point.successes;
      slot.failures += point.failures;
    }
  }
  return points;
}

/**
 * The current release's health in a few words and a day's sparkline (ARCHITECTURE.md §7: the
 * overview shows health): its success rate and failures since it was released, from the server.
 * Health figures live on the server only; offline it says so.
 */
function HealthCell(props: { channel: ChannelRef }): React.JSX.Element {
  const { server, app, channel } = props.channel;
  const health = useQuery(`overview-health ${server}\n${app}\n${channel}`, () =>
    api().health.series({ server, app, channel, hours: SPARK_HOURS }),
  );
  if (health.error !== null) {
    return (
      <span className="muted" title={health.error.message}>
        unavailable
      </span>
    );
  }
  if (health.data === null) return <span className="muted">…</span>;
  const { currentVersion, failureThreshold } = health.data;
  const totals = health.data.versions.find((entry) => entry.version === currentVersion)?.totals;
  if (totals === undefined || totals.successRate === null) {
    return <span className="muted">no reports yet</span>;
  }
  const points = hourly(health.data);
  const day = points.reduce(
    (sum, point) => ({
      successes: sum.successes + point.successes,
      failures: sum.failures + point.failures,
    }),
    { successes: 0, failures: 0 },
  );
  const alarming =
    failureThreshold !== null &&
    totals.failureLowerBound !== null &&
    totals.failureLowerBound > failureThreshold;
  return (
    <span className="health-cell">
      <Sparkline
        points={points}
        label={`Last 24 h: ${day.successes} installs, ${day.failures} failures`}
      />
      <span className={alarming ? 'health-alarm' : undefined}>
        {Math.round(totals.successRate * 100)}% ok · {totals.failures}{' '}
        {totals.failures === 1 ? 'failure' : 'failures'}
        {alarming && ' · above threshold'}
      </span>
    </span>
  );
}

/** The newest entry of the channel's verified log, to tell an automatic pause from a person's. */
function useAutoPaused(row: Row): boolean {
  const paused = row.live?.paused === true;
  const head = useQuery(
    paused ? `overview-head ${row.server}\n${row.app}\n${row.channel}\n${row.mirror.seq}` : null,
    () => api().history.list({ server: row.server, app: row.app, channel: row.channel, limit: 1 }),
  );
  const entry = head.data?.entries[0];
  return paused && entry?.kind === 'pause' && entry.automatic;
}

function ChannelRow(props: {
  row: Row;
  pending: Inbox;
  rolloutOpen: boolean;
  actions: {
    history: () => void;
    health?: () => void;
    release?: () => void;
    approvals?: () => void;
    rollout: () => void;
  };
}): React.JSX.Element {
  const { row, pending, actions } = props;
  const live = row.live;
  const ref = channelRef(row);
  const status = channelStatus(row, pending, useAutoPaused(row));
  const version = live?.current?.version ?? row.mirror.currentVersion;
  const all: (MenuAction & { id: string })[] = [
    ...(actions.approvals !== undefined && pending.length > 0
      ? [{ id: 'approvals', label: 'Review approvals', run: actions.approvals, icon: InboxIcon }]
      : []),
    {
      id: 'rollout',
      label: props.rolloutOpen ? 'Hide rollout' : 'Rollout',
      run: actions.rollout,
      icon: SlidersHorizontal,
    },
    ...(actions.release !== undefined
      ? [{ id: 'release', label: 'New release', run: actions.release, icon: PackagePlus }]
      : []),
    { id: 'history', label: 'History', run: actions.history, icon: History },
    ...(actions.health !== undefined
      ? [{ id: 'health', label: 'Health', run: actions.health, icon: Activity }]
      : []),
  ];
  // One primary action: what the status asks for next.
  const primaryId =
    pending.length > 0 && actions.approvals !== undefined
      ? 'approvals'
      : live?.paused === true || (live?.current != null && live.current.rolloutPercent < 100)
        ? 'rollout'
        : actions.release !== undefined
          ? 'release'
          : 'history';
  const primary = all.find((action) => action.id === primaryId) ?? all[0];
  const rest = all.filter((action) => action !== primary);
  return (
    <tr>
      <th scope="row">
        <span className="channel-name">
          {row.app} / {row.channel}
        </span>
        <span className="muted small">{row.server}</span>
      </th>
      <td>
        <StatusBadge tone={status.tone} icon={status.icon}>
          {status.label}
        </StatusBadge>
      </td>
      <td>
        {version ?? <span className="muted">none</span>}
        {live?.current != null && <span className="muted"> · {live.current.rolloutPercent}%</span>}
      </td>
      <td>
        {live === null ? (
          <span className="muted">server not reached</span>
        ) : live.current === null ? (
          '—'
        ) : (
          <HealthCell channel={ref} />
        )}
      </td>
      <td>
        <div className="row row-nowrap">
          {primary !== undefined && (
            <button type="button" className="button-primary" onClick={primary.run}>
              {primary.icon !== undefined && <primary.icon className="icon" aria-hidden="true" />}
              {primary.label}
            </button>
          )}
          <ActionMenu label={`More actions for ${row.app}/${row.channel}`} actions={rest} />
        </div>
      </td>
    </tr>
  );
}

/**
 * Every app and channel this console knows, status first (issue 13): a badge per channel, the
 * current release and rollout, a day of health, one primary action and a menu for the rest. The
 * rollout control opens below the table, not inside a row.
 */
export function OverviewScreen(props: {
  onOpenHistory: (channel: ChannelRef) => void;
  /** Opens the Health screen for this channel. */
  onOpenHealth?: (channel: ChannelRef) => void;
  /** Opens the New release screen for this channel; without it the action is not offered. */
  onNewRelease?: (channel: ChannelRef) => void;
  /** Opens the Approvals screen. */
  onOpenApprovals?: () => void;
}): React.JSX.Element {
  const overview = useQuery('overview', () => api().apps.overview({ live: true }));
  // Asked after the overview answered, and again whenever a mirror moved: the overview syncs a
  // mirror the server's log is ahead of, and only then does the inbox know what was applied
  // (issue 13: a pushed release is not "waiting" on an officer's console).
  const mirrors = overview.data?.channels.map((row) => row.mirror.seq).join(',') ?? null;
  const inbox = useQuery(mirrors === null ? null : `overview-inbox ${mirrors}`, () =>
    api().approvals.inbox({}),
  );
  const [openRollout, setOpenRollout] = useState<string | null>(null);
  const channels = overview.data?.channels ?? [];
  const unreachable = (overview.data?.servers ?? []).filter((server) => server.error !== null);
  const items = inbox.data?.items ?? [];
  const rolloutRow = channels.find((row) => channelKey(channelRef(row)) === openRollout) ?? null;
  const refresh = (): void => {
    overview.refetch();
    inbox.refetch();
  };

  return (
    <section aria-labelledby="overview-title">
      <div className="heading-row">
        <h1 id="overview-title">Apps and channels</h1>
        <button type="button" onClick={refresh} disabled={overview.loading}>
          {overview.loading ? 'Refreshing…' : 'Refresh'}
        </button>
      </div>
      <ErrorBanner error={overview.error} />
      {unreachable.map((server) => (
        <p key={server.url} className="banner banner-info">
          {server.url}: {server.error}
        </p>
      ))}
      {overview.loading && overview.data === null && <Loading />}
      {overview.data !== null && channels.length === 0 && (
        <EmptyState title="No apps or channels yet">
          Connect a server on the Servers screen; its apps and channels appear here once synced.
        </EmptyState>
      )}
      {channels.length > 0 && (
        <table className="table overview-table" aria-label="Channels">
          <thead>
            <tr>
              <th scope="col">Channel</th>
              <th scope="col">Status</th>
              <th scope="col">Release</th>
              <th scope="col">Health (24 h)</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {channels.map((row) => {
              const ref = channelRef(row);
              const key = channelKey(ref);
              const pending = items.filter(
                (item) =>
                  item.server === row.server &&
                  item.statement.app === row.app &&
                  item.statement.channel === row.channel &&
                  item.state === 'pending',
              );
              return (
                <ChannelRow
                  key={key}
                  row={row}
                  pending={pending}
                  rolloutOpen={openRollout === key}
                  actions={{
                    history: () => props.onOpenHistory(ref),
                    ...(props.onOpenHealth && { health: () => props.onOpenHealth?.(ref) }),
                    ...(props.onNewRelease && { release: () => props.onNewRelease?.(ref) }),
                    ...(props.onOpenApprovals && { approvals: props.onOpenApprovals }),
                    rollout: () => setOpenRollout(openRollout === key ? null : key),
                  }}
                />
              );
            })}
          </tbody>
        </table>
      )}
      {rolloutRow !== null && (
        <div className="card">
          <RolloutPanel
            key={openRollout}
            channel={channelRef(rolloutRow)}
            live={rolloutRow.live}
            onChanged={refresh}
          />
        </div>
      )}
    </section>
  );
}
