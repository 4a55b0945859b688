/**
 * Release-log verification (ARCHITECTURE.md §3 "release log", §7 mirror): pure functions over what the public
 * log API returns, so that the CLI (`airlock log verify`) and the console's mirror check the same
 * rules. The server is untrusted (ARCHITECTURE.md rule 13): everything it says is re-derived here.
 *
 * For each entry, in order (first problem wins):
 *
 * 1. Chain position: `seq` is the previous seq + 1 (no gaps, no reordering) and the statement's own
 *    seq says the same (SEQ_GAP).
 * 2. Scope: the statement and its checkpoint are for the log's app/channel (APP_CHANNEL_MISMATCH).
 * 3. Identity: the statement parses and its id, recomputed, is the entry's id (STATEMENT_INVALID,
 *    ID_MISMATCH).
 * 4. Hash chain: `prev` is the previous head, null for seq 1 (PREV_MISMATCH).
 * 5. Checkpoint: signed by the server key, naming exactly this app, channel, seq and id, at the
 *    entry's `appliedAt` (CHECKPOINT_INVALID).
 * 6. Authority: an automatic pause (ARCHITECTURE.md §6) needs only the server's signature over the
 *    statement (SERVER_SIG_INVALID); anything else needs approvals that satisfy the policy of the
 *    trust root in force, judged at the entry's `appliedAt`, so that an approval counts only if it
 *    was valid when applied (POLICY_NOT_SATISFIED).
 *
 * The trust root in force: each entry names the root version it was applied under (`rootVersion`,
 * signed in its checkpoint; ARCHITECTURE.md §11) and is judged under exactly that version, which must
 * be in the chain and never lower than the previous entry's (ROOT_VERSION_INVALID). Entries applied
 * before servers recorded the version name none; for them the verifier looks for a non-decreasing
 * assignment instead: each is judged under the lowest version at or after the previous entry's
 * that satisfies it. Either way, once an entry was judged under version N, no later entry may lean
 * on a member that version N removed. `requireRootVersion` (the device guard) refuses entries that
 * name no version.
 *
 * Incremental by design (ARCHITECTURE.md §9: 1,000 new statements in ≤ 1 s): pass the last verified head as
 * `previous` and only the new entries.
 */
import type { LogEntry, SignedCheckpoint, SignedTrustRoot, TrustRoot } from '../../shared/schemas';
import { ed25519Verify, identityKeyId, parseIdentityPublicKey } from '../crypto';
import { AirlockError } from '../errors';
import { evaluatePolicy, type Verdict } from '../policy';
import {
  decodeSignature,
  rootId,
  statementId,
  statementSigningBytes,
  verifyRootUpdate,
} from '../statement';
import { verifyCheckpoint } from './checkpoint';

/** Why a log does not verify; stable codes for scripts and the console. */
export const LOG_PROBLEMS = [
  'SEQ_GAP',
  'PREV_MISMATCH',
  'ID_MISMATCH',
  'STATEMENT_INVALID',
  'POLICY_NOT_SATISFIED',
  'CHECKPOINT_INVALID',
  'SERVER_SIG_INVALID',
  'APP_CHANNEL_MISMATCH',
  'ROOT_VERSION_INVALID',
] as const;
export type LogProblem = (typeof LOG_PROBLEMS)[number];

/** The last verified position of a log: what a mirror stores to continue from. */
export interface LogHead {
  readonly seq: number;
  /** Id of the statement at `seq`. */
  readonly head: string;
  /** The trust-root version the entry at `seq` was judged under (see the module comment). */
  readonly rootVersion: number;
}

export interface VerifyLogOptions {
  /** The verified root chain, version 1 first (see `verifyRootChain`). */
  readonly roots: readonly SignedTrustRoot[];
  /** The server's raw 32-byte Ed25519 key: checkpoints and automatic pauses. */
  readonly serverKey: Uint8Array;
  /** Where the entries continue from; null or absent for a log read from seq 1. */
  readonly previous?: { seq: number; head: string; rootVersion?: number } | null;
  /** The log's app and channel; when absent, those of the first entry. */
  readonly app?: string;
  readonly channel?: string;
  /** Refuse entries that do not name their root version (the device guard; see the module comment). */
  readonly requireRootVersion?: boolean;
  /** When the verification runs (reserved for freeze checks; entries are judged at appliedAt). */
  readonly now: Date;
  /** Called after each verified entry, for progress on long logs. */
  readonly onProgress?: (verified: number, total: number) => void;
}

export type VerifyLogResult =
  | { ok: true; head: LogHead | null; verified: number }
  | { ok: false; seq: number; problem: LogProblem; message: string };

type Failure = Extract<VerifyLogResult, { ok: false }>;

function fail(seq: number, problem: LogProblem, message: string): Failure {
  return { ok: false, seq, problem, message };
}

/** Index of the first root at or after `version` (roots are consecutive from version 1). */
function rootIndexFor(roots: readonly TrustRoot[], version: number | undefined): number {
  if (version === undefined) return 0;
  const index = roots.findIndex((root) => root.version === version);
  return index < 0 ? 0 : index;
}

/** Rule 5: the checkpoint is the server's and names exactly this entry. */
function checkpointProblem(entry: LogEntry, serverKey: Uint8Array): string | null {
  const { checkpoint } = entry.checkpoint;
  if (!verifyCheckpoint(entry.checkpoint, serverKey)) {
    return `the checkpoint of seq ${entry.seq} is not signed by the server key`;
  }
  const { app, channel } = entry.statement;
  if (checkpoint.app !== app || checkpoint.channel !== channel) {
    return `the checkpoint of seq ${entry.seq} is for ${checkpoint.app}/${checkpoint.channel}`;
  }
  if (checkpoint.seq !== entry.seq || checkpoint.head !== entry.id) {
    return `the checkpoint of seq ${entry.seq} names seq ${checkpoint.seq} head ${checkpoint.head}`;
  }
  // The application time decides which approvals were still valid (rule 6): it must be the one
  // the server signed, not a field anyone relaying the log could change.
  if (Date.parse(checkpoint.time) !== Date.parse(entry.appliedAt)) {
    return `the checkpoint of seq ${entry.seq} was signed at ${checkpoint.time}, but the entry says it was applied at ${entry.appliedAt}`;
  }
  return null;
}

/** Rule 6, automatic pause: the server's own signature over the statement's signed bytes. */
function serverSigValid(entry: LogEntry, serverKey: Uint8Array): boolean {
  if (entry.serverSig === undefined) return false;
  const signature = decodeSignature(entry.serverSig);
  return (
    signature !== null &&
    ed25519Verify(signature, statementSigningBytes(entry.statement), serverKey)
  );
}

/**
 * Rule 6, approvals: the lowest root at or after `fromIndex` under which the policy is satisfied at
 * the time the entry was applied, or the verdict of the root at `fromIndex` to explain the refusal.
 */
function judgeApprovals(
  entry: LogEntry,
  roots: readonly TrustRoot[],
  fromIndex: number,
): { ok: true; index: number } | { ok: false; verdict: Verdict; root: TrustRoot } {
  // Approvals must have been valid when applied: expiry of statement and root judged then.
  const now = new Date(entry.appliedAt);
  let first: { verdict: Verdict; root: TrustRoot } | null = null;
  for (let index = fromIndex; index < roots.length; index += 1) {
    const root = roots[index] as TrustRoot;
    const verdict = evaluatePolicy(entry.statement, entry.approvals, root, { now });
    if (verdict.satisfied) return { ok: true, index };
    first ??= { verdict, root };
  }
  if (first === null) throw new AirlockError('INVALID_INPUT', 'The root chain is empty.');
  return { ok: false, ...first };
}

interface Cursor {
  seq: number;
  head: string | null;
  rootIndex: number;
}

/** Rules 1–4 for one entry: position, scope, identity, chain. */
function structureProblem(
  entry: LogEntry,
  cursor: Cursor,
  scope: { app: string; channel: string },
): Failure | null {
  const expected = cursor.seq + 1;
  const { statement } = entry;
  if (entry.seq !== expected || statement.seq !== entry.seq) {
    return fail(
      entry.seq,
      'SEQ_GAP',
      `expected seq ${expected}, found entry seq ${entry.seq} holding statement seq ${statement.seq}`,
    );
  }
  if (statement.app !== scope.app || statement.channel !== scope.channel) {
    return fail(
      entry.seq,
      'APP_CHANNEL_MISMATCH',
      `seq ${entry.seq} is a statement for ${statement.app}/${statement.channel}, not ${scope.app}/${scope.channel}`,
    );
  }
  let id: string;
  try {
    id = statementId(statement);
  } catch (error) {
    const reason = error instanceof AirlockError ? error.message : 'it does not parse';
    return fail(entry.seq, 'STATEMENT_INVALID', `seq ${entry.seq}: ${reason}`);
  }
  if (id !== entry.id) {
    return fail(entry.seq, 'ID_MISMATCH', `seq ${entry.seq} claims id ${entry.id}, but is ${id}`);
  }
  if (statement.prev !== cursor.head) {
    return fail(
      entry.seq,
      'PREV_MISMATCH',
      `seq ${entry.seq} follows ${statement.prev ?? 'nothing'}, but the head before it is ${cursor.head ?? 'nothing'}`,
    );
  }
  return null;
}

/**
 * The index of the root the entry names, when it names one (ARCHITECTURE.md §11): the same number in
 * the entry and its signed checkpoint, a version the chain holds, not below the previous entry's.
 * `undefined` for an entry that names none (older servers), when that is allowed.
 */
function namedRootIndex(
  entry: LogEntry,
  cursor: Cursor,
  roots: readonly TrustRoot[],
  requireRootVersion: boolean,
): number | undefined | Failure {
  const named = entry.rootVersion;
  const signed = entry.checkpoint.checkpoint.rootVersion;
  if (named === undefined && signed === undefined) {
    if (!requireRootVersion) return undefined;
    return fail(
      entry.seq,
      'ROOT_VERSION_INVALID',
      `seq ${entry.seq} does not name the trust-root version it was applied under`,
    );
  }
  if (named !== signed) {
    return fail(
      entry.seq,
      'CHECKPOINT_INVALID',
      `seq ${entry.seq} says trust root version ${named ?? 'none'}, its checkpoint ${signed ?? 'none'}`,
    );
  }
  const index = roots.findIndex((root) => root.version === named);
  if (index < 0) {
    return fail(
      entry.seq,
      'ROOT_VERSION_INVALID',
      `seq ${entry.seq} was applied under trust root version ${named}, which the verified chain does not hold`,
    );
  }
  if (index < cursor.rootIndex) {
    return fail(
      entry.seq,
      'ROOT_VERSION_INVALID',
      `seq ${entry.seq} was applied under trust root version ${named}, older than version ${(roots[cursor.rootIndex] as TrustRoot).version} in force before it`,
    );
  }
  return index;
}

/** Rules 5–6 for one entry; moves `cursor.rootIndex` forward when a later root was needed. */
function authorityProblem(
  entry: LogEntry,
  cursor: Cursor,
  roots: readonly TrustRoot[],
  opts: VerifyLogOptions,
): Failure | null {
  const checkpoint = checkpointProblem(entry, opts.serverKey);
  if (checkpoint !== null) return fail(entry.seq, 'CHECKPOINT_INVALID', checkpoint);
  const named = namedRootIndex(entry, cursor, roots, opts.requireRootVersion === true);
  if (typeof named === 'object') return named;
  const serverKey = opts.serverKey;
  const { statement } = entry;
  if (statement.kind === 'pause' && statement.automatic === true) {
    // ARCHITECTURE.md §6: an automatic pause only reduces exposure; the server's signature is enough.
    if (serverSigValid(entry, serverKey)) {
      if (named !== undefined) cursor.rootIndex = named;
      return null;
    }
    return fail(
      entry.seq,
      'SERVER_SIG_INVALID',
      `the automatic pause at seq ${entry.seq} is not signed by the server key`,
    );
  }
  const judged =
    named === undefined
      ? judgeApprovals(entry, roots, cursor.rootIndex)
      : judgeApprovals(entry, roots.slice(0, named + 1), named);
  if (!judged.ok) {
    return fail(
      entry.seq,
      'POLICY_NOT_SATISFIED',
      `seq ${entry.seq} (${statement.kind}) was applied at ${entry.appliedAt} without enough valid approvals under trust root version ${judged.root.version}: ${judged.verdict.summary}`,
    );
  }
  cursor.rootIndex = judged.index;
  return null;
}

/**
 * Verifies log entries of one app/channel in order (rules in the module comment). Never throws on
 * bad entries: the first problem is returned with its seq and one sentence.
 * @example
 * const result = verifyLogEntries(page.entries, { roots, serverKey, previous: null, now: new Date() });
 * if (!result.ok) console.error(`seq ${result.seq}: ${result.message}`);
 */
export function verifyLogEntries(
  entries: readonly LogEntry[],
  opts: VerifyLogOptions,
): VerifyLogResult {
  const roots = opts.roots.map((signed) => signed.root);
  const previous = opts.previous ?? null;
  const cursor: Cursor = {
    seq: previous?.seq ?? 0,
    head: previous?.head ?? null,
    rootIndex: rootIndexFor(roots, previous?.rootVersion),
  };
  const firstStatement = entries[0]?.statement;
  const scope = {
    app: opts.app ?? firstStatement?.app ?? '',
    channel: opts.channel ?? firstStatement?.channel ?? '',
  };
  if (roots.length === 0) {
    return fail(cursor.seq + 1, 'POLICY_NOT_SATISFIED', 'there is no trust root to judge by');
  }
  let verified = 0;
  for (const entry of entries) {
    const problem =
      structureProblem(entry, cursor, scope) ?? authorityProblem(entry, cursor, roots, opts);
    if (problem !== null) return problem;
    cursor.seq = entry.seq;
    cursor.head = entry.id;
    verified += 1;
    opts.onProgress?.(verified, entries.length);
  }
  const head =
    cursor.head === null
      ? null
      : {
          seq: cursor.seq,
          head: cursor.head,
          rootVersion: (roots[cursor.rootIndex] as TrustRoot).version,
        };
  return { ok: true, head, verified };
}

// ---------------------------------------------------------------------------------------------
// The root chain

export type RootChainResult =
  | {
      ok: true;
      /** The newest root of the chain, trusted through it. */
      root: TrustRoot;
      /** Fingerprint of version 1: compare it out of band on first contact (ARCHITECTURE.md §4). */
      firstRootId: string;
      /** True when version 1 matched `pinnedRootId`; false on first contact (nothing pinned). */
      pinned: boolean;
    }
  | { ok: false; version: number; message: string };

// Link validity does not depend on the time of checking: an old, since expired version was valid
// when it was current. TUF 5.3.10 (freeze) applies to the newest root only, and policy evaluation
// already refuses approvals judged under an expired root (evaluatePolicy rule 2).
const LINK_TIME = new Date(0);

/**
 * Checks a root chain from version 1 (ARCHITECTURE.md §4). Version 1 carries no signatures (the server
 * holds no admin keys), so it is trusted by its pinned id, or on first use when nothing is pinned;
 * each later version must follow its predecessor through `verifyRootUpdate` (TUF 5.3.4–5.3.5:
 * version + 1, threshold of old and new admins). Never throws.
 * @example
 * const chain = verifyRootChain(rootChain.roots, pinnedRootId);
 * if (!chain.ok) fail(chain.message);
 */
export function verifyRootChain(
  roots: readonly SignedTrustRoot[],
  pinnedRootId?: string | null,
): RootChainResult {
  const first = roots[0];
  if (first === undefined) return { ok: false, version: 1, message: 'The root chain is empty.' };
  if (first.root.version !== 1) {
    return {
      ok: false,
      version: first.root.version,
      message: `The root chain starts at version ${first.root.version}, not 1.`,
    };
  }
  let firstRootId: string;
  try {
    firstRootId = rootId(first.root);
  } catch (error) {
    const reason = error instanceof AirlockError ? error.message : 'it is invalid';
    return { ok: false, version: 1, message: `Trust root version 1 is invalid: ${reason}` };
  }
  const pinned = pinnedRootId !== undefined && pinnedRootId !== null;
  if (pinned && firstRootId !== pinnedRootId) {
    return {
      ok: false,
      version: 1,
      message: `Trust root version 1 is ${firstRootId}, not the pinned ${pinnedRootId}.`,
    };
  }
  let current = first.root;
  for (const next of roots.slice(1)) {
    const verdict = verifyRootUpdate(current, next, LINK_TIME);
    if (!verdict.valid) {
      return {
        ok: false,
        version: next.root.version,
        message: `Trust root version ${next.root.version} does not follow version ${current.version}: ${verdict.reasons.join('; ')}.`,
      };
    }
    current = next.root;
  }
  return { ok: true, root: current, firstRootId, pinned };
}

// ---------------------------------------------------------------------------------------------
// Checkpoints

/**
 * How a fresh checkpoint relates to one already trusted (ARCHITECTURE.md §3): `same` position and head;
 * `ahead` (the log grew: verify the new entries from the known head to see that it extends it);
 * `fork` (two heads for one seq); `rollback` (seq went backwards). Both checkpoints must already be
 * verified with the server key. Throws AirlockError INVALID_INPUT for checkpoints of different logs.
 * @example if (compareCheckpoints(stored, fresh) === 'fork') alarm();
 */
export function compareCheckpoints(
  known: SignedCheckpoint,
  fresh: SignedCheckpoint,
): 'same' | 'ahead' | 'fork' | 'rollback' {
  const a = known.checkpoint;
  const b = fresh.checkpoint;
  if (a.app !== b.app || a.channel !== b.channel) {
    throw new AirlockError(
      'INVALID_INPUT',
      `Checkpoints of ${a.app}/${a.channel} and ${b.app}/${b.channel} cannot be compared.`,
    );
  }
  if (b.seq < a.seq) return 'rollback';
  if (b.seq > a.seq) return 'ahead';
  return a.head === b.head ? 'same' : 'fork';
}

/**
 * The raw server key of a root-chain answer: a valid point whose id is the listed one. Throws
 * AirlockError KEY_INVALID otherwise.
 * @example const serverKey = serverKeyBytes(chain.server);
 */
export function serverKeyBytes(server: { keyId: string; publicKey: string }): Uint8Array {
  const bytes = parseIdentityPublicKey(server.publicKey);
  if (identityKeyId(bytes) !== server.keyId) {
    throw new AirlockError('KEY_INVALID', 'The server key does not match its key id.');
  }
  return bytes;
}
