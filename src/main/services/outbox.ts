import { z } from 'zod';
import { AirlockError } from '../../core/errors';
import { ApprovalSchema, StatementSchema } from '../../shared/schemas';
import type { Db } from '../db/connection';
import type { ServerClient } from '../server-client';
import { ServerApiError } from '../server-client';

/**
 * The outbox (ARCHITECTURE.md §7): work made offline waits here and goes out in order when the server is
 * reachable. Every item has an idempotency key and every operation is safe to repeat on the server
 * (a statement is addressed by its id, approvals by statement and key, a push answers
 * `alreadyApplied`), so a retry after a crash or a lost answer never applies anything twice.
 */

const PayloadSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('upload-bundle'),
    encryptedSha256: z.string(),
    path: z.string(),
  }),
  z.strictObject({
    kind: z.literal('submit-statement'),
    statementId: z.string(),
    statement: StatementSchema,
    approvals: z.array(ApprovalSchema),
  }),
  z.strictObject({
    kind: z.literal('add-approvals'),
    statementId: z.string(),
    approvals: z.array(ApprovalSchema).min(1),
  }),
  z.strictObject({
    kind: z.literal('push'),
    statementId: z.string(),
    approvals: z.array(ApprovalSchema),
  }),
]);
export type OutboxPayload = z.infer<typeof PayloadSchema>;
export type OutboxKind = OutboxPayload['kind'];

export type OutboxState = 'pending' | 'delivered' | 'failed';

export interface OutboxItem {
  readonly id: number;
  readonly idempotencyKey: string;
  readonly serverUrl: string;
  /** The identity key that signs the request, or null for whichever the caller picks. */
  readonly signerKeyId: string | null;
  readonly payload: OutboxPayload;
  readonly state: OutboxState;
  readonly attempts: number;
  readonly nextAttemptAt: string;
  readonly lastError: string | null;
  readonly createdAt: string;
  readonly deliveredAt: string | null;
}

interface OutboxRow {
  id: number;
  idempotency_key: string;
  server_url: string;
  signer_key_id: string | null;
  kind: string;
  payload_json: string;
  state: OutboxState;
  attempts: number;
  next_attempt_at: string;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
}

function fromRow(row: OutboxRow): OutboxItem {
  return {
    id: row.id,
    idempotencyKey: row.idempotency_key,
    serverUrl: row.server_url,
    signerKeyId: row.signer_key_id,
    payload: PayloadSchema.parse(JSON.parse(row.payload_json)),
    state: row.state,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    lastError: row.last_error,
    createdAt: row.created_at,
    deliveredAt: row.delivered_at,
  };
}

/** Backoff before attempt `attempts + 1`: 2 s doubling to 5 minutes (no thundering retries). */
export function backoffMs(attempts: number): number {
  return Math.min(5 * 60_000, 2_000 * 2 ** Math.max(0, attempts - 1));
}

export class OutboxRepo {
  constructor(private readonly db: Db) {}

  /**
   * Queues `payload` for `serverUrl`. The idempotency key defaults to one derived from the payload,
   * so queueing the same work twice keeps one item; queueing it again after it was delivered or
   * refused sends it again (every operation is idempotent on the server).
   */
  enqueue(
    serverUrl: string,
    payload: OutboxPayload,
    signerKeyId: string | null,
    now = new Date(),
    key?: string,
  ): OutboxItem {
    const idempotencyKey = key ?? defaultKey(payload);
    const parsed = PayloadSchema.parse(payload);
    this.db
      .prepare(
        `INSERT INTO outbox (idempotency_key, server_url, signer_key_id, kind, payload_json, state, next_attempt_at, created_at)
         VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)
         ON CONFLICT (idempotency_key) DO UPDATE SET
           state = 'pending', payload_json = excluded.payload_json, last_error = NULL,
           attempts = CASE WHEN outbox.state = 'pending' THEN outbox.attempts ELSE 0 END,
           next_attempt_at = excluded.next_attempt_at`,
      )
      .run(
        idempotencyKey,
        serverUrl,
        signerKeyId,
        parsed.kind,
        JSON.stringify(parsed),
        now.toISOString(),
        now.toISOString(),
      );
    const row = this.db
      .prepare<[string], OutboxRow>('SELECT * FROM outbox WHERE idempotency_key = ?')
      .get(idempotencyKey);
    if (row === undefined) throw new AirlockError('INTERNAL', 'The outbox item was not stored.');
    return fromRow(row);
  }

  list(states: readonly OutboxState[] = ['pending', 'failed']): OutboxItem[] {
    const placeholders = states.map(() => '?').join(', ');
    return this.db
      .prepare<string[], OutboxRow>(
        `SELECT * FROM outbox WHERE state IN (${placeholders}) ORDER BY id`,
      )
      .all(...states)
      .map(fromRow);
  }

  get(id: number): OutboxItem | null {
    const row = this.db.prepare<[number], OutboxRow>('SELECT * FROM outbox WHERE id = ?').get(id);
    return row === undefined ? null : fromRow(row);
  }

  markDelivered(id: number, now: Date): void {
    this.db
      .prepare(
        "UPDATE outbox SET state = 'delivered', delivered_at = ?, last_error = NULL WHERE id = ?",
      )
      .run(now.toISOString(), id);
  }

  markRetry(id: number, error: string, now: Date): void {
    const item = this.get(id);
    const attempts = (item?.attempts ?? 0) + 1;
    const next = new Date(now.getTime() + backoffMs(attempts));
    this.db
      .prepare('UPDATE outbox SET attempts = ?, last_error = ?, next_attempt_at = ? WHERE id = ?')
      .run(attempts, error, next.toISOString(), id);
  }

  markFailed(id: number, error: string): void {
    this.db
      .prepare(
        "UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ? WHERE id = ?",
      )
      .run(error, id);
  }

  /** Puts a failed item back in the queue, to be tried at once. */
  retry(id: number, now = new Date()): void {
    const changed = this.db
      .prepare(
        "UPDATE outbox SET state = 'pending', next_attempt_at = ? WHERE id = ? AND state != 'delivered'",
      )
      .run(now.toISOString(), id).changes;
    if (changed === 0)
      throw new AirlockError('NOT_FOUND', `No pending or failed outbox item ${id}.`);
  }
}

function defaultKey(payload: OutboxPayload): string {
  switch (payload.kind) {
    case 'upload-bundle':
      return `upload:${payload.encryptedSha256}`;
    case 'submit-statement':
      return `submit:${payload.statementId}`;
    case 'add-approvals':
      return `approve:${payload.statementId}:${payload.approvals
        .map((a) => a.keyId)
        .sort()
        .join(',')}`;
    case 'push':
      return `push:${payload.statementId}`;
  }
}

/** What one delivery run did. */
export interface DeliveryReport {
  /** Delivered items with the server's answer (a PushResult for a push). */
  readonly delivered: (OutboxItem & { readonly result: unknown })[];
  readonly failed: { item: OutboxItem; error: string }[];
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
  const failed: { item: OutboxItem; error: string }[] = [];
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
      if (isTransient(error)) {
        repo.markRetry(item.id, message, now());
        opts.onItem?.(item, `waiting: ${message}`);
        return { delivered, failed, waiting: { item, error: message } };
      }
      repo.markFailed(item.id, message);
      failed.push({ item, error: message });
      opts.onItem?.(item, `failed: ${message}`);
    }
  }
  return { delivered, failed, waiting: null };
}
