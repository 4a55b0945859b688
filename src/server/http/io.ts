import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { AirlockError } from '../../core';
import type { ErrorCode } from '../../shared/errors';
import type { ApiError } from '../../shared/schemas/server-api';
import { readBody as readBodyResult, type BodyOptions } from './body';
import { HttpError, statusOf } from './errors';
import { SECURITY_HEADERS } from './headers';

/**
 * JSON in and out for the admin API (ARCHITECTURE.md §6): bodies are size-limited and parsed as `unknown`
 * with a strict schema; every error is `{error, message}` with a stable code, never a stack trace.
 */

const JSON_TYPE = 'application/json; charset=utf-8';

/** Admin API JSON bodies: 1 MiB is far above any statement, approval set or trust root. */
export const JSON_BODY_LIMIT = 1024 * 1024;

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const bytes = Buffer.from(JSON.stringify(body), 'utf8');
  res.writeHead(status, {
    'content-type': JSON_TYPE,
    'content-length': bytes.length,
    'cache-control': 'no-store',
    ...SECURITY_HEADERS,
    ...headers,
  });
  res.end(bytes);
}

/**
 * Answers `error` as JSON. Known errors keep their code and sentence; anything else is a generic
 * 500 (its details go to the log only). Returns the status and code for the log line.
 */
export function sendErrorFor(
  res: ServerResponse,
  error: unknown,
): { status: number; code: string; detail?: string } {
  let status = 500;
  let body: ApiError = { error: 'INTERNAL', message: 'An unexpected internal error occurred.' };
  let headers: Record<string, string> = {};
  let detail: string | undefined;
  if (error instanceof HttpError) {
    const known = error as HttpError;
    status = known.status;
    headers = known.headers;
    body = { error: known.code, message: known.message };
  } else if (error instanceof AirlockError) {
    const known = error as AirlockError;
    status = statusOf(known.code);
    body = { error: known.code, message: known.message };
  } else {
    detail = error instanceof Error ? error.message : String(error);
  }
  if (res.headersSent) {
    res.destroy();
  } else {
    sendJson(res, status, body, headers);
  }
  return detail === undefined ? { status, code: body.error } : { status, code: body.error, detail };
}

/** The admin API's codes for the body refusals of ./body (which speaks the device protocol's). */
const REFUSAL_CODES: Readonly<Record<number, ErrorCode>> = {
  408: 'REQUEST_TIMEOUT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};

/**
 * Reads the whole body with the shared reader (./body: size limit, drained refusals, deadline);
 * a refusal is thrown as an HttpError (408, 413, 415) that closes the connection.
 */
export async function readBody(req: IncomingMessage, options: BodyOptions): Promise<Buffer> {
  const result = await readBodyResult(req, options);
  if (result === null) throw new HttpError(400, 'INVALID_INPUT', 'The client went away.');
  if (result.ok) return result.bytes;
  throw new HttpError(
    result.status,
    REFUSAL_CODES[result.status] ?? 'INVALID_INPUT',
    result.status === 413
      ? `The request body may be at most ${options.limit} bytes.`
      : result.body.message,
    { headers: { connection: 'close' } },
  );
}

/** Parses a JSON body (400 INVALID_INPUT when it is not JSON). Attacker-controlled input. */
export function parseJsonBody(body: Buffer): unknown {
  // An empty body is "no body": each route's schema decides whether that is acceptable.
  if (body.byteLength === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw new HttpError(400, 'INVALID_INPUT', 'The request body is not valid JSON.');
  }
}

/**
 * Validates `value` with `schema`; 400 INVALID_INPUT naming the first bad field otherwise.
 * @example const request = parseWith(CreateAppRequestSchema, body, 'The app');
 */
export function parseWith<S extends z.core.$ZodType>(
  schema: S,
  value: unknown,
  subject: string,
): z.output<S> {
  const result = z.safeParse(schema, value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.map(String).join('.') ?? '';
  const where = field === '' ? subject : `${subject} field "${field}"`;
  throw new HttpError(
    400,
    'INVALID_INPUT',
    `${where} is invalid: ${issue?.message ?? 'bad value'}.`,
  );
}
