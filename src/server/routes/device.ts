import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { BUNDLES_PREFIX, handleBundle } from '../device/bundles';
import { handleChannelSelf } from '../device/channel-self';
import { deviceState, type DeviceContext, type DeviceState, type Finish } from '../device/context';
import { sendError } from '../device/http';
import { handleStats } from '../device/stats';
import { handleUpdates } from '../device/updates';

/**
 * The device endpoints that stock `@capgo/capacitor-updater` 8.x talks to (ARCHITECTURE.md §6,
 * PROTOCOL.md §3–5): `POST /updates`, `POST /stats`, `POST|PUT|GET /channel_self`, and
 * `GET|HEAD /bundles/<encryptedSha256>`. Every error is JSON `{error, message}` with a stable code;
 * bad input is always 4xx; no stack trace leaves the process. One log line per request.
 */

export type { DeviceContext } from '../device/context';
export type { DeviceLimits, BucketSpec } from '../device/rate-limit';
export { DEFAULT_DEVICE_LIMITS } from '../device/rate-limit';

type Handler = (x: Exchange) => void;

/** A handler that answers through a promise (the endpoints off the hot path). */
function settled(promise: Promise<number>, x: Exchange): void {
  promise.then(
    (status) => x.done(status),
    (error: unknown) => x.fail(error),
  );
}

const ROUTES: ReadonlyMap<string, Handler> = new Map<string, Handler>([
  ['/updates', (x) => handleUpdates(x.req, x.res, x.ctx, x.state, x)],
  ['/stats', (x) => settled(handleStats(x.req, x.res, x.ctx, x.state, x.log), x)],
  ['/channel_self', (x) => settled(handleChannelSelf(x.req, x.res, x.ctx, x.state), x)],
]);

const bundleRoute: Handler = (x) => settled(handleBundle(x.req, x.res, x.ctx, x.state, x.path), x);

/** The request path without its query string. */
function pathOf(url: string): string {
  const at = url.indexOf('?');
  return at === -1 ? url : url.slice(0, at);
}

function routeFor(path: string): Handler | undefined {
  return ROUTES.get(path) ?? (path.startsWith(BUNDLES_PREFIX) ? bundleRoute : undefined);
}

/** Answers an unexpected failure: a generic 500, or a cut connection once the answer started. */
function sendInternalError(res: ServerResponse): number {
  if (res.headersSent) {
    res.destroy();
    return 500;
  }
  return sendError(res, 500, {
    error: 'internal',
    message: 'An unexpected internal error occurred.',
  });
}

/**
 * One device request from routing to its log line. A class, so that a request costs one object
 * and no closures or promises on the /updates path.
 */
class Exchange implements Finish {
  /** One log line per request (brief: {method, path, status, ms}); handlers may add fields. */
  readonly log: Record<string, unknown>;
  private readonly started = performance.now();
  private finished = false;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly ctx: DeviceContext,
    readonly state: DeviceState,
    readonly path: string,
  ) {
    this.log = { method: req.method, path, status: 0, ms: 0 };
  }

  done(status: number): void {
    if (this.finished) return;
    this.finished = true;
    this.log.status = status;
    this.log.ms = Math.round((performance.now() - this.started) * 1000) / 1000;
    this.ctx.log(this.log);
  }

  fail(error: unknown): void {
    if (this.finished) return;
    // The cause goes to the log, a generic 500 out (ARCHITECTURE.md §6: nothing internal leaks).
    this.log.error = error instanceof Error ? error.message : String(error);
    this.done(sendInternalError(this.res));
  }
}

/**
 * Serves a device request. Returns false, without touching `res`, when the path is not a device
 * endpoint (the server then routes it elsewhere); else true, and the request is answered and
 * logged in due course. Never throws.
 * @example
 *   const server = createServer((req, res) => {
 *     if (!handleDeviceRequest(req, res, ctx)) notFound(res);
 *   });
 */
export function handleDeviceRequest(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: DeviceContext,
): boolean {
  const path = pathOf(req.url ?? '/');
  const route = routeFor(path);
  if (route === undefined) return false;
  const exchange = new Exchange(req, res, ctx, deviceState(ctx), path);
  try {
    route(exchange);
  } catch (error) {
    exchange.fail(error);
  }
  return true;
}
