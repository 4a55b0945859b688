import { Fragment, useState } from 'react';
import { channelKey, channelRef, type ChannelRef } from '../../components/ChannelPicker';
import { EmptyState, Loading } from '../../components/EmptyState';
import { ErrorBanner } from '../../components/ErrorBanner';
import { api, useQuery } from '../../lib/api';
import { RolloutPanel } from '../rollout/RolloutPanel';

/**
 * The current release's health in a few words (ARCHITECTURE.md §7: the overview shows health): its success
 * rate and failures since it was released, from the server. Offline it says so: health figures
 * live on the server only.
 */
function HealthCell(props: { channel: ChannelRef }): React.JSX.Element {
  const { server, app, channel } = props.channel;
  const health = useQuery(`overview-health ${server}\n${app}\n${channel}`, () =>
    api().health.series({ server, app, channel, hours: 24 }),
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
  const alarming =
    failureThreshold !== null &&
    totals.failureLowerBound !== null &&
    totals.failureLowerBound > failureThreshold;
  return (
    <span className={alarming ? 'health-alarm' : undefined}>
      {Math.round(totals.successRate * 100)}% ok · {totals.failures}{' '}
      {totals.failures === 1 ? 'failure' : 'failures'}
      {alarming && ' · above threshold'}
    </span>
  );
}

/**
 * Every app and channel this console knows: current release, rollout, health, pending
 * statements; per channel its history, health, rollout control (a disclosure under the row) and a
 * new release.
 */
export function OverviewScreen(props: {
  onOpenHistory: (channel: ChannelRef) => void;
  /** Opens the Health screen for this channel. */
  onOpenHealth?: (channel: ChannelRef) => void;
  /** Opens the New release screen for this channel; without it the button is not shown. */
  onNewRelease?: (channel: ChannelRef) => void;
}): React.JSX.Element {
  const overview = useQuery('overview', () => api().apps.overview({ live: true }));
  const [openRollout, setOpenRollout] = useState<string | null>(null);
  const channels = overview.data?.channels ?? [];
  const unreachable = (overview.data?.servers ?? []).filter((server) => server.error !== null);

  return (
    <section aria-labelledby="overview-title">
      <div className="heading-row">
        <h1 id="overview-title">Apps and channels</h1>
        <button type="button" onClick={overview.refetch} disabled={overview.loading}>
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
        <table className="table" aria-label="Channels">
          <thead>
            <tr>
              <th scope="col">App</th>
              <th scope="col">Channel</th>
              <th scope="col">Current release</th>
              <th scope="col">Rollout</th>
              <th scope="col">Health</th>
              <th scope="col">Pending</th>
              <th scope="col">Server</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {channels.map((row) => {
              const live = row.live;
              const ref = channelRef(row);
              const key = channelKey(ref);
              const panelId = `rollout-${row.server}-${row.app}-${row.channel}`.replace(
                /[^A-Za-z0-9_-]/g,
                '_',
              );
              const expanded = openRollout === key;
              const version = live?.current?.version ?? row.mirror.currentVersion;
              const state =
                live === null
                  ? 'from the verified mirror'
                  : live.paused
                    ? 'paused'
                    : live.rolledBack
                      ? 'rolled back'
                      : 'live';
              return (
                <Fragment key={key}>
                  <tr>
                    <td>{row.app}</td>
                    <td>{row.channel}</td>
                    <td>
                      {version ?? <span className="muted">none</span>}{' '}
                      <span className="muted">({state})</span>
                    </td>
                    <td>{live?.current ? `${live.current.rolloutPercent}%` : '—'}</td>
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
                      {row.pendingStatements === 0
                        ? '0'
                        : `${row.pendingStatements} awaiting approval or push`}
                    </td>
                    <td>{row.server}</td>
                    <td>
                      <div className="row row-wrap">
                        <button type="button" onClick={() => props.onOpenHistory(ref)}>
                          History
                        </button>
                        {props.onOpenHealth !== undefined && (
                          <button type="button" onClick={() => props.onOpenHealth?.(ref)}>
                            Health
                          </button>
                        )}
                        <button
                          type="button"
                          aria-expanded={expanded}
                          aria-controls={expanded ? panelId : undefined}
                          onClick={() => setOpenRollout(expanded ? null : key)}
                        >
                          Rollout
                        </button>
                        {props.onNewRelease !== undefined && (
                          <button type="button" onClick={() => props.onNewRelease?.(ref)}>
                            New release
                          </button>
                        )}
                      </div>
                    </td>
                  </tr>
                  {expanded && (
                    <tr className="rollout-row">
                      <td colSpan={8} id={panelId}>
                        <RolloutPanel channel={ref} live={live} onChanged={overview.refetch} />
                      </td>
                    </tr>
                  )}
                </Fragment>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
