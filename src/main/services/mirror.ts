import { canonicalize, formatFingerprint } from '../../core/crypto';
import { AirlockError } from '../../core/errors';
import {
  compareCheckpoints,
  serverKeyBytes,
  verifyCheckpoint,
  verifyLogEntries,
  verifyRootChain,
  type LogProblem,
} from '../../core/log';
import { rootId } from '../../core/statement';
import type { LogEntry, RootChain, SignedCheckpoint, SignedTrustRoot } from '../../shared/schemas';
import type { Db } from '../db/connection';
import { FindingsRepo, type Finding, type FindingKind } from '../db/repositories/findings.repo';
import { MirrorRepo } from '../db/repositories/mirror.repo';
import { ServersRepo, type ServerRecord } from '../db/repositories/servers.repo';
import type { ServerClient } from '../server-client';

export { FINDING_KINDS, type Finding, type FindingKind } from '../db/repositories/findings.repo';
export type { ServerRecord } from '../db/repositories/servers.repo';

/**
 * The log mirror (ARCHITECTURE.md §3, §7): pins a server's trust root on first contact, then pulls each
 * channel's log incrementally and verifies everything before storing it. What it finds wrong is
 * recorded as a finding and never overwrites verified data: a modified statement, a dropped or
 * reordered entry, a fork (two signed heads for one seq), a rollback (the server's head behind the
 * mirror's), a freeze (the newest checkpoint older than allowed), and anything not properly signed.
 */

export function getServer(db: Db, url: string): ServerRecord | null {
  return new ServersRepo(db).get(url);
}

export function listServers(db: Db): ServerRecord[] {
  return new ServersRepo(db).list();
}

export interface ConnectResult {
  readonly server: ServerRecord;
  /** True on first contact: the fingerprint must be compared out of band. */
  readonly firstContact: boolean;
  /** Fingerprint of trust root version 1 (ARCHITECTURE.md §2 format). */
  readonly fingerprint: string;
  readonly rootId: string;
  readonly rootVersion: number;
  readonly findings: Finding[];
  /** What the server says it accepts (refuse early what it would refuse), when it says. */
  readonly limits: { readonly maxStatementLifetimeSeconds: number } | null;
}

function recordFinding(
  db: Db,
  serverId: number,
  finding: Finding,
  evidence: unknown,
  now: Date,
): void {
  new FindingsRepo(db).record(serverId, finding, evidence, now);
}

/**
 * Connects to a server: on first contact pins its root (trust on first use, with the fingerprint
 * shown to compare out of band, and checked against `expectFingerprint` when given); later accepts
 * a newer root only through the chain from the pinned version 1 (ARCHITECTURE.md §4). A shorter chain or
 * another server key is a finding and changes nothing.
 */
export async function connectServer(
  db: Db,
  client: ServerClient,
  opts: { now?: Date; expectRootId?: string } = {},
): Promise<ConnectResult> {
  const now = opts.now ?? new Date();
  const chain: RootChain = await client.getRootChain();
  const existing = getServer(db, client.baseUrl);
  const verdict = verifyRootChain(chain.roots, existing?.pinnedRootId ?? opts.expectRootId ?? null);
  if (!verdict.ok) {
    throw new AirlockError(
      'SIGNATURE_INVALID',
      `The server's trust root does not verify: ${verdict.message}`,
    );
  }
  serverKeyBytes(chain.server);
  const findings: Finding[] = [];
  if (existing === null) {
    const server = new ServersRepo(db).insert(
      client.baseUrl,
      verdict.firstRootId,
      chain.roots,
      chain.server,
      now,
    );
    return {
      server,
      firstContact: true,
      fingerprint: formatFingerprint(verdict.firstRootId),
      rootId: verdict.firstRootId,
      rootVersion: verdict.root.version,
      findings,
      limits: chain.limits ?? null,
    };
  }
  const scope = { app: '*', channel: '*', seq: null };
  if (chain.server.keyId !== existing.serverKeyId) {
    const finding: Finding = {
      ...scope,
      kind: 'root',
      message: `The server now signs with key ${chain.server.keyId.slice(0, 16)}, not the pinned ${existing.serverKeyId.slice(0, 16)}.`,
    };
    recordFinding(db, existing.id, finding, chain.server, now);
    findings.push(finding);
  } else if (verdict.root.version < existing.root.version) {
    const finding: Finding = {
      ...scope,
      kind: 'root',
      message: `The server offers trust root version ${verdict.root.version}, older than version ${existing.root.version} already accepted.`,
    };
    recordFinding(db, existing.id, finding, { version: verdict.root.version }, now);
    findings.push(finding);
  } else if (!extendsChain(existing.roots, chain.roots)) {
    // Same version 1, another root at a version already accepted: two chains for one server.
    const finding: Finding = {
      ...scope,
      kind: 'root',
      message: `The server's trust-root chain differs from the one this console accepted (up to version ${existing.root.version}).`,
    };
    recordFinding(db, existing.id, finding, { roots: chain.roots.length }, now);
    findings.push(finding);
  } else if (verdict.root.version > existing.root.version) {
    // ARCHITECTURE.md §4: the pin moves forward only through the verified chain.
    new ServersRepo(db).updateRoots(existing.id, chain.roots);
  }
  const server = getServer(db, client.baseUrl) ?? existing;
  return {
    server,
    firstContact: false,
    fingerprint: formatFingerprint(server.pinnedRootId),
    rootId: server.pinnedRootId,
    rootVersion: server.root.version,
    findings,
    limits: chain.limits ?? null,
  };
}

/** True when `offered` holds exactly the roots of `known` at their versions (and maybe more). */
export function extendsChain(
  known: readonly SignedTrustRoot[],
  offered: readonly SignedTrustRoot[],
): boolean {
  return known.every((root, index) => {
    const other = offered[index];
    return other !== undefined && rootId(other.root) === rootId(root.root);
  });
}

function mirrorHead(db: Db, serverId: number, app: string, channel: string) {
  return new MirrorRepo(db).head(serverId, app, channel);
}

function storeVerified(
  db: Db,
  serverId: number,
  entries: readonly LogEntry[],
  head: { seq: number; head: string; rootVersion: number },
  now: Date,
): void {
  new MirrorRepo(db).store(serverId, entries, head, now);
}

const PROBLEM_KIND: Record<LogProblem, FindingKind> = {
  SEQ_GAP: 'dropped-or-reordered',
  PREV_MISMATCH: 'dropped-or-reordered',
  ID_MISMATCH: 'modified',
  STATEMENT_INVALID: 'modified',
  POLICY_NOT_SATISFIED: 'invalid',
  CHECKPOINT_INVALID: 'invalid',
  SERVER_SIG_INVALID: 'invalid',
  APP_CHANNEL_MISMATCH: 'invalid',
  ROOT_VERSION_INVALID: 'invalid',
};

export interface SyncOptions {
  readonly now?: () => Date;
  /** Newest checkpoint older than this is a freeze (default 24 h). */
  readonly maxCheckpointAgeMs?: number;
  readonly pageSize?: number;
  readonly onProgress?: (progress: { verified: number; total: number }) => void;
}

export interface SyncReport {
  readonly app: string;
  readonly channel: string;
  /** New entries verified and stored by this run. */
  readonly added: number;
  /** The mirror's head after the run. */
  readonly seq: number;
  readonly findings: Finding[];
}

/**
 * Pulls app/channel's log from where the mirror stands, verifies it (src/core/log) and stores what
 * verifies, page by page, each page in one transaction. Stops at the first problem and records it.
 * @example const report = await syncChannel(db, client, server, 'com.example.app', 'production');
 */
export async function syncChannel(
  db: Db,
  client: ServerClient,
  server: ServerRecord,
  app: string,
  channel: string,
  opts: SyncOptions = {},
): Promise<SyncReport> {
  const now = opts.now ?? (() => new Date());
  const serverKey = serverKeyBytes({
    keyId: server.serverKeyId,
    publicKey: server.serverPublicKey,
  });
  const findings: Finding[] = [];
  const found = (
    kind: FindingKind,
    seq: number | null,
    message: string,
    evidence: unknown,
  ): SyncReport => {
    const finding: Finding = { kind, app, channel, seq, message };
    recordFinding(db, server.id, finding, evidence, now());
    findings.push(finding);
    return report();
  };
  let local = mirrorHead(db, server.id, app, channel);
  const startSeq = local?.seq ?? 0;
  const report = (): SyncReport => ({
    app,
    channel,
    added: (local?.seq ?? 0) - startSeq,
    seq: local?.seq ?? 0,
    findings,
  });
  // Re-read from our own head: the server must still hold exactly what we verified.
  let after = local === null ? 0 : local.seq - 1;
  let freshHead: SignedCheckpoint | null = null;
  for (let pages = 0; pages < 1_000_000; pages += 1) {
    const page = await client.getLogPage(app, channel, { after, limit: opts.pageSize ?? 1000 });
    if (page.head !== null) {
      if (!verifyCheckpoint(page.head, serverKey)) {
        return found(
          'invalid',
          page.head.checkpoint.seq,
          'The server head checkpoint is not signed by the server key.',
          page.head,
        );
      }
      freshHead = page.head;
      if (local !== null) {
        const relation = compareCheckpoints(local.checkpoint, page.head);
        if (relation === 'rollback') {
          return found(
            'rollback',
            page.head.checkpoint.seq,
            `The server's head is at seq ${page.head.checkpoint.seq}, behind the ${local.seq} this mirror verified.`,
            page.head,
          );
        }
        if (relation === 'fork') {
          return found(
            'fork',
            local.seq,
            `The server signed two different heads for seq ${local.seq}.`,
            { known: local.checkpoint, fresh: page.head },
          );
        }
      }
    }
    let entries = page.entries;
    if (local !== null && pages === 0) {
      const own = entries[0];
      if (own === undefined || own.seq !== local.seq) {
        if (page.head === null || page.head.checkpoint.seq >= local.seq) {
          return found(
            'dropped-or-reordered',
            local.seq,
            `The server no longer returns seq ${local.seq}, which this mirror verified.`,
            own ?? null,
          );
        }
      } else if (own.id !== local.head) {
        const signed =
          verifyCheckpoint(own.checkpoint, serverKey) && own.checkpoint.checkpoint.head === own.id;
        return found(
          signed ? 'fork' : 'modified',
          local.seq,
          signed
            ? `The server signed another statement for seq ${local.seq} than the one this mirror verified.`
            : `The statement at seq ${local.seq} differs from the one this mirror verified.`,
          own,
        );
      } else {
        // Same id, other approvals or checkpoint: the entry was rewritten after the fact.
        const stored = storedEntryJson(db, server.id, app, channel, local.seq);
        if (stored !== null && !sameEntry(stored, own)) {
          return found(
            'modified',
            local.seq,
            `The entry at seq ${local.seq} was changed after this mirror verified it.`,
            own,
          );
        }
      }
      entries = entries.slice(1);
    }
    if (entries.length > 0) {
      const previous =
        local === null
          ? null
          : { seq: local.seq, head: local.head, rootVersion: local.rootVersion };
      const result = verifyLogEntries(entries, {
        roots: server.roots,
        serverKey,
        previous,
        app,
        channel,
        now: now(),
      });
      // What precedes the first bad entry, in the order served, verified on its own.
      const good = result.ok
        ? entries
        : entries.slice(
            0,
            Math.max(
              0,
              entries.findIndex((entry) => entry.seq === result.seq),
            ),
          );
      const goodResult = result.ok
        ? result
        : verifyLogEntries(good, {
            roots: server.roots,
            serverKey,
            previous,
            app,
            channel,
            now: now(),
          });
      if (goodResult.ok && goodResult.head !== null && good.length > 0) {
        storeVerified(db, server.id, good, goodResult.head, now());
        local = mirrorHead(db, server.id, app, channel);
      }
      opts.onProgress?.({
        verified: local?.seq ?? 0,
        total: freshHead?.checkpoint.seq ?? local?.seq ?? 0,
      });
      if (!result.ok)
        return found(
          PROBLEM_KIND[result.problem],
          result.seq,
          result.message,
          entries.find((e) => e.seq === result.seq) ?? null,
        );
    }
    if (!page.more) break;
    const last = page.entries.at(-1);
    if (last === undefined) break;
    after = last.seq;
  }
  if (freshHead !== null && local !== null && local.seq < freshHead.checkpoint.seq) {
    return found(
      'dropped-or-reordered',
      local.seq + 1,
      `The server's head is at seq ${freshHead.checkpoint.seq} but its log ends at ${local.seq}.`,
      freshHead,
    );
  }
  const maxAge = opts.maxCheckpointAgeMs ?? 24 * 3600_000;
  if (freshHead !== null && now().getTime() - Date.parse(freshHead.checkpoint.time) > maxAge) {
    return found(
      'freeze',
      freshHead.checkpoint.seq,
      `The server's newest checkpoint is from ${freshHead.checkpoint.time}, older than allowed: its log may be frozen.`,
      freshHead,
    );
  }
  return report();
}

function storedEntryJson(
  db: Db,
  serverId: number,
  app: string,
  channel: string,
  seq: number,
): string | null {
  return new MirrorRepo(db).entryJsonAt(serverId, app, channel, seq);
}

/** Same statement, approvals and checkpoint (key order aside). */
function sameEntry(storedJson: string, fresh: LogEntry): boolean {
  const stored = JSON.parse(storedJson) as LogEntry;
  const approvals = (entry: LogEntry): string =>
    entry.approvals
      .map((a) => `${a.keyId}:${a.sig}`)
      .sort()
      .join(',');
  return (
    stored.id === fresh.id &&
    canonicalize(stored.statement) === canonicalize(fresh.statement) &&
    approvals(stored) === approvals(fresh) &&
    stored.checkpoint.sig === fresh.checkpoint.sig &&
    (stored.serverSig ?? '') === (fresh.serverSig ?? '')
  );
}

/** Findings recorded for a server, newest first. */
export function listFindings(db: Db, serverId: number): (Finding & { foundAt: string })[] {
  return new FindingsRepo(db).list(serverId);
}
