import { useState } from 'react';
import { CopyBox } from '../../components/CopyBox';
import { EmptyState, Loading } from '../../components/EmptyState';
import { ErrorBanner } from '../../components/ErrorBanner';
import { api, useAction, useQuery } from '../../lib/api';
import { givenName, unnamed } from '../../lib/people';
import { roleLabel } from '../../lib/roles';
import { DeviceTrustPanel } from './DeviceTrustPanel';

/**
 * Connect a server by URL. Its trust root is pinned on first contact (trust on first use), so the
 * fingerprint is shown to compare with what the administrator sent out of band.
 */
export function ServersScreen(props: { onChanged: () => void }): React.JSX.Element {
  const servers = useQuery('servers', () => api().servers.list());
  const connect = useAction((url: string, expectRootId: string) =>
    api().servers.connect({
      url,
      expectRootId: expectRootId.trim() === '' ? undefined : expectRootId.trim().toLowerCase(),
    }),
  );
  const [url, setUrl] = useState('');
  const [expect, setExpect] = useState('');

  async function onConnect(event: React.FormEvent): Promise<void> {
    event.preventDefault();
    const outcome = await connect.run(url, expect);
    if (outcome.data !== null) {
      servers.refetch();
      props.onChanged();
    }
  }

  const list = servers.data?.servers ?? [];
  return (
    <section aria-labelledby="servers-title">
      <h1 id="servers-title">Servers</h1>
      <form className="card form-row" onSubmit={(event) => void onConnect(event)}>
        <label className="field grow">
          <span>Server URL</span>
          <input
            type="url"
            required
            value={url}
            onChange={(event) => setUrl(event.target.value)}
            placeholder="https://updates.example.com"
          />
        </label>
        <label className="field grow">
          <span>Expected root id (optional, 64 hex)</span>
          <input
            value={expect}
            pattern="[0-9a-fA-F]{64}"
            onChange={(event) => setExpect(event.target.value)}
            spellCheck={false}
          />
        </label>
        <button type="submit" className="button-primary" disabled={connect.pending}>
          {connect.pending ? 'Connecting…' : 'Connect'}
        </button>
      </form>
      <ErrorBanner error={connect.error} onDismiss={connect.reset} />
      {connect.data !== null && (
        <div className="card" role="status">
          <h2>
            {connect.data.firstContact ? 'Connected and pinned' : 'Already pinned'}:{' '}
            {connect.data.url}
          </h2>
          <p>
            Compare this fingerprint with the one your administrator gave you. If they differ, do
            not use this server.
          </p>
          <CopyBox label="Trust root fingerprint" text={connect.data.fingerprint} />
          <p className="muted">Trust root version {connect.data.rootVersion}</p>
          {connect.data.findings.length > 0 && (
            <ul className="findings">
              {connect.data.findings.map((finding, index) => (
                <li key={index}>
                  <strong>{finding.kind}</strong>: {finding.message}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
      <ErrorBanner error={servers.error} />
      {servers.loading && servers.data === null && <Loading />}
      {servers.data !== null && list.length === 0 && (
        <EmptyState title="No servers connected">
          Airlock works offline: you can create keys and exchange request and approval files without
          a server. Connect one above when you are ready.
        </EmptyState>
      )}
      {list.length > 0 && (
        <table className="table" aria-label="Servers">
          <thead>
            <tr>
              <th scope="col">URL</th>
              <th scope="col">Fingerprint</th>
              <th scope="col">Root</th>
              <th scope="col">Members</th>
            </tr>
          </thead>
          <tbody>
            {list.map((server) => (
              <tr key={server.url}>
                <td>{server.url}</td>
                <td className="mono">{server.fingerprint}</td>
                <td>v{server.rootVersion}</td>
                <td>
                  {server.members.length === 0
                    ? '—'
                    : server.members
                        .map(
                          (member) =>
                            `${givenName(member.name, member.fingerprint) ?? `${unnamed(member.roles, true)} ${member.fingerprint}`} (${member.roles.map(roleLabel).join(', ')})`,
                        )
                        .join('; ')}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {list.length > 0 && <DeviceTrustPanel />}
    </section>
  );
}
