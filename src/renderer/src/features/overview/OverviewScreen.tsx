import { EmptyState, Loading } from '../../components/EmptyState';
import { ErrorBanner } from '../../components/ErrorBanner';
import { api, useQuery } from '../../lib/api';

export interface ChannelRef {
  readonly server: string;
  readonly app: string;
  readonly channel: string;
}

/** Every app and channel this console knows: current release, rollout, pending statements. */
export function OverviewScreen(props: {
  onOpenHistory: (channel: ChannelRef) => void;
}): React.JSX.Element {
  const overview = useQuery('overview', () => api().apps.overview({ live: true }));
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
                <tr key={`${row.server} ${row.app} ${row.channel}`}>
                  <td>{row.app}</td>
                  <td>{row.channel}</td>
                  <td>
                    {version ?? <span className="muted">none</span>}{' '}
                    <span className="muted">({state})</span>
                  </td>
                  <td>{live?.current ? `${live.current.rolloutPercent}%` : '—'}</td>
                  <td>
                    {row.pendingStatements === 0
                      ? '0'
                      : `${row.pendingStatements} awaiting approval or push`}
                  </td>
                  <td>{row.server}</td>
                  <td>
                    <button
                      type="button"
                      onClick={() =>
                        props.onOpenHistory({
                          server: row.server,
                          app: row.app,
                          channel: row.channel,
                        })
                      }
                    >
                      History
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
