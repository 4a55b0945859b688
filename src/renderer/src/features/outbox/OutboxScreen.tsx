import { useState } from 'react';
import type { AppErrorShape } from '../../../../shared/errors';
import { EmptyState, Loading } from '../../components/EmptyState';
import { ErrorBanner } from '../../components/ErrorBanner';
import { api, unwrap, useAction, useQuery } from '../../lib/api';
import { shortId, when } from '../../lib/format';

/** Pushes waiting for a server, and the Sync button that delivers them and refreshes mirrors. */
export function OutboxScreen(props: { onChanged: () => void }): React.JSX.Element {
  const outbox = useQuery('outbox', () => api().outbox.list());
  const sync = useAction(() => api().sync.run({}));
  const [retryError, setRetryError] = useState<AppErrorShape | null>(null);

  async function onSync(): Promise<void> {
    await sync.run();
    outbox.refetch();
    props.onChanged();
  }

  async function onRetry(id: number): Promise<void> {
    const outcome = await unwrap(api().outbox.retry({ id }));
    setRetryError(outcome.error);
    outbox.refetch();
    props.onChanged();
  }

  const items = outbox.data?.items ?? [];
  const waiting = items.filter((item) => item.state !== 'delivered');
  return (
    <section aria-labelledby="outbox-title">
      <div className="heading-row">
        <h1 id="outbox-title">Outbox and sync</h1>
        <button
          type="button"
          className="button-primary"
          onClick={() => void onSync()}
          disabled={sync.pending}
        >
          {sync.pending ? 'Syncing…' : 'Sync now'}
        </button>
      </div>
      <ErrorBanner error={sync.error} onDismiss={sync.reset} />
      <ErrorBanner error={retryError} onDismiss={() => setRetryError(null)} />
      {sync.data !== null && (
        <div className="card" role="status">
          {sync.data.servers.length === 0 ? (
            <p>No servers to sync with. Connect one on the Servers screen.</p>
          ) : (
            <ul>
              {sync.data.servers.map((server) => (
                <li key={server.url}>
                  <strong>{server.url}</strong>:{' '}
                  {server.error ??
                    `${server.delivered} delivered, ${server.failed.length} failed, ${server.channels.reduce(
                      (sum, channel) => sum + channel.added,
                      0,
                    )} new log entries`}
                  {server.waiting !== null && ` · ${server.waiting}`}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
      <ErrorBanner error={outbox.error} />
      {outbox.loading && outbox.data === null && <Loading />}
      {outbox.data !== null && items.length === 0 && (
        <EmptyState title="The outbox is empty">
          Everything you proposed or approved has reached its server.
        </EmptyState>
      )}
      {items.length > 0 && (
        <>
          <p className="muted">{waiting.length} waiting</p>
          <table className="table" aria-label="Outbox">
            <thead>
              <tr>
                <th scope="col">What</th>
                <th scope="col">Server</th>
                <th scope="col">State</th>
                <th scope="col">Attempts</th>
                <th scope="col">Last error</th>
                <th scope="col">Next attempt</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((item) => (
                <tr key={item.id}>
                  <td>
                    {item.kind}
                    {item.statementId !== null && (
                      <span className="mono muted"> {shortId(item.statementId)}</span>
                    )}
                  </td>
                  <td>{item.server}</td>
                  <td>{item.state}</td>
                  <td>{item.attempts}</td>
                  <td>{item.lastError ?? '—'}</td>
                  <td>{item.state === 'delivered' ? '—' : when(item.nextAttemptAt)}</td>
                  <td>
                    {item.state === 'failed' && (
                      <button type="button" onClick={() => void onRetry(item.id)}>
                        Retry
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
