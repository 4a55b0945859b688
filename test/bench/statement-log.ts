/**
 * TEST-ONLY. The long release log the benchmarks verify and page through (`bench:log`,
 * `bench:history`): a real server data directory whose channel holds N statements.
 *
 * App, bundle upload and the first release go through the signed admin API (and, when asked, a
 * timed sample of rollouts, to show what that path costs per statement); the rest of the log is
 * appended with the server store's own apply path in process (real code: log row, approvals,
 * checkpoint signed with the server key, channel head). Each statement is proposed by one TEST-ONLY
 * identity and approved by another (the default policies): mostly rollouts, with a release of the
 * uploaded bundle (increasing versions) and a pause + resume every 100. During the build the store
 * signs checkpoints through node:crypto with the server's own seed (Ed25519 is deterministic: the
 * bytes are those the server's noble signer makes, checked), because noble's signing would dominate
 * the build; nothing of that shortcut is visible in what is served.
 */
import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rsaSignerFromPrivateKey } from '../../src/core/bundle';
import { base64ToBytes } from '../../src/core/crypto';
import { createApproval, statementId, type IdentitySigner } from '../../src/core/statement';
import { initServer, startServer } from '../../src/server';
import { dataDirPaths } from '../../src/server/data-dir';
import { loadServerKey, type ServerSigner } from '../../src/server/server-key';
import { openSqliteStore } from '../../src/server/store/sqlite-store';
import type { ServerStore } from '../../src/server/store/types';
import type { BundleRef, Statement } from '../../src/shared/schemas';
import { generateTestRsaKey } from '../helpers/bundle-fixtures';
import { ReleaseDesk, makeEncryptedBundle } from '../helpers/device-sim';
import type { TestIdentity } from '../helpers/server';

// ---------------------------------------------------------------------------------------------
// Output and figures

export const print = (line: string): void => void process.stdout.write(`${line}\n`);
export const progress = (line: string): void => void process.stderr.write(`${line}\n`);
export const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

/** The `q` quantile (nearest rank) of `values`; NaN when there are none. */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
}

export const median = (values: readonly number[]): number => quantile(values, 0.5);

/**
 * The command-line options both benches take (`parseArgs`): --statements N, the log's length
 * (100000), and --page-size N, the page of the console's mirror sync (1000).
 */
export const LOG_OPTIONS = {
  statements: { type: 'string', default: '100000' },
  'page-size': { type: 'string', default: '1000' },
} as const;

/** A fresh folder on tmpfs (/dev/shm, when present: the store's per-apply fsync costs nothing). */
export function tmpfsDir(prefix: string): string {
  const shm = '/dev/shm';
  return mkdtempSync(join(existsSync(shm) ? shm : tmpdir(), prefix));
}

// ---------------------------------------------------------------------------------------------
// Ed25519 through node:crypto (deterministic: the same signatures as noble for the same seed)

/** PKCS#8 DER prefix of an Ed25519 private key; the 32-byte seed follows (RFC 8410). */
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');

export function nodeSigningKey(seed: Uint8Array): KeyObject {
  return createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519, seed]),
    format: 'der',
    type: 'pkcs8',
  });
}

/** A TEST-ONLY identity signing through node:crypto. */
export function fastIdentity(identity: TestIdentity): IdentitySigner {
  const key = nodeSigningKey(identity.seed);
  return {
    keyId: identity.keyId,
    publicKey: identity.publicKey,
    sign: (message) => new Uint8Array(sign(null, message, key)),
  };
}

/** The server's key (read from its data directory) signing through node:crypto. */
function fastServerSigner(keyFile: string): ServerSigner {
  const reference = loadServerKey(keyFile);
  const { seed } = JSON.parse(readFileSync(keyFile, 'utf8')) as { seed: string };
  const key = nodeSigningKey(base64ToBytes(seed, 32));
  const signSync = (message: Uint8Array): Uint8Array => new Uint8Array(sign(null, message, key));
  const probe = new TextEncoder().encode('airlock bench: same key, same signatures');
  if (Buffer.compare(signSync(probe), reference.signSync(probe)) !== 0) {
    throw new Error('node:crypto and the server signer disagree');
  }
  return { ...reference, signSync, sign: signSync };
}

// ---------------------------------------------------------------------------------------------
// Statements

/** The channel of the log and the two TEST-ONLY identities that propose and approve in it. */
export interface BenchChannel {
  readonly app: string;
  readonly channel: string;
  /** Proposes every statement; an admin of the server. */
  readonly proposer: TestIdentity;
  /** Approves every statement; an admin of the server. */
  readonly approver: TestIdentity;
}

/** A channel's position: its last seq and head statement. */
export interface Head {
  readonly seq: number;
  readonly head: string | null;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** The next statement of the mix: a release every 100, a pause + resume, otherwise rollouts. */
function nextBody(seq: number, bundle: BundleRef): Record<string, unknown> {
  const slot = seq % 100;
  if (slot === 0) {
    const version = `1.${seq / 100}.0`;
    return {
      kind: 'release',
      release: { version, minNativeVersion: '1.0.0', rollout: { percent: 10 }, bundle },
    };
  }
  if (slot === 50) return { kind: 'pause' };
  if (slot === 51) return { kind: 'resume' };
  return { kind: 'rollout', rollout: { percent: (seq % 97) + 1 } };
}

/**
 * Appends `count` statements after `head` through the store's apply path, each approved by
 * `approver`; `onEach` hears each new seq. Returns the new head.
 */
export async function appendStatements(
  store: ServerStore,
  log: BenchChannel,
  head: Head,
  count: number,
  bundle: BundleRef,
  approver: IdentitySigner,
  onEach?: (seq: number) => void,
): Promise<Head> {
  let { seq, head: prev } = head;
  for (let done = 0; done < count; done += 1) {
    const now = new Date();
    const statement = {
      v: 1,
      app: log.app,
      channel: log.channel,
      seq: seq + 1,
      prev,
      createdAt: new Date(now.getTime() - 1000).toISOString(),
      expiresAt: new Date(now.getTime() + DAY_MS).toISOString(),
      proposer: log.proposer.keyId,
      ...nextBody(seq + 1, bundle),
    } as Statement;
    const id = statementId(statement);
    const approval = await createApproval(statement, approver);
    const outcome = await store.applyStatement(
      {
        id,
        statement,
        approvals: [approval],
        newApprovals: [approval],
        rootVersion: store.currentRoot().version,
      },
      now,
    );
    if (outcome.result !== 'applied') throw new Error(`seq ${seq + 1}: ${outcome.result}`);
    seq += 1;
    prev = id;
    onEach?.(seq);
  }
  return { seq, head: prev };
}

// ---------------------------------------------------------------------------------------------
// The server's data directory

export interface BuiltLog {
  readonly dataDir: string;
  readonly head: Head;
  /** The uploaded bundle every release of the log names. */
  readonly bundle: BundleRef;
  readonly buildMs: number;
  /** Per statement through the signed admin API (NaN when `httpSample` was 0). */
  readonly httpMsPerStatement: number;
  /**
   * The store's apply rate (statements/s) over each block of 10,000 seqs (the last block may be
   * shorter): applying must cost the same at seq 10 and at seq 100,000.
   */
  readonly applyRates: readonly { readonly upTo: number; readonly perSecond: number }[];
}

/** Seqs per block of the apply-rate figures. */
export const RATE_BLOCK = 10_000;

/**
 * A server data directory `<root>/server` (both identities its admins) whose channel holds `total`
 * statements; the bundle is made in `work`. Progress (ten steps) goes to stderr.
 */
export async function buildLog(
  log: BenchChannel,
  options: {
    readonly root: string;
    readonly work: string;
    readonly total: number;
    /** Rollouts after the first release pushed through the signed admin API, timed (default 0). */
    readonly httpSample?: number;
  },
): Promise<BuiltLog> {
  const { app, channel, proposer, approver } = log;
  const { total, httpSample = 0 } = options;
  const started = performance.now();
  const dataDir = join(options.root, 'server');
  await initServer({ dataDir, admins: [proposer.publicKeyHex, approver.publicKeyHex] });
  const key = generateTestRsaKey(); // TEST-ONLY bundle key
  const signer = rsaSignerFromPrivateKey(key.privateKey);
  const bundle = await makeEncryptedBundle(options.work, signer, 'bench');
  const server = await startServer({
    dataDir,
    port: 0,
    adminRateLimit: { capacity: 1_000_000, refillPerSecond: 1_000_000 },
  });
  let httpMsPerStatement = Number.NaN;
  try {
    const desk = new ReleaseDesk(server.url, proposer, approver);
    await desk.createApp(app, key.publicKeyPem, [{ name: channel }]);
    await desk.release(app, channel, '1.0.0', bundle);
    const httpStart = performance.now();
    for (let index = 0; index < httpSample; index += 1) {
      await desk.rollout(app, channel, index + 1);
    }
    if (httpSample > 0) httpMsPerStatement = (performance.now() - httpStart) / httpSample;
  } finally {
    await server.close();
  }
  const paths = dataDirPaths(dataDir);
  const store = openSqliteStore(paths, fastServerSigner(paths.serverKey));
  const applyRates: { upTo: number; perSecond: number }[] = [];
  let head: Head;
  try {
    const status = store.channelStatus(app, channel);
    if (status === null) throw new Error('the bench channel is missing');
    const remaining = total - status.seq;
    const step = Math.max(1, Math.ceil(remaining / 10));
    const approve = fastIdentity(approver);
    let blockStart = performance.now();
    let blockFrom = status.seq;
    head = await appendStatements(store, log, status, remaining, bundle.info, approve, (seq) => {
      if (seq % RATE_BLOCK === 0 || seq === total) {
        const now = performance.now();
        applyRates.push({ upTo: seq, perSecond: ((seq - blockFrom) * 1000) / (now - blockStart) });
        blockStart = now;
        blockFrom = seq;
      }
      if ((seq - status.seq) % step === 0 || seq === total) {
        progress(`build: ${seq}/${total} ${seconds(performance.now() - started)}`);
      }
    });
  } finally {
    await store.close();
  }
  return {
    dataDir,
    head,
    bundle: bundle.info,
    buildMs: performance.now() - started,
    httpMsPerStatement,
    applyRates,
  };
}
