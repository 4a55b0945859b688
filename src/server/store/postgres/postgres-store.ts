import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { AirlockError, canonicalize, rootId } from '../../../core';
import { nextChannelState, type ChannelState } from '../../../core/channel';
import type { BundleFile } from '../../../core/bundle';
import type {
  Approval,
  ChannelSettings,
  ChannelStatus,
  LogEntry,
  LogPage,
  ServerKey,
  SignedCheckpoint,
  SignedTrustRoot,
  Statement,
  TrustRoot,
} from '../../../shared/schemas';
import { ChannelSettingsSchema } from '../../../shared/schemas/server-api';
import { FAILURE_ACTIONS, SUCCESS_ACTIONS } from '../../device/stats-actions';
import type { ServerSigner } from '../../server-key';
import type { BlobStore } from '../blobs';
import type { Evidence, EvidenceLimits, OutcomeReport, StatsRow } from '../device-store';
import {
  automaticPause,
  channelStatusOf,
  deviceView,
  foldOutcomes,
  groupHealth,
  HEAD_RESIGN_MS,
  headIsFresh,
  logEntryOf,
  signCheckpoint,
  signHead,
  type ChannelRecord,
  type HealthRow,
  type LogRow,
} from '../rules';
import type {
  ApplyInput,
  ApplyOutcome,
  NewApp,
  NewChannel,
  ServerStore,
  StoredStatement,
  VersionOutcomes,
} from '../types';
import { InMemoryViews } from '../views';
import { EVIDENCE_LOCK, migratePostgres, ROOT_LOCK } from './migrations';

/**
 * The PostgreSQL store (issue 15): the same ServerStore as the embedded SQLite one, for several
 * stateless server processes on one database.
 *
 * - Device-facing reads (`channel`, `servable`, …) come from memory, as in the SQLite store: no
 *   query on the /updates path. Each process keeps its views current by LISTEN on one channel,
 *   to which every change is NOTIFYed inside its transaction (delivered at commit), and by a
 *   periodic re-read as a safety net for a notification lost with a dropped connection.
 * - Every write decides in the database, not in a process's memory: applying re-checks seq, prev
 *   and the trust-root version inside its transaction (the channel row locked, the root lock held
 *   shared); nonces are an insert-if-absent on a primary key; the automatic pause is one more
 *   apply, so only one process's pause lands.
 * - The head checkpoint is re-signed once per interval for the deployment (`heads`), stats are
 *   buffered per process and flushed in batches.
 */

export interface PostgresStoreOptions {
  /** The clock for changes the server makes by itself (automatic pauses, head checkpoints). */
  readonly now?: () => Date;
  /** Where bundle bytes live (required: a database holds no bundle folder). */
  readonly blobs: BlobStore;
  /** The periodic re-read's interval (default 2 s). */
  readonly resyncMs?: number;
  /** How often buffered stats are written (default 1 s). */
  readonly statsFlushMs?: number;
  /** Connections in the pool (default 10). */
  readonly poolSize?: number;
  /** Reports background failures (re-read, stats flush, lost LISTEN connection). */
  readonly onError?: (what: string, error: unknown) => void;
}

/** `postgres://USER@HOST:PORT/DB`, plus the rest of a pg config (tests pass the password). */
export type PostgresTarget = string | pg.PoolConfig;

interface ChannelRow {
  id: number;
  app: string;
  name: string;
  settings: string;
  seq: number;
  head: string | null;
  current_release: string | null;
  rollout_percent: number | null;
  paused: boolean;
  rolled_back: boolean;
  counting_since: number;
  bundle_public_key: string | null;
  bundle_key_id: string | null;
}

const NOTIFY_CHANNEL = 'airlock_changes';
const NONCE_SWEEP_EVERY = 64;
/** Reads and applies of one automatic pause, when others keep taking the next position. */
const PAUSE_ATTEMPTS = 3;
/** Callers folded into one evidence transaction at most, and waiting per channel at most. */
const OUTCOME_BATCH_MAX = 500;
const OUTCOME_QUEUE_MAX = 20_000;
/** Rows of earlier evidence periods dropped per stats write (see dropOldEvidence). */
const EVIDENCE_DROP_BATCH = 500;
/** Buffered stats rows that trigger a flush before the timer. */
const STATS_FLUSH_ROWS = 5_000;
/** The re-read looks this far behind its last run for rows a lost notification named. */
const RESYNC_OVERLAP_SECONDS = 120;
const LISTEN_RETRY_MS = 1_000;
const UNIQUE_VIOLATION = '23505';
const FOREIGN_KEY_VIOLATION = '23503';

const INT8_OID = 20;
const NUMERIC_OID = 1700;

/** bigint and numeric as JavaScript numbers: every count and hour here fits in 2^53. */
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number): ((value: string) => unknown) =>
    oid === INT8_OID || oid === NUMERIC_OID
      ? Number
      : (pg.types.getTypeParser(oid, 'text') as (
          value: string,
        ) => unknown)) as pg.CustomTypesConfig['getTypeParser'],
};

/**
 * Checks `--database`: a `postgres://` (or `postgresql://`) URL naming a host and database, with
 * no password (a command line is visible to every local user through ps): the password comes
 * from PGPASSWORD or ~/.pgpass, as for psql. Returns the URL as given.
 * @throws AirlockError INVALID_ARGUMENT
 */
export function parseDatabaseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new AirlockError('INVALID_ARGUMENT', '--database must be postgres://USER@HOST:PORT/DB.');
  }
  if ((url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') || url.hostname === '') {
    throw new AirlockError('INVALID_ARGUMENT', '--database must be postgres://USER@HOST:PORT/DB.');
  }
  if (url.password !== '') {
    throw new AirlockError(
      'INVALID_ARGUMENT',
      '--database carries a password: put it in PGPASSWORD or ~/.pgpass instead (other users can read command lines).',
    );
  }
  if (url.pathname.length <= 1) {
    throw new AirlockError(
      'INVALID_ARGUMENT',
      '--database names no database: postgres://USER@HOST:PORT/DB.',
    );
  }
  return text;
}

/** The URL without anything secret, for the start line. */
export function describeTarget(target: PostgresTarget): string {
  if (typeof target !== 'string') {
    return `postgres://${target.user ?? ''}@${target.host ?? ''}:${target.port ?? 5432}/${target.database ?? ''}`;
  }
  const url = new URL(target);
  url.password = '';
  return url.toString();
}

/** Connecting may take this long; a statement this long (server side, then client side). */
const CONNECT_TIMEOUT_MS = 10_000;
const STATEMENT_TIMEOUT_MS = 30_000;

/**
 * Every connection is bounded in time (a hung query must not freeze a process's views or hold a
 * pool slot for ever) and kept alive at the TCP level (a half-open LISTEN socket is noticed).
 */
function poolConfig(target: PostgresTarget, max: number): pg.PoolConfig {
  const base = typeof target === 'string' ? { connectionString: target } : target;
  return {
    max,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    query_timeout: STATEMENT_TIMEOUT_MS + 5_000,
    idle_in_transaction_session_timeout: STATEMENT_TIMEOUT_MS,
    keepAlive: true,
    ...base,
    types: TYPES,
  };
}

function pgCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error
    ? String(error.code)
    : undefined;
}

function unavailable(error: unknown): Error {
  if (error instanceof AirlockError) return error as Error;
  return new AirlockError('IO_ERROR', 'The PostgreSQL database cannot be reached.', {
    cause: error,
  });
}

function recordOf(row: ChannelRow): ChannelRecord {
  return {
    id: row.id,
    app: row.app,
    name: row.name,
    settings: ChannelSettingsSchema.parse(JSON.parse(row.settings)),
    state: stateOf(row),
  };
}

function stateOf(row: ChannelRow): ChannelState {
  return {
    seq: row.seq,
    head: row.head,
    currentRelease: row.current_release,
    rolloutPercent: row.rollout_percent,
    paused: row.paused,
    rolledBack: row.rolled_back,
    countingSince: row.counting_since,
  };
}

const LOG_COLUMNS = `l.seq, l.statement, s.body, l.approvals, l.server_sig, l.applied_at, l.checkpoint, l.root_version`;

/** One caller's reports waiting for its channel's next evidence transaction. */
interface OutcomeItem {
  readonly source: string;
  readonly reports: readonly OutcomeReport[];
  readonly limits: EvidenceLimits;
  resolve(evidence: Evidence | null): void;
  reject(error: Error): void;
}

interface OutcomeQueue {
  readonly app: string;
  readonly channel: string;
  readonly since: number;
  readonly items: OutcomeItem[];
  running: boolean;
}

/** A client inside BEGIN … COMMIT; `notify` queues a payload delivered at commit. */
interface Tx {
  query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
  notify(payload: string): Promise<void>;
}

/**
 * Creates the schema and stores trust root version 1 and the server key's public half
 * (`airlock server init --database`). Refuses (ALREADY_EXISTS) a database that holds a server.
 */
export async function initializePostgres(
  target: PostgresTarget,
  first: SignedTrustRoot,
  serverKey: ServerKey,
  now: Date,
): Promise<void> {
  const pool = new pg.Pool(poolConfig(target, 1));
  try {
    await migratePostgres(pool).catch((error: unknown) => {
      throw unavailable(error);
    });
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [ROOT_LOCK]);
      const existing = await client.query('SELECT 1 FROM roots LIMIT 1');
      if (existing.rowCount !== 0) {
        throw new AirlockError(
          'ALREADY_EXISTS',
          'This database holds an Airlock server already; start more processes on it with "airlock server start --database" and a copy of its server key.',
        );
      }
      await client.query(
        'INSERT INTO server_meta (server_key_id, server_public_key, created_at) VALUES ($1, $2, $3)',
        [serverKey.keyId, serverKey.publicKey, now.toISOString()],
      );
      await client.query(
        'INSERT INTO roots (version, signed, root_id, added_at) VALUES ($1, $2, $3, $4)',
        [first.root.version, canonicalize(first), rootId(first.root), now.toISOString()],
      );
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  } finally {
    await pool.end();
  }
}

/**
 * Opens the store: migrates (under the advisory lock), checks that the database was initialised
 * for this server key, loads the device views and starts following other processes' changes.
 * @example const store = await openPostgresStore('postgres://airlock@db:5432/airlock', signer, { blobs });
 */
export async function openPostgresStore(
  target: PostgresTarget,
  signer: ServerSigner,
  options: PostgresStoreOptions,
): Promise<PostgresServerStore> {
  const store = new PostgresServerStore(target, signer, options);
  try {
    await store.open();
  } catch (error) {
    await store.close();
    throw unavailable(error);
  }
  return store;
}

export class PostgresServerStore extends InMemoryViews implements ServerStore {
  readonly serverKey: ServerKey;
  readonly blobs: BlobStore;
  private readonly pool: pg.Pool;
  /**
   * Connections for following changes (notifications, re-reads), apart from the requests' pool:
   * a wave of requests cannot delay what every process must see within a second.
   */
  private readonly cachePool: pg.Pool;
  private readonly listenConfig: pg.ClientConfig;
  private readonly now: () => Date;
  private readonly onError: (what: string, error: unknown) => void;
  /**
   * This store's name among the deployment's: it tags its notifications (so that it skips
   * re-reading its own changes) and its connections' application_name in pg_stat_activity.
   */
  readonly origin = randomBytes(6).toString('hex');
  private root: TrustRoot | null = null;
  private rootVersion = 0;
  /** Channel records by id (seq, head and settings, for channelStatus and change detection). */
  private readonly records = new Map<number, ChannelRecord>();
  private readonly headCache = new Map<number, SignedCheckpoint>();
  private pendingStats = new Map<string, StatsRow>();
  /** Evidence waiting per channel and period (recordOutcomes' group commit). */
  private readonly outcomeQueues = new Map<string, OutcomeQueue>();
  private flushQueued = false;
  private flushing: Promise<void> = Promise.resolve();
  /** Cache changes run one at a time, in order (a later read never loses to an earlier one). */
  private cacheQueue: Promise<void> = Promise.resolve();
  private nonceWrites = 0;
  private lastResync: string | null = null;
  private resyncing = false;
  /** When this store NOTIFYed itself a ping not heard back yet (the LISTEN connection's health). */
  private pingSince: number | null = null;
  private listener: pg.Client | null = null;
  private readonly timers: NodeJS.Timeout[] = [];
  private closed = false;
  private closing: Promise<void> | null = null;

  constructor(
    target: PostgresTarget,
    private readonly signer: ServerSigner,
    private readonly options: PostgresStoreOptions,
  ) {
    super();
    this.serverKey = signer.info;
    this.blobs = options.blobs;
    this.now = options.now ?? (() => new Date());
    this.onError = options.onError ?? (() => undefined);
    const config = poolConfig(target, options.poolSize ?? 10);
    // Named in pg_stat_activity, so that an operator sees which connections are whose.
    this.listenConfig = { ...config, application_name: `airlock listen ${this.origin}` };
    this.pool = new pg.Pool({ ...config, application_name: `airlock ${this.origin}` });
    this.cachePool = new pg.Pool({
      ...config,
      max: 2,
      application_name: `airlock follow ${this.origin}`,
    });
    // An idle client's error (e.g. the server restarted) must not crash the process.
    this.pool.on('error', (error) => this.onError('postgres pool', error));
    this.cachePool.on('error', (error) => this.onError('postgres pool', error));
  }

  /** Migrates, checks the server key, loads every cache and starts listening. */
  async open(): Promise<void> {
    await migratePostgres(this.pool);
    const meta = await this.pool.query<{ server_key_id: string }>(
      'SELECT server_key_id FROM server_meta',
    );
    const keyId = meta.rows[0]?.server_key_id;
    if (keyId === undefined) {
      throw new AirlockError(
        'NOT_FOUND',
        'The database holds no Airlock server; run "airlock server init --database …" first.',
      );
    }
    if (keyId !== this.serverKey.keyId) {
      // Every process of a deployment signs with one key (the checkpoint chain names it).
      throw new AirlockError(
        'KEY_INVALID',
        `The database was initialised for server key ${keyId}, not ${this.serverKey.keyId}: copy that server's server-key.json into this data directory.`,
      );
    }
    await this.listen();
    await this.resync(true);
    const resyncMs = this.options.resyncMs ?? 2_000;
    const resync = setInterval(() => {
      // One re-read at a time: a slow database must not pile them up in the queue.
      if (this.resyncing) return;
      this.resyncing = true;
      this.checkListener(resyncMs);
      this.queueCache(() => this.resync(false))
        .catch((error: unknown) => this.onError('periodic re-read', error))
        .finally(() => {
          this.resyncing = false;
        });
    }, resyncMs);
    const flush = setInterval(() => {
      this.flushStats().catch((error: unknown) => this.onError('stats flush', error));
    }, this.options.statsFlushMs ?? 1_000);
    resync.unref();
    flush.unref();
    this.timers.push(resync, flush);
  }

  // -------------------------------------------------------------------------------------------
  // Following changes

  private async listen(): Promise<void> {
    const client = new pg.Client(this.listenConfig);
    client.on('notification', (message) => {
      if (message.channel !== NOTIFY_CHANNEL || message.payload === undefined) return;
      this.queueCache(() => this.onNotification(message.payload ?? '')).catch((error: unknown) =>
        this.onError('change notification', error),
      );
    });
    const lost = (error?: unknown): void => {
      if (this.listener !== client) return;
      this.listener = null;
      void client.end().catch(() => undefined);
      if (this.closed) return;
      this.onError('LISTEN connection', error ?? new Error('connection ended'));
      this.relisten();
    };
    client.on('error', lost);
    client.on('end', () => lost());
    this.listener = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${NOTIFY_CHANNEL}`);
    } catch (error) {
      if (this.listener === client) this.listener = null;
      void client.end().catch(() => undefined);
      throw error;
    }
  }

  /**
   * Listens again after a pause, then re-reads everything (notifications sent while no
   * connection listened are lost); retries until it works or the store closes.
   */
  private relisten(): void {
    const retry = setTimeout(() => {
      if (this.closed) return;
      this.listen().then(
        () => {
          this.queueCache(() => this.resync(true)).catch((error: unknown) =>
            this.onError('re-read after reconnecting', error),
          );
        },
        (error: unknown) => {
          this.onError('LISTEN reconnect', error);
          this.relisten();
        },
      );
    }, LISTEN_RETRY_MS);
    retry.unref();
  }

  /**
   * A LISTEN connection can be half open (no error, no notifications): the store NOTIFYs itself a
   * ping at each re-read, and one not heard back within two intervals means the connection is
   * dead; it is dropped and listened again (which re-reads everything).
   */
  private checkListener(intervalMs: number): void {
    const listener = this.listener;
    if (listener === null || this.closed) return;
    const now = performance.now();
    if (this.pingSince !== null && now - this.pingSince > 2 * intervalMs) {
      this.pingSince = null;
      this.onError('LISTEN connection', new Error('no notification heard back: reconnecting'));
      this.listener = null;
      void listener.end().catch(() => undefined);
      this.relisten();
      return;
    }
    this.pingSince ??= now;
    this.cachePool
      .query('SELECT pg_notify($1, $2)', [NOTIFY_CHANNEL, `${this.origin} ping`])
      .catch((error: unknown) => this.onError('LISTEN ping', error));
  }

  private queueCache(work: () => Promise<void>): Promise<void> {
    const next = this.cacheQueue.then(work);
    this.cacheQueue = next.catch(() => undefined);
    return next;
  }

  private async onNotification(payload: string): Promise<void> {
    if (payload === `${this.origin} ping`) {
      this.pingSince = null;
      return;
    }
    const space = payload.indexOf(' ');
    if (space < 0 || payload.slice(0, space) === this.origin || this.closed) return;
    const [kind, value = ''] = payload.slice(space + 1).split(':', 2);
    switch (kind) {
      case 'root':
        await this.reloadRoot();
        break;
      case 'apps':
        await this.reloadApps();
        break;
      case 'channel':
        await this.reloadChannel(Number(value));
        break;
      case 'checked':
        this.checked.add(value);
        break;
      case 'named':
        this.referenced.add(value);
        break;
      default:
        break;
    }
  }

  /**
   * Re-reads what the notifications keep current: the root, apps and channels (few rows), and the
   * bundles checked or named since shortly before the last re-read. `full` reads all bundles.
   */
  private async resync(full: boolean): Promise<void> {
    if (this.closed) return;
    const { rows } = await this.cachePool.query<{ now: string }>(
      `SELECT (now() - make_interval(secs => $1))::text AS now`,
      [RESYNC_OVERLAP_SECONDS],
    );
    const since = full ? null : this.lastResync;
    await this.reloadRoot();
    await this.reloadApps();
    const checked = await this.cachePool.query<{ sha: string }>(
      since === null
        ? 'SELECT encrypted_sha256 AS sha FROM checked_bundles'
        : 'SELECT encrypted_sha256 AS sha FROM checked_bundles WHERE added >= $1',
      since === null ? [] : [since],
    );
    for (const { sha } of checked.rows) this.checked.add(sha);
    const named = await this.cachePool.query<{ sha: string }>(
      since === null
        ? 'SELECT DISTINCT bundle_sha256 AS sha FROM statements WHERE bundle_sha256 IS NOT NULL'
        : 'SELECT DISTINCT bundle_sha256 AS sha FROM statements WHERE bundle_sha256 IS NOT NULL AND added >= $1',
      since === null ? [] : [since],
    );
    for (const { sha } of named.rows) this.referenced.add(sha);
    this.lastResync = rows[0]?.now ?? null;
  }

  private async reloadRoot(): Promise<void> {
    const { rows } = await this.cachePool.query<{ version: number; signed: string }>(
      'SELECT version, signed FROM roots ORDER BY version DESC LIMIT 1',
    );
    const row = rows[0];
    if (row === undefined) {
      throw new AirlockError('INTERNAL', 'The server database holds no trust root.');
    }
    // Only forward: a read that started before this process's own append may end after it.
    if (row.version > this.rootVersion) {
      this.root = (JSON.parse(row.signed) as SignedTrustRoot).root;
      this.rootVersion = row.version;
    }
  }

  /** Apps and every channel: views are rebuilt only for channels whose row changed. */
  private async reloadApps(): Promise<void> {
    const apps = await this.cachePool.query<{
      app: string;
      bundle_public_key: string | null;
      bundle_key_id: string | null;
    }>('SELECT app, bundle_public_key, bundle_key_id FROM apps');
    const channels = await this.cachePool.query<ChannelRow>('SELECT * FROM channels ORDER BY id');
    for (const app of apps.rows) this.noteApp(app.app, app.bundle_public_key, app.bundle_key_id);
    for (const row of channels.rows) await this.takeChannelRow(row);
  }

  private async reloadChannel(id: number): Promise<void> {
    const { rows } = await this.cachePool.query<ChannelRow>(
      'SELECT * FROM channels WHERE id = $1',
      [id],
    );
    const row = rows[0];
    if (row === undefined) return;
    if (!this.apps.has(row.app)) await this.reloadApps();
    else await this.takeChannelRow(row);
  }

  /**
   * Swaps in the view of `row` when it differs from the one held: releases since the held seq
   * are added to Released (never the whole log), the current release's body read once.
   */
  private async takeChannelRow(row: ChannelRow): Promise<void> {
    const held = this.records.get(row.id);
    const record = recordOf(row);
    if (held !== undefined && sameRecord(held, record)) return;
    if (!this.apps.has(row.app)) return;
    if (held === undefined) this.noteChannel(row.app, row.name, row.bundle_public_key);
    const fromSeq = held?.state.seq ?? 0;
    if (row.seq > fromSeq) {
      const releases = await this.cachePool.query<{ version: string }>(
        `SELECT s.version FROM log l JOIN statements s ON s.id = l.statement
         WHERE l.channel_id = $1 AND l.seq > $2 AND l.seq <= $3 AND s.kind = 'release'
         ORDER BY l.seq`,
        [row.id, fromSeq, row.seq],
      );
      for (const { version } of releases.rows) this.released.of(row.id, version);
    }
    const release =
      row.current_release === null ? null : await this.statementBody(row.current_release);
    // A newer row taken meanwhile wins (seq only grows).
    const latest = this.records.get(row.id);
    if (latest !== undefined && latest.state.seq > row.seq) return;
    this.records.set(row.id, record);
    this.setView(deviceView(record, release, this.released.of(row.id)));
  }

  private async statementBody(id: string): Promise<Statement | null> {
    const { rows } = await this.cachePool.query<{ body: string }>(
      'SELECT body FROM statements WHERE id = $1',
      [id],
    );
    return rows[0] === undefined ? null : (JSON.parse(rows[0].body) as Statement);
  }

  /** Runs `work` in a transaction; notifications it queues reach every process at commit. */
  private async transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    this.assertOpen();
    const client = await this.pool.connect().catch((error: unknown) => {
      throw unavailable(error);
    });
    try {
      await client.query('BEGIN');
      const tx: Tx = {
        query: (text, values) => client.query(text, values),
        notify: async (payload) => {
          await client.query('SELECT pg_notify($1, $2)', [
            NOTIFY_CHANNEL,
            `${this.origin} ${payload}`,
          ]);
        },
      };
      const result = await work(tx);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  private async query<R extends pg.QueryResultRow>(
    text: string,
    values: unknown[] = [],
  ): Promise<pg.QueryResult<R>> {
    this.assertOpen();
    return this.pool.query<R>(text, values);
  }

  private assertOpen(): void {
    if (this.closed) throw new AirlockError('INTERNAL', 'The server store is closed.');
  }

  catchUp(app?: string, channel?: string): Promise<void> {
    return this.queueCache(async () => {
      if (this.closed) return;
      await this.reloadRoot();
      if (app === undefined || channel === undefined) return;
      const { rows } = await this.cachePool.query<ChannelRow>(
        'SELECT * FROM channels WHERE app = $1 AND name = $2',
        [app, channel],
      );
      const row = rows[0];
      if (row === undefined) return;
      if (!this.apps.has(row.app)) await this.reloadApps();
      else await this.takeChannelRow(row);
    });
  }

  /** Closes: stops the timers, writes buffered stats, ends the connections and the blob store. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      // Closed at once for callers; the buffered stats still go out below.
      this.closed = true;
      for (const timer of this.timers) clearInterval(timer);
      await this.flushStats().catch((error: unknown) => this.onError('stats flush', error));
      const listener = this.listener;
      this.listener = null;
      await listener?.end().catch(() => undefined);
      await this.cacheQueue;
      await this.pool.end().catch(() => undefined);
      await this.cachePool.end().catch(() => undefined);
      this.blobs.close?.();
    })();
    return this.closing;
  }

  // -------------------------------------------------------------------------------------------
  // DeviceStore (memory only)

  channelStatus(app: string, channel: string): ChannelStatus | null {
    const view = this.channel(app, channel);
    const record = view === null ? undefined : this.records.get(view.numericId);
    return view === null || record === undefined ? null : channelStatusOf(record, view);
  }

  // -------------------------------------------------------------------------------------------
  // Stats and evidence

  addStats(rows: readonly StatsRow[]): Promise<void> {
    try {
      this.assertOpen();
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    this.bufferStats(rows);
    if (this.pendingStats.size >= STATS_FLUSH_ROWS && !this.flushQueued) {
      this.flushQueued = true;
      this.flushStats()
        .catch((error: unknown) => this.onError('stats flush', error))
        .finally(() => {
          this.flushQueued = false;
        });
    }
    return Promise.resolve();
  }

  /**
   * Adds to the buffered counters. Their keys are bounded (released versions, the stats actions,
   * hours, channels: src/server/device/stats.ts), so the buffer is too, even while the database
   * is away.
   */
  private bufferStats(rows: readonly StatsRow[]): void {
    for (const row of rows) {
      const key = `${row.app}\u0000${row.channel}\u0000${row.version}\u0000${row.action}\u0000${row.hour}`;
      const held = this.pendingStats.get(key);
      this.pendingStats.set(
        key,
        held === undefined ? row : { ...held, count: held.count + row.count },
      );
    }
  }

  /** Writes the buffered counters in one statement; on failure they go back into the buffer. */
  private flushStats(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (this.pendingStats.size === 0) return;
      const batch = [...this.pendingStats.values()];
      this.pendingStats = new Map();
      try {
        await this.pool.query(
          `INSERT INTO stats (app, channel, version, action, hour, count)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[])
           ON CONFLICT (app, channel, version, action, hour) DO UPDATE SET count = stats.count + excluded.count`,
          [
            batch.map((row) => row.app),
            batch.map((row) => row.channel),
            batch.map((row) => row.version),
            batch.map((row) => row.action),
            batch.map((row) => row.hour),
            batch.map((row) => row.count),
          ],
        );
      } catch (error) {
        // Back into the buffer (no flush from here: the timer retries), so a database outage
        // delays the counters without losing them or looping.
        this.bufferStats(batch);
        throw error;
      }
    });
    const done = this.flushing;
    this.flushing = done.catch(() => undefined);
    return done;
  }

  /**
   * Group commit (ARCHITECTURE.md "Automatic pause"): reports for one channel and period that
   * arrive while its transaction runs wait and go in the next one together, so a wave of install
   * reports costs a transaction per batch, not per request, and holds at most one connection per
   * channel. Each caller gets the evidence after its own reports. Beyond OUTCOME_QUEUE_MAX
   * waiting reports (the database is slow or away) a report is dropped, answered null: less
   * evidence, never a false pause.
   */
  recordOutcomes(
    app: string,
    channel: string,
    since: number,
    source: string,
    reports: readonly OutcomeReport[],
    limits: EvidenceLimits,
  ): Promise<Evidence | null> {
    try {
      this.assertOpen();
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const key = `${app}\u0000${channel}\u0000${since}`;
    let queue = this.outcomeQueues.get(key);
    if (queue === undefined) {
      queue = { app, channel, since, items: [], running: false };
      this.outcomeQueues.set(key, queue);
    }
    if (queue.items.length >= OUTCOME_QUEUE_MAX) return Promise.resolve(null);
    const waiting = queue;
    return new Promise((resolve, reject) => {
      waiting.items.push({ source, reports, limits, resolve, reject });
      if (!waiting.running) void this.runOutcomes(key, waiting);
    });
  }

  private async runOutcomes(key: string, queue: OutcomeQueue): Promise<void> {
    queue.running = true;
    while (queue.items.length > 0) {
      const items = queue.items.splice(0, OUTCOME_BATCH_MAX);
      try {
        const results = await this.transaction((tx) => this.recordBatch(tx, queue, items));
        items.forEach((item, i) => item.resolve(results[i] ?? null));
      } catch (error) {
        for (const item of items)
          item.reject(error instanceof Error ? error : new Error(String(error)));
      }
    }
    queue.running = false;
    this.outcomeQueues.delete(key);
  }

  /** One transaction for `items`, folded in arrival order with the rules' foldOutcomes. */
  private async recordBatch(
    tx: Tx,
    queue: OutcomeQueue,
    items: readonly OutcomeItem[],
  ): Promise<(Evidence | null)[]> {
    const { since } = queue;
    const found = await tx.query<{ id: number }>(
      'SELECT id FROM channels WHERE app = $1 AND name = $2',
      [queue.app, queue.channel],
    );
    const row = found.rows[0];
    if (row === undefined) return items.map(() => null);
    // One writer of a channel's evidence at a time, across processes.
    await tx.query('SELECT pg_advisory_xact_lock($1, $2)', [EVIDENCE_LOCK, row.id]);
    const current = await tx.query<{ counting_since: number }>(
      'SELECT counting_since FROM channels WHERE id = $1',
      [row.id],
    );
    if (current.rows[0]?.counting_since !== since) return items.map(() => null);
    let totals = await this.evidenceTotals(tx, row.id, since);
    const sources = [...new Set(items.map((item) => item.source))];
    const sourceRows = await tx.query<{ source: string; devices: number }>(
      'SELECT source, devices FROM evidence_sources WHERE channel_id = $1 AND since = $2 AND source = ANY($3::text[])',
      [row.id, since, sources],
    );
    const sourceDevices = new Map(sourceRows.rows.map((entry) => [entry.source, entry.devices]));
    const deviceIds = [...new Set(items.flatMap((item) => item.reports.map((r) => r.deviceId)))];
    const known = await tx.query<{ device_id: string; failed: boolean }>(
      'SELECT device_id, failed FROM evidence_devices WHERE channel_id = $1 AND since = $2 AND device_id = ANY($3::text[])',
      [row.id, since, deviceIds],
    );
    const seen = new Map(known.rows.map((entry) => [entry.device_id, entry.failed]));
    /** Devices new this batch: their source and outcome (a later failure replaces a success). */
    const inserts = new Map<string, { source: string; failed: boolean }>();
    /** Devices stored before whose success becomes a failure. */
    const failures = new Set<string>();
    const changedSources = new Set<string>();
    const results: Evidence[] = [];
    for (const item of items) {
      const changes = foldOutcomes(
        seen,
        { totals, sourceDevices: sourceDevices.get(item.source) ?? 0 },
        item.reports,
        item.limits,
      );
      for (const report of changes.inserts) {
        inserts.set(report.deviceId, { source: item.source, failed: report.failed });
        seen.set(report.deviceId, report.failed);
      }
      for (const deviceId of changes.failures) {
        seen.set(deviceId, true);
        const pending = inserts.get(deviceId);
        if (pending === undefined) failures.add(deviceId);
        else pending.failed = true;
      }
      if (changes.changed) changedSources.add(item.source);
      sourceDevices.set(item.source, changes.sourceDevices);
      totals = changes.totals;
      results.push({ since, ...totals });
    }
    if (inserts.size > 0) {
      const entries = [...inserts];
      await tx.query(
        `INSERT INTO evidence_devices (channel_id, since, device_id, source, failed)
         SELECT $1, $2, d, s, f FROM unnest($3::text[], $4::text[], $5::boolean[]) AS u(d, s, f)`,
        [
          row.id,
          since,
          entries.map(([deviceId]) => deviceId),
          entries.map(([, entry]) => entry.source),
          entries.map(([, entry]) => entry.failed),
        ],
      );
    }
    if (failures.size > 0) {
      await tx.query(
        'UPDATE evidence_devices SET failed = true WHERE channel_id = $1 AND since = $2 AND device_id = ANY($3::text[])',
        [row.id, since, [...failures]],
      );
    }
    if (changedSources.size > 0) {
      const changed = [...changedSources];
      await tx.query(
        `INSERT INTO evidence_sources (channel_id, since, source, devices)
         SELECT $1, $2, s, d FROM unnest($3::text[], $4::int[]) AS u(s, d)
         ON CONFLICT (channel_id, since, source) DO UPDATE SET devices = excluded.devices`,
        [row.id, since, changed, changed.map((source) => sourceDevices.get(source) ?? 0)],
      );
      await tx.query(
        `INSERT INTO evidence_totals (channel_id, since, devices, successes, failures)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (channel_id, since) DO UPDATE SET devices = excluded.devices,
           successes = excluded.successes, failures = excluded.failures`,
        [row.id, since, totals.devices, totals.successes, totals.failures],
      );
      await this.dropOldEvidence(tx, row.id, since);
    }
    return results;
  }

  private async evidenceTotals(
    tx: Pick<Tx, 'query'>,
    channelId: number,
    since: number,
  ): Promise<{ devices: number; successes: number; failures: number }> {
    const { rows } = await tx.query<{ devices: number; successes: number; failures: number }>(
      'SELECT devices, successes, failures FROM evidence_totals WHERE channel_id = $1 AND since = $2',
      [channelId, since],
    );
    return rows[0] ?? { devices: 0, successes: 0, failures: 0 };
  }

  /** Earlier periods' evidence, a bounded batch per write (as in the SQLite store). */
  private async dropOldEvidence(tx: Tx, channelId: number, since: number): Promise<void> {
    for (const [table, key] of [
      ['evidence_devices', 'device_id'],
      ['evidence_sources', 'source'],
    ] as const) {
      await tx.query(
        `DELETE FROM ${table} WHERE (channel_id, since, ${key}) IN (
           SELECT channel_id, since, ${key} FROM ${table}
           WHERE channel_id = $1 AND since < $2 LIMIT ${EVIDENCE_DROP_BATCH})`,
        [channelId, since],
      );
    }
    await tx.query('DELETE FROM evidence_totals WHERE channel_id = $1 AND since < $2', [
      channelId,
      since,
    ]);
  }

  async evidence(app: string, channel: string): Promise<Evidence | null> {
    const { rows } = await this.query<{ id: number; counting_since: number }>(
      'SELECT id, counting_since FROM channels WHERE app = $1 AND name = $2',
      [app, channel],
    );
    const row = rows[0];
    if (row === undefined) return null;
    return {
      since: row.counting_since,
      ...(await this.evidenceTotals(this.pool, row.id, row.counting_since)),
    };
  }

  async applyAutomaticPause(
    app: string,
    channel: string,
    reason: string,
    since: number,
  ): Promise<boolean> {
    // Read from the database, not this process's view: another process may have paused already.
    // A statement or root update landing between the read and the apply makes the apply lose
    // (seq or root changed): read again, so that the pause is not dropped while still due.
    for (let attempt = 0; attempt < PAUSE_ATTEMPTS; attempt++) {
      const { rows } = await this.query<ChannelRow & { root_version: number }>(
        `SELECT c.*, (SELECT max(version) FROM roots) AS root_version
         FROM channels c WHERE c.app = $1 AND c.name = $2`,
        [app, channel],
      );
      const row = rows[0];
      if (row === undefined || row.paused || row.current_release === null) return false;
      if (row.counting_since !== since) return false;
      const input = automaticPause(
        this.signer,
        { app, channel, seq: row.seq, head: row.head },
        reason,
        row.root_version,
        this.now(),
      );
      const outcome = await this.applyStatement(input, this.now());
      if (outcome.result === 'applied') return true;
      if (outcome.result === 'already_applied') return false;
    }
    return false;
  }

  // -------------------------------------------------------------------------------------------
  // Trust root

  async rootChain(): Promise<SignedTrustRoot[]> {
    const { rows } = await this.query<{ signed: string }>(
      'SELECT signed FROM roots ORDER BY version',
    );
    return rows.map((row) => JSON.parse(row.signed) as SignedTrustRoot);
  }

  currentRoot(): TrustRoot {
    if (this.root === null) throw new AirlockError('INTERNAL', 'The store is not open.');
    return this.root;
  }

  async appendRoot(signed: SignedTrustRoot, now: Date): Promise<void> {
    await this.transaction(async (tx) => {
      // Exclusive: waits for applies in flight, and applies after it see the new version.
      await tx.query('SELECT pg_advisory_xact_lock($1)', [ROOT_LOCK]);
      const version = await newestRootVersion(tx);
      if (signed.root.version !== version + 1) {
        throw new AirlockError(
          'STALE',
          `Trust root version ${signed.root.version} does not follow version ${version}.`,
        );
      }
      await tx.query(
        'INSERT INTO roots (version, signed, root_id, added_at) VALUES ($1, $2, $3, $4)',
        [signed.root.version, canonicalize(signed), rootId(signed.root), now.toISOString()],
      );
      await tx.notify('root');
    });
    if (signed.root.version > this.rootVersion) {
      this.root = signed.root;
      this.rootVersion = signed.root.version;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Nonces

  async useNonce(keyId: string, nonce: string, expires: number, now: Date): Promise<boolean> {
    const nowSeconds = Math.floor(now.getTime() / 1000);
    this.nonceWrites += 1;
    if (this.nonceWrites % NONCE_SWEEP_EVERY === 0) {
      await this.query('DELETE FROM nonces WHERE expires < $1', [nowSeconds]);
    }
    // RFC 9421 §7.2.2: one atomic insert-if-absent, shared by every process of the deployment.
    const result = await this.query(
      'INSERT INTO nonces (key_id, nonce, expires) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
      [keyId, nonce, expires],
    );
    return result.rowCount === 1;
  }

  // -------------------------------------------------------------------------------------------
  // Apps and channels

  async createApp(input: NewApp, now: Date): Promise<void> {
    const time = now.toISOString();
    await this.transaction(async (tx) => {
      const inserted = await tx.query(
        `INSERT INTO apps (app, bundle_public_key, bundle_key_id, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (app) DO NOTHING`,
        [input.app, input.bundlePublicKey, input.bundleKeyId, time],
      );
      if (inserted.rowCount !== 1) {
        throw new AirlockError('ALREADY_EXISTS', `The app ${input.app} exists already.`);
      }
      for (const channel of input.channels) await insertChannel(tx, input.app, channel, time);
      await tx.notify('apps');
    });
    await this.queueCache(() => this.reloadApps());
  }

  async createChannel(app: string, channel: NewChannel, now: Date): Promise<void> {
    await this.transaction(async (tx) => {
      await insertChannel(tx, app, channel, now.toISOString());
      await tx.notify('apps');
    });
    await this.queueCache(() => this.reloadApps());
  }

  async updateChannelSettings(
    app: string,
    channel: string,
    settings: ChannelSettings,
  ): Promise<void> {
    const id = await this.transaction(async (tx) => {
      const result = await tx.query<{ id: number }>(
        'UPDATE channels SET settings = $1 WHERE app = $2 AND name = $3 RETURNING id',
        [JSON.stringify(settings), app, channel],
      );
      const row = result.rows[0];
      if (row === undefined) {
        throw new AirlockError('NOT_FOUND', `There is no channel ${channel} in ${app}.`);
      }
      await tx.notify(`channel:${row.id}`);
      return row.id;
    });
    await this.queueCache(() => this.reloadChannel(id));
  }

  async channelHealth(app: string, channel: string, sinceHour: number): Promise<VersionOutcomes[]> {
    // This process's own counters first: what a caller added is in the answer.
    await this.flushStats();
    const success = [...SUCCESS_ACTIONS];
    const failure = [...FAILURE_ACTIONS];
    // The same grouped pass as the SQLite store (ARCHITECTURE.md §6): released versions only.
    const { rows } = await this.query<HealthRow>(
      `WITH released AS (
         SELECT s.version AS version, MIN(l.seq) AS seq
         FROM log l JOIN channels c ON c.id = l.channel_id JOIN statements s ON s.id = l.statement
         WHERE c.app = $1 AND c.name = $2 AND s.kind = 'release'
         GROUP BY s.version
       )
       SELECT r.version AS version,
         CASE WHEN st.hour >= $3 THEN st.hour END AS bucket,
         COALESCE(SUM(CASE WHEN st.action = ANY($4::text[]) THEN st.count END), 0)::bigint AS successes,
         COALESCE(SUM(CASE WHEN st.action = ANY($5::text[]) THEN st.count END), 0)::bigint AS failures
       FROM released r
       LEFT JOIN stats st ON st.app = $1 AND st.channel = $2 AND st.version = r.version
         AND st.action = ANY($6::text[])
       GROUP BY r.seq, r.version, bucket
       ORDER BY r.seq, bucket NULLS FIRST`,
      [app, channel, sinceHour, success, failure, [...success, ...failure]],
    );
    return groupHealth(rows);
  }

  // -------------------------------------------------------------------------------------------
  // Bundles

  async markBundleChecked(
    encryptedSha256: string,
    now: Date,
    files: readonly BundleFile[],
  ): Promise<void> {
    await this.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO checked_bundles (encrypted_sha256, checked_at, file_list_json) VALUES ($1, $2, $3)
         ON CONFLICT (encrypted_sha256) DO UPDATE SET file_list_json = excluded.file_list_json`,
        [encryptedSha256, now.toISOString(), JSON.stringify(files)],
      );
      await tx.notify(`checked:${encryptedSha256}`);
    });
    this.checked.add(encryptedSha256);
  }

  async checkedFileList(encryptedSha256: string): Promise<BundleFile[] | null> {
    const { rows } = await this.query<{ file_list_json: string | null }>(
      'SELECT file_list_json FROM checked_bundles WHERE encrypted_sha256 = $1',
      [encryptedSha256],
    );
    const json = rows[0]?.file_list_json;
    return typeof json === 'string' ? (JSON.parse(json) as BundleFile[]) : null;
  }

  // -------------------------------------------------------------------------------------------
  // Statements

  async statement(id: string): Promise<StoredStatement | null> {
    const { rows } = await this.query<{ body: string; submitted_at: string }>(
      'SELECT body, submitted_at FROM statements WHERE id = $1',
      [id],
    );
    const row = rows[0];
    if (row === undefined) return null;
    const applied = await appliedEntry(this.pool, id);
    return {
      id,
      statement: JSON.parse(row.body) as Statement,
      // Applied: the approvals that satisfied the policy, as the log entry records them.
      approvals: applied === null ? await storedApprovals(this.pool, id) : [...applied.approvals],
      submittedAt: row.submitted_at,
      applied,
    };
  }

  async submitStatement(
    id: string,
    statement: Statement,
    approvals: readonly Approval[],
    now: Date,
  ): Promise<{ created: boolean }> {
    const created = await this.transaction(async (tx) => {
      const inserted = await insertStatement(tx, id, statement, now);
      await insertApprovals(tx, id, approvals, now);
      return inserted;
    });
    if (statement.kind === 'release') this.referenced.add(statement.release.bundle.encryptedSha256);
    return { created };
  }

  async addApprovals(id: string, approvals: readonly Approval[], now: Date): Promise<void> {
    await this.transaction((tx) => insertApprovals(tx, id, approvals, now));
  }

  async statementsAt(
    app: string,
    channel: string,
    seq: number,
    limit: number,
  ): Promise<StoredStatement[]> {
    const { rows } = await this.query<{ id: string; body: string; submitted_at: string }>(
      `SELECT s.id, s.body, s.submitted_at FROM statements s
       WHERE s.app = $1 AND s.channel = $2 AND s.seq = $3
         AND NOT EXISTS (SELECT 1 FROM log l WHERE l.statement = s.id)
       ORDER BY s.submitted_at, s.id LIMIT $4`,
      [app, channel, seq, limit],
    );
    const result: StoredStatement[] = [];
    for (const row of rows) {
      result.push({
        id: row.id,
        statement: JSON.parse(row.body) as Statement,
        approvals: await storedApprovals(this.pool, row.id),
        submittedAt: row.submitted_at,
        applied: null,
      });
    }
    return result;
  }

  async isAppliedRelease(app: string, channel: string, id: string): Promise<boolean> {
    const { rowCount } = await this.query(
      `SELECT 1 FROM log l JOIN channels c ON c.id = l.channel_id
       JOIN statements s ON s.id = l.statement
       WHERE l.statement = $1 AND c.app = $2 AND c.name = $3 AND s.kind = 'release'`,
      [id, app, channel],
    );
    return rowCount === 1;
  }

  /**
   * ARCHITECTURE.md §3: log row, approvals, checkpoint and channel head in one transaction. The
   * channel row is locked (FOR UPDATE) before seq/prev are checked, and the root lock is held
   * shared, so two processes racing for one position cannot both apply, and no root update
   * lands between the version check and the commit (§11).
   */
  async applyStatement(input: ApplyInput, now: Date): Promise<ApplyOutcome> {
    const { statement, id } = input;
    const outcome = await this.transaction(
      async (tx): Promise<ApplyOutcome & { channelId?: number }> => {
        await tx.query('SELECT pg_advisory_xact_lock_shared($1)', [ROOT_LOCK]);
        const found = await tx.query<ChannelRow>(
          'SELECT * FROM channels WHERE app = $1 AND name = $2 FOR UPDATE',
          [statement.app, statement.channel],
        );
        const row = found.rows[0];
        if (row === undefined) {
          throw new AirlockError(
            'NOT_FOUND',
            `There is no channel ${statement.channel} in ${statement.app}.`,
          );
        }
        // After the lock: an apply that committed meanwhile is seen (READ COMMITTED re-reads).
        const existing = await appliedEntry(tx, id);
        if (existing !== null) return { result: 'already_applied', entry: existing };
        if (statement.seq !== row.seq + 1 || statement.prev !== row.head) {
          const head = row.head === null ? null : await appliedEntry(tx, row.head);
          return {
            result: 'seq_conflict',
            head: { seq: row.seq, id: row.head, checkpoint: head?.checkpoint ?? null },
          };
        }
        const rootVersion = await newestRootVersion(tx);
        if (input.rootVersion !== rootVersion)
          return { result: 'root_changed', current: rootVersion };
        await insertStatement(tx, id, statement, now);
        await insertApprovals(tx, id, input.newApprovals, now);
        const checkpoint = signCheckpoint(this.signer, {
          app: statement.app,
          channel: statement.channel,
          seq: statement.seq,
          head: id,
          time: now.toISOString(),
          rootVersion,
        });
        await tx.query(
          `INSERT INTO log (channel_id, seq, statement, approvals, server_sig, note, applied_at, checkpoint, root_version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
          [
            row.id,
            statement.seq,
            id,
            JSON.stringify(input.approvals),
            input.serverSig ?? null,
            input.note ?? null,
            checkpoint.checkpoint.time,
            canonicalize(checkpoint),
            rootVersion,
          ],
        );
        const next = nextChannelState(stateOf(row), id, statement);
        await tx.query(
          `UPDATE channels SET seq = $1, head = $2, current_release = $3, rollout_percent = $4,
         paused = $5, rolled_back = $6, counting_since = $7 WHERE id = $8`,
          [
            next.seq,
            next.head,
            next.currentRelease,
            next.rolloutPercent,
            next.paused,
            next.rolledBack,
            next.countingSince,
            row.id,
          ],
        );
        await tx.notify(`channel:${row.id}`);
        const entry = await appliedEntry(tx, id);
        if (entry === null) throw new AirlockError('INTERNAL', 'The applied entry vanished.');
        return { result: 'applied', entry, channelId: row.id };
      },
    );
    if (outcome.result === 'applied' && outcome.channelId !== undefined) {
      const channelId = outcome.channelId;
      if (statement.kind === 'release') {
        this.referenced.add(statement.release.bundle.encryptedSha256);
      }
      // Own change: the view is swapped before the caller hears "applied". It is applied either
      // way: a failed re-read is logged and the periodic one catches up.
      await this.queueCache(() => this.reloadChannel(channelId)).catch((error: unknown) =>
        this.onError('re-read after an apply', error),
      );
      return { result: 'applied', entry: outcome.entry };
    }
    if (outcome.result === 'applied') return { result: 'applied', entry: outcome.entry };
    return outcome;
  }

  async logPage(
    app: string,
    channel: string,
    after: number,
    limit: number,
  ): Promise<LogPage | null> {
    const found = await this.query<ChannelRow>(
      'SELECT * FROM channels WHERE app = $1 AND name = $2',
      [app, channel],
    );
    const row = found.rows[0];
    if (row === undefined) return null;
    const { rows } = await this.query<LogRow>(
      `SELECT ${LOG_COLUMNS} FROM log l JOIN statements s ON s.id = l.statement
       WHERE l.channel_id = $1 AND l.seq > $2 AND l.seq <= $4 ORDER BY l.seq LIMIT $3`,
      // Up to the head read above: a page never lists entries past the head it is served with.
      [row.id, after, limit + 1, row.seq],
    );
    return {
      app,
      channel,
      entries: rows.slice(0, limit).map(logEntryOf),
      head: await this.freshHead(row),
      more: rows.length > limit,
    };
  }

  /**
   * The channel's head, vouched for recently (ARCHITECTURE.md §3 "freeze"): re-signed at most
   * once per HEAD_RESIGN_MS for the whole deployment. The `heads` row is replaced only when it is
   * stale or names another position; a process that loses that race serves the winner's.
   */
  private async freshHead(row: ChannelRow): Promise<SignedCheckpoint | null> {
    if (row.head === null) return null;
    const now = this.now();
    const cached = this.headCache.get(row.id);
    if (headIsFresh(cached, row.seq, row.head, now.getTime())) return cached;
    const stored = await this.query<{ checkpoint: string }>(
      'SELECT checkpoint FROM heads WHERE channel_id = $1',
      [row.id],
    );
    const held =
      stored.rows[0] === undefined
        ? null
        : (JSON.parse(stored.rows[0].checkpoint) as SignedCheckpoint);
    if (headIsFresh(held, row.seq, row.head, now.getTime())) {
      this.headCache.set(row.id, held);
      return held;
    }
    const version = await this.query<{ root_version: number }>(
      'SELECT root_version FROM log WHERE channel_id = $1 AND seq = $2',
      [row.id, row.seq],
    );
    const fresh = signHead(
      this.signer,
      { app: row.app, channel: row.name, seq: row.seq, head: row.head },
      version.rows[0]?.root_version ?? null,
      now,
    );
    const written = await this.query<{ checkpoint: string }>(
      `INSERT INTO heads (channel_id, seq, head, checkpoint, signed_ms) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (channel_id) DO UPDATE SET seq = excluded.seq, head = excluded.head,
         checkpoint = excluded.checkpoint, signed_ms = excluded.signed_ms
       WHERE excluded.seq > heads.seq
         OR (excluded.seq = heads.seq AND heads.signed_ms <= excluded.signed_ms - $6)
       RETURNING checkpoint`,
      [row.id, row.seq, row.head, canonicalize(fresh), now.getTime(), HEAD_RESIGN_MS],
    );
    let served = fresh;
    if (written.rowCount === 0) {
      // Another process signed this position first: serve its checkpoint, so that all serve one.
      // A row of a later position (this read is behind) is not this page's head: serve ours.
      const winner = await this.query<{ checkpoint: string }>(
        'SELECT checkpoint FROM heads WHERE channel_id = $1',
        [row.id],
      );
      const held =
        winner.rows[0] === undefined
          ? null
          : (JSON.parse(winner.rows[0].checkpoint) as SignedCheckpoint);
      if (held !== null && held.checkpoint.seq === row.seq && held.checkpoint.head === row.head) {
        served = held;
      }
    }
    this.headCache.set(row.id, served);
    return served;
  }
}

function sameRecord(a: ChannelRecord, b: ChannelRecord): boolean {
  return (
    a.state.seq === b.state.seq &&
    a.state.head === b.state.head &&
    canonicalize(a.settings) === canonicalize(b.settings)
  );
}

async function newestRootVersion(tx: Pick<Tx, 'query'>): Promise<number> {
  const { rows } = await tx.query<{ version: number }>('SELECT max(version) AS version FROM roots');
  return rows[0]?.version ?? 0;
}

async function insertChannel(
  tx: Tx,
  app: string,
  channel: NewChannel,
  time: string,
): Promise<void> {
  try {
    await tx.query(
      `INSERT INTO channels (app, name, settings, bundle_public_key, bundle_key_id, created_at)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [
        app,
        channel.name,
        JSON.stringify(channel.settings),
        channel.bundlePublicKey ?? null,
        channel.bundleKeyId ?? null,
        time,
      ],
    );
  } catch (error) {
    if (pgCode(error) === UNIQUE_VIOLATION) {
      throw new AirlockError(
        'ALREADY_EXISTS',
        `The channel ${channel.name} of ${app} exists already.`,
      );
    }
    if (pgCode(error) === FOREIGN_KEY_VIOLATION) {
      throw new AirlockError('NOT_FOUND', `There is no app ${app}.`);
    }
    throw error;
  }
}

async function insertStatement(
  tx: Pick<Tx, 'query'>,
  id: string,
  statement: Statement,
  now: Date,
): Promise<boolean> {
  const result = await tx.query(
    `INSERT INTO statements (id, app, channel, seq, kind, version, bundle_sha256, body, submitted_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING`,
    [
      id,
      statement.app,
      statement.channel,
      statement.seq,
      statement.kind,
      statement.kind === 'release' ? statement.release.version : null,
      statement.kind === 'release' ? statement.release.bundle.encryptedSha256 : null,
      canonicalize(statement),
      now.toISOString(),
    ],
  );
  if (result.rowCount === 1 && statement.kind === 'release') {
    await tx.query('SELECT pg_notify($1, $2)', [
      NOTIFY_CHANNEL,
      `- named:${statement.release.bundle.encryptedSha256}`,
    ]);
  }
  return result.rowCount === 1;
}

async function insertApprovals(
  tx: Pick<Tx, 'query'>,
  id: string,
  approvals: readonly Approval[],
  now: Date,
): Promise<void> {
  if (approvals.length === 0) return;
  await tx.query(
    `INSERT INTO approvals (statement, key_id, sig, added_at)
     SELECT $1, k, s, $4 FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS u(k, s, i)
     ORDER BY i
     ON CONFLICT (statement, key_id) DO NOTHING`,
    [id, approvals.map((a) => a.keyId), approvals.map((a) => a.sig), now.toISOString()],
  );
}

async function storedApprovals(db: Pick<Tx, 'query'>, id: string): Promise<Approval[]> {
  const { rows } = await db.query<{ key_id: string; sig: string }>(
    'SELECT key_id, sig FROM approvals WHERE statement = $1 ORDER BY n',
    [id],
  );
  return rows.map((row) => ({ statement: id, keyId: row.key_id, sig: row.sig }));
}

async function appliedEntry(db: Pick<Tx, 'query'>, id: string): Promise<LogEntry | null> {
  const { rows } = await db.query<LogRow>(
    `SELECT ${LOG_COLUMNS} FROM log l JOIN statements s ON s.id = l.statement WHERE l.statement = $1`,
    [id],
  );
  return rows[0] === undefined ? null : logEntryOf(rows[0]);
}
