import { canonicalize } from '../../core/crypto';
import { AirlockError } from '../../core/errors';
import { serverKeyBytes, verifyCheckpoint, verifyRootChain } from '../../core/log';
import {
  approvalCountingProblem,
  evaluatePolicy,
  findPolicy,
  type Verdict,
} from '../../core/policy';
import {
  createApproval,
  hasExpired,
  rootId,
  statementId,
  trustedMembers,
  verifyApproval,
  type IdentitySigner,
} from '../../core/statement';
import {
  diffFileLists,
  fileListSha256,
  type BundleFile,
  type FileListDiff,
} from '../../core/bundle';
import type { ErrorCode } from '../../shared/errors';
import { MAX_FILE_TEXT_BYTES } from '../../shared/files';
import {
  APPROVAL_FILE_FORMAT,
  ApprovalFileSchema,
  SIGNING_REQUEST_FORMAT,
  SIGNING_REQUEST_VERSION,
  SigningRequestSchema,
  type Approval,
  type ApprovalFile,
  type BundleRef,
  type LogEntry,
  type RequestEvidence,
  type RequestSummary,
  type ServerKey,
  type SignedTrustRoot,
  type SigningRequest,
  type Statement,
  type TrustRoot,
} from '../../shared/schemas';
import type { ServerRecord } from '../db/repositories/servers.repo';

/**
 * Air-gapped approval by file (ARCHITECTURE.md §5). The proposer's console writes a signing request
 * from verified facts only; an officer's console that has never seen a network reviews it,
 * verifies everything that can be verified offline, signs with the keychain key and writes an
 * approval file; the online console imports it. Every file is read as hostile:
 *
 * 1. strict schemas: a field nobody checks is refused, with its name;
 * 2. the statement id is recomputed, never trusted;
 * 3. the trust-root chain is verified link by link (N → N+1, both thresholds) and compared with
 *    the chain this console pinned for that server: it must extend it (`match`), not differ from it
 *    (`mismatch`) nor lag behind it (`stale`); an unknown server needs the fingerprint given out of
 *    band before anyone may sign;
 * 4. the evidence (the release the head runs, a rollback's target) is server-signed log entries,
 *    each with its id recomputed and its checkpoint verified;
 * 5. the summary is derived again from the statement and the evidence and must equal the file's in
 *    every field, so nothing shown is taken on trust (notes only from the statement, the version of
 *    a rollback only from its verified target); the file-list difference, which needs both
 *    bundles, is the proposer console's and is shown as such;
 * 6. the policy must be the newest root's for this statement; every gathered approval verifies.
 */

/** Limit on request and approval files: statements and approvals are small (ARCHITECTURE.md §5). */
export const MAX_FILE_BYTES = MAX_FILE_TEXT_BYTES;

function fail(code: ErrorCode, message: string): never {
  throw new AirlockError(code, message);
}

function invalid(message: string): never {
  return fail('REQUEST_FILE_INVALID', message);
}

/** The release statement of an entry, or null. */
function releaseOf(entry: LogEntry | null): Extract<Statement, { kind: 'release' }> | null {
  return entry !== null && entry.statement.kind === 'release' ? entry.statement : null;
}

/** The bundle devices would get after `statement`: the release's, or the rollback target's. */
function nextBundle(statement: Statement, evidence: RequestEvidence): BundleRef | null {
  if (statement.kind === 'release') return statement.release.bundle;
  return statement.kind === 'rollback'
    ? (releaseOf(evidence.target)?.release.bundle ?? null)
    : null;
}

/**
 * The summary of `statement` from the statement itself and the evidence (rule 5), the file-list
 * difference included (from the evidence's lists, checked by checkEvidence).
 */
export function summarizeRequest(statement: Statement, evidence: RequestEvidence): RequestSummary {
  const { files } = evidence;
  // A first release (nothing runs on the channel yet) is compared with no files: all are added.
  const before = evidence.current === null ? [] : files.current;
  const fileDiff: FileListDiff | null =
    before === null || files.next === null ? null : diffFileLists(before, files.next);
  const current = releaseOf(evidence.current);
  const replaces =
    current === null || evidence.current === null
      ? null
      : { version: current.release.version, statementId: evidence.current.id };
  const base = { app: statement.app, channel: statement.channel, kind: statement.kind };
  switch (statement.kind) {
    case 'release': {
      const { release } = statement;
      return {
        ...base,
        version: release.version,
        minNativeVersion: release.minNativeVersion,
        rolloutPercent: release.rollout.percent,
        ...(release.notes === undefined ? {} : { notes: release.notes }),
        bundle: {
          sha256: release.bundle.sha256,
          encryptedSha256: release.bundle.encryptedSha256,
          size: release.bundle.size,
          encryptedSize: release.bundle.encryptedSize,
          files: release.bundle.files,
        },
        replaces,
        fileDiff,
      };
    }
    case 'rollback': {
      const target = releaseOf(evidence.target);
      return {
        ...base,
        ...(target === null
          ? {}
          : {
              version: target.release.version,
              bundle: {
                sha256: target.release.bundle.sha256,
                encryptedSha256: target.release.bundle.encryptedSha256,
                size: target.release.bundle.size,
                encryptedSize: target.release.bundle.encryptedSize,
                files: target.release.bundle.files,
              },
            }),
        replaces,
        fileDiff,
      };
    }
    case 'rollout':
      return { ...base, rolloutPercent: statement.rollout.percent };
    default:
      return base;
  }
}

export interface CreateRequestInput {
  readonly statement: Statement;
  readonly approvals: readonly Approval[];
  /** The server's verified chain, version 1 first. */
  readonly roots: readonly SignedTrustRoot[];
  readonly serverKey: ServerKey;
  readonly server: string;
  readonly evidence: RequestEvidence;
  readonly now?: Date;
}

/** A signing request for `statement`, ready to be written to a `*.airlock-request.json` file. */
export function createSigningRequest(input: CreateRequestInput): SigningRequest {
  const { statement } = input;
  const newest = input.roots.at(-1);
  if (newest === undefined) fail('INTERNAL', 'A signing request needs the trust-root chain.');
  return {
    format: SIGNING_REQUEST_FORMAT,
    v: SIGNING_REQUEST_VERSION,
    statementId: statementId(statement),
    statement,
    approvals: [...input.approvals],
    roots: [...input.roots],
    serverKey: input.serverKey,
    policy: findPolicy(newest.root, statement.app, statement.channel, statement.kind),
    evidence: input.evidence,
    summary: summarizeRequest(statement, input.evidence),
    server: input.server,
    createdAt: (input.now ?? new Date()).toISOString(),
  };
}

/** How the request's trust-root chain compares with the one this console pinned for its server. */
export type RootComparison = 'match' | 'mismatch' | 'stale' | 'unknown';

/** What a reviewer sees before signing. */
export interface RequestReview {
  readonly request: SigningRequest;
  /** The summary derived here (equal to the file's, or the review would have been refused). */
  readonly summary: RequestSummary;
  /** Trust root version 1's id: the server's fingerprint, to compare out of band. */
  readonly rootId: string;
  /** The newest root of the request's chain (approvals are judged by it). */
  readonly root: TrustRoot;
  readonly rootPinned: RootComparison;
  /** Why the comparison came out as it did, in one sentence. */
  readonly rootMessage: string;
  readonly verdict: Verdict;
  readonly expired: boolean;
  /** Things the reviewer should know that are not errors. */
  readonly notes: string[];
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
  issues: readonly {
    path: readonly PropertyKey[];
    message: string;
    code?: string;
    keys?: readonly string[];
  }[];
}): string {
  const issue = error.issues[0];
  if (issue === undefined) return 'is malformed';
  const path = issue.path.map(String);
  // Rule 1: a field nobody checks is named, so the reviewer knows what was added to the file.
  if (issue.code === 'unrecognized_keys' && issue.keys !== undefined && issue.keys.length > 0) {
    return `field "${[...path, issue.keys[0]].join('.')}" is not part of a signing request`;
  }
  const field = path.join('.');
  return field === '' ? issue.message : `field "${field}": ${issue.message}`;
}

/** Rule 4: an evidence entry is a server-signed log entry of this channel. */
function checkEvidenceEntry(
  entry: LogEntry,
  what: string,
  statement: Statement,
  serverKey: Uint8Array,
): void {
  if (statementId(entry.statement) !== entry.id) {
    invalid(`The ${what} in the request does not match its id: the file was altered.`);
  }
  if (entry.statement.app !== statement.app || entry.statement.channel !== statement.channel) {
    invalid(`The ${what} in the request is from another app or channel.`);
  }
  if (entry.statement.kind !== 'release') invalid(`The ${what} in the request is not a release.`);
  const { checkpoint } = entry.checkpoint;
  if (
    !verifyCheckpoint(entry.checkpoint, serverKey) ||
    checkpoint.head !== entry.id ||
    checkpoint.seq !== entry.seq
  ) {
    invalid(`The ${what} in the request is not signed by the server: the file was altered.`);
  }
}

function checkEvidence(request: SigningRequest): void {
  const key = serverKeyBytes(request.serverKey);
  const { current, target } = request.evidence;
  if (current !== null) checkEvidenceEntry(current, 'current release', request.statement, key);
  if (request.statement.kind === 'rollback') {
    if (target === null) invalid('A rollback request must carry the release it returns to.');
    checkEvidenceEntry(target, 'rollback target', request.statement, key);
    if (target.id !== request.statement.target) {
      invalid(
        'The rollback target in the request is not the release the statement names: the file was altered.',
      );
    }
  } else if (target !== null) {
    invalid('Only a rollback request carries a rollback target.');
  }
  checkFileList(
    request.evidence.files.current,
    releaseOf(current)?.release.bundle ?? null,
    'current release',
  );
  checkFileList(
    request.evidence.files.next,
    nextBundle(request.statement, request.evidence),
    request.statement.kind === 'rollback' ? 'rollback target' : 'release',
  );
}

/** A file list in the evidence must be the one its approved statement names (by its SHA-256). */
function checkFileList(
  files: readonly BundleFile[] | null,
  bundle: BundleRef | null,
  what: string,
): void {
  if (files === null) return;
  if (bundle === null) invalid(`The request carries a file list for a ${what} it does not have.`);
  if (bundle.fileListSha256 === undefined || fileListSha256(files) !== bundle.fileListSha256) {
    invalid(
      `The file list of the ${what} in the request is not the one its statement names: the file was altered.`,
    );
  }
}

/** Rule 5: the file's summary must be exactly the derived one; the first difference is named. */
function checkSummary(request: SigningRequest): RequestSummary {
  const derived = summarizeRequest(request.statement, request.evidence);
  const shown = request.summary as Record<string, unknown>;
  const expected = derived as Record<string, unknown>;
  for (const field of new Set([...Object.keys(shown), ...Object.keys(expected)])) {
    if (canonicalize(shown[field] ?? null) === canonicalize(expected[field] ?? null)) continue;
    const says = shown[field] === undefined ? 'nothing' : JSON.stringify(shown[field]);
    const truth =
      expected[field] === undefined
        ? `the ${request.statement.kind} has no ${field}`
        : `the statement and evidence say ${JSON.stringify(expected[field])}`;
    invalid(
      `The request's summary field "${field}" says ${says.slice(0, 200)}, but ${truth}: the file was altered.`,
    );
  }
  return derived;
}

/** Each gathered approval must be a valid signature, over this statement, by a distinct member. */
function checkGatheredApprovals(request: SigningRequest, root: TrustRoot): void {
  const members = trustedMembers(root);
  const seen = new Set<string>();
  for (const approval of request.approvals) {
    if (approval.statement !== request.statementId) {
      invalid(
        `The request carries an approval for another statement (${approval.statement.slice(0, 12)}…).`,
      );
    }
    if (seen.has(approval.keyId)) {
      invalid(`The request carries two approvals by key ${approval.keyId.slice(0, 16)}.`);
    }
    seen.add(approval.keyId);
    const member = members.get(approval.keyId);
    if (member === undefined || !verifyApproval(request.statement, approval, member.publicKey)) {
      invalid(
        `The request carries an approval by ${approval.keyId.slice(0, 16)} whose signature does not verify: the file was altered.`,
      );
    }
  }
}

/** Rule 3 against this console's pinned chain for the request's server. */
function compareRoots(
  request: SigningRequest,
  firstRootId: string,
  pinned: ServerRecord | null,
): { rootPinned: RootComparison; rootMessage: string } {
  if (pinned === null) {
    return {
      rootPinned: 'unknown',
      rootMessage:
        'This console has not pinned this server: compare the fingerprint with the one the server administrator gave you before approving.',
    };
  }
  if (pinned.pinnedRootId !== firstRootId) {
    return {
      rootPinned: 'mismatch',
      rootMessage:
        'The request carries another trust root than the one this console pinned for this server.',
    };
  }
  for (const [index, known] of pinned.roots.entries()) {
    const offered = request.roots[index];
    if (offered === undefined) {
      return {
        rootPinned: 'stale',
        rootMessage: `The request was made under trust root version ${request.roots.length}; this console knows version ${pinned.roots.length}: ask for a new request.`,
      };
    }
    if (rootId(offered.root) !== rootId(known.root)) {
      return {
        rootPinned: 'mismatch',
        rootMessage: `The request's trust root version ${offered.root.version} differs from the one this console accepted: two chains for one server.`,
      };
    }
  }
  return {
    rootPinned: 'match',
    rootMessage:
      request.roots.length > pinned.roots.length
        ? `The request's chain extends the pinned one to version ${request.roots.length}, each step signed by the admins.`
        : 'The request carries the trust root this console pinned for this server.',
  };
}

/**
 * Reads a signing request and verifies everything that can be verified offline (the module
 * comment's rules). `pinned` is this console's record of the request's server, or null.
 * @throws AirlockError REQUEST_FILE_INVALID with one sentence naming what is wrong.
 * @example const review = reviewSigningRequest(text, { now: new Date(), pinned: services.server(url) });
 */
export function reviewSigningRequest(
  text: string,
  opts: { now: Date; pinned: ServerRecord | null },
): RequestReview {
  const raw = parseJsonFile(text, 'REQUEST_FILE_INVALID', 'signing request');
  const format = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
  if (format.format === APPROVAL_FILE_FORMAT) {
    invalid(
      'This is an approval file, not a signing request: import it on the console that proposed the release.',
    );
  }
  if (format.format === SIGNING_REQUEST_FORMAT && format.v !== SIGNING_REQUEST_VERSION) {
    invalid(
      `This signing request is format version ${String(format.v)}; this console reads version ${SIGNING_REQUEST_VERSION}: export it again with a current Airlock.`,
    );
  }
  const parsed = SigningRequestSchema.safeParse(raw);
  if (!parsed.success) invalid(`The signing request is invalid: ${firstIssue(parsed.error)}.`);
  const request = parsed.data;
  // Rule 2 (ARCHITECTURE.md §3): an approval binds the exact statement; its id is recomputed.
  if (statementId(request.statement) !== request.statementId) {
    invalid('The statement in the request does not match its id: the file was altered.');
  }
  const chain = verifyRootChain(request.roots);
  if (!chain.ok) invalid(`The request's trust-root chain does not verify: ${chain.message}`);
  checkEvidence(request);
  const summary = checkSummary(request);
  const policy = findPolicy(
    chain.root,
    request.statement.app,
    request.statement.channel,
    request.statement.kind,
  );
  if (canonicalize(policy) !== canonicalize(request.policy)) {
    invalid(
      "The policy shown in the request is not the trust root's policy for this statement: the file was altered.",
    );
  }
  checkGatheredApprovals(request, chain.root);
  const notes: string[] = [];
  if (summary.fileDiff === null) {
    notes.push(
      'The file lists of both bundles are not known to the proposing console: no file-list difference is shown.',
    );
  }
  return {
    request,
    summary,
    rootId: chain.firstRootId,
    root: chain.root,
    ...compareRoots(request, chain.firstRootId, opts.pinned),
    verdict: evaluatePolicy(request.statement, request.approvals, chain.root, { now: opts.now }),
    expired: hasExpired(request.statement.expiresAt, opts.now),
    notes,
  };
}

/**
 * A fingerprint or root id as given out of band: spaces dropped, lowercase. It matches `rootId`
 * when it is at least the 16 hex characters of the fingerprint and a prefix of the id.
 */
export function fingerprintMatches(given: string, id: string): boolean {
  const normalized = given.replace(/\s+/g, '').toLowerCase();
  return /^[0-9a-f]{16,64}$/.test(normalized) && id.startsWith(normalized);
}

/**
 * Signs a reviewed request with `signer` and returns the approval file. Refuses what could not
 * count (ARCHITECTURE.md §3): an expired statement, a trust root that does not match the pinned one
 * (or, for a server this console never pinned, one whose fingerprint was not confirmed with
 * `expectRootId`), the proposer's own approval when the policy excludes it, a key that is not a
 * member holding a role the policy counts, and a second approval by one key.
 */
export async function approveSigningRequest(
  review: RequestReview,
  signer: IdentitySigner,
  opts: { now: Date; name?: string | null; expectRootId?: string },
): Promise<ApprovalFile> {
  const { request } = review;
  if (review.expired)
    fail(
      'STATEMENT_INVALID',
      `The statement expired at ${request.statement.expiresAt}; approvals for it cannot count.`,
    );
  if (review.rootPinned === 'mismatch' || review.rootPinned === 'stale')
    invalid(review.rootMessage);
  if (
    review.rootPinned === 'unknown' &&
    (opts.expectRootId === undefined || !fingerprintMatches(opts.expectRootId, review.rootId))
  ) {
    fail(
      'REQUEST_FILE_INVALID',
      opts.expectRootId === undefined
        ? "This console has not pinned the request's server: compare its fingerprint with the one the server administrator gave you, and give it to confirm (airlock approve --root-fingerprint, or the fingerprint field of the review)."
        : "The fingerprint given does not match the request's trust root: do not approve.",
    );
  }
  if (request.approvals.some((approval) => approval.keyId === signer.keyId)) {
    fail('DUPLICATE_APPROVAL', 'This key has already approved this statement.');
  }
  const problem = approvalCountingProblem(request.statement, review.root, signer.keyId);
  if (problem !== null) fail(problem.code, problem.message);
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

/** The statement id an approval file names, read leniently (the strict check follows). */
export function approvalStatementId(text: string): string {
  try {
    const value = JSON.parse(text) as { statementId?: unknown };
    if (typeof value.statementId === 'string' && /^[0-9a-f]{64}$/.test(value.statementId)) {
      return value.statementId;
    }
  } catch {
    // fall through
  }
  throw new AirlockError('APPROVAL_FILE_INVALID', 'The file is not an Airlock approval file.');
}
