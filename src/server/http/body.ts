import type { IncomingMessage } from 'node:http';
import type { Deadline, DeadlineQueue, Expirable } from './deadlines';

/**
 * Reading request bodies, for the device endpoints and the admin API alike (ARCHITECTURE.md
 * "Clean edges"). Everything a client sends is attacker controlled:
 *
 * - a body over its limit is refused (413), a compressed one too (415), and on the device
 *   endpoints anything but `application/json` (415: a web page cannot send JSON cross-origin
 *   without a CORS preflight, which the server never grants);
 * - a refused body is still read and discarded, up to {@link DRAIN_LIMIT}, before the answer goes
 *   out, so that a client that keeps sending sees the 413 instead of a reset connection;
 * - a body that does not arrive before its deadline is answered 408 (slow clients hold
 *   descriptors).
 *
 * Callbacks rather than promises: this runs for every /updates call.
 */

/** `{error, message}`, always with a stable code; answers may add fields (e.g. `retryAfterSeconds`). */
export interface ErrorBody {
  readonly error: string;
  readonly message: string;
}

export type BodyResult =
  | { readonly ok: true; readonly bytes: Buffer }
  | { readonly ok: false; readonly status: number; readonly body: ErrorBody };

/** How much of a refused body is read and dropped so that its sender sees the answer. */
export const DRAIN_LIMIT = 4 * 1024 * 1024;

export interface BodyOptions {
  /** Most bytes accepted. */
  readonly limit: number;
  /** Refuse anything but `Content-Type: application/json` (device endpoints). */
  readonly jsonOnly?: boolean;
  /** Where the body's deadline is armed; none: no deadline. */
  readonly deadlines?: DeadlineQueue | null;
}

function refusal(status: number, error: string, message: string): BodyResult {
  return { ok: false, status, body: { error, message } };
}

export function tooLarge(limit: number): BodyResult {
  return refusal(413, 'body_too_large', `The body must be at most ${limit} bytes.`);
}

const UNSUPPORTED_ENCODING = refusal(
  415,
  'unsupported_encoding',
  'Compressed request bodies are not accepted.',
);
const NOT_JSON = refusal(
  415,
  'unsupported_media_type',
  'The body must be sent as Content-Type: application/json.',
);
const TIMED_OUT = refusal(408, 'request_timeout', 'The request body did not arrive in time.');

/** `application/json`, with or without parameters (RFC 9110 §8.3: the type is case-insensitive). */
export function isJsonContentType(header: string | undefined): boolean {
  if (header === undefined) return false;
  const end = header.indexOf(';');
  const type = (end === -1 ? header : header.slice(0, end)).trim().toLowerCase();
  return type === 'application/json';
}

/** Headers that make a body unacceptable, checked before reading anything. */
function checkBodyHeaders(req: IncomingMessage, options: BodyOptions): BodyResult | null {
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return UNSUPPORTED_ENCODING;
  if (options.jsonOnly === true && !isJsonContentType(req.headers['content-type'])) return NOT_JSON;
  const length = req.headers['content-length'];
  if (length !== undefined && Number(length) > options.limit) return tooLarge(options.limit);
  return null;
}

/** One body being read. Implements Expirable so that its deadline needs no closure. */
class BodyRead implements Expirable {
  chunks: Buffer[] = [];
  size = 0;
  /** Set once the body is refused: the rest is read and dropped, then this is answered. */
  refused: BodyResult | null = null;
  drained = 0;
  done = false;
  deadline: Deadline | null = null;

  constructor(
    readonly req: IncomingMessage,
    readonly limit: number,
    readonly callback: (result: BodyResult | null) => void,
  ) {}

  data(chunk: Buffer): void {
    if (this.done) return;
    if (this.refused !== null) {
      this.drain(chunk.length);
      return;
    }
    this.size += chunk.length;
    if (this.size > this.limit) {
      this.chunks = [];
      this.refuse(tooLarge(this.limit), this.size);
      return;
    }
    this.chunks.push(chunk);
  }

  /** Refuses the body; the answer waits until the client finished sending, up to DRAIN_LIMIT. */
  refuse(result: BodyResult, alreadyRead: number): void {
    this.refused = result;
    this.drain(alreadyRead);
  }

  private drain(bytes: number): void {
    this.drained += bytes;
    if (this.drained > DRAIN_LIMIT) this.finish(this.refused);
  }

  end(): void {
    this.finish(this.refused ?? { ok: true, bytes: joinChunks(this.chunks) });
  }

  /** The deadline fell due before the body was complete. */
  expire(): void {
    this.finish(this.refused ?? TIMED_OUT);
  }

  finish(result: BodyResult | null): void {
    if (this.done) return;
    this.done = true;
    this.chunks = [];
    this.deadline?.cancel();
    this.deadline = null;
    this.callback(result);
  }
}

function joinChunks(chunks: readonly Buffer[]): Buffer {
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
}

/**
 * Reads the request body (see the module comment), then calls `callback` once: with the bytes, a
 * refusal (408, 413, 415; the caller answers it and closes the connection, see
 * {@link bodyLeftUnread}), or null when the client went away (nothing is left to answer).
 */
export function readBodyThen(
  req: IncomingMessage,
  options: BodyOptions,
  callback: (result: BodyResult | null) => void,
): void {
  const read = new BodyRead(req, options.limit, callback);
  const early = checkBodyHeaders(req, options);
  if (early !== null) {
    const declared = Number(req.headers['content-length'] ?? '0');
    // A body announced far beyond what is drained is answered at once: reading it would be the
    // very cost the limit is there to avoid.
    if (declared > DRAIN_LIMIT) {
      read.finish(early);
      return;
    }
    read.refuse(early, 0);
  }
  if (options.deadlines != null) read.deadline = options.deadlines.add(read);
  // Anonymous arrows over the read's methods: no named closure is made per request.
  req.on('data', (chunk: Buffer) => read.data(chunk));
  req.on('end', () => read.end());
  req.on('error', () => read.finish(null));
}

/** {@link readBodyThen} as a promise. */
export function readBody(req: IncomingMessage, options: BodyOptions): Promise<BodyResult | null> {
  return new Promise((resolve) => readBodyThen(req, options, resolve));
}

/** True for the refusals after which the connection is closed (the body may not be all read). */
export function bodyLeftUnread(status: number): boolean {
  return status === 408 || status === 413 || status === 415;
}
