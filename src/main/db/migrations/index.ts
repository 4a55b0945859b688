import type { Migration } from '../migrate';
import { migration0010 } from './0010-initial';
import { migration0020 } from './0020-log-mirror';
import { migration0030 } from './0030-outbox-audit';
import { migration0040 } from './0040-error-codes';
import { migration0050 } from './0050-mirror-state';
import { migration0060 } from './0060-mirror-proposer';

/** Every migration, in order. Append only; never edit or reorder a shipped one. */
export const MIGRATIONS: readonly Migration[] = [
  migration0010,
  migration0020,
  migration0030,
  migration0040,
  migration0050,
  migration0060,
];
