/**
 * Deadlines for request bodies (ARCHITECTURE.md "Slow and greedy clients"): a client that sends its
 * body a byte at a time holds a connection, a descriptor and memory for as long as it is let; 1,100
 * of them used to stop a server for good. Node checks the header deadline itself
 * (`headersTimeout`); bodies are checked here.
 *
 * O(1) per request and nothing kept once a body arrived: every deadline of one queue has the same
 * length, so a Map in insertion order holds the armed targets in the order they fall due, and one
 * timer pops them from the front. `cancel` deletes the entry at once. (An entry per request kept
 * until its due time, as before, outlived the young generation at fleet rates: hundreds of
 * thousands of them were promoted, and the collector's work grew with the request rate.)
 */

/** What a deadline calls when it falls due: an object, so that arming one makes no closure. */
export interface Expirable {
  expire(): void;
}

export class DeadlineQueue {
  /** Armed targets → when they fall due (ms), oldest first. */
  private readonly due = new Map<Expirable, number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    readonly lengthMs: number,
    private readonly now: () => number = Date.now,
    private readonly tickMs = Math.min(1000, Math.max(10, Math.floor(lengthMs / 4))),
  ) {}

  /** Arms `target` to expire `lengthMs` from now (re-arming moves it to the back). */
  add(target: Expirable): void {
    this.due.delete(target);
    this.due.set(target, this.now() + this.lengthMs);
    if (this.timer === null) {
      this.timer = setInterval(() => this.sweep(), this.tickMs);
      this.timer.unref();
    }
  }

  /** Disarms `target` (its body arrived in time); harmless when it is not armed. */
  cancel(target: Expirable): void {
    this.due.delete(target);
  }

  /** How many deadlines are armed. */
  get pending(): number {
    return this.due.size;
  }

  /** Fires every deadline that is due, oldest first, stopping at the first that is not. */
  sweep(): void {
    const now = this.now();
    for (const [target, due] of this.due) {
      if (due > now) break;
      this.due.delete(target);
      target.expire();
    }
    if (this.due.size === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.due.clear();
  }
}
