import * as ed from '@noble/ed25519';
import { groupFingerprint } from '../../shared/fingerprint';
import { AirlockError } from '../errors';
import { nodeCrypto, randomBytes, sha512Bytes } from './backend';
import { base64ToBytes, bytesToBase64, bytesToHex, hexToBytes } from './encoding';
import { sha256Hex } from './hash';

/**
 * Ed25519 identity keys (ARCHITECTURE.md §2) over @noble/ed25519's synchronous API.
 *
 * Verification is strict RFC 8032 everywhere (ARCHITECTURE.md §3): noble's `zip215: false` branch, which
 * refuses S ≥ L (RFC 8032 §5.1.7 step 1), non-canonical point encodings and small-order public keys,
 * so that the console, the server and any device verifier agree on which signatures are valid.
 */

// noble's synchronous API needs a SHA-512: the backend's (node:crypto under Node, noble elsewhere).
ed.hashes.sha512 = sha512Bytes;

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
  // A fresh array of our own: the seed never sits in Buffer's shared allocation pool.
  const seed = randomBytes(SEED_BYTES);
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

// ---------------------------------------------------------------------------------------------
// Fast path, under Node only (src/core/crypto/backend.ts). Log verification checks several signatures per statement (ARCHITECTURE.md §9: 1,000 statements
// in ≤ 1 s); node:crypto (OpenSSL) verifies ~13× faster than noble. The two differ on strictness:
// OpenSSL accepts non-canonical and small-order public keys and checks the cofactorless equation
// R = [S]B - [k]A by comparing the canonical encoding of that point with the R bytes (so it refuses
// non-canonical R, as noble does); noble's strict branch refuses non-canonical or small-order A
// and non-canonical R, and checks the cofactored equation [8]([S]B - R - [k]A) = 0. So, for a
// public key that noble's strict decoding accepts and a signature with S < L, whatever OpenSSL
// accepts noble accepts too (a point equal to R is also equal to it times 8). Hence: a fast "yes" is
// final; a fast "no" falls back to noble, which stays the reference (it still says yes to the rare
// signature with a torsion component that only the cofactored equation accepts). The result is
// exactly noble's `zip215: false`, only faster for valid signatures.

/** The group order L = 2^252 + 27742317777372353535851937790883648493, little-endian bytes. */
const ORDER_LE = Uint8Array.from([
  0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
]);

/** RFC 8032 §5.1.7 step 1: S < L, compared as 32-byte little-endian integers. */
function scalarIsCanonical(signature: Uint8Array): boolean {
  for (let index = 31; index >= 0; index -= 1) {
    const s = signature[32 + index] ?? 0;
    const l = ORDER_LE[index] ?? 0;
    if (s !== l) return s < l;
  }
  return false; // S = L
}

// Public keys noble's strict decoding accepts (canonical, not small order), as OpenSSL key objects;
// null for keys only noble may judge. Bounded: cleared when full (keys are few: members, servers).
const FAST_KEYS = new Map<string, unknown>();
const FAST_KEYS_MAX = 4096;

/** RFC 4648 §5 base64url without padding, as JWK wants it (RFC 8037 §2). */
function base64Url(bytes: Uint8Array): string {
  return bytesToBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fastKey(publicKey: Uint8Array): unknown {
  const hex = bytesToHex(publicKey);
  const cached = FAST_KEYS.get(hex);
  if (cached !== undefined) return cached;
  let key: unknown = null;
  try {
    if (!ed.Point.fromBytes(publicKey, false).isSmallOrder()) {
      const x = base64Url(publicKey);
      // Without node:crypto the key is still known valid: `true` marks it for parseIdentityPublicKey.
      key =
        nodeCrypto === null
          ? true
          : nodeCrypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
    }
  } catch {
    key = null;
  }
  if (FAST_KEYS.size >= FAST_KEYS_MAX) FAST_KEYS.clear();
  FAST_KEYS.set(hex, key);
  return key;
}

/** True only when OpenSSL accepts under the preconditions above; false means "ask noble". */
function fastAccepts(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (!scalarIsCanonical(signature)) return false;
  if (nodeCrypto === null) return false;
  const key = fastKey(publicKey);
  if (key === null || key === true) return false;
  try {
    return nodeCrypto.verify(null, message, key, signature);
  } catch {
    return false;
  }
}

/**
 * Strict RFC 8032 §5.1.7 verification. Returns false, never throws, for anything that is not a
 * valid signature: wrong lengths, S ≥ L, non-canonical or small-order points, a wrong key.
 * Semantics are exactly noble's `zip215: false`; valid signatures take node:crypto's fast path.
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
  if (fastAccepts(signature, message, publicKey)) return true;
  try {
    return ed.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

/**
 * An identity key id: lowercase hex SHA-256 of the raw 32-byte public key (ARCHITECTURE.md §2). Always
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
 * The fingerprint shown to people (ARCHITECTURE.md §2): the first 16 hex characters of the key id in
 * groups of four. Throws AirlockError INVALID_INPUT if `keyId` is not 64 lowercase hex characters.
 * @example formatFingerprint('abcd1234ef567890…') // 'abcd 1234 ef56 7890'
 */
export function formatFingerprint(keyId: string): string {
  if (!/^[0-9a-f]{64}$/.test(keyId)) {
    throw new AirlockError('INVALID_INPUT', 'A key id is 64 lowercase hex characters.');
  }
  return groupFingerprint(keyId);
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
  // Keys already known to be valid (members are parsed for every policy evaluation): skip the
  // point decoding, which costs a square root.
  if (fastKey(bytes) !== null) return bytes;
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

/** The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410 §4): the key's 32 bytes follow. */
const ED25519_SPKI_PREFIX = '302a300506032b6570032100';

/**
 * An identity public key as a person hands it over: the 64 hex characters or the SPKI PEM
 * (`BEGIN PUBLIC KEY`, RFC 8410) that `airlock keys export-public` prints. Returns the hex form,
 * checked like parseIdentityPublicKey; throws AirlockError KEY_INVALID naming what was found.
 * @example identityPublicKeyFromText(await readFile('alice.pem', 'utf8'))
 */
export function identityPublicKeyFromText(text: string): string {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) {
    const hex = trimmed.toLowerCase();
    parseIdentityPublicKey(hex);
    return hex;
  }
  const pem = /^-----BEGIN PUBLIC KEY-----\s+([A-Za-z0-9+/=\s]+?)\s*-----END PUBLIC KEY-----$/.exec(
    trimmed,
  );
  if (pem === null) {
    throw new AirlockError(
      'KEY_INVALID',
      'An identity public key is 64 hex characters or a PEM "BEGIN PUBLIC KEY" block, as "airlock keys export-public" prints.',
    );
  }
  const der = bytesToHex(base64ToBytes(pem[1]?.replace(/\s+/g, '') ?? ''));
  if (der.length !== ED25519_SPKI_PREFIX.length + 64 || !der.startsWith(ED25519_SPKI_PREFIX)) {
    throw new AirlockError(
      'KEY_INVALID',
      'The PEM holds a public key that is not an Ed25519 identity key (a bundle key is RSA).',
    );
  }
  const hex = der.slice(ED25519_SPKI_PREFIX.length);
  parseIdentityPublicKey(hex);
  return hex;
}
