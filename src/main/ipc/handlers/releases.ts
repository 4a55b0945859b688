import { randomBytes } from 'node:crypto';
import { mkdir, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildBundle, bundleFileList, encryptBundle } from '../../../core/bundle';
import { AirlockError } from '../../../core/errors';
import { IpcChannels as Ch } from '../../../shared/ipc/channels';
import type { FileOffer, ProposeResult } from '../../../shared/ipc/contract';
import type { BundleRef, SigningRequest, TrustRoot } from '../../../shared/schemas';
import type { StoredBundle } from '../../db/repositories/bundles.repo';
import type { ProposalBody, ProposeOutcome } from '../../services/workflow';
import type { HandlerContext, HandlerTable } from '../handle';
import { typedConfirmation, type HandlerScope } from './context';

/** Bundles (build + encrypt, with progress) and proposals: release, push, rollout, rollback. */

/** A signing request file (ARCHITECTURE.md §5), named after the statement it is for. */
export function requestOffer(request: SigningRequest): FileOffer {
  const { statement } = request;
  return {
    fileName: `${statement.app}-${statement.channel}-seq${statement.seq}.airlock-request.json`,
    content: `${JSON.stringify(request, null, 2)}\n`,
  };
}

function proposeResult(outcome: ProposeOutcome, root: TrustRoot): ProposeResult {
  return {
    confirmText: typedConfirmation(outcome.statement, root),
    statementId: outcome.statementId,
    seq: outcome.statement.seq,
    state: outcome.state,
    verdict: outcome.verdict,
    request: outcome.request === null ? null : requestOffer(outcome.request),
    warnings: outcome.warnings,
  };
}

export function releaseHandlers(scope: HandlerScope) {
  const { services, keys } = scope;

  /** A bundle this console built (`bundles:build`), by the SHA-256 of its encrypted file. */
  async function storedBundle(encryptedSha256: string): Promise<StoredBundle> {
    const bundle = services.repos.bundles.get(encryptedSha256);
    if (bundle === null) {
      throw new AirlockError(
        'NOT_FOUND',
        `No bundle ${encryptedSha256.slice(0, 16)}… was built in this console; build it first.`,
      );
    }
    await stat(bundle.path).catch((error: unknown) => {
      throw new AirlockError(
        'NOT_FOUND',
        `The bundle file ${bundle.path} is gone; build the bundle again.`,
        { cause: error },
      );
    });
    return bundle;
  }

  async function propose(
    input: {
      server: string;
      app: string;
      channel: string;
      identity?: string | undefined;
      expiresInHours: number;
      exportRequest: boolean;
    },
    body: ProposalBody,
    ctx: HandlerContext,
  ): Promise<ProposeResult> {
    services.requireServer(input.server);
    const signer = await scope.identity(input.identity);
    const outcome = await scope.workflow(ctx).propose({
      server: input.server,
      app: input.app,
      channel: input.channel,
      signer,
      signers: scope.signers(input.identity, signer),
      body,
      lifetimeMs: input.expiresInHours * 3_600_000,
      request: input.exportRequest,
    });
    return proposeResult(outcome, services.requireServer(input.server).root);
  }

  return {
    [Ch.bundlesBuild]: async function bundlesBuild(input, ctx) {
      const webDir = await realpath(input.webDir).catch(() => null);
      if (webDir === null || !scope.grantedFolders.has(webDir)) {
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
          fileListSha256: info.fileListSha256,
        };
        services.transaction(() => {
          services.repos.bundles.remember(path, bundle, files, scope.now());
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
        });
        return { bundle, path };
      } catch (error) {
        await rm(work, { recursive: true, force: true });
        throw error;
      }
    },

    [Ch.releasesPropose]: async function releasesPropose(input, ctx) {
      const bundle = await storedBundle(input.bundle);
      return propose(
        input,
        {
          kind: 'release',
          version: input.version,
          minNativeVersion: input.minNativeVersion,
          ...(input.notes === undefined ? {} : { notes: input.notes }),
          rolloutPercent: input.rolloutPercent,
          bundle,
        },
        ctx,
      );
    },

    [Ch.releasesPush]: async function releasesPush(input, ctx) {
      services.requireServer(input.server);
      const signer = await scope.identity(input.identity);
      const outcome = await scope.workflow(ctx).push({
        server: input.server,
        statementId: input.statementId,
        signers: scope.signers(input.identity, signer),
      });
      return { statementId: outcome.statementId, queued: outcome.queued, applied: outcome.applied };
    },

    [Ch.rolloutChange]: async function rolloutChange(input, ctx) {
      const body: ProposalBody =
        input.change.kind === 'percent'
          ? { kind: 'rollout', percent: input.change.percent }
          : { kind: input.change.kind };
      return propose(input, body, ctx);
    },

    [Ch.rollbackPropose]: async function rollbackPropose(input, ctx) {
      // The target is looked up in the verified mirror, after it is synced (workflow.ts rule 2).
      return propose(input, { kind: 'rollback', to: input.to }, ctx);
    },
  } satisfies Partial<HandlerTable>;
}
