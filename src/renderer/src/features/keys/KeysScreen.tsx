import * as Dialog from '@radix-ui/react-dialog';
import { Save } from 'lucide-react';
import { useEffect, useId, useState } from 'react';
import type { AppErrorShape } from '../../../../shared/errors';
import type { KeyView } from '../../../../shared/ipc/contract';
import { CopyBox } from '../../components/CopyBox';
import { EmptyState, Loading } from '../../components/EmptyState';
import { ErrorBanner } from '../../components/ErrorBanner';
import { FilePicker } from '../../components/FilePicker';
import { api, useAction, useQuery } from '../../lib/api';
import { saveFile } from '../../lib/files';
import { when } from '../../lib/format';

/** The shortest passphrase main accepts (src/shared/ipc/contract.ts `Passphrase`). */
const MIN_PASSPHRASE = 8;
/** The longest one. */
const MAX_PASSPHRASE = 1024;

/** A backup or restore error in plain words; the code stays for support. */
function plainKeyError(error: AppErrorShape | null): AppErrorShape | null {
  if (error === null) return null;
  switch (error.code) {
    case 'BACKUP_WRONG_PASSPHRASE':
      return {
        code: error.code,
        message:
          'That passphrase does not open this backup. Check it (capitals count) and try again; if it is right, the file was changed after it was saved.',
      };
    case 'BACKUP_INVALID':
      return {
        code: error.code,
        message: `This file is not an Airlock key backup, or it is damaged. ${error.message}`,
      };
    case 'ALREADY_EXISTS':
      return {
        code: error.code,
        message: "This key is already in this computer's keychain: there is nothing to restore.",
      };
    default:
      return error;
  }
}

/** Why a new backup passphrase cannot be used yet, or null when it can. */
function passphraseProblem(first: string, second: string): string | null {
  if (first.length < MIN_PASSPHRASE) {
    return `The passphrase needs at least ${MIN_PASSPHRASE} characters.`;
  }
  if (first.length > MAX_PASSPHRASE) {
    return `The passphrase may have at most ${MAX_PASSPHRASE} characters.`;
  }
  if (first !== second) return 'The two passphrases differ: type the same one twice.';
  return null;
}

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
  const [backupOf, setBackupOf] = useState<KeyView | null>(null);
  const [saved, setSaved] = useState<string | null>(null);

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
                  <div className="actions">
                    <button type="button" onClick={() => void onShow(key)}>
                      Export public key
                    </button>
                    <button
                      type="button"
                      onClick={() => {
                        setSaved(null);
                        setBackupOf(key);
                      }}
                    >
                      Back up
                    </button>
                  </div>
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
      {saved !== null && (
        <p className="banner banner-ok" role="status">
          {saved}
        </p>
      )}
      <BackupDialog
        target={backupOf}
        onClose={() => setBackupOf(null)}
        onSaved={(fileName) =>
          setSaved(
            `Backup saved as ${fileName}. Keep the file and its passphrase in separate places: together they are the private key.`,
          )
        }
      />
      <RestoreSection
        onRestored={() => {
          keys.refetch();
          props.onChanged();
        }}
      />
    </section>
  );
}

/** One of the backup dialog's two passphrase inputs; invalid while the problem `problemId` shows. */
function NewPassphraseField(props: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  problemId: string | null;
}): React.JSX.Element {
  return (
    <label className="field">
      <span>{props.label}</span>
      <input
        type="password"
        autoComplete="new-password"
        value={props.value}
        maxLength={MAX_PASSPHRASE}
        onChange={(event) => props.onChange(event.target.value)}
        aria-invalid={props.problemId !== null}
        aria-describedby={props.problemId ?? undefined}
      />
    </label>
  );
}

/**
 * Backs up one key as a passphrase-encrypted file (ARCHITECTURE.md §2: scrypt + AES-GCM in main; the window
 * never sees the private key). A modal Radix Dialog: Escape, a click outside and Cancel close it.
 */
function BackupDialog(props: {
  target: KeyView | null;
  onClose: () => void;
  onSaved: (fileName: string) => void;
}): React.JSX.Element {
  const { target, onClose, onSaved } = props;
  const problemId = useId();
  const backup = useAction((keyId: string, passphrase: string) =>
    api().keys.backup({ keyId, passphrase }),
  );
  const { reset } = backup;
  const [first, setFirst] = useState('');
  const [second, setSecond] = useState('');
  const [tried, setTried] = useState(false);

  // Each opening starts empty.
  useEffect(() => {
    if (target === null) return;
    setFirst('');
    setSecond('');
    setTried(false);
    reset();
  }, [target, reset]);

  const problem = passphraseProblem(first, second);
  // Say "they differ" as soon as the second one is as long as the first; the rest on submit.
  const shownProblem =
    tried || (second.length >= first.length && second !== '' && first !== second) ? problem : null;

  async function onSubmit(event: React.FormEvent): Promise<void> {
    event.preventDefault();
    setTried(true);
    if (target === null || problem !== null) return;
    const outcome = await backup.run(target.keyId, first);
    if (outcome.data !== null) {
      saveFile(outcome.data);
      setFirst('');
      setSecond('');
      onSaved(outcome.data.fileName);
      onClose();
    }
  }

  const name = target === null ? '' : target.label === '' ? target.fingerprint : target.label;
  return (
    <Dialog.Root
      open={target !== null}
      onOpenChange={(open) => {
        if (!open) onClose();
      }}
    >
      <Dialog.Portal>
        <Dialog.Overlay className="dialog-overlay" />
        <Dialog.Content className="dialog">
          <form noValidate onSubmit={(event) => void onSubmit(event)}>
            <Dialog.Title>Back up {name}</Dialog.Title>
            <Dialog.Description className="muted">
              The backup file holds the private key encrypted with this passphrase. Anyone with both
              can use the key; without the passphrase the file is useless, and it cannot be
              recovered.
            </Dialog.Description>
            <NewPassphraseField
              label={`Passphrase (at least ${MIN_PASSPHRASE} characters)`}
              value={first}
              onChange={setFirst}
              problemId={shownProblem === null ? null : problemId}
            />
            <NewPassphraseField
              label="Repeat the passphrase"
              value={second}
              onChange={setSecond}
              problemId={shownProblem === null ? null : problemId}
            />
            {shownProblem !== null && (
              <p className="field-error form-error" id={problemId} role="alert">
                {shownProblem}
              </p>
            )}
            <ErrorBanner error={plainKeyError(backup.error)} onDismiss={backup.reset} />
            <div className="row dialog-buttons">
              <button type="submit" className="button-primary" disabled={backup.pending}>
                <Save className="icon" aria-hidden="true" />
                {backup.pending ? 'Encrypting…' : 'Save backup'}
              </button>
              <Dialog.Close type="button">Cancel</Dialog.Close>
            </div>
          </form>
        </Dialog.Content>
      </Dialog.Portal>
    </Dialog.Root>
  );
}

/** Puts a backed-up key into this computer's keychain, from its file and passphrase. */
function RestoreSection(props: { onRestored: () => void }): React.JSX.Element {
  const { onRestored } = props;
  const titleId = useId();
  const restore = useAction((content: string, passphrase: string) =>
    api().keys.restore({ content, passphrase }),
  );
  const [file, setFile] = useState<{ text: string; name: string } | null>(null);
  const [passphrase, setPassphrase] = useState('');
  const [restored, setRestored] = useState<KeyView | null>(null);

  async function onSubmit(event: React.FormEvent): Promise<void> {
    event.preventDefault();
    if (file === null) return;
    setRestored(null);
    const outcome = await restore.run(file.text, passphrase);
    if (outcome.data !== null) {
      setRestored(outcome.data);
      setFile(null);
      setPassphrase('');
      onRestored();
    }
  }

  const tooShort = passphrase.length < MIN_PASSPHRASE;
  return (
    <form
      className="card restore"
      aria-labelledby={titleId}
      noValidate
      onSubmit={(event) => void onSubmit(event)}
    >
      <h2 id={titleId}>Restore from backup</h2>
      <p className="muted">
        Pick a key backup file Airlock saved (…backup.json) and type its passphrase. The key goes
        into this computer&apos;s keychain.
      </p>
      <div className="row">
        <FilePicker
          label="Choose backup file"
          onText={(text, name) => {
            restore.reset();
            setRestored(null);
            setFile({ text, name });
          }}
        />
        <span className="muted" role="status">
          {file === null ? 'No file chosen' : `Chosen: ${file.name}`}
        </span>
      </div>
      <div className="form-row">
        <label className="field grow">
          <span>Passphrase of the backup</span>
          <input
            type="password"
            autoComplete="current-password"
            value={passphrase}
            maxLength={MAX_PASSPHRASE}
            onChange={(event) => setPassphrase(event.target.value)}
          />
        </label>
        <button
          type="submit"
          className="button-primary"
          disabled={file === null || tooShort || restore.pending}
        >
          {restore.pending ? 'Restoring…' : 'Restore key'}
        </button>
      </div>
      <ErrorBanner error={plainKeyError(restore.error)} onDismiss={restore.reset} />
      {restored !== null && (
        <p className="banner banner-ok" role="status">
          Restored the {restored.type} key{' '}
          {restored.label === '' ? '' : <strong>{restored.label}</strong>} (
          <span className="mono">{restored.fingerprint}</span>).
        </p>
      )}
    </form>
  );
}
