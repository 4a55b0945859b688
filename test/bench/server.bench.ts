/**
 * `npm run bench:server`: `/updates` throughput of the real Airlock server against a bare
 * `node:http` server answering a fixed JSON of the same size as a typical update answer, with the
 * same load generator in the same run (ARCHITECTURE.md targets: ratio ≥ 0.8, median p99 ≤ 20 ms
 * at 100 connections, no non-2xx, at 200,000 and 1,000,000 distinct devices).
 *
 * The load generator is wrk (C, epoll; `apt-get install wrk`, `brew install wrk`), one thread by
 * default: on a 2-core machine it leaves the other core to the server under test. A load generator
 * in JavaScript needs a core of its own for the same rate, and its event loop's pauses land in
 * every latency it reports.
 *
 * Three servers, each in its own child process:
 * - cli (the main figure): the built `airlock server start` (out/main/cli.js, which
 *   `npm run bench:server` builds) with its access log, one JSON line per request, on stdout
 *   redirected to a file, as it is deployed;
 * - library (a second row): `startServer` (src/server) in a child process, no access log;
 * - bare: reads the body, then answers the fixed bytes.
 * State: 3 channels, the busy one with a release rolled out to 30 %. Devices (`--devices N`,
 * default 200,000: more than any of the server's caches holds, so the bench sees the fleet the way
 * a real one, or an attacker sending random device ids, makes the server see it): a tenth on the
 * two other channels; of the rest a third up to date, the others in the cohort (update available)
 * or outside it, 30/70 as the rollout has it. The load cycles through all devices in turn
 * (wrk-updates.lua), so that every device asks about as often as a phone may (below the
 * per-device limit) and the bench measures the server, not 429s. Each server gets a warm-up; then
 * rounds load the three in turn, rotating which goes first, so that a drift of the machine's
 * speed favours none. Besides req/s and latency it prints the server's own CPU time per request
 * (meaningful when other processes share the machine) and its resident memory (RSS, and the peak
 * of the run). Figures are printed, not asserted.
 *
 * `--backend postgres --processes N` (issue 15) adds a deployment of N `airlock server start
 * --database …` processes on one throwaway PostgreSQL cluster (test/helpers/postgres.ts) behind
 * nginx (test/helpers/nginx.ts), its state made through the admin API as for SQLite; the rows are
 * then cli (one process on SQLite), postgres×N (through nginx), bare, and bare behind the same
 * nginx (what the balancer alone costs). The load is the SQLite set-up's device bodies for every
 * row. Database work per /updates is read from PostgreSQL's own counters (pg_stat_database, the
 * transactions of the bench database), net of what the processes' periodic re-read does when idle.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { rsaSignerFromPrivateKey } from '../../src/core/bundle';
import { bytesToHex } from '../../src/core/crypto';
import { initServer, startServer } from '../../src/server';
import { cohortBucket } from '../../src/core/channel';
import { generateTestRsaKey, makeTempDir } from '../helpers/bundle-fixtures';
import { CLI_PATH } from '../helpers/cli';
import {
  DeviceSim,
  ReleaseDesk,
  makeEncryptedBundle,
  seededDeviceIds,
} from '../helpers/device-sim';
import { startNginx, type NginxLb } from '../helpers/nginx';
import { startPostgres, type PgTestCluster } from '../helpers/postgres';
import { freePort, listeningUrl, testIdentity } from '../helpers/server';

const { values } = parseArgs({
  options: {
    serve: { type: 'string' },
    data: { type: 'string' },
    size: { type: 'string' },
    servers: { type: 'string', default: 'cli,library' },
    duration: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '4' },
    connections: { type: 'string', default: '100' },
    threads: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '5' },
    devices: { type: 'string', default: '200000' },
    backend: { type: 'string', default: 'sqlite' },
    processes: { type: 'string', default: '2' },
  },
});

const APP = 'com.example.bench';
const ROLLOUT = 30;
const HOST = '127.0.0.1';
const SELF = fileURLToPath(import.meta.url);
const CONNECTIONS = Number(values.connections);
const THREADS = Number(values.threads);
const WRK_SCRIPT = join(dirname(SELF), 'wrk-updates.lua');
/** USER_HZ: the unit of /proc/<pid>/stat times; 100 on every Linux this runs on. */
const CLOCK_TICKS = 100;

// ---------------------------------------------------------------------------------------------
// Child processes: the servers under load

/**
 * `--serve library`: startServer from the sources with its default device limits and no access
 * log.
 */
async function serveLibrary(dataDir: string): Promise<void> {
  const server = await startServer({
    dataDir,
    host: HOST,
    port: 0,
  });
  process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
  process.stdout.write(`${JSON.stringify({ event: 'listening', url: server.url })}\n`);
}

/** `--serve bare`: node:http answering `size` fixed bytes of JSON once the body is read. */
function serveBare(size: number): void {
  const empty = JSON.stringify({ version: '1.1.0', url: '' });
  const body = Buffer.from(
    JSON.stringify({ version: '1.1.0', url: 'x'.repeat(Math.max(0, size - empty.length)) }),
  );
  const server = createServer((req, res) => {
    req.on('data', () => undefined);
    req.on('end', () => {
      res.writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': body.length,
        'cache-control': 'no-store',
      });
      res.end(body);
    });
  });
  process.once('SIGTERM', () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
  server.listen(0, HOST, () => {
    const { port } = server.address() as AddressInfo;
    const url = `http://${HOST}:${port}`;
    process.stdout.write(`${JSON.stringify({ event: 'listening', url })}\n`);
  });
}

interface Child {
  readonly name: string;
  readonly url: string;
  readonly pid?: number | undefined;
  /** CPU time (user + system) the process used so far, in ms; NaN where /proc is missing. */
  cpuMs(): number;
  /** Resident memory now and its peak so far (VmRSS, VmHWM), in MiB; NaN where /proc is missing. */
  rssMiB(): { now: number; peak: number };
  stop(): Promise<void>;
}

/** VmRSS and VmHWM of a process from /proc/<pid>/status (Linux), in MiB. */
function processRssMiB(pid: number | undefined): { now: number; peak: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string): number =>
      Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) / 1024;
    return { now: field('VmRSS'), peak: field('VmHWM') };
  } catch {
    return { now: Number.NaN, peak: Number.NaN };
  }
}

/** utime + stime of a process from /proc/<pid>/stat (Linux), in ms. */
function processCpuMs(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of stat(5), counted after the ")" that ends the command name.
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

/**
 * Runs Node with `args`; AIRLOCK_BENCH_NODE_ARGS (e.g. "--cpu-prof") passes extra Node flags, for
 * profiling.
 */
function spawnNode(
  args: readonly string[],
  stdout: 'pipe' | number,
  env: NodeJS.ProcessEnv = {},
): ChildProcess {
  const extra = (process.env.AIRLOCK_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  return spawn(process.execPath, [...extra, ...args], {
    stdio: ['ignore', stdout, 'inherit'],
    env: { ...process.env, ...env },
  });
}

/** The running server `child`, listening at `url`; `stop` ends it with SIGTERM. */
function childAt(name: string, child: ChildProcess, url: string): Child {
  return {
    name,
    url,
    cpuMs: () => processCpuMs(child.pid),
    rssMiB: () => processRssMiB(child.pid),
    stop: () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null || child.signalCode !== null) {
          done();
          return;
        }
        child.once('exit', () => done());
        child.kill('SIGTERM');
      }),
  };
}

/**
 * Starts a server process and resolves once it prints its `{"event":"listening"}` line; anything
 * it prints after that is drained and dropped.
 */
function startChild(name: string, args: readonly string[]): Promise<Child> {
  const child = spawnNode(args, 'pipe');
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const onLine = (line: string): void => {
      const url = listeningUrl(line);
      if (url === null) return;
      lines.off('line', onLine);
      lines.close();
      child.stdout?.resume();
      resolve(childAt(name, child, url));
    };
    lines.on('line', onLine);
    child.once('exit', (code) => reject(new Error(`server process exited with ${code}`)));
  });
}

/**
 * Starts the built CLI's `airlock server start` with stdout sent to `logFile`, as a deployment
 * would (`airlock server start > access.log`), and resolves once the file holds its start line.
 */
async function startCliChild(
  args: readonly string[],
  logFile: string,
  env: NodeJS.ProcessEnv = {},
  name = 'cli',
): Promise<Child> {
  const out = openSync(logFile, 'w');
  const child = spawnNode([CLI_PATH, ...args], out, env);
  closeSync(out);
  for (let tries = 0; tries < 600; tries++) {
    const [first = ''] = readFileSync(logFile, 'utf8').split('\n');
    const url = listeningUrl(first);
    if (url !== null) return { ...childAt(name, child, url), pid: child.pid };
    if (child.exitCode !== null) throw new Error(`server process exited with ${child.exitCode}`);
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error('airlock server start did not say it listens within 30 s');
}

/** Request lines of the access log in `logFile` (its start and event lines are not counted). */
function accessLogLines(logFile: string): number {
  return readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((text) => text.startsWith('{') && text.includes('"method"')).length;
}

function startAirlock(name: string, dataDir: string, logFile: string): Promise<Child> {
  if (name === 'library') {
    return startChild(name, [...process.execArgv, SELF, '--serve', 'library', '--data', dataDir]);
  }
  if (!existsSync(CLI_PATH)) throw new Error(`${CLI_PATH} is missing: run "npm run build" first`);
  return startCliChild(
    ['server', 'start', '--data', dataDir, '--host', HOST, '--port', '0'],
    logFile,
  );
}

// ---------------------------------------------------------------------------------------------
// The parent: set-up, load, report

interface Load {
  readonly requests: number;
  /** Server CPU time per answered request, µs (robust when other processes share the CPUs). */
  readonly cpuUs: number;
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  readonly non2xx: number;
}

/** wrk's summary line (wrk-updates.lua `done`). */
interface WrkSummary {
  readonly requests: number;
  readonly durationUs: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly non2xx: number;
  readonly errors: number;
}

/** Stops early, with the way out, when wrk is not installed. */
function requireWrk(): void {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
  } catch (error) {
    // wrk --version prints its usage and exits 1; only a missing binary is an error.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(
        'bench:server needs wrk, the HTTP load generator: apt-get install wrk (Debian, Ubuntu) or brew install wrk (macOS)',
      );
    }
  }
}

/** Requests wrk counted per server and its loads, warm-ups included (for the access log check). */
const sent = new Map<Child, { requests: number; loads: number }>();

/** Loads `server` with wrk for `seconds`, cycling through the bodies in `bodiesFile`. */
async function load(server: Child, bodiesFile: string, seconds: number): Promise<Load> {
  const cpuBefore = server.cpuMs();
  const args = [
    `-t${THREADS}`,
    `-c${CONNECTIONS}`,
    `-d${seconds}s`,
    '-s',
    WRK_SCRIPT,
    `${server.url}/updates`,
    '--',
    bodiesFile,
    String(THREADS),
  ];
  const wrk = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  wrk.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const code = await new Promise<number | null>((resolve) => wrk.once('exit', resolve));
  const cpuMs = server.cpuMs() - cpuBefore;
  const summary = output.split('\n').find((text) => text.startsWith('{'));
  if (code !== 0 || summary === undefined) {
    throw new Error(`wrk exited with ${code}:\n${output}`);
  }
  const run = JSON.parse(summary) as WrkSummary;
  const before = sent.get(server) ?? { requests: 0, loads: 0 };
  sent.set(server, { requests: before.requests + run.requests, loads: before.loads + 1 });
  return {
    requests: run.requests,
    cpuUs: (cpuMs * 1000) / Math.max(1, run.requests),
    rps: run.requests / (run.durationUs / 1e6),
    p50: run.p50Us / 1000,
    p99: run.p99Us / 1000,
    errors: run.errors,
    non2xx: run.non2xx,
  };
}

/**
 * One measured load, after a second of load that is not measured: a server that sat idle while
 * the other was loaded has shrunk its heap and cooled down, for either server alike.
 */
async function measure(server: Child, bodiesFile: string, seconds: number): Promise<Load> {
  await load(server, bodiesFile, 1);
  return load(server, bodiesFile, seconds);
}

/** What the bench's devices are, in the proportions the load uses. */
type DeviceKind = 'up to date' | 'in cohort' | 'outside cohort' | 'beta' | 'canary';

/** Device `i`: a tenth on the two other channels; of the rest a third up to date. */
function kindOf(i: number, inCohort: boolean): DeviceKind {
  if (i % 10 === 9) return i % 20 === 9 ? 'beta' : 'canary';
  if (i % 3 === 0) return 'up to date';
  return inCohort ? 'in cohort' : 'outside cohort';
}

/** The answer a device of that kind must get (checked on a sample before the load). */
const EXPECTED: Record<DeviceKind, string> = {
  'up to date': 'no_new_version_available',
  'in cohort': 'update',
  'outside cohort': 'no_new_version_available',
  beta: 'update',
  canary: 'update',
};

interface Setup {
  readonly dataDir: string;
  /** Where `--server cli` writes its access log. */
  readonly logFile: string;
  /** The device bodies as templates and ids, for wrk-updates.lua (see its header). */
  readonly bodiesFile: string;
  readonly devices: number;
  readonly answerSize: number;
  readonly mix: Record<string, number>;
  cleanup(): void;
}

/**
 * Creates the server state through the admin API of an in-process server (two people, as always),
 * builds the device bodies, checks a sample of them against the answers they must get, and stops.
 */
async function setUp(devices: number, database?: pg.ClientConfig): Promise<Setup> {
  const tmp = makeTempDir('airlock-bench-server-');
  const dataDir = join(tmp.path, 'data');
  const alice = testIdentity('bench proposer'); // TEST-ONLY
  const bob = testIdentity('bench approver'); // TEST-ONLY
  const backend = database === undefined ? {} : { database };
  await initServer({
    dataDir,
    admins: [bytesToHex(alice.publicKey), bytesToHex(bob.publicKey)],
    ...backend,
  });
  const setupServer = await startServer({ dataDir, host: HOST, port: 0, ...backend });
  try {
    const key = generateTestRsaKey(); // TEST-ONLY bundle key
    const signer = rsaSignerFromPrivateKey(key.privateKey);
    const desk = new ReleaseDesk(setupServer.url, alice, bob);
    await desk.createApp(APP, key.publicKeyPem, [
      { name: 'production' },
      { name: 'beta', settings: { allowSelfSet: true } },
      { name: 'canary' },
    ]);
    const prod = await makeEncryptedBundle(tmp.path, signer, 'prod');
    const releaseId = await desk.release(APP, 'production', '1.1.0', prod, { percent: ROLLOUT });
    const beta = await makeEncryptedBundle(tmp.path, signer, 'beta');
    await desk.release(APP, 'beta', '1.2.0-beta.1', beta);
    await desk.release(APP, 'canary', '1.2.0', await makeEncryptedBundle(tmp.path, signer, 'c'));

    const mix: Record<string, number> = {};
    // wrk-updates.lua builds each body from its kind's template and the device id (a table of a
    // million body strings made LuaJIT's collector pause every load for 40 ms and more).
    const templates = new Map<string, number>();
    const ids: string[] = [];
    const kinds: number[] = [];
    let answerSize = 0;
    for (const [i, id] of seededDeviceIds('bench-server', devices).entries()) {
      const kind = kindOf(i, cohortBucket(id, releaseId) < ROLLOUT * 100);
      const device = new DeviceSim({
        baseUrl: setupServer.url,
        appId: APP,
        publicKeyPem: key.publicKeyPem,
        deviceId: id,
        ...(kind === 'beta' || kind === 'canary' ? { defaultChannel: kind } : {}),
      });
      if (kind === 'up to date') device.versionName = '1.1.0';
      mix[kind] = (mix[kind] ?? 0) + 1;
      const body = JSON.stringify(device.infoObject());
      const template = body.replace(id, '\t');
      if (id.length !== 36 || !template.includes('\t')) throw new Error(`unexpected body ${body}`);
      if (!templates.has(template)) templates.set(template, templates.size);
      ids.push(id);
      kinds.push(templates.get(template) as number);
      if (i % 100 !== 0 && i >= 20) continue;
      const check = await device.checkForUpdate();
      const answer = check.available ? 'update' : String(check.error);
      if (answer !== EXPECTED[kind]) {
        throw new Error(`bench device ${id} (${kind}) got ${answer}, not ${EXPECTED[kind]}`);
      }
      if (check.available && kind === 'in cohort') {
        answerSize = Math.max(answerSize, Buffer.byteLength(JSON.stringify(check.body)));
      }
    }
    const bodiesFile = join(tmp.path, 'bodies.txt');
    writeFileSync(
      bodiesFile,
      `${templates.size}\n${[...templates.keys()].join('\n')}\n${ids.join('')}\n` +
        `${kinds.map((kind) => String.fromCharCode(65 + kind)).join('')}\n`,
    );
    return {
      dataDir,
      bodiesFile,
      devices: ids.length,
      answerSize,
      mix,
      logFile: join(tmp.path, 'access.log'),
      cleanup: () => tmp.cleanup(),
    };
  } finally {
    await setupServer.close();
  }
}

function line(name: string, run: Load, rss: { now: number; peak: number }): string {
  return (
    `${name.padEnd(8)} ${run.rps.toFixed(0).padStart(7)} req/s   p50 ${run.p50.toFixed(1).padStart(5)} ms` +
    `   p99 ${run.p99.toFixed(1).padStart(5)} ms   server CPU ${run.cpuUs.toFixed(0)} µs/req` +
    `   RSS ${rss.now.toFixed(0)} MiB   errors ${run.errors}   non-2xx ${run.non2xx}`
  );
}

function mean(runs: readonly Load[], field: 'rps' | 'p99' | 'cpuUs'): number {
  return runs.reduce((sum, run) => sum + run[field], 0) / runs.length;
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** What a server did over the rounds. */
interface Runs {
  readonly server: Child;
  readonly loads: Load[];
  /** RSS after each round. */
  readonly rss: number[];
  /** Peak RSS (VmHWM) seen so far. */
  peak: number;
}

/**
 * The summary of one Airlock server against bare: medians over rounds of each round's ratio (each
 * round loads the servers back to back, so a ratio compares like with like when the machine's
 * load drifts) and of each round's p99, with the worst p99 beside it. Medians, because on a shared
 * machine one round in several is slowed for every server alike.
 */
function summarize(
  airlock: Runs,
  bare: Runs,
  print: (text: string) => void,
  against = 'bare',
): void {
  const ratios = airlock.loads.map((a, i) => a.rps / (bare.loads[i] as Load).rps);
  const ratio = median(ratios);
  const p99 = median(airlock.loads.map((run) => run.p99));
  const bareP99 = median(bare.loads.map((run) => run.p99));
  const worstP99 = Math.max(...airlock.loads.map((run) => run.p99));
  const non2xx = airlock.loads.reduce((sum, run) => sum + run.non2xx + run.errors, 0);
  const name = against === 'bare' ? airlock.server.name : `${airlock.server.name} vs ${against}`;
  print(
    `${name}: ${mean(airlock.loads, 'rps').toFixed(0)} req/s against ${against} ${mean(bare.loads, 'rps').toFixed(0)} (mean of rounds); ` +
      `CPU ${mean(airlock.loads, 'cpuUs').toFixed(0)} µs/req against ${mean(bare.loads, 'cpuUs').toFixed(0)}`,
  );
  print(
    `${name}: ratio ${ratio.toFixed(2)} (median of rounds ${ratios.map((r) => r.toFixed(2)).join(', ')}; ` +
      `target >= 0.80: ${ratio >= 0.8 ? 'met' : 'NOT met'})`,
  );
  print(
    `${name}: p99 ${p99.toFixed(1)} ms, bare ${bareP99.toFixed(1)} ms (median of rounds; target <= 20 ms: ` +
      `${p99 <= 20 ? 'met' : 'NOT met'}); worst round ${worstP99.toFixed(1)} ms`,
  );
  print(
    `${name}: non-2xx and errors ${non2xx} (target 0: ${non2xx === 0 ? 'met' : 'NOT met'}); ` +
      `RSS ${median(airlock.rss).toFixed(0)} MiB (median after a round), peak ${airlock.peak.toFixed(0)} MiB; ` +
      `bare ${median(bare.rss).toFixed(0)} MiB`,
  );
}

/** A PostgreSQL deployment under test: the cluster, the bench database and its set-up. */
interface PgDeployment {
  readonly cluster: PgTestCluster;
  readonly url: string;
  readonly name: string;
  readonly setup: Setup;
}

async function startPgDeployment(devices: number): Promise<PgDeployment> {
  const cluster = await startPostgres();
  try {
    const name = 'bench';
    const url = await cluster.createDatabase(name);
    const setup = await setUp(devices, cluster.clientConfig(url));
    return { cluster, url, name, setup };
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}

/**
 * `processes` × `airlock server start --database` (the built CLI, access log to a file each) on
 * fixed ports, behind nginx; one Child whose CPU and memory are the processes' sums.
 */
async function startPgServers(
  deployment: PgDeployment,
  processes: number,
): Promise<{ child: Child; lb: NginxLb }> {
  const ports: number[] = [];
  for (let i = 0; i < processes; i++) ports.push(await freePort());
  const lb = await startNginx({ upstreams: ports.map((port) => `http://${HOST}:${port}`) });
  const children: Child[] = [];
  try {
    for (const [i, port] of ports.entries()) {
      children.push(
        await startCliChild(
          [
            'server',
            'start',
            '--data',
            deployment.setup.dataDir,
            '--database',
            deployment.url,
            '--host',
            HOST,
            '--port',
            String(port),
            '--public-url',
            lb.url,
            '--trust-proxy',
            HOST,
          ],
          `${deployment.setup.logFile}.${i}`,
          deployment.cluster.env,
          `postgres${i}`,
        ),
      );
    }
  } catch (error) {
    for (const child of children) await child.stop();
    await lb.stop();
    throw error;
  }
  const sum = (pick: (child: Child) => number): number =>
    children.reduce((total, child) => total + pick(child), 0);
  return {
    lb,
    child: {
      name: `postgres×${processes}`,
      url: lb.url,
      cpuMs: () => sum((child) => child.cpuMs()),
      rssMiB: () => ({
        now: sum((child) => child.rssMiB().now),
        peak: sum((child) => child.rssMiB().peak),
      }),
      stop: async () => {
        for (const child of children) await child.stop();
        await lb.stop();
      },
    },
  };
}

/** nginx in front of `target` (the bare server): the balancer's own cost, measured alike. */
async function behindNginx(target: Child): Promise<Child> {
  const lb = await startNginx({ upstreams: [target.url] });
  return {
    name: 'bare+lb',
    url: lb.url,
    cpuMs: () => target.cpuMs(),
    rssMiB: () => target.rssMiB(),
    stop: () => lb.stop(),
  };
}

/**
 * Transactions PostgreSQL counted on the bench database. A backend reports its counters when it
 * goes idle, at the latest 10 s after its last transaction (PostgreSQL 15 `pgstat_report_stat`):
 * wait that long first for a figure that includes every transaction so far.
 */
async function pgTransactions(deployment: PgDeployment): Promise<number> {
  await sleep(11_000);
  const client = new pg.Client(deployment.cluster.clientConfig(deployment.url));
  await client.connect();
  try {
    const { rows } = await client.query<{ xacts: string }>(
      'SELECT xact_commit + xact_rollback AS xacts FROM pg_stat_database WHERE datname = $1',
      [deployment.name],
    );
    return Number(rows[0]?.xacts ?? Number.NaN);
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  const print = (text: string): boolean => process.stdout.write(`${text}\n`);
  requireWrk();
  const backend = values.backend ?? 'sqlite';
  if (backend !== 'sqlite' && backend !== 'postgres') {
    throw new Error(`--backend is sqlite or postgres, not ${backend}`);
  }
  const processes = Number(values.processes);
  if (!Number.isInteger(processes) || processes < 1 || processes > 8) {
    throw new Error('--processes is an integer from 1 to 8');
  }
  // With PostgreSQL: one SQLite process beside the deployment (the comparison).
  const names =
    backend === 'postgres' ? ['cli'] : (values.servers ?? 'cli,library').split(',').filter(Boolean);
  const setup = await setUp(Number(values.devices));
  const deployment =
    backend === 'postgres' ? await startPgDeployment(Number(values.devices)) : null;
  try {
    print(
      `servers: ${names.map((name) => (name === 'cli' ? 'cli = airlock server start (built CLI, access log on stdout to a file)' : 'library = startServer in a child process (no access log)')).join('; ')}; bare = node:http, fixed answer` +
        '',
    );
    print(
      `devices: ${setup.devices} ${JSON.stringify(setup.mix)}; update answer ${setup.answerSize} B`,
    );
    print(`load: wrk, ${THREADS} thread(s), ${CONNECTIONS} connections`);
    const servers: Child[] = [];
    for (const name of names) servers.push(await startAirlock(name, setup.dataDir, setup.logFile));
    const pgServers = deployment === null ? null : await startPgServers(deployment, processes);
    if (pgServers !== null) {
      servers.push(pgServers.child);
      print(
        `${pgServers.child.name} = ${processes} airlock server start --database (PostgreSQL ${deployment?.cluster.port}) behind nginx ${pgServers.lb.url}`,
      );
    }
    const bare = await startChild('bare', [
      ...process.execArgv,
      SELF,
      '--serve',
      'bare',
      '--size',
      String(setup.answerSize),
    ]);
    servers.push(bare);
    const bareLb = pgServers === null ? null : await behindNginx(bare);
    if (bareLb !== null) servers.push(bareLb);
    const queries = { start: 0, startedAt: 0, end: 0, endedAt: 0, idle: 0, idleAt: 0 };
    if (deployment !== null) {
      queries.start = await pgTransactions(deployment);
      queries.startedAt = performance.now();
    }
    const seconds = Number(values.duration);
    const runs = new Map<Child, Runs>(
      servers.map((server) => [server, { server, loads: [], rss: [], peak: 0 }]),
    );
    try {
      // Warm-up: until every device has asked at least once (at most 10 loads), on every server.
      for (const server of servers) {
        let asked = 0;
        for (let tries = 0; asked < setup.devices && tries < 10; tries++) {
          asked += (await load(server, setup.bodiesFile, Number(values.warmup))).requests;
        }
      }
      for (let round = 1; round <= Number(values.rounds); round++) {
        // Rotate which server goes first, so that a drift of the machine's speed favours none.
        const order = servers.map((_, i) => servers[(i + round - 1) % servers.length] as Child);
        print(`round ${round}: ${seconds} s each`);
        for (const server of order) {
          const measured = await measure(server, setup.bodiesFile, seconds);
          const entry = runs.get(server) as Runs;
          entry.loads.push(measured);
          const rss = server.rssMiB();
          entry.rss.push(rss.now);
          entry.peak = Math.max(entry.peak, rss.peak);
          print(`  ${line(server.name, measured, rss)}`);
        }
      }
      if (deployment !== null) {
        queries.end = await pgTransactions(deployment);
        queries.endedAt = performance.now();
        queries.idle = await pgTransactions(deployment);
        queries.idleAt = performance.now();
      }
    } finally {
      for (const server of [...servers].reverse()) await server.stop();
    }
    for (const server of servers) {
      if (server !== bare) summarize(runs.get(server) as Runs, runs.get(bare) as Runs, print);
    }
    if (pgServers !== null && bareLb !== null) {
      summarize(runs.get(pgServers.child) as Runs, runs.get(bareLb) as Runs, print, 'bare+lb');
      const requests = sent.get(pgServers.child)?.requests ?? 0;
      const during = queries.end - queries.start;
      // The processes' periodic re-read (and LISTEN's keep-alive) run whatever the load: their
      // rate when idle, over the time of the loads, is what /updates did not cause.
      const idleRate = (queries.idle - queries.end) / ((queries.idleAt - queries.endedAt) / 1000);
      const background = idleRate * ((queries.endedAt - queries.startedAt) / 1000);
      const net = Math.max(0, during - background);
      print(
        `${pgServers.child.name}: PostgreSQL transactions during its ${requests} requests (warm-ups included): ${during}, ` +
          `${(during / Math.max(1, requests)).toFixed(5)} per /updates; idle re-read ${idleRate.toFixed(1)}/s ` +
          `(${background.toFixed(0)} over the run) -> ${(net / Math.max(1, requests)).toFixed(5)} per /updates net (target 0)`,
      );
    }
    if (names.includes('cli')) {
      // wrk does not count the requests still in flight when a load ends (at most one per
      // connection), which the server did answer and log.
      const cli = servers.find((server) => server.name === 'cli') as Child;
      const counted = sent.get(cli) ?? { requests: 0, loads: 0 };
      print(
        `access log: ${accessLogLines(setup.logFile)} request lines; wrk counted ${counted.requests} ` +
          `requests, plus at most ${CONNECTIONS} in flight at the end of each of its ${counted.loads} loads`,
      );
    }
  } finally {
    setup.cleanup();
    deployment?.setup.cleanup();
    await deployment?.cluster.stop();
  }
}

if (values.serve === 'library') {
  await serveLibrary(values.data ?? '');
} else if (values.serve === 'bare') {
  serveBare(Number(values.size));
} else {
  await main();
}
