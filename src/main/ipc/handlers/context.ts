import { formatFingerprint } from '../../../core/crypto';
import { AirlockError, toErrorShape } from '../../../core/errors';
import type { IdentitySigner } from '../../../core/statement';
import type { FindingView } from '../../../shared/ipc/contract';
import { findPolicy } from '../../../core/policy';
import type { Statement, TrustRoot } from '../../../shared/schemas';
import type { Finding } from '../../db/repositories/findings.repo';
import { outboxSigners, resolveIdentity, type Signers } from '../../identity';
import type { KeyStore } from '../../keys/key-store';
import { createServerClient, type ServerClient } from '../../server-client';
import type { ConsoleServices } from '../../services/console';
import { Workflow } from '../../services/workflow';
import type { HandlerContext } from '../handle';

/**
 * What every slice of the handler table shares: the services, the keychain, the identity rules of
 * the window, and a workflow (src/main/services/workflow.ts) that reports progress to the window.
 * The slices only parse (done by handle.ts), call the workflow or a repository, and shape the
 * answer: no SQL and no protocol logic of their own.
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

const DEFAULT_PROBE_MS = 5_000;

export class HandlerScope {
  readonly services: ConsoleServices;
  readonly keys: KeyStore;
  readonly now: () => Date;
  /** Folders the user picked in the folder dialog: the only ones `bundles:build` reads. */
  readonly grantedFolders = new Set<string>();
  private readonly probeTimeoutMs: number;

  constructor(readonly deps: HandlerDeps) {
    this.services = deps.services;
    this.keys = deps.keys;
    this.now = deps.now ?? ((): Date => new Date());
    this.probeTimeoutMs = deps.probeTimeoutMs ?? DEFAULT_PROBE_MS;
  }

  /** The identity that signs (ARCHITECTURE.md §8 order, keychain keys only: never an environment key). */
  async identity(keyId: string | undefined): Promise<IdentitySigner> {
    try {
      return await resolveIdentity(() => this.keys, { keyId, env: {} });
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

  /** The identity for optional signed reads, or null (reads then fall back to the mirror). */
  async optionalIdentity(keyId: string | undefined): Promise<IdentitySigner | null> {
    try {
      return await this.identity(keyId);
    } catch {
      return null;
    }
  }

  /** Signers for queued items (identity.ts), never from the environment in the window. */
  signers(chosen: string | undefined, known?: IdentitySigner): Signers {
    const pick: Signers = outboxSigners(() => this.keys, { keyId: chosen, env: {} }, known);
    return async (keyId) => {
      if (keyId === null && known === undefined) return this.identity(chosen);
      return pick(keyId);
    };
  }

  /** The workflow, reporting deliveries and upload bytes to the window. */
  workflow(ctx: HandlerContext): Workflow {
    return new Workflow(this.services, {
      now: this.now,
      client: (url, signer) => withUploadProgress(this.services.client(url, signer), ctx),
      onDeliver: (done, total, url) =>
        ctx.progress({ phase: 'deliver', done, total, unit: 'items', label: url }),
    });
  }

  /**
   * Brings the verified mirror of each channel up to date when the server's log is known to be
   * ahead of it (issue 13: a statement the log holds is pending nowhere in the window). Rule 1 of
   * the workflow first (the pin moves forward), then the incremental, verified sync that the Sync
   * command runs. Best effort: offline or refused, the mirror stays as it was (a sync's findings are
   * recorded by the sync itself, and the Sync command reports them).
   */
  async catchUp(
    ctx: HandlerContext,
    url: string,
    channels: readonly { app: string; channel: string }[],
  ): Promise<void> {
    if (channels.length === 0) return;
    try {
      const { server, online } = await this.workflow(ctx).contact(url);
      if (!online) return;
      for (const { app, channel } of channels) await this.services.sync(server, app, channel);
    } catch {
      // Not this call's to report: what the window shows stays what the mirror verified.
    }
  }

  /** A client with a short timeout for reachability checks. */
  probeClient(url: string, signer?: IdentitySigner): ServerClient {
    return createServerClient({
      baseUrl: url,
      timeoutMs: this.probeTimeoutMs,
      ...(signer === undefined ? {} : { signer }),
    });
  }
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

export function isUnreachable(error: unknown): boolean {
  return error instanceof AirlockError && error.code === 'IO_ERROR';
}

export function messageOf(error: unknown): string {
  return toErrorShape(error).message;
}

export function findingView(server: string, finding: Finding & { foundAt?: string }): FindingView {
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

export function uniqueChannels(
  lists: readonly { app: string; channel: string }[][],
): { app: string; channel: string }[] {
  const seen = new Map<string, { app: string; channel: string }>();
  for (const entry of lists.flat()) seen.set(`${entry.app}\u0000${entry.channel}`, entry);
  return [...seen.values()].sort(
    (a, b) => a.app.localeCompare(b.app) || a.channel.localeCompare(b.channel),
  );
}

/** Whether `root`'s policy for `kind` on `app`/`channel` requires a signing officer's approval. */
export function needsSigningOfficer(
  root: TrustRoot,
  app: string,
  channel: string,
  kind: Statement['kind'],
): boolean {
  const policy = findPolicy(root, app, channel, kind);
  return policy !== null && (policy.require?.signing_officer ?? 0) >= 1;
}

/**
 * What a person types to confirm signing or pushing `statement` (issue 13: consequential actions
 * are weighty): on a channel whose policy requires a signing officer (production, typically), the
 * version (or the kind, for statements without one); elsewhere null, and a confirmation dialog
 * naming the key is enough.
 */
export function typedConfirmation(statement: Statement, root: TrustRoot): string | null {
  if (!needsSigningOfficer(root, statement.app, statement.channel, statement.kind)) return null;
  switch (statement.kind) {
    case 'release':
      return statement.release.version;
    case 'rollout':
      return `${statement.rollout.percent}%`;
    default:
      return statement.kind;
  }
}

/** Member names by key id, for people (ARCHITECTURE.md §2: fingerprints for keys nobody named). */
export function memberNames(root: TrustRoot, keyIds: readonly string[]): Record<string, string> {
  const names: Record<string, string> = {};
  for (const keyId of keyIds) {
    const member = root.members.find((candidate) => candidate.keyId === keyId);
    names[keyId] = member?.name ?? formatFingerprint(keyId);
  }
  return names;
}
