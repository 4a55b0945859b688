import type { Statement } from '../../shared/schemas';

/**
 * What a channel's log amounts to (ARCHITECTURE.md §6): the release devices are moved to, its rollout, and
 * the pause and rollback marks. A pure fold over applied statements, so that the store keeps it in
 * the channel row (updated in the same transaction as the log) and tests can replay it.
 */
export interface ChannelState {
  readonly seq: number;
  readonly head: string | null;
  /** Id of the release statement devices are moved to, after rollbacks. */
  readonly currentRelease: string | null;
  readonly rolloutPercent: number | null;
  readonly paused: boolean;
  /** Set by a rollback, cleared by the next release: devices above the current are moved down. */
  readonly rolledBack: boolean;
  /**
   * The seq the automatic pause counts outcomes from: the last release, rollback or resume
   * (ARCHITECTURE.md "Unauthenticated input": a resume is not undone by what came before it).
   */
  readonly countingSince: number;
}

export const EMPTY_CHANNEL_STATE: ChannelState = {
  seq: 0,
  head: null,
  currentRelease: null,
  rolloutPercent: null,
  paused: false,
  rolledBack: false,
  countingSince: 0,
};

/**
 * The state after applying `statement` (with id `id`) on top of `state`. Preconditions (a release
 * exists for a rollout, the rollback target is a release…) are checked before, by the push rules.
 * @example nextChannelState(EMPTY_CHANNEL_STATE, id, releaseStatement).currentRelease === id
 */
export function nextChannelState(
  state: ChannelState,
  id: string,
  statement: Statement,
): ChannelState {
  const moved = { ...state, seq: statement.seq, head: id };
  switch (statement.kind) {
    case 'release':
      return {
        ...moved,
        currentRelease: id,
        rolloutPercent: statement.release.rollout.percent,
        rolledBack: false,
        countingSince: statement.seq,
      };
    case 'rollback':
      // A rollback moves every device back: the target is served to the whole channel.
      return {
        ...moved,
        currentRelease: statement.target,
        rolloutPercent: 100,
        rolledBack: true,
        countingSince: statement.seq,
      };
    case 'rollout':
      return { ...moved, rolloutPercent: statement.rollout.percent };
    case 'pause':
      return { ...moved, paused: true };
    case 'resume':
      return { ...moved, paused: false, countingSince: statement.seq };
  }
}
