import { signCheckpoint } from '../../src/core/log';
import {
  createApproval,
  rootId,
  signRoot,
  statementId,
  statementSigningBytes,
} from '../../src/core/statement';
import { bytesToBase64, sha256Hex } from '../../src/core/crypto';
import type { IdentitySigner } from '../../src/core/statement';
import type { GuardStorage, Updater } from '../../src/device';
import type {
  Approval,
  LogEntry,
  LogPage,
  Policy,
  ReleaseStatement,
  RootChain,
  SignedCheckpoint,
  SignedTrustRoot,
  Statement,
  TrustBundle,
  TrustRoot,
} from '../../src/shared/schemas';
import { memberOf, testIdentity, type TestIdentity } from '../unit/core/test-identities';
import type { DeviceSim } from './device-sim';

/**
 * A server the device guard must not trust, for the checklist's unit tests
 * (the checklist of ARCHITECTURE.md §11). It holds the server's signing key, so it can sign
 * anything an honest server signs and anything a compromised one would; tests make it lie by
 * editing what it holds or by rewriting its answers (`tamper`). Every signature is real (core's
 * own signing functions); nothing about the guard is stubbed. The updater and storage below are
 * TEST-ONLY stand-ins for the Capacitor plugin's native bridge and the app's key-value store,
 * which cannot run here; they record every call.
 */

export const APP = 'com.example.app';
export const CHANNEL = 'production';
export const ORIGIN = 'https://updates.example.test';

export const alice = testIdentity('guard alice'); // admin, release manager
export const bob = testIdentity('guard bob'); // signing officer
export const carol = testIdentity('guard carol'); // admin, release manager
export const dave = testIdentity('guard dave'); // signing officer, joins in version 2
export const mallory = testIdentity('guard mallory'); // not a member

const KINDS = ['release', 'rollback', 'rollout', 'pause', 'resume'] as const;

/** Production needs two approvals, one of them a signing officer's (ARCHITECTURE.md §4). */
export function productionPolicies(): Policy[] {
  return KINDS.map((kind) => ({
    app: '*',
    channel: '*',
    kind,
    threshold: 2,
    roles: ['release_manager', 'signing_officer'],
    require: { signing_officer: 1 },
    proposerCounts: true,
  }));
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export interface ApplyOptions {
  readonly approvers?: readonly TestIdentity[];
  readonly approvals?: readonly Approval[];
  readonly proposer?: TestIdentity;
  readonly rootVersion?: number;
  readonly appliedAt?: Date;
  /** Sign the checkpoint with another key (a forger without the server key). */
  readonly checkpointSigner?: TestIdentity;
  readonly serverSig?: boolean;
  readonly seq?: number;
  readonly prev?: string | null;
}

export interface ReleaseOptions extends ApplyOptions {
  readonly percent?: number;
  readonly minNative?: string;
  readonly notes?: string;
  readonly encryptedSize?: number;
}

/** The attacker's view of one request: rewrite the parsed body, or answer something else. */
export type Tamper = (url: URL, body: unknown, init: RequestInit | undefined) => unknown; // the new body, a Response, or a promise of either

export class HostileServer {
  readonly server = testIdentity('guard server key');
  readonly roots: SignedTrustRoot[] = [];
  entries: LogEntry[] = [];
  /** The server's clock: the head checkpoint is re-signed at this time. */
  now: Date;
  /** Sizes HEAD /bundles/<sha> answers (default: the statement's). */
  readonly bundleSizes = new Map<string, number>();
  /** Every URL asked for, in order. */
  readonly requests: string[] = [];
  tamper: Tamper | null = null;
  /** Override of the head checkpoint the log pages carry. */
  head: SignedCheckpoint | null | undefined = undefined;

  constructor(now: Date) {
    this.now = now;
  }

  /** Version 1: alice and carol admins (threshold 2), bob signing officer; self-signed by both. */
  async init(expiresAt = new Date(this.now.getTime() + 365 * DAY)): Promise<this> {
    const root: TrustRoot = {
      v: 1,
      version: 1,
      expiresAt: expiresAt.toISOString(),
      members: [
        memberOf(alice, ['admin', 'release_manager']),
        memberOf(bob, ['signing_officer']),
        memberOf(carol, ['admin', 'release_manager']),
      ],
      policies: productionPolicies(),
      rootThreshold: 2,
    };
    this.roots.push({
      root,
      signatures: [await signRoot(root, alice), await signRoot(root, carol)],
    });
    return this;
  }

  get newestRoot(): TrustRoot {
    return (this.roots[this.roots.length - 1] as SignedTrustRoot).root;
  }

  /** The next root version, edited by `change`, signed by `signers` (default alice and carol). */
  async rotate(
    change: (root: TrustRoot) => TrustRoot,
    signers: readonly TestIdentity[] = [alice, carol],
  ): Promise<SignedTrustRoot> {
    const previous = this.newestRoot;
    const root = change({ ...previous, version: previous.version + 1 });
    const signed = { root, signatures: await Promise.all(signers.map((s) => signRoot(root, s))) };
    this.roots.push(signed);
    return signed;
  }

  /** What `airlock device trust` writes, from the chain as it stands now. */
  trustBundle(): TrustBundle {
    return {
      format: 'airlock-device-trust/v1',
      app: APP,
      rootFingerprint: this.rootId(1),
      roots: structuredClone(this.roots),
      serverKey: { keyId: this.server.keyId, publicKey: this.server.publicKeyHex },
      createdAt: this.now.toISOString(),
    };
  }

  private rootId(version: number): string {
    const signed = this.roots.find((r) => r.root.version === version);
    if (signed === undefined) throw new Error(`no root ${version}`);
    return rootId(signed.root);
  }

  get headEntry(): LogEntry | undefined {
    return this.entries[this.entries.length - 1];
  }

  private header(
    kind: Statement['kind'],
    opts: ApplyOptions,
  ): Omit<Statement, 'kind'> & { kind: never } {
    const seq = opts.seq ?? (this.headEntry?.seq ?? 0) + 1;
    const created = new Date((opts.appliedAt ?? this.now).getTime() - HOUR);
    return {
      v: 1,
      app: APP,
      channel: CHANNEL,
      seq,
      prev: opts.prev !== undefined ? opts.prev : (this.headEntry?.id ?? null),
      createdAt: created.toISOString(),
      expiresAt: new Date(created.getTime() + 6 * DAY).toISOString(),
      proposer: (opts.proposer ?? alice).keyId,
      kind: kind as never,
    };
  }

  /** Appends `statement` as an applied entry, signed by the server key unless told otherwise. */
  async apply(statement: Statement, opts: ApplyOptions = {}): Promise<LogEntry> {
    const approvals: Approval[] =
      opts.approvals !== undefined
        ? [...opts.approvals]
        : await Promise.all(
            (opts.approvers ?? [alice, bob]).map((s) => createApproval(statement, s)),
          );
    const appliedAt = (opts.appliedAt ?? this.now).toISOString();
    const rootVersion = opts.rootVersion ?? this.newestRoot.version;
    const id = statementId(statement);
    const checkpoint = await signCheckpoint(
      {
        app: statement.app,
        channel: statement.channel,
        seq: statement.seq,
        head: id,
        time: appliedAt,
        rootVersion,
      },
      opts.checkpointSigner ?? this.server,
    );
    const entry: LogEntry = {
      seq: statement.seq,
      id,
      statement,
      approvals,
      appliedAt,
      rootVersion,
      checkpoint,
      ...(opts.serverSig === true
        ? { serverSig: bytesToBase64(await this.server.sign(statementSigningBytes(statement))) }
        : {}),
    };
    this.entries.push(entry);
    return entry;
  }

  releaseStatement(version: string, opts: ReleaseOptions = {}): ReleaseStatement {
    const encryptedSha256 = sha256Hex(`encrypted ${version}`);
    return {
      ...this.header('release', opts),
      kind: 'release',
      release: {
        version,
        minNativeVersion: opts.minNative ?? '0.5.0',
        ...(opts.notes === undefined ? {} : { notes: opts.notes }),
        rollout: { percent: opts.percent ?? 100 },
        bundle: {
          sha256: sha256Hex(`plain ${version}`),
          size: 1000,
          encryptedSha256,
          encryptedSize: opts.encryptedSize ?? 1040,
          sessionKey: 'AAAAAAAAAAAAAAAAAAAAAA==:BBBB',
          checksum: 'd'.repeat(512),
          keyId: 'MIIBCgKCAQEAqJikYizo',
          files: 3,
        },
      },
    };
  }

  async release(version: string, opts: ReleaseOptions = {}): Promise<LogEntry> {
    return this.apply(this.releaseStatement(version, opts), opts);
  }

  async rollout(percent: number, opts: ApplyOptions = {}): Promise<LogEntry> {
    return this.apply(
      { ...this.header('rollout', opts), kind: 'rollout', rollout: { percent } },
      opts,
    );
  }

  async rollback(target: string, opts: ApplyOptions = {}): Promise<LogEntry> {
    return this.apply({ ...this.header('rollback', opts), kind: 'rollback', target }, opts);
  }

  async pause(opts: ApplyOptions & { automatic?: boolean } = {}): Promise<LogEntry> {
    if (opts.automatic === true) {
      const statement = {
        ...this.header('pause', { ...opts, proposer: this.server }),
        kind: 'pause',
        automatic: true,
      } as Statement;
      return this.apply(statement, { ...opts, approvals: [], serverSig: true });
    }
    return this.apply({ ...this.header('pause', opts), kind: 'pause' }, opts);
  }

  async resume(opts: ApplyOptions = {}): Promise<LogEntry> {
    return this.apply({ ...this.header('resume', opts), kind: 'resume' }, opts);
  }

  /** The head checkpoint an honest server serves: the last entry, re-signed now. */
  async freshHead(): Promise<SignedCheckpoint | null> {
    if (this.head !== undefined) return this.head;
    const last = this.headEntry;
    if (last === undefined) return null;
    return signCheckpoint(
      {
        app: APP,
        channel: CHANNEL,
        seq: last.seq,
        head: last.id,
        time: this.now.toISOString(),
        ...(last.rootVersion === undefined ? {} : { rootVersion: last.rootVersion }),
      },
      this.server,
    );
  }

  rootChain(): RootChain {
    return {
      roots: structuredClone(this.roots),
      server: { keyId: this.server.keyId, publicKey: this.server.publicKeyHex },
    };
  }

  async logPage(after: number, limit: number): Promise<LogPage> {
    const rest = this.entries.filter((entry) => entry.seq > after);
    return {
      app: APP,
      channel: CHANNEL,
      entries: structuredClone(rest.slice(0, limit)),
      head: await this.freshHead(),
      more: rest.length > limit,
    };
  }

  /** `fetch` as the guard calls it. */
  readonly fetch = async (input: string, init?: RequestInit): Promise<Response> => {
    this.requests.push(`${init?.method ?? 'GET'} ${input}`);
    const url = new URL(input);
    let body: unknown;
    if (url.pathname === '/api/v1/root') {
      body = this.rootChain();
    } else if (url.pathname === `/api/v1/apps/${APP}/channels/${CHANNEL}/log`) {
      body = await this.logPage(
        Number(url.searchParams.get('after') ?? 0),
        Math.min(1000, Number(url.searchParams.get('limit') ?? 100)),
      );
    } else if (url.pathname.startsWith('/bundles/') && init?.method === 'HEAD') {
      const sha = url.pathname.slice('/bundles/'.length);
      const release = this.entries.find(
        (entry) =>
          entry.statement.kind === 'release' &&
          entry.statement.release.bundle.encryptedSha256 === sha,
      )?.statement as ReleaseStatement | undefined;
      const size = this.bundleSizes.get(sha) ?? release?.release.bundle.encryptedSize;
      if (size === undefined) return new Response(null, { status: 404 });
      return new Response(null, { status: 200, headers: { 'content-length': String(size) } });
    } else {
      return new Response(JSON.stringify({ error: 'NOT_FOUND' }), { status: 404 });
    }
    if (this.tamper !== null) {
      const tampered: unknown = await this.tamper(url, body, init);
      if (tampered instanceof Response) return tampered;
      body = tampered;
    }
    return new Response(JSON.stringify(body), {
      status: 200,
      headers: { 'content-type': 'application/json' },
    });
  };
}

/**
 * What `airlock device trust --sign` writes for a real server at `url`: its root chain, the newest
 * root signed by `admin` (version 1 from `server init` carries no signatures), and its server key.
 */
export async function serverTrustBundle(
  url: string,
  app: string,
  admin: IdentitySigner,
): Promise<TrustBundle> {
  const chain = (await (await fetch(`${url}/api/v1/root`)).json()) as RootChain;
  const roots = chain.roots.map((signed) => ({ ...signed }));
  const first = roots[0];
  const newest = roots[roots.length - 1];
  if (first === undefined || newest === undefined) throw new Error(`${url} has no root`);
  newest.signatures = [...newest.signatures, await signRoot(newest.root, admin)];
  return {
    format: 'airlock-device-trust/v1',
    app,
    rootFingerprint: rootId(first.root),
    roots,
    serverKey: chain.server,
    createdAt: new Date().toISOString(),
  };
}

/** TEST-ONLY stand-in for the plugin's JavaScript bridge: records calls, installs nothing. */
export class RecordingUpdater implements Updater {
  readonly calls: { method: string; args: unknown }[] = [];
  deviceId = '7a3c0c5e-1a2b-4c3d-8e9f-0123456789ab';
  native = '0.9.0';
  bundle = { id: 'builtin', version: 'builtin' };

  getDeviceId(): Promise<{ deviceId: string }> {
    this.calls.push({ method: 'getDeviceId', args: null });
    return Promise.resolve({ deviceId: this.deviceId });
  }

  current(): Promise<{ bundle: { id: string; version: string }; native: string }> {
    this.calls.push({ method: 'current', args: null });
    return Promise.resolve({ bundle: { ...this.bundle }, native: this.native });
  }

  download(options: { url: string; version: string; sessionKey?: string; checksum?: string }) {
    this.calls.push({ method: 'download', args: options });
    return Promise.resolve({ id: `bundle-${options.version}`, version: options.version });
  }

  next(options: { id: string }): Promise<unknown> {
    this.calls.push({ method: 'next', args: options });
    const version = options.id.replace(/^bundle-/, '');
    this.bundle = { id: options.id, version };
    return Promise.resolve({});
  }

  /** Calls that change the device: download and next. */
  get installs(): unknown[] {
    return this.calls.filter((call) => call.method === 'download' || call.method === 'next');
  }
}

/**
 * TEST-ONLY stand-in for the plugin's JavaScript bridge over a simulated phone (test/helpers/
 * device-sim.ts): `download` fetches the bundle and opens it with the device's own steps (AES key
 * unwrapped with the app's RSA public key, checksum checked), as the native side would.
 */
export class SimUpdater implements Updater {
  readonly calls: { method: string; args: unknown }[] = [];

  constructor(readonly sim: DeviceSim) {}

  getDeviceId(): Promise<{ deviceId: string }> {
    return Promise.resolve({ deviceId: this.sim.deviceId });
  }

  current(): Promise<{ bundle: { id: string; version: string }; native: string }> {
    const version = this.sim.versionName;
    return Promise.resolve({
      bundle: { id: version === 'builtin' ? 'builtin' : `bundle-${version}`, version },
      native: this.sim.options.versionBuild ?? '1.0.0',
    });
  }

  async download(options: {
    url: string;
    version: string;
    sessionKey?: string;
    checksum?: string;
  }) {
    this.calls.push({ method: 'download', args: options });
    const outcome = await this.sim.downloadAndInstall(
      { url: options.url, session_key: options.sessionKey, checksum: options.checksum },
      options.version,
    );
    if (outcome.result !== 'installed')
      throw new Error(`download failed: ${JSON.stringify(outcome)}`);
    return { id: `bundle-${options.version}`, version: options.version };
  }

  next(options: { id: string }): Promise<unknown> {
    this.calls.push({ method: 'next', args: options });
    return Promise.resolve({});
  }

  get installs(): unknown[] {
    return this.calls;
  }
}

/** TEST-ONLY stand-in for the app's key-value storage (Capacitor Preferences). */
export class MemoryStorage implements GuardStorage {
  readonly values = new Map<string, string>();
  writes = 0;

  get(key: string): Promise<string | null> {
    return Promise.resolve(this.values.get(key) ?? null);
  }

  set(key: string, value: string): Promise<void> {
    this.writes += 1;
    this.values.set(key, value);
    return Promise.resolve();
  }

  snapshot(): string {
    return JSON.stringify([...this.values.entries()]);
  }
}
