import { isAscii } from 'node:buffer';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Small HTTP helpers for the device endpoints: JSON answers with a stable `error` code (DESIGN §6),
 * and size-limited body reading. Everything a device sends is attacker controlled.
 */

/** `{error, message}`, always with a stable code; answers may add fields (e.g. `retryAfterSeconds`). */
export interface ErrorBody {
  readonly error: string;
  readonly message: string;
}

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * Writes a JSON answer. `body` may be pre-serialized bytes (the hot path keeps constant answers as
 * Buffers). Device answers are never cached by intermediaries.
 */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: Buffer | string | object,
  headers?: Record<string, string | number>,
): number {
  const bytes =
    body instanceof Buffer
      ? body
      : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body), 'utf8');
  if (headers === undefined) {
    // A flat [name, value, …] list: Node takes it as is, without walking an object's keys (the
    // /updates hot path answers this way).
    res.writeHead(status, [
      'content-type',
      JSON_TYPE,
      'content-length',
      String(bytes.length),
      'cache-control',
      'no-store',
    ]);
  } else {
    res.writeHead(status, {
      'content-type': JSON_TYPE,
      'content-length': bytes.length,
      'cache-control': 'no-store',
      ...headers,
    });
  }
  res.end(bytes);
  return status;
}

/** Sends `{error, message, …}` with `status`. */
export function sendError<T extends ErrorBody>(
  res: ServerResponse,
  status: number,
  body: T,
  headers?: Record<string, string | number>,
): number {
  return sendJson(res, status, body, headers);
}

/** 405 with an `Allow` header. */
export function sendMethodNotAllowed(res: ServerResponse, allow: string): number {
  return sendError(
    res,
    405,
    { error: 'method_not_allowed', message: `This endpoint accepts ${allow} only.` },
    { allow },
  );
}

export type BodyResult =
  | { readonly ok: true; readonly bytes: Buffer }
  | { readonly ok: false; readonly status: number; readonly body: ErrorBody };

function tooLarge(limit: number): BodyResult {
  return {
    ok: false,
    status: 413,
    body: { error: 'body_too_large', message: `The body must be at most ${limit} bytes.` },
  };
}

/** Headers that make a body unreadable for us, checked before reading anything. */
function checkBodyHeaders(req: IncomingMessage, limit: number): BodyResult | null {
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
    return {
      ok: false,
      status: 415,
      body: {
        error: 'unsupported_encoding',
        message: 'Compressed request bodies are not accepted.',
      },
    };
  }
  const length = req.headers['content-length'];
  if (length !== undefined && Number(length) > limit) return tooLarge(limit);
  return null;
}

/**
 * Reads the request body, at most `limit` bytes, then calls `callback` once. Rejects a compressed
 * body (415) and a body over the limit (413, announced by Content-Length or found while reading);
 * after a 413 or 415 the caller must close the connection, since the rest of the body was not
 * read. Calls back with null when the client went away (an aborted request emits 'error': nothing
 * is left to answer). Callbacks rather than promises: this runs for every /updates call.
 */
export function readBodyThen(
  req: IncomingMessage,
  limit: number,
  callback: (result: BodyResult | null) => void,
): void {
  const early = checkBodyHeaders(req, limit);
  if (early !== null) {
    callback(early);
    return;
  }
  const read: BodyRead = { req, limit, callback, chunks: [], size: 0, done: false };
  // Anonymous arrows over module-level functions: no named closure is made per request.
  req.on('data', (chunk: Buffer) => onBodyData(read, chunk));
  req.on('end', () => finishBody(read, { ok: true, bytes: joinChunks(read.chunks) }));
  req.on('error', () => finishBody(read, null));
}

/** One body being read. */
interface BodyRead {
  readonly req: IncomingMessage;
  readonly limit: number;
  readonly callback: (result: BodyResult | null) => void;
  chunks: Buffer[];
  size: number;
  done: boolean;
}

function onBodyData(read: BodyRead, chunk: Buffer): void {
  if (read.done) return;
  read.size += chunk.length;
  if (read.size > read.limit) {
    read.req.pause();
    finishBody(read, tooLarge(read.limit));
    return;
  }
  read.chunks.push(chunk);
}

function finishBody(read: BodyRead, result: BodyResult | null): void {
  if (read.done) return;
  read.done = true;
  read.chunks = [];
  read.callback(result);
}

function joinChunks(chunks: readonly Buffer[]): Buffer {
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
}

/** {@link readBodyThen} as a promise. */
export function readBody(req: IncomingMessage, limit: number): Promise<BodyResult | null> {
  return new Promise((resolve) => readBodyThen(req, limit, resolve));
}

export type JsonResult =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly status: number; readonly body: ErrorBody };

const INVALID_JSON: JsonResult = {
  ok: false,
  status: 400,
  body: { error: 'invalid_json', message: 'The body is not valid JSON.' },
};

/**
 * A body as text. Plugin bodies are ASCII: decoding those as latin1 (the same characters) skips
 * UTF-8 validation; anything else is UTF-8 (invalid sequences become U+FFFD, as JSON.parse sees).
 */
export function bodyText(bytes: Buffer): string {
  return bytes.toString(isAscii(bytes) ? 'latin1' : 'utf8');
}

/** Parses JSON text. V8's parser is iterative, so deep nesting cannot overflow the stack. */
export function parseJsonText(text: string): JsonResult {
  if (text.length === 0) return INVALID_JSON;
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return INVALID_JSON;
  }
}

/** Parses a JSON body (see {@link bodyText}). */
export function parseJson(bytes: Buffer): JsonResult {
  return parseJsonText(bodyText(bytes));
}

/** Reads and parses a JSON body with a size limit (see {@link readBodyThen}). */
export function readJsonThen(
  req: IncomingMessage,
  limit: number,
  callback: (result: JsonResult | null) => void,
): void {
  readBodyThen(req, limit, (body) =>
    callback(body === null ? null : body.ok ? parseJson(body.bytes) : body),
  );
}

/** {@link readJsonThen} as a promise. */
export function readJson(req: IncomingMessage, limit: number): Promise<JsonResult | null> {
  return new Promise((resolve) => readJsonThen(req, limit, resolve));
}

/**
 * Sends the error of a failed read. A 413 or 415 also closes the connection: the body was not (all)
 * read, and its unread rest would otherwise be parsed as the next request.
 */
export function sendBodyError(
  res: ServerResponse,
  failure: { readonly status: number; readonly body: ErrorBody },
): number {
  return sendError(
    res,
    failure.status,
    failure.body,
    bodyLeftUnread(failure.status) ? { connection: 'close' } : undefined,
  );
}

/** True for the read failures that leave part of the body unread (413, 415). */
export function bodyLeftUnread(status: number): boolean {
  return status === 413 || status === 415;
}

/** The peer's address, for per-IP limits. */
export function clientIp(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}
