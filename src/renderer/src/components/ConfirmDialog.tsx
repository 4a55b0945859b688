import * as AlertDialog from '@radix-ui/react-alert-dialog';
import type { LucideIcon } from 'lucide-react';
import { useId, useState } from 'react';

/**
 * The weight of a consequential action (issue 13): signing, pushing, rolling back, pausing. A
 * modal alert dialog (Radix AlertDialog: focus moves in on Cancel and stays, Escape cancels, a
 * click outside does not, the rest of the window is hidden from assistive technology) that names
 * what happens and with which key; when `typed` is given (a channel whose policy needs a signing
 * officer), the person types it before the action is enabled. Rendered only while asking: the
 * caller mounts it to ask and unmounts it when done. Radix's scroll lock is the CSP-safe one of
 * lib/remove-scroll.tsx (see electron.vite.config.ts).
 */
export function ConfirmDialog(props: {
  title: string;
  children: React.ReactNode;
  confirmLabel: string;
  /** Text to type to enable the action, e.g. the version. */
  typed?: string | null;
  tone?: 'primary' | 'danger';
  /** The confirm button's icon (next to its label, never instead of it). */
  icon?: LucideIcon;
  busy?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}): React.JSX.Element {
  const inputId = useId();
  const [text, setText] = useState('');
  const { onCancel } = props;

  const typed = props.typed ?? null;
  const ready = typed === null || text.trim() === typed;
  return (
    <AlertDialog.Root
      open
      onOpenChange={(open) => {
        if (!open) onCancel();
      }}
    >
      <AlertDialog.Portal>
        <AlertDialog.Overlay className="dialog-overlay" />
        <AlertDialog.Content className="confirm-dialog">
          <AlertDialog.Title>{props.title}</AlertDialog.Title>
          <AlertDialog.Description asChild>
            <div>{props.children}</div>
          </AlertDialog.Description>
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
            <AlertDialog.Cancel type="button">Cancel</AlertDialog.Cancel>
            {/* Not AlertDialog.Action: that closes on click, and the caller closes when done. */}
            <button
              type="button"
              className={props.tone === 'danger' ? 'button-danger' : 'button-primary'}
              disabled={!ready || props.busy === true}
              onClick={props.onConfirm}
            >
              {props.icon !== undefined && <props.icon className="icon" aria-hidden="true" />}
              {props.confirmLabel}
            </button>
          </div>
        </AlertDialog.Content>
      </AlertDialog.Portal>
    </AlertDialog.Root>
  );
}
