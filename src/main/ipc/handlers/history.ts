import { AirlockError } from '../../../core/errors';
import { IpcChannels as Ch } from '../../../shared/ipc/channels';
import type { IpcResponseInput } from '../../../shared/ipc/contract';
import { appChannels } from '../../server-client';
import type { HandlerTable } from '../handle';
import {
  findingView,
  isUnreachable,
  messageOf,
  needsSigningOfficer,
  uniqueChannels,
  type HandlerScope,
} from './context';

/**
 * What this console knows and keeps: the verified history, the server's health counters, sync,
 * the outbox, the audit trail and the findings.
 */

export function historyHandlers(scope: HandlerScope) {
  const { services } = scope;
  return {
    [Ch.historyList]: function historyList(input) {
      const server = services.requireServer(input.server);
      const { mirror } = services.repos;
      const filter = {
        ...(input.filter?.kind === undefined ? {} : { kind: input.filter.kind }),
        ...(input.filter?.version === undefined ? {} : { version: input.filter.version }),
        ...(input.filter?.proposers === undefined ? {} : { proposers: input.filter.proposers }),
        ...(input.filter?.automatic === undefined ? {} : { automatic: input.filter.automatic }),
      };
      const entries = mirror.page(
        server.id,
        input.app,
        input.channel,
        input.limit,
        input.offset,
        filter,
      );
      const all = mirror.count(server.id, input.app, input.channel);
      return Promise.resolve({
        total:
          input.filter === undefined
            ? all
            : mirror.count(server.id, input.app, input.channel, filter),
        all,
        proposers: mirror.proposers(server.id, input.app, input.channel),
        rollbackNeedsOfficer: needsSigningOfficer(
          server.root,
          input.app,
          input.channel,
          'rollback',
        ),
        entries: entries.map((row) => {
          // Verified before it was stored (src/main/services/mirror.ts).
          const { statement, approvals } = row.entry;
          return {
            seq: row.seq,
            id: row.id,
            kind: row.kind,
            appliedAt: row.appliedAt,
            proposer: statement.proposer,
            approvals: approvals.length,
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
      const server = services.requireServer(input.server);
      // A signed read (ARCHITECTURE.md §6): the server shows its counters to trust-root members only.
      const signer = await scope.identity(input.identity);
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
        input.server === undefined ? services.servers() : [services.requireServer(input.server)];
      if (servers.length === 0) {
        throw new AirlockError(
          'NOT_FOUND',
          'This console is not connected to a server yet: connect one first.',
        );
      }
      const signer = await scope.optionalIdentity(input.identity);
      const workflow = scope.workflow(ctx);
      const results: IpcResponseInput<typeof Ch.syncRun>['servers'] = [];
      for (const pinned of servers) {
        const result: (typeof results)[number] = {
          url: pinned.url,
          delivered: 0,
          failed: [],
          waiting: null,
          channels: [],
          error: null,
        };
        results.push(result);
        try {
          // Rule 1 of the workflow: the pin moves forward before the logs are judged.
          const { server, findings } = await workflow.contact(pinned.url);
          const delivery = await workflow
            .deliver(server.url, scope.signers(input.identity))
            .catch((error: unknown) => {
              // No usable identity for what waits: pull the logs anyway, say why nothing went out.
              if (isUnreachable(error)) throw error;
              return { delivered: [], failed: [], waiting: { error: messageOf(error) } };
            });
          result.delivered = delivery.delivered.length;
          result.failed = delivery.failed.map(({ item, error, code }) => ({
            id: item.id,
            kind: item.payload.kind,
            error,
            code,
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
          for (const [index, { app, channel }] of channels.entries()) {
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
              // What contact found about the root chain is told once, with the first channel.
              findings: [...(index === 0 ? findings : []), ...report.findings].map((finding) =>
                findingView(server.url, finding),
              ),
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
          lastErrorCode: item.lastErrorCode,
          nextAttemptAt: item.nextAttemptAt,
          createdAt: item.createdAt,
        })),
      });
    },

    [Ch.outboxRetry]: function outboxRetry(input) {
      services.outbox.retry(input.id, scope.now());
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
        input.server === undefined ? services.servers() : [services.requireServer(input.server)];
      return Promise.resolve({
        findings: servers.flatMap((server) =>
          services.repos.findings
            .list(server.id)
            .map((finding) => findingView(server.url, finding)),
        ),
      });
    },
  } satisfies Partial<HandlerTable>;
}
