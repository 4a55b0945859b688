/** What a screen says when there is nothing to show yet, and what to do about it. */
export function EmptyState(props: {
  title: string;
  children?: React.ReactNode;
}): React.JSX.Element {
  return (
    <div className="empty">
      <p className="empty-title">{props.title}</p>
      {props.children !== undefined && <div className="empty-body">{props.children}</div>}
    </div>
  );
}

/** A short loading line for screens waiting on their first answer. */
export function Loading(): React.JSX.Element {
  return (
    <p className="muted" role="status">
      Loading…
    </p>
  );
}
