import { useState } from 'react';
import type { AppErrorShape } from '../../../../shared/errors';
import { EmptyState, Loading } from '../../components/EmptyState';
import { ErrorBanner } from '../../components/ErrorBanner';
import { api, unwrap, useQuery } from '../../lib/api';
import { shortId, verdictLine, when } from '../../lib/format';

/** Statements waiting for approvals, with the policy progress evaluated under the pinned root. */
export function ApprovalsScreen(): React.JSX.Element {
  const [refresh, setRefresh] = useState(false);
  const [round, setRound] = useState(0);
  const inbox = useQuery(`inbox ${refresh} ${round}`, () => api().approvals.inbox({ refresh }));
  const keys = useQuery('keys', () => api().keys.list());
  const mine = new Set(
    (keys.data?.keys ?? []).filter((key) => key.type === 'identity').map((key) => key.keyId),
  );
  const [busy, setBusy] = useState<string | null>(null);
  const [actionError, setActionError] = useState<AppErrorShape | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  async function approve(server: string, statementId: string): Promise<void> {
    setBusy(statementId);
    setActionError(null);
    setNotice(null);
    const outcome = await unwrap(api().approvals.approve({ mode: 'online', server, statementId }));
    setBusy(null);
    if (outcome.error !== null) setActionError(outcome.error);
    else {
      setNotice(
        `Approved ${shortId(statementId)}: ${verdictLine(outcome.data.verdict)}${
          outcome.data.state === 'applied' ? ' (applied)' : ''
        }.`,
      );
      setRound((value) => value + 1);
    }
  }

  const items = inbox.data?.items ?? [];
  return (
    <section aria-labelledby="approvals-title">
      <div className="heading-row">
        <h1 id="approvals-title">Approvals</h1>
        <button
          type="button"
          disabled={inbox.loading}
          onClick={() => {
            setRefresh(true);
            setRound((value) => value + 1);
          }}
        >
          {inbox.loading ? 'Checking…' : 'Check servers'}
        </button>
      </div>
      <ErrorBanner error={inbox.error} />
      <ErrorBanner error={actionError} onDismiss={() => setActionError(null)} />
      {notice !== null && (
        <p className="banner banner-ok" role="status">
          {notice}
        </p>
      )}
      {inbox.loading && inbox.data === null && <Loading />}
      {inbox.data !== null && items.length === 0 && (
        <EmptyState title="Nothing waits for approval">
          Proposals from your team appear here; use Check servers to ask for new ones.
        </EmptyState>
      )}
      <ul className="cards" aria-label="Pending statements">
        {items.map((item) => {
          const statement = item.statement;
          const what =
            statement.kind === 'release'
              ? `Release ${statement.release.version} at ${statement.release.rollout.percent}%`
              : statement.kind === 'rollout'
                ? `Rollout to ${statement.rollout.percent}%`
                : statement.kind === 'rollback'
                  ? `Rollback to ${shortId(statement.target)}`
                  : statement.kind === 'pause'
                    ? 'Pause'
                    : 'Resume';
          const own = mine.has(statement.proposer);
          const canApprove = item.server !== null && item.state === 'pending' && !own;
          return (
            <li key={item.statementId} className="card">
              <h2>
                {what} · {statement.app}/{statement.channel}
              </h2>
              <p>
                <strong>{verdictLine(item.verdict)}</strong>{' '}
                <span className="muted">({item.state})</span>
              </p>
              <p className="muted">
                #{statement.seq} by <span className="mono">{shortId(statement.proposer)}</span>,
                expires {when(statement.expiresAt)}
                {item.server !== null && ` · ${item.server}`}
              </p>
              {own && <p className="muted">Your proposal: others approve it.</p>}
              {canApprove && item.server !== null && (
                <button
                  type="button"
                  className="button-primary"
                  disabled={busy !== null}
                  onClick={() => void approve(item.server ?? '', item.statementId)}
                >
                  {busy === item.statementId ? 'Approving…' : 'Approve'}
                </button>
              )}
            </li>
          );
        })}
      </ul>
    </section>
  );
}
