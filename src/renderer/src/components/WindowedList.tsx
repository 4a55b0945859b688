import { useVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useRef } from 'react';

/**
 * A list that renders only the rows in view (plus a few either side), for long histories; the
 * windowing is TanStack Virtual's. Rows have one fixed height.
 */
export function WindowedList<T>(props: {
  /** The row at `index`, or undefined while it is still loading. */
  itemAt: (index: number) => T | undefined;
  /** How many rows exist in total (loaded or not). */
  total: number;
  rowHeight: number;
  height: number;
  renderRow: (item: T, index: number) => React.ReactNode;
  /** Called with the first and last index in view whenever they change, to load those rows. */
  onRangeChange?: (first: number, last: number) => void;
  label: string;
}): React.JSX.Element {
  const { itemAt, total, rowHeight, height, renderRow, onRangeChange, label } = props;
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
  const first = rows[0]?.index ?? 0;
  const last = rows[rows.length - 1]?.index ?? -1;
  const onRange = useRef(onRangeChange);
  onRange.current = onRangeChange;
  useEffect(() => {
    if (last >= first) onRange.current?.(first, last);
  }, [first, last]);

  return (
    <div
      className="wlist"
      role="list"
      aria-label={label}
      data-total={total}
      tabIndex={0}
      ref={scroller}
      style={{ height }}
    >
      <div className="wlist-inner" style={{ height: virtualizer.getTotalSize() }}>
        {rows.map((row) => {
          const item = itemAt(row.index);
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
