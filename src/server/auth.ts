import { trustedMembers, verifyRequestSignature, type TrustedMember } from '../core';
import type { Role, TrustRoot } from '../shared/schemas';
import { HttpError, statusOf } from './http/errors';
import type { ServerStore } from './store/types';

/**
 * Admin API authentication (ARCHITECTURE.md §6): an RFC 9421 signature by an identity key that is a member
 * of the current trust root; no passwords, no bearer tokens. Then authorization by role (§4).
 */

/** Who signed a request. */
export interface Principal {
  readonly keyId: string;
  readonly roles: ReadonlySet<Role>;
}

export interface SignedRequestParts {
  readonly method: string;
  /** Absolute target URI: the server's public URL + the request target. */
  readonly url: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly bodySha256: Uint8Array;
}

// Members recomputed from each root once (ids from keys, ARCHITECTURE.md §3), not on every request.
const membersByRoot = new WeakMap<TrustRoot, ReadonlyMap<string, TrustedMember>>();

function membersOf(root: TrustRoot): ReadonlyMap<string, TrustedMember> {
  let members = membersByRoot.get(root);
  if (members === undefined) {
    members = trustedMembers(root);
    membersByRoot.set(root, members);
  }
  return members;
}

/**
 * Verifies the request signature against the current trust root and records its nonce. Throws
 * HttpError 401 (SIGNATURE_MISSING, SIGNATURE_INVALID, SIGNATURE_EXPIRED, CLOCK_SKEW, UNKNOWN_KEY,
 * NONCE_REUSED) or 400 DIGEST_MISMATCH.
 * @example const principal = await authenticate(store, parts, new Date());
 */
export async function authenticate(
  store: ServerStore,
  parts: SignedRequestParts,
  now: Date,
): Promise<Principal> {
  const members = membersOf(store.currentRoot());
  const check = verifyRequestSignature(
    parts,
    (keyId) => members.get(keyId)?.publicKey ?? null,
    { now }, // ARCHITECTURE.md §6: a clock skew beyond 5 minutes is refused (the default).
  );
  if (!check.ok) throw new HttpError(statusOf(check.code), check.code, check.message);
  // RFC 9421 §7.2.2: a nonce seen before is a replay; it is kept until the signature expires.
  if (!(await store.useNonce(check.keyId, check.nonce, check.expires, now))) {
    throw new HttpError(401, 'NONCE_REUSED', 'This request nonce was used before (a replay).');
  }
  const member = members.get(check.keyId) as TrustedMember;
  return { keyId: member.keyId, roles: member.roles };
}

/**
 * Refuses (403 FORBIDDEN) unless the principal holds one of `roles` (ARCHITECTURE.md §4).
 * @example requireRole(principal, ['admin', 'release_manager']);
 */
export function requireRole(principal: Principal, roles: readonly Role[]): void {
  if (roles.some((role) => principal.roles.has(role))) return;
  throw new HttpError(
    403,
    'FORBIDDEN',
    `This needs one of the roles ${roles.join(', ')}; the signing key has ${[...principal.roles].join(', ') || 'none'}.`,
  );
}
