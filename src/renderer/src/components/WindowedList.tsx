import { useVirtualizer } from '@tanstack/react-virtual';
import { useRef } from 'react';

/**
 * A list that renders only the rows in view (plus a few either side), for long histories; the
 * windowing is TanStack Virtual's. Rows have one fixed height.
 */
export function WindowedList<T>(props: {
  items: readonly T[];
  /** How many rows exist in total (more than `items` while pages are still loading). */
  total: number;
  rowHeight: number;
  height: number;
  renderRow: (item: T, index: number) => React.ReactNode;
  /** Called with the last index in view, so the owner can load the next page. */
  onVisibleEnd?: (lastIndex: number) => void;
  label: string;
}): React.JSX.Element {
  const { items, total, rowHeight, height, renderRow, onVisibleEnd, label } = props;
  const scroller = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: total,
    getScrollElement: () => scroller.current,
    estimateSize: () => rowHeight,
    overscan: 5,
    // Before the first layout (and in tests without layout) assume the list's own height.
    initialRect: { width: 0, height },
  });
  const rows = virtualizer.getVirtualItems();

  return (
    <div
      className="wlist"
      role="list"
      aria-label={label}
      aria-rowcount={total}
      tabIndex={0}
      ref={scroller}
      style={{ height }}
      onScroll={(event) => {
        onVisibleEnd?.(Math.ceil((event.currentTarget.scrollTop + height) / rowHeight));
      }}
    >
      <div className="wlist-inner" style={{ height: virtualizer.getTotalSize() }}>
        {rows.map((row) => {
          const item = items[row.index];
          return (
            <div
              key={row.key}
              role="listitem"
              aria-posinset={row.index + 1}
              aria-setsize={total}
              className="wrow"
              style={{ top: row.start, height: rowHeight }}
            >
              {item === undefined ? (
                <span className="muted">Loading…</span>
              ) : (
                renderRow(item, row.index)
              )}
            </div>
          );
        })}
      </div>
    </div>
  );
}
