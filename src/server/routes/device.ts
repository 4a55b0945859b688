import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { BUNDLES_PREFIX, handleBundle } from '../device/bundles';
import { handleChannelSelf } from '../device/channel-self';
import { deviceState, type DeviceContext, type DeviceState } from '../device/context';
import { sendError } from '../device/http';
import { handleStats } from '../device/stats';
import { handleUpdates } from '../device/updates';

/**
 * The device endpoints that stock `@capgo/capacitor-updater` 8.x talks to (DESIGN §6,
 * capgo-protocol §3–5): `POST /updates`, `POST /stats`, `POST|PUT|GET /channel_self`, and
 * `GET|HEAD /bundles/<encryptedSha256>`. Every error is JSON `{error, message}` with a stable code;
 * bad input is always 4xx; no stack trace leaves the process. One log line per request.
 */

export type { DeviceContext } from '../device/context';
export type { DeviceLimits, BucketSpec } from '../device/rate-limit';
export { DEFAULT_DEVICE_LIMITS } from '../device/rate-limit';

type Handler = (
  req: IncomingMessage,
  res: ServerResponse,
  ctx: DeviceContext,
  state: DeviceState,
  log: Record<string, unknown>,
  path: string,
) => Promise<number>;

const ROUTES: ReadonlyMap<string, Handler> = new Map<string, Handler>([
  ['/updates', (req, res, ctx, state) => handleUpdates(req, res, ctx, state)],
  ['/stats', (req, res, ctx, state, log) => handleStats(req, res, ctx, state, log)],
  ['/channel_self', (req, res, ctx, state) => handleChannelSelf(req, res, ctx, state)],
]);

const bundleRoute: Handler = (req, res, ctx, state, _log, path) =>
  handleBundle(req, res, ctx, state, path);

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

/** One log line per request (brief: {method, path, status, ms}), written when it is answered. */
function logRequest(
  ctx: DeviceContext,
  log: Record<string, unknown>,
  started: number,
  status: number,
): boolean {
  log.status = status;
  log.ms = Math.round((performance.now() - started) * 1000) / 1000;
  ctx.log(log);
  return true;
}

const NOT_MINE: Promise<boolean> = Promise.resolve(false);

/**
 * Serves a device request. Resolves false, without touching `res`, when the path is not a device
 * endpoint (the server then routes it elsewhere); else true once answered and logged. Not an
 * async function: on the /updates hot path each promise layer counts.
 * @example
 *   const server = createServer((req, res) => {
 *     void handleDeviceRequest(req, res, ctx).then((handled) => handled || notFound(res));
 *   });
 */
export function handleDeviceRequest(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: DeviceContext,
): Promise<boolean> {
  const path = pathOf(req.url ?? '/');
  const route = routeFor(path);
  if (route === undefined) return NOT_MINE;
  const started = performance.now();
  const log: Record<string, unknown> = { method: req.method, path, status: 0, ms: 0 };
  let pending: Promise<number>;
  try {
    pending = route(req, res, ctx, deviceState(ctx), log, path);
  } catch (error) {
    pending = Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
  return pending.then(
    (status) => logRequest(ctx, log, started, status),
    (error: unknown) => {
      // Store or I/O failure, never bad input: the cause goes to the log, a generic 500 out.
      log.error = error instanceof Error ? error.message : String(error);
      return logRequest(ctx, log, started, sendInternalError(res));
    },
  );
}
