import { writeFile } from 'node:fs/promises';
import { formatFingerprint } from '../../core/crypto';
import { AirlockError } from '../../core/errors';
import { parseCommand, required, UsageError } from '../args';
import { printJson, printLine } from '../io';
import { connect, pinFirst, SERVER_OPTIONS, withWorkflow } from './remote';

export const DEVICE_USAGE =
  'airlock device trust --server URL --app A --out trust.json [--channel C] [--sign] [--identity K] [--json]';

/**
 * `airlock device trust` (ARCHITECTURE.md §11): the trust bundle an app is built with, from the
 * server's root chain as this machine verified and pinned it, checked with the phone's own
 * verifier before it is written (the console's "Device trust" offers the same, through the same
 * workflow). `--sign` adds this machine's admin signature when the newest root lacks its own
 * admins' threshold (version 1, which `server init` creates, carries none).
 */
async function trust(argv: string[]): Promise<void> {
  const usage = DEVICE_USAGE;
  const { values } = parseCommand(
    argv,
    {
      ...SERVER_OPTIONS,
      app: { type: 'string' },
      channel: { type: 'string' },
      out: { type: 'string' },
      sign: { type: 'boolean' },
    },
    { min: 0, max: 0, usage },
  );
  const app = required(values.app, '--app', usage);
  const out = required(values.out, '--out', usage);
  const url = required(values.server, '--server', usage);
  const outcome = await withWorkflow(async (workflow, services) => {
    const server = await pinFirst(services, url);
    return workflow.deviceTrust({
      server,
      app,
      ...(values.channel === undefined ? {} : { channel: values.channel }),
      ...(values.sign === true
        ? { signer: async () => (await connect(values, usage)).signer }
        : {}),
    });
  }).catch((error: unknown) => {
    // The workflow says what is missing; here, which flag does it.
    if (
      values.sign !== true &&
      error instanceof AirlockError &&
      error.code === 'POLICY_NOT_SATISFIED'
    ) {
      throw new AirlockError(
        error.code,
        `${error.message} Run again with --sign as one of its admins.`,
        {
          cause: error,
        },
      );
    }
    throw error;
  });
  await writeFile(out, `${JSON.stringify(outcome.bundle, null, 2)}\n`);
  if (values.json === true) {
    printJson({
      ok: true,
      out,
      app,
      rootVersion: outcome.rootVersion,
      rootFingerprint: outcome.rootFingerprint,
      ...outcome.snippets,
    });
    return;
  }
  if (outcome.warning !== null) process.stderr.write(`${outcome.warning}\n`);
  printLine(
    `Wrote ${out}: ${app}, trust root version ${outcome.rootVersion}, server key ${outcome.serverKeyId}.`,
  );
  printLine(
    `Trust root fingerprint ${outcome.rootFingerprint} (${formatFingerprint(outcome.rootFingerprint)}):`,
  );
  printLine('compare it out of band before you build the app with this file.');
  printLine('');
  printLine('In capacitor.config.ts:');
  printLine(outcome.snippets.capacitorConfig);
  printLine('');
  printLine('In the app:');
  printLine(outcome.snippets.appCode);
}

const COMMANDS: Record<string, (argv: string[]) => Promise<void>> = { trust };

export async function deviceCommand(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  const command = name === undefined ? undefined : COMMANDS[name];
  if (command === undefined) throw new UsageError(`usage:\n${DEVICE_USAGE}`);
  await command(rest);
}
