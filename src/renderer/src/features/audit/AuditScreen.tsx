import { createColumnHelper, useTable } from '@tanstack/react-table';
import { useMemo } from 'react';
import { toCsv } from '../../../../shared/csv';
import type { IpcResponse } from '../../../../shared/ipc/contract';
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
import type { Result } from '../../../../shared/result';
import { api, useAction, useQuery } from '../../lib/api';
import { saveFile } from '../../lib/files';
import { shortId, when } from '../../lib/format';
import { nameOf, usePeople, type Person } from '../../lib/people';

type Entry = IpcResponse<'audit:list'>['entries'][number];

/** One page of the log as main serves it; the screen reads every page. */
const LOAD_PAGE = 1000;
const HEX_ID = /^[0-9a-f]{64}$/;

/** A row as the table shows it: the actor's name resolved, the details as words. */
interface Row {
  readonly seq: number;
  readonly time: string;
  readonly action: string;
  readonly actor: string;
  readonly actorName: string;
  readonly details: string;
  readonly entry: Entry;
}

/** Audit actions as words: `release.propose` → `release propose`. */
function actionLabel(action: string): string {
  return action.replace(/[._]/g, ' ');
}

/** A detail value for people: key ids as names, long hex ids shortened, the rest as JSON. */
function detailValue(value: unknown, person: (keyId: string) => Person): string {
  if (typeof value === 'string') {
    if (HEX_ID.test(value)) {
      // A key someone named, by name; any other id (a statement's, an unnamed key's) shortened.
      return person(value).name ?? shortId(value);
    }
    return value;
  }
  return JSON.stringify(value);
}

function detailsText(details: Record<string, unknown>, person: (keyId: string) => Person): string {
  return Object.entries(details)
    .map(
      ([name, value]) =>
        `${name.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase()} ${detailValue(value, person)}`,
    )
    .join(' · ');
}

const helper = createColumnHelper<typeof listFeatures, Row>();
const columns = helper.columns([
  helper.accessor('seq', { header: '#', enableGlobalFilter: false }),
  helper.accessor('time', { header: 'Time', cell: (info) => when(info.getValue()) }),
  helper.accessor('action', {
    header: 'Action',
    filterFn: 'equalsString',
    cell: (info) => actionLabel(info.getValue()),
  }),
  helper.accessor('actorName', {
    header: 'Actor',
    filterFn: 'equalsString',
    cell: (info) => <span title={info.row.original.actor}>{info.getValue()}</span>,
  }),
  helper.accessor('details', { header: 'Details', meta: { className: 'details' } }),
]);

/** Every entry of the local audit trail, oldest first (main serves it in pages). */
async function loadAll(): Promise<Result<Entry[]>> {
  const entries: Entry[] = [];
  for (;;) {
    const page = await api().audit.list({ afterSeq: entries.at(-1)?.seq ?? 0, limit: LOAD_PAGE });
    if (!page.ok) return page;
    entries.push(...page.value.entries);
    if (page.value.entries.length < LOAD_PAGE) return { ok: true, value: entries };
  }
}

/**
 * The local audit trail (a hash chain, ARCHITECTURE.md §4) as a table: newest first, names for
 * actors, details in words, filters by action, actor and text, pages of 50 under a sticky header,
 * and the whole log exported as JSON (with the hashes, to verify elsewhere) or CSV.
 */
export function AuditScreen(): React.JSX.Element {
  const audit = useQuery('audit', loadAll);
  const verify = useAction(() => api().audit.verify());
  const person = usePeople();
  const entries = audit.data;
  const rows = useMemo<Row[]>(
    () =>
      [...(entries ?? [])].reverse().map((entry) => ({
        seq: entry.seq,
        time: entry.time,
        action: entry.action,
        actor: entry.actor,
        actorName: HEX_ID.test(entry.actor) ? nameOf(person(entry.actor)) : entry.actor,
        details: detailsText(entry.details, person),
        entry,
      })),
    [entries, person],
  );
  const table = useTable({
    features: listFeatures,
    columns,
    data: rows,
    globalFilterFn: 'includesString',
    initialState: { pagination: { pageIndex: 0, pageSize: PAGE_SIZE } },
  });
  const actions = useMemo(() => [...new Set(rows.map((row) => row.action))].sort(), [rows]);
  const actors = useMemo(() => [...new Set(rows.map((row) => row.actorName))].sort(), [rows]);
  const filtered = table.getFilteredRowModel().rows.length;

  function exportAs(format: 'json' | 'csv'): void {
    const all = entries ?? [];
    const stamp = new Date().toISOString().slice(0, 10);
    if (format === 'json') {
      saveFile({
        fileName: `airlock-audit-${stamp}.json`,
        content: `${JSON.stringify({ format: 'airlock-audit-export', v: 1, entries: all }, null, 2)}\n`,
      });
      return;
    }
    saveFile(
      {
        fileName: `airlock-audit-${stamp}.csv`,
        content: toCsv(
          ['seq', 'time', 'action', 'actor', 'actor_name', 'details', 'hash'],
          all.map((entry) => [
            String(entry.seq),
            entry.time,
            entry.action,
            entry.actor,
            HEX_ID.test(entry.actor) ? nameOf(person(entry.actor)) : entry.actor,
            JSON.stringify(entry.details),
            entry.hash,
          ]),
        ),
      },
      'text/csv',
    );
  }

  return (
    <section aria-labelledby="audit-title">
      <div className="heading-row">
        <h1 id="audit-title">Audit log</h1>
        <div className="row">
          <button type="button" onClick={() => exportAs('json')} disabled={!entries?.length}>
            Export JSON
          </button>
          <button type="button" onClick={() => exportAs('csv')} disabled={!entries?.length}>
            Export CSV
          </button>
          <button
            type="button"
            className="button-primary"
            onClick={() => void verify.run()}
            disabled={verify.pending}
          >
            {verify.pending ? 'Verifying…' : 'Verify chain'}
          </button>
        </div>
      </div>
      <ErrorBanner error={verify.error} onDismiss={verify.reset} />
      {verify.data !== null &&
        (verify.data.ok ? (
          <p className="banner banner-ok" role="status">
            The chain is intact: {verify.data.entries} entries
            {verify.data.head !== null && `, head ${shortId(verify.data.head)}`}.
          </p>
        ) : (
          <p className="banner banner-error" role="alert">
            The chain is broken
            {verify.data.brokenAt !== null && ` at entry ${verify.data.brokenAt}`}:{' '}
            {verify.data.reason ?? 'no reason given'}.
          </p>
        ))}
      <ErrorBanner error={audit.error} />
      {audit.loading && entries === null && <Loading />}
      {entries !== null && entries.length === 0 && (
        <EmptyState title="No audit entries yet">
          Key creation, proposals, approvals and pushes are recorded here.
        </EmptyState>
      )}
      {rows.length > 0 && (
        <>
          <div className="form-row table-filters">
            <SearchField
              label="Search"
              value={typeof table.state.globalFilter === 'string' ? table.state.globalFilter : ''}
              onChange={(value) => table.setGlobalFilter(value)}
              placeholder="name, app, version…"
            />
            <SelectField
              label="Action"
              all="Every action"
              options={actions.map((action) => ({ value: action, label: actionLabel(action) }))}
              {...columnFilter(table, 'action')}
            />
            <SelectField
              label="Actor"
              all="Everyone"
              options={actors.map((actor) => ({ value: actor, label: actor }))}
              {...columnFilter(table, 'actorName')}
            />
          </div>
          <p className="muted" role="status">
            {filtered === rows.length
              ? `${rows.length} entries, newest first`
              : `${filtered} of ${rows.length} entries match`}
          </p>
          <DataTable table={table} label="Audit log" region="Audit entries" />
          <Pager table={table} label="Audit log pages" />
        </>
      )}
    </section>
  );
}
