import { useEffect, useId, useRef, useState } from 'react';

/**
 * The weight of a consequential action (issue 13): signing, pushing, rolling back, pausing. A
 * modal alert dialog (the platform's `<dialog>`: focus moves in and stays, Escape cancels, and
 * nothing is injected at run time, so the strict CSP holds) that names what happens and with which
 * key; when `typed` is given (a channel whose policy needs a signing officer), the person types it
 * before the action is enabled.
 */
export function ConfirmDialog(props: {
  title: string;
  children: React.ReactNode;
  confirmLabel: string;
  /** Text to type to enable the action, e.g. the version. */
  typed?: string | null;
  tone?: 'primary' | 'danger';
  busy?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}): React.JSX.Element {
  const dialog = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const bodyId = useId();
  const inputId = useId();
  const [text, setText] = useState('');
  const cancelRef = useRef(props.onCancel);
  cancelRef.current = props.onCancel;

  // Opened once, when mounted; closed when unmounted (the caller renders it only while asking).
  useEffect(() => {
    const element = dialog.current;
    if (element === null) return undefined;
    if (!element.open) element.showModal();
    const cancel = (event: Event): void => {
      event.preventDefault();
      cancelRef.current();
    };
    element.addEventListener('cancel', cancel);
    return () => {
      element.removeEventListener('cancel', cancel);
      if (element.open) element.close();
    };
  }, []);

  const typed = props.typed ?? null;
  const ready = typed === null || text.trim() === typed;
  return (
    <dialog
      ref={dialog}
      className="confirm-dialog"
      role="alertdialog"
      aria-labelledby={titleId}
      aria-describedby={bodyId}
    >
      <h2 id={titleId}>{props.title}</h2>
      <div id={bodyId}>{props.children}</div>
      {typed !== null && (
        <p className="field">
          <label htmlFor={inputId}>
            Type <strong className="mono-inline">{typed}</strong> to confirm
          </label>
          <input
            id={inputId}
            value={text}
            autoComplete="off"
            spellCheck={false}
            onChange={(event) => setText(event.target.value)}
          />
        </p>
      )}
      <div className="row dialog-actions">
        <button type="button" onClick={props.onCancel} autoFocus>
          Cancel
        </button>
        <button
          type="button"
          className={props.tone === 'danger' ? 'button-danger' : 'button-primary'}
          disabled={!ready || props.busy === true}
          onClick={props.onConfirm}
        >
          {props.confirmLabel}
        </button>
      </div>
    </dialog>
  );
}
