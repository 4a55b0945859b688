import { useId, useState } from 'react';
import type { IpcResponse, Review } from '../../../../shared/ipc/contract';
import { groupFingerprint } from '../../../../shared/fingerprint';
import type { Statement } from '../../../../shared/schemas/statement';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { StatusBadge, type Tone } from '../../components/StatusBadge';
import { ErrorBanner } from '../../components/ErrorBanner';
import { CopyValue, Fingerprint } from '../../components/Fingerprint';
import { api, useAction } from '../../lib/api';
import { saveFile } from '../../lib/files';
import { bytes, shortId, verdictLine, when } from '../../lib/format';
import { givenName } from '../../lib/people';

/** How many paths of each kind a file-list difference shows before "and N more". */
const DIFF_PATHS_SHOWN = 200;

/** What a statement does, in a few words. */
export function describeStatement(statement: Statement): string {
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

/** Where the statement to sign came from. */
export type ReviewSource =
  | { readonly kind: 'request'; readonly fileName: string; readonly content: string }
  | { readonly kind: 'server'; readonly server: string };

type Approved = IpcResponse<'approvals:approve'>;

const ROOT_STATES: Record<Review['rootPinned'], { badge: string; tone: Tone }> = {
  match: { badge: 'Matches the pinned trust root', tone: 'ok' },
  unknown: { badge: 'Not pinned on this console', tone: 'warn' },
  stale: { badge: 'Older than the pinned trust root', tone: 'danger' },
  mismatch: { badge: 'Does NOT match the pinned trust root', tone: 'danger' },
};

/**
 * Signing as a dedicated review (issue 13), for request files and online approvals alike. In the
 * order a signing officer needs it: what is signed (derived by this console from the statement
 * and verified evidence, ARCHITECTURE.md §5), who proposed it and what the policy still needs, the
 * trust root as its own step, then the key that signs. Approving asks in an alert dialog naming
 * the key, and on a signing-officer channel the person types the version.
 */
export function SigningReview(props: {
  review: Review;
  source: ReviewSource;
  onClose: () => void;
  /** After the approval was signed (and, online, sent). */
  onApproved?: (approved: Approved) => void;
}): React.JSX.Element {
  const { review, source, onClose } = props;
  const { statement, summary } = review;
  const titleId = useId();
  const fingerprintId = useId();
  const [fingerprint, setFingerprint] = useState('');
  const [asking, setAsking] = useState(false);
  const [savedAs, setSavedAs] = useState<string | null>(null);
  const approve = useAction(() =>
    api().approvals.approve(
      source.kind === 'server'
        ? { mode: 'online', server: source.server, statementId: review.statementId }
        : {
            mode: 'request',
            content: source.content,
            ...(review.rootPinned === 'unknown' ? { rootFingerprint: fingerprint } : {}),
          },
    ),
  );
  const done = approve.data;
  const nameOf = (keyId: string): string => {
    const fingerprint = groupFingerprint(keyId);
    return (
      givenName(review.names[keyId], fingerprint) ??
      givenName(keyId === review.signer?.keyId ? review.signer.name : null, fingerprint) ??
      // Main names a key the root does not list by its fingerprint, a first admin by the
      // placeholder `server init` wrote: neither is a name.
      `${review.names[keyId] === `admin ${fingerprint}` ? 'Unnamed admin' : 'Unnamed key'} ${fingerprint}`
    );
  };
  const signerName =
    review.signer === null
      ? null
      : review.signer.name === null
        ? 'a key that is not a member'
        : (givenName(review.signer.name, review.signer.fingerprint) ?? 'Unnamed admin');
  // After signing, the facts say what the banner says: the approval is among them.
  const approvers = [
    ...review.approvals.map((approval) => approval.keyId),
    ...(done !== null && review.signer !== null ? [review.signer.keyId] : []),
  ];
  const verdict = done?.verdict ?? review.verdict;
  const blockedBy = review.expired
    ? 'The statement has expired: approvals for it cannot count.'
    : review.rootPinned === 'mismatch' || review.rootPinned === 'stale'
      ? 'The trust root does not match the one pinned here: this request cannot be signed.'
      : review.signer === null
        ? 'No identity key is chosen: create or choose one on the Keys screen.'
        : review.rootPinned === 'unknown' && fingerprint.trim() === ''
          ? 'Type the fingerprint your administrator gave you (step 3) to continue.'
          : null;
  const root = ROOT_STATES[review.rootPinned];

  async function onConfirm(): Promise<void> {
    const outcome = await approve.run();
    setAsking(false);
    const data = outcome.data;
    if (data === null) return;
    if (data.approvalFile !== null) {
      saveFile(data.approvalFile);
      setSavedAs(data.approvalFile.fileName);
    }
    props.onApproved?.(data);
  }

  const heading =
    source.kind === 'request'
      ? `Signing request: ${describeStatement(statement)} · ${statement.app}/${statement.channel}`
      : `Approve: ${describeStatement(statement)} · ${statement.app}/${statement.channel}`;
  return (
    <article className="review" aria-labelledby={titleId}>
      <h3 id={titleId}>{heading}</h3>
      <p className="muted">
        {source.kind === 'request' ? `From ${source.fileName}` : `On ${source.server}`} · statement{' '}
        <span className="mono">{shortId(review.statementId, 16)}</span>, #{statement.seq}
      </p>

      <section className="review-step" aria-label="What you sign">
        <h4>1. What you sign</h4>
        <dl className="facts">
          <dt>Channel</dt>
          <dd>
            {statement.app}/{statement.channel}
          </dd>
          {summary.version !== undefined && (
            <>
              <dt>{statement.kind === 'rollback' ? 'Returns to version' : 'Version'}</dt>
              <dd>
                <strong>{summary.version}</strong>
              </dd>
            </>
          )}
          {summary.rolloutPercent !== undefined && (
            <>
              <dt>Rollout</dt>
              <dd>{summary.rolloutPercent}% of devices</dd>
            </>
          )}
          {summary.replaces !== undefined && (
            <>
              <dt>Replaces</dt>
              <dd>
                {summary.replaces === null ? (
                  'nothing: no release runs on this channel yet'
                ) : (
                  <>
                    {summary.replaces.version}{' '}
                    <span className="mono">({shortId(summary.replaces.statementId)})</span>, which
                    devices run now
                  </>
                )}
              </dd>
            </>
          )}
          {summary.minNativeVersion !== undefined && (
            <>
              <dt>Minimum native version</dt>
              <dd>{summary.minNativeVersion}</dd>
            </>
          )}
          {statement.kind === 'release' && (
            <>
              <dt>Release notes</dt>
              <dd className="prewrap">
                {summary.notes === undefined
                  ? 'none: the signed statement has no notes'
                  : summary.notes}
                {summary.notes !== undefined && (
                  <span className="muted"> (part of the signed statement)</span>
                )}
              </dd>
            </>
          )}
          {summary.bundle !== undefined && (
            <>
              <dt>Bundle</dt>
              <dd>
                {summary.bundle.files} files, {bytes(summary.bundle.size)} (
                {bytes(summary.bundle.encryptedSize)} encrypted)
              </dd>
              <dt>Content SHA-256</dt>
              <dd>
                <CopyValue value={summary.bundle.sha256} label="content SHA-256" />
              </dd>
              <dt>Encrypted SHA-256</dt>
              <dd>
                <CopyValue value={summary.bundle.encryptedSha256} label="encrypted SHA-256" />
              </dd>
            </>
          )}
        </dl>
        {summary.fileDiff != null && <FileDiff diff={summary.fileDiff} />}
        {summary.fileDiff === null && (
          <p className="muted">
            The file lists are not known to the proposing console: no file-list difference.
          </p>
        )}
      </section>

      <section className="review-step" aria-label="Who proposed it">
        <h4>2. Who proposed it, and what the policy needs</h4>
        <dl className="facts">
          <dt>Proposed by</dt>
          <dd>{nameOf(statement.proposer)}</dd>
          <dt>Approved so far by</dt>
          <dd>{approvers.length === 0 ? 'nobody yet' : approvers.map(nameOf).join(', ')}</dd>
          <dt>Policy progress</dt>
          <dd>
            <strong>{verdictLine(verdict)}</strong>
          </dd>
          <dt>Expires</dt>
          <dd>
            {when(statement.expiresAt)}
            {review.expired && (
              <strong className="warn-text"> Expired: approvals for it cannot count.</strong>
            )}
          </dd>
        </dl>
      </section>

      <section className="review-step" aria-label="Trust root">
        <h4>3. Trust root</h4>
        <p>
          <StatusBadge tone={root.tone} role="status">
            {root.badge}
          </StatusBadge>{' '}
          Version {review.rootVersion}, fingerprint{' '}
          <Fingerprint fingerprint={review.rootFingerprint} label="the trust root" />
        </p>
        <p>{review.rootMessage}</p>
        {review.rootPinned === 'unknown' && (
          <p className="field">
            <label htmlFor={fingerprintId}>Server fingerprint from your administrator</label>
            <input
              id={fingerprintId}
              className="mono-input"
              value={fingerprint}
              placeholder="abcd 1234 ef56 7890"
              onChange={(event) => setFingerprint(event.target.value)}
              spellCheck={false}
              autoComplete="off"
            />
          </p>
        )}
      </section>

      <section className="review-step" aria-label="The key that signs">
        <h4>4. The key that signs</h4>
        <p>
          Signs with{' '}
          {review.signer === null ? (
            'no identity key chosen'
          ) : (
            <Fingerprint
              fingerprint={review.signer.fingerprint}
              copy={review.signer.keyId}
              name={signerName}
            />
          )}
        </p>
        {review.notes.length > 0 && (
          <ul className="notes" aria-label="Notes">
            {review.notes.map((note) => (
              <li key={note}>{note}</li>
            ))}
          </ul>
        )}
      </section>

      <ErrorBanner error={approve.error} onDismiss={approve.reset} />
      {done !== null && (
        <p className="banner banner-ok" role="status">
          {savedAs !== null
            ? `Approval saved as ${savedAs}. With it: ${verdictLine(done.verdict)}. Carry the file back to the proposer’s console and import it there.`
            : `Approved: ${verdictLine(done.verdict)}${done.state === 'applied' ? ' (applied)' : ''}.`}
        </p>
      )}
      {blockedBy !== null && done === null && <p className="muted">{blockedBy}</p>}
      <div className="row">
        <button
          type="button"
          className="button-primary"
          disabled={blockedBy !== null || approve.pending || done !== null}
          onClick={() => setAsking(true)}
        >
          {source.kind === 'request' ? 'Approve and save approval file' : 'Approve'}
        </button>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
      {asking && review.signer !== null && (
        <ConfirmDialog
          title={`Sign ${describeStatement(statement)} for ${statement.app}/${statement.channel}?`}
          confirmLabel="Sign"
          typed={review.confirmText}
          busy={approve.pending}
          onConfirm={() => void onConfirm()}
          onCancel={() => setAsking(false)}
        >
          <p>
            Your approval is signed with <strong>{signerName}</strong> (
            <span className="fp">{review.signer.fingerprint}</span>) and counts toward{' '}
            {verdictLine(review.verdict)}.
          </p>
          <p>It cannot be taken back once it is given.</p>
        </ConfirmDialog>
      )}
    </article>
  );
}

type Diff = NonNullable<Review['summary']['fileDiff']>;

/** The file-list difference, derived from the two checked file lists, with the names. */
function FileDiff(props: { diff: Diff }): React.JSX.Element {
  const { diff } = props;
  const groups = [
    { title: 'Added', mark: '+', paths: diff.added },
    { title: 'Changed', mark: '~', paths: diff.changed },
    { title: 'Removed', mark: '−', paths: diff.removed },
  ].filter((group) => group.paths.length > 0);
  return (
    <div className="file-diff">
      <p>
        Files against the release devices run now: {diff.added.length} added, {diff.changed.length}{' '}
        changed, {diff.removed.length} removed, {diff.unchanged} unchanged.
      </p>
      {groups.map((group) => (
        <details key={group.title} open>
          <summary>
            {group.title} ({group.paths.length})
          </summary>
          <ul className="mono path-list" aria-label={`${group.title} files`}>
            {group.paths.slice(0, DIFF_PATHS_SHOWN).map((path) => (
              <li key={path}>
                {group.mark} {path}
              </li>
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
