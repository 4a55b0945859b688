import {
  CircleAlert,
  CircleCheck,
  CircleDashed,
  CirclePause,
  Clock,
  type LucideIcon,
} from 'lucide-react';

export type Tone = 'ok' | 'warn' | 'danger' | 'neutral';

/** The icon that goes with a tone when the caller names none. */
const TONE_ICON: Readonly<Record<Tone, LucideIcon>> = {
  ok: CircleCheck,
  warn: Clock,
  danger: CircleAlert,
  neutral: CircleDashed,
};

/**
 * A state in words (issue 13: status first). The words carry it; the tone's colour, border and
 * icon only repeat them (never a signal by colour or icon alone: the icon is hidden from
 * assistive technology).
 */
export function StatusBadge(props: {
  tone: Tone;
  children: React.ReactNode;
  icon?: LucideIcon;
  role?: 'status';
}): React.JSX.Element {
  const Icon = props.icon ?? TONE_ICON[props.tone];
  return (
    <span className={`status status-${props.tone}`} role={props.role}>
      <Icon className="icon" aria-hidden="true" />
      {props.children}
    </span>
  );
}

/** Paused is its own picture (a pause sign), whatever its tone. */
export const PausedIcon = CirclePause;
