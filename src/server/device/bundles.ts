import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { DeviceContext, DeviceState } from './context';
import { PUBLIC_READ_HEADERS, SECURITY_HEADERS } from '../http/headers';
import { sendError, sendMethodNotAllowed } from './http';
import { sendRateLimited } from './limits';

/**
 * `GET|HEAD /bundles/<encryptedSha256>` (ARCHITECTURE.md §6): the encrypted zip a release points devices at.
 * Content-addressed, so immutable: a year of caching and a strong ETag equal to the hash. A single
 * `Range: bytes=a-b` is honoured (206/416) because the plugin resumes downloads with
 * `Range: bytes=N-` and handles 200, 206 and 416 (PROTOCOL.md §6). Several ranges are answered
 * with the whole file (RFC 9110 §14.2 lets a server ignore Range). Only complete, hash-checked
 * files whose contents the server checked, named by a pending or applied statement, are visible
 * (`store.servableBundle`): an uploaded blob no statement names is not served to anyone.
 */

export const BUNDLES_PREFIX = '/bundles/';
const SHA256_HEX = /^[0-9a-f]{64}$/;
const RANGE = /^bytes=(\d{0,16})-(\d{0,16})$/;

/** A byte range to send, inclusive; or 'unsatisfiable'; or null for the whole file. */
export type ByteRange = { readonly start: number; readonly end: number } | 'unsatisfiable' | null;

/**
 * Parses a `Range` header against a file of `size` bytes (RFC 9110 §14.1.2): `a-b`, `a-` and the
 * suffix form `-n`. Anything else, or several ranges, means the whole file.
 * @example parseRange('bytes=100-', 1000) // { start: 100, end: 999 }
 */
export function parseRange(header: string | undefined, size: number): ByteRange {
  if (header === undefined) return null;
  const match = RANGE.exec(header.trim());
  if (!match) return null;
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return null;
  if (first === '') {
    // Suffix range: the last n bytes.
    const length = Number(last);
    if (length === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - length), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== '' && Number(last) < start) return null; // invalid range: ignore it (§14.1.1)
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

const NOT_FOUND = { error: 'bundle_not_found', message: 'No such bundle on this server.' };
const UNAVAILABLE = {
  error: 'bundle_store_unavailable',
  message: 'The bundle store did not answer; try again.',
};

function cacheHeaders(etag: string): Record<string, string> {
  return {
    etag,
    'cache-control': 'public, max-age=31536000, immutable',
    'accept-ranges': 'bytes',
    ...SECURITY_HEADERS,
    ...PUBLIC_READ_HEADERS,
  };
}

/** True when If-None-Match lists this ETag (weak comparison, RFC 9110 §13.1.2) or is `*`. */
function notModified(req: IncomingMessage, etag: string): boolean {
  const header = req.headers['if-none-match'];
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

/** The range to honour: If-Range with another validator means "send it all" (RFC 9110 §13.1.5). */
function requestedRange(req: IncomingMessage, etag: string, size: number): ByteRange {
  const ifRange: unknown = req.headers['if-range'];
  if (ifRange !== undefined && (typeof ifRange !== 'string' || ifRange.trim() !== etag))
    return null;
  return parseRange(req.headers.range, size);
}

async function streamBlob(
  ctx: DeviceContext,
  sha: string,
  res: ServerResponse,
  start: number,
  end: number,
): Promise<void> {
  if (end < start) {
    res.end();
    return;
  }
  try {
    await pipeline(await ctx.store.blobs.read(sha, { start, end }), res);
  } catch {
    // The device went away mid-download (it resumes with a Range request), or the store failed
    // after the headers went out: the connection ends short and the plugin retries.
    res.destroy();
  }
}

/** Handles `/bundles/<sha>`; returns the status sent. */
export async function handleBundle(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: DeviceContext,
  state: DeviceState,
  path: string,
): Promise<number> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return sendMethodNotAllowed(res, 'GET, HEAD');
  const limited = sendRateLimited(res, state.limiters.ip, ctx.sourceOf(req), ctx.nowMs());
  if (limited !== null) return limited;
  const sha = path.slice(BUNDLES_PREFIX.length);
  if (!SHA256_HEX.test(sha) || !ctx.store.servable(sha)) return sendError(res, 404, NOT_FOUND);
  const { blobs } = ctx.store;
  // Signed locally, no round trip to the store: the store answers the GET itself. A presigned URL
  // signs one method, so HEAD (the guard's size check) is answered here.
  if (
    req.method === 'GET' &&
    ctx.redirectBundlesSeconds !== undefined &&
    blobs.presignedUrl !== undefined
  ) {
    return redirectTo(res, await blobs.presignedUrl(sha, ctx.redirectBundlesSeconds));
  }
  let file: { size: number } | null;
  try {
    file = await blobs.stat(sha);
  } catch {
    return sendError(res, 503, UNAVAILABLE);
  }
  if (file === null) return sendError(res, 404, NOT_FOUND);
  return sendBlob(req, res, ctx, sha, file.size);
}

/**
 * 302 to where the store serves the bytes itself. The plugin downloads with OkHttp (Android) and
 * URLSession (iOS), which follow redirects by default, keeping a resumed download's Range; the
 * bundle is checked on the phone all the same (checksum, and the guard's size check). Not cached:
 * the URL expires. The servable check above still decides which bundles get one.
 */
function redirectTo(res: ServerResponse, location: string): number {
  res.writeHead(302, {
    location,
    'content-length': 0,
    'cache-control': 'no-store',
    ...SECURITY_HEADERS,
    ...PUBLIC_READ_HEADERS,
  });
  res.end();
  return 302;
}

async function sendBlob(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: DeviceContext,
  sha: string,
  size: number,
): Promise<number> {
  const etag = `"${sha}"`;
  if (notModified(req, etag)) {
    res.writeHead(304, cacheHeaders(etag));
    res.end();
    return 304;
  }
  const range = requestedRange(req, etag, size);
  if (range === 'unsatisfiable') {
    return sendError(
      res,
      416,
      { error: 'range_not_satisfiable', message: `The bundle is ${size} bytes long.` },
      { 'content-range': `bytes */${size}` },
    );
  }
  const start = range === null ? 0 : range.start;
  const end = range === null ? size - 1 : range.end;
  const status = range === null ? 200 : 206;
  res.writeHead(status, {
    ...cacheHeaders(etag),
    'content-type': 'application/octet-stream',
    'content-length': end - start + 1,
    ...(range === null ? {} : { 'content-range': `bytes ${start}-${end}/${size}` }),
  });
  if (req.method === 'HEAD') res.end();
  else await streamBlob(ctx, sha, res, start, end);
  return status;
}
