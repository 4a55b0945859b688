import { readFile } from 'node:fs/promises';
import type { BundleFile } from '../../core/bundle';
import { formatFingerprint, identityKeyId } from '../../core/crypto';
import { AirlockError } from '../../core/errors';
import { verifyCheckpoint } from '../../core/log';
import { findPolicy } from '../../core/policy';
import {
  createApproval,
  nextStatementHeader,
  statementId,
  type IdentitySigner,
  type StatementHeader,
} from '../../core/statement';
import type { ServerClient } from '../../main/server-client';
import { resolveIdentity } from '../../main/identity';
import { createOsKeychain } from '../../main/keys/keychain';
import { KeyStore } from '../../main/keys/key-store';
import { approveSigningRequest, reviewSigningRequest } from '../../main/services/airgap';
import { ConsoleServices, type StoredStatement } from '../../main/services/console';
import type { ServerRecord } from '../../main/services/mirror';
import {
  ApprovalFileSchema,
  ApprovalSchema,
  BundleRefSchema,
  RolloutSchema,
  SemverSchema,
  type Approval,
  type BundleRef,
  type ChannelStatus,
  type PushResult,
  type Statement,
  type StatementStatus,
  type TrustRoot,
} from '../../shared/schemas';
import { parseCommand, required, UsageError } from '../args';
import { formatBytes, printJson, printLine, warn } from '../io';
import { signerResolver } from './console';
import {
  connect,
  listValues,
  memberName,
  parseDuration,
  readJson,
  SERVER_OPTIONS,
  statementIdArgument,
  readText,
  trustedChain,
  writeJson,
} from './remote';

/**
 * Statements (ARCHITECTURE.md §3) from the command line: propose a release, approve, push, and the
 * statements that change what devices get without a new bundle (rollback, rollout, pause, resume).
 * Every statement is built on the channel's current head (seq + 1, prev = head) and needs
 * approvals and a push like any other; the server enforces the policy, the CLI only reports it.
 */

export const PROPOSE_USAGE =
  'airlock propose --server URL --app A --channel C --version V --bundle bundle.enc [--rollout P] [--min-native V] [--notes T] [--expires 7d] [--identity KEY] [--json]';
export const APPROVE_USAGE =
  'airlock approve <statementId> --server URL --key <identityKeyId> [--json] | airlock approve <request.json> --key <identityKeyId> --out approval.json';
export const PUSH_USAGE = 'airlock push <statementId> --server URL [--approval FILE …] [--json]';
export const ROLLBACK_USAGE =
  'airlock rollback --server URL --app A --channel C --to <version | statementId> [--expires 7d] [--json]';
export const ROLLOUT_USAGE =
  'airlock rollout --server URL --app A --channel C --percent P | --pause | --resume [--expires 7d] [--json]';

const DEFAULT_EXPIRY = '7d';
/** No minimum native version: every device build may take the release. */
const DEFAULT_MIN_NATIVE = '0.0.0';

const CHANNEL_OPTIONS = {
  ...SERVER_OPTIONS,
  app: { type: 'string' },
  channel: { type: 'string' },
  expires: { type: 'string' },
  out: { type: 'string' },
} as const;

/** The fields every statement carries, placed on the channel's current head (ARCHITECTURE.md §3). */
function statementBase(
  status: Pick<ChannelStatus, 'app' | 'channel' | 'seq' | 'head'>,
  signer: IdentitySigner,
  expires: string | undefined,
): StatementHeader {
  const lifetime = parseDuration(expires ?? DEFAULT_EXPIRY, '--expires');
  return nextStatementHeader(
    status.app,
    status.channel,
    status,
    signer.keyId,
    new Date(),
    lifetime,
  );
}

/** Runs `work` with the console's store open (ARCHITECTURE.md §7), closing it afterwards. */
async function withConsole<T>(work: (services: ConsoleServices) => Promise<T>): Promise<T> {
  const services = ConsoleServices.open();
  try {
    return await work(services);
  } finally {
    services.close();
  }
}

/** The zip's file list `airlock bundle encrypt` wrote beside the bundle, when it is there. */
async function bundleFileListBeside(bundle: string): Promise<BundleFile[] | null> {
  try {
    const parsed = JSON.parse(await readFile(`${bundle}.files.json`, 'utf8')) as unknown;
    if (!Array.isArray(parsed)) return null;
    return parsed.filter(
      (file): file is BundleFile =>
        typeof file === 'object' &&
        file !== null &&
        typeof (file as BundleFile).name === 'string' &&
        typeof (file as BundleFile).size === 'number' &&
        typeof (file as BundleFile).crc32 === 'number',
    );
  } catch {
    return null;
  }
}

function semver(value: string, flag: string): string {
  if (!SemverSchema.safeParse(value).success) {
    throw new AirlockError(
      'INVALID_ARGUMENT',
      `${flag} must be a semantic version such as 1.4.2; got "${value}".`,
    );
  }
  return value;
}

function percent(value: string, flag: string): number {
  const parsed = Number(value);
  if (!RolloutSchema.safeParse({ percent: parsed }).success || value.trim() === '') {
    throw new AirlockError(
      'INVALID_ARGUMENT',
      `${flag} must be a number above 0 and at most 100; got "${value}".`,
    );
  }
  return parsed;
}

/** One line about a statement for the person about to sign it. */
export function describeStatement(statement: Statement, root: TrustRoot | null): string {
  const where = `${statement.app}/${statement.channel} seq ${statement.seq}`;
  const by =
    root === null ? formatFingerprint(statement.proposer) : memberName(root, statement.proposer);
  switch (statement.kind) {
    case 'release': {
      const { release } = statement;
      return `release ${release.version} to ${where} at ${release.rollout.percent}% (min native ${release.minNativeVersion}, ${release.bundle.files} files, ${formatBytes(release.bundle.encryptedSize)}, sha256 ${release.bundle.encryptedSha256.slice(0, 16)}…), proposed by ${by}, expires ${statement.expiresAt}`;
    }
    case 'rollback':
      return `rollback of ${where} to release ${statement.target.slice(0, 16)}…, proposed by ${by}, expires ${statement.expiresAt}`;
    case 'rollout':
      return `rollout of ${where} to ${statement.rollout.percent}%, proposed by ${by}, expires ${statement.expiresAt}`;
    default:
      return `${statement.kind} of ${where}${statement.kind === 'pause' && statement.automatic === true ? ' (automatic)' : ''}, proposed by ${by}, expires ${statement.expiresAt}`;
  }
}

/** The console's record of `url`, pinning its trust root on first contact (ARCHITECTURE.md §4). */
async function pinnedServer(services: ConsoleServices, url: string): Promise<ServerRecord> {
  const known = services.server(url);
  if (known !== null) return known;
  const connected = await services.connect(url);
  process.stderr.write(
    `Pinned ${connected.server.url}: trust root fingerprint ${connected.fingerprint}; compare it with the one "airlock server init" printed.\n`,
  );
  return connected.server;
}

/** The channel's head for a new statement, warning when the server could not be reached. */
async function channelPosition(
  services: ConsoleServices,
  client: ServerClient,
  server: ServerRecord,
  app: string,
  channel: string,
): Promise<Pick<ChannelStatus, 'app' | 'channel' | 'seq' | 'head'>> {
  const position = await services.channelPosition(client, server, app, channel);
  if (position.offline !== null) {
    warn(
      `${position.offline} Building on the verified mirror's head (seq ${position.seq}); the statement waits in the outbox.`,
    );
  }
  return { app, channel, seq: position.seq, head: position.head };
}

export interface ProposeOptions {
  readonly bundle?: { path: string; info: BundleRef; files: BundleFile[] | null };
  /** Write an air-gapped signing request here (ARCHITECTURE.md §5). */
  readonly out?: string | undefined;
}

/**
 * Records a new statement in this console, queues it (and its bundle) in the outbox and sends what
 * is due; prints its id (stdout) and what it still needs (stderr). Offline, it waits in the outbox.
 */
async function proposeThroughOutbox(
  services: ConsoleServices,
  server: ServerRecord,
  signer: IdentitySigner,
  statement: Statement,
  json: boolean,
  opts: ProposeOptions = {},
): Promise<void> {
  const id = services.recordProposal(statement, server, signer.keyId, opts.bundle);
  const others = signerResolver();
  const delivery = await services.deliver(
    server.url,
    (keyId) => (keyId === signer.keyId ? Promise.resolve(signer) : others(keyId)),
    { force: true },
  );
  const refused = delivery.failed.find((failure) => 'statementId' in failure.item.payload);
  if (refused !== undefined) throw new AirlockError('INVALID_INPUT', refused.error);
  if (opts.out !== undefined) {
    await writeJson(opts.out, services.signingRequest(id));
    process.stderr.write(`Signing request written to ${opts.out}\n`);
  }
  const submitted = delivery.delivered.find(
    (item) => item.payload.kind === 'submit-statement' && item.payload.statementId === id,
  )?.result as StatementStatus | undefined;
  const verdict = submitted?.verdict ?? services.verdict(services.statement(id) as StoredStatement);
  const state = submitted?.state ?? 'queued';
  if (json) {
    printJson({ statementId: id, seq: statement.seq, state, verdict });
    return;
  }
  printLine(id);
  if (submitted === undefined) {
    process.stderr.write(
      `Queued ${statement.kind} seq ${statement.seq} of ${statement.app}/${statement.channel}: the server is unreachable; "airlock sync" sends it.\n`,
    );
    return;
  }
  process.stderr.write(
    `Proposed ${statement.kind} seq ${statement.seq} of ${statement.app}/${statement.channel}: ${submitted.verdict.summary}.\nNext: airlock approve ${id} --server ${server.url}, then airlock push ${id} --server ${server.url}\n`,
  );
}

// ---------------------------------------------------------------------------------------------
// propose

/** `bundle.enc.json` beside the bundle, written by `airlock bundle encrypt` (ARCHITECTURE.md §8). */
async function bundleDetails(bundle: string): Promise<BundleRef> {
  const file = `${bundle}.json`;
  const parsed = BundleRefSchema.safeParse(await readJson(file));
  if (!parsed.success) {
    throw new AirlockError(
      'INVALID_INPUT',
      `${file} is not what "airlock bundle encrypt" writes; encrypt the bundle again.`,
    );
  }
  return parsed.data;
}

export async function proposeCommand(argv: string[]): Promise<void> {
  const usage = PROPOSE_USAGE;
  const { values } = parseCommand(
    argv,
    {
      ...CHANNEL_OPTIONS,
      version: { type: 'string' },
      bundle: { type: 'string' },
      rollout: { type: 'string' },
      'min-native': { type: 'string' },
      notes: { type: 'string' },
      out: { type: 'string' },
    },
    { min: 0, max: 0, usage },
  );
  const app = required(values.app, '--app', usage);
  const channel = required(values.channel, '--channel', usage);
  const version = semver(required(values.version, '--version', usage), '--version');
  const minNative = semver(values['min-native'] ?? DEFAULT_MIN_NATIVE, '--min-native');
  const rollout = percent(values.rollout ?? '100', '--rollout');
  const bundlePath = required(values.bundle, '--bundle', usage);
  const bundle = await bundleDetails(bundlePath);
  // ARCHITECTURE.md §2: a CI proposer may sign with AIRLOCK_IDENTITY_KEY (with a warning).
  const { client, signer } = await connect(values, usage, { allowEnvironmentKey: true });
  await withConsole(async (services) => {
    const server = await pinnedServer(services, client.baseUrl);
    const status = await channelPosition(services, client, server, app, channel);
    const statement: Statement = {
      ...statementBase(status, signer, values.expires),
      kind: 'release',
      release: {
        version,
        minNativeVersion: minNative,
        ...(values.notes === undefined ? {} : { notes: values.notes }),
        rollout: { percent: rollout },
        bundle,
      },
    };
    const files = await bundleFileListBeside(bundlePath);
    await proposeThroughOutbox(services, server, signer, statement, values.json === true, {
      bundle: { path: bundlePath, info: bundle, files },
      out: values.out,
    });
  });
}

// ---------------------------------------------------------------------------------------------
// approve

/** The statement the server holds under `id`, checked to really be that statement. */
async function fetchStatement(client: ServerClient, id: string): Promise<StatementStatus> {
  const status = await client.getStatement(id);
  // The server is untrusted (ARCHITECTURE.md rule 13): what we sign must hash to the id we were given.
  if (statementId(status.statement) !== id || status.id !== id) {
    throw new AirlockError(
      'INVALID_INPUT',
      `The server answered with a statement whose id is not ${id}.`,
    );
  }
  return status;
}

export async function approveCommand(argv: string[]): Promise<void> {
  const usage = APPROVE_USAGE;
  const { values, positionals } = parseCommand(
    argv,
    { ...SERVER_OPTIONS, key: { type: 'string' }, out: { type: 'string' } },
    { min: 1, max: 1, usage },
  );
  const target = positionals[0] as string;
  if (values.out !== undefined || target.endsWith('.json')) {
    await approveRequestFile(target, required(values.out, '--out', usage), values);
    return;
  }
  const id = statementIdArgument(target);
  // ARCHITECTURE.md §2: approval is never possible with an environment key (allowEnvironmentKey stays off).
  const { client, signer } = await connect(values, usage, {
    identity: values.key ?? values.identity,
  });
  const [status, { root }] = await Promise.all([fetchStatement(client, id), trustedChain(client)]);
  if (status.state !== 'pending') {
    throw new AirlockError(
      'INVALID_ARGUMENT',
      `Statement ${id.slice(0, 16)}… is ${status.state}; there is nothing to approve.`,
    );
  }
  process.stderr.write(`Approving ${describeStatement(status.statement, root)}\n`);
  warnIfNotCounting(status.statement, root, signer.keyId);
  const approval = await createApproval(status.statement, signer);
  const after = await client.addApprovals(id, [approval]);
  await withConsole((services) => {
    services.record('approval.signed', signer.keyId, { statementId: id, server: client.baseUrl });
    return Promise.resolve();
  });
  if (values.json === true) {
    printJson({ statementId: id, approval, state: after.state, verdict: after.verdict });
    return;
  }
  printLine(`Approved as ${memberName(root, signer.keyId)}: ${after.verdict.summary}.`);
  if (after.verdict.satisfied)
    process.stderr.write(`Next: airlock push ${id} --server ${client.baseUrl}\n`);
}

/**
 * Air-gapped approval (ARCHITECTURE.md §5): reads a signing request, verifies offline what can be verified,
 * shows the review, signs with the keychain key and writes the approval file. Needs no server and
 * no network; the trust root is compared with the one this console pinned for that server, if any.
 */
async function approveRequestFile(
  file: string,
  out: string,
  values: { key?: string | undefined; identity?: string | undefined; json?: boolean | undefined },
): Promise<void> {
  const text = await readText(file);
  const now = new Date();
  await withConsole(async (services) => {
    let review = reviewSigningRequest(text, { now });
    const server = review.request.server === null ? null : services.server(review.request.server);
    if (server !== null) {
      review = reviewSigningRequest(text, { now, pinnedRootIds: [server.pinnedRootId] });
    }
    const { request } = review;
    const root = request.root.root;
    const lines = [
      `Reviewing ${describeStatement(request.statement, root)}`,
      `  statement ${request.statementId}`,
      `  trust root ${formatFingerprint(review.rootId)} (version ${root.version}): ${
        review.rootPinned === 'match'
          ? 'matches the pinned root'
          : review.rootPinned === 'mismatch'
            ? 'DOES NOT match the pinned root'
            : 'not pinned on this machine: compare it out of band'
      }`,
      `  policy: ${review.verdict.summary}`,
    ];
    const diff = request.summary.fileDiff;
    if (diff !== null && diff !== undefined) {
      lines.push(
        `  files vs ${request.summary.currentVersion ?? 'the current release'}: +${diff.added.length} added, -${diff.removed.length} removed, ~${diff.changed.length} changed, ${diff.unchanged} unchanged`,
      );
    }
    for (const note of review.notes) lines.push(`  note: ${note}`);
    process.stderr.write(`${lines.join('\n')}\n`);
    // ARCHITECTURE.md §2: approval is never possible with an environment key.
    const signer = await resolveIdentity(() => new KeyStore(createOsKeychain()), {
      keyId: values.key ?? values.identity,
      warn,
    });
    const approvalFile = await approveSigningRequest(review, signer, {
      now,
      name: root.members.find((member) => member.keyId === signer.keyId)?.name ?? null,
    });
    await writeJson(out, approvalFile);
    services.record('approval.signed', signer.keyId, {
      statementId: request.statementId,
      file: out,
    });
    services.record('approval.exported', signer.keyId, {
      statementId: request.statementId,
      file: out,
    });
    if (values.json === true)
      printJson({ statementId: request.statementId, approval: approvalFile.approval, out });
    else
      printLine(
        `Approval written to ${out}; carry it to the console that proposed the release and run "airlock import ${out}".`,
      );
  });
}

/** Tells the approver up front when their approval will not count (ARCHITECTURE.md §3 policy rules). */
function warnIfNotCounting(statement: Statement, root: TrustRoot, keyId: string): void {
  const policy = findPolicy(root, statement.app, statement.channel, statement.kind);
  const member = root.members.find((candidate) => candidate.keyId === keyId);
  let reason: string | null = null;
  if (member === undefined) reason = 'you are not a member of the trust root';
  else if (policy !== null && !policy.roles.some((role) => member.roles.includes(role))) {
    reason = `your roles (${member.roles.join(', ')}) do not count for ${statement.kind}`;
  } else if (policy !== null && keyId === statement.proposer && !policy.proposerCounts) {
    reason = "the proposer's own approval does not count";
  }
  if (reason !== null) process.stderr.write(`airlock: warning: ${reason}\n`);
}

// ---------------------------------------------------------------------------------------------
// push

/** An approval from a file: an `airlock-approval` file (ARCHITECTURE.md §5) or a bare approval object. */
async function approvalFromFile(file: string, id: string): Promise<Approval> {
  const content = await readJson(file);
  const wrapped = ApprovalFileSchema.safeParse(content);
  const bare = ApprovalSchema.safeParse(content);
  const approval = wrapped.success ? wrapped.data.approval : bare.success ? bare.data : null;
  if (approval === null)
    throw new AirlockError('INVALID_INPUT', `${file} is not an Airlock approval.`);
  if (approval.statement !== id) {
    throw new AirlockError(
      'INVALID_INPUT',
      `${file} approves statement ${approval.statement.slice(0, 16)}…, not ${id.slice(0, 16)}….`,
    );
  }
  return approval;
}

export async function pushCommand(argv: string[]): Promise<void> {
  const usage = PUSH_USAGE;
  const { values, positionals } = parseCommand(
    argv,
    { ...SERVER_OPTIONS, approval: { type: 'string', multiple: true } },
    { min: 1, max: 1, usage },
  );
  const id = statementIdArgument(positionals[0] as string);
  const files = listValues((values as Record<string, string[] | undefined>)['approval']);
  const approvals = await Promise.all(files.map((file) => approvalFromFile(file, id)));
  const { client, signer } = await connect(values, usage);
  const result = await withConsole(async (services) => {
    const server = await pinnedServer(services, client.baseUrl);
    for (const approval of approvals) services.addApproval(approval, 'file');
    // Offline-first (ARCHITECTURE.md §7): the push waits in the outbox when the server cannot be reached,
    // and a repeat is answered alreadyApplied, so it never applies twice.
    services.queue(server.url, { kind: 'push', statementId: id, approvals }, signer.keyId);
    const others = signerResolver();
    const delivery = await services.deliver(
      server.url,
      (keyId) => (keyId === signer.keyId ? Promise.resolve(signer) : others(keyId)),
      { force: true },
    );
    const refused = delivery.failed.find(
      (failure) => failure.item.payload.kind === 'push' && failure.item.payload.statementId === id,
    );
    if (refused !== undefined) throw new AirlockError('INVALID_INPUT', refused.error);
    return delivery.delivered.find(
      (item) => item.payload.kind === 'push' && item.payload.statementId === id,
    )?.result as PushResult | undefined;
  });
  if (result === undefined) {
    if (values.json === true) printJson({ statementId: id, queued: true });
    else
      printLine(
        `Queued: the push of ${id.slice(0, 16)}… waits in the outbox until the server is reachable ("airlock sync").`,
      );
    return;
  }
  // The checkpoint is the server's signed promise (ARCHITECTURE.md §3): check it names this statement.
  const { serverKey } = await trustedChain(client);
  const { checkpoint } = result.checkpoint;
  if (
    !verifyCheckpoint(result.checkpoint, serverKey) ||
    checkpoint.head !== id ||
    checkpoint.seq !== result.seq
  ) {
    throw new AirlockError(
      'SIGNATURE_INVALID',
      'The server answered the push with a checkpoint that does not verify for this statement.',
    );
  }
  if (values.json === true) {
    printJson(result);
    return;
  }
  printLine(
    `${result.alreadyApplied ? 'Already applied' : 'Applied'}: seq ${result.seq} of ${checkpoint.app}/${checkpoint.channel}, checkpoint ${checkpoint.time} signed by server key ${formatFingerprint(identityKeyId(serverKey))}.`,
  );
}

// ---------------------------------------------------------------------------------------------
// rollback, rollout, pause, resume

/**
 * The release statement for `--to`: a statement id, or a version, looked up among the releases
 * applied on this channel (the server accepts nothing else as a rollback target).
 */
async function rollbackTarget(
  client: ServerClient,
  app: string,
  channel: string,
  to: string,
): Promise<string> {
  const byId = /^[0-9a-f]{64}$/.test(to);
  if (!byId) semver(to, '--to');
  let found: string | null = null;
  let after = 0;
  for (;;) {
    const page = await client.getLogPage(app, channel, { after, limit: 1000 });
    for (const entry of page.entries) {
      const { statement } = entry;
      const matches = byId
        ? entry.id === to
        : statement.kind === 'release' && statement.release.version === to;
      if (statement.kind === 'release' && matches) found = entry.id;
      after = entry.seq;
    }
    if (!page.more || page.entries.length === 0) break;
  }
  if (found === null) {
    throw new AirlockError(
      'NOT_FOUND',
      `No applied release ${byId ? to.slice(0, 16) + '…' : to} is in the log of ${app}/${channel}.`,
    );
  }
  return found;
}

export async function rollbackCommand(argv: string[]): Promise<void> {
  const usage = ROLLBACK_USAGE;
  const { values } = parseCommand(
    argv,
    { ...CHANNEL_OPTIONS, to: { type: 'string' } },
    { min: 0, max: 0, usage },
  );
  const app = required(values.app, '--app', usage);
  const channel = required(values.channel, '--channel', usage);
  const to = required(values.to, '--to', usage).trim().toLowerCase();
  const { client, signer } = await connect(values, usage);
  await withConsole(async (services) => {
    const server = await pinnedServer(services, client.baseUrl);
    const target = await rollbackTarget(client, app, channel, to);
    const status = await channelPosition(services, client, server, app, channel);
    const statement: Statement = {
      ...statementBase(status, signer, values.expires),
      kind: 'rollback',
      target,
    };
    await proposeThroughOutbox(services, server, signer, statement, values.json === true, {
      out: values.out,
    });
  });
}

export async function rolloutCommand(argv: string[]): Promise<void> {
  const usage = ROLLOUT_USAGE;
  const { values } = parseCommand(
    argv,
    {
      ...CHANNEL_OPTIONS,
      percent: { type: 'string' },
      pause: { type: 'boolean' },
      resume: { type: 'boolean' },
    },
    { min: 0, max: 0, usage },
  );
  const app = required(values.app, '--app', usage);
  const channel = required(values.channel, '--channel', usage);
  const chosen = [values.percent !== undefined, values.pause === true, values.resume === true];
  if (chosen.filter(Boolean).length !== 1) {
    throw new UsageError(`give exactly one of --percent, --pause, --resume\nusage: ${usage}`);
  }
  const rollout = values.percent === undefined ? null : percent(values.percent, '--percent');
  const { client, signer } = await connect(values, usage);
  await withConsole(async (services) => {
    const server = await pinnedServer(services, client.baseUrl);
    const status = await channelPosition(services, client, server, app, channel);
    const base = statementBase(status, signer, values.expires);
    const statement: Statement =
      rollout !== null
        ? { ...base, kind: 'rollout', rollout: { percent: rollout } }
        : values.pause === true
          ? { ...base, kind: 'pause' }
          : { ...base, kind: 'resume' };
    await proposeThroughOutbox(services, server, signer, statement, values.json === true, {
      out: values.out,
    });
  });
}
