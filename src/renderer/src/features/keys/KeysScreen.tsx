import { useState } from 'react';
import type { KeyView } from '../../../../shared/ipc/contract';
import { CopyBox } from '../../components/CopyBox';
import { EmptyState, Loading } from '../../components/EmptyState';
import { ErrorBanner } from '../../components/ErrorBanner';
import { api, useAction, useQuery } from '../../lib/api';
import { when } from '../../lib/format';

/** Keys, and the first-run path: create an identity key (private halves stay in the keychain). */
export function KeysScreen(props: { onChanged: () => void }): React.JSX.Element {
  const keys = useQuery('keys', () => api().keys.list());
  const create = useAction((type: KeyView['type'], label: string) =>
    api().keys.create({ type, label: label.trim() === '' ? undefined : label.trim() }),
  );
  const exportKey = useAction((key: KeyView) =>
    api().keys.exportPublic({ keyId: key.keyId, format: key.type === 'identity' ? 'hex' : 'pem' }),
  );
  const [type, setType] = useState<KeyView['type']>('identity');
  const [label, setLabel] = useState('');
  const [shown, setShown] = useState<KeyView | null>(null);

  const list = keys.data?.keys ?? [];
  const hasIdentity = list.some((key) => key.type === 'identity');

  async function onCreate(event: React.FormEvent): Promise<void> {
    event.preventDefault();
    const outcome = await create.run(type, label);
    if (outcome.data !== null) {
      setLabel('');
      keys.refetch();
      props.onChanged();
    }
  }

  async function onShow(key: KeyView): Promise<void> {
    setShown(key);
    await exportKey.run(key);
  }

  return (
    <section aria-labelledby="keys-title">
      <h1 id="keys-title">Keys</h1>
      {keys.data !== null && !hasIdentity && (
        <div className="card first-run">
          <h2>Welcome to Airlock</h2>
          <p>
            Start with an <strong>identity key</strong>: it signs your proposals and approvals. Its
            private half stays in this computer&apos;s keychain. Then connect a server, or stay
            offline and exchange request and approval files.
          </p>
        </div>
      )}
      <ErrorBanner error={keys.error} />
      <form className="card form-row" onSubmit={(event) => void onCreate(event)}>
        <label className="field">
          <span>Type</span>
          <select
            value={type}
            onChange={(event) => setType(event.target.value === 'bundle' ? 'bundle' : 'identity')}
          >
            <option value="identity">Identity (signs statements)</option>
            <option value="bundle">Bundle (encrypts live updates)</option>
          </select>
        </label>
        <label className="field grow">
          <span>Label (optional)</span>
          <input
            value={label}
            maxLength={200}
            onChange={(event) => setLabel(event.target.value)}
            placeholder="e.g. Ada's laptop"
          />
        </label>
        <button type="submit" className="button-primary" disabled={create.pending}>
          {create.pending
            ? 'Creating…'
            : type === 'identity'
              ? 'Create identity key'
              : 'Create bundle key'}
        </button>
      </form>
      <ErrorBanner error={create.error} onDismiss={create.reset} />
      {keys.loading && keys.data === null && <Loading />}
      {keys.data !== null && list.length === 0 && (
        <EmptyState title="No keys yet">Create an identity key above to get started.</EmptyState>
      )}
      {list.length > 0 && (
        <table className="table" aria-label="Keys">
          <thead>
            <tr>
              <th scope="col">Label</th>
              <th scope="col">Type</th>
              <th scope="col">Fingerprint</th>
              <th scope="col">Created</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.map((key) => (
              <tr key={key.keyId}>
                <td>{key.label === '' ? <span className="muted">(no label)</span> : key.label}</td>
                <td>{key.type}</td>
                <td className="mono">{key.fingerprint}</td>
                <td>{when(key.createdAt)}</td>
                <td>
                  <button type="button" onClick={() => void onShow(key)}>
                    Export public key
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {shown !== null && (
        <div className="card">
          <h2>Public key: {shown.label === '' ? shown.keyId : shown.label}</h2>
          <p className="muted">
            Share this with your server administrator. It is public; the private key never leaves
            the keychain.
          </p>
          <ErrorBanner error={exportKey.error} />
          {exportKey.pending && <Loading />}
          {exportKey.data !== null && !exportKey.pending && (
            <CopyBox
              label={shown.type === 'identity' ? 'Public key (hex)' : 'Public key (PEM)'}
              text={exportKey.data.text}
            />
          )}
        </div>
      )}
    </section>
  );
}
