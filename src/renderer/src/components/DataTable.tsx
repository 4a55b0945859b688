import {
  columnFilteringFeature,
  createFilteredRowModel,
  createPaginatedRowModel,
  filterFn_equalsString,
  filterFn_includesString,
  globalFilteringFeature,
  rowPaginationFeature,
  tableFeatures,
  type ReactTable,
  type RowData,
} from '@tanstack/react-table';
import { useId } from 'react';

/** What a column asks of its cells: a class for the `<td>` (classes only: the CSP allows no inline styles). */
interface ColumnMeta {
  readonly className?: string;
}

/** Type only: tells `tableFeatures` what `meta` a column definition takes. */
const columnMeta: ColumnMeta = {};

/**
 * The console's long tables (audit log, release history; issue 13): TanStack Table with column
 * filters, a text search and pages, filtered and paged in the renderer, unless a screen pages
 * from main itself (`manualPagination` with `rowCount`).
 */
export const listFeatures = tableFeatures({
  columnFilteringFeature,
  globalFilteringFeature,
  rowPaginationFeature,
  filteredRowModel: createFilteredRowModel(),
  paginatedRowModel: createPaginatedRowModel(),
  filterFns: { includesString: filterFn_includesString, equalsString: filterFn_equalsString },
  columnMeta,
});

export type ListTable<TData extends RowData> = ReactTable<typeof listFeatures, TData>;

/** Rows per page of every long table. */
export const PAGE_SIZE = 50;

/**
 * The table under a sticky header (`table-sticky`) in a scrolling region that the keyboard can
 * scroll too (focusable, WCAG 2.1.1). `placeholder` stands in the body while it has no rows (a
 * page still loading); without one an empty body stays empty.
 */
export function DataTable<TData extends RowData>(props: {
  table: ListTable<TData>;
  /** The table's accessible name. */
  label: string;
  /** The scrolling region's accessible name. */
  region: string;
  placeholder?: React.ReactNode;
}): React.JSX.Element {
  const { table, placeholder } = props;
  const rows = table.getRowModel().rows;
  return (
    <div className="table-scroll" role="region" aria-label={props.region} tabIndex={0}>
      <table className="table table-sticky" aria-label={props.label}>
        <thead>
          {table.getHeaderGroups().map((group) => (
            <tr key={group.id}>
              {group.headers.map((header) => (
                <th key={header.id} scope="col">
                  <table.FlexRender header={header} />
                </th>
              ))}
            </tr>
          ))}
        </thead>
        <tbody>
          {rows.length === 0 && placeholder !== undefined ? (
            <tr>
              <td className="muted" colSpan={table.getAllLeafColumns().length}>
                {placeholder}
              </td>
            </tr>
          ) : (
            rows.map((row) => (
              <tr key={row.id}>
                {row.getAllCells().map((cell) => (
                  <td key={cell.id} className={cell.column.columnDef.meta?.className}>
                    <table.FlexRender cell={cell} />
                  </td>
                ))}
              </tr>
            ))
          )}
        </tbody>
      </table>
    </div>
  );
}

/**
 * First, previous, next and last page, and where the page is: "Showing 51–100 of 131". The count
 * is the table's: the rows that match its filters, or `rowCount` where main serves the pages.
 */
export function Pager<TData extends RowData>(props: {
  table: ListTable<TData>;
  label: string;
}): React.JSX.Element {
  const { table } = props;
  const { pageIndex, pageSize } = table.state.pagination;
  const count = table.getRowCount();
  const first = Math.min(count, pageIndex * pageSize + 1);
  const last = Math.min(count, (pageIndex + 1) * pageSize);
  const pages = Math.max(1, table.getPageCount());
  return (
    <nav className="row pager" aria-label={props.label}>
      <button
        type="button"
        onClick={() => table.firstPage()}
        disabled={!table.getCanPreviousPage()}
      >
        First
      </button>
      <button
        type="button"
        onClick={() => table.previousPage()}
        disabled={!table.getCanPreviousPage()}
      >
        Previous
      </button>
      <span aria-live="polite">
        {count === 0 ? 'Nothing to show' : `Showing ${first}–${last} of ${count}`} · page{' '}
        {pageIndex + 1} of {pages}
      </span>
      <button type="button" onClick={() => table.nextPage()} disabled={!table.getCanNextPage()}>
        Next
      </button>
      <button type="button" onClick={() => table.lastPage()} disabled={!table.getCanNextPage()}>
        Last
      </button>
    </nav>
  );
}

/** A column's filter as a string (a select or a text field edits it; '' is none). */
export function columnFilter<TData extends RowData>(
  table: ListTable<TData>,
  column: string,
): { value: string; onChange: (value: string) => void } {
  const value = table.state.columnFilters.find((filter) => filter.id === column)?.value;
  return {
    value: typeof value === 'string' ? value : '',
    onChange: (next) => table.getColumn(column)?.setFilterValue(next === '' ? undefined : next),
  };
}

/** A labelled search field of a filter row. */
export function SearchField(props: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  placeholder?: string;
}): React.JSX.Element {
  const id = useId();
  return (
    <p className="field">
      <label htmlFor={id}>{props.label}</label>
      <input
        id={id}
        type="search"
        value={props.value}
        onChange={(event) => props.onChange(event.target.value)}
        placeholder={props.placeholder}
      />
    </p>
  );
}

/** A labelled select of a filter row: `all` first (no filter), then the options. */
export function SelectField(props: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  all: string;
  options: readonly { value: string; label: string }[];
}): React.JSX.Element {
  const id = useId();
  return (
    <p className="field">
      <label htmlFor={id}>{props.label}</label>
      <select id={id} value={props.value} onChange={(event) => props.onChange(event.target.value)}>
        <option value="">{props.all}</option>
        {props.options.map((option) => (
          <option key={option.value} value={option.value}>
            {option.label}
          </option>
        ))}
      </select>
    </p>
  );
}
