import { Undo2 } from 'lucide-react';
import { createColumnHelper, useTable, type ColumnFiltersState } from '@tanstack/react-table';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { AppErrorShape } from '../../../../shared/errors';
import type { IpcResponse, ProposeResult } from '../../../../shared/ipc/contract';
import { STATEMENT_KINDS } from '../../../../shared/schemas/statement';
import {
  ChannelPicker,
  channelKey,
  useChosenChannel,
  type ChannelRef,
} from '../../components/ChannelPicker';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import {
  columnFilter,
  DataTable,
  listFeatures,
  PAGE_SIZE,
  Pager,
  SearchField,
  SelectField,
} from '../../components/DataTable';
import { EmptyState, Loading } from '../../components/EmptyState';
import { ErrorBanner } from '../../components/ErrorBanner';
import { Fingerprint } from '../../components/Fingerprint';
import { PersonName } from '../../components/PersonName';
import { api, unwrap, useAction, useQuery } from '../../lib/api';
import { shortId, when } from '../../lib/format';
import { nameOf, usePeople, type Person } from '../../lib/people';
import { ExportRequestCheckbox } from '../release/ExportRequestCheckbox';
import { ProposalResult } from '../release/ProposalResult';

type Entry = IpcResponse<'history:list'>['entries'][number];

/** Main's largest page of `history:list`: what reading the whole log asks for at a time. */
const READ_ALL = 500;

function describe(entry: Entry): string {
  switch (entry.kind) {
    case 'release':
      return `Release at ${entry.rolloutPercent ?? 100}%`;
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

/** What this console holds of a channel's verified log, by page of PAGE_SIZE (0 is the newest). */
interface Log {
  /** Bumped by a reload: answers asked for before it are dropped. */
  readonly generation: number;
  /** The log's length the pages belong to; null before the first answer. */
  readonly total: number | null;
  readonly needsOfficer: boolean;
  readonly pages: ReadonlyMap<number, readonly Entry[]>;
}

const EMPTY: Log = { generation: 0, total: null, needsOfficer: false, pages: new Map() };

/**
 * The verified log of one channel as main pages it (`history:list`, newest first): the pages
 * asked for, and every page on request (to filter it, which main does not do). The log only
 * grows, so an answer about another length than the pages held moves every offset: the pages
 * start over from it.
 */
function useChannelLog(channel: ChannelRef): {
  log: Log;
  error: AppErrorShape | null;
  load: (offset: number, limit: number) => Promise<boolean>;
  reload: () => void;
} {
  const { server, app, channel: name } = channel;
  const [log, setLog] = useState<Log>(EMPTY);
  const [error, setError] = useState<AppErrorShape | null>(null);
  // Each answer asked for, while it is awaited: asking again waits for the same one.
  const inFlight = useRef(new Map<string, Promise<boolean>>());
  const generation = useRef(0);

  const ask = useCallback(
    async function ask(offset: number, limit: number): Promise<boolean> {
      const started = generation.current;
      const outcome = await unwrap(
        api().history.list({ server, app, channel: name, offset, limit }),
      );
      // A reload (after a push) started meanwhile: this answer belongs to the old list.
      if (started !== generation.current) return false;
      if (outcome.error !== null) {
        setError(outcome.error);
        return false;
      }
      const { total, rollbackNeedsOfficer, entries } = outcome.data;
      setError(null);
      setLog((previous) => {
        const pages = new Map(previous.total === total ? previous.pages : []);
        for (let start = 0; start < entries.length; start += PAGE_SIZE) {
          pages.set((offset + start) / PAGE_SIZE, entries.slice(start, start + PAGE_SIZE));
        }
        return { ...previous, total, needsOfficer: rollbackNeedsOfficer, pages };
      });
      return true;
    },
    [server, app, name],
  );

  const load = useCallback(
    function load(offset: number, limit: number): Promise<boolean> {
      const key = `${offset}:${limit}`;
      const asked = inFlight.current.get(key);
      if (asked !== undefined) return asked;
      const answer = ask(offset, limit).finally(() => {
        if (inFlight.current.get(key) === answer) inFlight.current.delete(key);
      });
      inFlight.current.set(key, answer);
      return answer;
    },
    [ask],
  );

  const reload = useCallback(function reload(): void {
    generation.current += 1;
    inFlight.current.clear();
    setLog({ ...EMPTY, generation: generation.current });
  }, []);

  return { log, error, load, reload };
}

/** A row as the table shows it: the proposer resolved to a person. */
interface Row {
  readonly seq: number;
  readonly kind: string;
  /** The release's version; '' for other statements. */
  readonly version: string;
  readonly appliedAt: string;
  readonly proposer: Person | null;
  /** The proposer in words, as the filter reads it. */
  readonly proposerName: string;
  readonly approvals: number;
  readonly entry: Entry;
}

const AUTOMATIC = 'the server (automatic)';

function toRow(entry: Entry, person: (keyId: string) => Person): Row {
  const proposer = entry.automatic ? null : person(entry.proposer);
  return {
    seq: entry.seq,
    kind: entry.kind,
    version: entry.version ?? '',
    appliedAt: entry.appliedAt,
    proposer,
    proposerName: proposer === null ? AUTOMATIC : nameOf(proposer),
    approvals: entry.approvals,
    entry,
  };
}

const KINDS = STATEMENT_KINDS.map((kind) => ({
  value: kind,
  label: kind.charAt(0).toUpperCase() + kind.slice(1),
}));

const helper = createColumnHelper<typeof listFeatures, Row>();

/**
 * The verified log of one channel as a table, newest first: pages of 50 under a sticky header, read
 * from main page by page; filters by action, proposer and version, over the whole log (read in
 * main's largest pages once a filter is set).
 */
function ChannelHistory(props: {
  channel: ChannelRef;
  /** The channel's current release (verified mirror): the one not offered for rollback. */
  currentVersion: string | null;
}): React.JSX.Element {
  const { app, channel: name } = props.channel;
  const { currentVersion } = props;
  const [target, setTarget] = useState<Entry | null>(null);
  const [proposed, setProposed] = useState<{ title: string; result: ProposeResult } | null>(null);
  const { log, error, load, reload } = useChannelLog(props.channel);
  const [columnFilters, setColumnFilters] = useState<ColumnFiltersState>([]);
  const [pagination, setPagination] = useState({ pageIndex: 0, pageSize: PAGE_SIZE });
  const person = usePeople();
  const { total, pages } = log;
  const { pageIndex } = pagination;
  const filtering = columnFilters.length > 0;
  const pageCount = total === null ? 0 : Math.ceil(total / PAGE_SIZE);
  const complete = total !== null && pages.size === pageCount;

  // Unfiltered, main serves the page in view, and nothing else.
  const pageMissing = !filtering && total !== 0 && !pages.has(pageIndex);
  useEffect(() => {
    if (pageMissing) void load(pageIndex * PAGE_SIZE, PAGE_SIZE);
  }, [pageMissing, pageIndex, load, log.generation]);

  // Filtered, the table needs every statement: the pages missing, in main's largest pages.
  const readAll = filtering && !complete && total !== null;
  useEffect(() => {
    if (!readAll) return;
    const held = pages;
    let cancelled = false;
    void (async () => {
      for (let offset = 0; offset < (total ?? 0) && !cancelled; offset += READ_ALL) {
        const first = offset / PAGE_SIZE;
        const last = Math.min(pageCount, (offset + READ_ALL) / PAGE_SIZE);
        let missing = false;
        for (let page = first; page < last && !missing; page += 1) missing = !held.has(page);
        if (missing && !(await load(offset, READ_ALL))) return;
      }
    })();
    return () => {
      cancelled = true;
    };
    // Skips the pages held when it starts (later answers come from this loop); it starts over
    // when the log's length changes.
  }, [readAll, total, load, log.generation]);

  const pageRows = useMemo(
    () => (pages.get(pageIndex) ?? []).map((entry) => toRow(entry, person)),
    [pages, pageIndex, person],
  );
  const allRows = useMemo(
    () =>
      complete
        ? Array.from({ length: pageCount }, (_, page) => pages.get(page) ?? [])
            .flat()
            .map((entry) => toRow(entry, person))
        : [],
    [complete, pages, pageCount, person],
  );

  const columns = useMemo(
    () =>
      helper.columns([
        helper.accessor('seq', {
          header: '#',
          cell: (info) => `#${info.getValue()}`,
          meta: { className: 'mono' },
        }),
        helper.accessor('kind', {
          header: 'Action',
          filterFn: 'equalsString',
          cell: (info) => describe(info.row.original.entry),
        }),
        helper.accessor('version', { header: 'Version', filterFn: 'includesString' }),
        helper.accessor('appliedAt', { header: 'Applied', cell: (info) => when(info.getValue()) }),
        helper.accessor('proposerName', {
          header: 'Proposed by',
          filterFn: 'includesString',
          cell: (info) => {
            const { proposer } = info.row.original;
            return proposer === null ? AUTOMATIC : <PersonName person={proposer} compact />;
          },
        }),
        helper.accessor('approvals', { header: 'Approvals' }),
        helper.display({
          id: 'rollback',
          header: () => <span className="sr-only">Rollback</span>,
          meta: { className: 'cell-action' },
          cell: (info) => {
            const { entry } = info.row.original;
            return (
              entry.kind === 'release' &&
              entry.version !== null &&
              entry.version !== currentVersion && (
                <button type="button" className="button-small" onClick={() => setTarget(entry)}>
                  <Undo2 className="icon" aria-hidden="true" />
                  Roll back to {entry.version}
                </button>
              )
            );
          },
        }),
      ]),
    [currentVersion],
  );

  const table = useTable({
    features: listFeatures,
    columns,
    data: filtering ? allRows : pageRows,
    state: { columnFilters, pagination },
    onColumnFiltersChange: (updater) => {
      setColumnFilters(updater);
      setPagination((previous) => ({ ...previous, pageIndex: 0 }));
    },
    onPaginationChange: setPagination,
    // Unfiltered, main pages the log; filtered, the table pages what matches. (Both options every
    // time: the table keeps an option it is not given again.)
    manualPagination: !filtering,
    rowCount: filtering ? undefined : (total ?? 0),
  });
  const matches = table.getFilteredRowModel().rows.length;

  function restart(): void {
    reload();
    setPagination((previous) => ({ ...previous, pageIndex: 0 }));
  }

  return (
    <div className="history">
      {target !== null && (
        <RollbackDialog
          channel={props.channel}
          target={target}
          needsOfficer={log.needsOfficer}
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
          onPushed={restart}
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
          <div className="form-row table-filters">
            <SelectField
              label="Action"
              all="Every action"
              options={KINDS}
              {...columnFilter(table, 'kind')}
            />
            <SearchField
              label="Proposed by"
              placeholder="name or fingerprint"
              {...columnFilter(table, 'proposerName')}
            />
            <SearchField label="Version" placeholder="1.2.0" {...columnFilter(table, 'version')} />
          </div>
          <p className="muted" role="status">
            {!filtering
              ? `${total} ${total === 1 ? 'statement' : 'statements'}, newest first`
              : complete
                ? `${matches} of ${total} statements match`
                : `Reading the whole history to filter it: ${Math.min(total, pages.size * PAGE_SIZE)} of ${total} statements…`}
          </p>
          <DataTable
            table={table}
            label={`History of ${app}/${name}`}
            region={`Statements of ${app}/${name}`}
            placeholder={filtering ? (complete ? undefined : 'Reading the history…') : 'Loading…'}
          />
          <Pager table={table} label={`History of ${app}/${name}, pages`} />
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
