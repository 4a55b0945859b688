import type { IncomingMessage } from 'node:http';
import type { DeadlineQueue, Expirable } from './deadlines';

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

/** The body headers of a request (the first of each), read from `rawHeaders`. */
interface BodyHeaders {
  type: string | undefined;
  length: string | undefined;
  encoding: string | undefined;
}

/**
 * Reads the three body headers from `req.rawHeaders`: `req.headers` is built lazily by Node, and
 * building it costs more than this whole scan on the /updates path (measured: 0.8 µs a request).
 */
function bodyHeaders(req: IncomingMessage, into: BodyHeaders): BodyHeaders {
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 12 && into.type === undefined && sameName(name, 'content-type')) {
      into.type = raw[i + 1];
    } else if (
      name.length === 14 &&
      into.length === undefined &&
      sameName(name, 'content-length')
    ) {
      into.length = raw[i + 1];
    } else if (
      name.length === 16 &&
      into.encoding === undefined &&
      sameName(name, 'content-encoding')
    ) {
      into.encoding = raw[i + 1];
    }
  }
  return into;
}

/** Header names compare case-insensitively (RFC 9110 §5.1); most clients send them lowercase. */
function sameName(name: string, lower: string): boolean {
  return name === lower || name.toLowerCase() === lower;
}

/** Headers that make a body unacceptable, checked before reading anything. */
function checkBodyHeaders(headers: BodyHeaders, options: BodyOptions): BodyResult | null {
  const { encoding, type, length } = headers;
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return UNSUPPORTED_ENCODING;
  if (options.jsonOnly === true && !isJsonContentType(type)) return NOT_JSON;
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
  /** Where the deadline is armed, until the body is finished. */
  deadlines: DeadlineQueue | null = null;

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

  /** The deadline fell due before the body was complete (or the client went away). */
  expire(): void {
    // No 'error' listener is attached (it costs every request); an aborted request ends here.
    this.finish(this.req.socket.destroyed ? null : (this.refused ?? TIMED_OUT));
  }

  finish(result: BodyResult | null): void {
    if (this.done) return;
    this.done = true;
    this.chunks = [];
    this.deadlines?.cancel(this);
    this.deadlines = null;
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
  const headers = bodyHeaders(req, { type: undefined, length: undefined, encoding: undefined });
  const early = checkBodyHeaders(headers, options);
  if (early !== null) {
    const declared = Number(headers.length ?? '0');
    // A body announced far beyond what is drained is answered at once: reading it would be the
    // very cost the limit is there to avoid.
    if (declared > DRAIN_LIMIT) {
      read.finish(early);
      return;
    }
    read.refuse(early, 0);
  }
  if (options.deadlines != null) {
    read.deadlines = options.deadlines;
    options.deadlines.add(read);
  }
  // Anonymous arrows over the read's methods: no named closure is made per request. No 'error'
  // listener: Node emits an aborted request's error only to listeners, and the deadline ends it.
  req.on('data', (chunk: Buffer) => read.data(chunk));
  req.on('end', () => read.end());
  // Without a deadline nothing would end an aborted request: listen for its error then.
  if (options.deadlines == null) req.on('error', () => read.finish(null));
}

/** {@link readBodyThen} as a promise. */
export function readBody(req: IncomingMessage, options: BodyOptions): Promise<BodyResult | null> {
  return new Promise((resolve) => readBodyThen(req, options, resolve));
}

/** True for the refusals after which the connection is closed (the body may not be all read). */
export function bodyLeftUnread(status: number): boolean {
  return status === 408 || status === 413 || status === 415;
}
