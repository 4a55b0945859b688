import {
  constants,
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  privateEncrypt,
  publicDecrypt,
  randomBytes,
  timingSafeEqual,
  type Cipher,
  type Decipher,
  type KeyObject,
} from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AirlockError } from '../errors';
import { fileListOf, fileListSha256, type BundleFile } from './file-list';
import { inspectBundleZip, type BundleLimits } from './zip-inspect';
import { checkPluginPathRules, readZipDirectory } from './zip-reader';

/**
 * Capgo "encryption v2", exactly as `@capgo/cli` 8.x produces it and `@capgo/capacitor-updater`
 * 8.51.x consumes it (PROTOCOL.md §7):
 *
 * - AES-128-CBC with PKCS#7 padding over the whole ZIP, random 16-byte key and IV, no header;
 * - `session_key = base64(iv) + ":" + base64(RSA_private_encrypt_pkcs1(aesKey))` (§7 steps 4–7);
 * - V3 `checksum = hex(RSA_private_encrypt_pkcs1(sha256(plaintext zip)))`, 512 hex chars (§7 step 8);
 * - `key_id` = the first 20 characters of the public key's PEM body (§7 step 9).
 *
 * "Private encrypt" is the PKCS#1 v1.5 block type 1 operation, i.e. a signature without DigestInfo;
 * the phone opens both values with the public key (§7 step 10). CBC has no MAC: integrity rests on
 * the signed SHA-256 of the plaintext, which {@link verifyEncryptedBundle} checks like the phone.
 */

const RSA_MODULUS_BITS = 2048;
/** iOS pads RSA results to 256 bytes and Android checks for 256: RSA-2048 only (PROTOCOL.md §7 step 1). */
const RSA_BYTES = RSA_MODULUS_BITS / 8;
const AES_KEY_BYTES = 16;
const IV_BYTES = 16;
const SHA256_BYTES = 32;
const PKCS1_PUBLIC_PEM_HEADER = '-----BEGIN RSA PUBLIC KEY-----';
const STREAM_CHUNK = 1024 * 1024;
const HEX = /^[0-9a-fA-F]+$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * The bundle key's private operation, without the key itself: the key store keeps the KeyObject in
 * a closure and hands out this interface.
 */
export interface RsaPrivateSigner {
  /** PKCS#1 PEM, `-----BEGIN RSA PUBLIC KEY-----`, as it goes into `capacitor.config`. */
  readonly publicKeyPem: string;
  /** RSA with PKCS#1 v1.5 block type 1 padding (Node `privateEncrypt` + `RSA_PKCS1_PADDING`). */
  privateEncrypt(data: Uint8Array): Buffer;
}

export interface EncryptProgress {
  /** Bytes of the ZIP encrypted so far. */
  readonly done: number;
  readonly total: number;
  readonly phase: 'encrypt';
}

export interface EncryptBundleOptions {
  readonly onProgress?: (progress: EncryptProgress) => void;
}

/** What `airlock bundle encrypt --json` prints and a release statement's `bundle` holds (ARCHITECTURE.md §3). */
export interface EncryptedBundleInfo {
  /** Lowercase hex SHA-256 of the plaintext ZIP. */
  readonly sha256: string;
  /** Lowercase hex SHA-256 of the encrypted file, i.e. of what devices download. */
  readonly encryptedSha256: string;
  readonly size: number;
  readonly encryptedSize: number;
  /** Capgo `session_key`: `<iv base64>:<wrapped AES key base64>`. */
  readonly sessionKey: string;
  /** Capgo V3 checksum: 512 hex characters. */
  readonly checksum: string;
  /** Capgo `key_id`. */
  readonly keyId: string;
  /** File entries in the ZIP. */
  readonly files: number;
  /** SHA-256 of the ZIP's file list (file-list.ts `fileListSha256`). */
  readonly fileListSha256: string;
}

export interface DecryptProgress {
  readonly done: number;
  readonly total: number;
  readonly phase: 'decrypt';
}

/** An encrypted bundle that is not a local file (e.g. an object in a bundle store). */
export interface EncryptedSource {
  /** For messages: where the bytes come from. */
  readonly name: string;
  readonly size: number;
  /** The encrypted bytes from the start. */
  open(): Promise<Readable>;
}

export interface VerifyEncryptedBundleInput {
  /** The app's `plugins.CapacitorUpdater.publicKey`. */
  readonly publicKeyPem: string;
  readonly sessionKey: string;
  readonly checksum: string;
  readonly onProgress?: (progress: DecryptProgress) => void;
  /**
   * Also inspect the contents (zip-inspect.ts: limits, honest sizes, no native code), as the
   * server does before a release becomes visible; the phone itself does not.
   */
  readonly inspect?: BundleLimits;
}

export interface VerifiedBundle {
  /** Lowercase hex SHA-256 of the decrypted ZIP. */
  readonly sha256: string;
  readonly size: number;
  readonly files: number;
  /** The decrypted ZIP's file list, and its SHA-256 (file-list.ts). */
  readonly fileList: BundleFile[];
  readonly fileListSha256: string;
  readonly encryptedSha256: string;
  readonly encryptedSize: number;
}

interface StreamDigest {
  readonly inputSha256: Buffer;
  readonly inputSize: number;
  readonly outputSha256: Buffer;
  readonly outputSize: number;
}

function keyInvalid(message: string, cause?: unknown): AirlockError<'KEY_INVALID'> {
  return new AirlockError('KEY_INVALID', message, { cause });
}

function publicKeyInvalid(message: string, cause?: unknown): AirlockError<'PUBLIC_KEY_INVALID'> {
  return new AirlockError('PUBLIC_KEY_INVALID', message, { cause });
}

function isRsa2048(key: KeyObject): boolean {
  return (
    key.asymmetricKeyType === 'rsa' && key.asymmetricKeyDetails?.modulusLength === RSA_MODULUS_BITS
  );
}

function toPrivateKey(key: KeyObject | string): KeyObject {
  let privateKey: KeyObject;
  try {
    privateKey = typeof key === 'string' ? createPrivateKey(key) : key;
  } catch (error) {
    throw keyInvalid('The bundle key is not a readable private key.', error);
  }
  if (privateKey.type !== 'private' || !isRsa2048(privateKey)) {
    throw keyInvalid('A Capgo bundle key must be an RSA-2048 private key (PROTOCOL.md §7).');
  }
  return privateKey;
}

/**
 * A signer over an RSA-2048 private key (PEM in PKCS#1 or PKCS#8, or a KeyObject).
 * @throws AirlockError KEY_INVALID when the key is not an RSA-2048 private key.
 * @example
 *   const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 }); // TEST-ONLY
 *   const signer = rsaSignerFromPrivateKey(privateKey);
 */
export function rsaSignerFromPrivateKey(key: KeyObject | string): RsaPrivateSigner {
  const privateKey = toPrivateKey(key);
  const publicKeyPem = createPublicKey(privateKey).export({ type: 'pkcs1', format: 'pem' });
  return Object.freeze({
    publicKeyPem: publicKeyPem.toString(),
    privateEncrypt: (data: Uint8Array): Buffer =>
      privateEncrypt({ key: privateKey, padding: constants.RSA_PKCS1_PADDING }, data),
  });
}

/**
 * Capgo `key_id`: the PEM body with whitespace removed, first 20 characters (plugin
 * `CryptoCipher.calcKeyId`, CLI `calcKeyId`; PROTOCOL.md §7 step 9).
 * @example calcKeyId(publicKeyPem) // 'MIIBCgKCAQEAqJikYizo'
 */
export function calcKeyId(publicKeyPem: string): string {
  const body = publicKeyPem
    .replace(/\s+/g, '')
    .replaceAll('-----BEGINRSAPUBLICKEY-----', '')
    .replaceAll('-----ENDRSAPUBLICKEY-----', '');
  return body.slice(0, 20);
}

/**
 * Parses an app's public key the way the phone does: Android accepts only a PEM that starts with
 * `-----BEGIN RSA PUBLIC KEY-----` (CryptoCipher.java) and iOS only RSA-2048 (RSA.swift).
 * @throws AirlockError PUBLIC_KEY_INVALID.
 * @example parseCapgoPublicKey(signer.publicKeyPem).asymmetricKeyType // 'rsa'
 */
export function parseCapgoPublicKey(publicKeyPem: string): KeyObject {
  if (!publicKeyPem.startsWith(PKCS1_PUBLIC_PEM_HEADER)) {
    throw publicKeyInvalid(
      `The public key must be a PKCS#1 PEM starting with "${PKCS1_PUBLIC_PEM_HEADER}" (Android accepts nothing else).`,
    );
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: publicKeyPem, format: 'pem', type: 'pkcs1' });
  } catch (error) {
    throw publicKeyInvalid('The public key PEM cannot be parsed.', error);
  }
  if (!isRsa2048(key)) throw publicKeyInvalid('The public key must be RSA-2048 (iOS requires it).');
  return key;
}

function toPublicKey(publicKey: KeyObject | string): KeyObject {
  return typeof publicKey === 'string' ? parseCapgoPublicKey(publicKey) : publicKey;
}

function tryPublicDecrypt(data: Uint8Array, key: KeyObject): Buffer | null {
  try {
    return publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, data);
  } catch {
    return null;
  }
}

/**
 * Opens a value made with {@link RsaPrivateSigner.privateEncrypt}: RSA public decrypt with PKCS#1
 * v1.5 padding (Android JCE `RSA/ECB/PKCS1Padding`, iOS `RSA.swift`).
 * @throws AirlockError DECRYPT_FAILED when the padding does not check out under this key.
 * @example rsaPublicDecrypt(Buffer.from(wrappedHex, 'hex'), publicKeyPem) // 16-byte AES key
 */
export function rsaPublicDecrypt(data: Uint8Array, publicKey: KeyObject | string): Buffer {
  const opened = tryPublicDecrypt(data, toPublicKey(publicKey));
  if (!opened)
    throw new AirlockError('DECRYPT_FAILED', 'The RSA value does not open with this public key.');
  return opened;
}

/** Strict base64: the CLI's own check (regex, then a round trip). */
function decodeBase64(text: string): Buffer | null {
  if (!BASE64.test(text) || text.length % 4 !== 0) return null;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : null;
}

function checksumInvalid(message: string): AirlockError<'CHECKSUM_INVALID'> {
  return new AirlockError('CHECKSUM_INVALID', message);
}

/** Plugin `decryptChecksum`: all-hex input is hex, anything else base64 (legacy V2). */
function decodeChecksum(checksum: string): Buffer {
  if (HEX.test(checksum)) {
    if (checksum.length % 2 !== 0)
      throw checksumInvalid('The checksum has an odd number of hex digits.');
    return Buffer.from(checksum, 'hex');
  }
  const bytes = decodeBase64(checksum);
  if (!bytes) throw checksumInvalid('The checksum is neither hex nor base64.');
  return bytes;
}

/**
 * The phone's `decryptChecksum` (CryptoCipher.java / .swift; PROTOCOL.md §7 step 10): decode,
 * require exactly 256 bytes ("Bundle checksum is not encrypted" otherwise), RSA-open with the public
 * key. Returns the recovered bytes: the 32-byte SHA-256 for a V3 checksum.
 * @throws AirlockError CHECKSUM_INVALID, PUBLIC_KEY_INVALID.
 * @example openChecksum(info.checksum, publicKeyPem).toString('hex') === info.sha256
 */
export function openChecksum(checksum: string, publicKeyPem: KeyObject | string): Buffer {
  const bytes = decodeChecksum(checksum);
  if (bytes.length !== RSA_BYTES) {
    throw checksumInvalid(
      `The checksum is ${bytes.length} bytes, not an RSA-2048 signature (256 bytes).`,
    );
  }
  const opened = tryPublicDecrypt(bytes, toPublicKey(publicKeyPem));
  if (!opened) throw checksumInvalid('The checksum was not signed by this public key.');
  return opened;
}

function sessionKeyInvalid(message: string): AirlockError<'SESSION_KEY_INVALID'> {
  return new AirlockError('SESSION_KEY_INVALID', message);
}

/**
 * The phone's session-key step (CryptoCipher.decryptFile; PROTOCOL.md §7 step 10): split on ":",
 * the IV must be 16 bytes, and the wrapped key must open with the public key to 16 bytes.
 * @throws AirlockError SESSION_KEY_INVALID, PUBLIC_KEY_INVALID.
 * @example const { iv, key } = unwrapSessionKey(info.sessionKey, publicKeyPem);
 */
export function unwrapSessionKey(
  sessionKey: string,
  publicKeyPem: KeyObject | string,
): { iv: Buffer; key: Buffer } {
  const parts = sessionKey.split(':');
  if (parts.length !== 2)
    throw sessionKeyInvalid('The session key must be "<iv base64>:<key base64>".');
  const [ivText = '', wrappedText = ''] = parts;
  const iv = decodeBase64(ivText);
  if (!iv || iv.length !== IV_BYTES)
    throw sessionKeyInvalid('The session key IV must be 16 bytes of base64.');
  const wrapped = decodeBase64(wrappedText);
  if (!wrapped || wrapped.length !== RSA_BYTES) {
    throw sessionKeyInvalid('The wrapped session key must be 256 bytes of base64.');
  }
  const key = tryPublicDecrypt(wrapped, toPublicKey(publicKeyPem));
  if (!key) throw sessionKeyInvalid('The session key was not wrapped by this public key.');
  if (key.length !== AES_KEY_BYTES)
    throw sessionKeyInvalid('The session key does not hold a 16-byte AES key.');
  return { iv, key };
}

/**
 * Streams `source` through `cipher` into `dest` (created, must not exist), hashing both sides.
 * Memory stays flat: one chunk at a time.
 */
async function cipherFile(
  source: string | Readable,
  dest: string,
  cipher: Cipher | Decipher,
  onChunk: (done: number) => void,
): Promise<StreamDigest> {
  const inputHash = createHash('sha256');
  const outputHash = createHash('sha256');
  let inputSize = 0;
  let outputSize = 0;
  function emit(bytes: Buffer): Buffer {
    outputHash.update(bytes);
    outputSize += bytes.length;
    return bytes;
  }
  async function* transform(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of chunks) {
      inputHash.update(chunk);
      inputSize += chunk.length;
      onChunk(inputSize);
      yield emit(cipher.update(chunk));
    }
    let last: Buffer;
    try {
      last = cipher.final();
    } catch (error) {
      // Wrong key or IV, truncated or altered ciphertext: the PKCS#7 padding does not check out.
      throw new AirlockError('DECRYPT_FAILED', 'The bundle does not decrypt: bad padding.', {
        cause: error,
      });
    }
    yield emit(last);
  }
  await pipeline(
    typeof source === 'string' ? createReadStream(source, { highWaterMark: STREAM_CHUNK }) : source,
    transform,
    createWriteStream(dest, { flags: 'wx' }),
  );
  return {
    inputSha256: inputHash.digest(),
    inputSize,
    outputSha256: outputHash.digest(),
    outputSize,
  };
}

function asIoError(error: unknown, path: string): unknown {
  if (error instanceof AirlockError) return error;
  return new AirlockError('IO_ERROR', `Cannot process ${path}: ${(error as Error).message}`, {
    cause: error,
  });
}

/** Refuses a signer whose private operation does not match its public key. */
function checkSignerMatches(
  signer: RsaPrivateSigner,
  publicKey: KeyObject,
  sha256: Buffer,
  checksum: Buffer,
): void {
  const opened = tryPublicDecrypt(checksum, publicKey);
  if (!opened || opened.length !== SHA256_BYTES || !timingSafeEqual(opened, sha256)) {
    throw keyInvalid(
      `The bundle key ${calcKeyId(signer.publicKeyPem)} does not match its public key.`,
    );
  }
}

/**
 * Encrypts a bundle ZIP for Capgo devices (`airlock bundle encrypt`; PROTOCOL.md §7). Checks the
 * ZIP first (plugin path rules, §3.3), streams AES-128-CBC over it into `outPath + '.tmp-…'` while
 * hashing plaintext and ciphertext, signs, then renames to `outPath`.
 *
 * @throws AirlockError ZIP_INVALID / BUNDLE_* for a ZIP phones would refuse, PUBLIC_KEY_INVALID or
 *   KEY_INVALID for a bad signer, IO_ERROR.
 * @example
 *   const info = await encryptBundle('bundle.zip', 'bundle.enc', signer);
 *   // info.sessionKey and info.checksum go into the release statement
 */
export async function encryptBundle(
  zipPath: string,
  outPath: string,
  signer: RsaPrivateSigner,
  options: EncryptBundleOptions = {},
): Promise<EncryptedBundleInfo> {
  const publicKey = parseCapgoPublicKey(signer.publicKeyPem);
  const directory = await readZipDirectory(zipPath);
  const { files } = checkPluginPathRules(directory.entries);
  const key = randomBytes(AES_KEY_BYTES);
  const iv = randomBytes(IV_BYTES);
  const temp = `${outPath}.tmp-${randomBytes(6).toString('hex')}`;
  const total = directory.size;
  try {
    const cipher = createCipheriv('aes-128-cbc', key, iv);
    const digest = await cipherFile(zipPath, temp, cipher, (done) =>
      options.onProgress?.({ done, total, phase: 'encrypt' }),
    ).catch((error: unknown) => {
      throw asIoError(error, zipPath);
    });
    if (digest.inputSize !== total) {
      throw new AirlockError('IO_ERROR', `${zipPath} changed while it was being encrypted.`);
    }
    const signature = signer.privateEncrypt(digest.inputSha256);
    checkSignerMatches(signer, publicKey, digest.inputSha256, signature);
    const checksum = signature.toString('hex');
    const sessionKey = `${iv.toString('base64')}:${signer.privateEncrypt(key).toString('base64')}`;
    await rename(temp, outPath).catch((error: unknown) => {
      throw asIoError(error, outPath);
    });
    return {
      sha256: digest.inputSha256.toString('hex'),
      encryptedSha256: digest.outputSha256.toString('hex'),
      size: digest.inputSize,
      encryptedSize: digest.outputSize,
      sessionKey,
      checksum,
      keyId: calcKeyId(signer.publicKeyPem),
      files,
      fileListSha256: fileListSha256(fileListOf(directory.entries)),
    };
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  } finally {
    key.fill(0);
  }
}

async function decryptToTemp(
  encrypted: string | EncryptedSource,
  zipPath: string,
  iv: Buffer,
  key: Buffer,
  onProgress: VerifyEncryptedBundleInput['onProgress'],
): Promise<StreamDigest> {
  const decipher = createDecipheriv('aes-128-cbc', key, iv);
  const name = typeof encrypted === 'string' ? encrypted : encrypted.name;
  const digest = await (async () => {
    const total = typeof encrypted === 'string' ? (await stat(encrypted)).size : encrypted.size;
    const source = typeof encrypted === 'string' ? encrypted : await encrypted.open();
    return cipherFile(source, zipPath, decipher, (done) =>
      onProgress?.({ done, total, phase: 'decrypt' }),
    );
  })().catch((error: unknown) => {
    throw asIoError(error, name);
  });
  // CryptoCipher.decryptAesFile: "Empty encrypted data" / "Empty decrypted data".
  if (digest.inputSize === 0 || digest.outputSize === 0) {
    throw new AirlockError('DECRYPT_FAILED', 'The bundle is empty once decrypted.');
  }
  return digest;
}

/**
 * Checks an encrypted bundle with the phone's own steps (PROTOCOL.md §3.3 and §7 step 10):
 * parse the public key (PKCS#1 PEM, RSA-2048), unwrap the session key, stream-decrypt to a scratch
 * file in the OS temp folder (removed afterwards) hashing the plaintext, open the V3 checksum and
 * compare it in constant time, then read the ZIP's central directory and apply the plugin's path
 * rules. Stops at the first failure.
 *
 * @throws AirlockError PUBLIC_KEY_INVALID, SESSION_KEY_INVALID, DECRYPT_FAILED, CHECKSUM_INVALID,
 *   CHECKSUM_MISMATCH, ZIP_INVALID, BUNDLE_PATH_REJECTED, BUNDLE_SPECIAL_FILE, BUNDLE_EMPTY,
 *   BUNDLE_NO_INDEX, IO_ERROR.
 * @example
 *   const { sha256, files } = await verifyEncryptedBundle('bundle.enc', {
 *     publicKeyPem, sessionKey: info.sessionKey, checksum: info.checksum,
 *   });
 */
export async function verifyEncryptedBundle(
  encPath: string | EncryptedSource,
  input: VerifyEncryptedBundleInput,
): Promise<VerifiedBundle> {
  const publicKey = parseCapgoPublicKey(input.publicKeyPem);
  const { iv, key } = unwrapSessionKey(input.sessionKey, publicKey);
  const scratch = await mkdtemp(join(tmpdir(), 'airlock-verify-'));
  try {
    const zipPath = join(scratch, 'bundle.zip');
    const digest = await decryptToTemp(encPath, zipPath, iv, key, input.onProgress);
    const expected = openChecksum(input.checksum, publicKey);
    if (expected.length !== SHA256_BYTES || !timingSafeEqual(expected, digest.outputSha256)) {
      // The phone: sha256(decrypted zip) != decrypted checksum → "checksum_fail".
      throw new AirlockError(
        'CHECKSUM_MISMATCH',
        'The decrypted bundle does not match its signed checksum.',
      );
    }
    const directory = await readZipDirectory(zipPath);
    const { files } = checkPluginPathRules(directory.entries);
    if (input.inspect !== undefined) await inspectBundleZip(zipPath, directory, input.inspect);
    const fileList = fileListOf(directory.entries);
    return {
      sha256: digest.outputSha256.toString('hex'),
      size: digest.outputSize,
      files,
      fileList,
      fileListSha256: fileListSha256(fileList),
      encryptedSha256: digest.inputSha256.toString('hex'),
      encryptedSize: digest.inputSize,
    };
  } finally {
    key.fill(0);
    await rm(scratch, { recursive: true, force: true });
  }
}
