import { AirlockError } from '../../core/errors';
import {
  ROLES,
  STATEMENT_KINDS,
  type Policy,
  type Role,
  type StatementKind,
} from '../../shared/schemas';
import { oneOf, parseCommand, required, UsageError } from '../args';
import { connect, listValues, pinnedChain, SERVER_OPTIONS } from './remote';
import { describePolicy, describeRootChange, nextRoot, publishRoot } from './root-update';

export const POLICY_USAGE = `airlock policy set --server URL --app A --channel C --kind release|rollback|rollout|pause|resume --threshold K --roles R1,R2 [--require R=1 …] [--proposer-counts] [--out root.json]`;

function multi(values: object, name: string): string[] {
  return listValues((values as Record<string, string[] | undefined>)[name]);
}

/** `--require signing_officer=1` → { signing_officer: 1 }. */
function parseRequire(items: readonly string[]): Partial<Record<Role, number>> {
  const minimums: Partial<Record<Role, number>> = {};
  for (const item of items) {
    const match = /^([a-z_]+)=(\d{1,4})$/.exec(item);
    if (match === null) {
      throw new AirlockError('INVALID_ARGUMENT', `--require must look like role=1; got "${item}".`);
    }
    minimums[oneOf(match[1] as string, ROLES, '--require')] = Number(match[2]);
  }
  return minimums;
}

function parseThreshold(text: string): number {
  const threshold = Number(text);
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > 1000) {
    throw new AirlockError(
      'INVALID_ARGUMENT',
      `--threshold must be a whole number from 1; got "${text}".`,
    );
  }
  return threshold;
}

/** Replaces the policy with the same app, channel and kind, or adds it. */
function withPolicy(policies: readonly Policy[], policy: Policy): Policy[] {
  const same = (other: Policy): boolean =>
    other.app === policy.app && other.channel === policy.channel && other.kind === policy.kind;
  return policies.some(same)
    ? policies.map((other) => (same(other) ? policy : other))
    : [...policies, policy];
}

async function set(argv: string[]): Promise<void> {
  const usage = POLICY_USAGE;
  const { values } = parseCommand(
    argv,
    {
      ...SERVER_OPTIONS,
      app: { type: 'string' },
      channel: { type: 'string' },
      kind: { type: 'string' },
      threshold: { type: 'string' },
      roles: { type: 'string', multiple: true },
      require: { type: 'string', multiple: true },
      'proposer-counts': { type: 'boolean' },
      out: { type: 'string' },
    },
    { min: 0, max: 0, usage },
  );
  const kind: StatementKind = oneOf(
    required(values.kind, '--kind', usage),
    STATEMENT_KINDS,
    '--kind',
  );
  const roles = multi(values, 'roles').map((role) => oneOf(role, ROLES, '--roles'));
  if (roles.length === 0) throw new UsageError(`--roles is required\nusage: ${usage}`);
  const minimums = parseRequire(multi(values, 'require'));
  const policy: Policy = {
    app: required(values.app, '--app', usage),
    channel: required(values.channel, '--channel', usage),
    kind,
    threshold: parseThreshold(required(values.threshold, '--threshold', usage)),
    roles: [...new Set(roles)],
    ...(Object.keys(minimums).length === 0 ? {} : { require: minimums }),
    proposerCounts: values['proposer-counts'] === true,
  };
  const { client, signer } = await connect(values, usage);
  const { root } = await pinnedChain(client.baseUrl);
  const now = new Date();
  const next = nextRoot(root, { policies: withPolicy(root.policies, policy) }, now);
  process.stderr.write(`policy ${describePolicy(policy)}\n`);
  if (describeRootChange(root, next).length === 0) {
    throw new AirlockError('ALREADY_EXISTS', 'The trust root already has exactly this policy.');
  }
  await publishRoot(
    {
      client,
      signer,
      current: root,
      json: values.json === true,
      out: values.out,
      serverUrl: client.baseUrl,
    },
    next,
    now,
  );
}

const COMMANDS: Record<string, (argv: string[]) => Promise<void>> = { set };

export async function policyCommand(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  const command = name === undefined ? undefined : COMMANDS[name];
  if (command === undefined) throw new UsageError(`usage:\n${POLICY_USAGE}`);
  await command(rest);
}
