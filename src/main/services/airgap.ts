import { canonicalize } from '../../core/crypto';
import { AirlockError } from '../../core/errors';
import { evaluatePolicy, findPolicy, type Verdict } from '../../core/policy';
import {
  createApproval,
  hasExpired,
  rootId,
  statementId,
  trustedMembers,
  verifyApproval,
  type IdentitySigner,
} from '../../core/statement';
import type { FileListDiff } from '../../core/bundle';
import type { ErrorCode } from '../../shared/errors';
import { MAX_FILE_TEXT_BYTES } from '../../shared/files';
import {
  APPROVAL_FILE_FORMAT,
  ApprovalFileSchema,
  SIGNING_REQUEST_FORMAT,
  SigningRequestSchema,
  type Approval,
  type ApprovalFile,
  type RequestSummary,
  type SignedTrustRoot,
  type SigningRequest,
  type Statement,
  type TrustRoot,
} from '../../shared/schemas';

/**
 * Air-gapped approval by file (ARCHITECTURE.md §5). The proposer's console writes a signing request; an
 * officer's console that has never seen a network reviews it, verifies what can be verified
 * offline, signs with the keychain key and writes an approval file; the online console imports it.
 * Every file is read as hostile: strict schemas, ids recomputed, signatures checked, and a summary
 * that disagrees with the statement it summarizes is refused (a reviewer must not be misled).
 */

/** Limit on request and approval files: statements and approvals are small (ARCHITECTURE.md §5). */
export const MAX_FILE_BYTES = MAX_FILE_TEXT_BYTES;

export interface SummaryExtras {
  /** The version the channel runs now, when the proposer's console knows it. */
  readonly currentVersion?: string | null;
  /** The file-list difference against the current release, when both file lists are known. */
  readonly fileDiff?: FileListDiff | null;
  /** For a rollback: the version it returns to, when known. */
  readonly targetVersion?: string;
}

/** The human summary of `statement`, from the statement itself plus what only the console knows. */
export function summarizeStatement(
  statement: Statement,
  extras: SummaryExtras = {},
): RequestSummary {
  const base = {
    app: statement.app,
    channel: statement.channel,
    kind: statement.kind,
    currentVersion: extras.currentVersion ?? null,
  };
  switch (statement.kind) {
    case 'release': {
      const { release } = statement;
      return {
        ...base,
        version: release.version,
        rolloutPercent: release.rollout.percent,
        bundleSize: release.bundle.size,
        encryptedSize: release.bundle.encryptedSize,
        files: release.bundle.files,
        fileDiff: extras.fileDiff ?? null,
        ...(release.notes === undefined ? {} : { notes: release.notes }),
      };
    }
    case 'rollout':
      return { ...base, rolloutPercent: statement.rollout.percent };
    case 'rollback':
      return extras.targetVersion === undefined ? base : { ...base, version: extras.targetVersion };
    default:
      return base;
  }
}

export interface CreateRequestInput {
  readonly statement: Statement;
  readonly approvals: readonly Approval[];
  readonly root: SignedTrustRoot;
  readonly server: string | null;
  readonly extras?: SummaryExtras;
  readonly now?: Date;
}

/** A signing request for `statement`, ready to be written to a `*.airlock-request.json` file. */
export function createSigningRequest(input: CreateRequestInput): SigningRequest {
  const { statement, root } = input;
  return {
    format: SIGNING_REQUEST_FORMAT,
    v: 1,
    statementId: statementId(statement),
    statement,
    approvals: [...input.approvals],
    root,
    policy: findPolicy(root.root, statement.app, statement.channel, statement.kind),
    summary: summarizeStatement(statement, input.extras),
    server: input.server,
    createdAt: (input.now ?? new Date()).toISOString(),
  };
}

/** What a reviewer sees before signing. */
export interface RequestReview {
  readonly request: SigningRequest;
  /** The trust root's fingerprint, to compare out of band with the server's. */
  readonly rootId: string;
  /** `match`/`mismatch` when this console pinned a root for the same server; else `unknown`. */
  readonly rootPinned: 'match' | 'mismatch' | 'unknown';
  readonly verdict: Verdict;
  readonly expired: boolean;
  /** Things the reviewer should know that are not errors. */
  readonly notes: string[];
}

function fail(code: ErrorCode, message: string): never {
  throw new AirlockError(code, message);
}

function parseJsonFile(text: string, code: ErrorCode, what: string): unknown {
  if (Buffer.byteLength(text) > MAX_FILE_BYTES) fail(code, `The ${what} is larger than 8 MiB.`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return fail(code, `The ${what} is not JSON.`);
  }
}

function firstIssue(error: {
  issues: readonly { path: readonly PropertyKey[]; message: string }[];
}): string {
  const issue = error.issues[0];
  if (issue === undefined) return 'is malformed';
  const field = issue.path.map(String).join('.');
  return field === '' ? issue.message : `field "${field}": ${issue.message}`;
}

/** Fields of the summary that follow from the statement: a mismatch means the file was edited. */
function checkSummary(request: SigningRequest): void {
  const derived = summarizeStatement(request.statement);
  const shown = request.summary as Record<string, unknown>;
  for (const [field, value] of Object.entries(derived)) {
    if (field === 'currentVersion' || field === 'fileDiff' || field === 'version') continue;
    if (canonicalize(shown[field] ?? null) !== canonicalize(value ?? null)) {
      fail(
        'REQUEST_FILE_INVALID',
        `The request's summary says ${field} is ${JSON.stringify(shown[field])} but the statement says ${JSON.stringify(value)}: the file was altered.`,
      );
    }
  }
  if (
    request.statement.kind === 'release' &&
    shown['version'] !== request.statement.release.version
  ) {
    fail(
      'REQUEST_FILE_INVALID',
      "The request's summary shows another version than its statement: the file was altered.",
    );
  }
}

/** Each gathered approval must be a valid signature, over this statement, by a distinct member. */
function checkGatheredApprovals(request: SigningRequest): void {
  const members = trustedMembers(request.root.root);
  const seen = new Set<string>();
  for (const approval of request.approvals) {
    if (approval.statement !== request.statementId) {
      fail(
        'REQUEST_FILE_INVALID',
        `The request carries an approval for another statement (${approval.statement.slice(0, 12)}…).`,
      );
    }
    if (seen.has(approval.keyId)) {
      fail(
        'REQUEST_FILE_INVALID',
        `The request carries two approvals by key ${approval.keyId.slice(0, 16)}.`,
      );
    }
    seen.add(approval.keyId);
    const member = members.get(approval.keyId);
    if (member === undefined || !verifyApproval(request.statement, approval, member.publicKey)) {
      fail(
        'REQUEST_FILE_INVALID',
        `The request carries an approval by ${approval.keyId.slice(0, 16)} whose signature does not verify: the file was altered.`,
      );
    }
  }
}

/**
 * Reads a signing request and verifies everything that can be verified offline: the strict format,
 * the statement id (recomputed), the summary against the statement, the policy against the root,
 * and every gathered approval. Throws AirlockError REQUEST_FILE_INVALID with one sentence.
 * @example const review = reviewSigningRequest(await readFile('r.airlock-request.json', 'utf8'), { now: new Date() });
 */
export function reviewSigningRequest(
  text: string,
  opts: { now: Date; pinnedRootIds?: readonly string[] },
): RequestReview {
  const raw = parseJsonFile(text, 'REQUEST_FILE_INVALID', 'signing request');
  if (
    typeof raw === 'object' &&
    raw !== null &&
    (raw as { format?: unknown }).format === APPROVAL_FILE_FORMAT
  ) {
    fail(
      'REQUEST_FILE_INVALID',
      'This is an approval file, not a signing request: import it on the console that proposed the release.',
    );
  }
  const parsed = SigningRequestSchema.safeParse(raw);
  if (!parsed.success)
    fail('REQUEST_FILE_INVALID', `The signing request is invalid: ${firstIssue(parsed.error)}.`);
  const request = parsed.data;
  // ARCHITECTURE.md §3: an approval binds the exact statement; its id is always recomputed, never trusted.
  if (statementId(request.statement) !== request.statementId) {
    fail(
      'REQUEST_FILE_INVALID',
      'The statement in the request does not match its id: the file was altered.',
    );
  }
  checkSummary(request);
  const policy = findPolicy(
    request.root.root,
    request.statement.app,
    request.statement.channel,
    request.statement.kind,
  );
  if (canonicalize(policy) !== canonicalize(request.policy)) {
    fail(
      'REQUEST_FILE_INVALID',
      "The policy shown in the request is not the trust root's policy for this statement: the file was altered.",
    );
  }
  checkGatheredApprovals(request);
  const id = rootId(request.root.root);
  const pinned = opts.pinnedRootIds ?? [];
  const notes: string[] = [];
  if (request.summary.fileDiff !== null && request.summary.fileDiff !== undefined) {
    notes.push(
      "The file-list difference comes from the proposer's console; it cannot be checked without the bundle.",
    );
  }
  return {
    request,
    rootId: id,
    rootPinned: pinned.length === 0 ? 'unknown' : pinned.includes(id) ? 'match' : 'mismatch',
    verdict: evaluatePolicy(request.statement, request.approvals, request.root.root, {
      now: opts.now,
    }),
    expired: hasExpired(request.statement.expiresAt, opts.now),
    notes,
  };
}

/**
 * Signs a reviewed request with `signer` and returns the approval file. Refuses what could not
 * count (ARCHITECTURE.md §3): an expired statement, the proposer's own approval when the policy excludes it,
 * a key that is not a member holding a role the policy counts, and a second approval by one key.
 */
export async function approveSigningRequest(
  review: RequestReview,
  signer: IdentitySigner,
  opts: { now: Date; name?: string | null },
): Promise<ApprovalFile> {
  const { request } = review;
  if (review.expired)
    fail(
      'STATEMENT_INVALID',
      `The statement expired at ${request.statement.expiresAt}; approvals for it cannot count.`,
    );
  if (review.rootPinned === 'mismatch') {
    fail(
      'REQUEST_FILE_INVALID',
      "The request's trust root is not the one this console pinned for that server.",
    );
  }
  if (request.approvals.some((approval) => approval.keyId === signer.keyId)) {
    fail('DUPLICATE_APPROVAL', 'This key has already approved this statement.');
  }
  const member = trustedMembers(request.root.root).get(signer.keyId);
  if (member === undefined)
    fail('KEY_NOT_FOUND', 'This identity key is not a member of the trust root in the request.');
  const policy = request.policy;
  if (policy !== null && !policy.roles.some((role) => member.roles.has(role))) {
    fail(
      'INVALID_ARGUMENT',
      `Your roles (${[...member.roles].join(', ')}) do not count for this policy, which needs one of: ${policy.roles.join(', ')}.`,
    );
  }
  if (policy !== null && !policy.proposerCounts && signer.keyId === request.statement.proposer) {
    fail(
      'INVALID_ARGUMENT',
      "The proposer's own approval does not count for this policy: another person must approve.",
    );
  }
  const approval = await createApproval(request.statement, signer);
  return {
    format: APPROVAL_FILE_FORMAT,
    v: 1,
    statementId: request.statementId,
    approval,
    approver: { keyId: signer.keyId, name: opts.name ?? null },
    createdAt: opts.now.toISOString(),
  };
}

/**
 * Reads an approval file for `statement`: strict format, for exactly this statement, signed by a
 * member of `root`. Throws AirlockError APPROVAL_FILE_INVALID (or DUPLICATE_APPROVAL when `known`
 * already holds an approval by that key).
 */
export function readApprovalFile(
  text: string,
  statement: Statement,
  root: TrustRoot,
  known: readonly Approval[] = [],
): Approval {
  const raw = parseJsonFile(text, 'APPROVAL_FILE_INVALID', 'approval file');
  const parsed = ApprovalFileSchema.safeParse(raw);
  if (!parsed.success)
    fail('APPROVAL_FILE_INVALID', `The approval file is invalid: ${firstIssue(parsed.error)}.`);
  const file = parsed.data;
  const id = statementId(statement);
  if (file.statementId !== id || file.approval.statement !== id) {
    fail(
      'APPROVAL_FILE_INVALID',
      `The approval is for statement ${file.statementId.slice(0, 12)}…, not ${id.slice(0, 12)}….`,
    );
  }
  if (file.approver.keyId !== file.approval.keyId) {
    fail(
      'APPROVAL_FILE_INVALID',
      'The approval file names another approver than the one who signed: the file was altered.',
    );
  }
  const member = trustedMembers(root).get(file.approval.keyId);
  if (member === undefined)
    fail(
      'APPROVAL_FILE_INVALID',
      'The approval is signed by a key that is not a member of the trust root.',
    );
  if (!verifyApproval(statement, file.approval, member.publicKey)) {
    fail('APPROVAL_FILE_INVALID', 'The approval signature does not verify: the file was altered.');
  }
  if (known.some((approval) => approval.keyId === file.approval.keyId)) {
    fail(
      'DUPLICATE_APPROVAL',
      `Key ${file.approval.keyId.slice(0, 16)} has already approved this statement.`,
    );
  }
  return file.approval;
}
