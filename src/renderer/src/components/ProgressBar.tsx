import * as Progress from '@radix-ui/react-progress';
import type { ProgressEvent } from '../../../shared/ipc/contract';
import { bytes } from '../lib/format';

const PHASE_LABELS: Record<ProgressEvent['phase'], string> = {
  scan: 'Reading files',
  zip: 'Zipping',
  encrypt: 'Encrypting',
  hash: 'Hashing',
  upload: 'Uploading',
  deliver: 'Delivering',
  verify: 'Verifying',
};

function amount(value: number, unit: ProgressEvent['unit']): string {
  return unit === 'bytes' ? bytes(value) : `${value} ${unit}`;
}

/** The progress of one long operation: phase, a bar (Radix Progress: role=progressbar), amounts. */
export function ProgressBar(props: { event: ProgressEvent | null }): React.JSX.Element | null {
  const { event } = props;
  if (event === null) return null;
  const percent = event.total > 0 ? Math.min(100, Math.round((event.done / event.total) * 100)) : 0;
  const label = `${PHASE_LABELS[event.phase]}${event.label === null ? '' : ` ${event.label}`}`;
  return (
    <div className="progress">
      <p className="progress-label">
        {label}: {amount(event.done, event.unit)} of {amount(event.total, event.unit)}
      </p>
      <Progress.Root className="progress-track" value={percent} aria-label={label}>
        <Progress.Indicator className="progress-fill" style={{ width: `${percent}%` }} />
      </Progress.Root>
    </div>
  );
}
