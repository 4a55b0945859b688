import { useEffect, useId, useRef, useState } from 'react';

export interface MenuAction {
  readonly label: string;
  readonly run: () => void;
}

/**
 * The secondary actions of a row behind one button (issue 13: one primary action and a menu for
 * the rest). The WAI-ARIA menu button pattern: Enter or Space opens it on the first item, the
 * arrow keys move, Escape closes it and focus returns to the button; a click elsewhere closes it.
 */
export function ActionMenu(props: {
  label: string;
  actions: readonly MenuAction[];
}): React.JSX.Element {
  const [open, setOpen] = useState(false);
  const menuId = useId();
  const button = useRef<HTMLButtonElement>(null);
  const menu = useRef<HTMLUListElement>(null);

  useEffect(() => {
    if (!open) return undefined;
    menu.current?.querySelector<HTMLButtonElement>('[role="menuitem"]')?.focus();
    const outside = (event: MouseEvent): void => {
      const target = event.target as Node;
      if (!menu.current?.contains(target) && !button.current?.contains(target)) setOpen(false);
    };
    document.addEventListener('mousedown', outside);
    return () => document.removeEventListener('mousedown', outside);
  }, [open]);

  function onKeyDown(event: React.KeyboardEvent<HTMLUListElement>): void {
    const items = [
      ...(menu.current?.querySelectorAll<HTMLButtonElement>('[role="menuitem"]') ?? []),
    ];
    const at = items.indexOf(document.activeElement as HTMLButtonElement);
    const move = (to: number): void => items[(to + items.length) % items.length]?.focus();
    if (event.key === 'ArrowDown') move(at + 1);
    else if (event.key === 'ArrowUp') move(at - 1);
    else if (event.key === 'Home') move(0);
    else if (event.key === 'End') move(items.length - 1);
    else if (event.key === 'Escape' || event.key === 'Tab') {
      setOpen(false);
      if (event.key === 'Escape') button.current?.focus();
    } else return;
    event.preventDefault();
  }

  return (
    <span className="action-menu">
      <button
        ref={button}
        type="button"
        aria-haspopup="menu"
        aria-expanded={open}
        aria-controls={open ? menuId : undefined}
        aria-label={props.label}
        onClick={() => setOpen(!open)}
      >
        More ▾
      </button>
      {open && (
        <ul ref={menu} id={menuId} role="menu" aria-label={props.label} onKeyDown={onKeyDown}>
          {props.actions.map((action) => (
            <li key={action.label} role="none">
              <button
                type="button"
                role="menuitem"
                tabIndex={-1}
                onClick={() => {
                  setOpen(false);
                  action.run();
                }}
              >
                {action.label}
              </button>
            </li>
          ))}
        </ul>
      )}
    </span>
  );
}
