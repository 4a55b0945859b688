import { randomBytes } from 'node:crypto';
import { mkdir, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildBundle, bundleFileList, encryptBundle, type BundleFile } from '../../core/bundle';
import { formatFingerprint } from '../../core/crypto';
import { AirlockError, toErrorShape } from '../../core/errors';
import { serverKeyBytes, verifyCheckpoint } from '../../core/log';
import { evaluatePolicy, findPolicy } from '../../core/policy';
import {
  createApproval,
  nextStatementHeader,
  rootId,
  statementId,
  trustedMembers,
  verifyApproval,
  type IdentitySigner,
  type StatementHeader,
} from '../../core/statement';
import { IpcChannels as Ch } from '../../shared/ipc/channels';
import type {
  FileOffer,
  FindingView,
  IpcResponseInput,
  KeyView,
  ProposeResult,
  StatementState,
} from '../../shared/ipc/contract';
import {
  BundleRefSchema,
  SemverSchema,
  type Approval,
  type BundleRef,
  type ChannelStatus,
  type PushResult,
  type Statement,
  type StatementStatus,
  type TrustRoot,
} from '../../shared/schemas';
import { resolveIdentity } from '../identity';
import type { KeyInfo, KeyStore } from '../keys/key-store';
import { createServerClient, type AppSummary, type ServerClient } from '../server-client';
import { approveSigningRequest, reviewSigningRequest } from '../services/airgap';
import type { ConsoleServices, StoredStatement } from '../services/console';
import { listFindings, type Finding, type ServerRecord } from '../services/mirror';
import { deliverOutbox, type DeliveryReport } from '../services/outbox';
import type { HandlerContext, HandlerTable } from './handle';

/**
 * The console's IPC handlers (issue 5): plain functions over the main-process services, one per
 * channel of src/shared/ipc/channels.ts. Nothing here imports electron, so the Electron wiring
 * (register.ts), the Node tests and the e2e test bridge all run this very table.
 *
 * The CLI (src/cli/commands) is the reference for every flow; the differences are deliberate:
 * - a server must have been connected (`servers:connect`, fingerprint shown) before anything is
 *   sent to it: nothing is pinned implicitly;
 * - identities come from the keychain only: never from AIRLOCK_IDENTITY_KEY (ARCHITECTURE.md §2);
 * - a rollback target is looked up in the verified mirror, not in what the server says;
 * - push answers are checked against the server key pinned on first contact;
 * - every action is written to the audit trail.
 * Inputs are already parsed with the channel's schema (handle.ts); what a handler returns is
 * parsed again with the response schema before it leaves.
 */

/** Native dialogs, provided by the Electron wiring (or a test double for the bridge). */
export interface ConsoleDialogs {
  /** The folder the user picked, or null when they cancelled. */
  chooseFolder(options: { title: string }): Promise<string | null>;
}

export interface HandlerDeps {
  readonly services: ConsoleServices;
  readonly keys: KeyStore;
  readonly dialogs: ConsoleDialogs;
  readonly appVersion: string;
  readonly platform?: string;
  readonly now?: () => Date;
  /** How long a reachability check may wait for a server (status, overview). Default 5 s. */
  readonly probeTimeoutMs?: number;
}

type Signers = (keyId: string | null) => Promise<IdentitySigner>;

const HEX_64 = /^[0-9a-f]{64}$/;
const DEFAULT_PROBE_MS = 5_000;

function keyView(key: KeyInfo): KeyView {
  return {
    keyId: key.keyId,
    type: key.type,
    label: key.label,
    fingerprint: key.fingerprint,
    createdAt: key.createdAt,
    publicKey: key.publicKey,
    ...(key.capgoKeyId === undefined ? {} : { capgoKeyId: key.capgoKeyId }),
  };
}

function findingView(server: string, finding: Finding & { foundAt?: string }): FindingView {
  return {
    server,
    kind: finding.kind,
    app: finding.app,
    channel: finding.channel,
    seq: finding.seq,
    message: finding.message,
    ...(finding.foundAt === undefined ? {} : { foundAt: finding.foundAt }),
  };
}

function isUnreachable(error: unknown): boolean {
  return error instanceof AirlockError && error.code === 'IO_ERROR';
}

function messageOf(error: unknown): string {
  return toErrorShape(error).message;
}

/** The channel names a server lists for an app, whichever form it uses. */
function appChannels(app: AppSummary): { app: string; channel: string }[] {
  return (app.channels ?? []).map((entry) => ({
    app: app.app,
    channel: typeof entry === 'string' ? entry : entry.name,
  }));
}

function uniqueChannels(
  lists: readonly { app: string; channel: string }[][],
): { app: string; channel: string }[] {
  const seen = new Map<string, { app: string; channel: string }>();
  for (const entry of lists.flat()) seen.set(`${entry.app}\u0000${entry.channel}`, entry);
  return [...seen.values()].sort(
    (a, b) => a.app.localeCompare(b.app) || a.channel.localeCompare(b.channel),
  );
}

/** Member names by key id, for people (ARCHITECTURE.md §2: fingerprints for keys nobody named). */
function memberNames(root: TrustRoot, keyIds: readonly string[]): Record<string, string> {
  const names: Record<string, string> = {};
  for (const keyId of keyIds) {
    const member = root.members.find((candidate) => candidate.keyId === keyId);
    names[keyId] = member?.name ?? formatFingerprint(keyId);
  }
  return names;
}

/** Why an approval by `keyId` would not count (ARCHITECTURE.md §3 policy rules), to say so up front. */
function countingNotes(statement: Statement, root: TrustRoot, keyId: string): string[] {
  const policy = findPolicy(root, statement.app, statement.channel, statement.kind);
  const member = root.members.find((candidate) => candidate.keyId === keyId);
  if (policy === null) return [`No policy of the trust root covers ${statement.kind} here.`];
  if (member === undefined) return ['Your identity key is not a member of the trust root.'];
  if (!policy.roles.some((role) => member.roles.includes(role))) {
    return [`Your roles (${member.roles.join(', ')}) do not count for ${statement.kind}.`];
  }
  if (keyId === statement.proposer && !policy.proposerCounts) {
    return ["The proposer's own approval does not count: another person must approve."];
  }
  return [];
}

/** The ids of every trust root this console verified for `server` (version 1 onwards). */
function verifiedRootIds(server: ServerRecord): string[] {
  return server.roots.map((signed) => rootId(signed.root));
}

/** The statement the server holds under `id`, checked to really be that statement. */
async function fetchStatement(client: ServerClient, id: string): Promise<StatementStatus> {
  const status = await client.getStatement(id);
  // The server is untrusted (ARCHITECTURE.md rule 13): what we show or sign must hash to the id asked for.
  if (status.id !== id || statementId(status.statement) !== id) {
    throw new AirlockError(
      'INVALID_INPUT',
      `The server answered with a statement whose id is not ${id.slice(0, 16)}….`,
    );
  }
  return status;
}

/** A push answer, checked against the server key pinned on first contact (ARCHITECTURE.md §3). */
function verifiedPush(
  server: ServerRecord,
  id: string,
  result: PushResult,
): { seq: number; alreadyApplied: boolean; checkpointTime: string } {
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

/**
 * The members of `root` that verifiers count (ARCHITECTURE.md §3): a listed key id that is not the hash of
 * its key is ignored by every check, so it is not shown as a member either.
 */
function rootMembers(
  root: TrustRoot,
): IpcResponseInput<typeof Ch.serversList>['servers'][number]['members'] {
  const trusted = trustedMembers(root);
  return root.members
    .filter((member) => trusted.has(member.keyId))
    .map((member) => ({
      keyId: member.keyId,
      name: member.name,
      roles: member.roles,
      fingerprint: formatFingerprint(member.keyId),
    }));
}

/**
 * A signing request file (ARCHITECTURE.md §5) for a statement this console holds: the one place that names
 * and writes it, for `releases:propose … exportRequest` and `approvals:export-request` alike.
 */
function requestOffer(services: ConsoleServices, id: string): FileOffer {
  const signing = services.signingRequest(id);
  const { statement } = signing;
  return {
    fileName: `${statement.app}-${statement.channel}-seq${statement.seq}.airlock-request.json`,
    content: `${JSON.stringify(signing, null, 2)}\n`,
  };
}

interface UnappliedRow {
  id: string;
  url: string | null;
  json: string;
  logged: string | null;
}

/**
 * Statements this console holds that are not in the verified log: the inbox. A statement whose
 * seq the mirror holds with another id lost its place (stale). Uses the log's primary key.
 */
function unappliedStatements(
  services: ConsoleServices,
  filter: { server?: string; app?: string; channel?: string; limit: number },
): UnappliedRow[] {
  return services.db
    .prepare<(string | number | null)[], UnappliedRow>(
      `SELECT s.id AS id, sv.url AS url, s.json AS json, l.statement_id AS logged
       FROM statements s
       LEFT JOIN servers sv ON sv.id = s.server_id
       LEFT JOIN log_entries l ON l.server_id = s.server_id AND l.app = s.app
         AND l.channel = s.channel AND l.seq = s.seq
       WHERE (l.statement_id IS NULL OR l.statement_id != s.id)
         AND (? IS NULL OR sv.url = ?) AND (? IS NULL OR s.app = ?) AND (? IS NULL OR s.channel = ?)
       ORDER BY s.created_at DESC, s.id LIMIT ?`,
    )
    .all(
      filter.server ?? null,
      filter.server ?? null,
      filter.app ?? null,
      filter.app ?? null,
      filter.channel ?? null,
      filter.channel ?? null,
      filter.limit,
    );
}

/** A bundle this console built (`bundles:build`), by the SHA-256 of its encrypted file. */
function storedBundle(
  services: ConsoleServices,
  encryptedSha256: string,
): { path: string; info: BundleRef; files: BundleFile[] | null } {
  const row = services.db
    .prepare<[string], { path: string; info_json: string }>(
      'SELECT path, info_json FROM bundles WHERE encrypted_sha256 = ?',
    )
    .get(encryptedSha256);
  const info = row === undefined ? null : BundleRefSchema.safeParse(JSON.parse(row.info_json));
  if (row === undefined || info === null || !info.success) {
    throw new AirlockError(
      'NOT_FOUND',
      `No bundle ${encryptedSha256.slice(0, 16)}… was built in this console; build it first.`,
    );
  }
  return { path: row.path, info: info.data, files: services.bundleFiles(encryptedSha256) };
}

/** A client whose bundle uploads report progress to the window. */
function withUploadProgress(client: ServerClient, ctx: HandlerContext): ServerClient {
  return {
    ...client,
    uploadBundle: (sha, path, onProgress) =>
      client.uploadBundle(sha, path, (progress) => {
        onProgress?.(progress);
        ctx.progress({
          phase: progress.phase,
          done: progress.done,
          total: progress.total,
          unit: 'bytes',
          label: sha.slice(0, 16),
        });
      }),
  };
}

/**
 * The handler table over `deps`. One instance per data directory; the Electron wiring registers it
 * with ipcMain, the test bridge serves it over loopback HTTP.
 */
export function createHandlers(deps: HandlerDeps): HandlerTable {
  const { services, keys } = deps;
  const now = deps.now ?? ((): Date => new Date());
  const probeTimeoutMs = deps.probeTimeoutMs ?? DEFAULT_PROBE_MS;
  /** Folders the user picked in the folder dialog: the only ones `bundles:build` reads. */
  const grantedFolders = new Set<string>();

  /** The identity that signs (ARCHITECTURE.md §8 order, keychain keys only: never an environment key). */
  async function identity(keyId: string | undefined): Promise<IdentitySigner> {
    try {
      return await resolveIdentity(() => keys, { keyId, env: {} });
    } catch (error) {
      // resolveIdentity words its errors for the command line; say the same for the window.
      if (keyId === undefined && error instanceof AirlockError) {
        if (error.code === 'KEY_NOT_FOUND') {
          throw new AirlockError(
            'KEY_NOT_FOUND',
            'No identity key is in the keychain yet: create one first.',
            { cause: error },
          );
        }
        if (error.code === 'INVALID_ARGUMENT') {
          throw new AirlockError(
            'INVALID_ARGUMENT',
            'The keychain holds several identity keys: choose the one that signs.',
            { cause: error },
          );
        }
      }
      throw error;
    }
  }

  /**
   * Signers for queued items: the key each was queued with, else `known` (the identity of the
   * action at hand), else the chosen identity.
   */
  function signers(chosen: string | undefined, known?: IdentitySigner): Signers {
    const cache = new Map<string, Promise<IdentitySigner>>();
    if (known !== undefined) {
      cache.set(known.keyId, Promise.resolve(known));
      cache.set('', Promise.resolve(known));
    }
    return (keyId) => {
      const cacheKey = keyId ?? '';
      let signer = cache.get(cacheKey);
      if (signer === undefined) {
        signer = keyId === null ? identity(chosen) : keys.identitySigner(keyId);
        cache.set(cacheKey, signer);
      }
      return signer;
    };
  }

  function requireServer(url: string): ServerRecord {
    return services.requireServer(url);
  }

  /**
   * Sends what waits for `serverUrl`, in order, reporting progress (items, and upload bytes).
   * Records the outcome in the audit trail exactly as ConsoleServices.deliver does; it differs only
   * in handing upload progress to the window.
   */
  async function deliver(
    serverUrl: string,
    signerFor: Signers,
    ctx: HandlerContext,
  ): Promise<DeliveryReport> {
    const due = services.outbox.list(['pending']).filter((item) => item.serverUrl === serverUrl);
    // An item queued without a signer uses the chosen identity: resolve it first, so that a
    // keychain with several identities is the caller's error and not a failed outbox item.
    if (due.some((item) => item.signerKeyId === null)) await signerFor(null);
    let done = 0;
    const report = await deliverOutbox(
      services.outbox,
      serverUrl,
      async (keyId) => withUploadProgress(services.client(serverUrl, await signerFor(keyId)), ctx),
      {
        force: true,
        onItem: () => {
          done += 1;
          ctx.progress({
            phase: 'deliver',
            done,
            total: due.length,
            unit: 'items',
            label: serverUrl,
          });
        },
      },
    );
    for (const item of report.delivered) {
      services.record('push.delivered', 'local', { outboxId: item.id, kind: item.payload.kind });
    }
    for (const { item, error } of report.failed) {
      services.record('push.failed', 'local', {
        outboxId: item.id,
        kind: item.payload.kind,
        error,
      });
    }
    await mirrorPushedChannels(serverUrl, report);
    return report;
  }

  /**
   * After a push applied, mirrors its channel at once, so that history, rollback targets and the
   * inbox show the applied statement without waiting for the next sync. Verified like any sync
   * (ARCHITECTURE.md §4); a failure here loses nothing (the push stands) and the next sync catches up.
   */
  async function mirrorPushedChannels(serverUrl: string, report: DeliveryReport): Promise<void> {
    const channels = new Map<string, { app: string; channel: string }>();
    for (const item of report.delivered) {
      if (item.payload.kind !== 'push') continue;
      const stored = services.statement(item.payload.statementId);
      if (stored === null) continue;
      const { app, channel } = stored.statement;
      channels.set(`${app}\n${channel}`, { app, channel });
    }
    if (channels.size === 0) return;
    const server = services.requireServer(serverUrl);
    for (const { app, channel } of channels.values()) {
      try {
        await services.sync(server, app, channel);
      } catch (error) {
        services.record('mirror.finding', 'local', {
          url: serverUrl,
          app,
          channel,
          kind: 'sync-after-push-failed',
          detail: error instanceof Error ? error.message : String(error),
        });
      }
    }
  }

  /** The channel's head for a new statement; a warning when it comes from the mirror. */
  async function channelPosition(
    client: ServerClient,
    server: ServerRecord,
    app: string,
    channel: string,
    warnings: string[],
  ): Promise<{ seq: number; head: string | null }> {
    const position = await services.channelPosition(client, server, app, channel);
    if (position.offline !== null) {
      warnings.push(
        `${position.offline} The statement builds on the verified mirror's head (seq ${position.seq}) and waits in the outbox.`,
      );
    }
    return { seq: position.seq, head: position.head };
  }

  /** The fields every statement carries, on the channel's current head (ARCHITECTURE.md §3). */
  function statementBase(
    app: string,
    channel: string,
    position: { seq: number; head: string | null },
    signer: IdentitySigner,
    expiresInHours: number,
  ): StatementHeader {
    return nextStatementHeader(
      app,
      channel,
      position,
      signer.keyId,
      now(),
      expiresInHours * 3_600_000,
    );
  }

  /**
   * Records a new statement, queues it (and its bundle) in the outbox and sends what is due; the
   * console's half of `airlock propose|rollout|rollback`. Offline, it waits in the outbox.
   */
  async function propose(
    server: ServerRecord,
    signer: IdentitySigner,
    statement: Statement,
    opts: {
      bundle?: { path: string; info: BundleRef; files: BundleFile[] | null };
      exportRequest: boolean;
      warnings: string[];
    },
    ctx: HandlerContext,
  ): Promise<ProposeResult> {
    const id = services.recordProposal(statement, server, signer.keyId, opts.bundle);
    const delivery = await deliver(server.url, signers(undefined, signer), ctx);
    const refused = delivery.failed.find(({ item: { payload } }) =>
      payload.kind === 'upload-bundle'
        ? payload.encryptedSha256 === opts.bundle?.info.encryptedSha256
        : payload.statementId === id,
    );
    if (refused !== undefined) throw new AirlockError('INVALID_INPUT', refused.error);
    if (delivery.waiting !== null) opts.warnings.push(delivery.waiting.error);
    const submitted = delivery.delivered.find(
      (item) => item.payload.kind === 'submit-statement' && item.payload.statementId === id,
    )?.result as StatementStatus | undefined;
    const stored = services.statement(id) as StoredStatement;
    const request = opts.exportRequest ? requestOffer(services, id) : null;
    return {
      statementId: id,
      seq: statement.seq,
      state: submitted?.state ?? 'queued',
      // Judged here under the pinned root; the server's own verdict is not taken on trust.
      verdict: services.verdict(stored, now()),
      request,
      warnings: opts.warnings,
    };
  }

  /** A proposal's common start: the pinned server, the signer, and the channel's head. */
  async function proposalStart(input: {
    server: string;
    app: string;
    channel: string;
    identity?: string | undefined;
  }): Promise<{
    server: ServerRecord;
    signer: IdentitySigner;
    position: { seq: number; head: string | null };
    warnings: string[];
  }> {
    const server = requireServer(input.server);
    const signer = await identity(input.identity);
    const warnings: string[] = [];
    const client = services.client(server.url, signer);
    const position = await channelPosition(client, server, input.app, input.channel, warnings);
    return { server, signer, position, warnings };
  }

  /** A client with a short timeout for reachability checks. */
  function probeClient(url: string, signer?: IdentitySigner): ServerClient {
    return createServerClient({
      baseUrl: url,
      timeoutMs: probeTimeoutMs,
      ...(signer === undefined ? {} : { signer }),
    });
  }

  /** The identity for optional signed reads, or null (reads then fall back to the mirror). */
  async function optionalIdentity(keyId: string | undefined): Promise<IdentitySigner | null> {
    try {
      return await identity(keyId);
    } catch {
      return null;
    }
  }

  /** The release statement a rollback returns to, from the verified mirror only. */
  function rollbackTarget(server: ServerRecord, app: string, channel: string, to: string): string {
    const byId = HEX_64.test(to.toLowerCase());
    if (!byId && !SemverSchema.safeParse(to).success) {
      throw new AirlockError(
        'INVALID_ARGUMENT',
        `"${to.slice(0, 40)}" is neither a version such as 1.4.2 nor a statement id.`,
      );
    }
    const row = services.db
      .prepare<[number, string, string, string], { statement_id: string }>(
        `SELECT statement_id FROM log_entries WHERE server_id = ? AND app = ? AND channel = ?
         AND kind = 'release' AND ${byId ? 'statement_id' : 'version'} = ? ORDER BY seq DESC LIMIT 1`,
      )
      .get(server.id, app, channel, byId ? to.toLowerCase() : to);
    if (row === undefined) {
      throw new AirlockError(
        'NOT_FOUND',
        `No applied release ${byId ? `${to.slice(0, 16)}…` : to} is in this console's verified mirror of ${app}/${channel}; sync, then try again.`,
      );
    }
    return row.statement_id;
  }

  return {
    // -----------------------------------------------------------------------------------------
    // Status and dialogs

    [Ch.appStatus]: async function appStatus() {
      let keychain: { available: boolean; message: string | null } = {
        available: true,
        message: null,
      };
      const counts = { identity: 0, bundle: 0 };
      try {
        for (const key of await keys.list()) counts[key.type] += 1;
      } catch (error) {
        keychain = { available: false, message: messageOf(error) };
      }
      const servers = await Promise.all(
        services.servers().map(async (server) => {
          try {
            await probeClient(server.url).getRootChain();
            return { url: server.url, reachable: true, error: null };
          } catch (error) {
            return { url: server.url, reachable: false, error: messageOf(error) };
          }
        }),
      );
      return {
        dataDir: services.home,
        platform: deps.platform ?? process.platform,
        appVersion: deps.appVersion,
        keychain,
        keys: counts,
        servers,
        online: servers.some((server) => server.reachable),
        outbox: {
          pending: services.outbox.list(['pending']).length,
          failed: services.outbox.list(['failed']).length,
        },
      };
    },

    [Ch.dialogChooseFolder]: async function chooseFolder() {
      const path = await deps.dialogs.chooseFolder({
        title: 'Choose the web build folder (the one with index.html)',
      });
      if (path === null) return { path: null };
      const real = await realpath(path).catch((error: unknown) => {
        throw new AirlockError('IO_ERROR', `Cannot open the folder ${path}.`, { cause: error });
      });
      grantedFolders.add(real);
      return { path };
    },

    // -----------------------------------------------------------------------------------------
    // Keys (ARCHITECTURE.md §2): public facts only; private keys never leave the key store

    [Ch.keysList]: async function keysList() {
      return { keys: (await keys.list()).map(keyView) };
    },

    [Ch.keysCreate]: async function keysCreate(input) {
      const key = await keys.create(input.type, input.label);
      services.record('key.created', key.type === 'identity' ? key.keyId : 'local', {
        keyId: key.keyId,
        type: key.type,
        label: key.label,
      });
      return keyView(key);
    },

    [Ch.keysExportPublic]: async function keysExportPublic(input) {
      return { text: await keys.exportPublic(input.keyId, input.format) };
    },

    [Ch.keysBackup]: async function keysBackup(input) {
      const key = await keys.get(input.keyId);
      const envelope = await keys.backup(key.keyId, input.passphrase);
      services.record('key.backed_up', 'local', { keyId: key.keyId, type: key.type });
      return {
        fileName: `airlock-${key.type}-key-${key.keyId.slice(0, 16)}.backup.json`,
        content: `${JSON.stringify(envelope, null, 2)}\n`,
      };
    },

    [Ch.keysRestore]: async function keysRestore(input) {
      let envelope: unknown;
      try {
        envelope = JSON.parse(input.content);
      } catch {
        throw new AirlockError('BACKUP_INVALID', 'The file is not an Airlock key backup.');
      }
      const key = await keys.restore(envelope, input.passphrase);
      services.record('key.restored', 'local', { keyId: key.keyId, type: key.type });
      return keyView(key);
    },

    // -----------------------------------------------------------------------------------------
    // Servers (ARCHITECTURE.md §4): pin on first contact, with the fingerprint to compare out of band

    [Ch.serversConnect]: async function serversConnect(input) {
      const result = await services.connect(
        input.url,
        input.expectRootId === undefined ? {} : { expectRootId: input.expectRootId },
      );
      return {
        url: result.server.url,
        firstContact: result.firstContact,
        rootId: result.rootId,
        fingerprint: result.fingerprint,
        rootVersion: result.rootVersion,
        findings: result.findings.map((finding) => findingView(result.server.url, finding)),
      };
    },

    [Ch.serversList]: function serversList() {
      return Promise.resolve({
        servers: services.servers().map((server) => ({
          url: server.url,
          pinnedRootId: server.pinnedRootId,
          fingerprint: formatFingerprint(server.pinnedRootId),
          rootVersion: server.root.version,
          serverKeyId: server.serverKeyId,
          rootThreshold: server.root.rootThreshold,
          rootExpiresAt: server.root.expiresAt,
          members: rootMembers(server.root),
          policies: server.root.policies.map((policy) => ({
            app: policy.app,
            channel: policy.channel,
            kind: policy.kind,
            threshold: policy.threshold,
            roles: policy.roles,
            require: policy.require ?? {},
            proposerCounts: policy.proposerCounts,
          })),
        })),
      });
    },

    // -----------------------------------------------------------------------------------------
    // Apps and channels: the verified mirror, plus what the server says when it answers

    [Ch.appsOverview]: async function appsOverview(input) {
      const servers =
        input.server === undefined ? services.servers() : [requireServer(input.server)];
      const signer = input.live ? await optionalIdentity(input.identity) : null;
      const channels: IpcResponseInput<typeof Ch.appsOverview>['channels'] = [];
      const reach: { url: string; reachable: boolean; error: string | null }[] = [];
      for (const server of servers) {
        let listed: { app: string; channel: string }[] = [];
        let client: ServerClient | null = null;
        let reachable = false;
        let problem: string | null = input.live ? null : 'Not asked: showing the verified mirror.';
        if (input.live) {
          try {
            if (signer === null) {
              await probeClient(server.url).getRootChain();
              reachable = true;
              problem = 'No identity key chosen: showing the verified mirror.';
            } else {
              client = probeClient(server.url, signer);
              listed = (await client.listApps()).flatMap(appChannels);
              reachable = true;
            }
          } catch (error) {
            reachable = !isUnreachable(error);
            problem = messageOf(error);
            if (!reachable) client = null;
          }
        }
        reach.push({ url: server.url, reachable, error: problem });
        for (const { app, channel } of uniqueChannels([services.channels(server), listed])) {
          const mirror = services.mirrorHead(server, app, channel);
          let live: ChannelStatus | null = null;
          if (client !== null) {
            try {
              live = await client.getChannel(app, channel);
            } catch (error) {
              if (isUnreachable(error)) client = null;
            }
          }
          channels.push({
            server: server.url,
            app,
            channel,
            mirror: { seq: mirror.seq, head: mirror.head, currentVersion: mirror.currentVersion },
            live:
              live === null
                ? null
                : {
                    seq: live.seq,
                    head: live.head,
                    current:
                      live.current === null
                        ? null
                        : {
                            statementId: live.current.statementId,
                            version: live.current.version,
                            rolloutPercent: live.current.rolloutPercent,
                            minNativeVersion: live.current.minNativeVersion,
                          },
                    paused: live.paused,
                    rolledBack: live.rolledBack,
                  },
            pendingStatements: unappliedStatements(services, {
              server: server.url,
              app,
              channel,
              limit: 10_000,
            }).length,
          });
        }
      }
      return { channels, servers: reach };
    },

    // -----------------------------------------------------------------------------------------
    // Bundles: build + encrypt into the data directory, with progress

    [Ch.bundlesBuild]: async function bundlesBuild(input, ctx) {
      const webDir = await realpath(input.webDir).catch(() => null);
      if (webDir === null || !grantedFolders.has(webDir)) {
        throw new AirlockError(
          'FORBIDDEN',
          'Choose the web build folder with the folder dialog first; other folders are not read.',
        );
      }
      // The bundle key first: no point in building for a key that is not there.
      const signer = await keys.bundleSigner(input.bundleKeyId);
      const root = join(services.home, 'bundles');
      await mkdir(root, { recursive: true, mode: 0o700 });
      const work = join(root, `.build-${randomBytes(8).toString('hex')}`);
      await mkdir(work, { mode: 0o700 });
      try {
        const zip = join(work, 'bundle.zip');
        const built = await buildBundle(webDir, zip, {
          onProgress: (p) =>
            ctx.progress({ phase: p.phase, done: p.done, total: p.total, unit: 'files' }),
        });
        const encrypted = join(work, 'bundle.enc');
        const info = await encryptBundle(zip, encrypted, signer, {
          onProgress: (p) =>
            ctx.progress({ phase: 'encrypt', done: p.done, total: p.total, unit: 'bytes' }),
        });
        const files = await bundleFileList(zip);
        // The same files `airlock bundle encrypt` writes, so the CLI can propose this bundle too.
        await writeFile(`${encrypted}.json`, `${JSON.stringify(info, null, 2)}\n`);
        await writeFile(`${encrypted}.files.json`, `${JSON.stringify(files)}\n`);
        const final = join(root, info.encryptedSha256);
        await rename(work, final);
        const path = join(final, 'bundle.enc');
        const bundle: BundleRef = {
          sha256: info.sha256,
          size: info.size,
          encryptedSha256: info.encryptedSha256,
          encryptedSize: info.encryptedSize,
          sessionKey: info.sessionKey,
          checksum: info.checksum,
          keyId: info.keyId,
          files: info.files,
        };
        services.db.transaction(() => {
          services.rememberBundle(path, bundle, files);
          services.record('bundle.built', 'local', {
            webDir,
            sha256: built.sha256,
            size: built.size,
            files: built.files,
          });
          services.record('bundle.encrypted', 'local', {
            encryptedSha256: info.encryptedSha256,
            capgoKeyId: info.keyId,
          });
        })();
        return { bundle, path };
      } catch (error) {
        await rm(work, { recursive: true, force: true });
        throw error;
      }
    },

    // -----------------------------------------------------------------------------------------
    // Statements: propose (through the outbox), push, rollout, rollback

    [Ch.releasesPropose]: async function releasesPropose(input, ctx) {
      const bundle = storedBundle(services, input.bundle);
      await stat(bundle.path).catch((error: unknown) => {
        throw new AirlockError(
          'NOT_FOUND',
          `The bundle file ${bundle.path} is gone; build the bundle again.`,
          { cause: error },
        );
      });
      const { server, signer, position, warnings } = await proposalStart(input);
      const statement: Statement = {
        ...statementBase(input.app, input.channel, position, signer, input.expiresInHours),
        kind: 'release',
        release: {
          version: input.version,
          minNativeVersion: input.minNativeVersion,
          ...(input.notes === undefined ? {} : { notes: input.notes }),
          rollout: { percent: input.rolloutPercent },
          bundle: bundle.info,
        },
      };
      return propose(
        server,
        signer,
        statement,
        { bundle, exportRequest: input.exportRequest, warnings },
        ctx,
      );
    },

    [Ch.releasesPush]: async function releasesPush(input, ctx) {
      const server = requireServer(input.server);
      const signer = await identity(input.identity);
      const id = input.statementId;
      // Offline-first (ARCHITECTURE.md §7): the push waits in the outbox when the server cannot be reached,
      // and a repeat is answered alreadyApplied, so it never applies twice.
      services.queue(
        server.url,
        { kind: 'push', statementId: id, approvals: services.approvals(id) },
        signer.keyId,
      );
      const delivery = await deliver(server.url, signers(input.identity, signer), ctx);
      const refused = delivery.failed.find(
        (failure) =>
          failure.item.payload.kind === 'push' && failure.item.payload.statementId === id,
      );
      if (refused !== undefined) throw new AirlockError('INVALID_INPUT', refused.error);
      const pushed = delivery.delivered.find(
        (item) => item.payload.kind === 'push' && item.payload.statementId === id,
      )?.result as PushResult | undefined;
      return {
        statementId: id,
        queued: pushed === undefined,
        applied: pushed === undefined ? null : verifiedPush(server, id, pushed),
      };
    },

    [Ch.rolloutChange]: async function rolloutChange(input, ctx) {
      const { server, signer, position, warnings } = await proposalStart(input);
      const base = statementBase(input.app, input.channel, position, signer, input.expiresInHours);
      const statement: Statement =
        input.change.kind === 'percent'
          ? { ...base, kind: 'rollout', rollout: { percent: input.change.percent } }
          : { ...base, kind: input.change.kind };
      return propose(
        server,
        signer,
        statement,
        { exportRequest: input.exportRequest, warnings },
        ctx,
      );
    },

    [Ch.rollbackPropose]: async function rollbackPropose(input, ctx) {
      const server = requireServer(input.server);
      const target = rollbackTarget(server, input.app, input.channel, input.to);
      const { signer, position, warnings } = await proposalStart(input);
      const statement: Statement = {
        ...statementBase(input.app, input.channel, position, signer, input.expiresInHours),
        kind: 'rollback',
        target,
      };
      return propose(
        server,
        signer,
        statement,
        { exportRequest: input.exportRequest, warnings },
        ctx,
      );
    },

    // -----------------------------------------------------------------------------------------
    // Approvals: inbox, review, approve (online or by request file), import

    [Ch.approvalsInbox]: async function approvalsInbox(input) {
      const rows = unappliedStatements(services, {
        ...(input.server === undefined ? {} : { server: requireServer(input.server).url }),
        limit: input.limit,
      });
      const queued = new Set(
        services.outbox
          .list(['pending'])
          .flatMap((item) =>
            item.payload.kind === 'submit-statement' ? [item.payload.statementId] : [],
          ),
      );
      const serverStates = new Map<string, StatementStatus['state']>();
      if (input.refresh) {
        const signer = await identity(input.identity);
        const unreachable = new Set<string>();
        for (const row of rows) {
          if (row.url === null || unreachable.has(row.url) || queued.has(row.id)) continue;
          const server = requireServer(row.url);
          try {
            const status = await fetchStatement(probeClient(server.url, signer), row.id);
            serverStates.set(row.id, status.state);
            // Keep approvals gathered elsewhere, but only those that verify under the pinned root.
            const members = trustedMembers(server.root);
            for (const approval of status.approvals) {
              const member = members.get(approval.keyId);
              if (
                member !== undefined &&
                verifyApproval(status.statement, approval, member.publicKey)
              ) {
                services.addApproval(approval, 'server');
              }
            }
          } catch (error) {
            if (isUnreachable(error)) unreachable.add(row.url);
          }
        }
      }
      return {
        items: rows.map((row) => {
          const stored = services.statement(row.id) as StoredStatement;
          const state: StatementState =
            row.logged !== null
              ? 'stale'
              : queued.has(row.id)
                ? 'queued'
                : (serverStates.get(row.id) ?? 'pending');
          return {
            statementId: row.id,
            server: row.url,
            statement: stored.statement,
            approvals: stored.approvals,
            verdict: services.verdict(stored, now()),
            state,
          };
        }),
      };
    },

    [Ch.approvalsReview]: async function approvalsReview(input) {
      const at = now();
      if (input.source === 'server') {
        const server = requireServer(input.server);
        const signer = await identity(input.identity);
        const status = await fetchStatement(services.client(server.url, signer), input.statementId);
        const { statement, approvals } = status;
        return {
          statementId: status.id,
          statement,
          approvals,
          verdict: evaluatePolicy(statement, approvals, server.root, { now: at }),
          state: status.state,
          rootFingerprint: formatFingerprint(server.pinnedRootId),
          rootVersion: server.root.version,
          rootPinned: 'match' as const,
          expired: Date.parse(statement.expiresAt) <= at.getTime(),
          summary: null,
          names: memberNames(server.root, [
            statement.proposer,
            ...approvals.map((approval) => approval.keyId),
          ]),
          notes: countingNotes(statement, server.root, signer.keyId),
        };
      }
      const review = reviewRequest(input.content, at);
      const { request } = review;
      const root = request.root.root;
      const signer = await optionalIdentity(input.identity);
      return {
        statementId: request.statementId,
        statement: request.statement,
        approvals: request.approvals,
        verdict: review.verdict,
        state: null,
        rootFingerprint: formatFingerprint(review.rootId),
        rootVersion: root.version,
        rootPinned: review.rootPinned,
        expired: review.expired,
        summary: request.summary,
        names: memberNames(root, [
          request.statement.proposer,
          ...request.approvals.map((approval) => approval.keyId),
        ]),
        notes: [
          ...review.notes,
          ...(signer === null ? [] : countingNotes(request.statement, root, signer.keyId)),
        ],
      };
    },

    [Ch.approvalsApprove]: async function approvalsApprove(input) {
      const at = now();
      if (input.mode === 'online') {
        const server = requireServer(input.server);
        // ARCHITECTURE.md §2: approvals are signed with a keychain key, never an environment key.
        const signer = await identity(input.identity);
        const client = services.client(server.url, signer);
        const status = await fetchStatement(client, input.statementId);
        if (status.state !== 'pending') {
          throw new AirlockError(
            'INVALID_ARGUMENT',
            `Statement ${status.id.slice(0, 16)}… is ${status.state}; there is nothing to approve.`,
          );
        }
        const approval = await createApproval(status.statement, signer);
        const after = await client.addApprovals(status.id, [approval]);
        services.db.transaction(() => {
          services.saveStatement(status.statement, server);
          services.addApproval(approval, 'signed');
          services.record('approval.signed', signer.keyId, { statementId: status.id });
        })();
        return {
          statementId: status.id,
          state: after.state,
          verdict: evaluatePolicy(status.statement, after.approvals, server.root, { now: at }),
          approvalFile: null,
        };
      }
      // Air-gapped (ARCHITECTURE.md §5): no server and no network; the file is checked, then signed.
      const review = reviewRequest(input.content, at);
      const signer = await identity(input.identity);
      const root = review.request.root.root;
      const file = await approveSigningRequest(review, signer, {
        now: at,
        name: root.members.find((member) => member.keyId === signer.keyId)?.name ?? null,
      });
      const fileName = `${review.request.statementId.slice(0, 16)}.airlock-approval.json`;
      services.record('approval.signed', signer.keyId, { statementId: file.statementId });
      services.record('approval.exported', signer.keyId, {
        statementId: file.statementId,
        file: fileName,
      });
      const approvals: Approval[] = [...review.request.approvals, file.approval];
      return {
        statementId: file.statementId,
        state: null,
        verdict: evaluatePolicy(review.request.statement, approvals, root, { now: at }),
        approvalFile: { fileName, content: `${JSON.stringify(file, null, 2)}\n` },
      };
    },

    [Ch.approvalsImport]: async function approvalsImport(input, ctx) {
      const imported = services.importApproval(input.content);
      const id = imported.stored.id;
      const server = requireServer(imported.stored.serverUrl as string);
      const delivery = await deliver(server.url, signers(input.identity), ctx);
      const pushed = delivery.delivered.find(
        (item) => item.payload.kind === 'push' && item.payload.statementId === id,
      )?.result as PushResult | undefined;
      return {
        statementId: id,
        approver: imported.approval.keyId,
        verdict: imported.verdict,
        pushQueued: imported.pushQueued,
        applied: pushed === undefined ? null : verifiedPush(server, id, pushed),
        queued: services.outbox.list(['pending']).length,
      };
    },

    [Ch.approvalsExportRequest]: function approvalsExportRequest(input) {
      const server = requireServer(input.server);
      const id = input.statementId;
      const stored = services.statement(id);
      if (stored === null || stored.serverUrl !== server.url) {
        throw new AirlockError(
          'NOT_FOUND',
          `This console holds no statement ${id.slice(0, 16)}… for ${server.url}.`,
        );
      }
      // A request for what the verified log already settled would only waste an officer's time.
      const { app, channel, seq } = stored.statement;
      const logged = services.db
        .prepare<[number, string, string, number], { statement_id: string }>(
          'SELECT statement_id FROM log_entries WHERE server_id = ? AND app = ? AND channel = ? AND seq = ?',
        )
        .get(server.id, app, channel, seq);
      if (logged !== undefined) {
        throw logged.statement_id === id
          ? new AirlockError(
              'INVALID_ARGUMENT',
              `Statement ${id.slice(0, 16)}… is already applied (seq ${seq}); there is nothing to approve.`,
            )
          : new AirlockError(
              'STALE',
              `Statement ${id.slice(0, 16)}… lost its place: seq ${seq} of ${app}/${channel} holds another statement. Propose it again.`,
            );
      }
      return Promise.resolve(requestOffer(services, id));
    },

    // -----------------------------------------------------------------------------------------
    // History, sync, outbox, audit, findings

    [Ch.historyList]: function historyList(input) {
      const server = requireServer(input.server);
      const where = 'WHERE server_id = ? AND app = ? AND channel = ?';
      const total =
        services.db
          .prepare<[number, string, string], { n: number }>(
            `SELECT COUNT(*) AS n FROM log_entries ${where}`,
          )
          .get(server.id, input.app, input.channel)?.n ?? 0;
      const rows = services.db
        .prepare<
          [number, string, string, number, number],
          {
            seq: number;
            statement_id: string;
            kind: string;
            entry_json: string;
            applied_at: string;
          }
        >(
          `SELECT seq, statement_id, kind, entry_json, applied_at FROM log_entries ${where}
           ORDER BY seq DESC LIMIT ? OFFSET ?`,
        )
        .all(server.id, input.app, input.channel, input.limit, input.offset);
      return Promise.resolve({
        total,
        entries: rows.map((row) => {
          // Verified before it was stored (src/main/services/mirror.ts).
          const entry = JSON.parse(row.entry_json) as {
            statement: Statement;
            approvals: Approval[];
          };
          const { statement } = entry;
          return {
            seq: row.seq,
            id: row.statement_id,
            kind: row.kind,
            appliedAt: row.applied_at,
            proposer: statement.proposer,
            approvals: entry.approvals.length,
            version: statement.kind === 'release' ? statement.release.version : null,
            rolloutPercent:
              statement.kind === 'release'
                ? statement.release.rollout.percent
                : statement.kind === 'rollout'
                  ? statement.rollout.percent
                  : null,
            target: statement.kind === 'rollback' ? statement.target : null,
            automatic: statement.kind === 'pause' && statement.automatic === true,
          };
        }),
      });
    },

    [Ch.healthSeries]: async function healthSeries(input) {
      const server = requireServer(input.server);
      // A signed read (ARCHITECTURE.md §6): the server shows its counters to trust-root members only.
      const signer = await identity(input.identity);
      const health = await services
        .client(server.url, signer)
        .getChannelHealth(input.app, input.channel, input.hours)
        .catch((error: unknown) => {
          if (!isUnreachable(error)) throw error;
          // Unlike proposals, nothing can wait in the outbox: the counters live on the server.
          throw new AirlockError(
            'IO_ERROR',
            `Cannot reach the Airlock server at ${server.url}: health data comes from the server only, so there is none to show offline. Check that the server is running, then try again.`,
            { cause: error },
          );
        });
      // The server is untrusted (ARCHITECTURE.md rule 13): the answer must be about the channel asked for.
      if (health.app !== input.app || health.channel !== input.channel) {
        throw new AirlockError(
          'INVALID_INPUT',
          `The server answered with the health of another channel than ${input.app}/${input.channel}.`,
        );
      }
      return { server: server.url, ...health };
    },

    [Ch.syncRun]: async function syncRun(input, ctx) {
      if ((input.app === undefined) !== (input.channel === undefined)) {
        throw new AirlockError(
          'INVALID_ARGUMENT',
          'Give both the app and the channel, or neither.',
        );
      }
      const servers =
        input.server === undefined ? services.servers() : [requireServer(input.server)];
      if (servers.length === 0) {
        throw new AirlockError(
          'NOT_FOUND',
          'This console is not connected to a server yet: connect one first.',
        );
      }
      const signer = await optionalIdentity(input.identity);
      const results: IpcResponseInput<typeof Ch.syncRun>['servers'] = [];
      for (const server of servers) {
        const result: (typeof results)[number] = {
          url: server.url,
          delivered: 0,
          failed: [],
          waiting: null,
          channels: [],
          error: null,
        };
        results.push(result);
        try {
          const delivery = await deliver(server.url, signers(input.identity), ctx).catch(
            (error: unknown) => {
              // No usable identity for what waits: pull the logs anyway, say why nothing went out.
              if (isUnreachable(error)) throw error;
              return { delivered: [], failed: [], waiting: { error: messageOf(error) } };
            },
          );
          result.delivered = delivery.delivered.length;
          result.failed = delivery.failed.map(({ item, error }) => ({
            id: item.id,
            kind: item.payload.kind,
            error,
          }));
          result.waiting = delivery.waiting?.error ?? null;
          let listed: { app: string; channel: string }[] = [];
          if (input.app === undefined && signer !== null) {
            listed = await services
              .client(server.url, signer)
              .listApps()
              .then((apps) => apps.flatMap(appChannels))
              .catch(() => []);
          }
          const channels =
            input.app !== undefined && input.channel !== undefined
              ? [{ app: input.app, channel: input.channel }]
              : uniqueChannels([services.channels(server), listed]);
          for (const { app, channel } of channels) {
            const report = await services.sync(server, app, channel, {
              onProgress: (p) =>
                ctx.progress({
                  phase: 'verify',
                  done: p.verified,
                  total: p.total,
                  unit: 'entries',
                  label: `${app}/${channel}`,
                }),
            });
            result.channels.push({
              app,
              channel,
              added: report.added,
              seq: report.seq,
              findings: report.findings.map((finding) => findingView(server.url, finding)),
            });
          }
        } catch (error) {
          result.error = messageOf(error);
        }
      }
      return { servers: results };
    },

    [Ch.outboxList]: function outboxList() {
      return Promise.resolve({
        items: services.outbox.list(['pending', 'failed']).map((item) => ({
          id: item.id,
          kind: item.payload.kind,
          statementId: 'statementId' in item.payload ? item.payload.statementId : null,
          server: item.serverUrl,
          state: item.state,
          attempts: item.attempts,
          lastError: item.lastError,
          nextAttemptAt: item.nextAttemptAt,
          createdAt: item.createdAt,
        })),
      });
    },

    [Ch.outboxRetry]: function outboxRetry(input) {
      services.outbox.retry(input.id, now());
      return Promise.resolve({});
    },

    [Ch.auditList]: function auditList(input) {
      return Promise.resolve({
        entries: services.audit.list(input.afterSeq, input.limit).map((entry) => ({
          seq: entry.seq,
          time: entry.time,
          actor: entry.actor,
          action: entry.action,
          details: entry.details,
          hash: entry.hash,
        })),
      });
    },

    [Ch.auditVerify]: function auditVerify() {
      const verdict = services.audit.verify();
      return Promise.resolve(
        verdict.ok
          ? { ok: true, entries: verdict.entries, head: verdict.head, brokenAt: null, reason: null }
          : {
              ok: false,
              entries: verdict.entries,
              head: null,
              brokenAt: verdict.brokenAt,
              reason: verdict.reason,
            },
      );
    },

    [Ch.findingsList]: function findingsList(input) {
      const servers =
        input.server === undefined ? services.servers() : [requireServer(input.server)];
      return Promise.resolve({
        findings: servers.flatMap((server) =>
          listFindings(services.db, server.id).map((finding) => findingView(server.url, finding)),
        ),
      });
    },
  };

  /**
   * Reads a signing request (ARCHITECTURE.md §5), judging its trust root against every root this console
   * verified for the request's server, when it knows that server.
   */
  function reviewRequest(content: string, at: Date): ReturnType<typeof reviewSigningRequest> {
    const review = reviewSigningRequest(content, { now: at });
    let server: ServerRecord | null = null;
    try {
      server = review.request.server === null ? null : services.server(review.request.server);
    } catch {
      server = null; // not a URL this console could know
    }
    return server === null
      ? review
      : reviewSigningRequest(content, { now: at, pinnedRootIds: verifiedRootIds(server) });
  }
}
