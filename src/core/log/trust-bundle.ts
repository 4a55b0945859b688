import { TrustBundleSchema, type SignedTrustRoot, type TrustBundle } from '../../shared/schemas';
import { verifyRootSignatures } from '../statement';
import { serverKeyBytes, verifyRootChain } from './verify';

/**
 * The trust bundle an app is built with (ARCHITECTURE.md §11, ARCHITECTURE.md §11): written by
 * `airlock device trust`, checked by the device guard before any network call. One check for both.
 */

/** A trust bundle that passed every check of `verifyTrustBundle`. */
export interface VerifiedTrust {
  readonly bundle: TrustBundle;
  /** The chain as built in, version 1 first. */
  readonly roots: readonly SignedTrustRoot[];
  readonly newest: SignedTrustRoot;
  readonly serverKey: Uint8Array;
}

export type TrustBundleResult = { ok: true; trust: VerifiedTrust } | { ok: false; message: string };

/** True when `signed` carries `rootThreshold` valid signatures of its own admins (checklist B2, R2). */
export function selfSigned(signed: SignedTrustRoot): boolean {
  const valid = verifyRootSignatures(signed.root, signed.signatures, signed.root).valid.length;
  // Checklist R4: a threshold below 1 is never "no signature needed".
  return valid >= Math.max(1, signed.root.rootThreshold);
}

/**
 * Checks a trust bundle (checklist B2): it parses strictly, is for `app`, its chain verifies link by
 * link from version 1 with the fingerprint it names, its newest root is signed by its own
 * threshold, and its server key matches its id. Never throws.
 * @example const result = verifyTrustBundle(JSON.parse(text), 'com.example.app');
 */
export function verifyTrustBundle(input: unknown, app: string): TrustBundleResult {
  if (input === undefined || input === null) {
    return { ok: false, message: 'The app was built without a trust bundle.' };
  }
  const parsed = TrustBundleSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      ok: false,
      message: `The trust bundle is malformed at "${issue?.path.join('.') ?? ''}": ${issue?.message ?? 'invalid'}.`,
    };
  }
  const bundle = parsed.data;
  if (bundle.app !== app) {
    return { ok: false, message: `The trust bundle is for ${bundle.app}, not ${app}.` };
  }
  const chain = verifyRootChain(bundle.roots, bundle.rootFingerprint);
  if (!chain.ok) return { ok: false, message: `The trust bundle's roots: ${chain.message}` };
  const newest = bundle.roots[bundle.roots.length - 1] as SignedTrustRoot;
  if (!selfSigned(newest)) {
    return {
      ok: false,
      message: `The trust bundle's root version ${newest.root.version} is not signed by ${newest.root.rootThreshold} of its own admins.`,
    };
  }
  let serverKey: Uint8Array;
  try {
    serverKey = serverKeyBytes(bundle.serverKey);
  } catch {
    return { ok: false, message: "The trust bundle's server key is invalid." };
  }
  return { ok: true, trust: { bundle, roots: bundle.roots, newest, serverKey } };
}
