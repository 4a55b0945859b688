import { canonicalize, sha256Hex } from '../../../core/crypto';
import type { Db } from '../connection';

/**
 * The local audit trail (ARCHITECTURE.md §7, issue 4): every action a person takes in this console is an
 * entry whose hash covers the previous entry's hash, so an edited, dropped or reordered entry
 * breaks the chain from that point on.
 */
export const AUDIT_ACTIONS = [
  'key.created',
  'key.imported',
  'key.deleted',
  'key.backed_up',
  'key.restored',
  'server.connected',
  'server.root_updated',
  'bundle.built',
  'bundle.encrypted',
  'statement.proposed',
  'approval.signed',
  'approval.imported',
  'request.exported',
  'request.imported',
  'approval.exported',
  'push.queued',
  'push.delivered',
  'push.failed',
  'mirror.finding',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** The hash before the first entry. */
export const AUDIT_GENESIS = '0'.repeat(64);

export interface AuditEntry {
  readonly seq: number;
  readonly time: string;
  /** Who acted: an identity key id, or `local` when no identity was involved. */
  readonly actor: string;
  readonly action: AuditAction;
  readonly details: Record<string, unknown>;
  readonly prevHash: string;
  readonly hash: string;
}

interface AuditRow {
  seq: number;
  time: string;
  actor: string;
  action: string;
  details_json: string;
  prev_hash: string;
  hash: string;
}

/** The hash of one entry: SHA-256 over the previous hash and the canonical JSON of its content. */
export function auditHash(
  prevHash: string,
  entry: Pick<AuditEntry, 'seq' | 'time' | 'actor' | 'action' | 'details'>,
): string {
  const content = canonicalize({
    seq: entry.seq,
    time: entry.time,
    actor: entry.actor,
    action: entry.action,
    details: entry.details,
  });
  return sha256Hex(`airlock/audit/v1\n${prevHash}\n${content}`);
}

function fromRow(row: AuditRow): AuditEntry {
  return {
    seq: row.seq,
    time: row.time,
    actor: row.actor,
    action: row.action as AuditAction,
    details: JSON.parse(row.details_json) as Record<string, unknown>,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

export type AuditVerdict =
  | { readonly ok: true; readonly entries: number; readonly head: string }
  | {
      readonly ok: false;
      readonly entries: number;
      readonly brokenAt: number;
      readonly reason: string;
    };

export class AuditRepo {
  constructor(private readonly db: Db) {}

  /**
   * Appends an entry linked to the last one, inside the caller's transaction when there is one
   * (so the action and its audit entry commit together).
   */
  append(
    action: AuditAction,
    actor: string,
    details: Record<string, unknown>,
    now = new Date(),
  ): AuditEntry {
    return this.db.transaction(() => {
      const last = this.db
        .prepare<[], { seq: number; hash: string }>(
          'SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1',
        )
        .get();
      const seq = (last?.seq ?? 0) + 1;
      const prevHash = last?.hash ?? AUDIT_GENESIS;
      const time = now.toISOString();
      const hash = auditHash(prevHash, { seq, time, actor, action, details });
      this.db
        .prepare(
          'INSERT INTO audit (seq, time, actor, action, details_json, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)',
        )
        .run(seq, time, actor, action, canonicalize(details), prevHash, hash);
      return { seq, time, actor, action, details, prevHash, hash };
    })();
  }

  /** Entries in order, `limit` at a time after `afterSeq` (newest last). */
  list(afterSeq = 0, limit = 1000): AuditEntry[] {
    return this.db
      .prepare<[number, number], AuditRow>('SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT ?')
      .all(afterSeq, limit)
      .map(fromRow);
  }

  /**
   * Walks the whole chain and reports the first broken link: a gap in the numbering, a `prev_hash`
   * that is not the previous entry's hash, or a hash that does not match the entry's content.
   */
  verify(): AuditVerdict {
    let expectedSeq = 1;
    let prevHash = AUDIT_GENESIS;
    let entries = 0;
    const rows = this.db.prepare<[], AuditRow>('SELECT * FROM audit ORDER BY seq').iterate();
    for (const row of rows) {
      entries += 1;
      const broken = (reason: string): AuditVerdict => ({
        ok: false,
        entries,
        brokenAt: row.seq,
        reason,
      });
      if (row.seq !== expectedSeq) {
        return broken(`entry ${expectedSeq} is missing (the next one is ${row.seq})`);
      }
      if (row.prev_hash !== prevHash) {
        return broken(`entry ${row.seq} does not link to entry ${row.seq - 1}`);
      }
      let details: Record<string, unknown>;
      try {
        details = JSON.parse(row.details_json) as Record<string, unknown>;
      } catch {
        return broken(`entry ${row.seq} has unreadable details`);
      }
      const recomputed = auditHash(prevHash, {
        seq: row.seq,
        time: row.time,
        actor: row.actor,
        action: row.action as AuditAction,
        details,
      });
      if (recomputed !== row.hash)
        return broken(`entry ${row.seq} was changed after it was written`);
      prevHash = row.hash;
      expectedSeq += 1;
    }
    return { ok: true, entries, head: prevHash };
  }
}
