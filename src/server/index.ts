import { existsSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { AirlockError } from '../core';
import { createRequestListener } from './app';
import { dataDirPaths } from './data-dir';
import type { RateLimitOptions } from './rate-limit';
import type { DeviceContext } from './routes/device';
import { loadServerKey } from './server-key';
import { openSqliteStore } from './store/sqlite-store';
import type { ServerStore } from './store/types';

/**
 * The self-hosted server (DESIGN §6): `initServer` creates a data directory, `startServer` serves
 * it. This is the only module that binds a socket (STYLE rule 13); the request handling itself is
 * `createRequestListener` in ./app.
 */

export { initServer, initialTrustRoot, defaultPolicies, type InitServerOptions } from './init';
export { createRequestListener, type AppOptions } from './app';
export { createLineBuffer, type LineBuffer } from './line-buffer';
export type { ServerStore } from './store/types';

export interface StartServerOptions {
  readonly dataDir: string;
  /** Interface to listen on (default 127.0.0.1: put a TLS proxy in front, or pass `tls`). */
  readonly host?: string;
  /** Port (default 8787; 0 picks a free one). */
  readonly port?: number;
  /** PEM texts of the certificate chain and its private key: serve HTTPS directly. */
  readonly tls?: { cert: string; key: string };
  /**
   * The URL clients reach the server at (e.g. behind a proxy): the origin of the `@target-uri`
   * admin requests sign, and of the bundle URLs devices get. Default: scheme + the Host header.
   */
  readonly publicUrl?: string;
  /** Receives one JSON line per request (default: nothing is logged). */
  readonly logger?: (line: string) => void;
  /** The clock (tests); default the system clock. */
  readonly now?: () => Date;
  readonly adminRateLimit?: RateLimitOptions;
  readonly deviceLimits?: DeviceContext['limits'];
  readonly maxBundleBytes?: number;
}

export interface RunningServer {
  /** Where the server listens, e.g. `http://127.0.0.1:8787`. */
  readonly url: string;
  readonly store: ServerStore;
  /** Stops accepting, ends open connections, closes the store. */
  close(): Promise<void>;
}

/** Long uploads on slow links: a bundle may take a while; headers must still come quickly. */
const REQUEST_TIMEOUT_MS = 60 * 60 * 1000;

function originOf(req: IncomingMessage, scheme: string, fallback: string): string {
  const host = req.headers.host;
  // Host is attacker-controlled, but only shapes URLs this client itself signs or receives.
  return typeof host === 'string' && /^[A-Za-z0-9.:[\]-]+$/.test(host)
    ? `${scheme}://${host}`
    : fallback;
}

/** The last log time, formatted: a busy server logs many requests within one millisecond. */
const logClock = { ms: Number.NaN, prefix: '' };

/** `{"time":…,…fields}`: the fields' own JSON with the time put first (no copy of the record). */
function logLine(fields: Record<string, unknown>): string {
  const now = Date.now();
  if (now !== logClock.ms) {
    logClock.ms = now;
    logClock.prefix = `{"time":"${new Date(now).toISOString()}"`;
  }
  const rest = JSON.stringify(fields);
  return rest === '{}' ? `${logClock.prefix}}` : `${logClock.prefix},${rest.slice(1)}`;
}

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

/**
 * Serves the data directory made by `initServer`. Throws AirlockError NOT_FOUND when it was never
 * initialised, SERVER_KEY_UNSAFE for a key file others can read, DB_FROM_FUTURE for a newer schema.
 * @example
 * const server = await startServer({ dataDir: '/var/lib/airlock', port: 8787 });
 * console.log(`listening on ${server.url}`);
 */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const paths = dataDirPaths(options.dataDir);
  if (!existsSync(paths.db)) {
    throw new AirlockError(
      'NOT_FOUND',
      `${options.dataDir} holds no Airlock server; run "airlock server init" first.`,
    );
  }
  const now = options.now ?? (() => new Date());
  const nowMs = options.now === undefined ? Date.now : () => now().getTime();
  const store = openSqliteStore(paths, loadServerKey(paths.serverKey), { now });
  const scheme = options.tls === undefined ? 'http' : 'https';
  const host = options.host ?? '127.0.0.1';
  const logger = options.logger;
  let url = '';
  const listener = createRequestListener({
    store,
    now,
    nowMs,
    publicUrl: (req) => options.publicUrl ?? originOf(req, scheme, url),
    log: (fields) => logger?.(logLine(fields)),
    ...(options.adminRateLimit === undefined ? {} : { adminRateLimit: options.adminRateLimit }),
    ...(options.deviceLimits === undefined ? {} : { deviceLimits: options.deviceLimits }),
    ...(options.maxBundleBytes === undefined ? {} : { maxBundleBytes: options.maxBundleBytes }),
  });
  const server =
    options.tls === undefined
      ? createHttpServer(listener)
      : createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, listener);
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  let address: AddressInfo;
  try {
    address = await listen(server, options.port ?? 8787, host);
  } catch (error) {
    store.close();
    throw new AirlockError('IO_ERROR', `Cannot listen on ${host}:${options.port ?? 8787}.`, {
      cause: error,
    });
  }
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  url = `${scheme}://${shownHost}:${address.port}`;
  return {
    url,
    store,
    close: () => closeServer(server, sockets, store),
  };
}

function closeServer(server: Server, sockets: Set<Socket>, store: ServerStore): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => {
      store.close();
      resolve();
    });
    server.closeIdleConnections();
    // Requests in flight get a moment; then the connections are cut.
    setTimeout(() => {
      for (const socket of sockets) socket.destroy();
    }, 1000).unref();
  });
}
