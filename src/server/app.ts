import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { parseContentDigest, sha256 } from '../core';
import { authenticate, requireRole, type Principal } from './auth';
import { DeadlineQueue } from './http/deadlines';
import { HttpError } from './http/errors';
import { createSourceOf, type SourceOf } from './http/source';
import { JSON_BODY_LIMIT, parseJsonBody, readBody, sendErrorFor, sendJson } from './http/io';
import { PUBLIC_READ_HEADERS } from './http/headers';
import { RateLimiter, type RateLimitOptions } from './rate-limit';
import { ReleaseControl, type ReleaseRules } from './release-control';
import { matchRoute, type AdminContext, type AdminRoute } from './routes/admin';
import { handleDeviceRequest, type DeviceContext } from './routes/device';
import type { ServerStore } from './store/types';

/**
 * The request listener (ARCHITECTURE.md rule 13: an app factory that never listens; `startServer` binds the
 * socket). Device endpoints go first, untouched, so that `/updates` stays on its fast path; then
 * the admin and log API under `/api/v1`, rate-limited per client IP. One JSON log line per request.
 */

export interface AppOptions {
  readonly store: ServerStore;
  readonly now: () => Date;
  /** The same clock in ms, where that is cheaper than `now()` (Date.now); default `now()`'s. */
  readonly nowMs?: () => number;
  /**
   * The server's public base URL: the origin clients sign in `@target-uri` and devices get bundle
   * URLs at. Fixed when the server starts (`--public-url`, else the listen address), never taken
   * from a request's Host header: a request signed for another server must not verify here.
   */
  readonly publicUrl: string;
  /** Names a request's source for per-source limits (default: the peer address). */
  readonly sourceOf?: SourceOf;
  readonly log: (fields: Record<string, unknown>) => void;
  readonly adminRateLimit?: RateLimitOptions;
  readonly maxBundleBytes?: number;
  readonly deviceLimits?: DeviceContext['limits'];
  /** Deadlines for bodies (defaults below); tests shorten them. */
  readonly bodyTimeouts?: Partial<BodyTimeouts>;
  /** Statement lifetime cap and bundle limits (release-control.ts defaults). */
  readonly releaseRules?: Partial<ReleaseRules>;
  /** See DeviceContext.redirectBundlesSeconds. */
  readonly redirectBundlesSeconds?: number;
  /** Where devices download bundles, when not from `publicUrl` (DeviceContext.publicUrl). */
  readonly bundleBaseUrl?: string;
}

/** How long a body may take (ARCHITECTURE.md "Slow and greedy clients"). */
export interface BodyTimeouts {
  /** Device endpoints: ≤ 512 KiB, sent by a phone in one go. */
  readonly deviceMs: number;
  /** Admin JSON: ≤ 1 MiB. */
  readonly adminMs: number;
  /** Bundle uploads have no total limit but must keep this rate, judged over `uploadWindowMs`. */
  readonly uploadMinBytesPerSecond: number;
  readonly uploadWindowMs: number;
}

export const DEFAULT_BODY_TIMEOUTS: BodyTimeouts = {
  deviceMs: 10_000,
  adminMs: 30_000,
  uploadMinBytesPerSecond: 16 * 1024,
  uploadWindowMs: 10_000,
};

/** 512 MiB: well above a web bundle; raise it with `maxBundleBytes`. */
export const DEFAULT_MAX_BUNDLE_BYTES = 512 * 1024 * 1024;
/** Per client IP: bursts of 120 admin requests, 20 per second sustained. */
export const DEFAULT_ADMIN_RATE_LIMIT: RateLimitOptions = { capacity: 120, refillPerSecond: 20 };

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * @example
 * const listener = createRequestListener({ store, now: () => new Date(), publicUrl, log });
 * http.createServer(listener).listen(8787);
 */
export function createRequestListener(options: AppOptions): Listener {
  const timeouts = { ...DEFAULT_BODY_TIMEOUTS, ...options.bodyTimeouts };
  const sourceOf = options.sourceOf ?? createSourceOf(null);
  const admin: AdminContext = {
    store: options.store,
    control: new ReleaseControl(options.store, options.now, options.releaseRules),
    now: options.now,
    maxBundleBytes: options.maxBundleBytes ?? DEFAULT_MAX_BUNDLE_BYTES,
    uploadPace: new DeadlineQueue(timeouts.uploadWindowMs),
    uploadMinBytesPerSecond: timeouts.uploadMinBytesPerSecond,
  };
  const device: DeviceContext = {
    store: options.store,
    publicUrl: options.bundleBaseUrl ?? options.publicUrl,
    nowMs: options.nowMs ?? (() => options.now().getTime()),
    log: options.log,
    sourceOf,
    bodyDeadlines: new DeadlineQueue(timeouts.deviceMs),
    ...(options.deviceLimits === undefined ? {} : { limits: options.deviceLimits }),
    ...(options.redirectBundlesSeconds === undefined
      ? {}
      : { redirectBundlesSeconds: options.redirectBundlesSeconds }),
  };
  const adminBodies = new DeadlineQueue(timeouts.adminMs);
  const limiter = new RateLimiter(options.adminRateLimit ?? DEFAULT_ADMIN_RATE_LIMIT);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const line: Record<string, unknown> = { method: req.method, path: pathOf(req.url) };
    try {
      const principal = await serveOther(req, res, {
        admin,
        limiter,
        publicUrl: options.publicUrl,
        bodies: adminBodies,
        sourceOf,
      });
      line.status = res.statusCode;
      if (principal !== null) line.keyId = principal.keyId;
    } catch (error) {
      const sent = sendErrorFor(res, error);
      line.status = sent.status;
      line.error = sent.code;
      if (sent.detail !== undefined) line.detail = sent.detail;
    }
    line.ip = req.socket.remoteAddress;
    line.ms = Math.round((performance.now() - started) * 1000) / 1000;
    options.log(line);
  }

  return (req, res) => {
    // Device endpoints answer through callbacks (no promise on the /updates path).
    if (handleDeviceRequest(req, res, device)) return;
    handle(req, res).catch((error: unknown) => {
      // Last resort: a generic answer, details in the log only.
      sendErrorFor(res, error);
      options.log({ method: req.method, path: pathOf(req.url), status: 500, error: 'INTERNAL' });
    });
  };
}

/** `/api/v1/apps/<app>/channels/<channel>…`: the app and channel an admin path is about. */
const CHANNEL_PATH = /^\/api\/v1\/apps\/([^/]+)\/channels\/([^/]+)/;

function pathOf(url: string | undefined): string {
  const raw = url ?? '/';
  const at = raw.indexOf('?');
  return at === -1 ? raw : raw.slice(0, at);
}

interface Deps {
  readonly admin: AdminContext;
  readonly limiter: RateLimiter;
  readonly publicUrl: string;
  readonly bodies: DeadlineQueue;
  readonly sourceOf: SourceOf;
}

/** Everything that is not a device endpoint. Returns the signer of an authenticated request. */
async function serveOther(
  req: IncomingMessage,
  res: ServerResponse,
  deps: Deps,
): Promise<Principal | null> {
  const target = new URL(req.url ?? '/', 'http://airlock.invalid');
  const path = target.pathname;
  if (path === '/healthz' && req.method === 'GET') {
    sendJson(res, 200, { status: 'ok' });
    return null;
  }
  if (!path.startsWith('/api/v1/')) {
    throw new HttpError(404, 'NOT_FOUND', `There is no ${path}.`);
  }
  const decision = deps.limiter.take(deps.sourceOf(req));
  if (!decision.allowed) {
    throw new HttpError(429, 'RATE_LIMITED', 'Too many requests; retry later.', {
      headers: { 'retry-after': String(decision.retryAfterSeconds) },
    });
  }
  const { route, params } = matchRoute(req.method ?? 'GET', path);
  // The root (who may sign) and the channel a path names, as the database has them now.
  const named = CHANNEL_PATH.exec(path);
  await deps.admin.store.catchUp(
    ...(named === null
      ? []
      : [decodeURIComponent(named[1] ?? ''), decodeURIComponent(named[2] ?? '')]),
  );
  const { principal, body } = await admit(req, route, deps);
  const reply = await route.handle(deps.admin, {
    req,
    params,
    query: target.searchParams,
    principal,
    body,
  });
  const publicRead = route.roles === null && (req.method === 'GET' || req.method === 'HEAD');
  sendJson(res, reply.status, reply.body, publicRead ? PUBLIC_READ_HEADERS : {});
  return principal;
}

/**
 * Authenticates and authorizes a request for `route` (ARCHITECTURE.md §6), reading its body first so that
 * the Content-Digest is checked against what really arrived. A bundle upload is authenticated on
 * its declared digest before any byte is stored; the store then checks the bytes against it.
 */
async function admit(
  req: IncomingMessage,
  route: AdminRoute,
  deps: Deps,
): Promise<{ principal: Principal | null; body: unknown }> {
  if (route.roles === null) return { principal: null, body: undefined };
  let bodySha256: Uint8Array;
  let raw: Buffer | null = null;
  if (route.body === 'stream') {
    const declared = parseContentDigest(req.headers['content-digest']);
    if (declared === null) {
      throw new HttpError(
        401,
        'SIGNATURE_MISSING',
        'A bundle upload must carry a signed sha-256 Content-Digest.',
      );
    }
    bodySha256 = declared;
  } else {
    raw = await readBody(req, {
      limit: route.body === 'json' ? JSON_BODY_LIMIT : 0,
      deadlines: deps.bodies,
    });
    bodySha256 = sha256(raw);
  }
  const now = deps.admin.now();
  const principal = await authenticate(
    deps.admin.store,
    {
      method: req.method ?? 'GET',
      // The origin is the server's own (never the Host header): a request signed for another
      // server, even by the same key, does not verify here (RFC 9421 §7.2.1, target binding).
      url: `${deps.publicUrl.replace(/\/+$/, '')}${req.url ?? '/'}`,
      headers: req.headers,
      bodySha256,
    },
    now,
  );
  requireRole(principal, route.roles);
  if (route.body === 'stream') assertStreamDigest(req, route, bodySha256);
  return { principal, body: raw === null ? undefined : parseJsonBody(raw) };
}

/** RFC 9530: for an upload the digest names the content, and the content is named by its hash. */
function assertStreamDigest(req: IncomingMessage, route: AdminRoute, declared: Uint8Array): void {
  const path = new URL(req.url ?? '/', 'http://airlock.invalid').pathname;
  const named = route.pattern.exec(path)?.[1] ?? '';
  if (Buffer.from(declared).toString('hex') !== named) {
    throw new HttpError(
      400,
      'DIGEST_MISMATCH',
      'The Content-Digest does not match the bundle name.',
    );
  }
}
