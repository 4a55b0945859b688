import { createServer as createNetServer, type AddressInfo } from 'node:net';
import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import {
  buildBundle,
  bytesToHex,
  encryptBundle,
  rsaSignerFromPrivateKey,
  sha256,
  signRequest,
  signRoot,
  type IdentitySigner,
} from '../../src/core';
import {
  initServer,
  startServer,
  type RunningServer,
  type StartServerOptions,
} from '../../src/server';
import type { ServerStore } from '../../src/server/store/types';
import type {
  BundleRef,
  Policy,
  Role,
  RootChain,
  ServerKey,
  Statement,
  StatementKind,
  TrustRoot,
} from '../../src/shared/schemas';
import { writeTree } from './bundle-fixtures';
import { CLI_PATH, REPO_ROOT } from './cli';
import {
  createTestDatabase,
  testBackend,
  type TestBackend,
  type TestDatabase,
} from './test-backend';

export { testIdentity, type TestIdentity } from '../unit/core/test-identities';

/**
 * A real Airlock server for tests, on 127.0.0.1 with a random port and a fresh data directory:
 * in process by default (`store` is then available), or as a child process running the built CLI
 * (`spawn: true`), which `kill()` ends with SIGKILL for the crash tests.
 */

export interface TestServerOptions {
  /** The first admins: signers, or their 64-hex public keys. */
  readonly admins: readonly IdentitySigner[] | readonly string[];
  readonly rootThreshold?: number;
  /** Run `node out/main/cli.js server start` in a child process (needs `npm run build`). */
  readonly spawn?: boolean;
  /** A fixed port (default: a random one each start), so a restarted server keeps its URL. */
  readonly port?: number;
  /** In-process only: the server's clock. */
  readonly now?: () => Date;
  /** Receives the server's JSON log lines (in process) or its stdout lines (spawned). */
  readonly logger?: (line: string) => void;
  /** Spawned only: extra environment variables for the server process (e.g. TMPDIR). */
  readonly env?: NodeJS.ProcessEnv;
  /** Spawned only: extra `airlock server start` flags. */
  readonly args?: readonly string[];
  /** Spawned only: a command the server runs under, e.g. `['prlimit', '--nofile=1024:1024', '--']`. */
  readonly wrap?: readonly string[];
  /** In-process only: more startServer options (limits, timeouts, rules). */
  readonly start?: Partial<StartServerOptions>;
  /** The backend (default: `testBackend()`, i.e. the vitest project's). */
  readonly backend?: TestBackend;
}

export interface TestServer {
  /** The current base URL (it changes on `restart`: the port is picked anew). */
  readonly url: string;
  readonly dataDir: string;
  readonly serverKey: ServerKey;
  /** Fingerprint of trust root version 1. */
  readonly rootId: string;
  readonly backend: TestBackend;
  /** The PostgreSQL database (backend `postgres`), else null. */
  readonly database: TestDatabase | null;
  /** Rows of `sql` (`?` placeholders) in the server's database, read-only on SQLite. */
  query<R extends Record<string, unknown>>(sql: string, values?: unknown[]): Promise<R[]>;
  /**
   * Everything a refused request must leave unchanged: the tables (request nonces and the head
   * checkpoints served aside) and the bundle files. Compare two snapshots with toEqual.
   */
  snapshot(): Promise<Record<string, unknown>>;
  /** The running store, in process only (null when spawned or stopped). */
  readonly store: ServerStore | null;
  /** Stops cleanly (SIGTERM when spawned). */
  stop(): Promise<void>;
  /** SIGKILL when spawned; in process the same as `stop`. */
  kill(): Promise<void>;
  /** Starts again on the same data directory (after a stop or kill). */
  restart(): Promise<void>;
  /** Stops and deletes the data directory. */
  dispose(): Promise<void>;
}

function publicKeyHex(admin: IdentitySigner | string): string {
  return typeof admin === 'string' ? admin : bytesToHex(admin.publicKey);
}

export interface Running {
  readonly url: string;
  readonly store: ServerStore | null;
  stop(signal: 'SIGTERM' | 'SIGKILL'): Promise<void>;
}

async function startInProcess(
  dataDir: string,
  database: TestDatabase | null,
  options: TestServerOptions,
): Promise<Running> {
  const server: RunningServer = await startServer({
    dataDir,
    ...(database === null ? {} : { database: database.config }),
    port: options.port ?? 0,
    ...(options.now === undefined ? {} : { now: options.now }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    // Tests fire many admin requests from one IP: no rate limit unless a test sets its own.
    adminRateLimit: { capacity: 1_000_000, refillPerSecond: 1_000_000 },
    ...options.start,
  });
  return { url: server.url, store: server.store, stop: () => server.close() };
}

/**
 * The URL in `airlock server start`'s start line (`{"event":"listening","url":…}`, one of its
 * JSON lines on stdout), or null for any other line.
 */
export function listeningUrl(line: string): string | null {
  if (!line.startsWith('{') || !line.includes('"listening"')) return null;
  try {
    const fields = JSON.parse(line) as { event?: unknown; url?: unknown };
    return fields.event === 'listening' && typeof fields.url === 'string' ? fields.url : null;
  } catch {
    return null;
  }
}

function waitForExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * `airlock server start` (the built CLI) in a child process on `dataDir` (and `database`): what
 * startTestServer spawns, and a second process on the same server for the scale-out tests.
 */
export async function startSpawned(
  dataDir: string,
  database: TestDatabase | null,
  options: TestServerOptions,
): Promise<Running> {
  if (!existsSync(CLI_PATH)) throw new Error(`${CLI_PATH} is missing: run "npm run build" first`);
  const [command = process.execPath, ...prefix] = [...(options.wrap ?? []), process.execPath];
  const child = spawn(
    command,
    [
      ...prefix,
      CLI_PATH,
      'server',
      'start',
      '--data',
      dataDir,
      '--port',
      String(options.port ?? 0),
      ...(database === null ? [] : ['--database', database.url]),
      ...(options.args ?? []),
    ],
    {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...database?.env, ...options.env },
    },
  );
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}`)), 30_000);
    lines.on('line', (line) => {
      options.logger?.(line);
      const listening = listeningUrl(line);
      if (listening !== null) {
        clearTimeout(timer);
        resolve(listening);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}: ${stderr}`));
    });
  });
  return {
    url,
    store: null,
    stop: async (signal) => {
      child.kill(signal);
      await waitForExit(child);
    },
  };
}

/**
 * @example
 * const server = await startTestServer({ admins: [alice, bob] });
 * const res = await signedFetch(`${server.url}/api/v1/apps`, { method: 'GET', signer: alice });
 * await server.dispose();
 */
export async function startTestServer(options: TestServerOptions): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'airlock-server-test-'));
  const backend = options.backend ?? testBackend();
  const database = backend === 'postgres' ? await createTestDatabase('server') : null;
  const { serverKey, rootId } = await initServer({
    dataDir,
    admins: options.admins.map(publicKeyHex),
    ...(options.rootThreshold === undefined ? {} : { rootThreshold: options.rootThreshold }),
    ...(database === null ? {} : { database: database.config }),
  });
  const start = (): Promise<Running> =>
    options.spawn === true
      ? startSpawned(dataDir, database, options)
      : startInProcess(dataDir, database, options);
  const query = <R extends Record<string, unknown>>(
    sql: string,
    values: unknown[] = [],
  ): Promise<R[]> => {
    if (database !== null) {
      let n = 0;
      return database.query<R>(
        sql.replace(/\?/g, () => `$${++n}`),
        values,
      );
    }
    const db = new Database(join(dataDir, 'server.db'), { readonly: true, fileMustExist: true });
    try {
      return Promise.resolve(db.prepare(sql).all(...values) as R[]);
    } finally {
      db.close();
    }
  };
  let running: Running | null = await start();
  const halt = async (signal: 'SIGTERM' | 'SIGKILL'): Promise<void> => {
    const current = running;
    running = null;
    if (current !== null) await current.stop(signal);
  };
  let lastUrl = running.url;
  return {
    get url() {
      return running?.url ?? lastUrl;
    },
    dataDir,
    serverKey,
    rootId,
    get store() {
      return running?.store ?? null;
    },
    backend,
    database,
    query,
    snapshot: async () => {
      const tables: Record<string, string[]> = {};
      for (const table of SNAPSHOT_TABLES) {
        // Sorted as text: the same order on both backends, whatever the physical one.
        tables[table] = (await query(`SELECT * FROM ${table}`))
          .map((row) => JSON.stringify(row))
          .sort();
      }
      return { tables, bundles: listFiles(join(dataDir, 'bundles')) };
    },
    stop: () => halt('SIGTERM'),
    kill: () => halt('SIGKILL'),
    restart: async () => {
      await halt('SIGTERM');
      running = await start();
      lastUrl = running.url;
    },
    dispose: async () => {
      await halt('SIGTERM');
      rmSync(dataDir, { recursive: true, force: true });
      await database?.drop();
    },
  };
}

export interface SignedFetchOptions {
  readonly method: string;
  /** Raw bytes are sent as application/octet-stream; anything else as JSON. */
  readonly body?: Uint8Array | string | object;
  readonly signer: IdentitySigner;
  /** Passed to signRequest (fixed clock, nonce, lifetime) for tamper tests. */
  readonly sign?: { now?: Date; expiresInSeconds?: number; nonce?: string };
  /** Applied after signing: overrides or removes (undefined) signed headers. */
  readonly headers?: Record<string, string | undefined>;
  /**
   * Send to this origin instead of `url`'s, signed for `url` all the same: one process of several
   * behind a load balancer, all of which take the balancer's URL as their public one.
   */
  readonly via?: string;
}

/** `url` with its origin replaced by `via` (path and query kept). */
export function sendTo(url: string, via: string | undefined): string {
  if (via === undefined) return url;
  const parsed = new URL(url);
  return `${via.replace(/\/+$/, '')}${parsed.pathname}${parsed.search}`;
}

/** A port that is free on 127.0.0.1 right now (for servers that must come back at one URL). */
export async function freePort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/**
 * A request signed like the CLI and the console sign admin calls (RFC 9421 + RFC 9530).
 * @example await signedFetch(`${url}/api/v1/apps`, { method: 'POST', body: app, signer: alice });
 */
export async function signedFetch(url: string, options: SignedFetchOptions): Promise<Response> {
  let bytes: Uint8Array;
  let contentType: string | null = null;
  if (options.body === undefined) {
    bytes = new Uint8Array();
  } else if (options.body instanceof Uint8Array) {
    bytes = options.body;
    contentType = 'application/octet-stream';
  } else {
    const text = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    bytes = new TextEncoder().encode(text);
    contentType = 'application/json';
  }
  const signed = await signRequest(
    { method: options.method, url, bodySha256: sha256(bytes) },
    options.signer,
    options.sign,
  );
  const headers: Record<string, string> = { ...signed };
  if (contentType !== null) headers['content-type'] = contentType;
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (value === undefined) delete headers[name];
    else headers[name] = value;
  }
  return fetch(sendTo(url, options.via), {
    method: options.method,
    headers,
    ...(bytes.byteLength > 0 ? { body: bytes } : {}),
  });
}

// ---------------------------------------------------------------------------------------------
// Documents and bundles for server tests

export interface StatementSpec {
  readonly app?: string;
  readonly channel?: string;
  readonly seq: number;
  readonly prev: string | null;
  readonly proposer: IdentitySigner;
  /** createdAt; expiresAt is `expiresInMs` later (default one day). */
  readonly now?: Date;
  readonly expiresInMs?: number;
}

function base(spec: StatementSpec) {
  const now = spec.now ?? new Date();
  return {
    v: 1 as const,
    app: spec.app ?? 'com.example.app',
    channel: spec.channel ?? 'production',
    seq: spec.seq,
    prev: spec.prev,
    createdAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + (spec.expiresInMs ?? 86_400_000)).toISOString(),
    proposer: spec.proposer.keyId,
  };
}

/** A release statement for `bundle` (default rollout 100 %, minNativeVersion 1.0.0). */
export function releaseStatement(
  spec: StatementSpec & { version: string; bundle: BundleRef; percent?: number },
): Statement {
  return {
    ...base(spec),
    kind: 'release',
    release: {
      version: spec.version,
      minNativeVersion: '1.0.0',
      rollout: { percent: spec.percent ?? 100 },
      bundle: spec.bundle,
    },
  };
}

/** A rollback, rollout, pause or resume statement. */
export function controlStatement(
  kind: Exclude<StatementKind, 'release'>,
  spec: StatementSpec & { target?: string; percent?: number },
): Statement {
  switch (kind) {
    case 'rollback':
      return { ...base(spec), kind, target: spec.target ?? '0'.repeat(64) };
    case 'rollout':
      return { ...base(spec), kind, rollout: { percent: spec.percent ?? 50 } };
    case 'pause':
    case 'resume':
      return { ...base(spec), kind };
  }
}

export interface TestBundle {
  /** The encrypted file devices download. */
  readonly encPath: string;
  readonly bytes: Buffer;
  readonly ref: BundleRef;
  /** TEST-ONLY bundle key: its public half, as registered with the app. */
  readonly publicKeyPem: string;
}

/**
 * Builds and encrypts a small web bundle with a TEST-ONLY RSA-2048 key (fresh unless given), the
 * way `airlock bundle build` + `encrypt` do. `padding` adds incompressible bytes (bigger bundles).
 */
export async function makeTestBundle(
  dir: string,
  options: { label?: string; privateKeyPem?: string; padding?: number } = {},
): Promise<TestBundle & { privateKeyPem: string }> {
  const label = options.label ?? 'v1';
  const privateKeyPem =
    options.privateKeyPem ??
    (generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
      type: 'pkcs1',
      format: 'pem',
    }) as string);
  const web = join(dir, `web-${label}`);
  mkdirSync(web, { recursive: true });
  writeTree(web, {
    'index.html': `<!doctype html><title>${label}</title>`,
    'app.js': `console.log(${JSON.stringify(label)});\n`,
    ...(options.padding === undefined
      ? {}
      : { 'pad.bin': new Uint8Array(options.padding).map((_, i) => (i * 7919) % 251) }),
  });
  const zip = join(dir, `bundle-${label}.zip`);
  const encPath = join(dir, `bundle-${label}.enc`);
  await buildBundle(web, zip);
  const signer = rsaSignerFromPrivateKey(privateKeyPem);
  const ref = await encryptBundle(zip, encPath, signer);
  return {
    encPath,
    bytes: readFileSync(encPath),
    ref: { ...ref },
    publicKeyPem: signer.publicKeyPem,
    privateKeyPem,
  };
}

const SNAPSHOT_TABLES = ['roots', 'apps', 'channels', 'statements', 'approvals', 'log', 'stats'];

function listFiles(root: string): string[] {
  if (!existsSync(root)) return [];
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else out.push(relative(root, path));
    }
  };
  walk(root);
  return out.sort();
}

export interface ApiAnswer<T> {
  readonly status: number;
  readonly json: T;
  readonly headers: Headers;
}

/**
 * Calls the admin API: signed when `signer` is given (at `now`, for servers on a test clock),
 * plain otherwise. `T` is what the test expects back (not checked).
 * @example const { status, json } = await callApi<ChannelStatus>(server.url, path, { signer });
 */
export async function callApi<T = { error: string; message: string }>(
  baseUrl: string,
  path: string,
  options: {
    method?: string;
    signer?: IdentitySigner;
    body?: Uint8Array | string | object;
    now?: Date;
    headers?: Record<string, string | undefined>;
    /** See SignedFetchOptions.via. */
    via?: string;
  } = {},
): Promise<ApiAnswer<T>> {
  const url = `${baseUrl}${path}`;
  const method = options.method ?? (options.body === undefined ? 'GET' : 'POST');
  const response =
    options.signer === undefined
      ? await fetch(sendTo(url, options.via), {
          method,
          ...(options.body === undefined
            ? {}
            : {
                body:
                  options.body instanceof Uint8Array || typeof options.body === 'string'
                    ? options.body
                    : JSON.stringify(options.body),
              }),
        })
      : await signedFetch(url, {
          method,
          signer: options.signer,
          ...(options.body === undefined ? {} : { body: options.body }),
          ...(options.now === undefined ? {} : { sign: { now: options.now } }),
          ...(options.headers === undefined ? {} : { headers: options.headers }),
          ...(options.via === undefined ? {} : { via: options.via }),
        });
  const text = await response.text();
  return {
    status: response.status,
    json: (text === '' ? null : JSON.parse(text)) as T,
    headers: response.headers,
  };
}

/**
 * Publishes the next trust-root version with `members` added (each with its roles), signed by
 * `admins` (enough for the root threshold), with `policies` appended. Returns the new root.
 * @example await addMembers(server.url, [alice], [{ signer: dev, roles: ['developer'] }]);
 */
export async function addMembers(
  baseUrl: string,
  admins: readonly IdentitySigner[],
  members: readonly { signer: IdentitySigner; roles: Role[]; name?: string }[],
  now?: Date,
  policies: readonly Policy[] = [],
): Promise<TrustRoot> {
  const chain = await callApi<RootChain>(baseUrl, '/api/v1/root');
  const current = chain.json.roots.at(-1)?.root as TrustRoot;
  const root: TrustRoot = {
    ...current,
    version: current.version + 1,
    members: [
      ...current.members,
      ...members.map((member) => ({
        keyId: member.signer.keyId,
        publicKey: bytesToHex(member.signer.publicKey),
        name: member.name ?? `member ${member.signer.keyId.slice(0, 8)}`,
        roles: member.roles,
      })),
    ],
    policies: [...current.policies, ...policies],
  };
  const signatures = await Promise.all(admins.map((admin) => signRoot(root, admin)));
  const answer = await callApi(baseUrl, '/api/v1/root', {
    signer: admins[0] as IdentitySigner,
    body: { signed: { root, signatures } },
    ...(now === undefined ? {} : { now }),
  });
  if (answer.status !== 200) throw new Error(`root update refused: ${JSON.stringify(answer.json)}`);
  return root;
}
