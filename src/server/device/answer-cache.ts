import { BoundedMap } from '../bounded-map';
import type { UpdateDecision } from './decide';

/**
 * Memo of /updates answers by exact request body (its bytes as latin1 text: one character per
 * byte, so equal keys are equal bodies). A phone sends the same info object on every check until
 * something on it changes (capgo-protocol §2: its version, channel or key), so a repeated check
 * can skip JSON parsing, validation and the decision. An entry is reused only while nothing a
 * device can see has changed since it was decided: the store's `viewGeneration` moves on every
 * applied statement and every app, channel or settings change, which makes every older entry miss
 * (pushes are rare; the next check of each device decides afresh).
 *
 * Bounded: only bodies of at most 1 KiB (a plugin's is ~450 B) are kept, at most `maxEntries` of
 * them, in a {@link BoundedMap} (O(1) CLOCK eviction: an entry not reused recently goes). A fleet
 * larger than the memo, or an attacker sending endless distinct bodies, only makes it miss (every
 * miss costs what a request without the memo costs, plus one O(1) insertion).
 */

/** Bodies longer than this are never memoized. */
export const MAX_MEMO_BODY = 1024;

/** What a memoized answer needs to be reused safely. */
export interface MemoEntry {
  /** For the per-device rate limit, which still applies to every request. */
  readonly deviceId: string;
  /** The store's `viewGeneration` the decision was made at: the entry holds while it does. */
  readonly generation: number;
  readonly decision: UpdateDecision;
}

/** A bounded memo from body (latin1 text of its bytes) to its answer. */
export class AnswerMemo {
  private readonly entries: BoundedMap<MemoEntry> | null;

  constructor(readonly maxEntries: number) {
    this.entries = maxEntries > 0 ? new BoundedMap(maxEntries) : null;
  }

  get(body: string): MemoEntry | undefined {
    return this.entries?.get(body);
  }

  /** Keeps `entry` for `body` (latin1 text of its bytes) unless memoizing is off or the body is too long. */
  set(body: string, entry: MemoEntry): void {
    if (this.entries === null || body.length > MAX_MEMO_BODY) return;
    this.entries.set(body, entry);
  }

  get size(): number {
    return this.entries?.size ?? 0;
  }

  /** Slots examined by evictions so far (tests count work, not time). */
  get sweeps(): number {
    return this.entries?.sweeps ?? 0;
  }
}
