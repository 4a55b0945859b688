import type { BundleRef } from '../../shared/schemas';
import type { BlobStore } from './blobs';
import type { ChannelSettings } from '../../shared/schemas/server-api';

/**
 * What the device endpoints (/updates, /stats, /channel_self, /bundles) need from the server's
 * store, and nothing more. The SQLite store implements it; a PostgreSQL + S3 store can follow by
 * implementing the same interface (ARCHITECTURE.md §6). Reads are synchronous and cheap: the store keeps the
 * device-facing view of each channel in memory and replaces it when a statement is applied.
 */
export interface DeviceFacingRelease {
  /** Id of the release statement devices are moved to (after rollbacks). */
  readonly statementId: string;
  readonly version: string;
  readonly minNativeVersion: string;
  /** Percent of devices in the cohort of this release (ARCHITECTURE.md §6); 100 after a rollback. */
  readonly rolloutPercent: number;
  readonly bundle: BundleRef;
}

export interface DeviceFacingChannel {
  readonly app: string;
  readonly channel: string;
  /** Small stable number for `listChannels` (the plugin needs a numeric `id`). */
  readonly numericId: number;
  readonly settings: ChannelSettings;
  readonly current: DeviceFacingRelease | null;
  readonly paused: boolean;
  /** The head is a rollback: devices above `current` are moved down to it. */
  readonly rolledBack: boolean;
  /**
   * Every version this channel's signed log has released (what device stats may be counted on).
   * Grows as releases apply, kept up to date in place: no view is rebuilt from the whole log.
   */
  readonly releasedVersions: ReadonlySet<string>;
  /** The greatest version (semver) released so far: a new release must be greater. */
  readonly highestVersion: string | null;
  /** The seq the automatic pause counts outcomes from (last release, rollback or resume). */
  readonly countingSince: number;
}

/** One device's outcome for the current release, as evidence for the automatic pause. */
export interface OutcomeReport {
  readonly deviceId: string;
  readonly failed: boolean;
}

/** The automatic pause's evidence for a channel since `since` (one outcome per device). */
export interface Evidence {
  readonly since: number;
  readonly devices: number;
  readonly successes: number;
  readonly failures: number;
}

/** What one source may add to the evidence (ARCHITECTURE.md "Unauthenticated input"). */
export interface EvidenceLimits {
  /** Devices one source may contribute per counting period. */
  readonly perSource: number;
  /** Devices counted per period in all (bounded storage; far above any minSamples). */
  readonly devices: number;
}

export interface StatsRow {
  readonly app: string;
  readonly channel: string;
  /** The bundle version the event is about (`version_name`). */
  readonly version: string;
  readonly action: string;
  /** Start of the hour, ms since the epoch. */
  readonly hour: number;
  readonly count: number;
}

export interface DeviceStore {
  appExists(app: string): boolean;
  /** The app's default channel (the first created), or null for an unknown app. */
  defaultChannel(app: string): string | null;
  channel(app: string, channel: string): DeviceFacingChannel | null;
  channels(app: string): readonly DeviceFacingChannel[];
  /**
   * True when devices may download the bundle: its contents checked by the server, and named by a
   * pending or applied statement (the bytes themselves are in `blobs`). No I/O: in memory.
   */
  servable(encryptedSha256: string): boolean;
  /**
   * Where bundle bytes live (src/server/store/blobs): a bundle is visible there only complete and
   * hash-checked (BlobStore rule 1); the data directory's folder or an S3-compatible bucket.
   */
  readonly blobs: BlobStore;
  /** Adds to the hourly counters (health charts), in one transaction. */
  addStats(rows: readonly StatsRow[]): Promise<void>;
  /**
   * Records outcomes of the channel's current release from one source, atomically: a device
   * counts once per period (a failure replaces its success, never the reverse), a source adds at
   * most `limits.perSource` devices. Returns the evidence after recording, or null when the
   * channel's counting period is no longer `since` (a release, rollback or resume came between).
   */
  recordOutcomes(
    app: string,
    channel: string,
    since: number,
    source: string,
    reports: readonly OutcomeReport[],
    limits: EvidenceLimits,
  ): Promise<Evidence | null>;
  /** The current period's evidence, or null for an unknown channel. */
  evidence(app: string, channel: string): Promise<Evidence | null>;
  /**
   * Applies a server-signed `pause` with `automatic: true` (ARCHITECTURE.md "Automatic pause"),
   * atomically like any other statement, once: returns false when the channel is already paused,
   * has no release, or its counting period is no longer `since`.
   */
  applyAutomaticPause(
    app: string,
    channel: string,
    reason: string,
    since: number,
  ): Promise<boolean>;
}
