import type { DeviceFacingChannel, DeviceFacingRelease } from '../store/device-store';
import { inCohort } from '../../core/channel';
import { releaseSalt } from './handed';
import type { DeviceInfo } from './info';
import {
  coerceSemverCached,
  compareSemver,
  parseSemver,
  parseSemverCached,
  type Semver,
} from '../../core/channel';

/**
 * The update decision for one device (ARCHITECTURE.md §6), as a pure function of the validated info object
 * and the channel's device-facing view. The order of the checks:
 *
 * 1. no release on the channel → `no_release` (up_to_date);
 * 2. the device already runs the release → `no_new_version_available` (up_to_date);
 * 3. channel paused → `channel_paused` (up_to_date): no new installs, nobody is moved;
 * 4. `version_build` not a version → `semver_error` (failed, like the Capgo backend);
 * 5. the device runs something newer → `no_new_version_available`: no downgrades, except that
 *    after a rollback a device running a newer *bundle* is moved down to the release (a device on
 *    its builtin bundle never ran the rolled-back release and keeps its newer native web code);
 * 6. `version_build` < `minNativeVersion` → `disable_auto_update_under_native` (blocked);
 * 7. the device's `key_id` differs from the bundle's, or it has none (it could not decrypt an
 *    encrypted bundle) → `key_id_mismatch` (blocked);
 * 8. outside the rollout cohort → `no_new_version_available` (up_to_date);
 * 9. otherwise: install.
 */

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

export type UpdateDecision =
  { readonly install: true; readonly release: DeviceFacingRelease } | NoUpdateDecision;

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

/** What is precomputed once per release view: parsed versions, the HandedSet salt. */
export interface ReleaseFacts {
  readonly version: Semver | null;
  readonly minNative: Semver | null;
  readonly salt: number;
}

const factsCache = new WeakMap<DeviceFacingRelease, ReleaseFacts>();

/** Parsed versions of a release, computed once per release object (the store replaces views). */
export function releaseFacts(release: DeviceFacingRelease): ReleaseFacts {
  let facts = factsCache.get(release);
  if (facts === undefined) {
    facts = {
      version: parseSemver(release.version),
      minNative: parseSemver(release.minNativeVersion),
      salt: releaseSalt(release.statementId),
    };
    factsCache.set(release, facts);
  }
  return facts;
}

/**
 * True when the device runs something strictly newer than the release: its bundle, or for
 * `builtin` its native version (PROTOCOL.md §2). A version_name that is not semver (a hand-made
 * bundle name) never counts as newer.
 */
function runsNewer(info: DeviceInfo, build: Semver, facts: ReleaseFacts): boolean {
  if (facts.version === null) return false;
  const running = info.onBuiltin ? build : parseSemverCached(info.runningVersion);
  return running !== null && compareSemver(running, facts.version) > 0;
}

/** A rollback moves devices down from a newer bundle, never from their builtin one. */
function mayMoveDown(info: DeviceInfo, channel: DeviceFacingChannel): boolean {
  return channel.rolledBack && !info.onBuiltin;
}

/**
 * Decides what one device gets from one channel (ARCHITECTURE.md §6; see the module comment for the order).
 * @example const d = decideUpdate(info, store.channel(app, name)); if (d.install) send(d.release);
 */
export function decideUpdate(info: DeviceInfo, channel: DeviceFacingChannel): UpdateDecision {
  const release = channel.current;
  if (release === null) return NO_UPDATE.noRelease;
  // "builtin" reads as version_build (PROTOCOL.md §2), as the Capgo backend compares it.
  if (info.runningVersion === release.version) return NO_UPDATE.upToDate;
  if (channel.paused) return NO_UPDATE.paused;
  const build = coerceSemverCached(info.versionBuild);
  if (build === null) return NO_UPDATE.semverError;
  const facts = releaseFacts(release);
  if (runsNewer(info, build, facts) && !mayMoveDown(info, channel)) return NO_UPDATE.upToDate;
  if (facts.minNative !== null && compareSemver(build, facts.minNative) < 0) {
    return NO_UPDATE.underNative;
  }
  if (info.keyId !== release.bundle.keyId) return NO_UPDATE.keyIdMismatch;
  if (!inCohort(info.deviceId, release.statementId, release.rolloutPercent)) {
    return NO_UPDATE.notInCohort;
  }
  return { install: true, release };
}
