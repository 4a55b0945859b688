import type { BundleRef } from '../../shared/schemas';
import type { ChannelSettings } from '../../shared/schemas/server-api';

/**
 * What the device endpoints (/updates, /stats, /channel_self, /bundles) need from the server's
 * store, and nothing more. The SQLite store implements it; a PostgreSQL + S3 store can follow by
 * implementing the same interface (DESIGN §6). Reads are synchronous and cheap: the store keeps the
 * device-facing view of each channel in memory and replaces it when a statement is applied.
 */
export interface DeviceFacingRelease {
  /** Id of the release statement devices are moved to (after rollbacks). */
  readonly statementId: string;
  readonly version: string;
  readonly minNativeVersion: string;
  /** Percent of devices in the cohort of this release (DESIGN §6); 100 after a rollback. */
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
  /** Every version this channel's signed log has released (what device stats may be counted on). */
  readonly releasedVersions: ReadonlySet<string>;
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
  /**
   * Changes whenever anything the device endpoints read changes: an app, a channel, a view
   * (applying a statement, a settings update). The /updates memo keeps an answer while it holds.
   */
  readonly viewGeneration: number;
  appExists(app: string): boolean;
  /** Capgo `key_id` of the app's bundle public key, or null when none was registered. */
  bundleKeyId(app: string): string | null;
  /** The app's default channel (the first created), or null for an unknown app. */
  defaultChannel(app: string): string | null;
  channel(app: string, channel: string): DeviceFacingChannel | null;
  channels(app: string): readonly DeviceFacingChannel[];
  /** A complete, hash-checked bundle file, or null (partial uploads are never visible). */
  bundleFile(encryptedSha256: string): { path: string; size: number } | null;
  /** Adds to the hourly counters, in one transaction. */
  addStats(rows: readonly StatsRow[]): void;
  /** Successes and failures counted for `version` on app/channel since it was released. */
  outcomes(app: string, channel: string, version: string): { successes: number; failures: number };
  /**
   * Applies a server-signed `pause` with `automatic: true` (DESIGN §6), atomically like any other
   * statement. Returns false when the channel is already paused or has no release.
   */
  applyAutomaticPause(app: string, channel: string, reason: string): boolean;
}
