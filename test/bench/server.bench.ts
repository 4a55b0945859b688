/**
 * `npm run bench:server`: `/updates` throughput of the real Airlock server against a bare
 * `node:http` server answering a fixed JSON of the same size as a typical update answer, with the
 * same load generator in the same run (DESIGN §9: ratio ≥ 0.8, p99 ≤ 20 ms at 100 connections).
 *
 * The load generator is wrk (C, epoll; `apt-get install wrk`, `brew install wrk`), one thread by
 * default: on a 2-core machine it leaves the other core to the server under test. A load generator
 * in JavaScript (autocannon, used up to session 3) needs a core of its own for the same rate, and
 * its event loop's pauses land in every latency it reports: it measured the bare server itself
 * at p99 22–24 ms here, wrk at about 10 ms.
 *
 * Each server runs in its own child process:
 * - airlock: `startServer` (src/server) on a fresh data directory, with its default device rate
 *   limits and no access log (startServer's default); `--server cli` runs the built
 *   `airlock server start` instead (out/main/cli.js, which `npm run bench:server` builds), which
 *   also writes one JSON access-log line per request to stdout (drained here);
 * - bare: reads the body, then answers the fixed bytes.
 * State: 3 channels, the busy one with a release rolled out to 30 %. Devices: a tenth on the two
 * other channels; of the rest a third up to date, the others in the cohort (update available) or
 * outside it, 30/70 as the rollout has it. The load cycles through all devices in turn
 * (wrk-updates.lua), so that every device asks about as often as a phone may (below the
 * per-device limit) and the bench measures the server, not 429s. Servers are loaded in turn after
 * a warm-up in which every device asks at least once (a running fleet: repeated checks then hit
 * the /updates answer memo; `--memo 0` measures the cold path); rounds alternate which goes first
 * (ABBA). Besides req/s
 * and latency, the server's own CPU time per request is printed: it stays meaningful when other
 * processes share the machine. Figures are printed, not asserted.
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
import { rsaSignerFromPrivateKey } from '../../src/core/bundle';
import { bytesToHex } from '../../src/core/crypto';
import { initServer, startServer } from '../../src/server';
import { cohortBucket } from '../../src/server/device/cohort';
import { generateTestRsaKey, makeTempDir } from '../helpers/bundle-fixtures';
import { CLI_PATH } from '../helpers/cli';
import {
  DeviceSim,
  ReleaseDesk,
  makeEncryptedBundle,
  seededDeviceIds,
} from '../helpers/device-sim';
import { testIdentity } from '../helpers/server';

const { values } = parseArgs({
  options: {
    serve: { type: 'string' },
    data: { type: 'string' },
    size: { type: 'string' },
    server: { type: 'string', default: 'library' },
    duration: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '4' },
    connections: { type: 'string', default: '100' },
    threads: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '5' },
    devices: { type: 'string', default: '40000' },
    memo: { type: 'string' },
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
 * log; `--memo N` sets the size of the /updates answer memo (0: off, to measure the cold path).
 */
async function serveLibrary(dataDir: string, memo: string | undefined): Promise<void> {
  const server = await startServer({
    dataDir,
    host: HOST,
    port: 0,
    ...(memo === undefined ? {} : { deviceLimits: { answerMemoEntries: Number(memo) } }),
  });
  process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
  process.stdout.write(`listening on ${server.url}\n`);
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
    process.stdout.write(`listening on http://${HOST}:${port}\n`);
  });
}

interface Child {
  readonly url: string;
  /** CPU time (user + system) the process used so far, in ms; NaN where /proc is missing. */
  cpuMs(): number;
  stop(): Promise<void>;
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
function spawnNode(args: readonly string[], stdout: 'pipe' | number): ChildProcess {
  const extra = (process.env.AIRLOCK_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  return spawn(process.execPath, [...extra, ...args], { stdio: ['ignore', stdout, 'inherit'] });
}

/** The running server `child`, listening at `url`; `stop` ends it with SIGTERM. */
function childAt(child: ChildProcess, url: string): Child {
  return {
    url,
    cpuMs: () => processCpuMs(child.pid),
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
 * Starts a server process and resolves once it prints "listening on URL"; anything it prints
 * after that is drained and dropped.
 */
function startChild(args: readonly string[]): Promise<Child> {
  const child = spawnNode(args, 'pipe');
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const onLine = (line: string): void => {
      const match = /^listening on (\S+)/.exec(line);
      if (match === null) return;
      lines.off('line', onLine);
      lines.close();
      child.stdout?.resume();
      resolve(childAt(child, match[1] as string));
    };
    lines.on('line', onLine);
    child.once('exit', (code) => reject(new Error(`server process exited with ${code}`)));
  });
}

/**
 * Starts the built CLI's `airlock server start` with stdout sent to `logFile`, as a deployment
 * would (`airlock server start > access.log`), and resolves once the file says "listening on URL".
 */
async function startCliChild(args: readonly string[], logFile: string): Promise<Child> {
  const out = openSync(logFile, 'w');
  const child = spawnNode([CLI_PATH, ...args], out);
  closeSync(out);
  for (let tries = 0; tries < 600; tries++) {
    const match = /^listening on (\S+)$/m.exec(readFileSync(logFile, 'utf8'));
    if (match !== null) return childAt(child, match[1] as string);
    if (child.exitCode !== null) throw new Error(`server process exited with ${child.exitCode}`);
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error('airlock server start did not say "listening on" within 30 s');
}

/** Lines of the access log in `logFile` (JSON lines; "listening on" is not one). */
function accessLogLines(logFile: string): number {
  return readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((text) => text.startsWith('{')).length;
}

function startAirlock(dataDir: string, logFile: string): Promise<Child> {
  if (values.server === 'library') {
    const memo = values.memo === undefined ? [] : ['--memo', values.memo];
    return startChild([
      ...process.execArgv,
      SELF,
      '--serve',
      'library',
      '--data',
      dataDir,
      ...memo,
    ]);
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
  /** The device bodies, one JSON per line, for wrk-updates.lua. */
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
async function setUp(devices: number): Promise<Setup> {
  const tmp = makeTempDir('airlock-bench-server-');
  const dataDir = join(tmp.path, 'data');
  const alice = testIdentity('bench proposer'); // TEST-ONLY
  const bob = testIdentity('bench approver'); // TEST-ONLY
  await initServer({ dataDir, admins: [bytesToHex(alice.publicKey), bytesToHex(bob.publicKey)] });
  const setupServer = await startServer({ dataDir, host: HOST, port: 0 });
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
    const bodies: string[] = [];
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
      bodies.push(JSON.stringify(device.infoObject()));
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
    const bodiesFile = join(tmp.path, 'bodies.jsonl');
    writeFileSync(bodiesFile, `${bodies.join('\n')}\n`);
    return {
      dataDir,
      bodiesFile,
      devices: bodies.length,
      answerSize,
      mix,
      logFile: join(tmp.path, 'access.log'),
      cleanup: () => tmp.cleanup(),
    };
  } finally {
    await setupServer.close();
  }
}

function line(name: string, run: Load): string {
  return (
    `${name.padEnd(8)} ${run.rps.toFixed(0).padStart(7)} req/s   p50 ${run.p50.toFixed(1).padStart(5)} ms` +
    `   p99 ${run.p99.toFixed(1).padStart(5)} ms   server CPU ${run.cpuUs.toFixed(0)} µs/req` +
    `   errors ${run.errors}   non-2xx ${run.non2xx}`
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

/**
 * The summary: medians over rounds of each round's ratio (each round loads both servers back to
 * back, so a ratio compares like with like when the machine's load drifts) and of each round's
 * p99, with the worst p99 beside it. Medians, because on a shared machine one round in several
 * is slowed for both servers alike (the bare server's p99 too has crossed 20 ms in such a round).
 */
function summarize(
  runs: { readonly airlock: readonly Load[]; readonly bare: readonly Load[] },
  print: (text: string) => void,
): void {
  const ratios = runs.airlock.map((a, i) => a.rps / (runs.bare[i] as Load).rps);
  const cpuRatios = runs.airlock.map((a, i) => (runs.bare[i] as Load).cpuUs / a.cpuUs);
  const ratio = median(ratios);
  const p99 = median(runs.airlock.map((run) => run.p99));
  const bareP99 = median(runs.bare.map((run) => run.p99));
  const worstP99 = Math.max(...runs.airlock.map((run) => run.p99));
  const bareWorstP99 = Math.max(...runs.bare.map((run) => run.p99));
  print(
    `airlock ${mean(runs.airlock, 'rps').toFixed(0)} req/s, bare ${mean(runs.bare, 'rps').toFixed(0)} req/s (mean of rounds)`,
  );
  print(
    `server CPU per request: airlock ${mean(runs.airlock, 'cpuUs').toFixed(0)} µs, bare ` +
      `${mean(runs.bare, 'cpuUs').toFixed(0)} µs (bare/airlock, median of rounds: ${median(cpuRatios).toFixed(2)})`,
  );
  print(
    `ratio ${ratio.toFixed(2)} (median of rounds ${ratios.map((r) => r.toFixed(2)).join(', ')}; target >= 0.80: ${ratio >= 0.8 ? 'met' : 'NOT met'})`,
  );
  print(
    `p99 airlock ${p99.toFixed(1)} ms, bare ${bareP99.toFixed(1)} ms (median of rounds; target <= 20 ms: ` +
      `${p99 <= 20 ? 'met' : 'NOT met'}); worst round airlock ${worstP99.toFixed(1)} ms, bare ${bareWorstP99.toFixed(1)} ms`,
  );
}

async function main(): Promise<void> {
  const print = (text: string): boolean => process.stdout.write(`${text}\n`);
  requireWrk();
  const setup = await setUp(Number(values.devices));
  try {
    print(
      `server: ${values.server === 'cli' ? 'airlock server start (built CLI, access log on stdout to a file)' : 'startServer in a child process (no access log)'}` +
        (values.memo === undefined ? '' : `, answer memo ${values.memo} entries`),
    );
    print(`devices: ${JSON.stringify(setup.mix)}; update answer ${setup.answerSize} B`);
    print(`load: wrk, ${THREADS} thread(s), ${CONNECTIONS} connections`);
    const airlock = await startAirlock(setup.dataDir, setup.logFile);
    const bare = await startChild([
      ...process.execArgv,
      SELF,
      '--serve',
      'bare',
      '--size',
      String(setup.answerSize),
    ]);
    const seconds = Number(values.duration);
    const runs: { airlock: Load[]; bare: Load[] } = { airlock: [], bare: [] };
    try {
      // Warm-up: until every device has asked at least once (at most 10 tries), on both servers.
      for (const server of [airlock, bare]) {
        let asked = 0;
        for (let tries = 0; asked < setup.devices && tries < 10; tries++) {
          asked += (await load(server, setup.bodiesFile, Number(values.warmup))).requests;
        }
      }
      for (let round = 1; round <= Number(values.rounds); round++) {
        // Alternate which server goes first (ABBA…), so that a drift of the machine's speed
        // during the run does not favour either.
        const airlockFirst = round % 2 === 1;
        const b0 = airlockFirst ? null : await measure(bare, setup.bodiesFile, seconds);
        const a = await measure(airlock, setup.bodiesFile, seconds);
        const b = b0 ?? (await measure(bare, setup.bodiesFile, seconds));
        runs.airlock.push(a);
        runs.bare.push(b);
        print(`round ${round}: ${seconds} s each`);
        print(`  ${line('airlock', a)}`);
        print(`  ${line('bare', b)}`);
      }
    } finally {
      await airlock.stop();
      await bare.stop();
    }
    summarize(runs, print);
    if (values.server === 'cli') {
      // wrk does not count the requests still in flight when a load ends (at most one per
      // connection), which the server did answer and log.
      const counted = sent.get(airlock) ?? { requests: 0, loads: 0 };
      print(
        `access log: ${accessLogLines(setup.logFile)} JSON lines; wrk counted ${counted.requests} ` +
          `requests, plus at most ${CONNECTIONS} in flight at the end of each of its ${counted.loads} loads`,
      );
    }
  } finally {
    setup.cleanup();
  }
}

if (values.serve === 'library') {
  await serveLibrary(values.data ?? '', values.memo);
} else if (values.serve === 'bare') {
  serveBare(Number(values.size));
} else {
  await main();
}
