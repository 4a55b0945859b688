/**
 * `npm run bench:log`: release-log verification (ARCHITECTURE.md §9: a 100,000-statement mirror verifies
 * with progress; an incremental sync of 1,000 new statements ≤ 1 s), next to the raw node:crypto
 * Ed25519 verify rate of the same machine. Figures are printed, not asserted.
 *
 * 1. Build (`buildLog` of ./statement-log.ts): a real server data directory. App, bundle upload
 *    and the first release go through the signed admin API (a few more statements too, to show
 *    what that path costs per statement); the rest of the log is appended with the store's own
 *    apply path in process (real code: log row, approvals, checkpoint signed with the server key,
 *    channel head). Each statement is proposed by one TEST-ONLY identity and approved by another
 *    (the default policies), mostly rollouts, with a release of the uploaded bundle (increasing
 *    versions) and a pause + resume every 100. Two shortcuts, neither visible in what is served:
 *    the server data directory lives on tmpfs (/dev/shm, when present) so the store's per-apply
 *    fsync (synchronous = FULL) costs nothing; and during the build the store signs checkpoints
 *    through node:crypto with the server's own seed (Ed25519 is deterministic: the bytes are those
 *    the server's noble signer makes, checked), because noble's signing would dominate the build.
 *    Nothing is cached between runs.
 * 2. Full verification: a fresh console store (on the ordinary temp directory), `connectServer`,
 *    then `syncChannel` over loopback HTTP against `startServer`, with progress on stderr.
 * 3. Incremental: 1,000 new statements applied on the running server (its own store and signer),
 *    then `syncChannel` again.
 * 4. Raw: node:crypto `verify(null, msg, key, sig)` over statement-sized messages (and core's
 *    `ed25519Verify` on the same), to compare with.
 * Options: --statements N (100000), --incremental N (1000), --raw N (20000), --page-size N (1000).
 */
import { createPublicKey, sign, verify } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ed25519Verify } from '../../src/core/crypto';
import { statementSigningBytes } from '../../src/core/statement';
import { openStore } from '../../src/main/db/connection';
import { createServerClient, type ServerClient } from '../../src/main/server-client';
import { connectServer, syncChannel, type SyncReport } from '../../src/main/services/mirror';
import { startServer } from '../../src/server';
import { testIdentity } from '../helpers/server';
import {
  appendStatements,
  RATE_BLOCK,
  buildLog,
  LOG_OPTIONS,
  median,
  nodeSigningKey,
  print,
  progress,
  seconds,
  tmpfsDir,
  type BenchChannel,
} from './statement-log';

const { values } = parseArgs({
  options: {
    ...LOG_OPTIONS,
    incremental: { type: 'string', default: '1000' },
    raw: { type: 'string', default: '20000' },
  },
});

const APP = 'com.example.bench';
const CHANNEL = 'production';
const TOTAL = Number(values.statements);
const INCREMENTAL = Number(values.incremental);
const RAW = Number(values.raw);
const PAGE_SIZE = Number(values['page-size']);
/** Statements pushed through the signed admin API (after the first release), to time that path. */
const HTTP_SAMPLE = 20;
const alice = testIdentity('log bench proposer'); // TEST-ONLY
const bob = testIdentity('log bench approver'); // TEST-ONLY
const LOG: BenchChannel = { app: APP, channel: CHANNEL, proposer: alice, approver: bob };

const perSecond = (count: number, ms: number): number => (count * 1000) / ms;
const rate = (value: number): string => Math.round(value).toLocaleString('en-US');

/** The client, with the time spent in `getLogPage` (server + HTTP + JSON + schema) counted. */
function timedClient(client: ServerClient): { client: ServerClient; fetchMs: () => number } {
  let spent = 0;
  const timed: ServerClient = {
    ...client,
    getLogPage: async (app, channel, page) => {
      const start = performance.now();
      try {
        return await client.getLogPage(app, channel, page);
      } finally {
        spent += performance.now() - start;
      }
    },
  };
  return { client: timed, fetchMs: () => spent };
}

function assertClean(report: SyncReport, seq: number): void {
  if (report.findings.length > 0 || report.seq !== seq) {
    throw new Error(`sync ended at seq ${report.seq}: ${JSON.stringify(report.findings)}`);
  }
}

/**
 * Verifies/second over `count` valid signatures of `size`-byte messages (two keys, as in the log):
 * raw node:crypto `verify(null, msg, keyObject, sig)`, and core's `ed25519Verify` (which takes that
 * path for valid signatures). Three alternating rounds each after a warm-up (this machine's figures
 * vary from round to round); the median of each is reported with the range.
 */
function verifyRates(count: number, size: number): Record<'node' | 'core', number[]> {
  const keys = [alice, bob].map((identity) => {
    const signing = nodeSigningKey(identity.seed);
    return { signing, keyObject: createPublicKey(signing), raw: identity.publicKey };
  });
  const samples = Array.from({ length: count }, (_, index) => {
    const message = new Uint8Array(size);
    new DataView(message.buffer).setUint32(0, index);
    const key = keys[index % keys.length] as (typeof keys)[number];
    return { message, key, sig: new Uint8Array(sign(null, message, key.signing)) };
  });
  const time = (check: (sample: (typeof samples)[number]) => boolean): number => {
    const start = performance.now();
    for (const sample of samples) {
      if (!check(sample)) throw new Error('a valid signature did not verify');
    }
    return perSecond(count, performance.now() - start);
  };
  const node = (s: (typeof samples)[number]): boolean =>
    verify(null, s.message, s.key.keyObject, s.sig);
  const core = (s: (typeof samples)[number]): boolean => ed25519Verify(s.sig, s.message, s.key.raw);
  time(node);
  time(core);
  const rates: Record<'node' | 'core', number[]> = { node: [], core: [] };
  for (let round = 0; round < 3; round += 1) {
    rates.node.push(time(node));
    rates.core.push(time(core));
  }
  return rates;
}

async function main(): Promise<void> {
  const root = tmpfsDir('airlock-log-bench-');
  const work = mkdtempSync(join(tmpdir(), 'airlock-log-bench-'));
  try {
    print(`log bench: ${TOTAL} statements, incremental ${INCREMENTAL}, page size ${PAGE_SIZE}`);
    print(`server data on ${root}; console store on ${work}`);
    const built = await buildLog(LOG, { root, work, total: TOTAL, httpSample: HTTP_SAMPLE });
    print(
      `build: ${TOTAL} statements in ${seconds(built.buildMs)} ` +
        `(signed admin API: ${built.httpMsPerStatement.toFixed(1)} ms/statement, ` +
        `${seconds(built.httpMsPerStatement * TOTAL)} for all by that path)`,
    );
    // Applying must cost the same at any length of the log (the device view is updated in place).
    const applyRates = built.applyRates.map((block) => block.perSecond);
    print(
      `build: apply rate per ${RATE_BLOCK.toLocaleString('en')} statements (statements/s): ` +
        built.applyRates.map((block) => `≤${block.upTo} ${block.perSecond.toFixed(0)}`).join(', '),
    );
    if (applyRates.length >= 2) {
      print(
        `build: last block / first block = ${((applyRates.at(-1) ?? 0) / (applyRates[0] ?? 1)).toFixed(2)}` +
          ' (about 1: constant cost per apply)',
      );
    }

    const server = await startServer({ dataDir: built.dataDir, port: 0 });
    const db = openStore(join(work, 'console'));
    try {
      const { client, fetchMs } = timedClient(createServerClient({ baseUrl: server.url }));
      // Full verification from scratch.
      const fullStart = performance.now();
      const { server: record } = await connectServer(db, client);
      let nextMark = 5;
      const full = await syncChannel(db, client, record, APP, CHANNEL, {
        pageSize: PAGE_SIZE,
        onProgress: ({ verified, total }) => {
          const percent = (verified * 100) / Math.max(1, total);
          if (percent < nextMark && verified !== total) return;
          nextMark = Math.floor(percent / 5) * 5 + 5;
          const elapsed = performance.now() - fullStart;
          progress(
            `verify: ${verified}/${total} (${percent.toFixed(0)} %) ${seconds(elapsed)}, ` +
              `${rate(perSecond(verified, elapsed))} statements/s`,
          );
        },
      });
      const fullMs = performance.now() - fullStart;
      const fullFetchMs = fetchMs();
      assertClean(full, TOTAL);

      // Incremental: new statements on the running server, then a sync.
      const appendStart = performance.now();
      const head = await appendStatements(
        server.store,
        LOG,
        built.head,
        INCREMENTAL,
        built.bundle,
        bob,
      );
      const appendMs = performance.now() - appendStart;
      const incStart = performance.now();
      const incremental = await syncChannel(db, client, record, APP, CHANNEL, {
        pageSize: PAGE_SIZE,
      });
      const incMs = performance.now() - incStart;
      const incFetchMs = fetchMs() - fullFetchMs;
      assertClean(incremental, head.seq);
      if (incremental.added !== INCREMENTAL) throw new Error(`added ${incremental.added}`);

      // Raw Ed25519 on the same machine, messages the size of this log's signed statements.
      const sample = (await server.store.logPage(APP, CHANNEL, 1, 1))?.entries[0]?.statement;
      const size = sample === undefined ? 300 : statementSigningBytes(sample).byteLength;
      const rates = verifyRates(RAW, size);
      const nodeRate = median(rates.node);
      const range = (values: number[]): string =>
        `${rate(Math.min(...values))}–${rate(Math.max(...values))}`;
      // Per statement: its approval (one, default policy) and its checkpoint; one head checkpoint
      // per page on top.
      const sigsPerStatement = 2 + 1 / PAGE_SIZE;
      const ceiling = nodeRate / sigsPerStatement;
      const fullRate = perSecond(TOTAL, fullMs);

      print('');
      print(`build (untimed setup)         ${seconds(built.buildMs)}`);
      print(
        `full verification             ${seconds(fullMs)}  ${rate(fullRate)} statements/s ` +
          `(getLogPage ${seconds(fullFetchMs)}, verify + store ${seconds(fullMs - fullFetchMs)})`,
      );
      print(
        `incremental ${INCREMENTAL} statements    ${seconds(incMs)}  (target <= 1 s: ` +
          `${incMs <= 1000 ? 'met' : 'NOT met'}; getLogPage ${seconds(incFetchMs)}; ` +
          `appended in ${seconds(appendMs)})`,
      );
      print(
        `raw node:crypto verify        ${rate(nodeRate)} verifies/s (median of 3 x ${RAW} ` +
          `${size}-byte messages; rounds ${range(rates.node)})`,
      );
      print(
        `core ed25519Verify            ${rate(median(rates.core))} verifies/s ` +
          `(rounds ${range(rates.core)})`,
      );
      print(
        `signatures per statement      ${sigsPerStatement.toFixed(3)} ` +
          `(1 approval + 1 checkpoint + 1 head per ${PAGE_SIZE}-entry page)`,
      );
      print(
        `Ed25519 ceiling               ${rate(ceiling)} statements/s; full verification ran at ` +
          `${((fullRate / ceiling) * 100).toFixed(0)} % of it`,
      );
    } finally {
      db.close();
      await server.close();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
