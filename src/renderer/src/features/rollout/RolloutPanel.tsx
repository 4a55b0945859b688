import { CirclePause, CirclePlay } from 'lucide-react';
import { useId, useState } from 'react';
import type { IpcRequestInput, IpcResponse, ProposeResult } from '../../../../shared/ipc/contract';
import type { ChannelRef } from '../../components/ChannelPicker';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { ErrorBanner } from '../../components/ErrorBanner';
import { api, useAction } from '../../lib/api';
import { ExportRequestCheckbox } from '../release/ExportRequestCheckbox';
import { ProposalResult } from '../release/ProposalResult';
import { PercentField } from './PercentField';

/** What the server says about a channel now (the `live` part of an overview row). */
export type ChannelLive = NonNullable<IpcResponse<'apps:overview'>['channels'][number]['live']>;

type Change = IpcRequestInput<'rollout:change'>['change'];

function titleOf(change: Change): string {
  switch (change.kind) {
    case 'percent':
      return `Rollout to ${change.percent}%`;
    case 'pause':
      return 'Pause rollout';
    case 'resume':
      return 'Resume rollout';
  }
}

/**
 * Rollout control of one channel (ARCHITECTURE.md §7): the current percent and pause state, and proposals
 * to change the percent, pause or resume. Each is a statement that needs approvals per the policy
 * (a pause or a decrease may need fewer: "break glass"), so the answer is a proposal result.
 */
export function RolloutPanel(props: {
  channel: ChannelRef;
  live: ChannelLive | null;
  onChanged?: () => void;
}): React.JSX.Element {
  const { channel, live, onChanged } = props;
  const headingId = useId();
  const current = live?.current ?? null;
  const [percent, setPercent] = useState<number | null>(current?.rolloutPercent ?? 100);
  const [exportRequest, setExportRequest] = useState(false);
  const [askPause, setAskPause] = useState(false);
  const change = useAction((next: Change) =>
    api().rollout.change({ ...channel, change: next, exportRequest }),
  );
  const [proposed, setProposed] = useState<{ title: string; result: ProposeResult } | null>(null);

  async function run(next: Change): Promise<void> {
    const outcome = await change.run(next);
    if (outcome.data !== null) {
      setProposed({
        title: `${titleOf(next)} on ${channel.app}/${channel.channel}`,
        result: outcome.data,
      });
      onChanged?.();
    }
  }

  const samePercent = current !== null && percent === current.rolloutPercent;
  return (
    <section className="rollout-panel" aria-labelledby={headingId}>
      <h2 id={headingId}>
        Rollout of {channel.app}/{channel.channel}
      </h2>
      <p>
        {live === null
          ? 'The server did not answer: the current rollout is unknown. You can still propose a change; it waits in the outbox.'
          : current === null
            ? 'Nothing is released on this channel yet.'
            : `${current.version} goes to ${current.rolloutPercent}% of devices${
                live.paused ? ', but the rollout is paused: no device gets it now' : ''
              }.`}
      </p>
      <form
        className="form-row"
        onSubmit={(event) => {
          event.preventDefault();
          if (percent !== null) void run({ kind: 'percent', percent });
        }}
      >
        <div className="grow">
          <PercentField label="New rollout percent" value={percent} onChange={setPercent} />
        </div>
        <button
          type="submit"
          className="button-primary"
          disabled={change.pending || percent === null || samePercent}
        >
          Propose rollout change
        </button>
      </form>
      <div className="row actions">
        {(live === null || !live.paused) && (
          <button type="button" disabled={change.pending} onClick={() => setAskPause(true)}>
            <CirclePause className="icon" aria-hidden="true" />
            Pause rollout
          </button>
        )}
        {(live === null || live.paused) && (
          <button
            type="button"
            disabled={change.pending}
            onClick={() => void run({ kind: 'resume' })}
          >
            <CirclePlay className="icon" aria-hidden="true" />
            Resume rollout
          </button>
        )}
        <ExportRequestCheckbox checked={exportRequest} onChange={setExportRequest} />
      </div>
      {askPause && (
        <ConfirmDialog
          title={`Propose a pause of ${channel.app}/${channel.channel}?`}
          confirmLabel="Propose pause"
          tone="danger"
          icon={CirclePause}
          onConfirm={() => {
            setAskPause(false);
            void run({ kind: 'pause' });
          }}
          onCancel={() => setAskPause(false)}
        >
          <p>
            Once approved and pushed, no device gets this channel&apos;s release until a resume is
            approved and pushed too. Devices keep what they have installed.
          </p>
        </ConfirmDialog>
      )}
      {change.pending && (
        <p className="muted" role="status">
          Proposing…
        </p>
      )}
      <ErrorBanner error={change.error} onDismiss={change.reset} />
      {proposed !== null && (
        <ProposalResult
          key={proposed.result.statementId}
          channel={channel}
          result={proposed.result}
          title={proposed.title}
          onPushed={onChanged}
        />
      )}
    </section>
  );
}
