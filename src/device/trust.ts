import {
  verifyTrustBundle as checkTrustBundle,
  type VerifiedTrust,
} from '../core/log/trust-bundle';
import { refuse } from './refusal';

export type { VerifiedTrust } from '../core/log/trust-bundle';

/**
 * The built-in trust bundle, checked before any network call (checklist B2) by the same function
 * `airlock device trust` checks it with. Throws a TRUST_BUNDLE_INVALID refusal otherwise.
 */
export function verifyTrustBundle(input: unknown, app: string): VerifiedTrust {
  const result = checkTrustBundle(input, app);
  if (!result.ok) refuse('TRUST_BUNDLE_INVALID', result.message);
  return result.trust;
}
