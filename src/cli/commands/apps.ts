import { AirlockError } from '../../core/errors';
import type { AppSummary } from '../../main/server-client';
import { AppIdSchema, ChannelSchema, type CreateAppRequest } from '../../shared/schemas';
import { parseCommand, required, UsageError } from '../args';
import { printJson, printLine } from '../io';
import { connect, listValues, publicClient, readText, SERVER_OPTIONS } from './remote';

export const APPS_USAGE = `airlock apps create --server URL --app A [--channel C …] [--bundle-public-key PEM-FILE] [--allow-self-set C …] [--json]
airlock apps channel add --server URL --app A --channel C [--bundle-public-key PEM-FILE] [--allow-self-set] [--json]
airlock apps list --server URL [--json]`;

/** The first channel is the app's default one (the contract's rule). */
const DEFAULT_CHANNEL = 'production';

function multi(values: object, name: string): string[] {
  return listValues((values as Record<string, string[] | undefined>)[name]);
}

function checked(value: string, schema: typeof AppIdSchema, what: string): string {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new AirlockError(
      'INVALID_ARGUMENT',
      `${what} "${value}" ${result.error.issues[0]?.message ?? 'is invalid'}.`,
    );
  }
  return result.data;
}

async function create(argv: string[]): Promise<void> {
  const usage =
    'airlock apps create --server URL --app A [--channel C …] [--bundle-public-key PEM-FILE] [--allow-self-set C …] [--json]';
  const { values } = parseCommand(
    argv,
    {
      ...SERVER_OPTIONS,
      app: { type: 'string' },
      channel: { type: 'string', multiple: true },
      'bundle-public-key': { type: 'string' },
      'allow-self-set': { type: 'string', multiple: true },
    },
    { min: 0, max: 0, usage },
  );
  const app = checked(required(values.app, '--app', usage), AppIdSchema, 'The app id');
  const given = multi(values, 'channel');
  const names = (given.length === 0 ? [DEFAULT_CHANNEL] : given).map((name) =>
    checked(name, ChannelSchema, 'The channel name'),
  );
  const selfSet = new Set(multi(values, 'allow-self-set'));
  for (const name of selfSet) {
    if (!names.includes(name)) {
      throw new AirlockError(
        'INVALID_ARGUMENT',
        `--allow-self-set names "${name}", which is not one of the channels being created.`,
      );
    }
  }
  const keyFile = values['bundle-public-key'];
  const bundlePublicKey = keyFile === undefined ? undefined : await readText(keyFile);
  const request: CreateAppRequest = {
    app,
    ...(bundlePublicKey === undefined ? {} : { bundlePublicKey }),
    channels: [...new Set(names)].map((name) =>
      selfSet.has(name) ? { name, settings: { allowSelfSet: true } } : { name },
    ),
  };
  const { client } = await connect(values, usage);
  const answer = await client.createApp(request);
  if (values.json === true) printJson(answer);
  else
    printLine(`Created ${app} with channel${names.length === 1 ? '' : 's'} ${names.join(', ')}.`);
}

function channelNames(app: AppSummary): string[] {
  return (app.channels ?? []).map((channel) =>
    typeof channel === 'string' ? channel : channel.name,
  );
}

/** `airlock apps channel add`: a channel for an existing app (a release manager's request). */
async function channel(argv: string[]): Promise<void> {
  const usage =
    'airlock apps channel add --server URL --app A --channel C [--bundle-public-key PEM-FILE] [--allow-self-set] [--json]';
  const { values, positionals } = parseCommand(
    argv,
    {
      ...SERVER_OPTIONS,
      app: { type: 'string' },
      channel: { type: 'string' },
      'bundle-public-key': { type: 'string' },
      'allow-self-set': { type: 'boolean' },
    },
    { min: 1, max: 1, usage },
  );
  if (positionals[0] !== 'add') throw new UsageError(`usage: ${usage}`);
  const app = checked(required(values.app, '--app', usage), AppIdSchema, 'The app id');
  const name = checked(
    required(values.channel, '--channel', usage),
    ChannelSchema,
    'The channel name',
  );
  const keyFile = values['bundle-public-key'];
  const bundlePublicKey = keyFile === undefined ? undefined : await readText(keyFile);
  const { client } = await connect(values, usage);
  const answer = await client.createChannel(app, {
    name,
    ...(values['allow-self-set'] === true ? { settings: { allowSelfSet: true } } : {}),
    ...(bundlePublicKey === undefined ? {} : { bundlePublicKey }),
  });
  if (values.json === true) printJson(answer);
  else printLine(`Added channel ${name} to ${app}.`);
}

/** Public like the log (ARCHITECTURE.md, "The log is public"): no identity needed. */
async function list(argv: string[]): Promise<void> {
  const usage = 'airlock apps list --server URL [--json]';
  const { values } = parseCommand(argv, SERVER_OPTIONS, { min: 0, max: 0, usage });
  const client = publicClient(values, usage);
  const apps = await client.listApps();
  if (values.json === true) {
    printJson({ apps });
    return;
  }
  if (apps.length === 0) printLine('No apps yet. Create one with: airlock apps create');
  for (const app of apps) printLine(`${app.app}  ${channelNames(app).join(', ')}`);
}

const COMMANDS: Record<string, (argv: string[]) => Promise<void>> = { create, channel, list };

export async function appsCommand(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  const command = name === undefined ? undefined : COMMANDS[name];
  if (command === undefined) throw new UsageError(`usage:\n${APPS_USAGE}`);
  await command(rest);
}
