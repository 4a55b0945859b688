import { AirlockError } from '../../core/errors';
import { diffFileLists, type BundleFile } from '../../core/bundle';
import { evaluatePolicy, type Verdict } from '../../core/policy';
import { statementId, type IdentitySigner } from '../../core/statement';
import type {
  Approval,
  BundleRef,
  SignedTrustRoot,
  SigningRequest,
  Statement,
} from '../../shared/schemas';
import { openStore, type DatabaseOptions, type Db } from '../db/connection';
import { AuditRepo, type AuditAction } from '../db/repositories/audit.repo';
import { dataDir } from '../paths';
import { createServerClient, type ServerClient } from '../server-client';
import { createSigningRequest, readApprovalFile } from './airgap';
import {
  connectServer,
  getServer,
  listServers,
  syncChannel,
  type ConnectResult,
  type ServerRecord,
  type SyncOptions,
  type SyncReport,
} from './mirror';
import { deliverOutbox, OutboxRepo, type DeliveryReport, type OutboxPayload } from './outbox';

/**
 * The console's main-process services over one SQLite store in the data directory (ARCHITECTURE.md §7,
 * issue 4). The CLI and the Electron IPC handlers both use this; nothing here imports electron.
 * Every action a person takes is written to the hash-chained audit trail.
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
  /** The release devices get, per the verified mirror (after rollbacks), or null. */
  readonly currentVersion: string | null;
  readonly currentBundle: string | null;
}

export class ConsoleServices {
  readonly audit: AuditRepo;
  readonly outbox: OutboxRepo;

  private constructor(
    readonly db: Db,
    readonly home: string,
  ) {
    this.audit = new AuditRepo(db);
    this.outbox = new OutboxRepo(db);
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

  // -------------------------------------------------------------------------------------------
  // Servers and the mirror

  /** A client for `url`; admin requests are signed by `signer` when given. */
  client(url: string, signer?: IdentitySigner): ServerClient {
    return createServerClient({ baseUrl: url, ...(signer === undefined ? {} : { signer }) });
  }

  /** Connects and pins (first contact) or updates through the chain (ARCHITECTURE.md §4). */
  async connect(url: string, opts: { expectRootId?: string } = {}): Promise<ConnectResult> {
    const result = await connectServer(this.db, this.client(url), opts);
    if (result.firstContact) {
      this.record('server.connected', 'local', {
        url: result.server.url,
        rootId: result.rootId,
        rootVersion: result.rootVersion,
      });
    }
    return result;
  }

  server(url: string): ServerRecord | null {
    return getServer(this.db, createServerClient({ baseUrl: url }).baseUrl);
  }

  servers(): ServerRecord[] {
    return listServers(this.db);
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
    return this.db
      .prepare<[number, number], { app: string; channel: string }>(
        `SELECT app, channel FROM statements WHERE server_id = ?
         UNION SELECT app, channel FROM checkpoints WHERE server_id = ? ORDER BY app, channel`,
      )
      .all(server.id, server.id);
  }

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

  /** Where app/channel stands in the verified mirror (seq, head, current release). */
  mirrorHead(server: ServerRecord, app: string, channel: string): ChannelHead {
    const head = this.db
      .prepare<[number, string, string], { seq: number; head: string }>(
        'SELECT seq, head FROM checkpoints WHERE server_id = ? AND app = ? AND channel = ?',
      )
      .get(server.id, app, channel);
    const entries = this.db
      .prepare<[number, string, string], { entry_json: string }>(
        `SELECT entry_json FROM log_entries WHERE server_id = ? AND app = ? AND channel = ?
         AND kind IN ('release', 'rollback') ORDER BY seq DESC LIMIT 1`,
      )
      .get(server.id, app, channel);
    let current: { version: string; bundle: string } | null = null;
    if (entries !== undefined) {
      const last = JSON.parse(entries.entry_json) as { statement: Statement };
      const release =
        last.statement.kind === 'rollback'
          ? this.mirroredRelease(server, last.statement.target)
          : last.statement.kind === 'release'
            ? last.statement
            : null;
      if (release !== null && release.kind === 'release') {
        current = {
          version: release.release.version,
          bundle: release.release.bundle.encryptedSha256,
        };
      }
    }
    return {
      seq: head?.seq ?? 0,
      head: head?.head ?? null,
      currentVersion: current?.version ?? null,
      currentBundle: current?.bundle ?? null,
    };
  }

  private mirroredRelease(server: ServerRecord, id: string): Statement | null {
    const row = this.db
      .prepare<[number, string], { entry_json: string }>(
        'SELECT entry_json FROM log_entries WHERE server_id = ? AND statement_id = ?',
      )
      .get(server.id, id);
    return row === undefined
      ? null
      : (JSON.parse(row.entry_json) as { statement: Statement }).statement;
  }

  /**
   * Where a new statement goes on app/channel: the server's head when it answers, else the head of
   * the verified mirror (offline-first, ARCHITECTURE.md §7); `offline` then says why the server was not used.
   */
  async channelPosition(
    client: ServerClient,
    server: ServerRecord,
    app: string,
    channel: string,
  ): Promise<{ seq: number; head: string | null; offline: string | null }> {
    try {
      const status = await client.getChannel(app, channel);
      return { seq: status.seq, head: status.head, offline: null };
    } catch (error) {
      if (!(error instanceof AirlockError && error.code === 'IO_ERROR')) throw error;
      const head = this.mirrorHead(server, app, channel);
      return { seq: head.seq, head: head.head, offline: error.message };
    }
  }

  // -------------------------------------------------------------------------------------------
  // Bundles, statements and approvals held locally

  /** Remembers a local bundle artifact and its file list (for request summaries). */
  rememberBundle(path: string, info: BundleRef, files: readonly BundleFile[] | null): void {
    this.db
      .prepare(
        `INSERT INTO bundles (encrypted_sha256, path, info_json, file_list_json, created_at)
         VALUES (?, ?, ?, ?, ?) ON CONFLICT (encrypted_sha256) DO UPDATE SET path = excluded.path,
         file_list_json = coalesce(excluded.file_list_json, bundles.file_list_json)`,
      )
      .run(
        info.encryptedSha256,
        path,
        JSON.stringify(info),
        files === null ? null : JSON.stringify(files),
        new Date().toISOString(),
      );
  }

  bundleFiles(encryptedSha256: string): BundleFile[] | null {
    const row = this.db
      .prepare<[string], { file_list_json: string | null }>(
        'SELECT file_list_json FROM bundles WHERE encrypted_sha256 = ?',
      )
      .get(encryptedSha256);
    return row?.file_list_json == null ? null : (JSON.parse(row.file_list_json) as BundleFile[]);
  }

  /** Stores a statement this console proposed or imported (idempotent). */
  saveStatement(statement: Statement, server: ServerRecord | null): string {
    const id = statementId(statement);
    this.db
      .prepare(
        `INSERT INTO statements (id, server_id, app, channel, seq, kind, json, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
      )
      .run(
        id,
        server?.id ?? null,
        statement.app,
        statement.channel,
        statement.seq,
        statement.kind,
        JSON.stringify(statement),
        new Date().toISOString(),
      );
    return id;
  }

  statement(id: string): StoredStatement | null {
    const row = this.db
      .prepare<[string], { json: string; server_id: number | null }>(
        'SELECT json, server_id FROM statements WHERE id = ?',
      )
      .get(id);
    if (row === undefined) return null;
    const url =
      row.server_id === null
        ? null
        : (this.db
            .prepare<[number], { url: string }>('SELECT url FROM servers WHERE id = ?')
            .get(row.server_id)?.url ?? null);
    return {
      id,
      serverUrl: url,
      statement: JSON.parse(row.json) as Statement,
      approvals: this.approvals(id),
    };
  }

  approvals(id: string): Approval[] {
    return this.db
      .prepare<[string], { key_id: string; sig: string }>(
        'SELECT key_id, sig FROM approvals WHERE statement_id = ? ORDER BY added_at, key_id',
      )
      .all(id)
      .map((row) => ({ statement: id, keyId: row.key_id, sig: row.sig }));
  }

  addApproval(approval: Approval, source: 'signed' | 'file' | 'server'): boolean {
    return (
      this.db
        .prepare(
          `INSERT INTO approvals (statement_id, key_id, sig, source, added_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (statement_id, key_id) DO NOTHING`,
        )
        .run(approval.statement, approval.keyId, approval.sig, source, new Date().toISOString())
        .changes > 0
    );
  }

  /** The policy verdict for a stored statement under the server's pinned trust root. */
  verdict(stored: StoredStatement, now = new Date()): Verdict | null {
    if (stored.serverUrl === null) return null;
    const server = this.requireServer(stored.serverUrl);
    return evaluatePolicy(stored.statement, stored.approvals, server.root, { now });
  }

  /**
   * Records a new statement proposed by `proposerKeyId` and queues it (after its bundle, when it
   * has one) for the server, in one transaction; the shared half of propose, rollout and rollback.
   */
  recordProposal(
    statement: Statement,
    server: ServerRecord,
    proposerKeyId: string,
    bundle?: { path: string; info: BundleRef; files: readonly BundleFile[] | null },
  ): string {
    const id = statementId(statement);
    this.db.transaction(() => {
      this.saveStatement(statement, server);
      this.record('statement.proposed', proposerKeyId, {
        statementId: id,
        kind: statement.kind,
        app: statement.app,
        channel: statement.channel,
        seq: statement.seq,
      });
      if (bundle !== undefined) {
        this.rememberBundle(bundle.path, bundle.info, bundle.files);
        this.queue(
          server.url,
          {
            kind: 'upload-bundle',
            encryptedSha256: bundle.info.encryptedSha256,
            path: bundle.path,
          },
          proposerKeyId,
        );
      }
      this.queue(
        server.url,
        { kind: 'submit-statement', statementId: id, statement, approvals: [] },
        proposerKeyId,
      );
    })();
    return id;
  }

  // -------------------------------------------------------------------------------------------
  // Air-gapped files (ARCHITECTURE.md §5)

  /** A signing request for a stored statement, with the summary this console can give. */
  signingRequest(id: string): SigningRequest {
    const stored = this.statement(id);
    if (stored === null)
      throw new AirlockError('NOT_FOUND', `No statement ${id.slice(0, 16)}… in this console.`);
    if (stored.serverUrl === null) {
      throw new AirlockError('INVALID_ARGUMENT', 'The statement is not tied to a server.');
    }
    const server = this.requireServer(stored.serverUrl);
    const head = this.mirrorHead(server, stored.statement.app, stored.statement.channel);
    const { statement } = stored;
    let fileDiff = null;
    if (statement.kind === 'release' && head.currentBundle !== null) {
      const before = this.bundleFiles(head.currentBundle);
      const after = this.bundleFiles(statement.release.bundle.encryptedSha256);
      if (before !== null && after !== null) fileDiff = diffFileLists(before, after);
    }
    const root: SignedTrustRoot = server.roots.at(-1) as SignedTrustRoot;
    const request = createSigningRequest({
      statement,
      approvals: stored.approvals,
      root,
      server: server.url,
      extras: { currentVersion: head.currentVersion, fileDiff },
    });
    this.record('request.exported', statement.proposer, { statementId: id });
    return request;
  }

  /**
   * Imports an approval file for a statement this console holds: checked strictly (statement,
   * signer, signature, duplicates), stored, and queued for the server; once the policy is
   * satisfied under the pinned root, a push is queued too.
   */
  importApproval(
    text: string,
    statementIdHint?: string,
  ): {
    approval: Approval;
    stored: StoredStatement;
    verdict: Verdict | null;
    pushQueued: boolean;
  } {
    const id = statementIdHint ?? approvalStatementId(text);
    const stored = this.statement(id);
    if (stored === null) {
      throw new AirlockError(
        'APPROVAL_FILE_INVALID',
        `The approval is for statement ${id.slice(0, 16)}…, which this console did not propose or import.`,
      );
    }
    if (stored.serverUrl === null)
      throw new AirlockError('INVALID_ARGUMENT', 'The statement is not tied to a server.');
    const server = this.requireServer(stored.serverUrl);
    const approval = readApprovalFile(text, stored.statement, server.root, stored.approvals);
    this.db.transaction(() => {
      this.addApproval(approval, 'file');
      this.record('approval.imported', approval.keyId, { statementId: id });
      this.queue(
        server.url,
        { kind: 'add-approvals', statementId: id, approvals: [approval] },
        null,
      );
    })();
    const updated = this.statement(id) as StoredStatement;
    const verdict = this.verdict(updated);
    let pushQueued = false;
    if (verdict?.satisfied === true) {
      this.queue(server.url, { kind: 'push', statementId: id, approvals: updated.approvals }, null);
      pushQueued = true;
    }
    return { approval, stored: updated, verdict, pushQueued };
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
    opts: { force?: boolean } = {},
  ): Promise<DeliveryReport> {
    const report = await deliverOutbox(
      this.outbox,
      serverUrl,
      async (keyId) => this.client(serverUrl, await signerFor(keyId)),
      opts,
    );
    for (const item of report.delivered) {
      this.record('push.delivered', 'local', { outboxId: item.id, kind: item.payload.kind });
    }
    for (const { item, error } of report.failed) {
      this.record('push.failed', 'local', { outboxId: item.id, kind: item.payload.kind, error });
    }
    return report;
  }
}

/** The statement id an approval file names, read leniently (the strict check follows). */
function approvalStatementId(text: string): string {
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
