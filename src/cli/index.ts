#!/usr/bin/env node
import { AirlockError } from '../core/errors';
import { UsageError } from './args';

/**
 * `airlock`: thin over core and main's services (DESIGN section 8).
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
    default:
      throw new UsageError(`unknown command "${group}"; run "airlock --help"`);
  }
}

main(process.argv.slice(2)).then(
  () => undefined,
  (error: unknown) => {
    if (error instanceof UsageError) {
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
