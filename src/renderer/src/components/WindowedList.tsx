import { useState } from 'react';

/**
 * A list that renders only the rows in view (plus a few either side), for long histories. Rows
 * have one fixed height; positions are set through the CSSOM, which the page's CSP allows (it
 * forbids inline style attributes in HTML, not element.style).
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
  const [scrollTop, setScrollTop] = useState(0);
  const overscan = 5;
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(total - 1, Math.ceil((scrollTop + height) / rowHeight) + overscan);

  const rows: React.ReactNode[] = [];
  for (let index = first; index <= last; index += 1) {
    const item = items[index];
    rows.push(
      <div
        key={index}
        role="listitem"
        className="wrow"
        ref={(node) => {
          if (node !== null) {
            node.style.top = `${index * rowHeight}px`;
            node.style.height = `${rowHeight}px`;
          }
        }}
      >
        {item === undefined ? <span className="muted">Loading…</span> : renderRow(item, index)}
      </div>,
    );
  }

  return (
    <div
      className="wlist"
      role="list"
      aria-label={label}
      tabIndex={0}
      ref={(node) => {
        if (node !== null) node.style.height = `${height}px`;
      }}
      onScroll={(event) => {
        const top = event.currentTarget.scrollTop;
        setScrollTop(top);
        onVisibleEnd?.(Math.ceil((top + height) / rowHeight));
      }}
    >
      <div
        className="wlist-inner"
        ref={(node) => {
          if (node !== null) node.style.height = `${total * rowHeight}px`;
        }}
      >
        {rows}
      </div>
    </div>
  );
}
