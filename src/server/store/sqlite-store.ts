import Database from 'better-sqlite3';
import { openSqlite } from '../../core/db';
import { AirlockError, canonicalize, rootId } from '../../core';
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
} from '../../shared/schemas';
import { ChannelSettingsSchema } from '../../shared/schemas/server-api';
import { nextChannelState, type ChannelState } from '../../core/channel';
import type { DataDirPaths } from '../data-dir';
import type { BundleFile } from '../../core/bundle';
import { FAILURE_ACTIONS, SUCCESS_ACTIONS } from '../device/stats-actions';
import type { ServerSigner } from '../server-key';
import { FsBlobStore, type BlobStore } from './blobs';
import {
  automaticPause,
  channelStatusOf,
  deviceView,
  foldOutcomes,
  groupHealth,
  headIsFresh,
  logEntryOf,
  signCheckpoint,
  signHead,
  type ChannelRecord,
  type HealthRow,
  type LogRow,
} from './rules';
import type {
  DeviceFacingChannel,
  Evidence,
  EvidenceLimits,
  OutcomeReport,
  StatsRow,
} from './device-store';
import { MIGRATIONS } from './migrations';
import { InMemoryViews } from './views';
import type {
  ApplyInput,
  ApplyOutcome,
  NewApp,
  NewChannel,
  ServerStore,
  StoredStatement,
  VersionOutcomes,
} from './types';

/**
 * The embedded store (ARCHITECTURE.md §6): better-sqlite3 in WAL mode plus content-addressed bundle files.
 * Device-facing reads come from memory: one immutable view object per channel, replaced after
 * every committed change of that channel.
 */

interface ChannelRow {
  id: number;
  app: string;
  name: string;
  settings: string;
  seq: number;
  head: string | null;
  current_release: string | null;
  rollout_percent: number | null;
  paused: number;
  rolled_back: number;
  bundle_public_key: string | null;
  bundle_key_id: string | null;
  counting_since: number;
}

export interface SqliteStoreOptions {
  /** The clock for changes the server makes by itself (automatic pauses). */
  readonly now?: () => Date;
  /** Where bundle bytes live; the data directory's `bundles/` folder by default. */
  readonly blobs?: BlobStore;
}

/** Rows of earlier evidence periods dropped per stats write (see dropOldEvidence). */
const EVIDENCE_DROP_BATCH = 500;
const NONCE_SWEEP_EVERY = 64;

/** Runs `work` now and hands back its result or error as a settled promise. */
function settle<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

function isUniqueViolation(error: unknown): boolean {
  return (
    error instanceof Database.SqliteError &&
    (error.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || error.code === 'SQLITE_CONSTRAINT_UNIQUE')
  );
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
    paused: row.paused === 1,
    rolledBack: row.rolled_back === 1,
    countingSince: row.counting_since,
  };
}

/**
 * Opens (and migrates) the store in a data directory created by `initServer`.
 * @example const store = openSqliteStore(dataDirPaths(dir), loadServerKey(paths.serverKey));
 */
export function openSqliteStore(
  paths: DataDirPaths,
  signer: ServerSigner,
  options: SqliteStoreOptions = {},
): SqliteServerStore {
  return new SqliteServerStore(paths, signer, options);
}

export class SqliteServerStore extends InMemoryViews implements ServerStore {
  readonly serverKey: ServerKey;
  private readonly db: Database.Database;
  readonly blobs: BlobStore;
  private readonly now: () => Date;
  private root: TrustRoot;
  private nonceWrites = 0;
  private readonly headCache = new Map<string, SignedCheckpoint>();

  constructor(
    paths: DataDirPaths,
    private readonly signer: ServerSigner,
    options: SqliteStoreOptions,
  ) {
    super();
    this.serverKey = signer.info;
    this.now = options.now ?? (() => new Date());
    // A signed checkpoint handed to a client must survive a power loss, not only a crash.
    this.db = openSqlite<Database.Database>(Database, paths.db, {
      mustExist: true,
      synchronous: 'FULL',
      migrations: MIGRATIONS,
      what: 'The server database',
    });
    if (options.blobs === undefined) {
      const files = new FsBlobStore(paths.bundles, paths.bundlesTmp);
      files.cleanTemp();
      this.blobs = files;
    } else {
      this.blobs = options.blobs;
    }
    this.root = this.loadCurrentRoot();
    this.loadReleased();
    this.loadBundleSets();
    this.loadApps();
  }

  // -------------------------------------------------------------------------------------------
  // Initialisation (used by initServer)

  /** Stores trust root version 1 (trusted on init, no signatures: ARCHITECTURE.md §4). */
  static initialize(paths: DataDirPaths, first: SignedTrustRoot, now: Date): void {
    const db = openSqlite<Database.Database>(Database, paths.db, {
      synchronous: 'FULL',
      migrations: MIGRATIONS,
      what: 'The server database',
    });
    try {
      db.prepare('INSERT INTO roots (version, signed, root_id, added_at) VALUES (?, ?, ?, ?)').run(
        first.root.version,
        canonicalize(first),
        rootId(first.root),
        now.toISOString(),
      );
    } finally {
      db.close();
    }
  }

  /** One process owns the database: its memory is never behind. */
  catchUp(): Promise<void> {
    return Promise.resolve();
  }

  /** Closes the database and the bundle store (given or made here: the store owns it). */
  close(): Promise<void> {
    return settle(() => {
      if (!this.db.open) return;
      this.db.close();
      this.blobs.close?.();
    });
  }

  // -------------------------------------------------------------------------------------------
  // Caches

  private loadCurrentRoot(): TrustRoot {
    const row = this.db.prepare('SELECT signed FROM roots ORDER BY version DESC LIMIT 1').get() as
      { signed: string } | undefined;
    if (row === undefined) {
      throw new AirlockError('INTERNAL', 'The server database holds no trust root.');
    }
    return (JSON.parse(row.signed) as SignedTrustRoot).root;
  }

  /** Once at start: what each channel released (afterwards kept up to date by applySync). */
  private loadReleased(): void {
    const rows = this.db
      .prepare(
        `SELECT l.channel_id AS channel, s.version AS version
         FROM log l JOIN statements s ON s.id = l.statement
         WHERE s.kind = 'release' ORDER BY l.channel_id, l.seq`,
      )
      .all() as { channel: number; version: string }[];
    for (const row of rows) this.released.of(row.channel, row.version);
  }

  private loadBundleSets(): void {
    const named = this.db
      .prepare(
        `SELECT DISTINCT json_extract(body, '$.release.bundle.encryptedSha256') AS sha
         FROM statements WHERE kind = 'release'`,
      )
      .all() as { sha: string | null }[];
    for (const { sha } of named) if (sha !== null) this.referenced.add(sha);
    const checked = this.db
      .prepare('SELECT encrypted_sha256 AS sha FROM checked_bundles')
      .all() as {
      sha: string;
    }[];
    for (const { sha } of checked) this.checked.add(sha);
  }

  private loadApps(): void {
    const apps = this.db
      .prepare('SELECT app, bundle_public_key, bundle_key_id FROM apps')
      .all() as { app: string; bundle_public_key: string | null; bundle_key_id: string | null }[];
    for (const app of apps) this.noteApp(app.app, app.bundle_public_key, app.bundle_key_id);
    const rows = this.db.prepare('SELECT * FROM channels ORDER BY id').all() as ChannelRow[];
    for (const row of rows) {
      this.noteChannel(row.app, row.name, row.bundle_public_key);
      this.refreshView(row);
    }
  }

  private channelRow(app: string, channel: string): ChannelRow | undefined {
    return this.db
      .prepare('SELECT * FROM channels WHERE app = ? AND name = ?')
      .get(app, channel) as ChannelRow | undefined;
  }

  /** Rebuilds the device view of one channel from its row and swaps it in. */
  private refreshView(row: ChannelRow): void {
    this.setView(this.buildView(row));
  }

  /** A channel's device view: its row, the current release's body (one lookup), Released. */
  private buildView(row: ChannelRow): DeviceFacingChannel {
    const release = row.current_release === null ? null : this.statementBody(row.current_release);
    return deviceView(recordOf(row), release, this.released.of(row.id));
  }

  private statementBody(id: string): Statement | null {
    const row = this.db.prepare('SELECT body FROM statements WHERE id = ?').get(id) as
      { body: string } | undefined;
    return row === undefined ? null : (JSON.parse(row.body) as Statement);
  }

  // -------------------------------------------------------------------------------------------
  // DeviceStore

  markBundleChecked(
    encryptedSha256: string,
    now: Date,
    files: readonly BundleFile[],
  ): Promise<void> {
    return settle(() => {
      this.db
        .prepare(
          `INSERT INTO checked_bundles (encrypted_sha256, checked_at, file_list_json) VALUES (?, ?, ?)
           ON CONFLICT (encrypted_sha256) DO UPDATE SET file_list_json = excluded.file_list_json`,
        )
        .run(encryptedSha256, now.toISOString(), JSON.stringify(files));
      this.checked.add(encryptedSha256);
    });
  }

  checkedFileList(encryptedSha256: string): Promise<BundleFile[] | null> {
    return settle(() => {
      const json = this.db
        .prepare<[string], string | null>(
          'SELECT file_list_json FROM checked_bundles WHERE encrypted_sha256 = ?',
        )
        .pluck()
        .get(encryptedSha256);
      return typeof json === 'string' ? (JSON.parse(json) as BundleFile[]) : null;
    });
  }

  addStats(rows: readonly StatsRow[]): Promise<void> {
    return settle(() => {
      if (rows.length === 0) return;
      const upsert = this.db.prepare(
        `INSERT INTO stats (app, channel, version, action, hour, count) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (app, channel, version, action, hour) DO UPDATE SET count = count + excluded.count`,
      );
      this.db.transaction(() => {
        for (const row of rows) {
          upsert.run(row.app, row.channel, row.version, row.action, row.hour, row.count);
        }
      })();
    });
  }

  recordOutcomes(
    app: string,
    channel: string,
    since: number,
    source: string,
    reports: readonly OutcomeReport[],
    limits: EvidenceLimits,
  ): Promise<Evidence | null> {
    return settle(() =>
      this.db
        .transaction((): Evidence | null => {
          const row = this.channelRow(app, channel);
          if (row === undefined || row.counting_since !== since) return null;
          const totals = this.evidenceOf(row);
          const sourceDevices =
            (
              this.db
                .prepare(
                  'SELECT devices FROM evidence_sources WHERE channel_id = ? AND since = ? AND source = ?',
                )
                .get(row.id, since, source) as { devices: number } | undefined
            )?.devices ?? 0;
          const known = this.db.prepare<[number, number, string], number>(
            'SELECT failed FROM evidence_devices WHERE channel_id = ? AND since = ? AND device_id = ?',
          );
          const seen = new Map<string, boolean>();
          for (const { deviceId } of reports) {
            const failed = known.pluck().get(row.id, since, deviceId);
            if (failed !== undefined) seen.set(deviceId, failed === 1);
          }
          const changes = foldOutcomes(seen, { totals, sourceDevices }, reports, limits);
          const insert = this.db.prepare(
            `INSERT INTO evidence_devices (channel_id, since, device_id, source, failed)
             VALUES (?, ?, ?, ?, ?)`,
          );
          const fail = this.db.prepare(
            'UPDATE evidence_devices SET failed = 1 WHERE channel_id = ? AND since = ? AND device_id = ?',
          );
          for (const report of changes.inserts) {
            insert.run(row.id, since, report.deviceId, source, report.failed ? 1 : 0);
          }
          for (const deviceId of changes.failures) fail.run(row.id, since, deviceId);
          if (changes.changed) {
            this.db
              .prepare(
                `INSERT INTO evidence_sources (channel_id, since, source, devices) VALUES (?, ?, ?, ?)
                 ON CONFLICT (channel_id, since, source) DO UPDATE SET devices = excluded.devices`,
              )
              .run(row.id, since, source, changes.sourceDevices);
            this.db
              .prepare(
                `INSERT INTO evidence_totals (channel_id, since, devices, successes, failures)
                 VALUES (?, ?, ?, ?, ?)
                 ON CONFLICT (channel_id, since) DO UPDATE SET devices = excluded.devices,
                   successes = excluded.successes, failures = excluded.failures`,
              )
              .run(
                row.id,
                since,
                changes.totals.devices,
                changes.totals.successes,
                changes.totals.failures,
              );
            this.dropOldEvidence(row.id, since);
          }
          return { since, ...changes.totals };
        })
        .immediate(),
    );
  }

  private evidenceOf(row: ChannelRow): { devices: number; successes: number; failures: number } {
    const totals = this.db
      .prepare(
        'SELECT devices, successes, failures FROM evidence_totals WHERE channel_id = ? AND since = ?',
      )
      .get(row.id, row.counting_since) as
      { devices: number; successes: number; failures: number } | undefined;
    return totals ?? { devices: 0, successes: 0, failures: 0 };
  }

  /**
   * Evidence of earlier periods is dropped a bounded batch at a time as new evidence comes in, so
   * that neither an apply nor one stats request pays for a whole period's devices.
   */
  private dropOldEvidence(channelId: number, since: number): void {
    for (const [table, key] of [
      ['evidence_devices', 'device_id'],
      ['evidence_sources', 'source'],
    ] as const) {
      this.db
        .prepare(
          `DELETE FROM ${table} WHERE (channel_id, since, ${key}) IN (
             SELECT channel_id, since, ${key} FROM ${table}
             WHERE channel_id = ? AND since < ? LIMIT ${EVIDENCE_DROP_BATCH})`,
        )
        .run(channelId, since);
    }
    this.db
      .prepare('DELETE FROM evidence_totals WHERE channel_id = ? AND since < ?')
      .run(channelId, since);
  }

  evidence(app: string, channel: string): Promise<Evidence | null> {
    return settle(() => {
      const row = this.channelRow(app, channel);
      return row === undefined ? null : { since: row.counting_since, ...this.evidenceOf(row) };
    });
  }

  applyAutomaticPause(
    app: string,
    channel: string,
    reason: string,
    since: number,
  ): Promise<boolean> {
    return settle(() => {
      const view = this.channel(app, channel);
      const row = this.channelRow(app, channel);
      if (view === null || row === undefined || view.paused || view.current === null) return false;
      if (row.counting_since !== since) return false;
      const input = automaticPause(
        this.signer,
        { app, channel, seq: row.seq, head: row.head },
        reason,
        this.root.version,
        this.now(),
      );
      return this.applySync(input, this.now()).result === 'applied';
    });
  }

  // -------------------------------------------------------------------------------------------
  // Trust root

  rootChain(): Promise<SignedTrustRoot[]> {
    return settle(() =>
      (
        this.db.prepare('SELECT signed FROM roots ORDER BY version').all() as { signed: string }[]
      ).map((row) => JSON.parse(row.signed) as SignedTrustRoot),
    );
  }

  currentRoot(): TrustRoot {
    return this.root;
  }

  /** The newest root version in the database (read inside write transactions, not cached). */
  private newestRootVersion(): number {
    return (
      this.db.prepare('SELECT MAX(version) AS version FROM roots').get() as { version: number }
    ).version;
  }

  appendRoot(signed: SignedTrustRoot, now: Date): Promise<void> {
    return settle(() => {
      this.db
        .transaction(() => {
          const version = this.newestRootVersion();
          if (signed.root.version !== version + 1) {
            throw new AirlockError(
              'STALE',
              `Trust root version ${signed.root.version} does not follow version ${version}.`,
            );
          }
          this.db
            .prepare('INSERT INTO roots (version, signed, root_id, added_at) VALUES (?, ?, ?, ?)')
            .run(signed.root.version, canonicalize(signed), rootId(signed.root), now.toISOString());
        })
        .immediate();
      this.root = signed.root;
    });
  }

  // -------------------------------------------------------------------------------------------
  // Nonces

  useNonce(keyId: string, nonce: string, expires: number, now: Date): Promise<boolean> {
    return settle(() => {
      const nowSeconds = Math.floor(now.getTime() / 1000);
      this.nonceWrites += 1;
      if (this.nonceWrites % NONCE_SWEEP_EVERY === 0) {
        this.db.prepare('DELETE FROM nonces WHERE expires < ?').run(nowSeconds);
      }
      const existing = this.db
        .prepare('SELECT expires FROM nonces WHERE key_id = ? AND nonce = ?')
        .get(keyId, nonce) as { expires: number } | undefined;
      // An expired entry may linger until the next sweep; its signature is refused anyway.
      if (existing !== undefined) return false;
      this.db
        .prepare('INSERT INTO nonces (key_id, nonce, expires) VALUES (?, ?, ?)')
        .run(keyId, nonce, expires);
      return true;
    });
  }

  // -------------------------------------------------------------------------------------------
  // Apps and channels

  createApp(input: NewApp, now: Date): Promise<void> {
    return settle(() => {
      const time = now.toISOString();
      this.db
        .transaction(() => {
          if (this.apps.has(input.app)) {
            throw new AirlockError('ALREADY_EXISTS', `The app ${input.app} exists already.`);
          }
          this.db
            .prepare(
              'INSERT INTO apps (app, bundle_public_key, bundle_key_id, created_at) VALUES (?, ?, ?, ?)',
            )
            .run(input.app, input.bundlePublicKey, input.bundleKeyId, time);
          for (const channel of input.channels) this.insertChannel(input.app, channel, time);
        })
        .immediate();
      this.noteApp(input.app, input.bundlePublicKey, input.bundleKeyId);
      for (const channel of input.channels) this.channelAdded(input.app, channel.name);
    });
  }

  private insertChannel(app: string, channel: NewChannel, time: string): void {
    try {
      this.db
        .prepare(
          `INSERT INTO channels (app, name, settings, bundle_public_key, bundle_key_id, created_at)
           VALUES (?, ?, ?, ?, ?, ?)`,
        )
        .run(
          app,
          channel.name,
          JSON.stringify(channel.settings),
          channel.bundlePublicKey ?? null,
          channel.bundleKeyId ?? null,
          time,
        );
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new AirlockError(
          'ALREADY_EXISTS',
          `The channel ${channel.name} of ${app} exists already.`,
        );
      }
      throw error;
    }
  }

  private channelAdded(app: string, name: string): void {
    const row = this.channelRow(app, name);
    if (row === undefined) return;
    this.noteChannel(app, name, row.bundle_public_key);
    this.refreshView(row);
  }

  createChannel(app: string, channel: NewChannel, now: Date): Promise<void> {
    return settle(() => {
      if (!this.apps.has(app)) throw new AirlockError('NOT_FOUND', `There is no app ${app}.`);
      this.insertChannel(app, channel, now.toISOString());
      this.channelAdded(app, channel.name);
    });
  }

  updateChannelSettings(app: string, channel: string, settings: ChannelSettings): Promise<void> {
    return settle(() => {
      const result = this.db
        .prepare('UPDATE channels SET settings = ? WHERE app = ? AND name = ?')
        .run(JSON.stringify(settings), app, channel);
      if (result.changes !== 1) {
        throw new AirlockError('NOT_FOUND', `There is no channel ${channel} in ${app}.`);
      }
      const row = this.channelRow(app, channel);
      if (row !== undefined) this.refreshView(row);
    });
  }

  channelStatus(app: string, channel: string): ChannelStatus | null {
    const view = this.channel(app, channel);
    const row = this.channelRow(app, channel);
    return view === null || row === undefined ? null : channelStatusOf(recordOf(row), view);
  }

  channelHealth(app: string, channel: string, sinceHour: number): Promise<VersionOutcomes[]> {
    return settle(() => {
      const success = [...SUCCESS_ACTIONS];
      const failure = [...FAILURE_ACTIONS];
      const marks = (list: readonly string[]): string => list.map(() => '?').join(', ');
      // One grouped pass: hours before the window fold into one NULL bucket per version (totals
      // only). ARCHITECTURE.md §6: `version_name` comes from unauthenticated devices, so only versions this
      // channel's signed log released are reported, which also bounds the answer's size.
      const rows = this.db
        .prepare(
          `WITH released AS (
             SELECT s.version AS version, MIN(l.seq) AS seq
             FROM log l JOIN channels c ON c.id = l.channel_id JOIN statements s ON s.id = l.statement
             WHERE c.app = ? AND c.name = ? AND s.kind = 'release'
             GROUP BY s.version
           )
           SELECT r.version AS version,
             CASE WHEN st.hour >= ? THEN st.hour END AS bucket,
             COALESCE(SUM(CASE WHEN st.action IN (${marks(success)}) THEN st.count END), 0) AS successes,
             COALESCE(SUM(CASE WHEN st.action IN (${marks(failure)}) THEN st.count END), 0) AS failures
           FROM released r
           LEFT JOIN stats st ON st.app = ? AND st.channel = ? AND st.version = r.version
             AND st.action IN (${marks([...success, ...failure])})
           GROUP BY r.seq, r.version, bucket
           ORDER BY r.seq, bucket`,
        )
        .all(
          app,
          channel,
          sinceHour,
          ...success,
          ...failure,
          app,
          channel,
          ...success,
          ...failure,
        ) as HealthRow[];
      return groupHealth(rows);
    });
  }

  // -------------------------------------------------------------------------------------------
  // Bundles

  // -------------------------------------------------------------------------------------------
  // Statements

  statement(id: string): Promise<StoredStatement | null> {
    return settle(() => {
      const row = this.db
        .prepare('SELECT body, submitted_at FROM statements WHERE id = ?')
        .get(id) as { body: string; submitted_at: string } | undefined;
      if (row === undefined) return null;
      const statement = JSON.parse(row.body) as Statement;
      const applied = this.appliedEntry(id);
      return {
        id,
        statement,
        // Applied: the approvals that satisfied the policy, as the log entry records them.
        approvals: applied === null ? this.storedApprovals(id) : [...applied.approvals],
        submittedAt: row.submitted_at,
        applied,
      };
    });
  }

  private storedApprovals(id: string): Approval[] {
    return (
      this.db
        .prepare('SELECT key_id, sig FROM approvals WHERE statement = ? ORDER BY rowid')
        .all(id) as { key_id: string; sig: string }[]
    ).map((row) => ({ statement: id, keyId: row.key_id, sig: row.sig }));
  }

  private appliedEntry(id: string): LogEntry | null {
    const row = this.db
      .prepare(
        `SELECT l.seq, l.statement, s.body, l.approvals, l.server_sig, l.applied_at, l.checkpoint, l.root_version
         FROM log l JOIN statements s ON s.id = l.statement WHERE l.statement = ?`,
      )
      .get(id) as LogRow | undefined;
    return row === undefined ? null : logEntryOf(row);
  }

  submitStatement(
    id: string,
    statement: Statement,
    approvals: readonly Approval[],
    now: Date,
  ): Promise<{ created: boolean }> {
    return settle(() =>
      this.db
        .transaction(() => {
          const created = this.insertStatement(id, statement, now);
          this.insertApprovals(id, approvals, now);
          return { created };
        })
        .immediate(),
    );
  }

  private insertStatement(id: string, statement: Statement, now: Date): boolean {
    const result = this.db
      .prepare(
        `INSERT OR IGNORE INTO statements (id, app, channel, seq, kind, version, body, submitted_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        id,
        statement.app,
        statement.channel,
        statement.seq,
        statement.kind,
        statement.kind === 'release' ? statement.release.version : null,
        canonicalize(statement),
        now.toISOString(),
      );
    if (statement.kind === 'release') this.referenced.add(statement.release.bundle.encryptedSha256);
    return result.changes === 1;
  }

  private insertApprovals(id: string, approvals: readonly Approval[], now: Date): void {
    const insert = this.db.prepare(
      'INSERT OR IGNORE INTO approvals (statement, key_id, sig, added_at) VALUES (?, ?, ?, ?)',
    );
    for (const approval of approvals)
      insert.run(id, approval.keyId, approval.sig, now.toISOString());
  }

  addApprovals(id: string, approvals: readonly Approval[], now: Date): Promise<void> {
    return settle(() => {
      this.db.transaction(() => this.insertApprovals(id, approvals, now)).immediate();
    });
  }

  statementsAt(
    app: string,
    channel: string,
    seq: number,
    limit: number,
  ): Promise<StoredStatement[]> {
    return settle(() => {
      const rows = this.db
        .prepare(
          `SELECT s.id, s.body, s.submitted_at FROM statements s
           WHERE s.app = ? AND s.channel = ? AND s.seq = ?
             AND NOT EXISTS (SELECT 1 FROM log l WHERE l.statement = s.id)
           ORDER BY s.submitted_at, s.id LIMIT ?`,
        )
        .all(app, channel, seq, limit) as { id: string; body: string; submitted_at: string }[];
      return rows.map((row) => ({
        id: row.id,
        statement: JSON.parse(row.body) as Statement,
        approvals: this.storedApprovals(row.id),
        submittedAt: row.submitted_at,
        applied: null,
      }));
    });
  }

  isAppliedRelease(app: string, channel: string, id: string): Promise<boolean> {
    return settle(
      () =>
        this.db
          .prepare(
            `SELECT 1 FROM log l JOIN channels c ON c.id = l.channel_id
             JOIN statements s ON s.id = l.statement
             WHERE l.statement = ? AND c.app = ? AND c.name = ? AND s.kind = 'release'`,
          )
          .get(id, app, channel) !== undefined,
    );
  }

  applyStatement(input: ApplyInput, now: Date): Promise<ApplyOutcome> {
    return settle(() => this.applySync(input, now));
  }

  /**
   * ARCHITECTURE.md §3: the log row, approvals, checkpoint and channel head in ONE transaction (BEGIN
   * IMMEDIATE, so concurrent writers queue); seq/prev re-checked inside, so two racing pushes for
   * one position cannot both apply. The device view is swapped only after the commit.
   */
  private applySync(input: ApplyInput, now: Date): ApplyOutcome {
    const { statement, id } = input;
    const outcome = this.db
      .transaction((): ApplyOutcome => {
        const existing = this.appliedEntry(id);
        if (existing !== null) return { result: 'already_applied', entry: existing };
        const row = this.channelRow(statement.app, statement.channel);
        if (row === undefined) {
          throw new AirlockError(
            'NOT_FOUND',
            `There is no channel ${statement.channel} in ${statement.app}.`,
          );
        }
        if (statement.seq !== row.seq + 1 || statement.prev !== row.head) {
          return { result: 'seq_conflict', head: this.headOf(row) };
        }
        // ARCHITECTURE.md §11: the entry is applied under the root its approvals were judged by, and
        // that must still be the newest (a root update between the judgement and here wins).
        const rootVersion = this.newestRootVersion();
        if (input.rootVersion !== rootVersion) {
          return { result: 'root_changed', current: rootVersion };
        }
        this.insertStatement(id, statement, now);
        this.insertApprovals(id, input.newApprovals, now);
        const checkpoint = signCheckpoint(this.signer, {
          app: statement.app,
          channel: statement.channel,
          seq: statement.seq,
          head: id,
          time: now.toISOString(),
          rootVersion,
        });
        this.db
          .prepare(
            `INSERT INTO log (channel_id, seq, statement, approvals, server_sig, note, applied_at, checkpoint, root_version)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(
            row.id,
            statement.seq,
            id,
            JSON.stringify(input.approvals),
            input.serverSig ?? null,
            input.note ?? null,
            checkpoint.checkpoint.time,
            canonicalize(checkpoint),
            rootVersion,
          );
        const next = nextChannelState(stateOf(row), id, statement);
        this.db
          .prepare(
            `UPDATE channels SET seq = ?, head = ?, current_release = ?, rollout_percent = ?,
             paused = ?, rolled_back = ?, counting_since = ? WHERE id = ?`,
          )
          .run(
            next.seq,
            next.head,
            next.currentRelease,
            next.rolloutPercent,
            next.paused ? 1 : 0,
            next.rolledBack ? 1 : 0,
            next.countingSince,
            row.id,
          );
        return { result: 'applied', entry: this.appliedEntry(id) as LogEntry };
      })
      .immediate();
    if (outcome.result === 'applied') {
      const row = this.channelRow(statement.app, statement.channel);
      if (row !== undefined) {
        if (statement.kind === 'release') this.released.of(row.id, statement.release.version);
        this.refreshView(row);
      }
    }
    return outcome;
  }

  /**
   * The channel's head, vouched for recently: a checkpoint of the current seq and head with the
   * current time, re-signed at most once a minute per channel. A mirror compares its time with its
   * clock to detect a frozen log (ARCHITECTURE.md §3 "freeze"; TUF's timestamp role serves the same end).
   */
  private freshHead(app: string, channel: string, row: ChannelRow): SignedCheckpoint | null {
    if (row.head === null) return null;
    const key = `${app}\u0000${channel}`;
    const now = this.now();
    const cached = this.headCache.get(key);
    if (headIsFresh(cached, row.seq, row.head, now.getTime())) return cached;
    const headVersion = this.db
      .prepare<[number, number], number | null>(
        'SELECT root_version FROM log WHERE channel_id = ? AND seq = ?',
      )
      .pluck()
      .get(row.id, row.seq);
    const fresh = signHead(
      this.signer,
      { app, channel, seq: row.seq, head: row.head },
      headVersion ?? null,
      now,
    );
    this.headCache.set(key, fresh);
    return fresh;
  }

  private headOf(row: ChannelRow): {
    seq: number;
    id: string | null;
    checkpoint: SignedCheckpoint | null;
  } {
    const entry = row.head === null ? null : this.appliedEntry(row.head);
    return { seq: row.seq, id: row.head, checkpoint: entry?.checkpoint ?? null };
  }

  logPage(app: string, channel: string, after: number, limit: number): Promise<LogPage | null> {
    return settle(() => {
      const row = this.channelRow(app, channel);
      if (row === undefined) return null;
      const rows = this.db
        .prepare(
          `SELECT l.seq, l.statement, s.body, l.approvals, l.server_sig, l.applied_at, l.checkpoint, l.root_version
           FROM log l JOIN statements s ON s.id = l.statement
           WHERE l.channel_id = ? AND l.seq > ? ORDER BY l.seq LIMIT ?`,
        )
        .all(row.id, after, limit + 1) as LogRow[];
      const more = rows.length > limit;
      return {
        app,
        channel,
        entries: rows.slice(0, limit).map(logEntryOf),
        head: this.freshHead(app, channel, row),
        more,
      };
    });
  }
}
