import type { Db } from '../connection';

/**
 * What the log mirror found wrong (ARCHITECTURE.md §3): recorded with its evidence, never
 * overwriting verified data.
 */

export const FINDING_KINDS = [
  'modified',
  'dropped-or-reordered',
  'fork',
  'rollback',
  'freeze',
  'invalid',
  'root',
] as const;
export type FindingKind = (typeof FINDING_KINDS)[number];

export interface Finding {
  readonly kind: FindingKind;
  readonly app: string;
  readonly channel: string;
  readonly seq: number | null;
  readonly message: string;
}

export class FindingsRepo {
  constructor(private readonly db: Db) {}

  record(serverId: number, finding: Finding, evidence: unknown, now: Date): void {
    this.db
      .prepare(
        `INSERT INTO mirror_findings (server_id, app, channel, kind, seq, message, evidence_json, found_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        serverId,
        finding.app,
        finding.channel,
        finding.kind,
        finding.seq,
        finding.message,
        JSON.stringify(evidence ?? null),
        now.toISOString(),
      );
  }

  /** Findings recorded for a server, newest first. */
  list(serverId: number): (Finding & { foundAt: string })[] {
    return this.db
      .prepare<
        [number],
        {
          kind: FindingKind;
          app: string;
          channel: string;
          seq: number | null;
          message: string;
          found_at: string;
        }
      >(
        'SELECT kind, app, channel, seq, message, found_at FROM mirror_findings WHERE server_id = ? ORDER BY id DESC',
      )
      .all(serverId)
      .map((row) => ({
        kind: row.kind,
        app: row.app,
        channel: row.channel,
        seq: row.seq,
        message: row.message,
        foundAt: row.found_at,
      }));
  }
}
