/**
 * Approval policy evaluation (ARCHITECTURE.md §3 "Policy", ARCHITECTURE.md rule 9): (statement, approvals, trust root)
 * → verdict with reasons, as one pure function without I/O.
 *
 * The rules, each a check below:
 *
 * 1. Policy lookup. The policy is the most specific one in the root for the statement's kind, app and
 *    channel: an exact name beats a prefix glob (`com.example.*`, longer prefix first), which beats
 *    `*`; the app pattern decides before the channel pattern. No policy: not satisfied.
 *    Rollout statements always use the `rollout` policy: whether a change raises or lowers exposure is
 *    not in the statement itself. `opts.context.previousRolloutPercent` is accepted for a later
 *    "break glass" rule for decreases (ARCHITECTURE.md §3) and does not change the verdict today.
 * 2. Time. A statement is void from its `expiresAt` on (now ≥ expiresAt); a root likewise. An
 *    unparseable time counts as expired (ARCHITECTURE.md §11).
 * 3. Counting. An approval counts only if it names this statement's id (recomputed, never taken from
 *    the approval); its key id belongs to a member of the root, where member ids are recomputed from
 *    the member's public key, so a listed id that is not the key's hash is ignored and a key listed
 *    twice is one member (the TUF key-id threshold-bypass bug class); its signature verifies strictly
 *    (RFC 8032 §5.1.7); its key has not been seen with a valid signature already (one key, one vote);
 *    the member holds one of the policy's `roles`; and it is not the proposer's own approval unless
 *    `proposerCounts` is true. Unknown and revoked (removed) keys are simply not members.
 * 4. Satisfied when the statement and the root are current, the number of distinct counted keys is at
 *    least `threshold`, and for each `require[role]` at least that many counted keys hold `role`.
 *
 * Model: tuf-js `Metadata.verifyDelegate` (a Set of key ids against a threshold) and sigstore
 * `policy.ts` (one check per rule).
 */
import type {
  Approval,
  Policy,
  Role,
  Statement,
  StatementKind,
  TrustRoot,
} from '../../shared/schemas';
import {
  decodeSignature,
  hasExpired,
  statementId,
  statementSigningBytes,
  trustedMembers,
  type TrustedMember,
} from '../statement';
import { ed25519Verify, sha256Hex } from '../crypto';

/** The outcome of `evaluatePolicy`. `reasons` is empty exactly when `satisfied` is true. */
export interface Verdict {
  readonly satisfied: boolean;
  /** Distinct approvals the policy needs (0 when no policy applies). */
  readonly threshold: number;
  /** Key ids (recomputed) whose approvals count, in the order given. */
  readonly counted: string[];
  /** Approvals that do not count, with why. */
  readonly rejected: { keyId: string; reason: string }[];
  /** Role → approvals still needed from that role to meet the policy's `require` minimums. */
  readonly missingRoles: Record<string, number>;
  /** Why the verdict is not satisfied, one phrase each. */
  readonly reasons: string[];
  /** One line for people, e.g. "1/2 approvals: missing signing_officer". */
  readonly summary: string;
}

/** Facts about the log that the statement alone does not carry. */
export interface PolicyContext {
  /** Rollout percent in force before a `rollout` statement (reserved; see rule 1). */
  readonly previousRolloutPercent?: number;
}

export interface EvaluateOptions {
  /** The time to judge expiry at; the function never reads the clock itself. */
  readonly now: Date;
  readonly context?: PolicyContext;
}

/** Specificity of `pattern` for `name`: higher is more specific; null when it does not match. */
function matchRank(pattern: string, name: string): [number, number] | null {
  if (pattern === '*') return [0, 0];
  if (pattern.endsWith('*')) {
    const prefix = pattern.slice(0, -1);
    return name.startsWith(prefix) ? [1, prefix.length] : null;
  }
  return pattern === name ? [2, name.length] : null;
}

function compareRanks(a: readonly number[], b: readonly number[]): number {
  for (let index = 0; index < a.length; index += 1) {
    const difference = (a[index] ?? 0) - (b[index] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}

/**
 * The most specific policy of `root` for `kind` on `app`/`channel` (rule 1), or null. On a tie,
 * which a parsed root cannot contain, the first listed wins.
 * @example findPolicy(root, 'com.example.app', 'production', 'release')?.threshold // 2
 */
export function findPolicy(
  root: TrustRoot,
  app: string,
  channel: string,
  kind: StatementKind,
): Policy | null {
  let best: { policy: Policy; rank: number[] } | null = null;
  for (const policy of root.policies) {
    if (policy.kind !== kind) continue;
    const appRank = matchRank(policy.app, app);
    const channelRank = matchRank(policy.channel, channel);
    if (appRank === null || channelRank === null) continue;
    const rank = [...appRank, ...channelRank];
    if (best === null || compareRanks(rank, best.rank) > 0) best = { policy, rank };
  }
  return best?.policy ?? null;
}

interface Expected {
  readonly id: string;
  readonly bytes: Uint8Array;
}

type Authenticity = { ok: true; member: TrustedMember } | { ok: false; reason: string };

/** Rule 3, first half: is this a genuine approval of this statement by a member? */
function authenticate(
  approval: Approval,
  expected: Expected,
  members: ReadonlyMap<string, TrustedMember>,
): Authenticity {
  // Attacker-controlled input. Ids are public values: plain comparison is fine.
  if (approval.statement !== expected.id) {
    return { ok: false, reason: 'approval is for another statement' };
  }
  const member = members.get(approval.keyId);
  if (member === undefined) return { ok: false, reason: 'key is not a member of the trust root' };
  const signature = decodeSignature(approval.sig);
  if (signature === null) return { ok: false, reason: 'signature is not base64 of 64 bytes' };
  // RFC 8032 §5.1.7, strict: S < L, canonical points, no small-order key.
  if (!ed25519Verify(signature, expected.bytes, member.publicKey)) {
    return { ok: false, reason: 'signature does not verify' };
  }
  return { ok: true, member };
}

/** Rule 3, second half: may this member's approval count under `policy`? */
function eligibilityProblem(
  member: TrustedMember,
  policy: Policy,
  proposer: string,
): string | null {
  if (!policy.roles.some((role) => member.roles.has(role))) {
    return `role does not count: needs ${policy.roles.join(' or ')}`;
  }
  if (member.keyId === proposer && !policy.proposerCounts) {
    return "the proposer's own approval does not count";
  }
  return null;
}

function countApprovals(
  statement: Statement,
  approvals: readonly Approval[],
  members: ReadonlyMap<string, TrustedMember>,
  policy: Policy,
): Pick<Verdict, 'counted' | 'rejected'> {
  const bytes = statementSigningBytes(statement);
  const expected: Expected = { id: sha256Hex(bytes), bytes };
  // Keys already seen with a valid signature: one key, one vote, whatever the first one's fate.
  const seen = new Set<string>();
  const counted: string[] = [];
  const rejected: { keyId: string; reason: string }[] = [];
  for (const approval of approvals) {
    const check = authenticate(approval, expected, members);
    if (!check.ok) {
      rejected.push({ keyId: String(approval.keyId), reason: check.reason });
      continue;
    }
    const { keyId } = check.member;
    const reason = seen.has(keyId)
      ? 'duplicate approval from the same key'
      : eligibilityProblem(check.member, policy, statement.proposer);
    seen.add(keyId);
    if (reason === null) counted.push(keyId);
    else rejected.push({ keyId, reason });
  }
  return { counted, rejected };
}

/** Role → shortfall against `policy.require`, counted over keys that count (rule 4). */
function missingRoleMinimums(
  policy: Policy,
  counted: readonly string[],
  members: ReadonlyMap<string, TrustedMember>,
): Record<string, number> {
  const missing: Record<string, number> = {};
  const minimums = Object.entries(policy.require ?? {}) as [Role, number | undefined][];
  for (const [role, minimum] of minimums) {
    const have = counted.filter((keyId) => members.get(keyId)?.roles.has(role) === true).length;
    if (minimum !== undefined && have < minimum) missing[role] = minimum - have;
  }
  return missing;
}

interface Findings {
  /** Full phrases for `Verdict.reasons`. */
  readonly reasons: string[];
  /** Short phrases for the summary line. */
  readonly problems: string[];
}

/** Rule 2: a statement and a root are void from their `expiresAt` on. */
function timeFindings(statement: Statement, root: TrustRoot, now: Date): Findings {
  const findings: Findings = { reasons: [], problems: [] };
  if (hasExpired(statement.expiresAt, now)) {
    findings.reasons.push(`statement expired at ${statement.expiresAt}`);
    findings.problems.push('statement expired');
  }
  if (hasExpired(root.expiresAt, now)) {
    findings.reasons.push(`trust root version ${root.version} expired at ${root.expiresAt}`);
    findings.problems.push('trust root expired');
  }
  return findings;
}

/** Rule 4: the threshold and the role minimums, phrased as "k/M" (ARCHITECTURE.md rule 9). */
function countFindings(
  counted: number,
  threshold: number,
  missingRoles: Record<string, number>,
): Findings {
  const findings: Findings = { reasons: [], problems: [] };
  let missingFromRoles = 0;
  for (const [role, missing] of Object.entries(missingRoles)) {
    missingFromRoles += missing;
    findings.reasons.push(`needs ${missing} more approval${plural(missing)} from role ${role}`);
    findings.problems.push(`missing ${missing === 1 ? '' : `${missing} `}${role}`);
  }
  if (counted < threshold) {
    findings.reasons.push(`${counted}/${threshold} distinct approvals count`);
    const extra = threshold - counted - missingFromRoles;
    if (extra > 0) {
      const more = missingFromRoles > 0 ? 'more ' : '';
      findings.problems.push(`missing ${extra} ${more}approval${plural(extra)}`);
    }
  }
  return findings;
}

function plural(count: number): string {
  return count === 1 ? '' : 's';
}

function noPolicyVerdict(statement: Statement, approvals: readonly Approval[]): Verdict {
  // Still validate the statement, so that a malformed one never gets a quiet "no policy".
  statementId(statement);
  const reason = `no policy for ${statement.kind} on ${statement.app}/${statement.channel}`;
  return {
    satisfied: false,
    threshold: 0,
    counted: [],
    rejected: approvals.map((approval) => ({ keyId: String(approval.keyId), reason })),
    missingRoles: {},
    reasons: [reason],
    summary: reason,
  };
}

/**
 * Evaluates `approvals` of `statement` against the policy of `root` at `opts.now` (rules in the
 * module comment). Never throws on a bad approval; throws AirlockError STATEMENT_INVALID only when
 * `statement` itself is malformed.
 * @example
 * const verdict = evaluatePolicy(statement, approvals, root, { now: new Date() });
 * verdict.summary // "1/2 approvals: missing signing_officer"
 */
export function evaluatePolicy(
  statement: Statement,
  approvals: readonly Approval[],
  root: TrustRoot,
  opts: EvaluateOptions,
): Verdict {
  const policy = findPolicy(root, statement.app, statement.channel, statement.kind);
  if (policy === null) return noPolicyVerdict(statement, approvals);
  // Defence in depth for an unparsed root: a threshold below 1 must not mean "no approval needed".
  const threshold = Math.max(1, policy.threshold);
  const members = trustedMembers(root);
  const { counted, rejected } = countApprovals(statement, approvals, members, policy);
  const missingRoles = missingRoleMinimums(policy, counted, members);
  const time = timeFindings(statement, root, opts.now);
  const count = countFindings(counted.length, threshold, missingRoles);
  const reasons = [...time.reasons, ...count.reasons];
  const problems = [...time.problems, ...count.problems];
  return {
    satisfied: reasons.length === 0,
    threshold,
    counted,
    rejected,
    missingRoles,
    reasons,
    summary: `${counted.length}/${threshold} approvals: ${
      problems.length === 0 ? 'satisfied' : problems.join('; ')
    }`,
  };
}
