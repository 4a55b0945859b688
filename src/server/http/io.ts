import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import { AirlockError } from '../../core';
import type { ApiError } from '../../shared/schemas/server-api';
import { HttpError, statusOf } from './errors';

/**
 * JSON in and out for the admin API (DESIGN §6): bodies are size-limited and parsed as `unknown`
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
    'x-content-type-options': 'nosniff',
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

/**
 * Reads the whole body, refusing more than `limit` bytes (413) before reading when the declared
 * length says so, and while reading otherwise.
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

export function tooLarge(limit: number): HttpError {
  return new HttpError(413, 'PAYLOAD_TOO_LARGE', `The request body may be at most ${limit} bytes.`);
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
export function parseWith<S extends z.ZodType>(
  schema: S,
  value: unknown,
  subject: string,
): z.output<S> {
  const result = schema.safeParse(value);
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
