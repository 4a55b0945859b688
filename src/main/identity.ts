import { base64ToBytes, ed25519Sign, identityKeyId, publicKeyFromSeed } from '../core/crypto';
import { AirlockError } from '../core/errors';
import type { IdentitySigner } from '../core/statement';
import type { KeyStore } from './keys/key-store';

/**
 * Which identity key signs (ARCHITECTURE.md §8): `--identity <keyId>`, else `AIRLOCK_IDENTITY`, else the only
 * identity key in the keychain; two or more and no choice is an error that lists them.
 *
 * ARCHITECTURE.md §2: a CI pipeline that may only propose may hand its key in `AIRLOCK_IDENTITY_KEY` (base64
 * of the 32-byte seed). That is allowed only where the caller says so (`allowEnvironmentKey`, for
 * proposing), always with a warning, and never for approvals.
 */

/** The environment variable naming the identity key id to use. */
export const IDENTITY_ENV = 'AIRLOCK_IDENTITY';
/** The environment variable holding a CI proposer's seed (base64). */
export const IDENTITY_KEY_ENV = 'AIRLOCK_IDENTITY_KEY';

export interface IdentityChoice {
  /** `--identity` (or `--key`) from the command line. */
  readonly keyId?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
  /** Accept `AIRLOCK_IDENTITY_KEY`: proposals only (ARCHITECTURE.md §2). */
  readonly allowEnvironmentKey?: boolean;
  /** Where the warning about an environment key goes. */
  readonly warn?: (text: string) => void;
}

/** A signer over a seed from the environment; the seed stays in the closure. */
function environmentSigner(encoded: string): IdentitySigner {
  let seed: Uint8Array;
  try {
    seed = base64ToBytes(encoded.trim(), 32);
  } catch (cause) {
    throw new AirlockError(
      'KEY_INVALID',
      `${IDENTITY_KEY_ENV} must be the base64 of a 32-byte Ed25519 seed.`,
      { cause },
    );
  }
  const publicKey = publicKeyFromSeed(seed);
  return Object.freeze({
    keyId: identityKeyId(publicKey),
    get publicKey(): Uint8Array {
      return publicKey.slice();
    },
    sign: (message: Uint8Array): Uint8Array => ed25519Sign(message, seed),
  });
}

function present(value: string | undefined): value is string {
  return value !== undefined && value.trim() !== '';
}

/**
 * The identity to sign with, following the order in the module comment. `store` is called only
 * when the keychain is needed, so a CI proposer with an environment key needs no keychain.
 * Errors: KEY_NOT_FOUND (no identity key), INVALID_ARGUMENT (several and no choice, listed; or an
 * environment key where it is not allowed), and the KeyStore's own errors.
 * @example const signer = await resolveIdentity(() => new KeyStore(createOsKeychain()), { keyId });
 */
export async function resolveIdentity(
  store: () => KeyStore,
  choice: IdentityChoice = {},
): Promise<IdentitySigner> {
  const env = choice.env ?? process.env;
  const chosen = present(choice.keyId) ? choice.keyId : env[IDENTITY_ENV];
  if (present(chosen)) return store().identitySigner(chosen.trim());
  const seed = env[IDENTITY_KEY_ENV];
  if (present(seed)) {
    if (choice.allowEnvironmentKey !== true) {
      // ARCHITECTURE.md §2: approval (and anything but proposing) is never possible with an environment key.
      throw new AirlockError(
        'INVALID_ARGUMENT',
        `${IDENTITY_KEY_ENV} may only be used to propose; choose a keychain key with --identity.`,
      );
    }
    const signer = environmentSigner(seed);
    choice.warn?.(
      `signing with the identity key from ${IDENTITY_KEY_ENV} (${signer.keyId.slice(0, 16)}…), not the keychain`,
    );
    return signer;
  }
  const keys = (await store().list()).filter((key) => key.type === 'identity');
  const [only, ...others] = keys;
  if (only === undefined) {
    throw new AirlockError(
      'KEY_NOT_FOUND',
      'No identity key is in the keychain; create one with: airlock keys create --type identity',
    );
  }
  if (others.length > 0) {
    const list = keys
      .map((key) => `${key.keyId.slice(0, 16)}${key.label === '' ? '' : ` (${key.label})`}`)
      .join(', ');
    throw new AirlockError(
      'INVALID_ARGUMENT',
      `The keychain holds ${keys.length} identity keys (${list}); choose one with --identity or ${IDENTITY_ENV}.`,
    );
  }
  return store().identitySigner(only.keyId);
}

/** The signer for a queued outbox item: the key it was queued with, or the caller's choice for null. */
export type Signers = (keyId: string | null) => Promise<IdentitySigner>;

/**
 * Signers for the outbox, shared by the CLI and the console window: an item queued with a key is
 * signed by that key (an environment key only for the items it proposed, ARCHITECTURE.md §2), an
 * item queued without one by the identity `choice` picks, or by `known` (the signer of the action
 * at hand) when given. Each key is resolved once.
 */
export function outboxSigners(
  store: () => KeyStore,
  choice: IdentityChoice = {},
  known?: IdentitySigner,
): Signers {
  const env = choice.env ?? process.env;
  const cache = new Map<string, Promise<IdentitySigner>>();
  if (known !== undefined) {
    cache.set(known.keyId, Promise.resolve(known));
    cache.set('', Promise.resolve(known));
  }
  const environmentKey = present(env[IDENTITY_KEY_ENV])
    ? environmentSigner(env[IDENTITY_KEY_ENV])
    : null;
  return (keyId) => {
    const cacheKey = keyId ?? '';
    let signer = cache.get(cacheKey);
    if (signer === undefined) {
      signer =
        keyId === null
          ? resolveIdentity(store, { ...choice, allowEnvironmentKey: false })
          : environmentKey !== null && environmentKey.keyId === keyId
            ? Promise.resolve(environmentKey)
            : store().identitySigner(keyId);
      cache.set(cacheKey, signer);
    }
    return signer;
  };
}
