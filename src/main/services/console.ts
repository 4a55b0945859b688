import { AirlockError } from '../../core/errors';
import type { ChannelState } from '../../core/channel';
import { evaluatePolicy, type Verdict } from '../../core/policy';
import type { IdentitySigner } from '../../core/statement';
import type { Approval, Statement, TrustRoot } from '../../shared/schemas';
import { openStore, type DatabaseOptions, type Db } from '../db/connection';
import { AuditRepo, type AuditAction } from '../db/repositories/audit.repo';
import { BundlesRepo } from '../db/repositories/bundles.repo';
import { FindingsRepo } from '../db/repositories/findings.repo';
import { MirrorRepo, type MirroredEntry } from '../db/repositories/mirror.repo';
import { OutboxRepo } from '../db/repositories/outbox.repo';
import { ServersRepo, type ServerRecord } from '../db/repositories/servers.repo';
import { StatementsRepo, type ApprovalSource } from '../db/repositories/statements.repo';
import { dataDir } from '../paths';
import { createServerClient, type ServerClient } from '../server-client';
import {
  connectServer,
  syncChannel,
  type ConnectResult,
  type SyncOptions,
  type SyncReport,
} from './mirror';
import { deliverOutbox, type DeliveryReport, type OutboxPayload } from './outbox';

/**
 * The console's store and the services every flow needs (ARCHITECTURE.md §7): one SQLite store in
 * the data directory, its repositories (the only code that speaks SQL), the hash-chained audit
 * trail, the outbox and its delivery, the trust pin and the verified mirror. The flows themselves
 * (propose, approve, import, push, …) are src/main/services/workflow.ts, which the CLI and the IPC
 * handlers share. Nothing here imports electron.
 */

export interface StoredStatement {
  readonly id: string;
  readonly serverUrl: string | null;
  readonly statement: Statement;
  readonly approvals: Approval[];
}

export interface ChannelHead {
  readonly seq: number;
  readonly head: string | null;
  /** The channel state by the shared fold: rollout, pause and rollback marks included. */
  readonly state: ChannelState;
  /** The release devices get, per the verified mirror (after rollbacks), or null. */
  readonly current: MirroredEntry | null;
  readonly currentVersion: string | null;
  readonly currentBundle: string | null;
}

export interface Repositories {
  readonly servers: ServersRepo;
  readonly statements: StatementsRepo;
  readonly bundles: BundlesRepo;
  readonly mirror: MirrorRepo;
  readonly findings: FindingsRepo;
}

export class ConsoleServices {
  readonly audit: AuditRepo;
  readonly outbox: OutboxRepo;
  readonly repos: Repositories;

  private constructor(
    readonly db: Db,
    readonly home: string,
  ) {
    this.audit = new AuditRepo(db);
    this.outbox = new OutboxRepo(db);
    this.repos = {
      servers: new ServersRepo(db),
      statements: new StatementsRepo(db),
      bundles: new BundlesRepo(db),
      mirror: new MirrorRepo(db),
      findings: new FindingsRepo(db),
    };
  }

  /**
   * Opens (creating and migrating) the store in `home` (default: AIRLOCK_HOME or the OS folder);
   * `options.nativeBinding` is the SQLite addon to load (Electron from a checkout, src/main/index.ts).
   */
  static open(home: string = dataDir(), options: DatabaseOptions = {}): ConsoleServices {
    return new ConsoleServices(openStore(home, options), home);
  }

  close(): void {
    this.db.close();
  }

  record(action: AuditAction, actor: string, details: Record<string, unknown>): void {
    this.audit.append(action, actor, details);
  }

  /** Runs `work` in one transaction. */
  transaction<T>(work: () => T): T {
    return this.db.transaction(work)();
  }

  // -------------------------------------------------------------------------------------------
  // Servers, the trust pin and the mirror

  /** A client for `url`; admin requests are signed by `signer` when given. */
  client(url: string, signer?: IdentitySigner): ServerClient {
    return createServerClient({ baseUrl: url, ...(signer === undefined ? {} : { signer }) });
  }

  /**
   * Pins a server on first contact, or moves its pin forward through the verified chain
   * (ARCHITECTURE.md §4): on every contact with the server, so that a routine member change is
   * never mistaken for tampering. A chain that does not extend the pinned one is a finding.
   */
  async connect(url: string, opts: { expectRootId?: string } = {}): Promise<ConnectResult> {
    const known = this.server(url);
    const result = await connectServer(this.db, this.client(url), opts);
    if (result.firstContact) {
      this.record('server.connected', 'local', {
        url: result.server.url,
        rootId: result.rootId,
        rootVersion: result.rootVersion,
      });
    } else if (known !== null && result.server.root.version > known.root.version) {
      this.record('server.root_updated', 'local', {
        url: result.server.url,
        from: known.root.version,
        to: result.server.root.version,
      });
    }
    for (const finding of result.findings) {
      this.record('mirror.finding', 'local', { url: result.server.url, ...finding });
    }
    return result;
  }

  server(url: string): ServerRecord | null {
    return this.repos.servers.get(createServerClient({ baseUrl: url }).baseUrl);
  }

  servers(): ServerRecord[] {
    return this.repos.servers.list();
  }

  /** The pinned server record, or a clear error telling the user to connect first. */
  requireServer(url: string): ServerRecord {
    const server = this.server(url);
    if (server === null) {
      throw new AirlockError(
        'NOT_FOUND',
        `This console is not connected to ${url}; run "airlock connect ${url}" first and compare the fingerprint.`,
      );
    }
    return server;
  }

  /** The channels this console follows on a server: those of its statements and its mirror. */
  channels(server: ServerRecord): { app: string; channel: string }[] {
    return this.repos.statements.channelsOf(server.id);
  }

  /** Pulls and verifies app/channel's log (src/main/services/mirror.ts); findings are audited. */
  async sync(
    server: ServerRecord,
    app: string,
    channel: string,
    opts: SyncOptions = {},
  ): Promise<SyncReport> {
    const report = await syncChannel(this.db, this.client(server.url), server, app, channel, opts);
    for (const finding of report.findings) {
      this.record('mirror.finding', 'local', { url: server.url, ...finding });
    }
    return report;
  }

  /**
   * Where app/channel stands in the verified mirror: the channel state the server and the device
   * guard compute (the same fold, src/core/channel/state.ts), and the release it names.
   */
  mirrorHead(server: ServerRecord, app: string, channel: string): ChannelHead {
    const state = this.repos.mirror.state(server.id, app, channel);
    const current =
      state.currentRelease === null
        ? null
        : this.repos.mirror.entry(server.id, state.currentRelease);
    const release = current?.entry.statement;
    return {
      seq: state.seq,
      head: state.head,
      state,
      current: release?.kind === 'release' ? current : null,
      currentVersion: release?.kind === 'release' ? release.release.version : null,
      currentBundle: release?.kind === 'release' ? release.release.bundle.encryptedSha256 : null,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Statements and approvals held locally

  /** Stores a statement this console proposed or imported (idempotent). */
  saveStatement(statement: Statement, server: ServerRecord | null): string {
    return this.repos.statements.save(statement, server?.id ?? null, new Date());
  }

  statement(id: string): StoredStatement | null {
    const row = this.repos.statements.get(id);
    if (row === null) return null;
    const url = row.serverId === null ? null : (this.repos.servers.byId(row.serverId)?.url ?? null);
    return {
      id,
      serverUrl: url,
      statement: row.statement,
      approvals: this.repos.statements.approvals(id),
    };
  }

  approvals(id: string): Approval[] {
    return this.repos.statements.approvals(id);
  }

  addApproval(approval: Approval, source: ApprovalSource): boolean {
    return this.repos.statements.addApproval(approval, source, new Date());
  }

  /** The policy verdict for a stored statement under `root` (default: its server's pinned root). */
  verdict(stored: StoredStatement, now = new Date(), root?: TrustRoot): Verdict | null {
    const judge =
      root ?? (stored.serverUrl === null ? null : this.requireServer(stored.serverUrl).root);
    if (judge === null) return null;
    return evaluatePolicy(stored.statement, stored.approvals, judge, { now });
  }

  // -------------------------------------------------------------------------------------------
  // The outbox

  queue(serverUrl: string, payload: OutboxPayload, signerKeyId: string | null): void {
    const item = this.outbox.enqueue(serverUrl, payload, signerKeyId);
    const actor = payload.kind === 'submit-statement' ? payload.statement.proposer : 'local';
    this.record('push.queued', actor, {
      outboxId: item.id,
      kind: payload.kind,
      ...('statementId' in payload ? { statementId: payload.statementId } : {}),
    });
  }

  /**
   * Sends what waits for `serverUrl`, in order; a lost or repeated delivery applies once. Items
   * backing off wait their turn unless `force` (a person asked: the CLI, a Sync button).
   */
  async deliver(
    serverUrl: string,
    signerFor: (keyId: string | null) => Promise<IdentitySigner>,
    opts: {
      force?: boolean;
      client?: (url: string, signer: IdentitySigner) => ServerClient;
      onItem?: () => void;
    } = {},
  ): Promise<DeliveryReport> {
    const clientFor = opts.client ?? ((url, signer) => this.client(url, signer));
    const report = await deliverOutbox(
      this.outbox,
      serverUrl,
      async (keyId) => clientFor(serverUrl, await signerFor(keyId)),
      {
        ...(opts.force === undefined ? {} : { force: opts.force }),
        ...(opts.onItem === undefined ? {} : { onItem: opts.onItem }),
      },
    );
    for (const item of report.delivered) {
      this.record('push.delivered', 'local', { outboxId: item.id, kind: item.payload.kind });
    }
    for (const { item, error, code } of report.failed) {
      this.record('push.failed', 'local', {
        outboxId: item.id,
        kind: item.payload.kind,
        error,
        code,
      });
    }
    return report;
  }
}
