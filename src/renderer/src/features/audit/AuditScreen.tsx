import { EmptyState, Loading } from '../../components/EmptyState';
import { ErrorBanner } from '../../components/ErrorBanner';
import { api, useAction, useQuery } from '../../lib/api';
import { shortId, when } from '../../lib/format';

function detailsLine(details: Record<string, unknown>): string {
  return Object.entries(details)
    .map(([name, value]) => `${name}: ${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(', ');
}

/** The local audit trail (a hash chain) and a button that checks every link. */
export function AuditScreen(): React.JSX.Element {
  const audit = useQuery('audit', () => api().audit.list({ afterSeq: 0, limit: 1000 }));
  const verify = useAction(() => api().audit.verify());
  const entries = [...(audit.data?.entries ?? [])].reverse();

  return (
    <section aria-labelledby="audit-title">
      <div className="heading-row">
        <h1 id="audit-title">Audit log</h1>
        <button
          type="button"
          className="button-primary"
          onClick={() => void verify.run()}
          disabled={verify.pending}
        >
          {verify.pending ? 'Verifying…' : 'Verify chain'}
        </button>
      </div>
      <ErrorBanner error={verify.error} onDismiss={verify.reset} />
      {verify.data !== null &&
        (verify.data.ok ? (
          <p className="banner banner-ok" role="status">
            The chain is intact: {verify.data.entries} entries
            {verify.data.head !== null && `, head ${shortId(verify.data.head)}`}.
          </p>
        ) : (
          <p className="banner banner-error" role="alert">
            The chain is broken
            {verify.data.brokenAt !== null && ` at entry ${verify.data.brokenAt}`}:{' '}
            {verify.data.reason ?? 'no reason given'}.
          </p>
        ))}
      <ErrorBanner error={audit.error} />
      {audit.loading && audit.data === null && <Loading />}
      {audit.data !== null && entries.length === 0 && (
        <EmptyState title="No audit entries yet">
          Key creation, proposals, approvals and pushes are recorded here.
        </EmptyState>
      )}
      {entries.length >= 1000 && (
        <p className="muted">Showing the first 1000 entries, newest of them first.</p>
      )}
      {entries.length > 0 && (
        <table className="table" aria-label="Audit log">
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Time</th>
              <th scope="col">Action</th>
              <th scope="col">Actor</th>
              <th scope="col">Details</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((entry) => (
              <tr key={entry.seq}>
                <td>{entry.seq}</td>
                <td>{when(entry.time)}</td>
                <td>{entry.action}</td>
                <td className="mono">{shortId(entry.actor, 16)}</td>
                <td className="details">{detailsLine(entry.details)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
