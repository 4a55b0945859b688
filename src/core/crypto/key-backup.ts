import {
  constants,
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  privateEncrypt,
  publicDecrypt,
  randomBytes,
  scrypt,
  type KeyObject,
} from 'node:crypto';
import { AirlockError } from '../errors';
import { identityKeyId, publicKeyFromSeed } from './ed25519';
import { base64ToBytes, bytesToBase64, bytesToHex, hexToBytes } from './encoding';
import { constantTimeEqual, sha256Hex } from './hash';
import type { KeyType } from '../../shared/schemas/keys';

/**
 * Encrypted private-key backups (ARCHITECTURE.md §2): the only form in which a private key may leave
 * the OS keychain. scrypt (N >= 2^17) derives an AES-256-GCM key from a passphrase; the envelope is
 * versioned JSON, and every header field is bound to the ciphertext as GCM additional data, so that
 * editing the key id, type, public key, label, date or KDF parameters makes the backup fail to open.
 *
 * Pure: no files, no keychain. Envelopes given to `openKeyBackup` are attacker-controlled input.
 */

/** The value of `format` in every Airlock key backup. */
export const KEY_BACKUP_FORMAT = 'airlock-key-backup';
/** The only envelope version this code writes and reads. */
export const KEY_BACKUP_VERSION = 1;

/** The two kinds of key Airlock keeps (ARCHITECTURE.md §2; src/shared/schemas/keys.ts). */
export type BackupKeyType = KeyType;

/** What a backup holds: the key's public facts and its private part. */
export interface KeyBackupContents {
  readonly type: BackupKeyType;
  /** Lowercase hex SHA-256: of the raw Ed25519 public key, or of the PKCS#1 DER RSA public key. */
  readonly keyId: string;
  readonly label: string;
  /** Identity: 64 hex characters (raw Ed25519 key). Bundle: PKCS#1 PEM (`BEGIN RSA PUBLIC KEY`). */
  readonly publicKey: string;
  /** Identity: 64 hex characters (the 32-byte seed). Bundle: PKCS#1 PEM (`BEGIN RSA PRIVATE KEY`). */
  readonly privateKey: string;
}

/** Input of `sealKeyBackup`: the contents, and optionally when the key was created. */
export interface KeyBackupInput extends KeyBackupContents {
  /** ISO 8601 UTC time the key was created; defaults to now. Restored keys keep it. */
  readonly createdAt?: string;
}

/** What `openKeyBackup` returns: the contents and the key's creation time from the envelope. */
export interface OpenedKeyBackup extends KeyBackupContents {
  readonly createdAt: string;
}

/** The versioned JSON envelope written to a backup file (ARCHITECTURE.md §2). */
export interface KeyBackupEnvelope {
  readonly format: typeof KEY_BACKUP_FORMAT;
  readonly v: typeof KEY_BACKUP_VERSION;
  readonly type: BackupKeyType;
  readonly keyId: string;
  readonly label: string;
  readonly publicKey: string;
  readonly kdf: {
    readonly name: 'scrypt';
    readonly N: number;
    readonly r: number;
    readonly p: number;
    /** base64 */
    readonly salt: string;
  };
  readonly cipher: {
    readonly name: 'aes-256-gcm';
    /** base64 of 12 bytes */
    readonly iv: string;
    /** base64 of 16 bytes */
    readonly tag: string;
  };
  /** base64 */
  readonly ciphertext: string;
  /** ISO 8601 UTC time the key was created. */
  readonly createdAt: string;
}

// ARCHITECTURE.md §2: scrypt with N >= 2^17. We write exactly these parameters and refuse weaker ones.
const SCRYPT_N = 2 ** 17;
const SCRYPT_R = 8;
const SCRYPT_P = 1;
// Upper bounds only stop a hostile file from making us allocate gigabytes or spin for minutes.
const SCRYPT_MAX_N = 2 ** 20;
const SCRYPT_MAX_R = 16;
const SCRYPT_MAX_P = 4;
const SCRYPT_MAX_MEMORY = 1024 * 1024 * 1024;
const SALT_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const MAX_LABEL_CHARS = 200;
const MAX_PUBLIC_KEY_CHARS = 4096;
const MAX_CIPHERTEXT_BYTES = 16 * 1024;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z$/;
const KEY_ID = /^[0-9a-f]{64}$/;
const ENVELOPE_FIELDS = [
  'format',
  'v',
  'type',
  'keyId',
  'label',
  'publicKey',
  'kdf',
  'cipher',
  'ciphertext',
  'createdAt',
] as const;
const KDF_FIELDS = ['name', 'N', 'r', 'p', 'salt'] as const;
const CIPHER_FIELDS = ['name', 'iv', 'tag'] as const;

type Header = Omit<KeyBackupEnvelope, 'ciphertext' | 'cipher'> & {
  readonly cipher: Omit<KeyBackupEnvelope['cipher'], 'tag'>;
};

/**
 * The additional authenticated data: the one function that turns a header into bytes. A JSON array
 * in a fixed order (no object-key ordering to agree on), prefixed by the format and version, and
 * covering every envelope field except `ciphertext` and `cipher.tag`.
 */
function headerAad(header: Header): Buffer {
  return Buffer.from(
    JSON.stringify([
      header.format,
      header.v,
      header.type,
      header.keyId,
      header.label,
      header.publicKey,
      header.createdAt,
      header.kdf.name,
      header.kdf.N,
      header.kdf.r,
      header.kdf.p,
      header.kdf.salt,
      header.cipher.name,
      header.cipher.iv,
    ]),
    'utf8',
  );
}

function deriveKey(
  passphrase: string,
  salt: Uint8Array,
  params: { N: number; r: number; p: number },
): Promise<Buffer> {
  // The same passphrase typed on another OS may arrive in another Unicode normal form.
  const secret = Buffer.from(passphrase.normalize('NFC'), 'utf8');
  const { N, r, p } = params;
  // Node refuses scrypt when 128 * N * r exceeds maxmem (32 MiB by default; N = 2^17, r = 8 needs 128 MiB).
  const maxmem = 128 * N * r + 128 * r * p + 16 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, KEY_BYTES, { N, r, p, maxmem }, (error, key) => {
      secret.fill(0);
      if (error)
        reject(new AirlockError('INTERNAL', 'Key derivation (scrypt) failed.', { cause: error }));
      else resolve(key);
    });
  });
}

function requirePassphrase(passphrase: unknown): asserts passphrase is string {
  if (typeof passphrase !== 'string' || passphrase.length === 0) {
    throw new AirlockError('PASSPHRASE_REQUIRED', 'A passphrase is required for a key backup.');
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(sentence: string, cause?: unknown): AirlockError<'BACKUP_INVALID'> {
  return new AirlockError('BACKUP_INVALID', sentence, cause === undefined ? undefined : { cause });
}

/** Refuses fields we do not know: they would not be covered by the AAD, so they could lie. */
function onlyKnownFields(
  value: Record<string, unknown>,
  allowed: readonly string[],
  where: string,
): void {
  const extra = Object.keys(value).filter((key) => !allowed.includes(key));
  if (extra.length > 0) {
    throw invalid(
      `The key backup is not valid: ${where} has unknown field(s) ${extra.map((k) => JSON.stringify(k)).join(', ')}.`,
    );
  }
}

function stringField(value: Record<string, unknown>, field: string, where = ''): string {
  const found = value[field];
  if (typeof found !== 'string') {
    throw invalid(
      `The key backup is not valid: field "${where}${field}" is missing or not a string.`,
    );
  }
  return found;
}

function integerField(value: Record<string, unknown>, field: string, where: string): number {
  const found = value[field];
  if (typeof found !== 'number' || !Number.isSafeInteger(found)) {
    throw invalid(
      `The key backup is not valid: field "${where}${field}" is missing or not an integer.`,
    );
  }
  return found;
}

function base64Field(text: string, field: string, bytes: { min: number; max: number }): Uint8Array {
  let decoded: Uint8Array;
  try {
    decoded = base64ToBytes(text);
  } catch (error) {
    throw invalid(`The key backup is not valid: field "${field}" is not canonical base64.`, error);
  }
  if (decoded.length < bytes.min || decoded.length > bytes.max) {
    const expected = bytes.min === bytes.max ? `${bytes.min}` : `${bytes.min} to ${bytes.max}`;
    throw invalid(
      `The key backup is not valid: field "${field}" holds ${decoded.length} bytes, expected ${expected}.`,
    );
  }
  return decoded;
}

interface ParsedEnvelope {
  readonly header: Header;
  readonly salt: Uint8Array;
  readonly iv: Uint8Array;
  readonly tag: Uint8Array;
  readonly ciphertext: Uint8Array;
}

/** Strict structural validation of an untrusted envelope; BACKUP_INVALID with a sentence. */
function parseEnvelope(envelope: unknown): ParsedEnvelope {
  if (!isRecord(envelope) || envelope['format'] !== KEY_BACKUP_FORMAT) {
    throw invalid('This is not an Airlock key backup (its "format" is not "airlock-key-backup").');
  }
  if (envelope['v'] !== KEY_BACKUP_VERSION) {
    throw invalid(
      `This key backup has version ${JSON.stringify(envelope['v'] ?? null)}; this Airlock reads version ${KEY_BACKUP_VERSION} only.`,
    );
  }
  onlyKnownFields(envelope, ENVELOPE_FIELDS, 'the envelope');

  const type = stringField(envelope, 'type');
  if (type !== 'identity' && type !== 'bundle') {
    throw invalid(
      `The key backup is not valid: type ${JSON.stringify(type)} is neither "identity" nor "bundle".`,
    );
  }
  const keyId = stringField(envelope, 'keyId');
  if (!KEY_ID.test(keyId)) {
    throw invalid('The key backup is not valid: "keyId" is not 64 lowercase hex characters.');
  }
  const label = stringField(envelope, 'label');
  if (label.length > MAX_LABEL_CHARS) {
    throw invalid(
      `The key backup is not valid: "label" is longer than ${MAX_LABEL_CHARS} characters.`,
    );
  }
  const publicKey = stringField(envelope, 'publicKey');
  const publicKeyShape =
    type === 'identity'
      ? KEY_ID.test(publicKey)
      : publicKey.length <= MAX_PUBLIC_KEY_CHARS &&
        publicKey.startsWith('-----BEGIN RSA PUBLIC KEY-----');
  if (!publicKeyShape) {
    throw invalid(
      type === 'identity'
        ? 'The key backup is not valid: an identity "publicKey" must be 64 lowercase hex characters.'
        : 'The key backup is not valid: a bundle "publicKey" must be a PKCS#1 PEM (BEGIN RSA PUBLIC KEY).',
    );
  }
  const createdAt = stringField(envelope, 'createdAt');
  if (!ISO_UTC.test(createdAt) || Number.isNaN(Date.parse(createdAt))) {
    throw invalid('The key backup is not valid: "createdAt" is not an ISO 8601 UTC time.');
  }

  const kdf = envelope['kdf'];
  if (!isRecord(kdf)) throw invalid('The key backup is not valid: field "kdf" is missing.');
  onlyKnownFields(kdf, KDF_FIELDS, '"kdf"');
  if (kdf['name'] !== 'scrypt') {
    throw invalid('The key backup is not valid: its key derivation is not scrypt.');
  }
  const N = integerField(kdf, 'N', 'kdf.');
  const r = integerField(kdf, 'r', 'kdf.');
  const p = integerField(kdf, 'p', 'kdf.');
  // ARCHITECTURE.md §2: N >= 2^17. A backup whose parameters were lowered is refused, not opened.
  if (N < SCRYPT_N || r < SCRYPT_R || p < SCRYPT_P) {
    throw invalid(
      `The key backup is not valid: its scrypt parameters (N=${N}, r=${r}, p=${p}) are weaker than the minimum N=2^17, r=8, p=1.`,
    );
  }
  if (
    (N & (N - 1)) !== 0 ||
    N > SCRYPT_MAX_N ||
    r > SCRYPT_MAX_R ||
    p > SCRYPT_MAX_P ||
    128 * N * r > SCRYPT_MAX_MEMORY
  ) {
    throw invalid(
      `The key backup is not valid: its scrypt parameters (N=${N}, r=${r}, p=${p}) are out of range (N a power of two up to 2^20, r up to 16, p up to 4).`,
    );
  }
  const saltText = stringField(kdf, 'salt', 'kdf.');
  const salt = base64Field(saltText, 'kdf.salt', { min: 16, max: 64 });

  const cipher = envelope['cipher'];
  if (!isRecord(cipher)) throw invalid('The key backup is not valid: field "cipher" is missing.');
  onlyKnownFields(cipher, CIPHER_FIELDS, '"cipher"');
  if (cipher['name'] !== 'aes-256-gcm') {
    throw invalid('The key backup is not valid: its cipher is not aes-256-gcm.');
  }
  const ivText = stringField(cipher, 'iv', 'cipher.');
  const iv = base64Field(ivText, 'cipher.iv', { min: IV_BYTES, max: IV_BYTES });
  const tag = base64Field(stringField(cipher, 'tag', 'cipher.'), 'cipher.tag', {
    min: TAG_BYTES,
    max: TAG_BYTES,
  });
  const ciphertext = base64Field(stringField(envelope, 'ciphertext'), 'ciphertext', {
    min: 1,
    max: MAX_CIPHERTEXT_BYTES,
  });

  return {
    header: {
      format: KEY_BACKUP_FORMAT,
      v: KEY_BACKUP_VERSION,
      type,
      keyId,
      label,
      publicKey,
      createdAt,
      kdf: { name: 'scrypt', N, r, p, salt: saltText },
      cipher: { name: 'aes-256-gcm', iv: ivText },
    },
    salt,
    iv,
    tag,
    ciphertext,
  };
}

function keyInvalid(sentence: string, cause?: unknown): AirlockError<'KEY_INVALID'> {
  return new AirlockError('KEY_INVALID', sentence, cause === undefined ? undefined : { cause });
}

/** Lowercase hex SHA-256 of the PKCS#1 DER encoding of an RSA public key: a bundle key's keyId. */
export function bundleKeyIdFromPublicKey(publicKey: KeyObject): string {
  return sha256Hex(publicKey.export({ format: 'der', type: 'pkcs1' }));
}

function base64UrlToBigInt(value: string | undefined): bigint {
  return BigInt(`0x${Buffer.from(value ?? '', 'base64url').toString('hex') || '0'}`);
}

/**
 * OpenSSL loads a PKCS#1 key without checking that its numbers belong together, so a damaged file
 * can yield a "key" whose modulus is not p·q. Check n = p·q, then a pairwise test of the one
 * operation Capgo v2 uses (private encrypt, public decrypt).
 */
function isConsistentRsaKey(privateKey: KeyObject, publicKey: KeyObject): boolean {
  try {
    const jwk = privateKey.export({ format: 'jwk' });
    if (base64UrlToBigInt(jwk.n) !== base64UrlToBigInt(jwk.p) * base64UrlToBigInt(jwk.q)) {
      return false;
    }
    const probe = randomBytes(32);
    const sealed = privateEncrypt({ key: privateKey, padding: constants.RSA_PKCS1_PADDING }, probe);
    const opened = publicDecrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, sealed);
    return opened.equals(probe);
  } catch {
    return false;
  }
}

/**
 * Derives the public key (in its stored spelling) and keyId from a private key (ARCHITECTURE.md §2).
 * Identity: `privateKey` is the 32-byte seed as lowercase hex; returns the raw public key as hex.
 * Bundle: `privateKey` is a PKCS#1 RSA PEM of at least 2048 bits; returns the PKCS#1 public PEM.
 * Throws KEY_INVALID (never quoting key bytes) when the private key does not parse.
 * @example derivePublicKey('identity', seedHex) // { publicKey: '3d40…', keyId: '9f86…' }
 */
export function derivePublicKey(
  type: BackupKeyType,
  privateKey: string,
): { publicKey: string; keyId: string } {
  if (type === 'identity') {
    let seed: Uint8Array;
    try {
      seed = hexToBytes(privateKey, 32);
    } catch (error) {
      throw keyInvalid('The identity private key is not a 32-byte seed in lowercase hex.', error);
    }
    const publicKey = publicKeyFromSeed(seed);
    seed.fill(0);
    return { publicKey: bytesToHex(publicKey), keyId: identityKeyId(publicKey) };
  }
  let key: KeyObject;
  try {
    if (!privateKey.trimStart().startsWith('-----BEGIN RSA PRIVATE KEY-----')) {
      throw new Error('not PKCS#1');
    }
    key = createPrivateKey({ key: privateKey, format: 'pem', type: 'pkcs1' });
  } catch (error) {
    throw keyInvalid(
      'The bundle private key is not a PKCS#1 RSA PEM (BEGIN RSA PRIVATE KEY).',
      error,
    );
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (key.asymmetricKeyType !== 'rsa' || bits < 2048) {
    throw keyInvalid(
      `The bundle private key is RSA-${bits}; Airlock needs RSA with at least 2048 bits.`,
    );
  }
  const publicKey = createPublicKey(key);
  if (!isConsistentRsaKey(key, publicKey)) {
    throw keyInvalid('The bundle private key is damaged: its parts do not form one RSA key.');
  }
  return {
    publicKey: publicKey.export({ format: 'pem', type: 'pkcs1' }).toString(),
    keyId: bundleKeyIdFromPublicKey(publicKey),
  };
}

/** Checks that a private key belongs to the stated public key and keyId; KEY_INVALID otherwise. */
function checkKeyPair(contents: KeyBackupContents): void {
  const derived = derivePublicKey(contents.type, contents.privateKey);
  let samePublic: boolean;
  if (contents.type === 'identity') {
    samePublic = derived.publicKey === contents.publicKey;
  } else {
    try {
      const stated = createPublicKey({ key: contents.publicKey, format: 'pem', type: 'pkcs1' });
      samePublic = bundleKeyIdFromPublicKey(stated) === derived.keyId;
    } catch {
      samePublic = false;
    }
  }
  const sameId = constantTimeEqual(Buffer.from(derived.keyId), Buffer.from(contents.keyId));
  if (!samePublic || !sameId) {
    throw keyInvalid(
      `The private key in this backup does not match its ${samePublic ? 'key id' : 'public key'} (${contents.keyId.slice(0, 16)}…).`,
    );
  }
}

/**
 * Encrypts a private key into a versioned backup envelope (ARCHITECTURE.md §2): scrypt N=2^17, r=8,
 * p=1 over the NFC-normalized passphrase, AES-256-GCM with the header as additional data.
 * Checks first that the private key matches `publicKey` and `keyId` (KEY_INVALID otherwise).
 * @example const envelope = await sealKeyBackup({ type: 'identity', keyId, label, publicKey, privateKey }, pass);
 */
export async function sealKeyBackup(
  input: KeyBackupInput,
  passphrase: string,
): Promise<KeyBackupEnvelope> {
  requirePassphrase(passphrase);
  if (input.type !== 'identity' && input.type !== 'bundle') {
    throw new AirlockError('INVALID_INPUT', 'A key backup holds an "identity" or a "bundle" key.');
  }
  if (typeof input.label !== 'string' || input.label.length > MAX_LABEL_CHARS) {
    throw new AirlockError(
      'INVALID_INPUT',
      `A key label is a string of at most ${MAX_LABEL_CHARS} characters.`,
    );
  }
  const createdAt = input.createdAt ?? new Date().toISOString();
  if (!ISO_UTC.test(createdAt) || Number.isNaN(Date.parse(createdAt))) {
    throw new AirlockError('INVALID_INPUT', 'A key creation time must be an ISO 8601 UTC time.');
  }
  checkKeyPair(input);

  const salt = randomBytes(SALT_BYTES);
  const iv = randomBytes(IV_BYTES);
  const header: Header = {
    format: KEY_BACKUP_FORMAT,
    v: KEY_BACKUP_VERSION,
    type: input.type,
    keyId: input.keyId,
    label: input.label,
    publicKey: input.publicKey,
    createdAt,
    kdf: { name: 'scrypt', N: SCRYPT_N, r: SCRYPT_R, p: SCRYPT_P, salt: bytesToBase64(salt) },
    cipher: { name: 'aes-256-gcm', iv: bytesToBase64(iv) },
  };
  const key = await deriveKey(passphrase, salt, { N: SCRYPT_N, r: SCRYPT_R, p: SCRYPT_P });
  const plaintext = Buffer.from(input.privateKey, 'utf8');
  try {
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(headerAad(header));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return {
      format: header.format,
      v: header.v,
      type: header.type,
      keyId: header.keyId,
      label: header.label,
      publicKey: header.publicKey,
      kdf: header.kdf,
      cipher: { ...header.cipher, tag: bytesToBase64(cipher.getAuthTag()) },
      ciphertext: bytesToBase64(ciphertext),
      createdAt: header.createdAt,
    };
  } finally {
    key.fill(0);
    plaintext.fill(0);
  }
}

/**
 * Opens a backup envelope (untrusted input) with its passphrase.
 * - BACKUP_INVALID: not an Airlock backup, an unknown version, a missing or malformed field, or
 *   scrypt parameters weaker than N=2^17, r=8, p=1.
 * - BACKUP_WRONG_PASSPHRASE: GCM authentication failed (wrong passphrase, or any field altered).
 * - KEY_INVALID: the decrypted private key does not match the public key or keyId.
 * @example const { keyId, privateKey } = await openKeyBackup(JSON.parse(text), pass);
 */
export async function openKeyBackup(
  envelope: unknown,
  passphrase: string,
): Promise<OpenedKeyBackup> {
  const parsed = parseEnvelope(envelope);
  requirePassphrase(passphrase);
  const { header } = parsed;
  const { N, r, p } = header.kdf;
  const key = await deriveKey(passphrase, parsed.salt, { N, r, p });
  let plaintext: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, parsed.iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(headerAad(header));
    decipher.setAuthTag(parsed.tag);
    plaintext = Buffer.concat([decipher.update(parsed.ciphertext), decipher.final()]);
  } catch (error) {
    throw new AirlockError(
      'BACKUP_WRONG_PASSPHRASE',
      'The key backup could not be opened: wrong passphrase, or the backup file was altered.',
      { cause: error },
    );
  } finally {
    key.fill(0);
  }
  const privateKey = plaintext.toString('utf8');
  plaintext.fill(0);
  const contents: OpenedKeyBackup = {
    type: header.type,
    keyId: header.keyId,
    label: header.label,
    publicKey: header.publicKey,
    privateKey,
    createdAt: header.createdAt,
  };
  // An authentic envelope sealed around a mismatched key (a bug or a crafted file): refuse it.
  checkKeyPair(contents);
  return contents;
}
