import { fileListSha256, type BundleFile } from '../../core/bundle';
import { compareSemver, parseSemver } from '../../core/channel';
import { AirlockError } from '../../core/errors';
import {
  buildTrustBundle,
  deviceSnippets,
  selfSigned,
  selfSignedRoot,
  serverKeyBytes,
  verifyCheckpoint,
  type DeviceSnippets,
} from '../../core/log';
import { evaluatePolicy, findPolicy, policyFeasibility, type Verdict } from '../../core/policy';
import {
  createApproval,
  nextStatementHeader,
  statementId,
  trustedMembers,
  verifyApproval,
  type IdentitySigner,
} from '../../core/statement';
import {
  SemverSchema,
  type Approval,
  type ApprovalFile,
  type BundleRef,
  type PushResult,
  type RequestEvidence,
  type RequestSummary,
  type SigningRequest,
  type Statement,
  type StatementStatus,
  type TrustBundle,
} from '../../shared/schemas';
import type { StoredBundle } from '../db/repositories/bundles.repo';
import type { Signers } from '../identity';
import type { ServerRecord } from '../db/repositories/servers.repo';
import { appChannels, type ServerClient } from '../server-client';
import {
  approvalStatementId,
  approveSigningRequest,
  createSigningRequest,
  readApprovalFile,
  reviewSigningRequest,
  summarizeRequest,
  type RequestReview,
} from './airgap';
import type { ConsoleServices, StoredStatement } from './console';
import { extendsChain, type Finding } from './mirror';
import type { DeliveryReport, OutboxItem } from './outbox';

/**
 * The release workflow (ARCHITECTURE.md §3–§7), one implementation for the CLI and the console
 * window: both only parse input and present the outcome. Every flow follows the same rules:
 *
 * 1. Trust: every contact with the server first moves the pinned trust root forward through the
 *    verified chain (N → N+1, both thresholds; ConsoleServices.connect), and every judgement uses
 *    that pinned chain, never a chain the server just sent unverified. Offline, the pinned chain.
 * 2. Facts: what a proposal builds on (the head, the release it replaces, a rollback's target) comes
 *    from the verified mirror, synced first when the server answers; a signing request carries
 *    only such facts, server-signed (airgap.ts).
 * 3. Refuse early what the server would refuse: a version not greater than the channel's, a policy
 *    no set of current members can satisfy (the role that is short is named), a lifetime above the
 *    server's cap. Refusals keep their stable error code, through the outbox too.
 * 4. Approvals add up wherever they were given: online, by file, on the server; a push sends their
 *    union, judged under the pinned root.
 * 5. Every outcome the server signs (a push's checkpoint) is verified with the pinned server key.
 */

export interface WorkflowOptions {
  readonly now?: () => Date;
  /** Clients for deliveries (the window wraps uploads to report progress). */
  readonly client?: (url: string, signer: IdentitySigner) => ServerClient;
  /** Hears each delivered outbox item. */
  readonly onDeliver?: (done: number, total: number, url: string) => void;
}

/** What a proposal states, besides the header every statement carries. */
export type ProposalBody =
  | {
      readonly kind: 'release';
      readonly version: string;
      readonly minNativeVersion: string;
      readonly notes?: string;
      readonly rolloutPercent: number;
      readonly bundle: StoredBundle;
    }
  | { readonly kind: 'rollout'; readonly percent: number }
  | { readonly kind: 'pause' }
  | { readonly kind: 'resume' }
  /** A version or a statement id of an applied release (from the verified mirror). */
  | { readonly kind: 'rollback'; readonly to: string };

export interface ProposeInput {
  readonly server: string;
  readonly app: string;
  readonly channel: string;
  readonly signer: IdentitySigner;
  readonly signers: Signers;
  readonly body: ProposalBody;
  readonly lifetimeMs: number;
  /** Also write a signing request for air-gapped approvers. */
  readonly request?: boolean;
}

export type ProposalState = StatementStatus['state'] | 'queued';

export interface ProposeOutcome {
  readonly statementId: string;
  readonly statement: Statement;
  readonly state: ProposalState;
  /** Judged under the pinned root (the server's verdict is not taken on trust). */
  readonly verdict: Verdict | null;
  readonly warnings: string[];
  readonly request: SigningRequest | null;
}

/** A push the server applied, its checkpoint verified with the pinned server key. */
export interface VerifiedPush {
  readonly seq: number;
  readonly alreadyApplied: boolean;
  readonly checkpointTime: string;
}

export interface PushOutcome {
  readonly statementId: string;
  /** True when the server could not be reached: the push waits in the outbox. */
  readonly queued: boolean;
  readonly applied: VerifiedPush | null;
  readonly result: PushResult | null;
}

export interface ImportOutcome {
  readonly statementId: string;
  readonly approval: Approval;
  readonly stored: StoredStatement;
  /** Over every approval known here and on the server, under the pinned root. */
  readonly verdict: Verdict;
  /** The union satisfies the policy: a push would apply it. */
  readonly pushable: boolean;
  readonly push: PushOutcome | null;
  readonly warnings: string[];
}

export interface ApproveOnlineOutcome {
  readonly statementId: string;
  readonly statement: Statement;
  readonly approval: Approval;
  readonly state: StatementStatus['state'];
  readonly verdict: Verdict;
}

export interface ApproveRequestOutcome {
  readonly review: RequestReview;
  readonly file: ApprovalFile;
  /** Over the request's approvals and this one, under the request's verified root. */
  readonly verdict: Verdict;
}

/** A trust bundle for an app (ARCHITECTURE.md §11), checked with the phone's verifier. */
export interface DeviceTrustOutcome {
  readonly bundle: TrustBundle;
  /** The newest root's version, and the id of root version 1 (the fingerprint to compare). */
  readonly rootVersion: number;
  readonly rootFingerprint: string;
  readonly serverKeyId: string;
  /** True when this machine's admin signature was added to the newest root. */
  readonly signed: boolean;
  readonly snippets: DeviceSnippets;
  /** Set when the server could not be reached: built from the pinned chain, the app unchecked. */
  readonly warning: string | null;
}

/** A server contacted (pin refreshed) or, unreachable, its pinned record. */
interface Contact {
  readonly server: ServerRecord;
  readonly online: boolean;
  readonly warning: string | null;
  readonly findings: Finding[];
  readonly maxLifetimeMs: number | null;
}

const HEX_64 = /^[0-9a-f]{64}$/;

function isUnreachable(error: unknown): boolean {
  return error instanceof AirlockError && error.code === 'IO_ERROR';
}

/** The refusal of one of `matches`' items in a delivery, as a typed error (rule 3). */
function refusalOf(
  report: DeliveryReport,
  matches: (item: OutboxItem) => boolean,
): AirlockError | null {
  const refused = report.failed.find((failure) => matches(failure.item));
  return refused === undefined ? null : new AirlockError(refused.code, refused.error);
}

export class Workflow {
  private readonly now: () => Date;

  constructor(
    readonly services: ConsoleServices,
    private readonly options: WorkflowOptions = {},
  ) {
    this.now = options.now ?? ((): Date => new Date());
  }

  // -------------------------------------------------------------------------------------------
  // Trust (rule 1)

  /**
   * Contacts `url`: pins it on first contact (shown with its fingerprint), else moves the pin
   * forward through the verified chain. When the server cannot be reached, the pinned record.
   */
  async contact(url: string): Promise<Contact> {
    try {
      const connected = await this.services.connect(url);
      const seconds = connected.limits?.maxStatementLifetimeSeconds;
      return {
        server: connected.server,
        online: true,
        warning: connected.findings.length > 0 ? (connected.findings[0]?.message ?? null) : null,
        findings: connected.findings,
        maxLifetimeMs: seconds === undefined ? null : seconds * 1000,
      };
    } catch (error) {
      if (!isUnreachable(error)) throw error;
      return {
        server: this.services.requireServer(url),
        online: false,
        warning: (error as AirlockError).message,
        findings: [],
        maxLifetimeMs: null,
      };
    }
  }

  /** Contacts the server and syncs the channel's verified mirror when it answers (rule 2). */
  private async refreshChannel(url: string, app: string, channel: string): Promise<Contact> {
    const contact = await this.contact(url);
    if (!contact.online) return contact;
    const report = await this.services.sync(contact.server, app, channel);
    return { ...contact, findings: [...contact.findings, ...report.findings] };
  }

  // -------------------------------------------------------------------------------------------
  // Proposals

  /** Proposes a statement (release, rollout, pause, resume, rollback) through the outbox. */
  async propose(input: ProposeInput): Promise<ProposeOutcome> {
    const { app, channel, signer } = input;
    const contact = await this.refreshChannel(input.server, app, channel);
    const { server } = contact;
    const warnings = [
      ...(contact.warning === null
        ? []
        : [`${contact.warning} The statement waits in the outbox.`]),
      ...contact.findings.map((finding) => finding.message),
    ];
    const position = await this.position(server, signer, app, channel, contact.online);
    const header = nextStatementHeader(
      app,
      channel,
      position,
      signer.keyId,
      this.now(),
      input.lifetimeMs,
    );
    const statement = this.buildStatement(server, header, input.body, contact.online);
    this.refuseEarly(server, statement, contact.maxLifetimeMs);
    const bundle = input.body.kind === 'release' ? input.body.bundle : undefined;
    const id = this.recordProposal(statement, server, signer.keyId, bundle);
    const delivery = await this.deliver(server.url, input.signers);
    const refusal = refusalOf(delivery, (item) =>
      item.payload.kind === 'upload-bundle'
        ? item.payload.encryptedSha256 === bundle?.info.encryptedSha256
        : item.payload.statementId === id,
    );
    if (refusal !== null) throw refusal;
    if (delivery.waiting !== null && contact.online) warnings.push(delivery.waiting.error);
    const submitted = delivery.delivered.find(
      (item) => item.payload.kind === 'submit-statement' && item.payload.statementId === id,
    )?.result as StatementStatus | undefined;
    const stored = this.services.statement(id) as StoredStatement;
    return {
      statementId: id,
      statement,
      state: submitted?.state ?? 'queued',
      verdict: this.services.verdict(stored, this.now(), server.root),
      warnings,
      request: input.request === true ? await this.signingRequest(id, input.signers) : null,
    };
  }

  /** Where a new statement goes: the server's head when it answers, else the verified mirror's. */
  private async position(
    server: ServerRecord,
    signer: IdentitySigner,
    app: string,
    channel: string,
    online: boolean,
  ): Promise<{ seq: number; head: string | null }> {
    if (online) {
      try {
        const status = await this.services.client(server.url, signer).getChannel(app, channel);
        return { seq: status.seq, head: status.head };
      } catch (error) {
        if (!isUnreachable(error)) throw error;
      }
    }
    const head = this.services.mirrorHead(server, app, channel);
    return { seq: head.seq, head: head.head };
  }

  private buildStatement(
    server: ServerRecord,
    header: ReturnType<typeof nextStatementHeader>,
    body: ProposalBody,
    synced: boolean,
  ): Statement {
    switch (body.kind) {
      case 'release':
        return {
          ...header,
          kind: 'release',
          release: {
            version: body.version,
            minNativeVersion: body.minNativeVersion,
            ...(body.notes === undefined ? {} : { notes: body.notes }),
            rollout: { percent: body.rolloutPercent },
            bundle: body.bundle.info,
          },
        };
      case 'rollout':
        return { ...header, kind: 'rollout', rollout: { percent: body.percent } };
      case 'pause':
        return { ...header, kind: 'pause' };
      case 'resume':
        return { ...header, kind: 'resume' };
      case 'rollback':
        return {
          ...header,
          kind: 'rollback',
          target: this.rollbackTarget(server, header.app, header.channel, body.to, synced),
        };
    }
  }

  /** Rule 3: what the server would refuse, refused before anyone signs it. */
  private refuseEarly(
    server: ServerRecord,
    statement: Statement,
    maxLifetimeMs: number | null,
  ): void {
    if (statement.kind === 'release') {
      const next = parseSemver(statement.release.version);
      const higher = this.services.repos.mirror
        .releasedVersions(server.id, statement.app, statement.channel)
        .find((version) => {
          const earlier = parseSemver(version);
          return next !== null && earlier !== null && compareSemver(next, earlier) <= 0;
        });
      if (higher !== undefined) {
        throw new AirlockError(
          'VERSION_NOT_GREATER',
          `Version ${statement.release.version} is not greater than ${higher}, released on ${statement.app}/${statement.channel} before.`,
        );
      }
    }
    const policy = findPolicy(server.root, statement.app, statement.channel, statement.kind);
    if (policy === null) {
      throw new AirlockError(
        'POLICY_NOT_FOUND',
        `No policy of trust root version ${server.root.version} covers ${statement.kind} on ${statement.app}/${statement.channel}.`,
      );
    }
    const feasible = policyFeasibility(server.root, policy, statement.proposer);
    if (!feasible.feasible) {
      throw new AirlockError(
        'POLICY_NOT_SATISFIED',
        `Nobody could approve this ${statement.kind}: ${feasible.message}`,
      );
    }
    const lifetime = Date.parse(statement.expiresAt) - Date.parse(statement.createdAt);
    if (maxLifetimeMs !== null && lifetime > maxLifetimeMs) {
      throw new AirlockError(
        'STATEMENT_LIFETIME_TOO_LONG',
        `The statement would be valid for ${Math.ceil(lifetime / 86_400_000)} days; ${server.url} accepts at most ${Math.floor(maxLifetimeMs / 86_400_000)}.`,
      );
    }
  }

  /**
   * Records a new statement and queues it (after its bundle, when it has one) for the server, in
   * one transaction.
   */
  private recordProposal(
    statement: Statement,
    server: ServerRecord,
    proposerKeyId: string,
    bundle?: StoredBundle,
  ): string {
    const { services } = this;
    const id = statementId(statement);
    services.transaction(() => {
      services.saveStatement(statement, server);
      services.record('statement.proposed', proposerKeyId, {
        statementId: id,
        kind: statement.kind,
        app: statement.app,
        channel: statement.channel,
        seq: statement.seq,
      });
      if (bundle !== undefined) {
        services.repos.bundles.remember(bundle.path, bundle.info, bundle.files, this.now());
        services.queue(
          server.url,
          {
            kind: 'upload-bundle',
            encryptedSha256: bundle.info.encryptedSha256,
            path: bundle.path,
          },
          proposerKeyId,
        );
      }
      services.queue(
        server.url,
        { kind: 'submit-statement', statementId: id, statement, approvals: [] },
        proposerKeyId,
      );
    });
    return id;
  }

  /**
   * The release statement a rollback returns to, from the verified mirror only (synced just before
   * when `synced`; else as of the last sync).
   */
  rollbackTarget(
    server: ServerRecord,
    app: string,
    channel: string,
    to: string,
    synced = false,
  ): string {
    const wanted = to.trim().toLowerCase();
    const byId = HEX_64.test(wanted);
    if (!byId && !SemverSchema.safeParse(to.trim()).success) {
      throw new AirlockError(
        'INVALID_ARGUMENT',
        `"${to.slice(0, 40)}" is neither a version such as 1.4.2 nor a statement id.`,
      );
    }
    const found = this.services.repos.mirror.findRelease(
      server.id,
      app,
      channel,
      byId ? { id: wanted } : { version: to.trim() },
    );
    if (found === null) {
      throw new AirlockError(
        'NOT_FOUND',
        `No applied release ${byId ? `${wanted.slice(0, 16)}…` : to.trim()} is in the verified log of ${app}/${channel}${synced ? '' : ' as of the last sync (the server could not be reached)'}.`,
      );
    }
    return found.id;
  }

  // -------------------------------------------------------------------------------------------
  // Signing requests (rule 2)

  /**
   * A signing request for a stored statement, from verified facts only (airgap.ts). `signers`
   * lets it fetch, from the server, file lists this console does not hold.
   */
  async signingRequest(id: string, signers?: Signers): Promise<SigningRequest> {
    const { services } = this;
    const stored = services.statement(id);
    if (stored === null)
      throw new AirlockError('NOT_FOUND', `No statement ${id.slice(0, 16)}… in this console.`);
    if (stored.serverUrl === null) {
      throw new AirlockError('INVALID_ARGUMENT', 'The statement is not tied to a server.');
    }
    const { statement } = stored;
    const { server } = await this.refreshChannel(
      stored.serverUrl,
      statement.app,
      statement.channel,
    );
    // A request for what the verified log already settled would only waste an officer's time.
    const logged = services.repos.mirror.idAt(
      server.id,
      statement.app,
      statement.channel,
      statement.seq,
    );
    if (logged !== null) {
      throw logged === id
        ? new AirlockError(
            'INVALID_ARGUMENT',
            `Statement ${id.slice(0, 16)}… is already applied (seq ${statement.seq}); there is nothing to approve.`,
          )
        : new AirlockError(
            'STALE',
            `Another statement took seq ${statement.seq}; propose again on the current head.`,
          );
    }
    const evidence = await this.evidence(server, statement, signers);
    const request = createSigningRequest({
      statement,
      approvals: stored.approvals,
      roots: server.roots,
      serverKey: { keyId: server.serverKeyId, publicKey: server.serverPublicKey },
      server: server.url,
      evidence,
      now: this.now(),
    });
    services.record('request.exported', statement.proposer, { statementId: id });
    return request;
  }

  /**
   * What a reviewer needs besides the statement (rule 2), from the verified mirror: the release
   * the channel runs now, a rollback's target, and the file lists of both bundles.
   */
  private async evidence(
    server: ServerRecord,
    statement: Statement,
    signers: Signers | undefined,
  ): Promise<RequestEvidence> {
    const { services } = this;
    const head = services.mirrorHead(server, statement.app, statement.channel);
    const target =
      statement.kind === 'rollback'
        ? services.repos.mirror.entry(server.id, statement.target)
        : null;
    if (statement.kind === 'rollback' && target === null) {
      throw new AirlockError(
        'NOT_FOUND',
        "The rollback target is not in this console's verified mirror; sync, then try again.",
      );
    }
    const current = head.current?.entry ?? null;
    const nextRef =
      statement.kind === 'release'
        ? statement.release.bundle
        : target?.entry.statement.kind === 'release'
          ? target.entry.statement.release.bundle
          : null;
    const currentRef =
      current?.statement.kind === 'release' ? current.statement.release.bundle : null;
    const files =
      statement.kind === 'release' || statement.kind === 'rollback'
        ? {
            current: await this.fileList(server, currentRef, signers),
            next: await this.fileList(server, nextRef, signers),
          }
        : { current: null, next: null };
    return { current, target: target?.entry ?? null, files };
  }

  /**
   * A bundle's file list, checked against the `fileListSha256` its approved statement names: the
   * one built here, else the server's (kept once checked). Null when the statement names no list,
   * or none can be had (offline, or the server has not checked the bundle).
   */
  private async fileList(
    server: ServerRecord,
    bundle: BundleRef | null,
    signers: Signers | undefined,
  ): Promise<BundleFile[] | null> {
    const digest = bundle?.fileListSha256;
    if (bundle === null || digest === undefined) return null;
    const { bundles } = this.services.repos;
    const known = bundles.files(bundle.encryptedSha256);
    if (known !== null && fileListSha256(known) === digest) return known;
    if (signers === undefined) return null;
    try {
      const client = this.services.client(server.url, await signers(null));
      const files = await client.getBundleFiles(bundle.encryptedSha256);
      if (fileListSha256(files) !== digest) return null; // the server's list is not the approved one
      bundles.rememberFiles(bundle.encryptedSha256, files);
      return files;
    } catch (error) {
      if (error instanceof AirlockError) return null;
      throw error;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Approvals

  /** Approves a statement the server holds, online (the statement is checked to be the one named). */
  async approveOnline(input: {
    server: string;
    statementId: string;
    signer: IdentitySigner;
  }): Promise<ApproveOnlineOutcome> {
    const { server, online, warning } = await this.contact(input.server);
    if (!online) throw new AirlockError('IO_ERROR', warning ?? 'The server cannot be reached.');
    const client = this.services.client(server.url, input.signer);
    const status = await fetchStatement(client, input.statementId);
    if (status.state !== 'pending') {
      throw new AirlockError(
        'INVALID_ARGUMENT',
        `Statement ${status.id.slice(0, 16)}… is ${status.state}; there is nothing to approve.`,
      );
    }
    const approval = await createApproval(status.statement, input.signer);
    const after = await client.addApprovals(status.id, [approval]);
    const verified = verifiedApprovals(server, status.statement, after.approvals);
    const { services } = this;
    services.transaction(() => {
      services.saveStatement(status.statement, server);
      services.addApproval(approval, 'signed');
      for (const other of verified) services.addApproval(other, 'server');
      services.record('approval.signed', input.signer.keyId, {
        statementId: status.id,
        server: server.url,
      });
    });
    return {
      statementId: status.id,
      statement: status.statement,
      approval,
      state: after.state,
      verdict: evaluatePolicy(status.statement, verified, server.root, { now: this.now() }),
    };
  }

  /** Reviews a signing request offline, against this console's pin for its server. */
  reviewRequest(text: string): RequestReview {
    return reviewSigningRequest(text, { now: this.now(), pinned: this.pinnedFor(text) });
  }

  private pinnedFor(text: string): ServerRecord | null {
    let url: unknown;
    try {
      url = (JSON.parse(text) as { server?: unknown }).server;
    } catch {
      return null;
    }
    return typeof url === 'string' ? this.services.server(url) : null;
  }

  /**
   * Approves a signing request offline (ARCHITECTURE.md §5) and returns the approval file. The
   * request is a contact too (rule 1): its verified chain pins the server on this console (when the
   * fingerprint was confirmed) or moves the pin forward.
   */
  async approveRequest(input: {
    text: string;
    signer: IdentitySigner;
    expectRootId?: string;
  }): Promise<ApproveRequestOutcome> {
    const review = this.reviewRequest(input.text);
    const { request } = review;
    const name = request.roots
      .at(-1)
      ?.root.members.find((m) => m.keyId === input.signer.keyId)?.name;
    const file = await approveSigningRequest(review, input.signer, {
      now: this.now(),
      name: name ?? null,
      ...(input.expectRootId === undefined ? {} : { expectRootId: input.expectRootId }),
    });
    const { services } = this;
    services.transaction(() => {
      const known = services.server(request.server);
      if (known === null) {
        const pinned = services.repos.servers.insert(
          request.server,
          review.rootId,
          request.roots,
          request.serverKey,
          this.now(),
        );
        services.record('server.connected', input.signer.keyId, {
          url: pinned.url,
          rootId: review.rootId,
          rootVersion: pinned.root.version,
          from: 'signing request',
        });
      } else if (
        request.roots.length > known.roots.length &&
        extendsChain(known.roots, request.roots)
      ) {
        services.repos.servers.updateRoots(known.id, request.roots);
        services.record('server.root_updated', input.signer.keyId, {
          url: known.url,
          from: known.root.version,
          to: request.roots.length,
        });
      }
      services.record('approval.signed', input.signer.keyId, { statementId: request.statementId });
      services.record('approval.exported', input.signer.keyId, {
        statementId: request.statementId,
      });
    });
    const verdict = evaluatePolicy(
      request.statement,
      [...request.approvals, file.approval],
      review.root,
      { now: this.now() },
    );
    return { review, file, verdict };
  }

  /**
   * Imports an approval file (rule 4): checked strictly, stored, sent to the server, and added to
   * every approval the server holds; when the union satisfies the policy and `push` is set, the
   * statement is pushed.
   */
  async importApproval(input: {
    text: string;
    signers: Signers;
    push: boolean;
  }): Promise<ImportOutcome> {
    const { services } = this;
    const id = approvalStatementId(input.text);
    const held = services.statement(id);
    if (held === null) {
      throw new AirlockError(
        'APPROVAL_FILE_INVALID',
        `The approval is for statement ${id.slice(0, 16)}…, which this console did not propose or import.`,
      );
    }
    if (held.serverUrl === null)
      throw new AirlockError('INVALID_ARGUMENT', 'The statement is not tied to a server.');
    const contact = await this.contact(held.serverUrl);
    const { server } = contact;
    const approval = readApprovalFile(input.text, held.statement, server.root, held.approvals);
    services.transaction(() => {
      services.addApproval(approval, 'file');
      services.record('approval.imported', approval.keyId, { statementId: id });
      services.queue(
        server.url,
        { kind: 'add-approvals', statementId: id, approvals: [approval] },
        null,
      );
    });
    if (contact.online) await this.gatherServerApprovals(server, held.statement, input.signers);
    const stored = services.statement(id) as StoredStatement;
    const verdict = evaluatePolicy(stored.statement, stored.approvals, server.root, {
      now: this.now(),
    });
    const push =
      verdict.satisfied && input.push
        ? await this.pushQueued(server, id, stored.approvals, input.signers)
        : null;
    if (push === null) await this.deliver(server.url, input.signers);
    return {
      statementId: id,
      approval,
      stored,
      verdict,
      pushable: verdict.satisfied,
      push,
      warnings: contact.warning === null ? [] : [contact.warning],
    };
  }

  /**
   * Adds the approvals the server holds for `statement` that verify under the pinned root (rule 4)
   * and returns the server's state of it: null when the server does not hold it, 'unreachable'
   * when it cannot be reached.
   */
  async gatherServerApprovals(
    server: ServerRecord,
    statement: Statement,
    signers: Signers,
  ): Promise<StatementStatus['state'] | 'unreachable' | null> {
    try {
      const client = this.services.client(server.url, await signers(null));
      const status = await fetchStatement(client, statementId(statement));
      for (const approval of verifiedApprovals(server, statement, status.approvals)) {
        this.services.addApproval(approval, 'server');
      }
      return status.state;
    } catch (error) {
      if (isUnreachable(error)) return 'unreachable';
      if (error instanceof AirlockError && error.code === 'NOT_FOUND') return null;
      throw error;
    }
  }

  /**
   * Finds what waits for approval on `server` (`GET …/pending` of every channel it lists) and
   * keeps it here, so an approver's inbox shows proposals nobody handed it an id for. The server
   * is untrusted: a statement is kept only when it hashes to the id given, is on the channel
   * asked for and parses; its approvals only when they verify under the pinned root. A server
   * that does not answer adds nothing (offline, the inbox is this console's own).
   */
  async discoverPending(server: ServerRecord, signers: Signers): Promise<void> {
    try {
      const client = this.services.client(server.url, await signers(null));
      const channels = (await client.listApps()).flatMap(appChannels);
      for (const { app, channel } of channels) {
        // NOT_FOUND: a channel removed meanwhile, or a server from before the route: nothing.
        const pending = await client.listPending(app, channel).catch((error: unknown) => {
          if (error instanceof AirlockError && error.code === 'NOT_FOUND') return [];
          throw error;
        });
        for (const status of pending) {
          const { statement } = status;
          if (statementId(statement) !== status.id) continue;
          if (statement.app !== app || statement.channel !== channel) continue;
          this.services.saveStatement(statement, server);
          for (const approval of verifiedApprovals(server, statement, status.approvals)) {
            this.services.addApproval(approval, 'server');
          }
        }
      }
    } catch (error) {
      if (!isUnreachable(error)) throw error;
    }
  }

  /**
   * A statement the server holds, for review before an online approval: the pin moved forward
   * first (rule 1), the statement checked to be the one named, and the verdict over the approvals
   * that verify under the pinned root.
   */
  async reviewOnline(input: {
    server: string;
    statementId: string;
    signer: IdentitySigner;
    signers?: Signers;
  }): Promise<{
    server: ServerRecord;
    status: StatementStatus;
    approvals: Approval[];
    verdict: Verdict;
    /** What is signed, derived as for a signing request (airgap.ts summarizeRequest). */
    summary: RequestSummary;
  }> {
    const { server, online, warning } = await this.contact(input.server);
    if (!online) throw new AirlockError('IO_ERROR', warning ?? 'The server cannot be reached.');
    const status = await fetchStatement(
      this.services.client(server.url, input.signer),
      input.statementId,
    );
    const { app, channel } = status.statement;
    await this.services.sync(server, app, channel);
    const approvals = verifiedApprovals(server, status.statement, status.approvals);
    const evidence = await this.evidence(server, status.statement, input.signers);
    return {
      server,
      status,
      approvals,
      verdict: evaluatePolicy(status.statement, approvals, server.root, { now: this.now() }),
      summary: summarizeRequest(status.statement, evidence),
    };
  }

  // -------------------------------------------------------------------------------------------
  // Push

  /**
   * Pushes a statement with every approval known here (plus `approvals`, e.g. from files) and the
   * server's: applied at once when the server answers, else queued (offline-first).
   */
  async push(input: {
    server: string;
    statementId: string;
    signers: Signers;
    approvals?: readonly Approval[];
  }): Promise<PushOutcome> {
    const { services } = this;
    const contact = await this.contact(input.server);
    const { server } = contact;
    const stored = services.statement(input.statementId);
    if (stored !== null) {
      for (const approval of input.approvals ?? []) {
        readApprovalObject(approval, stored.statement, server);
        services.addApproval(approval, 'file');
      }
      if (contact.online) await this.gatherServerApprovals(server, stored.statement, input.signers);
    }
    const approvals =
      stored === null ? [...(input.approvals ?? [])] : services.approvals(input.statementId);
    return this.pushQueued(server, input.statementId, approvals, input.signers);
  }

  private async pushQueued(
    server: ServerRecord,
    id: string,
    approvals: readonly Approval[],
    signers: Signers,
  ): Promise<PushOutcome> {
    // Offline-first (ARCHITECTURE.md §7): the push waits in the outbox when the server cannot be
    // reached, and a repeat is answered alreadyApplied, so it never applies twice.
    this.services.queue(
      server.url,
      { kind: 'push', statementId: id, approvals: [...approvals] },
      null,
    );
    const delivery = await this.deliver(server.url, signers);
    const refusal = refusalOf(
      delivery,
      (item) => item.payload.kind === 'push' && item.payload.statementId === id,
    );
    if (refusal !== null) throw refusal;
    const result = delivery.delivered.find(
      (item) => item.payload.kind === 'push' && item.payload.statementId === id,
    )?.result as PushResult | undefined;
    if (result !== undefined) await this.mirrorAfterPush(server, id);
    return {
      statementId: id,
      queued: result === undefined,
      applied: result === undefined ? null : verifiedPush(server, id, result),
      result: result ?? null,
    };
  }

  /**
   * After a push applied, mirrors its channel at once, so that history and rollback targets show
   * it without waiting for the next sync; verified like any sync. A failure here loses nothing.
   */
  private async mirrorAfterPush(server: ServerRecord, id: string): Promise<void> {
    const stored = this.services.statement(id);
    if (stored === null) return;
    try {
      await this.services.sync(server, stored.statement.app, stored.statement.channel);
    } catch (error) {
      this.services.record('mirror.finding', 'local', {
        url: server.url,
        app: stored.statement.app,
        channel: stored.statement.channel,
        kind: 'sync-after-push-failed',
        detail: error instanceof Error ? error.message : String(error),
      });
    }
  }

  // -------------------------------------------------------------------------------------------
  // Device trust (ARCHITECTURE.md §11)

  /**
   * The trust bundle an app is built with, from the server's chain as this machine verified and
   * pinned it (rule 1; offline, the pinned chain), with the snippets that go with it. The newest
   * root must carry its own admins' threshold (checklist B2): `signer` is asked for only when it
   * does not, and must be one of those admins.
   */
  async deviceTrust(input: {
    readonly server: string;
    readonly app: string;
    readonly channel?: string;
    readonly signer?: () => Promise<IdentitySigner>;
  }): Promise<DeviceTrustOutcome> {
    const contact = await this.contact(input.server);
    const broken = contact.findings[0];
    if (broken !== undefined) {
      throw new AirlockError(
        'SIGNATURE_INVALID',
        `${broken.message} Nothing was written; compare the server's fingerprint with the one pinned here.`,
      );
    }
    const { server } = contact;
    let channel = input.channel;
    if (contact.online) {
      const known = (await this.services.client(server.url).listApps()).find(
        (candidate) => candidate.app === input.app,
      );
      if (known === undefined) {
        throw new AirlockError('NOT_FOUND', `The server has no app ${input.app}.`);
      }
      channel ??= appChannels(known)[0]?.channel;
    }
    const roots = [...server.roots];
    const newest = roots[roots.length - 1];
    if (newest === undefined) throw new AirlockError('INVALID_INPUT', 'The pin holds no root.');
    const signed = !selfSigned(newest);
    roots[roots.length - 1] = await selfSignedRoot(
      newest,
      signed && input.signer !== undefined ? await input.signer() : undefined,
    );
    const bundle = buildTrustBundle({
      app: input.app,
      roots,
      rootFingerprint: server.pinnedRootId,
      serverKey: { keyId: server.serverKeyId, publicKey: server.serverPublicKey },
      createdAt: this.now(),
    });
    return {
      bundle,
      rootVersion: newest.root.version,
      rootFingerprint: server.pinnedRootId,
      serverKeyId: server.serverKeyId,
      signed,
      snippets: deviceSnippets({
        server: server.url,
        app: input.app,
        channel: channel ?? 'production',
      }),
      warning: contact.online
        ? null
        : `${contact.warning ?? 'The server could not be reached.'} Built from the pinned chain; that the server has app ${input.app} was not checked.`,
    };
  }

  /** Sends what waits for `url`, reporting each delivered item. */
  async deliver(url: string, signers: Signers): Promise<DeliveryReport> {
    const due = this.services.outbox.list(['pending']).filter((item) => item.serverUrl === url);
    // An item queued without a signer uses the chosen identity: resolve it first, so that a
    // keychain with several identities is the caller's error and not a failed outbox item.
    if (due.some((item) => item.signerKeyId === null)) await signers(null);
    let done = 0;
    return this.services.deliver(url, signers, {
      force: true,
      ...(this.options.client === undefined ? {} : { client: this.options.client }),
      onItem: () => {
        done += 1;
        this.options.onDeliver?.(done, due.length, url);
      },
    });
  }
}

/** The statement the server holds under `id`, checked to really be that statement. */
export async function fetchStatement(client: ServerClient, id: string): Promise<StatementStatus> {
  const status = await client.getStatement(id);
  // The server is untrusted (ARCHITECTURE.md rule 13): what we sign must hash to the id we asked for.
  if (statementId(status.statement) !== id || status.id !== id) {
    throw new AirlockError(
      'INVALID_INPUT',
      `The server answered with a statement whose id is not ${id}.`,
    );
  }
  return status;
}

/** Of `approvals`, those that verify under the pinned root (one per member). */
function verifiedApprovals(
  server: ServerRecord,
  statement: Statement,
  approvals: readonly Approval[],
): Approval[] {
  const members = trustedMembers(server.root);
  const seen = new Set<string>();
  return approvals.filter((approval) => {
    const member = members.get(approval.keyId);
    if (member === undefined || seen.has(member.keyId)) return false;
    if (!verifyApproval(statement, approval, member.publicKey)) return false;
    seen.add(member.keyId);
    return true;
  });
}

/** An approval handed in by the caller (a file's), checked like an imported one. */
function readApprovalObject(approval: Approval, statement: Statement, server: ServerRecord): void {
  if (verifiedApprovals(server, statement, [approval]).length !== 1) {
    throw new AirlockError(
      'APPROVAL_FILE_INVALID',
      `The approval by ${approval.keyId.slice(0, 16)} does not verify for this statement under the pinned trust root.`,
    );
  }
}

/** Rule 5: the push's checkpoint must be signed by the pinned server key and name this statement. */
export function verifiedPush(server: ServerRecord, id: string, result: PushResult): VerifiedPush {
  const key = serverKeyBytes({ keyId: server.serverKeyId, publicKey: server.serverPublicKey });
  const { checkpoint } = result.checkpoint;
  if (
    !verifyCheckpoint(result.checkpoint, key) ||
    checkpoint.head !== id ||
    checkpoint.seq !== result.seq
  ) {
    throw new AirlockError(
      'SIGNATURE_INVALID',
      'The server answered the push with a checkpoint that does not verify for this statement.',
    );
  }
  return {
    seq: result.seq,
    alreadyApplied: result.alreadyApplied,
    checkpointTime: checkpoint.time,
  };
}
