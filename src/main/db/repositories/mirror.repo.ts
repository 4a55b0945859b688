import type { LogEntry, SignedCheckpoint, Statement } from '../../../shared/schemas';
import { SignedCheckpointSchema } from '../../../shared/schemas';
import type { Db } from '../connection';

/**
 * The verified log mirror (ARCHITECTURE.md §3, §7): entries verified by src/main/services/mirror.ts
 * before they are stored, and each channel's newest verified checkpoint. Nothing here verifies;
 * nothing else writes these tables.
 */

export interface MirrorHead {
  readonly seq: number;
  readonly head: string;
  readonly rootVersion: number;
  readonly checkpoint: SignedCheckpoint;
}

export interface MirroredEntry {
  readonly seq: number;
  readonly id: string;
  readonly kind: Statement['kind'];
  readonly appliedAt: string;
  readonly entry: LogEntry;
}

interface EntryRow {
  seq: number;
  statement_id: string;
  kind: Statement['kind'];
  entry_json: string;
  applied_at: string;
}

function fromRow(row: EntryRow): MirroredEntry {
  return {
    seq: row.seq,
    id: row.statement_id,
    kind: row.kind,
    appliedAt: row.applied_at,
    entry: JSON.parse(row.entry_json) as LogEntry,
  };
}

const ENTRY = 'seq, statement_id, kind, entry_json, applied_at';
const CHANNEL = 'server_id = ? AND app = ? AND channel = ?';

export class MirrorRepo {
  constructor(private readonly db: Db) {}

  head(serverId: number, app: string, channel: string): MirrorHead | null {
    const row = this.db
      .prepare<
        [number, string, string],
        { seq: number; head: string; json: string; root_version: number }
      >(`SELECT seq, head, json, root_version FROM checkpoints WHERE ${CHANNEL}`)
      .get(serverId, app, channel);
    if (row === undefined) return null;
    return {
      seq: row.seq,
      head: row.head,
      rootVersion: row.root_version,
      checkpoint: SignedCheckpointSchema.parse(JSON.parse(row.json)),
    };
  }

  /** Stores verified entries and the head after them, in one transaction. */
  store(
    serverId: number,
    entries: readonly LogEntry[],
    head: { seq: number; head: string; rootVersion: number },
    now: Date,
  ): void {
    const last = entries.at(-1);
    if (last === undefined) return;
    const insert = this.db.prepare(
      `INSERT INTO log_entries (server_id, app, channel, seq, statement_id, kind, version, entry_json, applied_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.db.transaction(() => {
      for (const entry of entries) {
        const { statement } = entry;
        insert.run(
          serverId,
          statement.app,
          statement.channel,
          entry.seq,
          entry.id,
          statement.kind,
          statement.kind === 'release' ? statement.release.version : null,
          JSON.stringify(entry),
          entry.appliedAt,
        );
      }
      const { checkpoint } = last;
      this.db
        .prepare(
          `INSERT INTO checkpoints (server_id, app, channel, seq, head, time, json, root_version, fetched_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (server_id, app, channel) DO UPDATE SET seq = excluded.seq, head = excluded.head,
             time = excluded.time, json = excluded.json, root_version = excluded.root_version,
             fetched_at = excluded.fetched_at`,
        )
        .run(
          serverId,
          checkpoint.checkpoint.app,
          checkpoint.checkpoint.channel,
          head.seq,
          head.head,
          checkpoint.checkpoint.time,
          JSON.stringify(checkpoint),
          head.rootVersion,
          now.toISOString(),
        );
    })();
  }

  /** The stored JSON of the entry at `seq` (to compare with what a server serves again). */
  entryJsonAt(serverId: number, app: string, channel: string, seq: number): string | null {
    const row = this.db
      .prepare<[number, string, string, number], { entry_json: string }>(
        `SELECT entry_json FROM log_entries WHERE ${CHANNEL} AND seq = ?`,
      )
      .get(serverId, app, channel, seq);
    return row?.entry_json ?? null;
  }

  /** The id the log holds at `seq`, or null. */
  idAt(serverId: number, app: string, channel: string, seq: number): string | null {
    const row = this.db
      .prepare<[number, string, string, number], { statement_id: string }>(
        `SELECT statement_id FROM log_entries WHERE ${CHANNEL} AND seq = ?`,
      )
      .get(serverId, app, channel, seq);
    return row?.statement_id ?? null;
  }

  /** A mirrored entry by its statement id. */
  entry(serverId: number, id: string): MirroredEntry | null {
    const row = this.db
      .prepare<[number, string], EntryRow>(
        `SELECT ${ENTRY} FROM log_entries WHERE server_id = ? AND statement_id = ?`,
      )
      .get(serverId, id);
    return row === undefined ? null : fromRow(row);
  }

  /** The newest release or rollback of the channel: what decides the release devices get. */
  lastReleaseOrRollback(serverId: number, app: string, channel: string): MirroredEntry | null {
    const row = this.db
      .prepare<[number, string, string], EntryRow>(
        `SELECT ${ENTRY} FROM log_entries WHERE ${CHANNEL} AND kind IN ('release', 'rollback')
         ORDER BY seq DESC LIMIT 1`,
      )
      .get(serverId, app, channel);
    return row === undefined ? null : fromRow(row);
  }

  /** The newest applied release with this statement id or version, or null. */
  findRelease(
    serverId: number,
    app: string,
    channel: string,
    by: { id: string } | { version: string },
  ): MirroredEntry | null {
    const [column, value] = 'id' in by ? ['statement_id', by.id] : ['version', by.version];
    const row = this.db
      .prepare<[number, string, string, string], EntryRow>(
        `SELECT ${ENTRY} FROM log_entries WHERE ${CHANNEL} AND kind = 'release' AND ${column} = ?
         ORDER BY seq DESC LIMIT 1`,
      )
      .get(serverId, app, channel, value);
    return row === undefined ? null : fromRow(row);
  }

  /** Every version the channel released (for "greater than every earlier release"). */
  releasedVersions(serverId: number, app: string, channel: string): string[] {
    return this.db
      .prepare<[number, string, string], { version: string }>(
        `SELECT version FROM log_entries WHERE ${CHANNEL} AND kind = 'release' ORDER BY seq`,
      )
      .all(serverId, app, channel)
      .map((row) => row.version);
  }

  count(serverId: number, app: string, channel: string): number {
    return (
      this.db
        .prepare<[number, string, string], { n: number }>(
          `SELECT COUNT(*) AS n FROM log_entries WHERE ${CHANNEL}`,
        )
        .get(serverId, app, channel)?.n ?? 0
    );
  }

  /** A page of the channel's entries, newest first. */
  page(
    serverId: number,
    app: string,
    channel: string,
    limit: number,
    offset: number,
  ): MirroredEntry[] {
    return this.db
      .prepare<[number, string, string, number, number], EntryRow>(
        `SELECT ${ENTRY} FROM log_entries WHERE ${CHANNEL} ORDER BY seq DESC LIMIT ? OFFSET ?`,
      )
      .all(serverId, app, channel, limit, offset)
      .map(fromRow);
  }
}
