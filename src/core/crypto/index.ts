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
export {
  KEY_BACKUP_FORMAT,
  KEY_BACKUP_VERSION,
  openKeyBackup,
  sealKeyBackup,
  type KeyBackupEnvelope,
} from './key-backup';
