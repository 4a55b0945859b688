/**
 * The server's release control (ARCHITECTURE.md §3, §4, §6): what a statement, its approvals and a push must
 * satisfy before anything changes what devices receive. Transport-free: the admin routes call it,
 * and it throws AirlockError with stable codes that the HTTP edge maps to statuses.
 *
 * A push applies a statement only when, at `now`:
 * 1. it is not expired, and its seq is the channel's next position with `prev` the current head;
 * 2. `evaluatePolicy` is satisfied under the current trust root (distinct keys, roles, proposer);
 * 3. its lifetime (`expiresAt − createdAt`, and what is left of it from now) is at most the
 *    server's cap (default 30 days): a signature must not stay usable for years;
 * 4. per kind: a release's version is greater (semver §11) than every earlier release on the
 *    channel, its encrypted bundle was uploaded with the stated hash and size, the channel (or its
 *    app) has a bundle public key with the bundle's key id, and the server's own check of the
 *    bundle passes: the device's steps (session key, V3 checksum, zip path rules) and more
 *    (zip-inspect.ts: entry count, unpacked size, compression ratio, sizes and CRCs that do not
 *    lie, no native code by name or content), whoever built the bundle; a rollback targets an
 *    earlier applied release of the channel; a rollout or pause needs a release; pause and resume
 *    need the channel unpaused and paused respectively.
 * Rules 3 and 4's bundle check also run when a statement is submitted, so a statement that can
 * never be pushed is refused before anyone signs it. The store re-checks the position inside the
 * applying transaction (racing pushes).
 */
import {
  AirlockError,
  DEFAULT_BUNDLE_LIMITS,
  calcKeyId,
  evaluatePolicy,
  findPolicy,
  hasExpired,
  parseStatement,
  statementId,
  trustedMembers,
  verifyApproval,
  verifyEncryptedBundle,
  verifyRootUpdate,
  type BundleLimits,
} from '../core';
import type {
  Approval,
  ChannelStatus,
  PushResult,
  ReleaseStatement,
  SignedTrustRoot,
  Statement,
  StatementStatus,
  TrustRoot,
} from '../shared/schemas';
import { PENDING_LIST_MAX } from '../shared/schemas';
import type { ErrorCode } from '../shared/errors';
import { compareSemver, parseSemver } from '../core/channel';
import type { ServerStore, StoredStatement } from './store/types';

function fail(code: ErrorCode, message: string): never {
  throw new AirlockError(code, message);
}

// ---------------------------------------------------------------------------------------------
// Approvals

/**
 * Checks approvals before they are stored: each must be for this statement, by a member, with a
 * valid signature, from a role the policy counts, and not the proposer's own unless the policy
 * lets it count; one per key. Returns the approvals that are new (a repeat of a stored approval is
 * a no-op). The first problem refuses the whole set, so a refused request stores nothing.
 */
export function screenApprovals(
  statement: Statement,
  id: string,
  stored: readonly Approval[],
  incoming: readonly Approval[],
  root: TrustRoot,
): Approval[] {
  const members = trustedMembers(root);
  const policy = findPolicy(root, statement.app, statement.channel, statement.kind);
  const fresh: Approval[] = [];
  const seen = new Set<string>();
  for (const approval of incoming) {
    if (approval.statement !== id) {
      fail(
        'APPROVAL_WRONG_STATEMENT',
        `An approval is for statement ${approval.statement}, not ${id}.`,
      );
    }
    const member = members.get(approval.keyId);
    if (member === undefined) {
      fail('UNKNOWN_KEY', `The approving key ${approval.keyId} is not a member of the trust root.`);
    }
    // RFC 8032 §5.1.7 strict, id and key id recomputed (ARCHITECTURE.md §3).
    if (!verifyApproval(statement, approval, member.publicKey)) {
      fail('SIGNATURE_INVALID', `The approval by ${approval.keyId} does not verify.`);
    }
    if (policy === null) {
      fail(
        'POLICY_NOT_FOUND',
        `No policy covers ${statement.kind} on ${statement.app}/${statement.channel}.`,
      );
    }
    if (member.keyId === statement.proposer && !policy.proposerCounts) {
      fail('APPROVAL_BY_PROPOSER', "The proposer's own approval does not count under this policy.");
    }
    if (!policy.roles.some((role) => member.roles.has(role))) {
      fail(
        'APPROVAL_NOT_COUNTED',
        `The approving key needs one of the roles ${policy.roles.join(', ')}.`,
      );
    }
    const previous = stored.find((known) => known.keyId === member.keyId);
    if (seen.has(member.keyId) || (previous !== undefined && previous.sig !== approval.sig)) {
      fail('DUPLICATE_APPROVAL', `The key ${member.keyId} has approved this statement already.`);
    }
    seen.add(member.keyId);
    if (previous === undefined) fresh.push(approval);
  }
  return fresh;
}

// ---------------------------------------------------------------------------------------------
// The service

export interface SubmitInput {
  readonly statement: unknown;
  readonly approvals: readonly Approval[];
}

/** The server's own limits on what it accepts (settings of `airlock server start`). */
export interface ReleaseRules {
  /** Longest statement lifetime accepted (rule 3). */
  readonly maxStatementLifetimeMs: number;
  /** What a bundle may contain (rule 4, zip-inspect.ts). */
  readonly bundleLimits: BundleLimits;
}

const DAY_MS = 24 * 60 * 60 * 1000;

export const DEFAULT_RELEASE_RULES: ReleaseRules = {
  maxStatementLifetimeMs: 30 * DAY_MS,
  bundleLimits: DEFAULT_BUNDLE_LIMITS,
};

export class ReleaseControl {
  readonly rules: ReleaseRules;

  constructor(
    private readonly store: ServerStore,
    private readonly now: () => Date,
    rules: Partial<ReleaseRules> = {},
  ) {
    this.rules = { ...DEFAULT_RELEASE_RULES, ...rules };
  }

  /** POST /statements: a proposal signed (the request) by its proposer. */
  async submit(
    signerKeyId: string,
    input: SubmitInput,
  ): Promise<{ created: boolean; status: StatementStatus }> {
    const statement = parseStatement(input.statement);
    const now = this.now();
    if (statement.proposer !== signerKeyId) {
      fail('FORBIDDEN', "A statement must be submitted by its proposer's key.");
    }
    if (statement.kind === 'pause' && statement.automatic === true) {
      fail('FORBIDDEN', 'Only the server issues automatic pauses (ARCHITECTURE.md §6).');
    }
    await this.store.catchUp(statement.app, statement.channel);
    const channel = this.channelOf(statement);
    if (hasExpired(statement.expiresAt, now)) {
      fail('STATEMENT_EXPIRED', `The statement expired at ${statement.expiresAt}.`);
    }
    this.checkLifetime(statement, now);
    const id = statementId(statement);
    const existing = await this.store.statement(id);
    const stored = existing?.approvals ?? [];
    const fresh = screenApprovals(statement, id, stored, input.approvals, this.store.currentRoot());
    if (existing === null) {
      assertNextPosition(statement, channel);
      // Refuse early what a push would refuse (the bundle is checked if it is uploaded already).
      if (statement.kind === 'release') await this.checkRelease(statement, { uploaded: false });
      await this.store.submitStatement(id, statement, fresh, now);
    } else if (fresh.length > 0) {
      await this.store.addApprovals(id, fresh, now);
    }
    return { created: existing === null, status: await this.status(id) };
  }

  /** POST /statements/<id>/approvals. */
  async addApprovals(id: string, approvals: readonly Approval[]): Promise<StatementStatus> {
    const stored = await this.stored(id);
    if (stored.applied === null) {
      if (hasExpired(stored.statement.expiresAt, this.now())) {
        fail('STATEMENT_EXPIRED', `The statement expired at ${stored.statement.expiresAt}.`);
      }
      const fresh = screenApprovals(
        stored.statement,
        id,
        stored.approvals,
        approvals,
        this.store.currentRoot(),
      );
      if (fresh.length > 0) await this.store.addApprovals(id, fresh, this.now());
    }
    return this.status(id);
  }

  /** GET /statements/<id>: the statement, its approvals, its state and the verdict now. */
  async status(id: string): Promise<StatementStatus> {
    const stored = await this.stored(id);
    await this.store.catchUp(stored.statement.app, stored.statement.channel);
    return this.statusOf(stored, this.stateOf(stored));
  }

  /** The answer about `stored`: its approvals and their verdict under the current root. */
  private statusOf(stored: StoredStatement, state: StatementStatus['state']): StatementStatus {
    const verdict = evaluatePolicy(stored.statement, stored.approvals, this.store.currentRoot(), {
      now: this.now(),
    });
    return {
      id: stored.id,
      statement: stored.statement,
      approvals: [...stored.approvals],
      state,
      verdict: { ...verdict, counted: [...verdict.counted], rejected: [...verdict.rejected] },
    };
  }

  /**
   * GET /apps/<app>/channels/<channel>/pending: what a member could approve now — the statements
   * that fit the channel's next position (seq and prev) and have not expired, each with its
   * verdict under the current root, at most PENDING_LIST_MAX. Null when there is no such channel.
   */
  async pending(app: string, channel: string): Promise<StatementStatus[] | null> {
    const status = this.store.channelStatus(app, channel);
    if (status === null) return null;
    const now = this.now();
    const next = await this.store.statementsAt(app, channel, status.seq + 1, PENDING_LIST_MAX);
    return next
      .filter((stored) => stored.statement.prev === status.head)
      .filter((stored) => !hasExpired(stored.statement.expiresAt, now))
      .map((stored) => this.statusOf(stored, 'pending'));
  }

  /** POST /statements/<id>/push: apply now, if every rule in the module comment holds. */
  async push(id: string, approvals: readonly Approval[]): Promise<PushResult> {
    const stored = await this.stored(id);
    if (stored.applied !== null) return pushResult(stored.applied, true);
    const { statement } = stored;
    await this.store.catchUp(statement.app, statement.channel);
    const root = this.store.currentRoot();
    const fresh = screenApprovals(statement, id, stored.approvals, approvals, root);
    const all = [...stored.approvals, ...fresh];
    const now = this.now();
    if (hasExpired(statement.expiresAt, now)) {
      fail('STATEMENT_EXPIRED', `The statement expired at ${statement.expiresAt}.`);
    }
    this.checkLifetime(statement, now);
    const channel = this.channelOf(statement);
    assertNextPosition(statement, channel);
    const verdict = evaluatePolicy(statement, all, root, { now });
    if (!verdict.satisfied) {
      fail('POLICY_NOT_SATISFIED', `The policy is not satisfied: ${verdict.summary}.`);
    }
    await this.checkKind(statement, channel);
    const counted = new Set(verdict.counted);
    const recorded = all.filter((approval) => counted.delete(approval.keyId));
    const outcome = await this.store.applyStatement(
      { id, statement, approvals: recorded, newApprovals: fresh, rootVersion: root.version },
      now,
    );
    if (outcome.result === 'root_changed') {
      fail(
        'ROOT_CHANGED',
        `The trust root moved to version ${outcome.current} while the push was judged under version ${root.version}; push again.`,
      );
    }
    if (outcome.result === 'seq_conflict') {
      fail(
        'SEQ_CONFLICT',
        `Another statement took seq ${statement.seq} first; the head is now seq ${outcome.head.seq}.`,
      );
    }
    return pushResult(outcome.entry, outcome.result === 'already_applied');
  }

  /** POST /root: version current + 1 with the root threshold of old and new admins (ARCHITECTURE.md §4). */
  async updateRoot(signed: SignedTrustRoot): Promise<{ version: number }> {
    const now = this.now();
    const verdict = verifyRootUpdate(this.store.currentRoot(), signed, now);
    if (!verdict.valid) {
      fail(
        'ROOT_UPDATE_INVALID',
        `The trust root update is refused: ${verdict.reasons.join('; ')}.`,
      );
    }
    await this.store.appendRoot(signed, now);
    return { version: signed.root.version };
  }

  private async stored(id: string): Promise<StoredStatement> {
    const stored = await this.store.statement(id);
    if (stored === null) fail('NOT_FOUND', `There is no statement ${id}.`);
    return stored;
  }

  private channelOf(statement: Statement): ChannelStatus {
    const channel = this.store.channelStatus(statement.app, statement.channel);
    if (channel === null) {
      fail('NOT_FOUND', `There is no channel ${statement.channel} in ${statement.app}.`);
    }
    return channel;
  }

  private stateOf(stored: StoredStatement): StatementStatus['state'] {
    if (stored.applied !== null) return 'applied';
    const channel = this.store.channelStatus(stored.statement.app, stored.statement.channel);
    const fits =
      channel !== null &&
      stored.statement.seq === channel.seq + 1 &&
      stored.statement.prev === channel.head;
    return fits ? 'pending' : 'stale';
  }

  /** Rule 3: a statement's signatures must not stay usable for long. */
  private checkLifetime(statement: Statement, now: Date): void {
    const cap = this.rules.maxStatementLifetimeMs;
    const expires = Date.parse(statement.expiresAt);
    const lifetime = expires - Date.parse(statement.createdAt);
    if (lifetime > cap || expires - now.getTime() > cap) {
      fail(
        'STATEMENT_LIFETIME_TOO_LONG',
        `The statement is valid for ${Math.ceil(lifetime / DAY_MS)} days; this server accepts at most ${Math.floor(cap / DAY_MS)} (expiresAt − createdAt, and from now).`,
      );
    }
  }

  /** Rule 4, per kind. */
  private async checkKind(statement: Statement, channel: ChannelStatus): Promise<void> {
    switch (statement.kind) {
      case 'release':
        return this.checkRelease(statement, { uploaded: true });
      case 'rollback': {
        if (
          !(await this.store.isAppliedRelease(statement.app, statement.channel, statement.target))
        ) {
          fail(
            'ROLLBACK_TARGET_INVALID',
            'A rollback must target an earlier release of this channel.',
          );
        }
        return;
      }
      case 'rollout':
        if (channel.current === null) fail('NO_RELEASE', 'There is no release to roll out.');
        return;
      case 'pause':
        if (channel.current === null) fail('NO_RELEASE', 'There is no release to pause.');
        if (channel.paused) fail('INVALID_TRANSITION', 'The channel is paused already.');
        return;
      case 'resume':
        if (!channel.paused) fail('INVALID_TRANSITION', 'The channel is not paused.');
        return;
    }
  }

  /**
   * Rule 4 for a release. `uploaded: true` (push) requires the bundle; at submit a bundle not yet
   * uploaded is checked at push instead.
   */
  private async checkRelease(
    statement: ReleaseStatement,
    need: { readonly uploaded: boolean },
  ): Promise<void> {
    const { version, bundle } = statement.release;
    const next = parseSemver(version);
    if (next === null) fail('STATEMENT_INVALID', `${version} is not a semantic version.`);
    const highest = this.store.channel(statement.app, statement.channel)?.highestVersion ?? null;
    const previous = highest === null ? null : parseSemver(highest);
    if (previous !== null && compareSemver(next, previous) <= 0) {
      fail(
        'VERSION_NOT_GREATER',
        `Version ${version} is not greater than ${highest}, released on this channel before.`,
      );
    }
    const publicKeyPem = this.store.bundlePublicKey(statement.app, statement.channel);
    if (publicKeyPem === null) {
      fail(
        'BUNDLE_KEY_MISSING',
        `Neither ${statement.app} nor its channel ${statement.channel} has a bundle public key: the server cannot check what it would serve. Register one with the app or the channel.`,
      );
    }
    if (calcKeyId(publicKeyPem) !== bundle.keyId) {
      fail('BUNDLE_MISMATCH', "The bundle's key id is not the channel's bundle key.");
    }
    const { blobs } = this.store;
    const file = await blobs.stat(bundle.encryptedSha256);
    if (file === null) {
      if (!need.uploaded) return;
      fail(
        'BUNDLE_MISSING',
        `Upload the bundle ${bundle.encryptedSha256} before pushing its release.`,
      );
    }
    if (file.size !== bundle.encryptedSize) {
      fail(
        'BUNDLE_MISMATCH',
        `The uploaded bundle has ${file.size} bytes, the statement says ${bundle.encryptedSize}.`,
      );
    }
    // The device's own checks, and the server's limits and native-code rule, whoever built it.
    const verified = await verifyEncryptedBundle(
      {
        name: `${blobs.location}/${bundle.encryptedSha256}`,
        size: file.size,
        open: () => blobs.read(bundle.encryptedSha256),
      },
      {
        publicKeyPem,
        sessionKey: bundle.sessionKey,
        checksum: bundle.checksum,
        inspect: this.rules.bundleLimits,
      },
    );
    if (
      verified.sha256 !== bundle.sha256 ||
      verified.size !== bundle.size ||
      verified.files !== bundle.files
    ) {
      fail(
        'BUNDLE_MISMATCH',
        'The decrypted bundle does not match the statement (hash, size or file count).',
      );
    }
    // ARCHITECTURE.md §5: the file list reviewers were shown is the bundle's.
    if (bundle.fileListSha256 !== undefined && bundle.fileListSha256 !== verified.fileListSha256) {
      fail('BUNDLE_MISMATCH', "The bundle's file list is not the one the statement names.");
    }
    await this.store.markBundleChecked(bundle.encryptedSha256, this.now(), verified.fileList);
  }
}

/** Rule 1: the statement must take the channel's next position, on the current head. */
function assertNextPosition(statement: Statement, channel: ChannelStatus): void {
  if (statement.seq !== channel.seq + 1 || statement.prev !== channel.head) {
    fail(
      'STALE',
      `The statement is for seq ${statement.seq} after ${statement.prev ?? 'nothing'}, but the channel is at seq ${channel.seq} with head ${channel.head ?? 'nothing'}.`,
    );
  }
}

function pushResult(
  entry: { id: string; seq: number; checkpoint: PushResult['checkpoint'] },
  alreadyApplied: boolean,
): PushResult {
  return { id: entry.id, seq: entry.seq, alreadyApplied, checkpoint: entry.checkpoint };
}
