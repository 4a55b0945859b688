import { existsSync } from 'node:fs';
import {
  formatFingerprint,
  identityKeyId,
  identityPublicKeyFromText,
  parseIdentityPublicKey,
} from '../../core/crypto';
import { AirlockError } from '../../core/errors';
import { ROLES, type Member, type Role } from '../../shared/schemas';
import { oneOf, parseCommand, required, UsageError } from '../args';
import { printJson, printLine } from '../io';
import { connect, listValues, publicClient, readText, SERVER_OPTIONS, pinnedChain } from './remote';
import {
  coSignRootFile,
  describeRootChange,
  nextRoot,
  publishRoot,
  submitRootFile,
  type PublishContext,
} from './root-update';

export const MEMBERS_USAGE = `airlock members list --server URL [--json]
airlock members add --server URL --key <public key (hex or PEM) | file> --name N --role R [--role R …] [--out root.json]
airlock members remove --server URL --key <keyId | public-key hex> [--out root.json]
airlock members sign root.json --server URL        (co-sign a new trust-root version)
airlock members submit root.json --server URL`;

/**
 * An identity public key from the command line: the hex or the PEM `airlock keys export-public`
 * prints (either format), given inline or as a file holding it.
 */
async function publicKeyArgument(value: string): Promise<string> {
  const inline = /^[0-9a-fA-F]{64}$/.test(value.trim()) || value.includes('-----BEGIN');
  return identityPublicKeyFromText(inline ? value : await keyFile(value));
}

async function keyFile(path: string): Promise<string> {
  if (!existsSync(path)) {
    throw new AirlockError(
      'INVALID_ARGUMENT',
      `--key must be an identity public key (64 hex characters or PEM) or a file holding one; "${path}" is neither.`,
    );
  }
  return readText(path);
}

function multi(values: object, name: string): string[] {
  return listValues((values as Record<string, string[] | undefined>)[name]);
}

async function list(argv: string[]): Promise<void> {
  const usage = 'airlock members list --server URL [--json]';
  const { values } = parseCommand(argv, SERVER_OPTIONS, { min: 0, max: 0, usage });
  const { root, firstRootId } = await pinnedChain(publicClient(values, usage).baseUrl);
  if (values.json === true) {
    printJson({
      version: root.version,
      firstRootId,
      rootThreshold: root.rootThreshold,
      members: root.members,
    });
    return;
  }
  printLine(
    `Trust root version ${root.version} (version 1 fingerprint ${firstRootId.slice(0, 16)}), ${root.rootThreshold} admin signature(s) per change`,
  );
  for (const member of root.members) {
    printLine(
      `${formatFingerprint(member.keyId)}  ${member.name.padEnd(20)}  ${member.roles.join(', ')}`,
    );
  }
}

const CHANGE_OPTIONS = {
  ...SERVER_OPTIONS,
  key: { type: 'string' },
  name: { type: 'string' },
  role: { type: 'string', multiple: true },
  out: { type: 'string' },
} as const;

/** Loads the current root and a signer for a root change. */
async function changeContext(
  values: { server?: string; identity?: string; json?: boolean; out?: string },
  usage: string,
): Promise<PublishContext> {
  const { client, signer } = await connect(values, usage);
  const { root } = await pinnedChain(client.baseUrl);
  return {
    client,
    signer,
    current: root,
    json: values.json === true,
    out: values.out,
    serverUrl: client.baseUrl,
  };
}

async function add(argv: string[]): Promise<void> {
  const usage =
    'airlock members add --server URL --key <public key (hex or PEM) | file> --name N --role R [--role R …] [--out root.json]';
  const { values } = parseCommand(argv, CHANGE_OPTIONS, { min: 0, max: 0, usage });
  const publicKey = await publicKeyArgument(required(values.key, '--key', usage));
  const name = required(values.name, '--name', usage);
  const roles = multi(values, 'role').map((role) => oneOf(role, ROLES, '--role'));
  if (roles.length === 0) throw new UsageError(`--role is required\nusage: ${usage}`);
  const ctx = await changeContext(values, usage);
  const keyId = identityKeyId(parseIdentityPublicKey(publicKey));
  if (ctx.current.members.some((member) => member.keyId === keyId)) {
    throw new AirlockError(
      'ALREADY_EXISTS',
      `Key ${keyId.slice(0, 16)}… is already a member; remove it first to change its roles.`,
    );
  }
  const member: Member = { keyId, publicKey, name, roles: [...new Set<Role>(roles)] };
  const now = new Date();
  const next = nextRoot(ctx.current, { members: [...ctx.current.members, member] }, now);
  await publishRoot(ctx, next, now);
}

async function remove(argv: string[]): Promise<void> {
  const usage =
    'airlock members remove --server URL --key <keyId | public-key hex> [--out root.json]';
  const { values } = parseCommand(argv, CHANGE_OPTIONS, { min: 0, max: 0, usage });
  const query = required(values.key, '--key', usage).replace(/\s+/g, '').toLowerCase();
  const ctx = await changeContext(values, usage);
  const matches = ctx.current.members.filter(
    (member) => (query.length >= 8 && member.keyId.startsWith(query)) || member.publicKey === query,
  );
  if (matches.length !== 1) {
    throw new AirlockError(
      matches.length === 0 ? 'NOT_FOUND' : 'INVALID_ARGUMENT',
      matches.length === 0
        ? `No member of trust root version ${ctx.current.version} has key ${query}.`
        : `Key ${query} matches ${matches.length} members; give more characters.`,
    );
  }
  const gone = (matches[0] as Member).keyId;
  const now = new Date();
  const next = nextRoot(
    ctx.current,
    { members: ctx.current.members.filter((member) => member.keyId !== gone) },
    now,
  );
  for (const line of describeRootChange(ctx.current, next)) process.stderr.write(`${line}\n`);
  await publishRoot(ctx, next, now);
}

async function sign(argv: string[]): Promise<void> {
  const usage = 'airlock members sign root.json --server URL [--identity KEY]';
  const { values, positionals } = parseCommand(argv, SERVER_OPTIONS, { min: 1, max: 1, usage });
  const ctx = await changeContext(values, usage);
  await coSignRootFile(ctx, positionals[0] as string, new Date(), (line) =>
    process.stderr.write(`${line}\n`),
  );
}

async function submit(argv: string[]): Promise<void> {
  const usage = 'airlock members submit root.json --server URL';
  const { values, positionals } = parseCommand(argv, SERVER_OPTIONS, { min: 1, max: 1, usage });
  const ctx = await changeContext(values, usage);
  await submitRootFile(ctx, positionals[0] as string, new Date());
}

const COMMANDS: Record<string, (argv: string[]) => Promise<void>> = {
  list,
  add,
  remove,
  sign,
  submit,
};

export async function membersCommand(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  const command = name === undefined ? undefined : COMMANDS[name];
  if (command === undefined) throw new UsageError(`usage:\n${MEMBERS_USAGE}`);
  await command(rest);
}
