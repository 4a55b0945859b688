import type { Policy, Role, TrustRoot } from '../../shared/schemas';
import { trustedMembers } from '../statement';

/**
 * Whether any set of the root's current members can satisfy a policy (ARCHITECTURE.md §3), so
 * that a policy nobody can meet is refused when it is set, and a statement nobody can approve when
 * it is proposed, instead of after people signed it.
 *
 * The approvers that may count are the members holding one of the policy's roles, less the
 * proposer unless `proposerCounts`. A policy is feasible exactly when they number at least
 * `threshold` and, for each `require[role]`, at least that many of them hold the role: counting all
 * of them is the best any set can do (a larger set only adds to every count).
 */

export type Feasibility =
  | { readonly feasible: true }
  | {
      readonly feasible: false;
      readonly short: { role: Role | null; have: number; need: number };
      readonly message: string;
    };

function roleLabel(role: Role): string {
  return role.replace(/_/g, ' ');
}

/**
 * @example policyFeasibility(root, policy, proposerKeyId) // { feasible: true }
 */
export function policyFeasibility(
  root: TrustRoot,
  policy: Policy,
  proposer: string | null,
): Feasibility {
  const eligible = [...trustedMembers(root).values()].filter(
    (member) =>
      policy.roles.some((role) => member.roles.has(role)) &&
      (policy.proposerCounts || member.keyId !== proposer),
  );
  const excluding = !policy.proposerCounts && proposer !== null ? ', the proposer excluded' : '';
  if (eligible.length < policy.threshold) {
    return {
      feasible: false,
      short: { role: null, have: eligible.length, need: policy.threshold },
      message: `The policy needs ${policy.threshold} approvals from ${policy.roles.map(roleLabel).join(' or ')}, but only ${eligible.length} member${eligible.length === 1 ? '' : 's'} can give one${excluding}.`,
    };
  }
  for (const [role, need] of Object.entries(policy.require ?? {}) as [Role, number][]) {
    const have = eligible.filter((member) => member.roles.has(role)).length;
    if (have < need) {
      return {
        feasible: false,
        short: { role, have, need },
        message: `The policy needs ${need} ${roleLabel(role)} approval${need === 1 ? '' : 's'}, but only ${have} ${roleLabel(role)}${have === 1 ? '' : 's'} can give one${excluding}.`,
      };
    }
  }
  return { feasible: true };
}

/** How a policy fares with each member who may propose under it (any role but auditor). */
export interface ProposerFeasibility {
  /** True when at least one proposer's statement could be approved. */
  readonly feasible: boolean;
  /** For each proposer whose statements nobody could approve, why (a sentence naming them). */
  readonly blocked: readonly { readonly keyId: string; readonly message: string }[];
}

/**
 * Whether a policy set now can be met, by proposer: a policy that no proposer's statement can
 * satisfy is useless (refused when set); one that blocks some proposers (say, a release manager
 * when the proposer does not count) is worth a warning naming them.
 * @example policyFeasibilityByProposer(root, policy).feasible
 */
export function policyFeasibilityByProposer(root: TrustRoot, policy: Policy): ProposerFeasibility {
  const proposers = [...trustedMembers(root).values()].filter((member) =>
    [...member.roles].some((role) => role !== 'auditor'),
  );
  if (proposers.length === 0) {
    const verdict = policyFeasibility(root, policy, null);
    return {
      feasible: verdict.feasible,
      blocked: verdict.feasible ? [] : [{ keyId: '', message: verdict.message }],
    };
  }
  const blocked: { keyId: string; message: string }[] = [];
  for (const proposer of proposers) {
    const verdict = policyFeasibility(root, policy, proposer.keyId);
    if (!verdict.feasible) {
      blocked.push({
        keyId: proposer.keyId,
        message: `${verdict.message.replace(/\.$/, '')} when ${proposer.names[0] ?? proposer.keyId.slice(0, 16)} proposes.`,
      });
    }
  }
  return { feasible: blocked.length < proposers.length, blocked };
}
