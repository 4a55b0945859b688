import { spawn, type ChildProcess } from 'node:child_process';
import {
  accessSync,
  constants,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A throwaway nginx load balancer for tests: Debian's `nginx` package in front of several Airlock
 * processes, as a scale-out deployment puts one (issue 15).
 *
 * - A config written into a fresh temporary folder: pid file, error and access logs and all five
 *   temporary paths inside it, nothing under /etc/nginx, /var/log/nginx or /var/lib/nginx.
 * - `nginx` in the foreground (`daemon off`) as our own child process, so its PID is the master's,
 *   on 127.0.0.1 and a port the kernel picked (retried if another process takes it first).
 * - The master leads its own process group (`detached`): nginx workers outlive a SIGKILLed master
 *   (reparented to init, still accepting on the port), so every SIGKILL goes to the whole group.
 * - `stop()` asks for a graceful shutdown (SIGQUIT: finish the requests in flight, close idle
 *   connections), SIGKILL after 5 s, and removes the folder.
 * - A test that never calls `stop()` leaves no nginx either: an `exit` handler SIGKILLs the group,
 *   and a watchdog process, which notices our death through its stdin closing (also on SIGKILL,
 *   when no handler runs), does the same and removes the folder.
 *
 * The access log names the upstream(s) each request went to (`upstream=$upstream_addr`: "A, B" when
 * nginx retried on B), which is how a test tells a retried request from one that went straight.
 */
export interface NginxLb {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly port: number;
  /** The master's own PID (also the process group of its workers). */
  readonly pid: number;
  /** The temporary folder: nginx.conf, nginx.pid, error.log, access.log, temp paths. */
  readonly dir: string;
  /** The config text written to `dir/nginx.conf`. */
  readonly config: string;
  /** The access log's contents so far (one line per finished request). */
  accessLog(): string;
  stop(): Promise<void>;
}

export interface NginxOptions {
  /** Upstream base URLs, e.g. `http://127.0.0.1:4001` (plain HTTP, no path). */
  readonly upstreams: readonly string[];
  /**
   * nginx's default round robin, `least_conn`, or `client_address` (`hash $remote_addr
   * consistent`: each client to one upstream, DEPLOYMENT.md "Balancing, and the automatic pause").
   */
  readonly balance?: 'round_robin' | 'least_conn' | 'client_address';
  /** `client_max_body_size` in MiB; default 512, the server's default bundle limit. */
  readonly clientMaxBodyMb?: number;
}

const NGINX = '/usr/sbin/nginx';
const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;
const TAIL_CHARS = 8_192;
const PORT_ATTEMPTS = 3;
const DEFAULT_CLIENT_MAX_BODY_MB = 512;

// The watchdog: CommonJS run with `node -e`. It reads the master's PID from stdin, one line per
// start attempt; when stdin ends without our SIGKILL first, its parent died without `stop()`.
// Nothing to shut down gracefully then: SIGKILL the group (master and workers) and remove the folder.
const WATCHDOG = `
const { rmSync } = require('node:fs');
const dir = process.argv[1];
let pid = 0;
let input = '';
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT']) process.on(signal, () => {});
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  input += chunk;
  const lines = input.split('\\n');
  input = lines.pop();
  for (const line of lines) if (/^\\d+$/.test(line)) pid = Number(line);
});
process.stdin.on('close', () => {
  if (pid > 0) try { process.kill(-pid, 'SIGKILL'); } catch {}
  rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  process.exit(0);
});
`;

/** Masters started and not yet stopped, for the `exit` handler. */
const running = new Set<ChildProcess>();
let exitHandlerInstalled = false;

function installExitHandler(): void {
  if (exitHandlerInstalled) return;
  exitHandlerInstalled = true;
  // Synchronous only: SIGKILL each group; the watchdog removes the folder.
  process.on('exit', function stopLeftoverNginx() {
    for (const child of running) if (child.pid !== undefined) killGroup(child.pid);
  });
}

/** The nginx binary of Debian's `nginx` package, or a clear error naming the package. */
export function nginxBinary(): string {
  try {
    accessSync(NGINX, constants.X_OK);
    return NGINX;
  } catch (error) {
    throw new Error(
      `${NGINX} not found or not executable: install Debian's nginx package (apt-get install -y nginx).`,
      { cause: error },
    );
  }
}

/**
 * Starts nginx in front of `upstreams` and resolves once its port accepts connections.
 * @example
 * const lb = await startNginx({ upstreams: [a.url, b.url] });
 * await fetch(`${lb.url}/api/v1/health`);
 * … await lb.stop();
 */
export async function startNginx(options: NginxOptions): Promise<NginxLb> {
  const binary = nginxBinary();
  const upstreams = options.upstreams.map(upstreamAddress);
  if (upstreams.length === 0) throw new Error('startNginx needs at least one upstream.');
  const dir = mkdtempSync(join(tmpdir(), 'airlock-nginx-'));
  const watchdog = spawn(process.execPath, ['-e', WATCHDOG, dir], {
    stdio: ['pipe', 'ignore', 'ignore'],
    env: { PATH: process.env.PATH ?? '' },
  });
  watchdog.unref();
  const watchdogInput = watchdog.stdin as Socket;
  watchdogInput.unref();
  let child: ChildProcess | undefined;

  try {
    let started: { child: ChildProcess; port: number; config: string } | undefined;
    for (let attempt = 1; !started; attempt++) {
      const port = await freePort();
      const config = nginxConfig(dir, port, upstreams, options);
      writeFileSync(join(dir, 'nginx.conf'), config);
      // A fresh error log per attempt, so a port-taken message is this attempt's.
      writeFileSync(join(dir, 'error.log'), '');
      const server = startServer(binary, dir);
      child = server.child;
      running.add(server.child);
      installExitHandler();
      watchdogInput.write(`${server.child.pid}\n`);
      const outcome = await waitUntilReady(server, dir, port);
      if (outcome.ready) {
        started = { child: server.child, port, config };
      } else if (outcome.portTaken && attempt < PORT_ATTEMPTS) {
        running.delete(server.child);
      } else {
        throw new Error(
          `nginx did not start on ${HOST}:${port}: ${outcome.reason}. error.log ends with:\n` +
            `${tail(readText(join(dir, 'error.log')))}\nIts stderr ends with:\n${server.stderrTail()}`,
        );
      }
    }

    const { port, config } = started;
    const master = started.child;
    let stopping: Promise<void> | undefined;
    return {
      url: `http://${HOST}:${port}`,
      port,
      pid: master.pid!,
      dir,
      config,
      accessLog: () => readText(join(dir, 'access.log')),
      stop: () => (stopping ??= stopNginx(master, watchdog, dir)),
    };
  } catch (error) {
    await stopNginx(child, watchdog, dir);
    throw error;
  }
}

/** `http://127.0.0.1:4001` → `127.0.0.1:4001`, the form of an `upstream` block's `server`. */
function upstreamAddress(upstream: string): string {
  const url = new URL(upstream);
  if (url.protocol !== 'http:' || (url.pathname !== '/' && url.pathname !== '') || url.search) {
    throw new Error(`An upstream is a plain http://HOST:PORT base URL, not ${upstream}`);
  }
  return `${url.hostname.includes(':') ? `[${url.hostname.replace(/^\[|\]$/g, '')}]` : url.hostname}:${url.port || '80'}`;
}

function nginxConfig(
  dir: string,
  port: number,
  upstreams: readonly string[],
  options: NginxOptions,
): string {
  const path = (name: string): string => join(dir, name);
  const maxBodyMb = options.clientMaxBodyMb ?? DEFAULT_CLIENT_MAX_BODY_MB;
  if (!Number.isInteger(maxBodyMb) || maxBodyMb < 0) {
    throw new Error(`clientMaxBodyMb must be a whole number of MiB, not ${maxBodyMb}`);
  }
  return [
    // As root, nginx's workers switch to `nobody` (Debian's build has no --user), who cannot enter
    // the 0700 folder mkdtemp made, so they could not write request bodies to the temp paths.
    // `user root` rather than a chmod 755: the folder stays private to us, everything in it is ours
    // (rmSync never meets another user's file), and no account name (nobody, www-data) is assumed.
    // Not as any other user: nginx ignores `user` then, with a warning, and runs as that user.
    ...(process.getuid?.() === 0 ? ['user root;'] : []),
    'daemon off;',
    'master_process on;',
    'worker_processes 1;',
    `pid ${path('nginx.pid')};`,
    `error_log ${path('error.log')} warn;`,
    '',
    'events {',
    '  worker_connections 4096;',
    '}',
    '',
    'http {',
    '  log_format airlock \'$remote_addr [$time_iso8601] "$request" $status $body_bytes_sent \'',
    "                     'upstream=$upstream_addr upstream_status=$upstream_status '",
    "                     'request_time=$request_time';",
    `  access_log ${path('access.log')} airlock;`,
    `  client_body_temp_path ${path('client_body_temp')};`,
    `  proxy_temp_path ${path('proxy_temp')};`,
    `  fastcgi_temp_path ${path('fastcgi_temp')};`,
    `  uwsgi_temp_path ${path('uwsgi_temp')};`,
    `  scgi_temp_path ${path('scgi_temp')};`,
    '',
    '  upstream airlock {',
    ...(options.balance === 'least_conn' ? ['    least_conn;'] : []),
    ...(options.balance === 'client_address' ? ['    hash $remote_addr consistent;'] : []),
    ...upstreams.map((address) => `    server ${address};`),
    '    keepalive 64;',
    // Below the server's 5 s keepAliveTimeout (src/server/index.ts): nginx must drop an idle
    // connection before Node does, or it may send a request down a socket Node is closing, and a
    // POST that fails that way is answered 502 (never retried, see proxy_next_upstream).
    '    keepalive_timeout 4s;',
    '  }',
    '',
    '  server {',
    `    listen ${HOST}:${port};`,
    '    location / {',
    '      proxy_pass http://airlock;',
    '      proxy_http_version 1.1;',
    '      proxy_set_header Connection "";',
    '      proxy_set_header Host $host;',
    '      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    '      proxy_set_header X-Forwarded-Proto $scheme;',
    '      proxy_request_buffering off;',
    '      proxy_buffering off;',
    `      client_max_body_size ${maxBodyMb}m;`,
    // Retry on the next upstream only when a connection fails or times out, and (without
    // `non_idempotent`, nginx's default) never a POST, LOCK or PATCH already sent: a push that
    // reached one process must not be replayed to another. No http_502/503 either: an upstream's
    // own 5xx answer is its answer. proxy_request_buffering off does not make this moot: a body
    // that came in with the headers is still in memory, and with `non_idempotent` nginx 1.22
    // replays such a POST to the next upstream (tried; nginx-helper.test.ts fails then).
    '      proxy_next_upstream error timeout;',
    '    }',
    '  }',
    '}',
    '',
  ].join('\n');
}

function startServer(
  binary: string,
  dir: string,
): { child: ChildProcess; stderrTail: () => string; failed: Promise<string> } {
  // `-e`: the error log before the config is read (nginx ≥ 1.19.5; Debian bookworm has 1.22.1,
  // whose build default is stderr). `-p`: the prefix for any relative path.
  const args = ['-c', join(dir, 'nginx.conf'), '-p', `${dir}/`, '-e', join(dir, 'error.log')];
  const child = spawn(binary, args, {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '' },
    stdio: ['ignore', 'ignore', 'pipe'],
    // Its own process group (see the module comment); also out of reach of a terminal's Ctrl-C,
    // which the exit handler and the watchdog cover.
    detached: true,
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = tail(stderr + chunk.toString('utf8'));
  });
  // nginx's output pipe and handle must not keep a test process alive that forgot `stop()`.
  child.unref();
  (child.stderr as Socket | null)?.unref();
  const failed = new Promise<string>((resolve) => {
    child.once('error', (error) => resolve(`it could not start (${String(error)})`));
    child.once('exit', (code, signal) => resolve(`it exited (${String(signal ?? code)})`));
  });
  return { child, stderrTail: () => stderr, failed };
}

/**
 * Polls until nginx has written its pid file (after binding its port) and the port accepts a TCP
 * connection, nginx exits, or 15 s pass. The pid file first: a connection alone could reach
 * whichever process took the port before nginx could.
 */
async function waitUntilReady(
  server: ReturnType<typeof startServer>,
  dir: string,
  port: number,
): Promise<{ ready: true } | { ready: false; portTaken: boolean; reason: string }> {
  let exited: string | undefined;
  void server.failed.then((reason) => (exited = reason));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited !== undefined) {
      const output = readText(join(dir, 'error.log')) + server.stderrTail();
      return { ready: false, portTaken: /Address already in use/.test(output), reason: exited };
    }
    const pidFile = readText(join(dir, 'nginx.pid')).trim();
    if (pidFile === String(server.child.pid) && (await accepts(port))) return { ready: true };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (server.child.pid !== undefined) killGroup(server.child.pid);
  const reason = `no connection within ${READY_TIMEOUT_MS / 1000} s`;
  return { ready: false, portTaken: false, reason };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
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

function readText(file: string): string {
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}

function tail(text: string): string {
  return text.slice(-TAIL_CHARS);
}

/** SIGKILL to the master's process group: the master and every worker, even orphaned ones. */
function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // ESRCH: the group is gone already.
  }
}

async function stopNginx(
  child: ChildProcess | undefined,
  watchdog: ChildProcess,
  dir: string,
): Promise<void> {
  // The watchdog first (our own child, so its PID cannot have been reused): from here on, stopping
  // is this function's job, and a watchdog that outlived nginx could signal a reused PID.
  watchdog.kill('SIGKILL');
  if (child?.pid !== undefined) {
    running.delete(child);
    const pid = child.pid;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGQUIT');
      const timer = setTimeout(() => killGroup(pid), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    // A master that exits gracefully has waited for its workers; one that died otherwise may have
    // left them running. The group lives on while any of them does, so its id is still ours.
    killGroup(pid);
  }
  rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
}
