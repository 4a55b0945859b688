/**
 * `npm run bench:server`: `/updates` throughput of the real Airlock server against a bare
 * `node:http` server answering a fixed JSON of the same size as a typical update answer, with the
 * same load generator in the same run (DESIGN §9: ratio ≥ 0.8, p99 ≤ 20 ms at 100 connections).
 *
 * Each server runs in its own child process, so the load generator (autocannon, in this process)
 * never shares their event loop:
 * - airlock: `startServer` (src/server) on a fresh data directory, with its default device rate
 *   limits and no access log (startServer's default); `--server cli` runs the built
 *   `airlock server start` instead (out/main/cli.js, which `npm run bench:server` builds), which
 *   also writes one JSON access-log line per request to stdout (drained here);
 * - bare: reads the body, then answers the fixed bytes.
 * State: 3 channels, the busy one with a release rolled out to 30 %. Devices: a tenth on the two
 * other channels; of the rest a third up to date, the others in the cohort (update available) or
 * outside it, 30/70 as the rollout has it. Each connection cycles through its own slice of
 * devices, so that every device asks about as often as a phone may (below the per-device limit)
 * and the bench measures the server, not 429s. Servers
 * are loaded in turn after a warm-up in which every device asks once (a running fleet: repeated
 * checks then hit the /updates answer memo; `--memo 0` measures the cold path); rounds alternate.
 * Besides req/s and latency, the server's own CPU time per request is printed: it stays meaningful
 * when other processes share the machine. Figures are printed, not asserted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon, { type Client, type Request } from 'autocannon';
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
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    connections: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '3' },
    devices: { type: 'string', default: '40000' },
    memo: { type: 'string' },
  },
});

const APP = 'com.example.bench';
const ROLLOUT = 30;
const HOST = '127.0.0.1';
const SELF = fileURLToPath(import.meta.url);
const CONNECTIONS = Number(values.connections);
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
 * Starts a server process and resolves with its URL once it prints "listening on URL"; its further
 * output (the access log) is drained and dropped. AIRLOCK_BENCH_NODE_ARGS (e.g. "--cpu-prof")
 * passes extra Node flags, for profiling.
 */
function startChild(args: readonly string[]): Promise<Child> {
  const extra = (process.env.AIRLOCK_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child: ChildProcess = spawn(process.execPath, [...extra, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const onLine = (line: string): void => {
      const match = /^listening on (\S+)/.exec(line);
      if (match === null) return;
      lines.off('line', onLine);
      lines.close();
      child.stdout?.resume();
      resolve({
        url: match[1] as string,
        cpuMs: () => processCpuMs(child.pid),
        stop: () =>
          new Promise<void>((done) => {
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      });
    };
    lines.on('line', onLine);
    child.once('exit', (code) => reject(new Error(`server process exited with ${code}`)));
  });
}

function startAirlock(dataDir: string): Promise<Child> {
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
  return startChild([
    CLI_PATH,
    'server',
    'start',
    '--data',
    dataDir,
    '--host',
    HOST,
    '--port',
    '0',
  ]);
}

// ---------------------------------------------------------------------------------------------
// The parent: set-up, load, report

interface Load {
  /** Server CPU time per answered request, µs (robust when other processes share the CPUs). */
  readonly cpuUs: number;
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  readonly non2xx: number;
}

const HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'user-agent': `CapacitorUpdater/8.51.14 (${APP}) android/14`,
};

/** Connection k cycles through its own slice of the bodies (see the module comment). */
/**
 * Loads `server` for `length.seconds`, or for `length.requests` requests (a warm-up that lets
 * every device ask once, as phones of a running fleet have).
 */
async function load(
  server: Child,
  bodies: readonly string[],
  length: { seconds: number } | { requests: number },
): Promise<Load> {
  const requests = bodies.map((body): Request => ({
    method: 'POST',
    path: '/updates',
    headers: HEADERS,
    body,
  }));
  const slice = Math.floor(requests.length / CONNECTIONS);
  let next = 0;
  const cpuBefore = server.cpuMs();
  const result = await autocannon({
    url: `${server.url}/updates`,
    connections: CONNECTIONS,
    ...('seconds' in length ? { duration: length.seconds } : { amount: length.requests }),
    requests: requests.slice(0, 1),
    setupClient: (client: Client) => {
      const k = next++ % CONNECTIONS;
      client.setRequests(requests.slice(k * slice, (k + 1) * slice));
    },
  });
  const cpuMs = server.cpuMs() - cpuBefore;
  return {
    cpuUs: (cpuMs * 1000) / Math.max(1, result.requests.total),
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
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
  readonly bodies: string[];
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
    return { dataDir, bodies, answerSize, mix, cleanup: () => tmp.cleanup() };
  } finally {
    await setupServer.close();
  }
}

function line(name: string, run: Load): string {
  return (
    `${name.padEnd(8)} ${run.rps.toFixed(0).padStart(7)} req/s   p50 ${String(run.p50).padStart(3)} ms` +
    `   p99 ${String(run.p99).padStart(3)} ms   server CPU ${run.cpuUs.toFixed(0)} µs/req` +
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
 * back, so a ratio compares like with like when the machine's load drifts), and the worst p99.
 */
function summarize(
  runs: { readonly airlock: readonly Load[]; readonly bare: readonly Load[] },
  print: (text: string) => void,
): void {
  const ratios = runs.airlock.map((a, i) => a.rps / (runs.bare[i] as Load).rps);
  const cpuRatios = runs.airlock.map((a, i) => (runs.bare[i] as Load).cpuUs / a.cpuUs);
  const ratio = median(ratios);
  const p99 = Math.max(...runs.airlock.map((run) => run.p99));
  const bareP99 = Math.max(...runs.bare.map((run) => run.p99));
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
    `p99 airlock ${p99} ms, bare ${bareP99} ms (worst round; target <= 20 ms: ${p99 <= 20 ? 'met' : 'NOT met'})`,
  );
}

async function main(): Promise<void> {
  const print = (text: string): boolean => process.stdout.write(`${text}\n`);
  const setup = await setUp(Number(values.devices));
  try {
    print(
      `server: ${values.server === 'cli' ? 'airlock server start (built CLI, access log on stdout)' : 'startServer in a child process (no access log)'}` +
        (values.memo === undefined ? '' : `, answer memo ${values.memo} entries`),
    );
    print(`devices: ${JSON.stringify(setup.mix)}; update answer ${setup.answerSize} B`);
    const airlock = await startAirlock(setup.dataDir);
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
      // Warm-up: every device asks once, then a few seconds more, on both servers.
      for (const server of [airlock, bare]) {
        await load(server, setup.bodies, { requests: setup.bodies.length });
        await load(server, setup.bodies, { seconds: Number(values.warmup) });
      }
      for (let round = 1; round <= Number(values.rounds); round++) {
        const a = await load(airlock, setup.bodies, { seconds });
        const b = await load(bare, setup.bodies, { seconds });
        runs.airlock.push(a);
        runs.bare.push(b);
        print(`round ${round}: ${CONNECTIONS} connections, ${seconds} s each`);
        print(`  ${line('airlock', a)}`);
        print(`  ${line('bare', b)}`);
      }
    } finally {
      await airlock.stop();
      await bare.stop();
    }
    summarize(runs, print);
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
