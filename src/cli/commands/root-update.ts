import { AirlockError } from '../../core/errors';
import { policyFeasibilityByProposer } from '../../core/policy';
import {
  parseSignedTrustRoot,
  parseTrustRoot,
  rootId,
  signRoot,
  timestamp,
  verifyRootUpdate,
  type IdentitySigner,
} from '../../core/statement';
import type { ServerClient } from '../../main/server-client';
import type {
  Policy,
  RootSignature,
  SignedTrustRoot,
  TrustRoot,
  TrustRootInput,
} from '../../shared/schemas';
import { printJson, printLine } from '../io';
import { readJson, writeJson } from './remote';

/**
 * Publishing a new trust-root version (ARCHITECTURE.md §4): version N+1 needs `rootThreshold` admin
 * signatures of version N and of N+1. With a threshold of 1 the caller signs and submits at once;
 * above 1 the signed root goes to a file that other admins co-sign (`airlock members sign FILE`)
 * and anyone submits (`airlock members submit FILE`).
 */

/** How long a new root version is valid. */
const ROOT_LIFETIME_MS = 365 * 86_400_000;

/** The next version of `current` with `change` applied, a fresh expiry, and defaults filled in. */
export function nextRoot(
  current: TrustRoot,
  change: Partial<Pick<TrustRootInput, 'members' | 'policies' | 'rootThreshold'>>,
  now: Date,
): TrustRoot {
  return parseTrustRoot({
    ...current,
    ...change,
    version: current.version + 1,
    expiresAt: timestamp(new Date(now.getTime() + ROOT_LIFETIME_MS)),
  });
}

function policyLabel(policy: Policy): string {
  return `${policy.kind} ${policy.app}/${policy.channel}`;
}

/** What changes from `current` to `next`, one line each, for the person who signs (stderr). */
export function describeRootChange(current: TrustRoot, next: TrustRoot): string[] {
  const lines: string[] = [];
  const before = new Map(current.members.map((member) => [member.keyId, member]));
  const after = new Map(next.members.map((member) => [member.keyId, member]));
  for (const [keyId, member] of after) {
    const old = before.get(keyId);
    const roles = member.roles.join(',');
    if (old === undefined) lines.push(`+ member ${member.name} ${keyId.slice(0, 16)} (${roles})`);
    else if (old.roles.join(',') !== roles || old.name !== member.name) {
      lines.push(
        `~ member ${member.name} ${keyId.slice(0, 16)} (${old.roles.join(',')} → ${roles})`,
      );
    }
  }
  for (const [keyId, member] of before) {
    if (!after.has(keyId)) lines.push(`- member ${member.name} ${keyId.slice(0, 16)}`);
  }
  const oldPolicies = new Map(current.policies.map((policy) => [policyLabel(policy), policy]));
  for (const policy of next.policies) {
    const old = oldPolicies.get(policyLabel(policy));
    if (old === undefined) lines.push(`+ policy ${describePolicy(policy)}`);
    else if (JSON.stringify(old) !== JSON.stringify(policy)) {
      lines.push(`~ policy ${describePolicy(policy)}`);
    }
    oldPolicies.delete(policyLabel(policy));
  }
  for (const label of oldPolicies.keys()) lines.push(`- policy ${label}`);
  if (current.rootThreshold !== next.rootThreshold) {
    lines.push(`~ root threshold ${current.rootThreshold} → ${next.rootThreshold}`);
  }
  return lines;
}

/** e.g. `release com.example.app/production: 2 of release_manager,signing_officer (≥1 signing_officer)`. */
export function describePolicy(policy: Policy): string {
  const minimums = Object.entries(policy.require ?? {})
    .map(([role, count]) => `≥${count} ${role}`)
    .join(', ');
  return [
    `${policyLabel(policy)}: ${policy.threshold} of ${policy.roles.join(',')}`,
    minimums === '' ? '' : ` (${minimums})`,
    policy.proposerCounts ? ', proposer counts' : '',
  ].join('');
}

/** ARCHITECTURE.md §4: only admins of the current root sign its next version. */
function assertAdmin(ctx: PublishContext): void {
  const member = ctx.current.members.find((candidate) => candidate.keyId === ctx.signer.keyId);
  if (member === undefined || !member.roles.includes('admin')) {
    throw new AirlockError(
      'INVALID_ARGUMENT',
      `Key ${ctx.signer.keyId.slice(0, 16)}… is not an admin of trust root version ${ctx.current.version}; only admins sign trust-root changes.`,
    );
  }
}

/** Adds (or replaces) `signer`'s signature on `signed`. */
async function addSignature(
  signed: SignedTrustRoot,
  signer: IdentitySigner,
): Promise<SignedTrustRoot> {
  const signature: RootSignature = await signRoot(signed.root, signer);
  const others = signed.signatures.filter((existing) => existing.keyId !== signature.keyId);
  return { root: signed.root, signatures: [...others, signature] };
}

interface Progress {
  readonly complete: boolean;
  readonly line: string;
  readonly reasons: readonly string[];
}

/** How far `signed` is from being a valid successor of `current`. */
function progressOf(current: TrustRoot, signed: SignedTrustRoot, now: Date): Progress {
  const verdict = verifyRootUpdate(current, signed, now);
  const needed = Math.max(current.rootThreshold, signed.root.rootThreshold);
  const have = Math.min(verdict.signedByPrevious.length, verdict.signedByNext.length);
  return {
    complete: verdict.valid,
    line: `trust root version ${signed.root.version}: ${have}/${needed} admin signatures`,
    reasons: verdict.reasons,
  };
}

function onlyThresholdReasons(reasons: readonly string[]): boolean {
  return reasons.every((reason) => reason.includes('valid admin signatures'));
}

export interface PublishContext {
  readonly client: ServerClient;
  readonly signer: IdentitySigner;
  readonly current: TrustRoot;
  readonly json: boolean;
  /** `--out FILE`: write the signed root there instead of submitting it. */
  readonly out?: string | undefined;
  readonly serverUrl: string;
}

/**
 * Signs `next` as the caller and submits it when that is enough; otherwise writes it to `--out`
 * for co-signing, or fails saying how to collect the other signatures.
 */
/**
 * Refuses a change that leaves a policy nobody can satisfy (ARCHITECTURE.md §3; core/policy
 * feasible.ts): one it adds or changes, or one that could be met before and no longer can (a
 * member removed, a role taken away). The sentence names the policy and the role that is short,
 * counting the proposer's exclusion. A policy some proposers cannot get approved (a release
 * manager when the proposer does not count), or one already out of reach, is warned of.
 */
export function checkFeasible(
  current: TrustRoot,
  next: TrustRoot,
  warn: (line: string) => void,
): void {
  const before = new Map(current.policies.map((policy) => [policyKey(policy), policy]));
  for (const policy of next.policies) {
    const verdict = policyFeasibilityByProposer(next, policy);
    const first = verdict.blocked[0];
    if (first === undefined) continue;
    const label = `policy ${policyLabel(policy)}`;
    if (verdict.feasible) {
      for (const blocked of verdict.blocked) warn(`${label}: ${blocked.message}`);
      continue;
    }
    const old = before.get(policyKey(policy));
    const unchanged = old !== undefined && JSON.stringify(old) === JSON.stringify(policy);
    if (unchanged && !policyFeasibilityByProposer(current, policy).feasible) {
      warn(`${label}: ${first.message} Add members who can approve, or change the policy.`);
      continue;
    }
    throw new AirlockError(
      'POLICY_NOT_SATISFIED',
      `${label}: ${first.message} Nothing was changed: add the members first, or lower the threshold.`,
    );
  }
}

function policyKey(policy: Policy): string {
  return `${policy.app}\u0000${policy.channel}\u0000${policy.kind}`;
}

export async function publishRoot(ctx: PublishContext, next: TrustRoot, now: Date): Promise<void> {
  assertAdmin(ctx);
  checkFeasible(ctx.current, next, (line) => process.stderr.write(`airlock: warning: ${line}\n`));
  const signed = await addSignature({ root: next, signatures: [] }, ctx.signer);
  const progress = progressOf(ctx.current, signed, now);
  if (ctx.out !== undefined) {
    await writeJson(ctx.out, signed);
    reportFile(ctx, ctx.out, signed, progress);
    return;
  }
  if (!progress.complete) {
    if (onlyThresholdReasons(progress.reasons)) {
      throw new AirlockError(
        'SIGNATURE_INVALID',
        `The change needs more admin signatures (${progress.line}); rerun with --out root.json, have other admins run "airlock members sign root.json --server ${ctx.serverUrl}", then "airlock members submit root.json --server ${ctx.serverUrl}".`,
      );
    }
    throw new AirlockError(
      'SIGNATURE_INVALID',
      `The new trust root would not be valid: ${progress.reasons.join('; ')}.`,
    );
  }
  await submit(ctx, signed);
}

async function submit(ctx: PublishContext, signed: SignedTrustRoot): Promise<void> {
  await ctx.client.submitRoot(signed);
  const id = rootId(signed.root);
  if (ctx.json) printJson({ version: signed.root.version, rootId: id, root: signed.root });
  else printLine(`Trust root version ${signed.root.version} is published (fingerprint ${id}).`);
}

function reportFile(
  ctx: PublishContext,
  file: string,
  signed: SignedTrustRoot,
  progress: Progress,
): void {
  if (ctx.json) {
    printJson({
      file,
      version: signed.root.version,
      rootId: rootId(signed.root),
      signatures: signed.signatures.length,
      complete: progress.complete,
    });
    return;
  }
  printLine(`Wrote ${file}: ${progress.line}.`);
  printLine(
    progress.complete
      ? `Complete: submit it with "airlock members submit ${file} --server ${ctx.serverUrl}".`
      : `Other admins co-sign with "airlock members sign ${file} --server ${ctx.serverUrl}".`,
  );
}

/** Reads a signed root file and checks that it is the next version of `current`. */
async function readRootFile(file: string, current: TrustRoot): Promise<SignedTrustRoot> {
  const signed = parseSignedTrustRoot(await readJson(file));
  if (signed.root.version !== current.version + 1) {
    throw new AirlockError(
      'INVALID_INPUT',
      `${file} holds trust root version ${signed.root.version}, but the server is at version ${current.version}; it must be version ${current.version + 1}.`,
    );
  }
  return signed;
}

/** `members sign FILE`: shows the change, adds the caller's signature, writes the file back. */
export async function coSignRootFile(
  ctx: PublishContext,
  file: string,
  now: Date,
  show: (line: string) => void,
): Promise<void> {
  assertAdmin(ctx);
  const signed = await readRootFile(file, ctx.current);
  for (const line of describeRootChange(ctx.current, signed.root)) show(line);
  const updated = await addSignature(signed, ctx.signer);
  await writeJson(file, updated);
  reportFile(ctx, file, updated, progressOf(ctx.current, updated, now));
}

/** `members submit FILE`: checks the signatures locally, then submits. */
export async function submitRootFile(ctx: PublishContext, file: string, now: Date): Promise<void> {
  const signed = await readRootFile(file, ctx.current);
  const progress = progressOf(ctx.current, signed, now);
  if (!progress.complete) {
    throw new AirlockError(
      'SIGNATURE_INVALID',
      `${file} is not ready: ${progress.reasons.join('; ')}.`,
    );
  }
  await submit(ctx, signed);
}
