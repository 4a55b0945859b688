/**
 * The channel's domain rules shared by the server, the console and (issue 14) the phone: the fold of
 * a channel's log into what devices get, the rollout cohort, and semantic versions.
 */
export { EMPTY_CHANNEL_STATE, nextChannelState, type ChannelState } from './state';
export { COHORT_BUCKETS, cohortBucket, inCohort } from './cohort';
export {
  NO_UPDATE,
  decideUpdate,
  releaseVersions,
  type DecisionChannel,
  type DecisionDevice,
  type DecisionRelease,
  type NoUpdate,
  type NoUpdateDecision,
  type NoUpdateKind,
  type ReleaseVersions,
  type UpdateDecision,
} from './decide';
export {
  coerceSemver,
  coerceSemverCached,
  compareSemver,
  parseSemver,
  parseSemverCached,
  type Semver,
} from './semver';
