import {
  GuardStateSchema,
  LogPageSchema,
  RootChainSchema,
  MAX_ROOT_STEPS,
  type GuardState,
  type LogEntry,
  type LogPage,
  type ReleaseStatement,
  type RootChain,
  type SignedCheckpoint,
  type SignedTrustRoot,
} from '../shared/schemas';
import {
  EMPTY_CHANNEL_STATE,
  decideUpdate,
  nextChannelState,
  type ChannelState,
} from '../core/channel';
import { compareCheckpoints, verifyCheckpoint, verifyLogEntries } from '../core/log';
import { hasExpired, rootId, statementId, verifyRootUpdate } from '../core/statement';
import { GuardRefusal, refuse, type RefusalCode } from './refusal';
import { createTransport, type FetchLike, type Transport } from './transport';
import { verifyTrustBundle, type VerifiedTrust } from './trust';

/**
 * The device guard (ARCHITECTURE.md §11, ARCHITECTURE.md §11): decides from the server's public data alone (root
 * chain, log pages, head checkpoint) whether the stock plugin may install anything, and what. The
 * server is untrusted. One `check()`:
 *
 * 1. verifies the built-in trust bundle before any network call (B2) and reads the stored state;
 * 2. walks the root chain forward from the newest trusted root, N→N+1 exactly, both thresholds
 *    (R1–R6), and refuses an expired newest root;
 * 3. pulls the log after the stored head in bounded pages (L5) and verifies every entry with the
 *    verifier the console and `airlock log verify` use (L1–L4), each under the root version it
 *    names, never below the newest root known at the last check;
 * 4. checks the head checkpoint: the server's key, naming the verified head (C1), not behind the
 *    stored one (C2), not older than `maxCheckpointAgeSeconds` (C3, C4);
 * 5. folds the entries into the channel state with the server's own function and decides for this
 *    device with the server's own decision (I1–I3);
 * 6. only then asks the plugin to download the verified release (URL from its encrypted SHA-256,
 *    size checked first: I4) and to install it next, and stores the new state once (I5).
 *
 * Anything refused leaves the stored state exactly as it was and the plugin untouched.
 */

/** What the guard needs of `@capgo/capacitor-updater` (manual mode, `autoUpdate: false`). */
export interface Updater {
  getDeviceId(): Promise<{ deviceId: string }>;
  current(): Promise<{ bundle: { id: string; version: string }; native: string }>;
  download(options: {
    url: string;
    version: string;
    sessionKey?: string;
    checksum?: string;
  }): Promise<{ id: string; version: string }>;
  next(options: { id: string }): Promise<unknown>;
}

/** Where the guard keeps its state: the app's own storage (e.g. Capacitor Preferences). */
export interface GuardStorage {
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<void>;
}

export interface GuardOptions {
  /** Origin of `/api/v1/root` and `/api/v1/apps/…/log`, e.g. `https://updates.example.com`. */
  readonly server: string;
  readonly app: string;
  readonly channel: string;
  /** The trust bundle built into the app (`airlock device trust`), parsed JSON. */
  readonly trust: unknown;
  readonly storage: GuardStorage;
  readonly updater: Updater;
  /** Freeze limit (checklist C3): default 24 h. */
  readonly maxCheckpointAgeSeconds?: number;
  readonly fetch?: FetchLike;
  readonly now?: () => Date;
  /** Per request (T1): default 15 s. */
  readonly requestTimeoutMs?: number;
  /** Whole check (T1): default 120 s. */
  readonly checkTimeoutMs?: number;
}

export type CheckResult =
  | { readonly action: 'installed'; readonly version: string }
  | { readonly action: 'up_to_date'; readonly version: string; readonly reason: string }
  | { readonly action: 'refused'; readonly code: RefusalCode; readonly message: string };

export interface Guard {
  check(): Promise<CheckResult>;
  /** The key the state is stored under. */
  readonly storageKey: string;
}

/** Limits of one check (checklist L5, R5). */
export const GUARD_LIMITS = {
  pageEntries: 500,
  pageBytes: 8 * 1024 * 1024,
  pages: 400,
  rootChainBytes: 4 * 1024 * 1024,
  rootSteps: MAX_ROOT_STEPS,
} as const;

const DAY_SECONDS = 86_400;
// Links are judged whatever the time (an old root was valid when it was current); only the newest
// root's expiry counts (TUF 5.3.10), as src/core/log/verify.ts does.
const LINK_TIME = new Date(0);

interface Verified {
  readonly state: GuardState;
  readonly release: { id: string; statement: ReleaseStatement } | null;
}

function trimOrigin(server: string): string {
  return server.replace(/\/+$/, '');
}

function storageKeyOf(app: string, channel: string): string {
  return `airlock.guard.v1.${app}.${channel}`;
}

async function readState(opts: GuardOptions, key: string): Promise<GuardState | null> {
  let text: string | null;
  try {
    text = await opts.storage.get(key);
  } catch (error) {
    refuse('STORAGE_FAILED', 'The stored guard state could not be read.', error);
  }
  if (text === null) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    refuse('STATE_INVALID', 'The stored guard state is not JSON.', error);
  }
  const result = GuardStateSchema.safeParse(parsed);
  if (!result.success) refuse('STATE_INVALID', 'The stored guard state is malformed.');
  const state = result.data;
  if (state.app !== opts.app || state.channel !== opts.channel) {
    refuse('STATE_INVALID', `The stored guard state is for ${state.app}/${state.channel}.`);
  }
  return state;
}

/**
 * The roots entries may be judged under before the walk, oldest first: the stored root onwards, or
 * the trust bundle's chain on the first run (B1).
 */
function startingRoots(
  trust: VerifiedTrust,
  stored: GuardState | null,
): readonly SignedTrustRoot[] {
  if (stored === null) return trust.roots;
  const storedVersion = stored.root.root.version;
  const builtIn = trust.roots.find((signed) => signed.root.version === storedVersion);
  if (builtIn !== undefined && rootId(builtIn.root) !== rootId(stored.root.root)) {
    refuse('ROOT_FORK', `The stored root version ${storedVersion} differs from the built-in one.`);
  }
  // Only roots at or after the stored one are held (checklist L1): entries after the stored head
  // were applied after that root was published, so one naming an older root is refused
  // (ROOT_VERSION_INVALID). An app update may bring newer built-in roots: continue from those.
  const newer = trust.roots.filter((signed) => signed.root.version > storedVersion);
  return [stored.root, ...newer];
}

/** Step 2: the root chain forward from the newest trusted root (R1–R6, TUF 5.3). */
function walkRoots(
  chain: RootChain,
  trusted: readonly SignedTrustRoot[],
  trust: VerifiedTrust,
  now: Date,
): SignedTrustRoot[] {
  if (
    chain.server.keyId !== trust.bundle.serverKey.keyId ||
    chain.server.publicKey !== trust.bundle.serverKey.publicKey
  ) {
    refuse('SERVER_KEY_MISMATCH', `The server names checkpoint key ${chain.server.keyId}.`);
  }
  const roots = [...trusted];
  let current = roots[roots.length - 1] as SignedTrustRoot;
  const byVersion = new Map(trusted.map((signed) => [signed.root.version, signed]));
  let steps = 0;
  for (const offered of chain.roots) {
    const version = offered.root.version;
    const known = byVersion.get(version);
    if (known !== undefined) {
      if (rootId(known.root) !== rootId(offered.root)) {
        refuse('ROOT_FORK', `The server's trust root version ${version} is not the trusted one.`);
      }
      continue;
    }
    if (version < current.root.version) continue; // older than anything trusted: not needed
    steps += 1;
    if (steps > GUARD_LIMITS.rootSteps) {
      refuse(
        'ROOT_CHAIN_TOO_LONG',
        `More than ${GUARD_LIMITS.rootSteps} root versions in one check.`,
      );
    }
    // R1: exactly N+1; R2, R3, R6: both thresholds over distinct recomputed keys (one verifier).
    const verdict = verifyRootUpdate(current.root, offered, LINK_TIME);
    if (!verdict.valid) {
      refuse(
        'ROOT_CHAIN_INVALID',
        `Trust root version ${version} does not follow version ${current.root.version}: ${verdict.reasons.join('; ')}.`,
      );
    }
    roots.push(offered);
    byVersion.set(version, offered);
    current = offered;
  }
  if (hasExpired(current.root.expiresAt, now)) {
    refuse(
      'ROOT_EXPIRED',
      `Trust root version ${current.root.version} expired at ${current.root.expiresAt}.`,
    );
  }
  return roots;
}

interface Fold {
  state: ChannelState;
  releases: Record<string, number>;
  /** Release statements seen in this check, by id. */
  readonly seen: Map<string, ReleaseStatement>;
}

function foldEntries(fold: Fold, entries: readonly LogEntry[]): void {
  for (const entry of entries) {
    const { statement } = entry;
    if (statement.kind === 'rollback' && fold.releases[statement.target] === undefined) {
      refuse(
        'ROLLBACK_TARGET_UNKNOWN',
        `The rollback at seq ${entry.seq} targets ${statement.target}, which this channel never released.`,
      );
    }
    if (statement.kind === 'release') {
      fold.releases[entry.id] = entry.seq;
      fold.seen.set(entry.id, statement);
    }
    // The server's own fold (src/core/channel/state.ts), one implementation.
    fold.state = nextChannelState(fold.state, entry.id, statement);
  }
}

/** Step 4: the head checkpoint (C1–C4). */
function checkHead(
  head: SignedCheckpoint | null,
  verified: { seq: number; id: string | null; rootVersion: number | null },
  stored: GuardState | null,
  trust: VerifiedTrust,
  scope: { app: string; channel: string },
  now: Date,
  maxAgeSeconds: number,
): void {
  if (head === null) {
    if (verified.seq === 0 && stored === null) return; // nothing applied yet
    refuse('CHECKPOINT_INVALID', 'The server gave no head checkpoint for a log with entries.');
  }
  // C1: the pinned server key…
  if (!verifyCheckpoint(head, trust.serverKey)) {
    refuse('CHECKPOINT_INVALID', 'The head checkpoint is not signed by the pinned server key.');
  }
  const checkpoint = head.checkpoint;
  if (checkpoint.app !== scope.app || checkpoint.channel !== scope.channel) {
    refuse(
      'CHECKPOINT_INVALID',
      `The head checkpoint is for ${checkpoint.app}/${checkpoint.channel}.`,
    );
  }
  // C2 and L2 first: never behind or beside what was stored.
  if (stored?.checkpoint != null) {
    const relation = compareCheckpoints(stored.checkpoint, head);
    if (relation === 'fork') refuse('CHECKPOINT_FORK', `Two heads for seq ${checkpoint.seq}.`);
    if (
      relation === 'rollback' ||
      Date.parse(checkpoint.time) < Date.parse(stored.checkpoint.checkpoint.time)
    ) {
      refuse(
        'CHECKPOINT_ROLLBACK',
        `The head checkpoint (seq ${checkpoint.seq}, ${checkpoint.time}) is older than the stored one (seq ${stored.checkpoint.checkpoint.seq}, ${stored.checkpoint.checkpoint.time}).`,
      );
    }
  }
  // C1: naming exactly the verified head.
  if (checkpoint.seq !== verified.seq || checkpoint.head !== verified.id) {
    refuse(
      'CHECKPOINT_INVALID',
      `The head checkpoint names seq ${checkpoint.seq} ${checkpoint.head}, not the verified seq ${verified.seq} ${verified.id ?? 'none'}.`,
    );
  }
  if (checkpoint.rootVersion !== (verified.rootVersion ?? undefined)) {
    refuse(
      'CHECKPOINT_INVALID',
      'The head checkpoint names another trust-root version than its entry.',
    );
  }
  // C3, C4: a checkpoint exactly maxAge old is already too old.
  if (Date.parse(checkpoint.time) + maxAgeSeconds * 1000 <= now.getTime()) {
    refuse(
      'CHECKPOINT_STALE',
      `The head checkpoint is from ${checkpoint.time}, older than ${maxAgeSeconds} s: the server may be frozen.`,
    );
  }
}

class Check {
  private readonly origin: string;

  constructor(
    private readonly opts: GuardOptions,
    private readonly key: string,
    private readonly now: Date,
    private readonly transport: Transport,
  ) {
    this.origin = trimOrigin(opts.server);
  }

  private logUrl(after: number, limit: number): string {
    const app = encodeURIComponent(this.opts.app);
    const channel = encodeURIComponent(this.opts.channel);
    return `${this.origin}/api/v1/apps/${app}/channels/${channel}/log?after=${after}&limit=${limit}`;
  }

  private async page(after: number, limit: number): Promise<LogPage> {
    const raw = await this.transport.getJson(
      this.logUrl(after, limit),
      GUARD_LIMITS.pageBytes,
      'LOG_PAGE_TOO_LARGE',
    );
    const parsed = LogPageSchema.safeParse(raw);
    if (!parsed.success)
      refuse('RESPONSE_INVALID', `The log page after seq ${after} is malformed.`);
    const page = parsed.data;
    // L3: a page of another log is refused whole.
    if (page.app !== this.opts.app || page.channel !== this.opts.channel) {
      refuse('LOG_SCOPE_MISMATCH', `The server sent the log of ${page.app}/${page.channel}.`);
    }
    // L5: no more entries than asked for.
    if (page.entries.length > limit) {
      refuse('LOG_PAGE_TOO_LARGE', `A page of ${page.entries.length} entries, ${limit} asked for.`);
    }
    return page;
  }

  async run(): Promise<Verified> {
    const trust = verifyTrustBundle(this.opts.trust, this.opts.app);
    const stored = await readState(this.opts, this.key);
    const start = startingRoots(trust, stored);
    const rawChain = await this.transport.getJson(
      `${this.origin}/api/v1/root`,
      GUARD_LIMITS.rootChainBytes,
      'ROOT_CHAIN_TOO_LONG',
    );
    const chain = RootChainSchema.safeParse(rawChain);
    if (!chain.success) {
      // Checklist R4: a root with a threshold below 1, a fraction, or above its admins does not parse.
      const issue = chain.error.issues[0];
      refuse(
        'ROOT_CHAIN_INVALID',
        `The server's root chain is invalid at "${issue?.path.join('.') ?? ''}": ${issue?.message ?? 'malformed'}.`,
      );
    }
    const roots = walkRoots(chain.data, start, trust, this.now);

    const fold: Fold = {
      state: stored?.state ?? EMPTY_CHANNEL_STATE,
      releases: { ...(stored?.releases ?? {}) },
      seen: new Map(),
    };
    let previous = stored?.head ?? null;
    let lastHead: SignedCheckpoint | null = stored?.checkpoint ?? null;
    for (let pages = 0; ; pages += 1) {
      if (pages >= GUARD_LIMITS.pages) {
        refuse('LOG_TOO_LONG', `More than ${GUARD_LIMITS.pages} log pages in one check.`);
      }
      const after = previous?.seq ?? 0;
      const page = await this.page(after, GUARD_LIMITS.pageEntries);
      const result = verifyLogEntries(page.entries, {
        roots,
        serverKey: trust.serverKey,
        previous:
          previous === null
            ? null
            : { seq: previous.seq, head: previous.id, rootVersion: previous.rootVersion },
        app: this.opts.app,
        channel: this.opts.channel,
        requireRootVersion: true,
        now: this.now,
      });
      if (!result.ok) {
        refuse(
          'LOG_INVALID',
          `Log entry seq ${result.seq} refused (${result.problem}): ${result.message}`,
        );
      }
      foldEntries(fold, page.entries);
      if (page.entries.length > 0 && result.head !== null) {
        previous = {
          seq: result.head.seq,
          id: result.head.head,
          rootVersion: result.head.rootVersion,
        };
      }
      lastHead = page.head;
      if (!page.more) break;
      if (page.entries.length === 0)
        refuse('LOG_PAGE_TOO_LARGE', 'A page said more but held nothing.');
    }
    checkHead(
      lastHead,
      {
        seq: previous?.seq ?? 0,
        id: previous?.id ?? null,
        rootVersion: previous?.rootVersion ?? null,
      },
      stored,
      trust,
      { app: this.opts.app, channel: this.opts.channel },
      this.now,
      this.opts.maxCheckpointAgeSeconds ?? DAY_SECONDS,
    );
    const release = await this.currentRelease(fold, stored);
    const state: GuardState = {
      format: 'airlock-device-state/v1',
      app: this.opts.app,
      channel: this.opts.channel,
      root: roots[roots.length - 1] as SignedTrustRoot,
      head: previous,
      checkpoint: lastHead,
      state: { ...fold.state },
      current: release,
      releases: fold.releases,
    };
    return { state, release };
  }

  /** The release statement the state names: seen now, stored, or fetched by its seq and id. */
  private async currentRelease(
    fold: Fold,
    stored: GuardState | null,
  ): Promise<{ id: string; statement: ReleaseStatement } | null> {
    const id = fold.state.currentRelease;
    if (id === null) return null;
    const seen = fold.seen.get(id);
    if (seen !== undefined) return { id, statement: seen };
    if (stored?.current?.id === id) return stored.current;
    const seq = fold.releases[id];
    if (seq === undefined) refuse('ROLLBACK_TARGET_UNKNOWN', `The channel never released ${id}.`);
    // The statement id is its hash: an entry whose statement hashes to the id is the one verified.
    const page = await this.page(seq - 1, 1);
    const entry = page.entries[0];
    if (
      entry === undefined ||
      entry.statement.kind !== 'release' ||
      statementId(entry.statement) !== id
    ) {
      refuse('LOG_INVALID', `The server did not give back release ${id} at seq ${seq}.`);
    }
    return { id, statement: entry.statement };
  }
}

function bundleUrl(origin: string, statement: ReleaseStatement): string {
  // I1: the URL comes from the verified statement, never from /updates.
  return `${origin}/bundles/${statement.release.bundle.encryptedSha256}`;
}

async function installedOf(updater: Updater): Promise<{
  deviceId: string;
  native: string;
  running: string;
  onBuiltin: boolean;
}> {
  try {
    const [{ deviceId }, current] = await Promise.all([updater.getDeviceId(), updater.current()]);
    const onBuiltin = current.bundle.id === 'builtin' || current.bundle.version === 'builtin';
    return {
      deviceId: deviceId.toLowerCase(),
      native: current.native,
      running: onBuiltin ? current.native : current.bundle.version,
      onBuiltin,
    };
  } catch (error) {
    refuse('UPDATER_FAILED', 'The updater plugin did not report the device or its bundle.', error);
  }
}

async function saveState(opts: GuardOptions, key: string, state: GuardState): Promise<void> {
  try {
    // I5: one write, after everything passed.
    await opts.storage.set(key, JSON.stringify(state));
  } catch (error) {
    refuse('STORAGE_FAILED', 'The guard state could not be stored.', error);
  }
}

/**
 * Creates a guard for one app and channel. See the module comment for what `check()` does.
 * @example
 * const guard = createGuard({ server, app, channel, trust, storage, updater: CapacitorUpdater });
 * const result = await guard.check();
 */
export function createGuard(opts: GuardOptions): Guard {
  const storageKey = storageKeyOf(opts.app, opts.channel);
  const origin = trimOrigin(opts.server);
  let running: Promise<CheckResult> | null = null;

  async function checkOnce(): Promise<CheckResult> {
    const now = opts.now?.() ?? new Date();
    // One transport for the whole check (T1): every request, the bundle's HEAD included, runs
    // under the check's deadline.
    const transport = createTransport({
      fetch: opts.fetch ?? ((input, init) => globalThis.fetch(input, init)),
      requestTimeoutMs: opts.requestTimeoutMs ?? 15_000,
      deadline: Date.now() + (opts.checkTimeoutMs ?? 120_000),
    });
    const { state, release } = await new Check(opts, storageKey, now, transport).run();
    const device = await installedOf(opts.updater);
    const decision = decideUpdate(
      {
        deviceId: device.deviceId,
        versionBuild: device.native,
        runningVersion: device.running,
        onBuiltin: device.onBuiltin,
        // The plugin decrypts with the key built into the app and refuses a bundle for another.
        keyId: release?.statement.release.bundle.keyId,
      },
      {
        current:
          release === null
            ? null
            : {
                statementId: release.id,
                version: release.statement.release.version,
                minNativeVersion: release.statement.release.minNativeVersion,
                rolloutPercent: state.state.rolloutPercent ?? 100,
                bundle: release.statement.release.bundle,
              },
        paused: state.state.paused,
        rolledBack: state.state.rolledBack,
      },
    );
    if (!decision.install || release === null) {
      await saveState(opts, storageKey, state);
      return {
        action: 'up_to_date',
        version: device.running,
        reason: decision.install ? 'no_release' : decision.answer.error,
      };
    }
    const statement = release.statement;
    const url = bundleUrl(origin, statement);
    const size = await transport.contentLength(url);
    if (size !== statement.release.bundle.encryptedSize) {
      refuse(
        'BUNDLE_SIZE_MISMATCH',
        `The bundle at ${url} is ${size ?? 'of unknown size'}, the statement says ${statement.release.bundle.encryptedSize} bytes.`,
      );
    }
    let bundleId: string;
    try {
      const bundle = await opts.updater.download({
        url,
        version: statement.release.version,
        sessionKey: statement.release.bundle.sessionKey,
        checksum: statement.release.bundle.checksum,
      });
      bundleId = bundle.id;
      await opts.updater.next({ id: bundleId });
    } catch (error) {
      const reason = error instanceof Error ? `: ${error.message}` : '.';
      refuse(
        'UPDATER_FAILED',
        `The updater plugin failed to download or schedule the bundle${reason}`,
        error,
      );
    }
    await saveState(opts, storageKey, state);
    return { action: 'installed', version: statement.release.version };
  }

  return {
    storageKey,
    check(): Promise<CheckResult> {
      // One check at a time: a second call while one runs gets the same answer.
      running ??= checkOnce()
        .catch((error: unknown): CheckResult => {
          if (error instanceof GuardRefusal) {
            return { action: 'refused', code: error.code, message: error.message };
          }
          return {
            action: 'refused',
            code: 'RESPONSE_INVALID',
            message: error instanceof Error ? error.message : 'The check failed.',
          };
        })
        .finally(() => {
          running = null;
        });
      return running;
    },
  };
}
