import { Undo2 } from 'lucide-react';
import { useCallback, useEffect, useRef, useState } from 'react';
import type { AppErrorShape } from '../../../../shared/errors';
import type { IpcResponse, ProposeResult } from '../../../../shared/ipc/contract';
import {
  ChannelPicker,
  channelKey,
  useChosenChannel,
  type ChannelRef,
} from '../../components/ChannelPicker';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { EmptyState, Loading } from '../../components/EmptyState';
import { ErrorBanner } from '../../components/ErrorBanner';
import { Fingerprint } from '../../components/Fingerprint';
import { PersonName } from '../../components/PersonName';
import { WindowedList } from '../../components/WindowedList';
import { api, unwrap, useAction, useQuery } from '../../lib/api';
import { shortId, when } from '../../lib/format';
import { usePeople } from '../../lib/people';
import { ExportRequestCheckbox } from '../release/ExportRequestCheckbox';
import { ProposalResult } from '../release/ProposalResult';

type Entry = IpcResponse<'history:list'>['entries'][number];

const PAGE = 100;
const ROW_HEIGHT = 40;

function describe(entry: Entry): string {
  switch (entry.kind) {
    case 'release':
      return `Release ${entry.version ?? ''} at ${entry.rolloutPercent ?? 100}%`;
    case 'rollout':
      return `Rollout to ${entry.rolloutPercent ?? '?'}%`;
    case 'rollback':
      return `Rollback to ${entry.target === null ? '?' : shortId(entry.target)}`;
    case 'pause':
      return entry.automatic ? 'Paused automatically (failure spike)' : 'Paused';
    default:
      return entry.kind.charAt(0).toUpperCase() + entry.kind.slice(1);
  }
}

/**
 * The rollback confirmation: a consequential action (issue 13), so an alert dialog
 * (components/ConfirmDialog.tsx) that says what happens and names the key that signs the proposal;
 * where the channel's rollback policy needs a signing officer, the person types the version first
 * (the rule of typedConfirmation in main, which the history answer carries). Errors stay in the
 * dialog; a proposal closes it. Mounted only while asking.
 */
function RollbackDialog(props: {
  channel: ChannelRef;
  target: Entry;
  needsOfficer: boolean;
  onProposed: (target: Entry, result: ProposeResult) => void;
  onClosed: () => void;
}): React.JSX.Element {
  const { channel, target, onProposed, onClosed } = props;
  const [exportRequest, setExportRequest] = useState(false);
  const keys = useQuery('keys', () => api().keys.list());
  const person = usePeople();
  const rollback = useAction((to: string, withRequest: boolean) =>
    api().rollback.propose({ ...channel, to, exportRequest: withRequest }),
  );
  const identities = (keys.data?.keys ?? []).filter((key) => key.type === 'identity');
  // Proposals sign with the only identity key (main refuses to guess between several).
  const signer = identities.length === 1 ? (identities[0] ?? null) : null;
  const version = target.version ?? shortId(target.id);

  async function confirm(): Promise<void> {
    const outcome = await rollback.run(target.id, exportRequest);
    if (outcome.data !== null) {
      onProposed(target, outcome.data);
      onClosed();
    }
  }

  return (
    <ConfirmDialog
      title={`Roll back to ${version}?`}
      confirmLabel={rollback.pending ? 'Proposing…' : 'Propose rollback'}
      tone="danger"
      icon={Undo2}
      typed={props.needsOfficer ? version : null}
      busy={rollback.pending || signer === null}
      onConfirm={() => void confirm()}
      onCancel={onClosed}
    >
      <p>
        This proposes a rollback of {channel.app}/{channel.channel} to release{' '}
        <strong>{version}</strong> (statement <span className="mono">{shortId(target.id)}</span>, #
        {target.seq}).
      </p>
      <p>
        Nothing changes for devices yet: the rollback needs the approvals the channel&apos;s policy
        asks for, then a push. It is added to the signed log as a new statement; the history is
        never rewritten.
        {props.needsOfficer && ' This channel needs a signing officer’s approval for it.'}
      </p>
      <p>
        Signed with{' '}
        {signer !== null ? (
          <Fingerprint
            fingerprint={signer.fingerprint}
            copy={signer.keyId}
            name={person(signer.keyId).name}
            label="the key that signs"
          />
        ) : identities.length === 0 ? (
          'no identity key: create one on the Keys screen first.'
        ) : (
          `one of ${identities.length} identity keys: keep only the one that signs on this console.`
        )}
      </p>
      <ExportRequestCheckbox checked={exportRequest} onChange={setExportRequest} />
      <ErrorBanner error={rollback.error} onDismiss={rollback.reset} />
    </ConfirmDialog>
  );
}

/** Pages of the verified log of one channel, newest first, rendering only the rows in view. */
function ChannelHistory(props: {
  channel: ChannelRef;
  /** The channel's current release (verified mirror): the one not offered for rollback. */
  currentVersion: string | null;
}): React.JSX.Element {
  const { server, app, channel: name } = props.channel;
  const { currentVersion } = props;
  const [target, setTarget] = useState<Entry | null>(null);
  const [proposed, setProposed] = useState<{ title: string; result: ProposeResult } | null>(null);
  // Pages of PAGE entries by page number: a jump to any position (a dragged scrollbar, End)
  // loads the pages in view, not every page before them.
  const [pages, setPages] = useState<ReadonlyMap<number, readonly Entry[]>>(new Map());
  const [total, setTotal] = useState<number | null>(null);
  const [needsOfficer, setNeedsOfficer] = useState(false);
  const [error, setError] = useState<AppErrorShape | null>(null);
  const inFlight = useRef(new Set<number>());
  const generation = useRef(0);

  const loadPage = useCallback(
    async function loadPage(page: number): Promise<void> {
      if (inFlight.current.has(page)) return;
      inFlight.current.add(page);
      const started = generation.current;
      const outcome = await unwrap(
        api().history.list({ server, app, channel: name, offset: page * PAGE, limit: PAGE }),
      );
      inFlight.current.delete(page);
      // A reload (after a push) started meanwhile: this answer belongs to the old list.
      if (started !== generation.current) return;
      if (outcome.error !== null) {
        setError(outcome.error);
        return;
      }
      setError(null);
      setTotal(outcome.data.total);
      setNeedsOfficer(outcome.data.rollbackNeedsOfficer);
      setPages((previous) => new Map(previous).set(page, outcome.data.entries));
    },
    [server, app, name],
  );

  const reload = useCallback(
    function reload(): void {
      generation.current += 1;
      inFlight.current.clear();
      setPages(new Map());
      setTotal(null);
      void loadPage(0);
    },
    [loadPage],
  );

  useEffect(reload, [reload]);

  const person = usePeople();

  return (
    <div className="history">
      {target !== null && (
        <RollbackDialog
          channel={props.channel}
          target={target}
          needsOfficer={needsOfficer}
          onProposed={(entry, result) =>
            setProposed({
              title: `Rollback of ${app}/${name} to ${entry.version ?? shortId(entry.id)}`,
              result,
            })
          }
          onClosed={() => setTarget(null)}
        />
      )}
      {proposed !== null && (
        <ProposalResult
          key={proposed.result.statementId}
          channel={props.channel}
          result={proposed.result}
          title={proposed.title}
          onPushed={reload}
        />
      )}
      <ErrorBanner error={error} />
      {total === null && error === null && <Loading />}
      {total === 0 && (
        <EmptyState title="No statements on this channel yet">
          Once a release is approved and pushed it appears here.
        </EmptyState>
      )}
      {total !== null && total > 0 && (
        <>
          <p className="muted">
            {total} {total === 1 ? 'statement' : 'statements'}, newest first
          </p>
          <div className="wrow wrow-head" aria-hidden="true">
            <span>Seq</span>
            <span>Change</span>
            <span>Applied</span>
            <span>Proposed by</span>
            <span>Approvals</span>
            <span />
          </div>
          <WindowedList
            label={`History of ${app}/${name}`}
            itemAt={(index) => pages.get(Math.floor(index / PAGE))?.[index % PAGE]}
            total={total}
            rowHeight={ROW_HEIGHT}
            height={Math.min(480, total * ROW_HEIGHT)}
            onRangeChange={(first, last) => {
              for (let page = Math.floor(first / PAGE); page <= Math.floor(last / PAGE); page++) {
                if (!pages.has(page)) void loadPage(page);
              }
            }}
            renderRow={(entry) => (
              <>
                <span className="mono">#{entry.seq}</span>
                <span>{describe(entry)}</span>
                <span>{when(entry.appliedAt)}</span>
                <span className="ellipsis">
                  {entry.automatic ? (
                    'the server (automatic)'
                  ) : (
                    <PersonName person={person(entry.proposer)} compact />
                  )}
                </span>
                <span>{entry.approvals}</span>
                <span>
                  {entry.kind === 'release' &&
                    entry.version !== null &&
                    entry.version !== currentVersion && (
                      <button
                        type="button"
                        className="button-small"
                        onClick={() => setTarget(entry)}
                      >
                        <Undo2 className="icon" aria-hidden="true" />
                        Roll back to {entry.version}
                      </button>
                    )}
                </span>
              </>
            )}
          />
        </>
      )}
    </div>
  );
}

/** Release history per channel; the channel list comes from the verified mirror. */
export function HistoryScreen(props: { initial: ChannelRef | null }): React.JSX.Element {
  const overview = useQuery('history-channels', () => api().apps.overview({ live: false }));
  const channels = overview.data?.channels ?? [];
  const [currentRef, setSelected] = useChosenChannel(channels, props.initial);

  return (
    <section aria-labelledby="history-title">
      <h1 id="history-title">Release history</h1>
      <ErrorBanner error={overview.error} />
      {overview.loading && overview.data === null && <Loading />}
      {overview.data !== null && channels.length === 0 && (
        <EmptyState title="No channels yet">
          Connect a server and sync; each channel&apos;s signed log is listed here.
        </EmptyState>
      )}
      {channels.length > 0 && currentRef !== null && (
        <>
          <ChannelPicker channels={channels} value={currentRef} onChange={setSelected} />
          <ChannelHistory
            key={channelKey(currentRef)}
            channel={currentRef}
            currentVersion={
              channels.find((row) => channelKey(row) === channelKey(currentRef))?.mirror
                .currentVersion ?? null
            }
          />
        </>
      )}
    </section>
  );
}
