import { useEffect, useId, useState } from 'react';
import type { AppErrorShape } from '../../../../shared/errors';
import type { IpcResponse, Review } from '../../../../shared/ipc/contract';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { EmptyState, Loading } from '../../components/EmptyState';
import { ErrorBanner } from '../../components/ErrorBanner';
import { FilePicker } from '../../components/FilePicker';
import { PersonName } from '../../components/PersonName';
import { api, unwrap, useAction, useQuery, useRefreshAll } from '../../lib/api';
import { saveFile } from '../../lib/files';
import { usePeople } from '../../lib/people';
import { shortId, verdictLine, when } from '../../lib/format';
import { describeStatement, SigningReview } from './SigningReview';

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
  const person = usePeople();
  const mine = new Set(
    (keys.data?.keys ?? []).filter((key) => key.type === 'identity').map((key) => key.keyId),
  );
  const [busy, setBusy] = useState<string | null>(null);
  const [actionError, setActionError] = useState<AppErrorShape | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const [reviewing, setReviewing] = useState<{ server: string; review: Review } | null>(null);

  // The first answer is this console's own (instant, offline too). With a server connected, ask
  // the servers once, as Check servers does: what waits for approval there (proposed on another
  // console), and whether what waits here was applied since (the inbox then drops it rather than
  // calling it pending) (issue 13).
  const servers = useQuery('servers', () => api().servers.list());
  const connected = (servers.data?.servers.length ?? 0) > 0;
  const [asked, setAsked] = useState(false);
  useEffect(() => {
    if (asked || refresh || !connected || mine.size === 0) return;
    setAsked(true);
    setRefresh(true);
  }, [asked, refresh, connected, mine.size]);

  /** Online approval opens the same review as a request file (issue 13). */
  async function openReview(server: string, statementId: string): Promise<void> {
    setBusy(statementId);
    setActionError(null);
    setNotice(null);
    const outcome = await unwrap(api().approvals.review({ source: 'server', server, statementId }));
    setBusy(null);
    if (outcome.error !== null) setActionError(outcome.error);
    else setReviewing({ server, review: outcome.data });
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
                {describeStatement(statement)} · {statement.app}/{statement.channel}
              </h2>
              <p>
                <strong>{verdictLine(item.verdict)}</strong>{' '}
                <span className="muted">({item.state})</span>
              </p>
              <p className="muted">
                #{statement.seq} by <PersonName person={person(statement.proposer)} compact />,
                expires {when(statement.expiresAt)}
                {item.server !== null && ` · ${item.server}`}
              </p>
              {own && <p className="muted">Your proposal: others approve it.</p>}
              <div className="row">
                {canApprove &&
                  item.server !== null &&
                  reviewing?.review.statementId !== item.statementId && (
                    <button
                      type="button"
                      className="button-primary"
                      disabled={busy !== null}
                      onClick={() => void openReview(item.server ?? '', item.statementId)}
                    >
                      {busy === item.statementId ? 'Opening…' : 'Review and approve'}
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
              {reviewing !== null && reviewing.review.statementId === item.statementId && (
                <SigningReview
                  review={reviewing.review}
                  source={{ kind: 'server', server: reviewing.server }}
                  onClose={() => {
                    setReviewing(null);
                    setRound((value) => value + 1);
                  }}
                />
              )}
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
      {open !== null && (
        <SigningReview
          review={open.review}
          source={{ kind: 'request', fileName: open.fileName, content: open.content }}
          onClose={() => setOpen(null)}
        />
      )}
      {importFile.data !== null && <ImportResult result={importFile.data} />}
    </div>
  );
}

/** What importing an approval file did: whose approval, the policy progress, and the push, asked. */
function ImportResult(props: { result: IpcResponse<'approvals:import'> }): React.JSX.Element {
  const { result } = props;
  const [asking, setAsking] = useState(false);
  const push = useAction(() =>
    api().releases.push({ server: result.server, statementId: result.statementId }),
  );
  const approver = usePeople()(result.approver);
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
        <strong>
          <PersonName person={approver} compact />
        </strong>
        {approver.name !== null && <span className="fp"> ({approver.fingerprint})</span>} for{' '}
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
          onClick={() => setAsking(true)}
        >
          {push.pending ? 'Pushing…' : `Push to ${result.app}/${result.channel}`}
        </button>
      )}
      {asking && (
        <ConfirmDialog
          title={`Push to ${result.app}/${result.channel}?`}
          confirmLabel="Push"
          typed={result.confirmText}
          busy={push.pending}
          onConfirm={() => {
            void push.run().then(() => setAsking(false));
          }}
          onCancel={() => setAsking(false)}
        >
          <p>
            Devices on {result.app}/{result.channel} start getting this {result.kind} as soon as the
            server applies it.
          </p>
        </ConfirmDialog>
      )}
    </div>
  );
}
