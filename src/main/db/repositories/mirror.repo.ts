import { EMPTY_CHANNEL_STATE, nextChannelState, type ChannelState } from '../../../core/channel';
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
    const first = entries[0] as LogEntry;
    const insert = this.db.prepare(
      `INSERT INTO log_entries (server_id, app, channel, seq, statement_id, kind, version, entry_json, applied_at, proposer)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.db.transaction(() => {
      // The channel state follows the entries in the same transaction (migration 0050).
      let state = this.state(serverId, first.statement.app, first.statement.channel);
      for (const entry of entries) {
        const { statement } = entry;
        state = nextChannelState(state, entry.id, statement);
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
          statement.proposer,
        );
      }
      const { checkpoint } = last;
      this.db
        .prepare(
          `INSERT INTO checkpoints (server_id, app, channel, seq, head, time, json, root_version, fetched_at, state_json)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (server_id, app, channel) DO UPDATE SET seq = excluded.seq, head = excluded.head,
             time = excluded.time, json = excluded.json, root_version = excluded.root_version,
             fetched_at = excluded.fetched_at, state_json = excluded.state_json`,
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
          JSON.stringify(state),
        );
    })();
  }

  /**
   * The channel's state as the shared fold gives it (src/core/channel/state.ts): the release
   * devices are moved to, its rollout, the pause and rollback marks. One row; a mirror stored
   * before migration 0050 is folded once from its entries and kept.
   */
  state(serverId: number, app: string, channel: string): ChannelState {
    const row = this.db
      .prepare<[number, string, string], { state_json: string | null }>(
        `SELECT state_json FROM checkpoints WHERE ${CHANNEL}`,
      )
      .get(serverId, app, channel);
    if (row === undefined) return EMPTY_CHANNEL_STATE;
    if (row.state_json !== null) return JSON.parse(row.state_json) as ChannelState;
    let state = EMPTY_CHANNEL_STATE;
    const entries = this.db
      .prepare<[number, string, string], { statement_id: string; entry_json: string }>(
        `SELECT statement_id, entry_json FROM log_entries WHERE ${CHANNEL} ORDER BY seq`,
      )
      .iterate(serverId, app, channel);
    for (const entry of entries) {
      const { statement } = JSON.parse(entry.entry_json) as LogEntry;
      state = nextChannelState(state, entry.statement_id, statement);
    }
    this.db
      .prepare(`UPDATE checkpoints SET state_json = ? WHERE ${CHANNEL}`)
      .run(JSON.stringify(state), serverId, app, channel);
    return state;
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

  /** How many of the channel's entries match `filter` (all of them without one). */
  count(serverId: number, app: string, channel: string, filter: HistoryFilter = {}): number {
    const [where, params] = filtered(filter);
    return (
      this.db
        .prepare<unknown[], { n: number }>(
          `SELECT COUNT(*) AS n FROM log_entries WHERE ${CHANNEL}${where}`,
        )
        .get(serverId, app, channel, ...params)?.n ?? 0
    );
  }

  /** A page of the channel's entries that match `filter`, newest first. */
  page(
    serverId: number,
    app: string,
    channel: string,
    limit: number,
    offset: number,
    filter: HistoryFilter = {},
  ): MirroredEntry[] {
    const [where, params] = filtered(filter);
    return this.db
      .prepare<unknown[], EntryRow>(
        `SELECT ${ENTRY} FROM log_entries WHERE ${CHANNEL}${where} ORDER BY seq DESC LIMIT ? OFFSET ?`,
      )
      .all(serverId, app, channel, ...params, limit, offset)
      .map(fromRow);
  }

  /** Every key that proposed an entry of the channel (for filtering by who proposed). */
  proposers(serverId: number, app: string, channel: string): string[] {
    return this.db
      .prepare<[number, string, string], { proposer: string }>(
        `SELECT DISTINCT proposer FROM log_entries WHERE ${CHANNEL} AND proposer IS NOT NULL`,
      )
      .all(serverId, app, channel)
      .map((row) => row.proposer);
  }
}

/** What the history shows of a channel: every criterion given must hold. */
export interface HistoryFilter {
  readonly kind?: Statement['kind'];
  /** Part of the release's version, in any case. */
  readonly version?: string;
  /** Proposed by one of these keys, or, with `automatic`, an automatic pause. */
  readonly proposers?: readonly string[];
  readonly automatic?: boolean;
}

/** The SQL conditions (after the channel's) and their parameters for `filter`. */
function filtered(filter: HistoryFilter): [string, unknown[]] {
  const clauses: string[] = [];
  const params: unknown[] = [];
  if (filter.kind !== undefined) {
    clauses.push('kind = ?');
    params.push(filter.kind);
  }
  if (filter.version !== undefined && filter.version !== '') {
    clauses.push("version LIKE ? ESCAPE '\\'");
    params.push(`%${filter.version.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  }
  if (filter.proposers !== undefined || filter.automatic === true) {
    const who: string[] = [];
    const keys = filter.proposers ?? [];
    if (keys.length > 0) {
      who.push(`proposer IN (${keys.map(() => '?').join(', ')})`);
      params.push(...keys);
    }
    if (filter.automatic === true) {
      who.push("(kind = 'pause' AND json_extract(entry_json, '$.statement.automatic') = 1)");
    }
    clauses.push(who.length === 0 ? '0' : `(${who.join(' OR ')})`);
  }
  return [clauses.map((clause) => ` AND ${clause}`).join(''), params];
}
