import { isAscii } from 'node:buffer';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { bodyLeftUnread, readBodyThen, type BodyOptions, type ErrorBody } from '../http/body';
import { SECURITY_HEADER_LIST, SECURITY_HEADERS } from '../http/headers';

export { bodyLeftUnread, readBodyThen, type BodyOptions, type BodyResult } from '../http/body';
export type { ErrorBody } from '../http/body';

/**
 * Small HTTP helpers for the device endpoints: JSON answers with a stable `error` code (ARCHITECTURE.md §6),
 * and size-limited body reading. Everything a device sends is attacker controlled.
 */

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
      ...SECURITY_HEADER_LIST,
    ]);
  } else {
    res.writeHead(status, {
      'content-type': JSON_TYPE,
      'content-length': bytes.length,
      'cache-control': 'no-store',
      ...SECURITY_HEADERS,
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

/** Reads and parses a JSON body (see {@link readBodyThen}). */
export function readJsonThen(
  req: IncomingMessage,
  options: BodyOptions,
  callback: (result: JsonResult | null) => void,
): void {
  readBodyThen(req, options, (body) =>
    callback(body === null ? null : body.ok ? parseJson(body.bytes) : body),
  );
}

/** {@link readJsonThen} as a promise. */
export function readJson(req: IncomingMessage, options: BodyOptions): Promise<JsonResult | null> {
  return new Promise((resolve) => readJsonThen(req, options, resolve));
}

/**
 * Sends the error of a failed read. A 408, 413 or 415 also closes the connection: the body was not
 * (all) read, and its unread rest would otherwise be parsed as the next request.
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
