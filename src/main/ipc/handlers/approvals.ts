import { formatFingerprint } from '../../../core/crypto';
import { AirlockError } from '../../../core/errors';
import { approvalCountingProblem } from '../../../core/policy';
import type { IdentitySigner } from '../../../core/statement';
import { IpcChannels as Ch } from '../../../shared/ipc/channels';
import type { Review, StatementState } from '../../../shared/ipc/contract';
import type { Approval, Statement, StatementStatus, TrustRoot } from '../../../shared/schemas';
import type { HandlerTable } from '../handle';
import { memberNames, typedConfirmation, uniqueChannels, type HandlerScope } from './context';
import { requestOffer } from './releases';

/**
 * Approvals: the inbox, review (of a statement on the server or a signing request file), approval
 * online or by request file, and import of approval files. The rules are the workflow's
 * (src/main/services/workflow.ts); here only the window's views of them.
 */

/** Why an approval by `signer` would not count, to say so before anyone signs. */
function countingNotes(statement: Statement, root: TrustRoot, signer: IdentitySigner | null) {
  if (signer === null) return [];
  const problem = approvalCountingProblem(statement, root, signer.keyId);
  return problem === null ? [] : [problem.message];
}

function signerView(root: TrustRoot, signer: IdentitySigner | null): Review['signer'] {
  if (signer === null) return null;
  return {
    keyId: signer.keyId,
    fingerprint: formatFingerprint(signer.keyId),
    name: root.members.find((member) => member.keyId === signer.keyId)?.name ?? null,
  };
}

function names(root: TrustRoot, statement: Statement, approvals: readonly Approval[]) {
  return memberNames(root, [statement.proposer, ...approvals.map((approval) => approval.keyId)]);
}

export function approvalHandlers(scope: HandlerScope) {
  const { services } = scope;
  return {
    [Ch.approvalsInbox]: async function approvalsInbox(input, ctx) {
      const filter = {
        ...(input.server === undefined ? {} : { server: services.requireServer(input.server).url }),
        limit: input.limit,
      };
      const workflow = scope.workflow(ctx);
      const signers = input.refresh
        ? scope.signers(input.identity, await scope.identity(input.identity))
        : null;
      if (signers !== null) {
        // What waits on the servers, though nobody handed this console its id (issue 13).
        const servers =
          input.server === undefined ? services.servers() : [services.requireServer(input.server)];
        for (const server of servers) await workflow.discoverPending(server, signers);
      }
      let rows = services.repos.statements.unapplied(filter);
      const queued = new Set(
        services.outbox
          .list(['pending'])
          .flatMap((item) =>
            item.payload.kind === 'submit-statement' ? [item.payload.statementId] : [],
          ),
      );
      const serverStates = new Map<string, StatementStatus['state']>();
      if (signers !== null) {
        const unreachable = new Set<string>();
        for (const row of rows) {
          if (row.url === null || unreachable.has(row.url) || queued.has(row.id)) continue;
          const server = services.requireServer(row.url);
          const state = await workflow.gatherServerApprovals(server, row.statement, signers);
          if (state === 'unreachable') unreachable.add(row.url);
          else if (state !== null) serverStates.set(row.id, state);
        }
        // Applied (or replaced) on the server: the mirror catches up, and then the log holds it,
        // so it leaves the inbox instead of waiting there as if nothing happened (issue 13).
        const behind = new Map<string, { app: string; channel: string }[]>();
        for (const row of rows) {
          const state = serverStates.get(row.id);
          if (row.url === null || (state !== 'applied' && state !== 'stale')) continue;
          const list = behind.get(row.url) ?? [];
          list.push({ app: row.statement.app, channel: row.statement.channel });
          behind.set(row.url, list);
        }
        for (const [url, channels] of behind) {
          await scope.catchUp(ctx, url, uniqueChannels([channels]));
        }
        if (behind.size > 0) rows = services.repos.statements.unapplied(filter);
      }
      return {
        items: rows.map((row) => {
          const stored = services.statement(row.id);
          const state: StatementState =
            row.logged !== null
              ? 'stale'
              : queued.has(row.id)
                ? 'queued'
                : (serverStates.get(row.id) ?? 'pending');
          return {
            statementId: row.id,
            server: row.url,
            statement: row.statement,
            approvals: stored?.approvals ?? [],
            verdict: stored === null ? null : services.verdict(stored, scope.now()),
            state,
          };
        }),
      };
    },

    [Ch.approvalsReview]: async function approvalsReview(input, ctx) {
      const at = scope.now();
      const workflow = scope.workflow(ctx);
      if (input.source === 'server') {
        const signer = await scope.identity(input.identity);
        const { server, status, approvals, verdict, summary } = await workflow.reviewOnline({
          server: input.server,
          statementId: input.statementId,
          signer,
          signers: scope.signers(input.identity, signer),
        });
        const { statement } = status;
        return {
          statementId: status.id,
          statement,
          approvals,
          verdict,
          state: status.state,
          rootFingerprint: formatFingerprint(server.pinnedRootId),
          rootVersion: server.root.version,
          rootPinned: 'match' as const,
          rootMessage: `The server's trust root is the one pinned here, at version ${server.root.version}.`,
          expired: Date.parse(statement.expiresAt) <= at.getTime(),
          summary,
          confirmText: typedConfirmation(statement, server.root),
          names: names(server.root, statement, approvals),
          signer: signerView(server.root, signer),
          notes: countingNotes(statement, server.root, signer),
        };
      }
      const review = workflow.reviewRequest(input.content);
      const { request, root } = review;
      const signer = await scope.optionalIdentity(input.identity);
      return {
        statementId: request.statementId,
        statement: request.statement,
        approvals: request.approvals,
        verdict: review.verdict,
        state: null,
        rootFingerprint: formatFingerprint(review.rootId),
        rootVersion: root.version,
        rootPinned: review.rootPinned,
        rootMessage: review.rootMessage,
        expired: review.expired,
        summary: review.summary,
        confirmText: typedConfirmation(request.statement, root),
        names: names(root, request.statement, request.approvals),
        signer: signerView(root, signer),
        notes: [...review.notes, ...countingNotes(request.statement, root, signer)],
      };
    },

    [Ch.approvalsApprove]: async function approvalsApprove(input, ctx) {
      // ARCHITECTURE.md §2: approvals are signed with a keychain key, never an environment key.
      const signer = await scope.identity(input.identity);
      const workflow = scope.workflow(ctx);
      if (input.mode === 'online') {
        const outcome = await workflow.approveOnline({
          server: input.server,
          statementId: input.statementId,
          signer,
        });
        return {
          statementId: outcome.statementId,
          state: outcome.state,
          verdict: outcome.verdict,
          approvalFile: null,
        };
      }
      // Air-gapped (ARCHITECTURE.md §5): no server and no network; the file is checked, then signed.
      const { file, verdict } = await workflow.approveRequest({
        text: input.content,
        signer,
        ...(input.rootFingerprint === undefined ? {} : { expectRootId: input.rootFingerprint }),
      });
      return {
        statementId: file.statementId,
        state: null,
        verdict,
        approvalFile: {
          fileName: `${file.statementId.slice(0, 16)}.airlock-approval.json`,
          content: `${JSON.stringify(file, null, 2)}\n`,
        },
      };
    },

    [Ch.approvalsImport]: async function approvalsImport(input, ctx) {
      const outcome = await scope.workflow(ctx).importApproval({
        text: input.content,
        signers: scope.signers(input.identity),
        push: input.push,
      });
      const { statement } = outcome.stored;
      return {
        statementId: outcome.statementId,
        server: outcome.stored.serverUrl ?? '',
        app: statement.app,
        channel: statement.channel,
        approver: outcome.approval.keyId,
        verdict: outcome.verdict,
        pushable: outcome.pushable,
        confirmText: typedConfirmation(
          statement,
          services.requireServer(outcome.stored.serverUrl ?? '').root,
        ),
        kind: statement.kind,
        pushQueued: outcome.push !== null,
        applied: outcome.push?.applied ?? null,
        queued: services.outbox.list(['pending']).length,
      };
    },

    [Ch.approvalsExportRequest]: async function approvalsExportRequest(input, ctx) {
      const server = services.requireServer(input.server);
      const stored = services.statement(input.statementId);
      if (stored === null || stored.serverUrl !== server.url) {
        throw new AirlockError(
          'NOT_FOUND',
          `This console holds no statement ${input.statementId.slice(0, 16)}… for ${server.url}.`,
        );
      }
      const request = await scope
        .workflow(ctx)
        .signingRequest(input.statementId, scope.signers(undefined));
      return requestOffer(request);
    },
  } satisfies Partial<HandlerTable>;
}
