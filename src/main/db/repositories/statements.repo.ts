import { statementId } from '../../../core/statement';
import type { Approval, Statement } from '../../../shared/schemas';
import type { Db } from '../connection';

/** Statements this console proposed or imported, with the approvals it holds for them. */
export interface StatementRow {
  readonly id: string;
  readonly serverId: number | null;
  readonly statement: Statement;
}

/** A statement the verified log does not hold (the inbox); `logged` is the id the log holds there. */
export interface UnappliedRow {
  readonly id: string;
  readonly url: string | null;
  readonly statement: Statement;
  readonly logged: string | null;
}

export type ApprovalSource = 'signed' | 'file' | 'server';

export class StatementsRepo {
  constructor(private readonly db: Db) {}

  /** Stores a statement (idempotent); returns its id. */
  save(statement: Statement, serverId: number | null, now: Date): string {
    const id = statementId(statement);
    this.db
      .prepare(
        `INSERT INTO statements (id, server_id, app, channel, seq, kind, json, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
      )
      .run(
        id,
        serverId,
        statement.app,
        statement.channel,
        statement.seq,
        statement.kind,
        JSON.stringify(statement),
        now.toISOString(),
      );
    return id;
  }

  get(id: string): StatementRow | null {
    const row = this.db
      .prepare<[string], { json: string; server_id: number | null }>(
        'SELECT json, server_id FROM statements WHERE id = ?',
      )
      .get(id);
    return row === undefined
      ? null
      : { id, serverId: row.server_id, statement: JSON.parse(row.json) as Statement };
  }

  approvals(id: string): Approval[] {
    return this.db
      .prepare<[string], { key_id: string; sig: string }>(
        'SELECT key_id, sig FROM approvals WHERE statement_id = ? ORDER BY added_at, key_id',
      )
      .all(id)
      .map((row) => ({ statement: id, keyId: row.key_id, sig: row.sig }));
  }

  /** Adds an approval; false when this key's approval is held already. */
  addApproval(approval: Approval, source: ApprovalSource, now: Date): boolean {
    return (
      this.db
        .prepare(
          `INSERT INTO approvals (statement_id, key_id, sig, source, added_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (statement_id, key_id) DO NOTHING`,
        )
        .run(approval.statement, approval.keyId, approval.sig, source, now.toISOString()).changes >
      0
    );
  }

  /** The app/channel pairs of a server this console follows: its statements and its mirror. */
  channelsOf(serverId: number): { app: string; channel: string }[] {
    return this.db
      .prepare<[number, number], { app: string; channel: string }>(
        `SELECT app, channel FROM statements WHERE server_id = ?
         UNION SELECT app, channel FROM checkpoints WHERE server_id = ? ORDER BY app, channel`,
      )
      .all(serverId, serverId);
  }

  /**
   * Statements not in the verified log (the inbox), newest first. One whose seq the mirror holds
   * with another id lost its place (stale). Uses the log's primary key.
   */
  unapplied(filter: {
    server?: string;
    app?: string;
    channel?: string;
    limit: number;
  }): UnappliedRow[] {
    return this.db
      .prepare<
        (string | number | null)[],
        { id: string; url: string | null; json: string; logged: string | null }
      >(
        `SELECT s.id AS id, sv.url AS url, s.json AS json, l.statement_id AS logged
         FROM statements s
         LEFT JOIN servers sv ON sv.id = s.server_id
         LEFT JOIN log_entries l ON l.server_id = s.server_id AND l.app = s.app
           AND l.channel = s.channel AND l.seq = s.seq
         WHERE (l.statement_id IS NULL OR l.statement_id != s.id)
           AND (? IS NULL OR sv.url = ?) AND (? IS NULL OR s.app = ?) AND (? IS NULL OR s.channel = ?)
         ORDER BY s.created_at DESC, s.id LIMIT ?`,
      )
      .all(
        filter.server ?? null,
        filter.server ?? null,
        filter.app ?? null,
        filter.app ?? null,
        filter.channel ?? null,
        filter.channel ?? null,
        filter.limit,
      )
      .map((row) => ({
        id: row.id,
        url: row.url,
        statement: JSON.parse(row.json) as Statement,
        logged: row.logged,
      }));
  }
}
