import {
  TrustBundleSchema,
  type SignedTrustRoot,
  type TrustBundle,
  type TrustRoot,
} from '../shared/schemas';
import { serverKeyBytes, verifyRootChain } from '../core/log';
import { rootId, verifyRootSignatures } from '../core/statement';
import { refuse } from './refusal';

/** A trust bundle that passed every check of `verifyTrustBundle`. */
export interface VerifiedTrust {
  readonly bundle: TrustBundle;
  /** The chain as built in, version 1 first. */
  readonly roots: readonly SignedTrustRoot[];
  readonly newest: SignedTrustRoot;
  readonly serverKey: Uint8Array;
}

/** True when `signed` carries `rootThreshold` valid signatures of its own admins (checklist B2, R2). */
export function selfSigned(signed: SignedTrustRoot): boolean {
  const valid = verifyRootSignatures(signed.root, signed.signatures, signed.root).valid.length;
  // Checklist R4: a threshold below 1 is never "no signature needed".
  return valid >= Math.max(1, signed.root.rootThreshold);
}

/**
 * Checks the trust bundle built into the app before any network call (checklist B2): it parses
 * strictly, is for `app`, its chain verifies link by link from version 1 with the fingerprint it
 * names, its newest root is signed by its own threshold, and its server key matches its id.
 * Throws a TRUST_BUNDLE_INVALID refusal otherwise.
 */
export function verifyTrustBundle(input: unknown, app: string): VerifiedTrust {
  if (input === undefined || input === null) {
    refuse('TRUST_BUNDLE_INVALID', 'The app was built without a trust bundle.');
  }
  const parsed = TrustBundleSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    refuse(
      'TRUST_BUNDLE_INVALID',
      `The trust bundle is malformed at "${issue?.path.join('.') ?? ''}": ${issue?.message ?? 'invalid'}.`,
    );
  }
  const bundle = parsed.data;
  if (bundle.app !== app) {
    refuse('TRUST_BUNDLE_INVALID', `The trust bundle is for ${bundle.app}, not ${app}.`);
  }
  const chain = verifyRootChain(bundle.roots, bundle.rootFingerprint);
  if (!chain.ok) refuse('TRUST_BUNDLE_INVALID', `The trust bundle's roots: ${chain.message}`);
  const newest = bundle.roots[bundle.roots.length - 1] as SignedTrustRoot;
  if (!selfSigned(newest)) {
    refuse(
      'TRUST_BUNDLE_INVALID',
      `The trust bundle's root version ${newest.root.version} is not signed by ${newest.root.rootThreshold} of its own admins.`,
    );
  }
  let serverKey: Uint8Array;
  try {
    serverKey = serverKeyBytes(bundle.serverKey);
  } catch (error) {
    refuse('TRUST_BUNDLE_INVALID', "The trust bundle's server key is invalid.", error);
  }
  return { bundle, roots: bundle.roots, newest, serverKey };
}

/** The id people compare for a root: the SHA-256 of its signed bytes. */
export function rootFingerprint(root: TrustRoot): string {
  return rootId(root);
}
