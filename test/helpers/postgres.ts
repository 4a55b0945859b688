import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/**
 * A throwaway PostgreSQL cluster for tests (issue 15: "PostgreSQL from Debian's packages: a
 * throwaway cluster, `initdb` as the `postgres` user in a temporary folder, a free port").
 *
 * - `initdb` into a fresh temporary folder, superuser `airlock`, `scram-sha-256` authentication
 *   with a password random per start (rather than `trust`: the store's password path is the one
 *   production uses, and no other local user can reach the cluster while it runs).
 * - `postgres` in the foreground as our own child process, on 127.0.0.1 and a port the kernel
 *   picked (retried if another process takes it first), its Unix socket in the temporary folder,
 *   `fsync`, `synchronous_commit` and `full_page_writes` off (nothing here must survive a crash).
 * - As root it runs as the `postgres` user (PostgreSQL refuses root) through `spawn`'s `uid`/`gid`,
 *   not `runuser`: `runuser` forks and waits, so its PID is not the server's and a SIGKILL to it
 *   leaves the server running. As any other user it runs as that user.
 * - `stop()` asks for a fast shutdown (SIGINT: disconnects clients and exits, where SIGTERM's smart
 *   shutdown would wait for every client a test left open), SIGKILL after 10 s, and removes the
 *   folder.
 * - A test that never calls `stop()` leaves no server either: an `exit` handler sends an immediate
 *   shutdown (SIGQUIT), and a watchdog process, which notices our death through its stdin closing
 *   (also on SIGKILL, when no handler runs), stops the server and removes the folder.
 *
 * `url` carries no password, as `--database postgres://USER@HOST:PORT/DB` will; a child process
 * gets it through `env` (PGPASSWORD). In process, use `clientConfig(url)`: `pg` replaces a
 * `password` given beside a `connectionString` with the URL's empty one.
 *
 * The binaries: `AIRLOCK_PG_BINDIR` if set, else the newest `/usr/lib/postgresql/N/bin` (Debian's
 * `postgresql` package), else `initdb` and `postgres` on PATH.
 */
export interface PgTestCluster {
  /** `postgres://airlock@127.0.0.1:PORT/airlock`: no password (see `env`, `clientConfig`). */
  readonly url: string;
  readonly port: number;
  /** The postmaster's own PID (the first line of `postmaster.pid`). */
  readonly pid: number;
  /** The temporary folder: `data/` (the cluster) and the Unix socket. Removed by `stop()`. */
  readonly dir: string;
  readonly user: string;
  readonly password: string;
  /** For a child process given `url`: the password in PostgreSQL's standard variable. */
  readonly env: Readonly<Record<'PGPASSWORD', string>>;
  /** Host, port, user, password and database for `new pg.Client(…)` / `new pg.Pool(…)`. */
  clientConfig(url?: string): pg.ClientConfig;
  /** Creates an empty database (lower-case name, digits, `_`) and returns its URL. */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

const USER = 'airlock';
const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const STDERR_TAIL_CHARS = 16_384;
const PORT_ATTEMPTS = 3;
const DATABASE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

// The watchdog: CommonJS run with `node -e`. It reads the server's PID from stdin, one line per
// start attempt; when stdin ends without our SIGKILL first, its parent died without `stop()`.
const WATCHDOG = `
const { rmSync } = require('node:fs');
const dir = process.argv[1];
let pid = 0;
let input = '';
const alive = () => { try { return pid > 0 && (process.kill(pid, 0), true); } catch { return false; } };
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT']) process.on(signal, () => {});
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  input += chunk;
  const lines = input.split('\\n');
  input = lines.pop();
  for (const line of lines) if (/^\\d+$/.test(line)) pid = Number(line);
});
process.stdin.on('close', () => {
  if (alive()) process.kill(pid, 'SIGQUIT');
  const deadline = Date.now() + ${STOP_TIMEOUT_MS};
  const timer = setInterval(() => {
    if (alive() && Date.now() < deadline) return;
    clearInterval(timer);
    if (alive()) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
    process.exit(0);
  }, 50);
});
`;

/** Clusters started and not yet stopped, for the `exit` handler. */
const running = new Set<ChildProcess>();
let exitHandlerInstalled = false;

function installExitHandler(): void {
  if (exitHandlerInstalled) return;
  exitHandlerInstalled = true;
  // Synchronous only: ask for an immediate shutdown; the watchdog waits for it and removes the folder.
  process.on('exit', function stopLeftoverClusters() {
    for (const child of running) child.kill('SIGQUIT');
  });
}

/**
 * Starts a cluster with the database `airlock` and resolves once it accepts connections.
 * @example
 * const cluster = await startPostgres();
 * const client = new pg.Client(cluster.clientConfig());
 * … await cluster.stop();
 */
export async function startPostgres(): Promise<PgTestCluster> {
  const bin = postgresBinDir();
  const owner = clusterOwner();
  const dir = mkdtempSync(join(tmpdir(), 'airlock-pg-'));
  const watchdog = spawn(process.execPath, ['-e', WATCHDOG, dir], {
    stdio: ['pipe', 'ignore', 'ignore'],
    env: { PATH: process.env.PATH ?? '' },
  });
  watchdog.unref();
  const watchdogInput = watchdog.stdin as Socket;
  watchdogInput.unref();
  let child: ChildProcess | undefined;

  try {
    if (owner) chownSync(dir, owner.uid, owner.gid);
    const password = randomBytes(24).toString('base64url');
    await initCluster(bin, dir, owner, password);

    let started: { child: ChildProcess; port: number } | undefined;
    for (let attempt = 1; !started; attempt++) {
      const port = await freePort();
      const server = startServer(bin, dir, owner, port);
      child = server.child;
      running.add(server.child);
      installExitHandler();
      watchdogInput.write(`${server.child.pid}\n`);
      const outcome = await waitUntilReady(server, port, password);
      if (outcome.ready) {
        started = { child: server.child, port };
      } else if (outcome.portTaken && attempt < PORT_ATTEMPTS) {
        running.delete(server.child);
      } else {
        throw new Error(
          `PostgreSQL did not start on ${HOST}:${port}: ${outcome.reason}. Its stderr ends with:\n${server.stderrTail()}`,
        );
      }
    }

    const { port } = started;
    const pid = started.child.pid!;
    const { clientConfig, createDatabase } = attachPostgres({ port, user: USER, password });
    const url = await createDatabase(USER);

    let stopping: Promise<void> | undefined;
    const serverChild = started.child;
    return {
      url,
      port,
      pid,
      dir,
      user: USER,
      password,
      env: { PGPASSWORD: password },
      clientConfig,
      createDatabase,
      stop: () => (stopping ??= stopCluster(serverChild, watchdog, dir)),
    };
  } catch (error) {
    await stopCluster(child, watchdog, dir);
    throw error;
  }
}

/** How to reach a running cluster: what a vitest globalSetup hands to the test files. */
export interface PgClusterInfo {
  readonly port: number;
  readonly user: string;
  readonly password: string;
}

/** A handle on a cluster started elsewhere (another process): no `stop`, and one more helper. */
export interface PgAttached extends Pick<
  PgTestCluster,
  'port' | 'user' | 'password' | 'env' | 'clientConfig' | 'createDatabase'
> {
  /** Drops a database made by `createDatabase`, closing its connections first. */
  dropDatabase(name: string): Promise<void>;
}

/**
 * A handle on the cluster `info` names (e.g. the one test/support/postgres-global.ts started).
 * @example const db = await attachPostgres(inject('postgres')).createDatabase('t1');
 */
export function attachPostgres(info: PgClusterInfo): PgAttached {
  const { port, user, password } = info;
  const clientConfig = (url = `postgres://${user}@${HOST}:${port}/${user}`): pg.ClientConfig => ({
    host: HOST,
    port,
    user,
    password,
    database: decodeURIComponent(new URL(url).pathname.slice(1)),
  });
  const admin = async (sql: string): Promise<void> => {
    const client = new pg.Client(clientConfig(`postgres://${HOST}/postgres`));
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  const checked = (name: string): string => {
    if (!DATABASE_NAME.test(name)) throw new Error(`Not a plain database name: ${name}`);
    return name;
  };
  return {
    port,
    user,
    password,
    env: { PGPASSWORD: password },
    clientConfig,
    createDatabase: async (name) => {
      await admin(`CREATE DATABASE "${checked(name)}"`);
      return `postgres://${user}@${HOST}:${port}/${name}`;
    },
    dropDatabase: (name) => admin(`DROP DATABASE IF EXISTS "${checked(name)}" WITH (FORCE)`),
  };
}

function postgresBinDir(): string | undefined {
  const override = process.env.AIRLOCK_PG_BINDIR;
  if (override) return override;
  const debian = '/usr/lib/postgresql';
  if (!existsSync(debian)) return undefined;
  const newest = readdirSync(debian)
    .filter((version) => /^\d+$/.test(version) && existsSync(join(debian, version, 'bin/postgres')))
    .sort((a, b) => Number(b) - Number(a))[0];
  return newest === undefined ? undefined : join(debian, newest, 'bin');
}

function binary(bin: string | undefined, name: string): string {
  return bin === undefined ? name : join(bin, name);
}

/** As root, the `postgres` user's ids (PostgreSQL will not run as root); otherwise no change. */
function clusterOwner(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const id = (flag: string): number =>
      Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
    return { uid: id('-u'), gid: id('-g') };
  } catch (error) {
    throw new Error(
      "Running as root needs the 'postgres' user to run PostgreSQL as (Debian's postgresql package creates it).",
      { cause: error },
    );
  }
}

function spawnOptions(
  dir: string,
  owner: { uid: number; gid: number } | undefined,
  stdout: 'pipe' | 'ignore',
): SpawnOptions {
  return {
    cwd: dir,
    // LC_ALL=C: English messages, which `waitUntilReady` reads for a port already taken.
    env: { PATH: process.env.PATH ?? '', LC_ALL: 'C' },
    stdio: ['ignore', stdout, 'pipe'],
    ...owner,
  };
}

function missingBinary(error: unknown, name: string): Error {
  const enoent = (error as { code?: unknown }).code === 'ENOENT';
  return new Error(
    enoent
      ? `${name} not found: install PostgreSQL (apt-get install -y postgresql) or set AIRLOCK_PG_BINDIR.`
      : `${name} could not start: ${String(error)}`,
    { cause: error },
  );
}

async function initCluster(
  bin: string | undefined,
  dir: string,
  owner: { uid: number; gid: number } | undefined,
  password: string,
): Promise<void> {
  const pwfile = join(dir, 'pwfile');
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (owner) chownSync(pwfile, owner.uid, owner.gid);
  const initdb = binary(bin, 'initdb');
  const args = ['-D', join(dir, 'data'), '-U', USER, '--auth=scram-sha-256', `--pwfile=${pwfile}`];
  // C locale and UTF-8: the same collation on every machine; --no-sync: a throwaway cluster.
  args.push('--encoding=UTF8', '--locale=C', '--no-sync', '--no-instructions');
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(initdb, args, spawnOptions(dir, owner, 'pipe'));
      let output = '';
      const collect = (chunk: Buffer): void => {
        output = (output + chunk.toString('utf8')).slice(-STDERR_TAIL_CHARS);
      };
      child.stdout?.on('data', collect);
      child.stderr?.on('data', collect);
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(missingBinary(error, initdb));
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else reject(new Error(`initdb failed (${String(signal ?? code)}):\n${output}`));
      });
    });
  } finally {
    rmSync(pwfile, { force: true });
  }
}

function startServer(
  bin: string | undefined,
  dir: string,
  owner: { uid: number; gid: number } | undefined,
  port: number,
): { child: ChildProcess; stderrTail: () => string; failed: Promise<string> } {
  const postgres = binary(bin, 'postgres');
  const settings = ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off'];
  const args = ['-D', join(dir, 'data'), '-p', String(port), '-h', HOST, '-k', dir];
  for (const setting of settings) args.push('-c', setting);
  const child = spawn(postgres, args, spawnOptions(dir, owner, 'ignore'));
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_TAIL_CHARS);
  });
  // The server's output pipe and handle must not keep a test process alive that forgot `stop()`.
  child.unref();
  (child.stderr as Socket | null)?.unref();
  const failed = new Promise<string>((resolve) => {
    child.once('error', (error) => resolve(missingBinary(error, postgres).message));
    child.once('exit', (code, signal) => resolve(`it exited (${String(signal ?? code)})`));
  });
  return { child, stderrTail: () => stderr, failed };
}

/** Polls with a real client until one connects, the server exits, or 30 s pass. */
async function waitUntilReady(
  server: ReturnType<typeof startServer>,
  port: number,
  password: string,
): Promise<{ ready: true } | { ready: false; portTaken: boolean; reason: string }> {
  let exited: string | undefined;
  void server.failed.then((reason) => (exited = reason));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError = 'no attempt';
  while (Date.now() < deadline) {
    if (exited !== undefined) {
      const portTaken = /could not bind|Address already in use/.test(server.stderrTail());
      return { ready: false, portTaken, reason: exited };
    }
    const client = new pg.Client({
      host: HOST,
      port,
      user: USER,
      password,
      database: 'postgres',
      connectionTimeoutMillis: 2_000,
    });
    // A refused connection can also emit 'error' after connect() rejected; it is expected here.
    client.on('error', () => {});
    try {
      await client.connect();
      await client.end();
      return { ready: true };
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
      await client.end().catch(() => {});
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const reason = `no connection within ${READY_TIMEOUT_MS / 1000} s (last error: ${lastError})`;
  return { ready: false, portTaken: false, reason };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, HOST, () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

async function stopCluster(
  child: ChildProcess | undefined,
  watchdog: ChildProcess,
  dir: string,
): Promise<void> {
  // The watchdog first (our own child, so its PID cannot have been reused): from here on, stopping
  // is this function's job, and a watchdog that outlived the server could signal a reused PID.
  watchdog.kill('SIGKILL');
  if (child) {
    running.delete(child);
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
  }
  rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
}
