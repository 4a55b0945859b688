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
 * them; when full, the oldest entry goes. An attacker sending endless distinct bodies only makes
 * it miss (every miss costs what a request without the memo costs).
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

/** A bounded FIFO memo from body (latin1 text of its bytes) to its answer. */
export class AnswerMemo {
  private readonly entries = new Map<string, MemoEntry>();

  constructor(readonly maxEntries: number) {}

  get(body: string): MemoEntry | undefined {
    return this.entries.get(body);
  }

  /** Keeps `entry` for `body` (latin1 text of its bytes) unless memoizing is off or the body is too long. */
  set(body: string, entry: MemoEntry): void {
    if (this.maxEntries <= 0 || body.length > MAX_MEMO_BODY) return;
    if (!this.entries.has(body) && this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    this.entries.set(body, entry);
  }

  get size(): number {
    return this.entries.size;
  }
}
