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
import type { DeviceStore } from './device-store';
import type { BundleFile } from '../../core/bundle';

/**
 * Everything the server keeps (ARCHITECTURE.md §6): the device-facing part (`DeviceStore`, synchronous and
 * served from memory) plus the admin side. Admin methods return promises so that a PostgreSQL +
 * S3 store can implement the same interface; the SQLite store settles them at once.
 *
 * Invariants every implementation keeps:
 * - applying a statement is atomic: log row, approvals, checkpoint and channel head together;
 * - a log position is taken once: a second statement for the same seq gets `seq_conflict`;
 * - a bundle becomes visible only complete and hash-checked.
 */
export interface ServerStore extends DeviceStore {
  /** The server's own key (checkpoints, automatic pauses). */
  readonly serverKey: ServerKey;

  // Trust root (ARCHITECTURE.md §4)
  /** The whole chain, version 1 first. */
  rootChain(): Promise<SignedTrustRoot[]>;
  /** The newest trust root (what requests and approvals are judged by). */
  currentRoot(): TrustRoot;
  /** Appends version `signed.root.version`; refuses (STALE) unless it is current + 1. */
  appendRoot(signed: SignedTrustRoot, now: Date): Promise<void>;

  // Request nonces (RFC 9421 replay protection)
  /** Records a nonce until `expires` (seconds); false when it was seen already. */
  useNonce(keyId: string, nonce: string, expires: number, now: Date): Promise<boolean>;

  // Apps and channels
  createApp(input: NewApp, now: Date): Promise<void>;
  createChannel(app: string, channel: NewChannel, now: Date): Promise<void>;
  updateChannelSettings(app: string, channel: string, settings: ChannelSettings): Promise<void>;
  listApps(): Promise<AppSummary[]>;
  /**
   * The bundle public key (PKCS#1 PEM) the channel's releases must be encrypted for: the
   * channel's own, else the app's; null when neither was registered.
   */
  bundlePublicKey(app: string, channel: string): string | null;
  channelStatus(app: string, channel: string): ChannelStatus | null;
  /**
   * Outcome counts of every version the channel's log released (release order), in ONE grouped
   * query over the hourly stats: totals since the release, and per hour from `sinceHour` (ms since
   * the epoch, start of an hour). Only released versions: devices name versions freely (ARCHITECTURE.md §6).
   */
  channelHealth(app: string, channel: string, sinceHour: number): Promise<VersionOutcomes[]>;

  // Bundles (the bytes: `blobs`, from DeviceStore)
  /** True once the server checked the bundle's contents itself (ReleaseControl). */
  bundleChecked(encryptedSha256: string): boolean;
  /** Records that the bundle's contents passed the server's checks, with its file list. */
  markBundleChecked(
    encryptedSha256: string,
    now: Date,
    files: readonly BundleFile[],
  ): Promise<void>;
  /** The file list recorded when the bundle was checked, or null. */
  checkedFileList(encryptedSha256: string): Promise<BundleFile[] | null>;

  // Statements and the log (ARCHITECTURE.md §3)
  statement(id: string): Promise<StoredStatement | null>;
  /** Stores a pending statement; `created` is false when it was stored already. */
  submitStatement(
    id: string,
    statement: Statement,
    approvals: readonly Approval[],
    now: Date,
  ): Promise<{ created: boolean }>;
  /** Adds approvals to a pending statement; one per key (a repeat of a stored one is a no-op). */
  addApprovals(id: string, approvals: readonly Approval[], now: Date): Promise<void>;
  /**
   * Statements submitted for app/channel at `seq` that are not applied, oldest first, at most
   * `limit`: what could be applied next when `seq` is the head's seq + 1.
   */
  statementsAt(
    app: string,
    channel: string,
    seq: number,
    limit: number,
  ): Promise<StoredStatement[]>;
  /** True when `id` is a release statement applied on app/channel (a rollback may target it). */
  isAppliedRelease(app: string, channel: string, id: string): Promise<boolean>;
  /**
   * Applies `statement` at its seq, in one transaction: log row, new approvals, checkpoint signed
   * with the server key, channel head; then swaps the device view. Re-checks seq/prev inside.
   */
  applyStatement(input: ApplyInput, now: Date): Promise<ApplyOutcome>;
  logPage(app: string, channel: string, after: number, limit: number): Promise<LogPage | null>;

  /**
   * Brings this process's memory up to what the database holds for the trust root and, when
   * named, one channel, so that an admin decision here sees what any process committed before the
   * request came (read-your-writes across processes, issue 15 item 3). A no-op where one process
   * owns the database (SQLite).
   */
  catchUp(app?: string, channel?: string): Promise<void>;

  /** Flushes what is buffered (stats), closes connections; a second call does nothing. */
  close(): Promise<void>;
}

export interface NewApp {
  readonly app: string;
  readonly bundlePublicKey: string | null;
  /** Capgo key_id of `bundlePublicKey`. */
  readonly bundleKeyId: string | null;
  readonly channels: readonly NewChannel[];
}

export interface NewChannel {
  readonly name: string;
  readonly settings: ChannelSettings;
  /** A bundle key of the channel's own (PKCS#1 PEM), else the app's applies. */
  readonly bundlePublicKey?: string | null;
  /** Capgo key_id of `bundlePublicKey`. */
  readonly bundleKeyId?: string | null;
}

export interface AppSummary {
  readonly app: string;
  readonly bundleKeyId: string | null;
  readonly defaultChannel: string;
  readonly channels: readonly string[];
}

export interface StoredStatement {
  readonly id: string;
  readonly statement: Statement;
  /** Approvals gathered so far (pending), or recorded with the log entry (applied). */
  readonly approvals: readonly Approval[];
  readonly submittedAt: string;
  /** The log entry when applied, else null. */
  readonly applied: LogEntry | null;
}

/** Successful installs and failures of one version (src/server/device/stats-actions.ts rules). */
export interface VersionOutcomes {
  readonly version: string;
  readonly successes: number;
  readonly failures: number;
  /** Hours at or after `sinceHour` with outcomes, oldest first; `hour` in ms since the epoch. */
  readonly series: readonly { hour: number; successes: number; failures: number }[];
}

export interface ApplyInput {
  readonly id: string;
  readonly statement: Statement;
  /** The approvals recorded with the log entry (those that count). */
  readonly approvals: readonly Approval[];
  /** Approvals to store with the statement as well (new ones that came with the push). */
  readonly newApprovals: readonly Approval[];
  /** The server's signature over the statement (automatic pauses only). */
  readonly serverSig?: string;
  /**
   * The trust-root version the approvals were judged under. The store re-checks inside the apply
   * transaction that it is still the current one (ARCHITECTURE.md §11), else `root_changed`.
   */
  readonly rootVersion: number;
  /** A note kept with the log row (e.g. why an automatic pause happened); not part of the log. */
  readonly note?: string;
}

export type ApplyOutcome =
  | { readonly result: 'applied'; readonly entry: LogEntry }
  | { readonly result: 'already_applied'; readonly entry: LogEntry }
  | { readonly result: 'root_changed'; readonly current: number }
  | {
      readonly result: 'seq_conflict';
      readonly head: { seq: number; id: string | null; checkpoint: SignedCheckpoint | null };
    };
