import * as ed from '@noble/ed25519';
import { createHash, randomFillSync } from 'node:crypto';
import { AirlockError } from '../errors';
import { hexToBytes } from './encoding';
import { sha256Hex } from './hash';

/**
 * Ed25519 identity keys (DESIGN §2) over @noble/ed25519's synchronous API.
 *
 * Verification is strict RFC 8032 everywhere (DESIGN §3): noble's `zip215: false` branch, which
 * refuses S ≥ L (RFC 8032 §5.1.7 step 1), non-canonical point encodings and small-order public keys,
 * so that the console, the server and any device verifier agree on which signatures are valid.
 */

// noble's synchronous API needs a SHA-512; node:crypto's is the one the rest of core uses.
ed.hashes.sha512 = (message) => new Uint8Array(createHash('sha512').update(message).digest());

const SEED_BYTES = 32;
const PUBLIC_KEY_BYTES = 32;
const SIGNATURE_BYTES = 64;

function assertSeed(seed: Uint8Array): void {
  if (seed.byteLength !== SEED_BYTES) {
    throw new AirlockError('KEY_INVALID', `An Ed25519 seed is ${SEED_BYTES} bytes.`);
  }
}

/**
 * A fresh identity key pair. The 32-byte seed is the private key: keep it in the keychain, never log it.
 * @example const { seed, publicKey } = generateIdentityKeyPair();
 */
export function generateIdentityKeyPair(): { seed: Uint8Array; publicKey: Uint8Array } {
  // randomFillSync into our own array: the seed never sits in Buffer's shared allocation pool.
  const seed = randomFillSync(new Uint8Array(SEED_BYTES));
  return { seed, publicKey: publicKeyFromSeed(seed) };
}

/**
 * The raw 32-byte public key for a 32-byte seed (RFC 8032 §5.1.5). Throws AirlockError KEY_INVALID
 * on a seed of the wrong length.
 * @example const publicKey = publicKeyFromSeed(seed);
 */
export function publicKeyFromSeed(seed: Uint8Array): Uint8Array {
  assertSeed(seed);
  return ed.getPublicKey(seed);
}

/**
 * The deterministic Ed25519 signature of `message` (RFC 8032 §5.1.6). Throws AirlockError
 * KEY_INVALID on a seed of the wrong length.
 * @example const signature = ed25519Sign(statementSigningBytes(statement), seed);
 */
export function ed25519Sign(message: Uint8Array, seed: Uint8Array): Uint8Array {
  assertSeed(seed);
  return ed.sign(message, seed);
}

/**
 * Strict RFC 8032 §5.1.7 verification. Returns false, never throws, for anything that is not a
 * valid signature: wrong lengths, S ≥ L, non-canonical or small-order points, a wrong key.
 * @example if (!ed25519Verify(signature, bytes, publicKey)) return false;
 */
export function ed25519Verify(
  signature: Uint8Array,
  message: Uint8Array,
  publicKey: Uint8Array,
): boolean {
  if (signature.byteLength !== SIGNATURE_BYTES || publicKey.byteLength !== PUBLIC_KEY_BYTES) {
    return false;
  }
  try {
    return ed.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

/**
 * An identity key id: lowercase hex SHA-256 of the raw 32-byte public key (DESIGN §2). Always
 * recompute it from the key; never take a listed id as given. Throws AirlockError KEY_INVALID on a
 * key of the wrong length.
 * @example identityKeyId(publicKey) // '3b6a27bc…'
 */
export function identityKeyId(publicKey: Uint8Array): string {
  if (publicKey.byteLength !== PUBLIC_KEY_BYTES) {
    throw new AirlockError('KEY_INVALID', `An Ed25519 public key is ${PUBLIC_KEY_BYTES} bytes.`);
  }
  return sha256Hex(publicKey);
}

/**
 * The fingerprint shown to people (DESIGN §2): the first 16 hex characters of the key id in
 * groups of four. Throws AirlockError INVALID_INPUT if `keyId` is not 64 lowercase hex characters.
 * @example formatFingerprint('abcd1234ef567890…') // 'abcd 1234 ef56 7890'
 */
export function formatFingerprint(keyId: string): string {
  if (!/^[0-9a-f]{64}$/.test(keyId)) {
    throw new AirlockError('INVALID_INPUT', 'A key id is 64 lowercase hex characters.');
  }
  return keyId.slice(0, 16).replace(/(.{4})(?!$)/g, '$1 ');
}

/**
 * Parses a raw Ed25519 public key from 64 lowercase hex characters and checks that it is a usable
 * point: canonical encoding on the curve (RFC 8032 §5.1.3) and not of small order (a key any
 * signature could match). Throws AirlockError KEY_INVALID otherwise.
 * @example const publicKey = parseIdentityPublicKey(member.publicKey);
 */
export function parseIdentityPublicKey(hex: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = hexToBytes(hex, PUBLIC_KEY_BYTES);
  } catch (cause) {
    throw new AirlockError('KEY_INVALID', 'A public key is 64 lowercase hex characters.', {
      cause,
    });
  }
  let smallOrder: boolean;
  try {
    smallOrder = ed.Point.fromBytes(bytes, false).isSmallOrder();
  } catch (cause) {
    throw new AirlockError('KEY_INVALID', 'The public key is not a point on Ed25519.', { cause });
  }
  if (smallOrder) {
    throw new AirlockError('KEY_INVALID', 'The public key is a small-order point.');
  }
  return bytes;
}
