import type { DeviceFacingRelease } from '../store/device-store';
import {
  releaseVersions,
  type ReleaseVersions,
  type UpdateDecision as CoreUpdateDecision,
} from '../../core/channel';
import { releaseSalt } from './handed';

/**
 * The update decision lives in core (src/core/channel/decide.ts), shared with the device guard;
 * the server adds what only it needs per release: the HandedSet salt.
 */
export {
  NO_UPDATE,
  decideUpdate,
  type NoUpdate,
  type NoUpdateDecision,
  type NoUpdateKind,
} from '../../core/channel';

/** The server's decision: over the store's device-facing releases. */
export type UpdateDecision = CoreUpdateDecision<DeviceFacingRelease>;

/** What is precomputed once per release view: parsed versions, the HandedSet salt. */
export interface ReleaseFacts extends ReleaseVersions {
  readonly salt: number;
}

const factsCache = new WeakMap<DeviceFacingRelease, ReleaseFacts>();

/** Parsed versions and salt of a release, computed once per release object (views are replaced). */
export function releaseFacts(release: DeviceFacingRelease): ReleaseFacts {
  let facts = factsCache.get(release);
  if (facts === undefined) {
    facts = { ...releaseVersions(release), salt: releaseSalt(release.statementId) };
    factsCache.set(release, facts);
  }
  return facts;
}
