import { AirlockError } from '../../core/errors';
import type { ErrorCode } from '../../shared/errors';
import type { OutboxItem, OutboxPayload, OutboxRepo } from '../db/repositories/outbox.repo';
import type { ServerClient } from '../server-client';
import { ServerApiError } from '../server-client';

export {
  OutboxRepo,
  backoffMs,
  type OutboxItem,
  type OutboxKind,
  type OutboxPayload,
  type OutboxState,
} from '../db/repositories/outbox.repo';

/**
 * The outbox (ARCHITECTURE.md §7): work made offline waits here and goes out in order when the server is
 * reachable. Every item has an idempotency key and every operation is safe to repeat on the server
 * (a statement is addressed by its id, approvals by statement and key, a push answers
 * `alreadyApplied`), so a retry after a crash or a lost answer never applies anything twice.
 */

/** What one delivery run did. */
export interface DeliveryReport {
  /** Delivered items with the server's answer (a PushResult for a push). */
  readonly delivered: (OutboxItem & { readonly result: unknown })[];
  /** Refused items, with the server's sentence and its stable code. */
  readonly failed: { item: OutboxItem; error: string; code: ErrorCode }[];
  /** Set when the run stopped because the server could not be reached (items stay queued). */
  readonly waiting: { item: OutboxItem; error: string } | null;
}

/** Transient: the server is unreachable, overloaded or rate-limiting; try again later, in order. */
function isTransient(error: unknown): boolean {
  if (error instanceof ServerApiError) return error.status === 429 || error.status >= 500;
  return error instanceof AirlockError && error.code === 'IO_ERROR';
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function codeOf(error: unknown): ErrorCode {
  return error instanceof AirlockError ? (error as AirlockError).code : 'INTERNAL';
}

async function deliverOne(client: ServerClient, payload: OutboxPayload): Promise<unknown> {
  switch (payload.kind) {
    case 'upload-bundle':
      return client.uploadBundle(payload.encryptedSha256, payload.path);
    case 'submit-statement':
      try {
        return await client.submitStatement(payload.statement, payload.approvals);
      } catch (error) {
        // A repeat after a lost answer: the statement is there already, which is what we wanted.
        if (!(error instanceof ServerApiError && error.status === 409)) throw error;
        return await client.getStatement(payload.statementId);
      }
    case 'add-approvals':
      try {
        return await client.addApprovals(payload.statementId, payload.approvals);
      } catch (error) {
        if (!(error instanceof ServerApiError && error.status === 409)) throw error;
        const status = await client.getStatement(payload.statementId);
        const held = new Set(status.approvals.map((approval) => approval.keyId));
        if (!payload.approvals.every((approval) => held.has(approval.keyId))) throw error;
        return status;
      }
    case 'push':
      // A push is idempotent on the server: a repeat answers alreadyApplied (ARCHITECTURE.md §7).
      return client.push(payload.statementId, payload.approvals);
  }
}

/**
 * Sends what is due for `serverUrl`, oldest first. A transient failure stops the run (order is
 * kept and the item backs off); a refusal marks that item failed with the server's sentence and
 * the run goes on. Safe to run from two processes: each item's operation is idempotent.
 */
export async function deliverOutbox(
  repo: OutboxRepo,
  serverUrl: string,
  clientFor: (signerKeyId: string | null) => Promise<ServerClient>,
  opts: {
    now?: () => Date;
    onItem?: (item: OutboxItem, outcome: string) => void;
    /** Try now even when an item is backing off (a person asked for it: `airlock sync`). */
    force?: boolean;
  } = {},
): Promise<DeliveryReport> {
  const now = opts.now ?? (() => new Date());
  const delivered: (OutboxItem & { result: unknown })[] = [];
  const failed: { item: OutboxItem; error: string; code: ErrorCode }[] = [];
  for (const item of repo.list(['pending'])) {
    if (item.serverUrl !== serverUrl) continue;
    if (opts.force !== true && Date.parse(item.nextAttemptAt) > now().getTime()) {
      return { delivered, failed, waiting: { item, error: item.lastError ?? 'waiting to retry' } };
    }
    try {
      const result = await deliverOne(await clientFor(item.signerKeyId), item.payload);
      repo.markDelivered(item.id, now());
      delivered.push({ ...item, result });
      opts.onItem?.(item, 'delivered');
    } catch (error) {
      const message = messageOf(error);
      const code = codeOf(error);
      if (isTransient(error)) {
        repo.markRetry(item.id, message, code, now());
        opts.onItem?.(item, `waiting: ${message}`);
        return { delivered, failed, waiting: { item, error: message } };
      }
      repo.markFailed(item.id, message, code);
      failed.push({ item, error: message, code });
      opts.onItem?.(item, `failed: ${message}`);
    }
  }
  return { delivered, failed, waiting: null };
}
