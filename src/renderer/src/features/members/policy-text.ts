import type { PolicyView } from '../../../../shared/ipc/contract';
import { roleLabel } from '../../lib/roles';

/**
 * Trust-root approval policies (src/shared/schemas/trust-root.ts) phrased for people, e.g.
 * "releases: 2 approvals from release managers or signing officers, at least 1 signing officer;
 * the proposer cannot approve". Roles by their human labels (lib/roles.ts); the Members screen
 * pairs each label with the `--role` word the CLI takes.
 */

const KIND_ORDER: readonly PolicyView['kind'][] = [
  'release',
  'rollout',
  'rollback',
  'pause',
  'resume',
];

const KIND_NAMES: Record<PolicyView['kind'], string> = {
  release: 'releases',
  rollout: 'rollout changes',
  rollback: 'rollbacks',
  pause: 'pauses',
  resume: 'resumes',
};

/** A role in a sentence: "signing officer", or "signing officers" for `count` > 1. */
function roleName(role: string, count: number): string {
  const name = roleLabel(role).toLowerCase();
  return count === 1 ? name : `${name}s`;
}

/** "a", "a or b", "a, b or c". */
function orList(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} or ${items.at(-1) ?? ''}`;
}

/** "a", "a and b", "a, b and c". */
function andList(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items.at(-1) ?? ''}`;
}

/** What a policy asks for, without its scope and kind. */
export function policyRule(policy: PolicyView): string {
  const approvals = `${policy.threshold} approval${policy.threshold === 1 ? '' : 's'}`;
  const from = `from ${orList(policy.roles.map((role) => roleName(role, 2)))}`;
  const minimums = Object.entries(policy.require)
    .filter((entry): entry is [string, number] => typeof entry[1] === 'number')
    .map(([role, count]) => `at least ${count} ${roleName(role, count)}`);
  const proposer = policy.proposerCounts
    ? "the proposer's own approval counts"
    : 'the proposer cannot approve';
  return `${[`${approvals} ${from}`, ...minimums].join(', ')}; ${proposer}`;
}

/** Where a policy applies: `*` patterns in words, globs as written. */
export function policyScope(policy: Pick<PolicyView, 'app' | 'channel'>): string {
  if (policy.app === '*' && policy.channel === '*') return 'Every app and channel';
  const app = policy.app === '*' ? 'every app' : policy.app;
  const channel = policy.channel === '*' ? 'every channel' : policy.channel;
  return `${app} / ${channel}`;
}

export interface PolicyLine {
  /** Stable key for React lists. */
  readonly key: string;
  /** e.g. `com.example.app / production`. */
  readonly scope: string;
  /** e.g. `releases and rollbacks`, or `every kind of statement`. */
  readonly kinds: string;
  readonly rule: string;
}

/**
 * One line per app/channel pattern and rule, in the root's order of patterns: kinds of statement
 * that share a rule on one pattern are said once (the default root has the same rule for all five).
 */
export function policyLines(policies: readonly PolicyView[]): PolicyLine[] {
  const scopes = new Map<string, Map<string, { rule: string; kinds: PolicyView['kind'][] }>>();
  const scopeNames = new Map<string, string>();
  for (const policy of policies) {
    const scopeKey = `${policy.app}\u0000${policy.channel}`;
    scopeNames.set(scopeKey, policyScope(policy));
    let rules = scopes.get(scopeKey);
    if (rules === undefined) {
      rules = new Map();
      scopes.set(scopeKey, rules);
    }
    const rule = policyRule(policy);
    const entry = rules.get(rule) ?? { rule, kinds: [] };
    entry.kinds.push(policy.kind);
    rules.set(rule, entry);
  }
  const lines: PolicyLine[] = [];
  for (const [scopeKey, rules] of scopes) {
    for (const { rule, kinds } of rules.values()) {
      const sorted = KIND_ORDER.filter((kind) => kinds.includes(kind));
      lines.push({
        key: `${scopeKey}\u0000${sorted.join(',')}`,
        scope: scopeNames.get(scopeKey) ?? '',
        kinds:
          sorted.length === KIND_ORDER.length
            ? 'every kind of statement'
            : andList(sorted.map((kind) => KIND_NAMES[kind])),
        rule,
      });
    }
  }
  return lines;
}
