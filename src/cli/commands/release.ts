import { readFile } from 'node:fs/promises';
import type { BundleFile } from '../../core/bundle';
import { formatFingerprint } from '../../core/crypto';
import { AirlockError } from '../../core/errors';
import { approvalCountingProblem } from '../../core/policy';
import type { IdentitySigner } from '../../core/statement';
import type { StoredBundle } from '../../main/db/repositories/bundles.repo';
import { outboxSigners, resolveIdentity, type Signers } from '../../main/identity';
import { createOsKeychain } from '../../main/keys/keychain';
import { KeyStore } from '../../main/keys/key-store';
import type { RequestReview } from '../../main/services/airgap';
import type { ProposalBody, ProposeOutcome } from '../../main/services/workflow';
import {
  ApprovalFileSchema,
  ApprovalSchema,
  BundleRefSchema,
  RolloutSchema,
  SemverSchema,
  type Approval,
  type BundleRef,
  type Statement,
  type TrustRoot,
} from '../../shared/schemas';
import { parseCommand, required, UsageError } from '../args';
import { formatBytes, printJson, printLine, warn } from '../io';
import {
  listValues,
  memberName,
  pinFirst,
  withWorkflow,
  parseDuration,
  readJson,
  readText,
  SERVER_OPTIONS,
  statementIdArgument,
  writeJson,
} from './remote';

/**
 * Statements (ARCHITECTURE.md §3) from the command line: propose a release, approve, push, and the
 * statements that change what devices get without a new bundle (rollback, rollout, pause, resume).
 * Each command only parses its flags and prints the outcome: the flow, its trust rules and its
 * refusals are the workflow's (src/main/services/workflow.ts), the same the console window runs.
 */

export const PROPOSE_USAGE =
  'airlock propose --server URL --app A --channel C --version V --bundle bundle.enc [--rollout P] [--min-native V] [--notes T] [--expires 7d] [--out request.json] [--identity KEY] [--json]';
export const APPROVE_USAGE =
  'airlock approve <statementId> --server URL [--key KEY] [--json] | airlock approve <request.json> --out approval.json [--key KEY] [--root-fingerprint FP] [--json]';
export const PUSH_USAGE =
  'airlock push <statementId> --server URL [--approval FILE …] [--identity KEY] [--json]';
export const ROLLBACK_USAGE =
  'airlock rollback --server URL --app A --channel C --to <version | statementId> [--expires 7d] [--out request.json] [--json]';
export const ROLLOUT_USAGE =
  'airlock rollout --server URL --app A --channel C --percent P | --pause | --resume [--expires 7d] [--out request.json] [--json]';

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

function keyStore(): KeyStore {
  return new KeyStore(createOsKeychain());
}

/** The signing identity (ARCHITECTURE.md §8); an environment key only where `allowEnvironmentKey`. */
function identity(keyId: string | undefined, allowEnvironmentKey = false): Promise<IdentitySigner> {
  return resolveIdentity(keyStore, { keyId, allowEnvironmentKey, warn });
}

function signersFor(chosen: string | undefined, known: IdentitySigner): Signers {
  return outboxSigners(keyStore, { keyId: chosen, warn }, known);
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

/** Tells the approver up front when their approval will not count (core/policy counting rules). */
function warnIfNotCounting(statement: Statement, root: TrustRoot, keyId: string): void {
  const problem = approvalCountingProblem(statement, root, keyId);
  if (problem !== null) warn(problem.message);
}

/** Prints a proposal's outcome: its id on stdout, what it still needs on stderr. */
async function reportProposal(
  outcome: ProposeOutcome,
  server: string,
  values: { json?: boolean | undefined; out?: string | undefined },
): Promise<void> {
  for (const warning of outcome.warnings) warn(warning);
  if (outcome.request !== null && values.out !== undefined) {
    await writeJson(values.out, outcome.request);
    process.stderr.write(`Signing request written to ${values.out}\n`);
  }
  const { statement, statementId: id } = outcome;
  if (values.json === true) {
    printJson({
      statementId: id,
      seq: statement.seq,
      state: outcome.state,
      verdict: outcome.verdict,
    });
    return;
  }
  printLine(id);
  if (outcome.state === 'queued') {
    process.stderr.write(
      `Queued ${statement.kind} seq ${statement.seq} of ${statement.app}/${statement.channel}: the server is unreachable; "airlock sync" sends it.\n`,
    );
    return;
  }
  process.stderr.write(
    `Proposed ${statement.kind} seq ${statement.seq} of ${statement.app}/${statement.channel}: ${outcome.verdict?.summary ?? 'no policy verdict'}.\nNext: airlock approve ${id} --server ${server}, then airlock push ${id} --server ${server}\n`,
  );
}

/** The common shape of every proposal command. */
async function proposeCommon(
  values: {
    server?: string | undefined;
    identity?: string | undefined;
    expires?: string | undefined;
    out?: string | undefined;
    json?: boolean | undefined;
  },
  app: string,
  channel: string,
  body: ProposalBody,
  usage: string,
): Promise<void> {
  const url = required(values.server, '--server', usage);
  const lifetimeMs = parseDuration(values.expires ?? DEFAULT_EXPIRY, '--expires');
  // ARCHITECTURE.md §2: a CI proposer may sign with AIRLOCK_IDENTITY_KEY (with a warning).
  const signer = await identity(values.identity, true);
  await withWorkflow(async (workflow, services) => {
    const server = await pinFirst(services, url);
    const outcome = await workflow.propose({
      server,
      app,
      channel,
      signer,
      signers: signersFor(values.identity, signer),
      body,
      lifetimeMs,
      request: values.out !== undefined,
    });
    await reportProposal(outcome, server, values);
  });
}

// ---------------------------------------------------------------------------------------------
// propose

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
    },
    { min: 0, max: 0, usage },
  );
  const app = required(values.app, '--app', usage);
  const channel = required(values.channel, '--channel', usage);
  const version = semver(required(values.version, '--version', usage), '--version');
  const minNative = semver(values['min-native'] ?? DEFAULT_MIN_NATIVE, '--min-native');
  const rollout = percent(values.rollout ?? '100', '--rollout');
  const bundlePath = required(values.bundle, '--bundle', usage);
  const bundle: StoredBundle = {
    path: bundlePath,
    info: await bundleDetails(bundlePath),
    files: await bundleFileListBeside(bundlePath),
  };
  await proposeCommon(
    values,
    app,
    channel,
    {
      kind: 'release',
      version,
      minNativeVersion: minNative,
      ...(values.notes === undefined ? {} : { notes: values.notes }),
      rolloutPercent: rollout,
      bundle,
    },
    usage,
  );
}

// ---------------------------------------------------------------------------------------------
// approve

export async function approveCommand(argv: string[]): Promise<void> {
  const usage = APPROVE_USAGE;
  const { values, positionals } = parseCommand(
    argv,
    {
      ...SERVER_OPTIONS,
      key: { type: 'string' },
      out: { type: 'string' },
      'root-fingerprint': { type: 'string' },
    },
    { min: 1, max: 1, usage },
  );
  const target = positionals[0] as string;
  if (values.out !== undefined || target.endsWith('.json')) {
    await approveRequestFile(target, required(values.out, '--out', usage), values);
    return;
  }
  const id = statementIdArgument(target);
  const url = required(values.server, '--server', usage);
  // ARCHITECTURE.md §2: approval is never possible with an environment key.
  const signer = await identity(values.key ?? values.identity);
  await withWorkflow(async (workflow, services) => {
    const server = await pinFirst(services, url);
    const review = await workflow.reviewOnline({ server, statementId: id, signer });
    if (review.status.state !== 'pending') {
      throw new AirlockError(
        'INVALID_ARGUMENT',
        `Statement ${id.slice(0, 16)}… is ${review.status.state}; there is nothing to approve.`,
      );
    }
    const { root } = review.server;
    process.stderr.write(`Approving ${describeStatement(review.status.statement, root)}\n`);
    warnIfNotCounting(review.status.statement, root, signer.keyId);
    const outcome = await workflow.approveOnline({ server, statementId: id, signer });
    if (values.json === true) {
      printJson({
        statementId: id,
        approval: outcome.approval,
        state: outcome.state,
        verdict: outcome.verdict,
      });
      return;
    }
    printLine(`Approved as ${memberName(root, signer.keyId)}: ${outcome.verdict.summary}.`);
    if (outcome.verdict.satisfied)
      process.stderr.write(`Next: airlock push ${id} --server ${server}\n`);
  });
}

/** What an officer reads before signing a request file: every field shown was verified. */
function reviewLines(review: RequestReview, signer: IdentitySigner | null): string[] {
  const { request, summary, root } = review;
  const lines = [
    `Reviewing ${describeStatement(request.statement, root)}`,
    `  statement ${request.statementId}`,
    `  server ${request.server}`,
    `  trust root ${formatFingerprint(review.rootId)} (version ${root.version}): ${review.rootMessage}`,
    `  policy: ${review.verdict.summary}`,
  ];
  if (summary.version !== undefined) lines.push(`  version ${summary.version}`);
  if (summary.replaces !== undefined) {
    lines.push(
      summary.replaces === null
        ? '  replaces: nothing (no release runs on the channel yet)'
        : `  replaces ${summary.replaces.version} (${summary.replaces.statementId.slice(0, 16)}…), which the channel runs now`,
    );
  }
  if (summary.bundle !== undefined) {
    const { bundle } = summary;
    lines.push(
      `  bundle ${bundle.files} files, ${formatBytes(bundle.size)} (${formatBytes(bundle.encryptedSize)} encrypted)`,
      `  bundle sha256 ${bundle.sha256}`,
      `  encrypted sha256 ${bundle.encryptedSha256}`,
    );
  }
  if (request.statement.kind === 'release')
    lines.push(`  notes: ${summary.notes ?? '(none: the statement has no notes)'}`);
  const diff = summary.fileDiff;
  if (diff !== null && diff !== undefined) {
    lines.push(
      `  files against ${summary.replaces?.version ?? 'the current release'}: +${diff.added.length} added, -${diff.removed.length} removed, ~${diff.changed.length} changed, ${diff.unchanged} unchanged`,
    );
    const SHOWN = 50;
    for (const [mark, paths] of [
      ['+', diff.added],
      ['-', diff.removed],
      ['~', diff.changed],
    ] as const) {
      for (const path of paths.slice(0, SHOWN)) lines.push(`    ${mark} ${path}`);
      if (paths.length > SHOWN) lines.push(`    ${mark} … and ${paths.length - SHOWN} more`);
    }
  }
  if (signer !== null) lines.push(`  signs with ${memberName(root, signer.keyId)}`);
  for (const note of review.notes) lines.push(`  note: ${note}`);
  return lines;
}

/**
 * Air-gapped approval (ARCHITECTURE.md §5): reads a signing request, verifies offline what can be
 * verified, shows the review, signs with the keychain key and writes the approval file. Needs no
 * server and no network; the request's root chain is compared with the one pinned here.
 */
async function approveRequestFile(
  file: string,
  out: string,
  values: {
    key?: string | undefined;
    identity?: string | undefined;
    json?: boolean | undefined;
    'root-fingerprint'?: string | undefined;
  },
): Promise<void> {
  const text = await readText(file);
  await withWorkflow(async (workflow) => {
    const review = workflow.reviewRequest(text);
    // ARCHITECTURE.md §2: approval is never possible with an environment key.
    const signer = await identity(values.key ?? values.identity);
    process.stderr.write(`${reviewLines(review, signer).join('\n')}\n`);
    const fingerprint = values['root-fingerprint'];
    const { file: approval, verdict } = await workflow.approveRequest({
      text,
      signer,
      ...(fingerprint === undefined ? {} : { expectRootId: fingerprint }),
    });
    await writeJson(out, approval);
    if (values.json === true) {
      printJson({ statementId: approval.statementId, approval: approval.approval, out, verdict });
      return;
    }
    printLine(
      `Approval written to ${out} (${verdict.summary}); carry it to the console that proposed the release and run "airlock import ${out}".`,
    );
  });
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
    throw new AirlockError('APPROVAL_FILE_INVALID', `${file} is not an Airlock approval.`);
  if (approval.statement !== id) {
    throw new AirlockError(
      'APPROVAL_FILE_INVALID',
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
  const url = required(values.server, '--server', usage);
  const files = listValues((values as Record<string, string[] | undefined>)['approval']);
  const approvals = await Promise.all(files.map((file) => approvalFromFile(file, id)));
  const signer = await identity(values.identity);
  await withWorkflow(async (workflow, services) => {
    const server = await pinFirst(services, url);
    const outcome = await workflow.push({
      server,
      statementId: id,
      signers: signersFor(values.identity, signer),
      approvals,
    });
    if (outcome.applied === null || outcome.result === null) {
      if (values.json === true) printJson({ statementId: id, queued: true });
      else
        printLine(
          `Queued: the push of ${id.slice(0, 16)}… waits in the outbox until the server is reachable ("airlock sync").`,
        );
      return;
    }
    if (values.json === true) {
      printJson(outcome.result);
      return;
    }
    // Verified with the pinned server key by the workflow (rule 5).
    const { checkpoint } = outcome.result.checkpoint;
    const pinned = services.requireServer(server);
    printLine(
      `${outcome.applied.alreadyApplied ? 'Already applied' : 'Applied'}: seq ${outcome.applied.seq} of ${checkpoint.app}/${checkpoint.channel}, checkpoint ${checkpoint.time} signed by server key ${formatFingerprint(pinned.serverKeyId)}.`,
    );
  });
}

// ---------------------------------------------------------------------------------------------
// rollback, rollout, pause, resume

export async function rollbackCommand(argv: string[]): Promise<void> {
  const usage = ROLLBACK_USAGE;
  const { values } = parseCommand(
    argv,
    { ...CHANNEL_OPTIONS, to: { type: 'string' } },
    { min: 0, max: 0, usage },
  );
  const app = required(values.app, '--app', usage);
  const channel = required(values.channel, '--channel', usage);
  const to = required(values.to, '--to', usage);
  // The target is looked up in the verified mirror, synced first (workflow rule 2).
  await proposeCommon(values, app, channel, { kind: 'rollback', to }, usage);
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
  const body: ProposalBody =
    values.percent !== undefined
      ? { kind: 'rollout', percent: percent(values.percent, '--percent') }
      : values.pause === true
        ? { kind: 'pause' }
        : { kind: 'resume' };
  await proposeCommon(values, app, channel, body, usage);
}
