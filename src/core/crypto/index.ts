/**
 * Platform-neutral crypto (src/core/crypto/backend.ts): what the server, the console and the device
 * guard share. The key-backup file format needs scrypt from node:crypto and is imported by its path.
 */
export { canonicalBytes, canonicalize } from './canonical-json';
export {
  ed25519Sign,
  ed25519Verify,
  formatFingerprint,
  generateIdentityKeyPair,
  identityKeyId,
  identityPublicKeyFromText,
  parseIdentityPublicKey,
  publicKeyFromSeed,
} from './ed25519';
export { base64ToBytes, bytesToBase64, bytesToHex, hexToBytes, utf8Bytes } from './encoding';
export { constantTimeEqual, sha256, sha256Hex } from './hash';
