import { useCallback, useEffect, useRef, useState } from 'react';
import type { AppErrorShape } from '../../../../shared/errors';
import type { IpcResponse } from '../../../../shared/ipc/contract';
import { EmptyState, Loading } from '../../components/EmptyState';
import { ErrorBanner } from '../../components/ErrorBanner';
import { WindowedList } from '../../components/WindowedList';
import { api, unwrap, useQuery } from '../../lib/api';
import { shortId, when } from '../../lib/format';
import type { ChannelRef } from '../overview/OverviewScreen';

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

/** Pages of the verified log of one channel, newest first, rendering only the rows in view. */
function ChannelHistory(props: { channel: ChannelRef }): React.JSX.Element {
  const { server, app, channel: name } = props.channel;
  const [entries, setEntries] = useState<Entry[]>([]);
  const [total, setTotal] = useState<number | null>(null);
  const [error, setError] = useState<AppErrorShape | null>(null);
  const loading = useRef(false);

  const loadFrom = useCallback(
    async function loadFrom(offset: number): Promise<void> {
      if (loading.current) return;
      loading.current = true;
      const outcome = await unwrap(
        api().history.list({ server, app, channel: name, offset, limit: PAGE }),
      );
      loading.current = false;
      if (outcome.error !== null) {
        setError(outcome.error);
        return;
      }
      setError(null);
      setTotal(outcome.data.total);
      setEntries((previous) => {
        const next = previous.slice(0, offset);
        next.push(...outcome.data.entries);
        return next;
      });
    },
    [server, app, name],
  );

  useEffect(() => {
    setEntries([]);
    setTotal(null);
    void loadFrom(0);
  }, [loadFrom]);

  return (
    <div>
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
            {total} {total === 1 ? 'statement' : 'statements'}, newest first · {entries.length}{' '}
            loaded
          </p>
          <div className="wrow wrow-head" aria-hidden="true">
            <span>Seq</span>
            <span>Change</span>
            <span>Applied</span>
            <span>Approvals</span>
          </div>
          <WindowedList
            label={`History of ${app}/${name}`}
            items={entries}
            total={total}
            rowHeight={ROW_HEIGHT}
            height={Math.min(480, total * ROW_HEIGHT)}
            onVisibleEnd={(last) => {
              if (last + 20 >= entries.length && entries.length < total) {
                void loadFrom(entries.length);
              }
            }}
            renderRow={(entry) => (
              <>
                <span className="mono">#{entry.seq}</span>
                <span>{describe(entry)}</span>
                <span>{when(entry.appliedAt)}</span>
                <span>{entry.approvals}</span>
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
  const [selected, setSelected] = useState<ChannelRef | null>(props.initial);
  const channels = overview.data?.channels ?? [];
  const keyOf = (ref: ChannelRef): string => `${ref.server}\n${ref.app}\n${ref.channel}`;
  const current = selected ?? channels[0] ?? null;
  const currentRef: ChannelRef | null =
    current === null
      ? null
      : { server: current.server, app: current.app, channel: current.channel };

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
          <label className="field">
            <span>Channel</span>
            <select
              value={keyOf(currentRef)}
              onChange={(event) => {
                const found = channels.find((row) => keyOf(row) === event.target.value);
                if (found !== undefined)
                  setSelected({ server: found.server, app: found.app, channel: found.channel });
              }}
            >
              {channels.map((row) => (
                <option key={keyOf(row)} value={keyOf(row)}>
                  {row.app}/{row.channel} ({row.server})
                </option>
              ))}
            </select>
          </label>
          <ChannelHistory key={keyOf(currentRef)} channel={currentRef} />
        </>
      )}
    </section>
  );
}
