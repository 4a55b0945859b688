import * as DropdownMenu from '@radix-ui/react-dropdown-menu';
import { ChevronDown, type LucideIcon } from 'lucide-react';

export interface MenuAction {
  readonly label: string;
  readonly run: () => void;
  /** Shown before the label (never instead of it). */
  readonly icon?: LucideIcon;
}

/**
 * The secondary actions of a row behind one button (issue 13: one primary action and a menu for
 * the rest). Radix DropdownMenu: the WAI-ARIA menu button pattern (Enter, Space or the arrow keys
 * open it, the arrows and typeahead move, Escape closes it and focus returns to the button, a
 * click elsewhere closes it), the menu named by the button. Modal, so the page behind it does not
 * scroll; the lock is lib/remove-scroll.tsx's (CSP-safe, see electron.vite.config.ts).
 */
export function ActionMenu(props: {
  label: string;
  actions: readonly MenuAction[];
}): React.JSX.Element {
  return (
    <DropdownMenu.Root>
      <DropdownMenu.Trigger type="button" className="menu-trigger" aria-label={props.label}>
        More
        <ChevronDown className="icon" aria-hidden="true" />
      </DropdownMenu.Trigger>
      <DropdownMenu.Portal>
        <DropdownMenu.Content className="menu" align="end" sideOffset={4} loop>
          {props.actions.map((action) => (
            <DropdownMenu.Item key={action.label} className="menu-item" onSelect={action.run}>
              {action.icon !== undefined && <action.icon className="icon" aria-hidden="true" />}
              {action.label}
            </DropdownMenu.Item>
          ))}
        </DropdownMenu.Content>
      </DropdownMenu.Portal>
    </DropdownMenu.Root>
  );
}
