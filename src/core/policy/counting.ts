import type { ErrorCode } from '../../shared/errors';
import type { Statement, TrustRoot } from '../../shared/schemas';
import { trustedMembers } from '../statement';
import { findPolicy } from './evaluate';

/**
 * Why an approval by `keyId` would not count for `statement` under `root` (ARCHITECTURE.md §3,
 * policy rules), so that every way to approve says so before anyone signs: the CLI warns, the
 * console shows it in the review, and an air-gapped approval refuses it. Null when it counts.
 */
export interface CountingProblem {
  readonly code: Extract<
    ErrorCode,
    'POLICY_NOT_FOUND' | 'KEY_NOT_FOUND' | 'APPROVAL_NOT_COUNTED' | 'APPROVAL_BY_PROPOSER'
  >;
  readonly message: string;
}

/** @example approvalCountingProblem(statement, root, signer.keyId) // null when it counts */
export function approvalCountingProblem(
  statement: Statement,
  root: TrustRoot,
  keyId: string,
): CountingProblem | null {
  const policy = findPolicy(root, statement.app, statement.channel, statement.kind);
  if (policy === null) {
    return {
      code: 'POLICY_NOT_FOUND',
      message: `No policy of trust root version ${root.version} covers ${statement.kind} on ${statement.app}/${statement.channel}.`,
    };
  }
  // A listed key id that is not the hash of its key counts for nobody (trustedMembers).
  const member = trustedMembers(root).get(keyId);
  if (member === undefined) {
    return {
      code: 'KEY_NOT_FOUND',
      message: `This identity key is not a member of trust root version ${root.version}.`,
    };
  }
  if (!policy.roles.some((role) => member.roles.has(role))) {
    return {
      code: 'APPROVAL_NOT_COUNTED',
      message: `Your roles (${[...member.roles].join(', ')}) do not count for ${statement.kind} here, which needs one of: ${policy.roles.join(', ')}.`,
    };
  }
  if (keyId === statement.proposer && !policy.proposerCounts) {
    return {
      code: 'APPROVAL_BY_PROPOSER',
      message:
        "The proposer's own approval does not count for this policy: another person must approve.",
    };
  }
  return null;
}
