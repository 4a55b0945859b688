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

/** What main's history filter takes (history:list): the table's filters, proposer names resolved. */
type MainFilter = NonNullable<Parameters<ReturnType<typeof api>['history']['list']>[0]['filter']>;

/** What this console holds of a channel's verified log, by page of PAGE_SIZE (0 is the newest). */
interface Log {
  /** Bumped by a reload or a new filter: answers asked for before it are dropped. */
  readonly generation: number;
  /** The filter (as JSON) the total and pages belong to. */
  readonly key: string;
  /** How many entries match the filter; null before the first answer. */
  readonly total: number | null;
  /** Every entry of the channel. */
  readonly all: number | null;
  /** Every key that proposed on the channel (the proposer filter resolves names against it). */
  readonly proposers: readonly string[];
  readonly needsOfficer: boolean;
  readonly pages: ReadonlyMap<number, readonly Entry[]>;
}

const NO_PAGES: ReadonlyMap<number, readonly Entry[]> = new Map();

const EMPTY: Log = {
  generation: 0,
  key: 'null',
  total: null,
  all: null,
  proposers: [],
  needsOfficer: false,
  pages: new Map(),
};

/**
 * The verified log of one channel as main pages it (`history:list`, newest first, filtered in
 * main's SQL): the pages asked for. The log only grows, so an answer about another length than
 * the pages held moves every offset: the pages start over from it; so does a new filter.
 */
function useChannelLog(
  channel: ChannelRef,
  filter: MainFilter | undefined,
): {
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
  const filterKey = JSON.stringify(filter ?? null);

  const ask = useCallback(
    async function ask(offset: number, limit: number): Promise<boolean> {
      const started = generation.current;
      const criteria = JSON.parse(filterKey) as MainFilter | null;
      const outcome = await unwrap(
        api().history.list({
          server,
          app,
          channel: name,
          offset,
          limit,
          ...(criteria === null ? {} : { filter: criteria }),
        }),
      );
      // A reload (after a push) or another filter started meanwhile: this answer is stale.
      if (started !== generation.current) return false;
      if (outcome.error !== null) {
        setError(outcome.error);
        return false;
      }
      const { total, all, proposers, rollbackNeedsOfficer, entries } = outcome.data;
      setError(null);
      setLog((previous) => {
        const same = previous.key === filterKey && previous.total === total && previous.all === all;
        const pages = new Map(same ? previous.pages : []);
        for (let start = 0; start < entries.length; start += PAGE_SIZE) {
          pages.set((offset + start) / PAGE_SIZE, entries.slice(start, start + PAGE_SIZE));
        }
        return {
          ...previous,
          key: filterKey,
          total,
          all,
          proposers,
          needsOfficer: rollbackNeedsOfficer,
          pages,
        };
      });
      return true;
    },
    // The filter by its text: a new object with the same criteria asks nothing new.
    [server, app, name, filterKey],
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
    setLog((previous) => ({
      ...EMPTY,
      all: previous.all,
      proposers: previous.proposers,
      generation: generation.current,
    }));
  }, []);

  // A new filter starts the pages over (the names it resolves stay known meanwhile).
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    reload();
  }, [filterKey, reload]);

  // An answer for another filter than the one set now is not shown (it would count the wrong
  // rows for a moment): until the new answer, no total and no pages.
  const current = log.key === filterKey ? log : { ...log, total: null, pages: NO_PAGES };
  return { log: current, error, load, reload };
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

/** The text of column `id`'s filter, trimmed; undefined when it is not set. */
function filterText(filters: ColumnFiltersState, id: string): string | undefined {
  const value = filters.find((entry) => entry.id === id)?.value;
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/**
 * The table's filters as main's (history:list filters in SQL): the action and the version as
 * typed; "Proposed by" matched here against the names people know (lib/people: the same words the
 * table shows), as the keys of the channel's proposers that match, and the automatic pauses when
 * their words do. Undefined without a filter.
 */
function mainFilter(
  filters: ColumnFiltersState,
  proposers: readonly string[],
  person: (keyId: string) => Person,
): MainFilter | undefined {
  const kind = filterText(filters, 'kind');
  const version = filterText(filters, 'version');
  const who = filterText(filters, 'proposerName')?.toLowerCase();
  if (kind === undefined && version === undefined && who === undefined) return undefined;
  const known = STATEMENT_KINDS.find((candidate) => candidate === kind);
  return {
    ...(known === undefined ? {} : { kind: known }),
    ...(version === undefined ? {} : { version }),
    ...(who === undefined
      ? {}
      : {
          proposers: proposers
            .filter((keyId) => nameOf(person(keyId)).toLowerCase().includes(who))
            .slice(0, 1000),
          automatic: AUTOMATIC.includes(who),
        }),
  };
}

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
  const [columnFilters, setColumnFilters] = useState<ColumnFiltersState>([]);
  const [pagination, setPagination] = useState({ pageIndex: 0, pageSize: PAGE_SIZE });
  const person = usePeople();
  // The channel's proposers, from main's last answer: the proposer filter resolves names to them.
  const [proposers, setProposers] = useState<readonly string[]>([]);
  const filter = useMemo(
    () => mainFilter(columnFilters, proposers, person),
    [columnFilters, proposers, person],
  );
  const { log, error, load, reload } = useChannelLog(props.channel, filter);
  useEffect(() => setProposers(log.proposers), [log.proposers]);
  const { pageIndex } = pagination;
  const filtering = filter !== undefined;
  const { total, pages } = log;

  // Main serves the page in view, filtered in its SQL, and nothing else.
  const pageMissing = total !== 0 && !pages.has(pageIndex);
  useEffect(() => {
    if (pageMissing) void load(pageIndex * PAGE_SIZE, PAGE_SIZE);
  }, [pageMissing, pageIndex, load, log.generation]);

  const pageRows = useMemo(
    () => (pages.get(pageIndex) ?? []).map((entry) => toRow(entry, person)),
    [pages, pageIndex, person],
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
    data: pageRows,
    state: { columnFilters, pagination },
    onColumnFiltersChange: (updater) => {
      setColumnFilters(updater);
      setPagination((previous) => ({ ...previous, pageIndex: 0 }));
    },
    onPaginationChange: setPagination,
    // Main filters and pages the log (mainFilter): the table shows the page it answered.
    manualFiltering: true,
    manualPagination: true,
    rowCount: total ?? 0,
  });

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
      {log.all === null && error === null && <Loading />}
      {log.all === 0 && (
        <EmptyState title="No statements on this channel yet">
          Once a release is approved and pushed it appears here.
        </EmptyState>
      )}
      {log.all !== null && log.all > 0 && (
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
              ? `${log.all} ${log.all === 1 ? 'statement' : 'statements'}, newest first`
              : total === null
                ? `Filtering ${log.all} statements…`
                : `${total} of ${log.all} statements match`}
          </p>
          <DataTable
            table={table}
            label={`History of ${app}/${name}`}
            region={`Statements of ${app}/${name}`}
            placeholder={total === 0 ? undefined : 'Loading…'}
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
