import { existsSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { AirlockError } from '../core';
import { createRequestListener, type BodyTimeouts } from './app';
import { dataDirPaths } from './data-dir';
import {
  answerClientErrors,
  connectionLimitsFor,
  descriptorLimit,
  guardConnections,
  type ConnectionLimits,
} from './http/connections';
import { HSTS_VALUE } from './http/headers';
import { createSourceOf, trustedProxies } from './http/source';
import type { RateLimitOptions } from './rate-limit';
import type { ReleaseRules } from './release-control';
import type { DeviceContext } from './routes/device';
import { loadServerKey } from './server-key';
import { FsBlobStore, parseBundlesUrl, S3BlobStore } from './store/blobs';
import { openPostgresStore, type PostgresTarget } from './store/postgres/postgres-store';
import { openSqliteStore } from './store/sqlite-store';
import type { ServerStore } from './store/types';

/**
 * The self-hosted server (ARCHITECTURE.md §6): `initServer` creates a data directory, `startServer` serves
 * it. This is the only module that binds a socket (ARCHITECTURE.md rule 13); the request handling itself is
 * `createRequestListener` in ./app.
 */

export { initServer, initialTrustRoot, defaultPolicies, type InitServerOptions } from './init';
export { createRequestListener, type AppOptions } from './app';
export { connectionLimitsFor, descriptorLimit, type ConnectionLimits } from './http/connections';
export { createLineBuffer, type LineBuffer } from './line-buffer';
export { DEFAULT_RELEASE_RULES, type ReleaseRules } from './release-control';
export type { ServerStore } from './store/types';
export { describeTarget, parseDatabaseUrl } from './store/postgres/postgres-store';

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
   * admin requests sign, and of the bundle URLs devices get. Default: the listen address
   * (scheme, host, port); required when listening on every interface. Never the Host header.
   */
  readonly publicUrl?: string;
  /**
   * Proxies whose `X-Forwarded-For` names the client (addresses or CIDR ranges, e.g. nginx on
   * 127.0.0.1); they are also exempt from the per-address connection cap.
   */
  readonly trustProxy?: readonly string[];
  /** Connection caps; default from the descriptor limit (connectionLimitsFor). */
  readonly connectionLimits?: Partial<ConnectionLimits>;
  /** Body deadlines (slow clients); defaults in app.ts. */
  readonly bodyTimeouts?: Partial<BodyTimeouts>;
  /** The header deadline (default 10 s). */
  readonly headersTimeoutMs?: number;
  /** Statement lifetime cap and bundle limits (defaults in release-control.ts). */
  readonly releaseRules?: Partial<ReleaseRules>;
  /** Receives one JSON line per request (default: nothing is logged). */
  readonly logger?: (line: string) => void;
  /** The clock (tests); default the system clock. */
  readonly now?: () => Date;
  readonly adminRateLimit?: RateLimitOptions;
  readonly deviceLimits?: DeviceContext['limits'];
  readonly maxBundleBytes?: number;
  /**
   * State in PostgreSQL (issue 15), initialised by `initServer({ database })`: several processes
   * may serve one database; `dataDir` then holds only the server key (and `bundles/` unless
   * `bundles` names an object store).
   */
  readonly database?: PostgresTarget;
  /** PostgreSQL only: the periodic re-read that backs up LISTEN/NOTIFY (default 2 s). */
  readonly resyncMs?: number;
  /**
   * Bundles in an S3-compatible object store instead of the data directory (issue 15):
   * `url` is `s3://BUCKET/PREFIX`; credentials come from the standard AWS_* variables only.
   */
  readonly bundles?: {
    readonly url: string;
    readonly endpoint?: string;
    readonly region?: string;
    /** Path-style requests (MinIO, Ceph RGW); default true when an endpoint is given. */
    readonly pathStyle?: boolean;
    /**
     * Answer bundle downloads with a 302 to a presigned GET valid this long (seconds), so the
     * bytes go from the bucket to the phone; default: streamed through the server.
     */
    readonly redirectSeconds?: number;
  };
  /**
   * The base of the bundle URLs devices get, `<base>/bundles/<sha>`: a CDN whose origin is this
   * server (or its load balancer), which caches the immutable bundles; default the public URL.
   */
  readonly bundleBaseUrl?: string;
}

export interface RunningServer {
  /** Where the server listens, e.g. `http://127.0.0.1:8787`. */
  readonly url: string;
  readonly store: ServerStore;
  /** The connection caps in force. */
  readonly connectionLimits: ConnectionLimits;
  /** Stops accepting, ends open connections, closes the store. */
  close(): Promise<void>;
}

/** Headers must arrive within this (Node checks it every second, see `connectionsCheckingInterval`). */
const HEADERS_TIMEOUT_MS = 10_000;
/** An idle keep-alive connection is closed after this. */
const KEEP_ALIVE_TIMEOUT_MS = 5_000;

/**
 * TLS 1.2 only with forward secrecy and an AEAD (ECDHE with AES-GCM or ChaCha20-Poly1305), TLS
 * 1.3 with its three standard suites (RFC 8446 §9.1): no static RSA, no CBC, no SHA-1 MACs.
 */
export const TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

const WILDCARD_HOSTS: ReadonlySet<string> = new Set(['0.0.0.0', '::', '']);

/** The last log time, formatted: a busy server logs many requests within one millisecond. */
const logClock = { ms: Number.NaN, prefix: '' };

/**
 * `text` as a JSON string: as is in quotes when it holds only printable ASCII other than `"` and
 * `\` (nothing RFC 8259 §7 makes a string escape), else through JSON.stringify.
 */
function jsonString(text: string): string {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return JSON.stringify(text);
  }
  return `"${text}"`;
}

/**
 * The device endpoints' line, `{method, path, status, ms}` and nothing else, written by hand: at
 * tens of thousands of requests a second, JSON.stringify of the record is a measurable share.
 * Null for any other record.
 */
function briefLine(prefix: string, fields: Record<string, unknown>): string | null {
  let count = 0;
  for (const key in fields) if (Object.hasOwn(fields, key)) count++;
  const { method, path, status, ms } = fields;
  if (
    count !== 4 ||
    typeof method !== 'string' ||
    typeof path !== 'string' ||
    typeof status !== 'number' ||
    typeof ms !== 'number'
  ) {
    return null;
  }
  return `${prefix},"method":${jsonString(method)},"path":${jsonString(path)},"status":${status},"ms":${ms}}`;
}

/** `{"time":…,…fields}`: the fields' own JSON with the time put first (no copy of the record). */
function logLine(fields: Record<string, unknown>): string {
  const now = Date.now();
  if (now !== logClock.ms) {
    logClock.ms = now;
    logClock.prefix = `{"time":"${new Date(now).toISOString()}"`;
  }
  const brief = briefLine(logClock.prefix, fields);
  if (brief !== null) return brief;
  const rest = JSON.stringify(fields);
  return rest === '{}' ? `${logClock.prefix}}` : `${logClock.prefix},${rest.slice(1)}`;
}

/** The S3-compatible bundle store `--bundles s3://…` names (credentials: the AWS_* variables). */
function s3Blobs(bundles: NonNullable<StartServerOptions['bundles']>): S3BlobStore {
  const { bucket, prefix } = parseBundlesUrl(bundles.url);
  return new S3BlobStore({
    bucket,
    prefix,
    ...(bundles.endpoint === undefined ? {} : { endpoint: bundles.endpoint }),
    ...(bundles.region === undefined ? {} : { region: bundles.region }),
    forcePathStyle: bundles.pathStyle ?? bundles.endpoint !== undefined,
  });
}

/** The data directory's bundle folder, without the leftovers of processes that are gone. */
function localBundles(paths: ReturnType<typeof dataDirPaths>): FsBlobStore {
  const files = new FsBlobStore(paths.bundles, paths.bundlesTmp);
  files.cleanTemp();
  return files;
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
  if (!existsSync(options.database === undefined ? paths.db : paths.serverKey)) {
    throw new AirlockError(
      'NOT_FOUND',
      `${options.dataDir} holds no Airlock server; run "airlock server init" first.`,
    );
  }
  const host = options.host ?? '127.0.0.1';
  if (options.publicUrl === undefined && WILDCARD_HOSTS.has(host)) {
    throw new AirlockError(
      'INVALID_ARGUMENT',
      `Listening on every interface (${host || 'all'}) needs --public-url: the URL devices and consoles reach this server at.`,
    );
  }
  let trusted: ReturnType<typeof trustedProxies> | null = null;
  try {
    trusted = options.trustProxy === undefined ? null : trustedProxies(options.trustProxy);
  } catch (error) {
    throw new AirlockError('INVALID_ARGUMENT', `--trust-proxy: ${(error as Error).message}`);
  }
  const now = options.now ?? (() => new Date());
  const nowMs = options.now === undefined ? Date.now : () => now().getTime();
  const logger = options.logger;
  const log = (fields: Record<string, unknown>): void => logger?.(logLine(fields));
  const blobs = options.bundles === undefined ? undefined : s3Blobs(options.bundles);
  const signer = loadServerKey(paths.serverKey);
  const store: ServerStore =
    options.database === undefined
      ? openSqliteStore(paths, signer, { now, ...(blobs === undefined ? {} : { blobs }) })
      : await openPostgresStore(options.database, signer, {
          now,
          blobs: blobs ?? localBundles(paths),
          ...(options.resyncMs === undefined ? {} : { resyncMs: options.resyncMs }),
          onError: (what, error) =>
            log({ event: 'store_error', what, message: (error as Error).message }),
        });
  const scheme = options.tls === undefined ? 'http' : 'https';
  const serverOptions = {
    // Node checks the header deadline every connectionsCheckingInterval; bodies are checked by the
    // app's own deadlines (a bundle upload may take long, a dribbled /updates body may not).
    headersTimeout: options.headersTimeoutMs ?? HEADERS_TIMEOUT_MS,
    requestTimeout: 0,
    connectionsCheckingInterval: Math.min(1000, options.headersTimeoutMs ?? 1000),
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
  };
  const server: Server =
    options.tls === undefined
      ? createHttpServer(serverOptions)
      : createHttpsServer({
          ...serverOptions,
          cert: options.tls.cert,
          key: options.tls.key,
          minVersion: 'TLSv1.2',
          ciphers: TLS_CIPHERS,
          honorCipherOrder: true,
        });
  const limits = { ...connectionLimitsFor(descriptorLimit()), ...options.connectionLimits };
  const stopReports = guardConnections(server, limits, trusted, log);
  answerClientErrors(server, log);
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  let address: AddressInfo;
  try {
    address = await listen(server, options.port ?? 8787, host);
  } catch (error) {
    stopReports();
    await store.close();
    throw new AirlockError('IO_ERROR', `Cannot listen on ${host}:${options.port ?? 8787}.`, {
      cause: error,
    });
  }
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `${scheme}://${shownHost}:${address.port}`;
  // The listener is attached now that the address is known (no request is parsed before it).
  const listener = createRequestListener({
    store,
    now,
    nowMs,
    publicUrl: options.publicUrl ?? url,
    sourceOf: createSourceOf(trusted),
    log,
    ...(options.adminRateLimit === undefined ? {} : { adminRateLimit: options.adminRateLimit }),
    ...(options.deviceLimits === undefined ? {} : { deviceLimits: options.deviceLimits }),
    ...(options.maxBundleBytes === undefined ? {} : { maxBundleBytes: options.maxBundleBytes }),
    ...(options.bodyTimeouts === undefined ? {} : { bodyTimeouts: options.bodyTimeouts }),
    ...(options.releaseRules === undefined ? {} : { releaseRules: options.releaseRules }),
    ...(options.bundles?.redirectSeconds === undefined
      ? {}
      : { redirectBundlesSeconds: options.bundles.redirectSeconds }),
    ...(options.bundleBaseUrl === undefined ? {} : { bundleBaseUrl: options.bundleBaseUrl }),
  });
  server.on(
    'request',
    options.tls === undefined
      ? listener
      : (req: IncomingMessage, res: ServerResponse) => {
          // RFC 6797 §7.1: HSTS on every answer over a secure transport.
          res.setHeader('strict-transport-security', HSTS_VALUE);
          listener(req, res);
        },
  );
  return {
    url,
    store,
    connectionLimits: limits,
    close: () => {
      stopReports();
      return closeServer(server, sockets, store);
    },
  };
}

function closeServer(server: Server, sockets: Set<Socket>, store: ServerStore): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => {
      store.close().then(resolve, resolve);
    });
    server.closeIdleConnections();
    // Requests in flight get a moment; then the connections are cut.
    setTimeout(() => {
      for (const socket of sockets) socket.destroy();
    }, 1000).unref();
  });
}
