/**
 * Deadlines for request bodies (ARCHITECTURE.md "Slow and greedy clients"): a client that sends its
 * body a byte at a time holds a connection, a descriptor and memory for as long as it is let; 1,100
 * of them used to stop a server for good. Node checks the header deadline itself
 * (`headersTimeout`); bodies are checked here.
 *
 * O(1) per request: every deadline of one queue has the same length, so deadlines are appended in
 * the order they fall due and one timer pops them from the front. A finished body only marks its
 * entry (nothing is searched); the sweep drops marked entries as it reaches them.
 */

/** What a deadline calls when it falls due: an object, so that arming one makes no closure. */
export interface Expirable {
  expire(): void;
}

/** One armed deadline; `cancel()` when the body arrived in time. */
export interface Deadline {
  /** Makes the deadline harmless; safe to call more than once. */
  cancel(): void;
}

interface Entry extends Deadline {
  readonly due: number;
  target: Expirable | null;
}

function cancelEntry(this: Entry): void {
  this.target = null;
}

/**
 * Deadlines of one fixed length, checked every `tickMs` (they may fire up to one tick late).
 * @example
 * const bodies = new DeadlineQueue(10_000);
 * const deadline = bodies.add({ expire: () => req.destroy() });
 * req.on('end', () => deadline.cancel());
 */
export class DeadlineQueue {
  private entries: Entry[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    readonly lengthMs: number,
    private readonly now: () => number = Date.now,
    private readonly tickMs = Math.min(1000, Math.max(10, Math.floor(lengthMs / 4))),
  ) {}

  /** Calls `target.expire()` once `lengthMs` from now, unless cancelled first. */
  add(target: Expirable): Deadline {
    const entry: Entry = { due: this.now() + this.lengthMs, target, cancel: cancelEntry };
    this.entries.push(entry);
    if (this.timer === null) {
      this.timer = setInterval(() => this.sweep(), this.tickMs);
      this.timer.unref();
    }
    return entry;
  }

  /** Entries not yet swept (cancelled ones included); for tests. */
  get pending(): number {
    return this.entries.length - this.head;
  }

  /** Fires what is due, drops what was cancelled, from the front only. */
  sweep(): void {
    const now = this.now();
    const { entries } = this;
    while (this.head < entries.length) {
      const entry = entries[this.head] as Entry;
      if (entry.target !== null && entry.due > now) break;
      this.head++;
      const target = entry.target;
      entry.target = null;
      target?.expire();
    }
    if (this.head === entries.length) {
      this.entries = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > entries.length) {
      this.entries = entries.slice(this.head);
      this.head = 0;
    }
    if (this.entries.length === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  /** Stops the timer (pending deadlines never fire). */
  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.entries = [];
    this.head = 0;
  }
}
