import { z } from 'zod';
import { AirlockError } from '../../../core/errors';
import { isErrorCode, type ErrorCode } from '../../../shared/errors';
import { ApprovalSchema, StatementSchema } from '../../../shared/schemas';
import type { Db } from '../connection';

/**
 * The outbox's table (ARCHITECTURE.md §7): work waiting for a server, in order, each item with an
 * idempotency key; a refusal keeps the server's sentence and its stable code.
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
  /** The stable code of the last refusal or failure (src/shared/errors.ts), when there was one. */
  readonly lastErrorCode: ErrorCode | null;
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
  last_error_code: string | null;
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
    lastErrorCode: isErrorCode(row.last_error_code) ? row.last_error_code : null,
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
           last_error_code = NULL,
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
        "UPDATE outbox SET state = 'delivered', delivered_at = ?, last_error = NULL, last_error_code = NULL WHERE id = ?",
      )
      .run(now.toISOString(), id);
  }

  markRetry(id: number, error: string, code: ErrorCode, now: Date): void {
    const item = this.get(id);
    const attempts = (item?.attempts ?? 0) + 1;
    const next = new Date(now.getTime() + backoffMs(attempts));
    this.db
      .prepare(
        'UPDATE outbox SET attempts = ?, last_error = ?, last_error_code = ?, next_attempt_at = ? WHERE id = ?',
      )
      .run(attempts, error, code, next.toISOString(), id);
  }

  markFailed(id: number, error: string, code: ErrorCode): void {
    this.db
      .prepare(
        "UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ?, last_error_code = ? WHERE id = ?",
      )
      .run(error, code, id);
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
