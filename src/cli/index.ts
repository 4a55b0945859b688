#!/usr/bin/env node
import { AirlockError } from '../core/errors';
import { HelpRequested, UsageError, wantsHelp } from './args';

/**
 * `airlock`: thin over core and main's services (ARCHITECTURE.md §8).
 * Exit codes: 0 success; 1 the operation failed (one sentence on stderr); 2 the command was called
 * wrongly (usage on stderr); 70 an unexpected internal error.
 */
const VERSION = '0.1.0';

const HELP = `airlock ${VERSION}: release control for Capacitor live updates

Keys (private parts live only in the OS keychain):
  airlock keys create --type identity|bundle [--label NAME] [--json]
  airlock keys list [--json]
  airlock keys export-public <keyId> [--format pem|hex]
  airlock keys import --type bundle <pkcs1-private.pem> [--label NAME] [--json]
  airlock keys backup <keyId> --out FILE        (passphrase: AIRLOCK_PASSPHRASE or a prompt)
  airlock keys restore FILE [--json]
  airlock keys delete <keyId> [--yes]

Bundles (Capgo encryption v2, for @capgo/capacitor-updater 8.x):
  airlock bundle build <webDir> --out bundle.zip [--json]
  airlock bundle encrypt <bundle.zip> --key <bundleKeyId> --out bundle.enc [--json]
  airlock bundle verify <bundle.enc> --public-key <pem-file> --session-key S --checksum C [--json]

Server (self-hosted; the data directory holds the database, bundles and the server key):
  airlock server init --data DIR --admin <identity-public-key>... [--root-threshold N] [--database postgres://…] [--json]
  airlock server start --data DIR [--database postgres://…] [--bundles s3://…] [--host 127.0.0.1] [--port 8787]
                       [--tls-cert F --tls-key F] [--public-url URL]

Members, apps and policies (each change is a new trust-root version signed by admins):
  airlock members add|remove|list --server URL [--key <public-key> --name N --role R …] [--out root.json]
  airlock members sign|submit root.json --server URL
  airlock apps create --server URL --app A [--channel C …] [--bundle-public-key PEM-FILE]
  airlock apps channel add --server URL --app A --channel C [--bundle-public-key PEM-FILE]
  airlock apps list --server URL [--json]                    (public: no identity needed)
  airlock policy set --server URL --app A --channel C --kind K --threshold K --roles R1,R2 [--require R=1] [--proposer-counts]

Releases (every statement needs approvals and a push):
  airlock propose --server URL --app A --channel C --version V --bundle bundle.enc [--rollout P] [--min-native V] [--notes T] [--expires 7d] [--json] [--out request.json]
  airlock approve <statementId> --server URL --key <identityKeyId> [--json]
  airlock approve <request.json> --out approval.json [--key K] [--root-fingerprint FP]   (offline)
  airlock push <statementId> --server URL [--approval FILE …] [--json]
  airlock rollback --server URL --app A --channel C --to <version | statementId> [--json] [--out request.json]
  airlock rollout --server URL --app A --channel C --percent P | --pause | --resume [--json] [--out request.json]
  airlock log verify --server URL --app A [--channel C] [--json]   (public: no identity needed)

Phones (the device guard, airlock/device, checks approvals on the phone itself):
  airlock device trust --server URL --app A --out trust.json [--sign]   the trust bundle to build the app with

Console (offline-first: work waits in the outbox until the server is reachable):
  airlock connect <URL> [--expect-root ROOT_ID] [--json]   pin the server's trust root
  airlock sync [--server URL] [--app A --channel C] [--json]  send the outbox, verify the logs
  airlock outbox [--json] | airlock outbox retry <id>
  airlock import <approval.json> [--no-push] [--json]   (pushes once the approvals suffice)
  airlock audit verify [--json] | airlock audit list [--json]

Server commands sign with --identity <keyId>, else AIRLOCK_IDENTITY, else the only identity key.
Every command answers --help with its own usage.

A keyId may be shortened to a unique prefix of at least 8 characters.
`;

async function main(argv: string[]): Promise<void> {
  const [group, ...rest] = argv;
  switch (group) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return;
    case '--version':
    case '-v':
      process.stdout.write(`${VERSION}\n`);
      return;
    case 'keys': {
      const { keysCommand } = await import('./commands/keys');
      return keysCommand(rest);
    }
    case 'bundle': {
      const { bundleCommand } = await import('./commands/bundle');
      return bundleCommand(rest);
    }
    case 'server': {
      const { serverCommand } = await import('./commands/server');
      return serverCommand(rest);
    }
    case 'members': {
      const { membersCommand } = await import('./commands/members');
      return membersCommand(rest);
    }
    case 'apps': {
      const { appsCommand } = await import('./commands/apps');
      return appsCommand(rest);
    }
    case 'policy': {
      const { policyCommand } = await import('./commands/policy');
      return policyCommand(rest);
    }
    case 'propose': {
      const { proposeCommand } = await import('./commands/release');
      return proposeCommand(rest);
    }
    case 'approve': {
      const { approveCommand } = await import('./commands/release');
      return approveCommand(rest);
    }
    case 'push': {
      const { pushCommand } = await import('./commands/release');
      return pushCommand(rest);
    }
    case 'rollback': {
      const { rollbackCommand } = await import('./commands/release');
      return rollbackCommand(rest);
    }
    case 'rollout': {
      const { rolloutCommand } = await import('./commands/release');
      return rolloutCommand(rest);
    }
    case 'log': {
      const { logCommand } = await import('./commands/log');
      return logCommand(rest);
    }
    case 'device': {
      const { deviceCommand } = await import('./commands/device');
      return deviceCommand(rest);
    }
    case 'connect':
    case 'sync':
    case 'outbox':
    case 'import':
    case 'audit': {
      const { consoleCommand } = await import('./commands/console');
      return consoleCommand(group, rest);
    }
    default:
      throw new UsageError(`unknown command "${group}"; run "airlock --help"`);
  }
}

const argv = process.argv.slice(2);
main(argv).then(
  () => undefined,
  (error: unknown) => {
    if (error instanceof HelpRequested) {
      process.stdout.write(`usage: ${error.usage}\n`);
    } else if (error instanceof UsageError && wantsHelp(argv)) {
      // `airlock keys --help`: the group's usage, asked for.
      process.stdout.write(`usage:\n${error.usage}\n`);
    } else if (error instanceof UsageError) {
      process.stderr.write(`airlock: ${error.message}\n`);
      process.exitCode = 2;
    } else if (error instanceof AirlockError) {
      process.stderr.write(`airlock: ${error.message}\n`);
      process.exitCode = 1;
    } else {
      // Never a stack trace by default: one sentence, and the details only when asked for.
      process.stderr.write(
        'airlock: an unexpected internal error occurred (set AIRLOCK_DEBUG=1 for details).\n',
      );
      if (process.env['AIRLOCK_DEBUG'] === '1') console.error(error);
      process.exitCode = 70;
    }
  },
);
