/**
 * The server's access log sink: one line per request (ARCHITECTURE.md §6) without one write per request.
 * Lines are gathered during an event-loop turn and written together when it ends (setImmediate),
 * or as soon as `maxBytes` have gathered. To a pipe, stdout writes are synchronous on Linux, so
 * at thousands of requests a second a write per line costs the server, and its reader, a system
 * call per line. What a crash can lose is the current turn's lines; `flush()` on shutdown loses
 * none.
 */

export interface LineBuffer {
  /** Adds one line (without its newline). Detached use is fine: `logger: buffer.line`. */
  line(this: void, text: string): void;
  /** Writes what has gathered now. */
  flush(this: void): void;
}

/** 64 KiB: a pipe's default capacity on Linux. */
const DEFAULT_MAX_BYTES = 64 * 1024;

/**
 * @example
 * const log = createLineBuffer((chunk) => process.stdout.write(chunk));
 * startServer({ dataDir, logger: log.line });
 * process.once('SIGTERM', () => log.flush());
 */
export function createLineBuffer(
  write: (chunk: string) => void,
  maxBytes: number = DEFAULT_MAX_BYTES,
): LineBuffer {
  let pending = '';
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    if (pending.length === 0) return;
    const chunk = pending;
    pending = '';
    write(chunk);
  };
  return {
    line(text) {
      pending += `${text}\n`;
      // String length counts UTF-16 units, close enough to bytes for a threshold.
      if (pending.length >= maxBytes) {
        flush();
      } else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
  };
}
