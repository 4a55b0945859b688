import { inCohort } from './cohort';
import {
  coerceSemverCached,
  compareSemver,
  parseSemver,
  parseSemverCached,
  type Semver,
} from './semver';

/**
 * The update decision for one device (ARCHITECTURE.md §6), as a pure function of what the device
 * runs and the channel's state. One implementation for the server's `/updates` and the device guard
 * (ARCHITECTURE.md §11, checklist I2: cohort, minimum native version and pause decided by the same function).
 * The order of the checks:
 *
 * 1. no release on the channel → `no_release` (up_to_date);
 * 2. the device already runs the release → `no_new_version_available` (up_to_date);
 * 3. channel paused → `channel_paused` (up_to_date): no new installs, nobody is moved;
 * 4. `versionBuild` not a version → `semver_error` (failed, like the Capgo backend);
 * 5. the device runs something newer → `no_new_version_available`: no downgrades, except that
 *    after a rollback a device running a newer *bundle* is moved down to the release (a device on
 *    its builtin bundle never ran the rolled-back release and keeps its newer native web code);
 * 6. `versionBuild` < `minNativeVersion` → `disable_auto_update_under_native` (blocked);
 * 7. the device's `keyId` differs from the bundle's, or it has none (it could not decrypt an
 *    encrypted bundle) → `key_id_mismatch` (blocked);
 * 8. outside the rollout cohort → `no_new_version_available` (up_to_date);
 * 9. otherwise: install.
 */

/** What the decision reads of a release. */
export interface DecisionRelease {
  /** Id of the release statement (the cohort is drawn per statement). */
  readonly statementId: string;
  readonly version: string;
  readonly minNativeVersion: string;
  /** 100 after a rollback. */
  readonly rolloutPercent: number;
  readonly bundle: { readonly keyId: string };
}

/** What the decision reads of a channel. */
export interface DecisionChannel<R extends DecisionRelease> {
  readonly current: R | null;
  readonly paused: boolean;
  /** The head is a rollback: devices above `current` are moved down to it. */
  readonly rolledBack: boolean;
}

/** What the decision reads of a device. */
export interface DecisionDevice {
  /** Lowercased, like the Capgo backend. */
  readonly deviceId: string;
  /** The native app version. */
  readonly versionBuild: string;
  /** The bundle the device runs, `builtin` replaced by `versionBuild` (PROTOCOL.md §2). */
  readonly runningVersion: string;
  /** True when the device runs its builtin bundle. */
  readonly onBuiltin: boolean;
  /** The device's bundle key id (Capgo `key_id`); undefined when it has none. */
  readonly keyId: string | undefined;
}

export type NoUpdateKind = 'up_to_date' | 'blocked' | 'failed';

/** A "no update" answer: HTTP 200 `{error, message, kind}` (PROTOCOL.md §3.2). */
export interface NoUpdate {
  readonly error: string;
  readonly message: string;
  readonly kind: NoUpdateKind;
}

/** A decision that hands nothing out. */
export interface NoUpdateDecision {
  readonly install: false;
  readonly answer: NoUpdate;
}

export type UpdateDecision<R extends DecisionRelease> =
  { readonly install: true; readonly release: R } | NoUpdateDecision;

function noUpdate(error: string, kind: NoUpdateKind, message: string): NoUpdateDecision {
  return Object.freeze({ install: false, answer: Object.freeze({ error, message, kind }) });
}

/** The fixed "no update" answers; constants, so the hot path allocates nothing for them. */
export const NO_UPDATE = {
  appNotFound: noUpdate('app_not_found', 'failed', 'This app is not known to the server.'),
  noChannel: noUpdate('no_channel', 'failed', 'The app has no channel to serve this device.'),
  noRelease: noUpdate('no_release', 'up_to_date', 'The channel has no release yet.'),
  upToDate: noUpdate(
    'no_new_version_available',
    'up_to_date',
    'The device runs the latest version of its channel.',
  ),
  paused: noUpdate('channel_paused', 'up_to_date', 'The channel is paused: no new installs.'),
  semverError: noUpdate('semver_error', 'failed', 'The version_build is not a version number.'),
  underNative: noUpdate(
    'disable_auto_update_under_native',
    'blocked',
    'The release needs a newer native version of the app.',
  ),
  keyIdMismatch: noUpdate(
    'key_id_mismatch',
    'blocked',
    'The release is encrypted for another public key than the device holds.',
  ),
  notInCohort: noUpdate(
    'no_new_version_available',
    'up_to_date',
    'The device runs the latest version rolled out to it.',
  ),
} as const;

/** A release's parsed versions. */
export interface ReleaseVersions {
  readonly version: Semver | null;
  readonly minNative: Semver | null;
}

const versionsCache = new WeakMap<DecisionRelease, ReleaseVersions>();

/** Parsed versions of a release, computed once per release object (views are replaced, not edited). */
export function releaseVersions(release: DecisionRelease): ReleaseVersions {
  let versions = versionsCache.get(release);
  if (versions === undefined) {
    versions = {
      version: parseSemver(release.version),
      minNative: parseSemver(release.minNativeVersion),
    };
    versionsCache.set(release, versions);
  }
  return versions;
}

/**
 * True when the device runs something strictly newer than the release: its bundle, or for
 * `builtin` its native version (PROTOCOL.md §2). A running version that is not semver (a hand-made
 * bundle name) never counts as newer.
 */
function runsNewer(device: DecisionDevice, build: Semver, versions: ReleaseVersions): boolean {
  if (versions.version === null) return false;
  const running = device.onBuiltin ? build : parseSemverCached(device.runningVersion);
  return running !== null && compareSemver(running, versions.version) > 0;
}

/**
 * Decides what one device gets from one channel (see the module comment for the order).
 * @example const d = decideUpdate(device, channel); if (d.install) send(d.release);
 */
export function decideUpdate<R extends DecisionRelease>(
  device: DecisionDevice,
  channel: DecisionChannel<R>,
): UpdateDecision<R> {
  const release = channel.current;
  if (release === null) return NO_UPDATE.noRelease;
  // "builtin" reads as versionBuild (PROTOCOL.md §2), as the Capgo backend compares it.
  if (device.runningVersion === release.version) return NO_UPDATE.upToDate;
  if (channel.paused) return NO_UPDATE.paused;
  const build = coerceSemverCached(device.versionBuild);
  if (build === null) return NO_UPDATE.semverError;
  const versions = releaseVersions(release);
  // A rollback moves devices down from a newer bundle, never from their builtin one.
  const mayMoveDown = channel.rolledBack && !device.onBuiltin;
  if (runsNewer(device, build, versions) && !mayMoveDown) return NO_UPDATE.upToDate;
  if (versions.minNative !== null && compareSemver(build, versions.minNative) < 0) {
    return NO_UPDATE.underNative;
  }
  if (device.keyId !== release.bundle.keyId) return NO_UPDATE.keyIdMismatch;
  if (!inCohort(device.deviceId, release.statementId, release.rolloutPercent)) {
    return NO_UPDATE.notInCohort;
  }
  return { install: true, release };
}
