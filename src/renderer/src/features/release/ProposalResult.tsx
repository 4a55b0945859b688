import { useId, useState } from 'react';
import type { AppErrorShape } from '../../../../shared/errors';
import type { IpcResponse, ProposeResult, StatementState } from '../../../../shared/ipc/contract';
import type { ChannelRef } from '../../components/ChannelPicker';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { ErrorBanner } from '../../components/ErrorBanner';
import { api, unwrap, useRefreshAll } from '../../lib/api';
import { saveFile } from '../../lib/files';
import { shortId, verdictLine, when } from '../../lib/format';

type Verdict = ProposeResult['verdict'];
type Pushed = IpcResponse<'releases:push'>;

/** Where a statement stands, in words. */
export function stateLine(state: StatementState): string {
  switch (state) {
    case 'queued':
      return 'waiting in the outbox (offline)';
    case 'pending':
      return 'waiting for approvals on the server';
    case 'applied':
      return 'applied: it is in the channel’s log';
    case 'stale':
      return 'stale: another statement took its place on the channel; propose it again';
  }
}

/**
 * What came of a proposal (release, rollout change, pause, resume, rollback): the statement id,
 * the policy progress judged under the pinned trust root, where the statement stands, warnings, the
 * signing request to save for offline approvers, and, once the policy is satisfied, Push now.
 * "Check approvals" asks the server again, since approvals arrive from other people.
 *
 * Give it `key={result.statementId}`: its own state (the latest verdict, the push) belongs to one
 * statement.
 */
export function ProposalResult(props: {
  /** Where the statement was proposed. */
  channel: ChannelRef;
  result: ProposeResult;
  /** What was proposed, for people: "Release 1.4.2", "Rollout to 50%", "Rollback to 1.4.1". */
  title: string;
  /** After a push applied (main has mirrored the channel by then). */
  onPushed?: () => void;
}): React.JSX.Element {
  const { channel, result, title, onPushed } = props;
  const headingId = useId();
  const refreshAll = useRefreshAll();
  const [verdict, setVerdict] = useState<Verdict>(result.verdict);
  const [state, setState] = useState<StatementState>(result.state);
  const [busy, setBusy] = useState<'check' | 'push' | null>(null);
  const [error, setError] = useState<AppErrorShape | null>(null);
  const [pushed, setPushed] = useState<Pushed | null>(null);
  const [asking, setAsking] = useState(false);

  async function check(): Promise<void> {
    setBusy('check');
    setError(null);
    const outcome = await unwrap(
      api().approvals.review({
        source: 'server',
        server: channel.server,
        statementId: result.statementId,
      }),
    );
    setBusy(null);
    if (outcome.error !== null) {
      setError(outcome.error);
      return;
    }
    setVerdict(outcome.data.verdict);
    if (outcome.data.state !== null) setState(outcome.data.state);
  }

  async function push(): Promise<void> {
    setAsking(false);
    setBusy('push');
    setError(null);
    const outcome = await unwrap(
      api().releases.push({ server: channel.server, statementId: result.statementId }),
    );
    if (outcome.error !== null) {
      setBusy(null);
      setError(outcome.error);
      return;
    }
    setPushed(outcome.data);
    // Main mirrors the channel as soon as a push applies (handlers.ts, mirrorPushedChannels).
    if (outcome.data.applied !== null) setState('applied');
    setBusy(null);
    refreshAll();
    if (outcome.data.applied !== null) onPushed?.();
  }

  const satisfied = verdict?.satisfied ?? false;
  const open = state === 'pending' || state === 'queued';
  const canPush = satisfied && open;
  return (
    <section className="card proposal-result" aria-labelledby={headingId}>
      <h2 id={headingId}>Proposed: {title}</h2>
      <dl className="facts">
        <dt>Statement</dt>
        <dd>
          <span className="mono" title={result.statementId}>
            {shortId(result.statementId, 16)}
          </span>{' '}
          <span className="muted">
            (#{result.seq} on {channel.app}/{channel.channel})
          </span>
        </dd>
        <dt>Approvals</dt>
        <dd>
          {verdictLine(verdict)}
          {satisfied && <span className="pill pill-online policy-ok">policy satisfied</span>}
        </dd>
        <dt>State</dt>
        <dd>{stateLine(state)}</dd>
      </dl>
      {result.warnings.length > 0 && (
        <ul className="banner banner-info warnings" aria-label="Warnings">
          {result.warnings.map((warning) => (
            <li key={warning}>{warning}</li>
          ))}
        </ul>
      )}
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      {pushed !== null && (
        <p className="banner banner-ok" role="status">
          {pushed.applied === null
            ? 'The server could not be reached: the push waits in the outbox and goes out on the next sync.'
            : `Pushed: applied as #${pushed.applied.seq}${
                pushed.applied.alreadyApplied ? ' (it already was)' : ''
              }, checkpoint of ${when(pushed.applied.checkpointTime)}.`}
        </p>
      )}
      {(result.request !== null || open || canPush) && (
        <div className="row actions">
          {result.request !== null && (
            <button
              type="button"
              onClick={() => {
                if (result.request !== null) saveFile(result.request);
              }}
            >
              Save signing request
            </button>
          )}
          {open && (
            <button type="button" disabled={busy !== null} onClick={() => void check()}>
              {busy === 'check' ? 'Checking…' : 'Check approvals'}
            </button>
          )}
          {canPush && (
            <button
              type="button"
              className="button-primary"
              disabled={busy !== null}
              onClick={() => setAsking(true)}
            >
              {busy === 'push' ? 'Pushing…' : 'Push now'}
            </button>
          )}
        </div>
      )}
      {asking && (
        <ConfirmDialog
          title={`Push ${title} to ${channel.app}/${channel.channel}?`}
          confirmLabel="Push"
          typed={result.confirmText}
          onConfirm={() => void push()}
          onCancel={() => setAsking(false)}
        >
          <p>
            Devices on {channel.app}/{channel.channel} follow it as soon as the server applies it.
          </p>
        </ConfirmDialog>
      )}
      {open && !satisfied && (
        <p className="muted">
          Approvers review it in their Approvals screen
          {result.request !== null && ', or offline from the signing request file'}; then check
          again and push.
        </p>
      )}
    </section>
  );
}
