import type { HandlerTable } from '../handle';
import { approvalHandlers } from './approvals';
import { HandlerScope, type HandlerDeps } from './context';
import { historyHandlers } from './history';
import { releaseHandlers } from './releases';
import { serverHandlers } from './servers';
import { statusHandlers } from './status';

export type { ConsoleDialogs, HandlerDeps } from './context';

/**
 * The console's IPC handlers (ARCHITECTURE.md §7): one per channel of src/shared/ipc/channels.ts,
 * in slices by domain, composed here. Nothing imports electron, so the Electron wiring
 * (register.ts), the Node tests and the e2e test bridge all run this very table.
 *
 * The flows are the workflow's (src/main/services/workflow.ts), shared with the CLI; the window
 * differs only where it must: identities come from the keychain only (never AIRLOCK_IDENTITY_KEY,
 * ARCHITECTURE.md §2), a server must have been connected (fingerprint shown) before anything is sent
 * to it, and long work reports progress. Inputs are parsed with the channel's schema (handle.ts);
 * what a handler returns is parsed again with the response schema before it leaves.
 */
export function createHandlers(deps: HandlerDeps): HandlerTable {
  const scope = new HandlerScope(deps);
  return {
    ...statusHandlers(scope),
    ...serverHandlers(scope),
    ...releaseHandlers(scope),
    ...approvalHandlers(scope),
    ...historyHandlers(scope),
  } satisfies HandlerTable;
}
