import { formatFingerprint } from '../../../core/crypto';
import { trustedMembers } from '../../../core/statement';
import { IpcChannels as Ch } from '../../../shared/ipc/channels';
import type { IpcResponseInput } from '../../../shared/ipc/contract';
import type { ChannelStatus, TrustRoot } from '../../../shared/schemas';
import { appChannels, type ServerClient } from '../../server-client';
import type { HandlerTable } from '../handle';
import {
  findingView,
  isUnreachable,
  messageOf,
  uniqueChannels,
  type HandlerScope,
} from './context';

/**
 * Servers (ARCHITECTURE.md §4: pin on first contact, with the fingerprint to compare out of band)
 * and the apps overview (the verified mirror, plus what the server says when it answers).
 */

/**
 * The members of `root` that verifiers count (ARCHITECTURE.md §3): a listed key id that is not the
 * hash of its key is ignored by every check, so it is not shown as a member either.
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

function liveView(
  live: ChannelStatus,
): NonNullable<IpcResponseInput<typeof Ch.appsOverview>['channels'][number]['live']> {
  return {
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
  };
}

export function serverHandlers(scope: HandlerScope) {
  const { services } = scope;
  return {
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

    [Ch.deviceTrust]: async function deviceTrust(input, ctx) {
      const outcome = await scope.workflow(ctx).deviceTrust({
        server: input.server,
        app: input.app,
        ...(input.channel === undefined ? {} : { channel: input.channel }),
        ...(input.sign ? { signer: () => scope.identity(input.identity) } : {}),
      });
      return {
        file: {
          fileName: 'trust.json',
          content: `${JSON.stringify(outcome.bundle, null, 2)}\n`,
        },
        rootVersion: outcome.rootVersion,
        rootId: outcome.rootFingerprint,
        fingerprint: formatFingerprint(outcome.rootFingerprint),
        serverKeyId: outcome.serverKeyId,
        signed: outcome.signed,
        capacitorConfig: outcome.snippets.capacitorConfig,
        appCode: outcome.snippets.appCode,
        warning: outcome.warning,
      };
    },

    [Ch.appsOverview]: async function appsOverview(input, ctx) {
      const servers =
        input.server === undefined ? services.servers() : [services.requireServer(input.server)];
      const signer = input.live ? await scope.optionalIdentity(input.identity) : null;
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
              await scope.probeClient(server.url).getRootChain();
              reachable = true;
              problem = 'No identity key chosen: showing the verified mirror.';
            } else {
              client = scope.probeClient(server.url, signer);
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
        const found: { app: string; channel: string; live: ChannelStatus | null }[] = [];
        for (const { app, channel } of uniqueChannels([services.channels(server), listed])) {
          let live: ChannelStatus | null = null;
          if (client !== null) {
            try {
              live = await client.getChannel(app, channel);
            } catch (error) {
              if (isUnreachable(error)) client = null;
            }
          }
          found.push({ app, channel, live });
        }
        // The server's log is ahead of the mirror (someone pushed): sync first, so that the
        // current release and what still waits agree with what the server says (issue 13).
        await scope.catchUp(
          ctx,
          server.url,
          found.filter(
            ({ app, channel, live }) =>
              live !== null && live.seq > services.mirrorHead(server, app, channel).seq,
          ),
        );
        for (const { app, channel, live } of found) {
          const mirror = services.mirrorHead(server, app, channel);
          channels.push({
            server: server.url,
            app,
            channel,
            mirror: { seq: mirror.seq, head: mirror.head, currentVersion: mirror.currentVersion },
            live: live === null ? null : liveView(live),
            pendingStatements: services.repos.statements.unapplied({
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
  } satisfies Partial<HandlerTable>;
}
