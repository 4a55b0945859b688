import {
  TrustBundleSchema,
  type ServerKey,
  type SignedTrustRoot,
  type TrustBundle,
} from '../../shared/schemas';
import { AirlockError } from '../errors';
import { signRoot, verifyRootSignatures, type IdentitySigner } from '../statement';
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

/**
 * The newest root of a chain, signed by its own threshold of admins (checklist B2) so a phone can
 * check it: returned as it is when it already is; otherwise `signer` adds its admin signature.
 * Version 1, which `server init` creates, carries no signatures yet. Throws POLICY_NOT_SATISFIED
 * when no signer is given or more admins must sign, INVALID_ARGUMENT when the signer is no admin.
 */
export async function selfSignedRoot(
  newest: SignedTrustRoot,
  signer: IdentitySigner | undefined,
): Promise<SignedTrustRoot> {
  if (selfSigned(newest)) return newest;
  const { root } = newest;
  if (signer === undefined) {
    throw new AirlockError(
      'POLICY_NOT_SATISFIED',
      `Trust root version ${root.version} carries fewer than ${root.rootThreshold} signatures of its own admins, so a phone could not check it. Sign it as one of its admins (signatures of several admins: once each), or publish a new root version.`,
    );
  }
  const member = root.members.find((candidate) => candidate.keyId === signer.keyId);
  if (member === undefined || !member.roles.includes('admin')) {
    throw new AirlockError(
      'INVALID_ARGUMENT',
      `Key ${signer.keyId.slice(0, 16)}… is not an admin of trust root version ${root.version}.`,
    );
  }
  const signature = await signRoot(root, signer);
  const others = newest.signatures.filter((existing) => existing.keyId !== signature.keyId);
  const signed = { root, signatures: [...others, signature] };
  if (!selfSigned(signed)) {
    throw new AirlockError(
      'POLICY_NOT_SATISFIED',
      `Signed; trust root version ${root.version} still needs ${root.rootThreshold} admin signatures: pass this file's root to the other admins.`,
    );
  }
  return signed;
}

/**
 * The trust bundle for `app` (ARCHITECTURE.md §11) from a verified, pinned chain, checked with the
 * phone's own verifier before anyone builds an app with it. Throws SIGNATURE_INVALID when it
 * would not pass on the phone.
 * @example const bundle = buildTrustBundle({ app, roots, rootFingerprint, serverKey, createdAt: new Date() });
 */
export function buildTrustBundle(input: {
  readonly app: string;
  readonly roots: readonly SignedTrustRoot[];
  readonly rootFingerprint: string;
  readonly serverKey: ServerKey;
  readonly createdAt: Date;
}): TrustBundle {
  const bundle: TrustBundle = {
    format: 'airlock-device-trust/v1',
    app: input.app,
    rootFingerprint: input.rootFingerprint,
    roots: [...input.roots],
    serverKey: input.serverKey,
    createdAt: input.createdAt.toISOString(),
  };
  const checked = verifyTrustBundle(bundle, input.app);
  if (!checked.ok) throw new AirlockError('SIGNATURE_INVALID', checked.message);
  return bundle;
}

/** What a team pastes into its app to use a trust bundle: `capacitor.config` and the guard. */
export interface DeviceSnippets {
  /** The `plugins.CapacitorUpdater` block of `capacitor.config.ts` (manual mode, this server). */
  readonly capacitorConfig: string;
  /** The app code that checks with the guard (the README's "Phones" section). */
  readonly appCode: string;
}

/**
 * The snippets for `capacitor.config` and the app that go with a trust bundle: the plugin in
 * manual mode (`autoUpdate: false`, so only the guard installs) on this server's device
 * endpoints, and `createGuard` with the same server, app and channel.
 */
export function deviceSnippets(input: {
  readonly server: string;
  readonly app: string;
  readonly channel: string;
  readonly trustFile?: string;
}): DeviceSnippets {
  const server = input.server.replace(/\/+$/, '');
  const trustFile = input.trustFile ?? 'trust.json';
  // A TypeScript string literal in single quotes, the house style of the snippet.
  const quote = (text: string): string => `'${text.replace(/[\\']/g, (c) => `\\${c}`)}'`;
  const capacitorConfig = [
    'plugins: {',
    '  CapacitorUpdater: {',
    '    autoUpdate: false, // the device guard decides what installs',
    `    updateUrl: ${quote(`${server}/updates`)},`,
    `    statsUrl: ${quote(`${server}/stats`)},`,
    `    channelUrl: ${quote(`${server}/channel_self`)},`,
    `    defaultChannel: ${quote(input.channel)},`,
    "    publicKey: '<the bundle public key PEM: airlock keys export-public>',",
    '  },',
    '},',
  ].join('\n');
  const appCode = [
    "import { CapacitorUpdater } from '@capgo/capacitor-updater';",
    "import { Preferences } from '@capacitor/preferences';",
    "import { createGuard } from 'airlock/device';",
    `import trust from './${trustFile}';`,
    '',
    'const guard = createGuard({',
    `  server: ${quote(server)},`,
    `  app: ${quote(input.app)},`,
    `  channel: ${quote(input.channel)},`,
    '  trust,',
    '  storage: {',
    '    get: async (key) => (await Preferences.get({ key })).value,',
    '    set: (key, value) => Preferences.set({ key, value }),',
    '  },',
    '  updater: CapacitorUpdater,',
    '});',
    'const result = await guard.check(); // installed | up_to_date | refused, with a stable code',
  ].join('\n');
  return { capacitorConfig, appCode };
}
