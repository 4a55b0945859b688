import { useId, useState } from 'react';
import type { AppErrorShape } from '../../../../shared/errors';
import type { IpcResponse, Review } from '../../../../shared/ipc/contract';
import type { Statement } from '../../../../shared/schemas/statement';
import { EmptyState, Loading } from '../../components/EmptyState';
import { ErrorBanner } from '../../components/ErrorBanner';
import { FilePicker } from '../../components/FilePicker';
import { api, unwrap, useAction, useQuery, useRefreshAll } from '../../lib/api';
import { saveFile } from '../../lib/files';
import { bytes, shortId, verdictLine, when } from '../../lib/format';

/** How many paths of each kind a file-list difference shows before "and N more". */
const DIFF_PATHS_SHOWN = 50;

/** What a statement does, in a few words. */
function describe(statement: Statement): string {
  switch (statement.kind) {
    case 'release':
      return `Release ${statement.release.version} at ${statement.release.rollout.percent}%`;
    case 'rollout':
      return `Rollout to ${statement.rollout.percent}%`;
    case 'rollback':
      return `Rollback to ${shortId(statement.target)}`;
    case 'pause':
      return 'Pause';
    default:
      return 'Resume';
  }
}

/**
 * Statements waiting for approvals, with the policy progress evaluated under the pinned root; and
 * the air-gapped path (ARCHITECTURE.md §5): export a signing request for a proposal, review and approve a
 * request file on an offline console, import the approval file back.
 */
export function ApprovalsScreen(): React.JSX.Element {
  const [refresh, setRefresh] = useState(false);
  const [round, setRound] = useState(0);
  const inbox = useQuery(`inbox ${refresh} ${round}`, () => api().approvals.inbox({ refresh }));
  const keys = useQuery('keys', () => api().keys.list());
  const refreshAll = useRefreshAll();
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

  async function exportRequest(server: string, statementId: string): Promise<void> {
    setBusy(statementId);
    setActionError(null);
    setNotice(null);
    const outcome = await unwrap(api().approvals.exportRequest({ server, statementId }));
    setBusy(null);
    if (outcome.error !== null) setActionError(outcome.error);
    else {
      saveFile(outcome.data);
      setNotice(
        `Signing request saved as ${outcome.data.fileName}. Carry it to the approver; import the approval file they give back below.`,
      );
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
      <FilesPanel
        onImported={() => {
          setRound((value) => value + 1);
          refreshAll();
        }}
      />
      {inbox.loading && inbox.data === null && <Loading />}
      {inbox.data !== null && items.length === 0 && (
        <EmptyState title="Nothing waits for approval">
          Proposals from your team appear here; use Check servers to ask for new ones.
        </EmptyState>
      )}
      <ul className="cards" aria-label="Pending statements">
        {items.map((item) => {
          const statement = item.statement;
          const own = mine.has(statement.proposer);
          const canApprove = item.server !== null && item.state === 'pending' && !own;
          const canExport =
            item.server !== null && own && (item.state === 'pending' || item.state === 'queued');
          return (
            <li key={item.statementId} className="card">
              <h2>
                {describe(statement)} · {statement.app}/{statement.channel}
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
              <div className="row">
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
                {canExport && (
                  <button
                    type="button"
                    disabled={busy !== null}
                    title="For approvers whose console is offline (air-gapped)"
                    onClick={() => void exportRequest(item.server ?? '', item.statementId)}
                  >
                    {busy === item.statementId ? 'Exporting…' : 'Export signing request'}
                  </button>
                )}
              </div>
            </li>
          );
        })}
      </ul>
    </section>
  );
}

/** A review of a request file, with the file's text (the approval signs exactly that). */
interface OpenRequest {
  readonly content: string;
  readonly fileName: string;
  readonly review: Review;
}

/** Request and approval files: review + approve a request; import an approval. */
function FilesPanel(props: { onImported: () => void }): React.JSX.Element {
  const { onImported } = props;
  const titleId = useId();
  const review = useAction((content: string) =>
    api().approvals.review({ source: 'request', content }),
  );
  const importFile = useAction((content: string) => api().approvals.import({ content }));
  const [open, setOpen] = useState<OpenRequest | null>(null);

  async function onRequest(content: string, fileName: string): Promise<void> {
    setOpen(null);
    importFile.reset();
    const outcome = await review.run(content);
    if (outcome.data !== null) setOpen({ content, fileName, review: outcome.data });
  }

  async function onApproval(content: string): Promise<void> {
    setOpen(null);
    review.reset();
    const outcome = await importFile.run(content);
    if (outcome.data !== null) onImported();
  }

  return (
    <div className="card files-panel" role="region" aria-labelledby={titleId}>
      <h2 id={titleId}>Request and approval files</h2>
      <p className="muted">
        For approvers without a network: the proposer exports a signing request, the approver
        reviews it here and saves an approval file, the proposer imports that file and it is pushed.
      </p>
      <div className="row">
        <FilePicker
          label="Review a signing request"
          disabled={review.pending}
          onText={(text, fileName) => void onRequest(text, fileName)}
        />
        <FilePicker
          label="Import an approval file"
          disabled={importFile.pending}
          onText={(text) => void onApproval(text)}
        />
        {(review.pending || importFile.pending) && (
          <span className="muted" role="status">
            Checking the file…
          </span>
        )}
      </div>
      <ErrorBanner error={review.error} onDismiss={review.reset} />
      <ErrorBanner error={importFile.error} onDismiss={importFile.reset} />
      {open !== null && <RequestReview request={open} onClose={() => setOpen(null)} />}
      {importFile.data !== null && <ImportResult result={importFile.data} />}
    </div>
  );
}

function rootLine(review: Review): string {
  switch (review.rootPinned) {
    case 'match':
      return review.rootMessage;
    case 'mismatch':
      return `${review.rootMessage} Do not approve: ask the proposer where this request came from.`;
    case 'stale':
      return `${review.rootMessage} Ask the proposer to export the request again.`;
    default:
      return 'This console does not know that server: type the fingerprint your administrator gave you below; approving needs it to match.';
  }
}

/** What an officer sees before signing a request file, and the button that signs it. */
function RequestReview(props: { request: OpenRequest; onClose: () => void }): React.JSX.Element {
  const { request, onClose } = props;
  const { review } = request;
  const { statement, summary } = review;
  const titleId = useId();
  const [fingerprint, setFingerprint] = useState('');
  const approve = useAction((content: string) =>
    api().approvals.approve({
      mode: 'request',
      content,
      ...(review.rootPinned === 'unknown' ? { rootFingerprint: fingerprint } : {}),
    }),
  );
  const [savedAs, setSavedAs] = useState<string | null>(null);
  const fingerprintId = useId();
  const blocked =
    review.expired ||
    review.rootPinned === 'mismatch' ||
    review.rootPinned === 'stale' ||
    (review.rootPinned === 'unknown' && fingerprint.trim() === '');
  const nameOf = (keyId: string): string => review.names[keyId] ?? shortId(keyId);

  async function onApprove(): Promise<void> {
    const outcome = await approve.run(request.content);
    const file = outcome.data?.approvalFile ?? null;
    if (file !== null) {
      saveFile(file);
      setSavedAs(file.fileName);
    }
  }

  return (
    <article className="review" aria-labelledby={titleId}>
      <h3 id={titleId}>
        Signing request: {describe(statement)} · {statement.app}/{statement.channel}
      </h3>
      <p className="muted">
        From {request.fileName} · statement{' '}
        <span className="mono">{shortId(review.statementId)}</span>, #{statement.seq}
      </p>
      <dl className="facts">
        <dt>Policy progress</dt>
        <dd>
          <strong>{verdictLine(review.verdict)}</strong>
        </dd>
        <dt>Proposed by</dt>
        <dd>{nameOf(statement.proposer)}</dd>
        <dt>Approved so far by</dt>
        <dd>
          {review.approvals.length === 0
            ? 'nobody yet'
            : review.approvals.map((approval) => nameOf(approval.keyId)).join(', ')}
        </dd>
        <dt>Trust root</dt>
        <dd>
          Version {review.rootVersion}, fingerprint{' '}
          <span className="mono">{review.rootFingerprint}</span> ({review.rootPinned}).{' '}
          {rootLine(review)}
        </dd>
        <dt>Expires</dt>
        <dd>
          {when(statement.expiresAt)}
          {review.expired && (
            <strong className="warn-text"> Expired: approvals for it cannot count.</strong>
          )}
        </dd>
        {summary?.version !== undefined && (
          <>
            <dt>{statement.kind === 'rollback' ? 'Returns to version' : 'Version'}</dt>
            <dd>{summary.version}</dd>
          </>
        )}
        {summary?.replaces !== undefined && (
          <>
            <dt>Replaces</dt>
            <dd>
              {summary.replaces === null ? (
                'nothing: no release runs on this channel yet'
              ) : (
                <>
                  {summary.replaces.version}{' '}
                  <span className="mono">({shortId(summary.replaces.statementId)})</span>, which the
                  channel runs now
                </>
              )}
            </dd>
          </>
        )}
        {summary?.minNativeVersion !== undefined && (
          <>
            <dt>Minimum native version</dt>
            <dd>{summary.minNativeVersion}</dd>
          </>
        )}
        {summary?.rolloutPercent !== undefined && (
          <>
            <dt>Rollout</dt>
            <dd>{summary.rolloutPercent}% of devices</dd>
          </>
        )}
        {summary?.bundle !== undefined && (
          <>
            <dt>Bundle</dt>
            <dd>
              {bytes(summary.bundle.size)} in {summary.bundle.files} files,{' '}
              {bytes(summary.bundle.encryptedSize)} encrypted
            </dd>
            <dt>Bundle SHA-256</dt>
            <dd className="mono">{summary.bundle.sha256}</dd>
            <dt>Encrypted SHA-256</dt>
            <dd className="mono">{summary.bundle.encryptedSha256}</dd>
          </>
        )}
        {statement.kind === 'release' && (
          <>
            <dt>Release notes</dt>
            <dd className="prewrap">{summary?.notes ?? 'none: the statement has no notes'}</dd>
          </>
        )}
        <dt>Signs with</dt>
        <dd>
          {review.signer === null ? (
            'no identity key chosen'
          ) : (
            <>
              {review.signer.name ?? 'a key that is not a member'}{' '}
              <span className="mono">({review.signer.fingerprint})</span>
            </>
          )}
        </dd>
      </dl>
      {review.rootPinned === 'unknown' && (
        <p>
          <label htmlFor={fingerprintId}>Server fingerprint from your administrator</label>{' '}
          <input
            id={fingerprintId}
            className="mono"
            value={fingerprint}
            onChange={(event) => setFingerprint(event.target.value)}
            spellCheck={false}
          />
        </p>
      )}
      {summary?.fileDiff != null && <FileDiff diff={summary.fileDiff} />}
      {review.notes.length > 0 && (
        <ul className="notes" aria-label="Notes">
          {review.notes.map((note) => (
            <li key={note}>{note}</li>
          ))}
        </ul>
      )}
      <ErrorBanner error={approve.error} onDismiss={approve.reset} />
      {savedAs !== null && approve.data !== null && (
        <p className="banner banner-ok" role="status">
          Approval saved as {savedAs}. With it: {verdictLine(approve.data.verdict)}. Carry the file
          back to the proposer&apos;s console and import it there.
        </p>
      )}
      <div className="row">
        <button
          type="button"
          className="button-primary"
          disabled={blocked || approve.pending || savedAs !== null}
          onClick={() => void onApprove()}
        >
          {approve.pending ? 'Signing…' : 'Approve and save approval file'}
        </button>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
    </article>
  );
}

type Diff = NonNullable<NonNullable<Review['summary']>['fileDiff']>;

/** The file-list difference the proposer's console computed (it cannot be checked offline). */
function FileDiff(props: { diff: Diff }): React.JSX.Element {
  const { diff } = props;
  const groups = [
    { title: 'Added', paths: diff.added },
    { title: 'Changed', paths: diff.changed },
    { title: 'Removed', paths: diff.removed },
  ].filter((group) => group.paths.length > 0);
  return (
    <div className="file-diff">
      <p>
        Files against the current release: {diff.added.length} added, {diff.changed.length} changed,{' '}
        {diff.removed.length} removed, {diff.unchanged} unchanged.
      </p>
      {groups.map((group) => (
        <details key={group.title}>
          <summary>
            {group.title} ({group.paths.length})
          </summary>
          <ul className="mono">
            {group.paths.slice(0, DIFF_PATHS_SHOWN).map((path) => (
              <li key={path}>{path}</li>
            ))}
            {group.paths.length > DIFF_PATHS_SHOWN && (
              <li className="muted">and {group.paths.length - DIFF_PATHS_SHOWN} more</li>
            )}
          </ul>
        </details>
      ))}
    </div>
  );
}

/** What importing an approval file did: whose approval, the policy progress, the push. */
function ImportResult(props: { result: IpcResponse<'approvals:import'> }): React.JSX.Element {
  const { result } = props;
  const servers = useQuery('servers', () => api().servers.list());
  const push = useAction(() =>
    api().releases.push({ server: result.server, statementId: result.statementId }),
  );
  const member = (servers.data?.servers ?? [])
    .flatMap((server) => server.members)
    .find((candidate) => candidate.keyId === result.approver);
  const applied = push.data?.applied ?? result.applied;
  const line =
    applied !== null
      ? `Pushed: the server applied it as #${applied.seq}${
          applied.alreadyApplied ? ' (it already was)' : ''
        }, checkpoint ${when(applied.checkpointTime)}.`
      : result.pushQueued || push.data?.queued === true
        ? 'The policy is satisfied; the push waits in the outbox until the server answers.'
        : result.pushable
          ? `The approvals given here, by file and on the server satisfy the policy: ${result.app}/${result.channel} can be pushed now.`
          : 'Not enough approvals yet: nothing was pushed.';
  return (
    <div className="banner banner-ok import-result" role="status">
      <p>
        Imported the approval of{' '}
        <strong>{member === undefined ? shortId(result.approver) : member.name}</strong>{' '}
        <span className="mono">({member?.fingerprint ?? shortId(result.approver)})</span> for{' '}
        <span className="mono">{shortId(result.statementId)}</span>.
      </p>
      <p>
        <strong>{verdictLine(result.verdict)}</strong>. {line}
      </p>
      <ErrorBanner error={push.error} onDismiss={push.reset} />
      {result.pushable && applied === null && !result.pushQueued && push.data === null && (
        <button
          type="button"
          className="button-primary"
          disabled={push.pending}
          onClick={() => void push.run()}
        >
          {push.pending ? 'Pushing…' : `Push to ${result.app}/${result.channel}`}
        </button>
      )}
    </div>
  );
}
