import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import {
  calcKeyId,
  rsaSignerFromPrivateKey,
  type RsaPrivateSigner,
} from '../../core/bundle/capgo-crypto';
import {
  ed25519Sign,
  formatFingerprint,
  generateIdentityKeyPair,
  identityKeyId,
} from '../../core/crypto/ed25519';
import { bytesToHex, hexToBytes } from '../../core/crypto/encoding';
import {
  bundleKeyIdFromPublicKey,
  derivePublicKey,
  openKeyBackup,
  sealKeyBackup,
  type KeyBackupEnvelope,
} from '../../core/crypto/key-backup';
import { AirlockError } from '../../core/errors';
import type { Keychain } from './keychain';
import type { KeyType } from '../../shared/schemas/keys';
import type { IdentitySigner } from '../../core/statement';

/**
 * Airlock's private keys (ARCHITECTURE.md §2). This class is the only place where private key
 * material exists in memory, and no method returns it: callers get public facts (`KeyInfo`),
 * signers that keep the key in a closure, or an encrypted backup.
 *
 * Each key is one keychain entry, account `<type>:<keyId>`, whose secret is the JSON
 * `{ v: 1, type, keyId, label, createdAt, publicKey, privateKey }`; listing needs nothing but the
 * keychain (no file, no database). This file must not import electron.
 */

export type { KeyType } from '../../shared/schemas/keys';

/** The public facts about a key: all that leaves this class (ARCHITECTURE.md §2). */
export interface KeyInfo {
  /** Lowercase hex SHA-256 of the raw Ed25519 public key, or of the PKCS#1 DER RSA public key. */
  readonly keyId: string;
  readonly type: KeyType;
  readonly label: string;
  /** ISO 8601 UTC. */
  readonly createdAt: string;
  /** The first 16 hex characters of keyId in groups of four. */
  readonly fingerprint: string;
  /** Identity: 64 hex characters (raw key). Bundle: PKCS#1 PEM (`BEGIN RSA PUBLIC KEY`). */
  readonly publicKey: string;
  /** Bundle keys only: the key id Capgo's tools show for this public key. */
  readonly capgoKeyId?: string;
}

/**
 * A key's public facts only, as the CLI prints them and the window shows them (ARCHITECTURE.md §2):
 * a copy with exactly these fields, so nothing else a KeyInfo object may carry leaves the process.
 */
export function publicFacts(key: KeyInfo): KeyInfo {
  return {
    keyId: key.keyId,
    type: key.type,
    label: key.label,
    fingerprint: key.fingerprint,
    createdAt: key.createdAt,
    publicKey: key.publicKey,
    ...(key.capgoKeyId === undefined ? {} : { capgoKeyId: key.capgoKeyId }),
  };
}

/** Signs with an identity key that stays inside the KeyStore's closure (one type, src/core). */
export type { IdentitySigner } from '../../core/statement';

interface StoredKey {
  readonly v: 1;
  readonly type: KeyType;
  readonly keyId: string;
  readonly label: string;
  readonly createdAt: string;
  readonly publicKey: string;
  readonly privateKey: string;
}

interface Entry {
  readonly account: string;
  readonly type: KeyType;
  readonly keyId: string;
  readonly secret: string;
}

type Parsed = { ok: true; key: StoredKey } | { ok: false; reason: string };

const ACCOUNT = /^(identity|bundle):([0-9a-f]{64})$/;
const KEY_ID_QUERY = /^[0-9a-f]{8,64}$/;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z$/;
const MAX_LABEL_CHARS = 200;
// ARCHITECTURE.md §2: bundle keys are RSA-2048; iOS devices accept no other size (capgo-crypto).
const BUNDLE_RSA_BITS = 2048;
const STORED_FIELDS = ['v', 'type', 'keyId', 'label', 'createdAt', 'publicKey', 'privateKey'];

function short(keyId: string): string {
  return `${keyId.slice(0, 16)}…`;
}

function accountOf(type: KeyType, keyId: string): string {
  return `${type}:${keyId}`;
}

function checkLabel(label: string | undefined): string {
  if (label === undefined) return '';
  if (
    typeof label !== 'string' ||
    label.length > MAX_LABEL_CHARS ||
    // eslint-disable-next-line no-control-regex -- control characters are exactly what we refuse
    /[\u0000-\u001f\u007f]/.test(label)
  ) {
    throw new AirlockError(
      'INVALID_INPUT',
      `A key label is at most ${MAX_LABEL_CHARS} characters, without control characters.`,
    );
  }
  return label;
}

function checkType(type: unknown): asserts type is KeyType {
  if (type !== 'identity' && type !== 'bundle') {
    throw new AirlockError('INVALID_INPUT', 'A key type is "identity" or "bundle".');
  }
}

/**
 * Parses a keychain secret and checks it against its account. The private key must derive the
 * stated public key and keyId, so a damaged or swapped entry is never used. Reasons never quote
 * the secret.
 */
function parseStored(entry: Entry): Parsed {
  let value: unknown;
  try {
    value = JSON.parse(entry.secret);
  } catch {
    return { ok: false, reason: 'it is not JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, reason: 'it is not a JSON object' };
  }
  const record = value as Record<string, unknown>;
  if (record['v'] !== 1) return { ok: false, reason: 'it has an unknown version' };
  for (const field of STORED_FIELDS.slice(1)) {
    if (typeof record[field] !== 'string') {
      return { ok: false, reason: `field "${field}" is missing` };
    }
  }
  const key = record as unknown as StoredKey;
  if (key.type !== entry.type || key.keyId !== entry.keyId) {
    return { ok: false, reason: 'it does not match its account name' };
  }
  if (!ISO_UTC.test(key.createdAt)) return { ok: false, reason: 'its creation time is not valid' };
  let derived: { publicKey: string; keyId: string };
  try {
    derived = derivePublicKey(key.type, key.privateKey);
  } catch {
    return { ok: false, reason: 'its private key does not parse' };
  }
  if (derived.keyId !== key.keyId || !samePublicKey(key.type, derived.publicKey, key.publicKey)) {
    return { ok: false, reason: 'its private key does not match its public key' };
  }
  return {
    ok: true,
    key: {
      v: 1,
      type: key.type,
      keyId: key.keyId,
      label: key.label,
      createdAt: key.createdAt,
      publicKey: derived.publicKey,
      privateKey: key.privateKey,
    },
  };
}

function samePublicKey(type: KeyType, derived: string, stated: string): boolean {
  if (type === 'identity') return derived === stated;
  try {
    return (
      bundleKeyIdFromPublicKey(createPublicKey({ key: stated, format: 'pem', type: 'pkcs1' })) ===
      bundleKeyIdFromPublicKey(createPublicKey({ key: derived, format: 'pem', type: 'pkcs1' }))
    );
  } catch {
    return false;
  }
}

function toInfo(key: StoredKey): KeyInfo {
  const info = {
    keyId: key.keyId,
    type: key.type,
    label: key.label,
    createdAt: key.createdAt,
    fingerprint: formatFingerprint(key.keyId),
    publicKey: key.publicKey,
  };
  return key.type === 'bundle' ? { ...info, capgoKeyId: calcKeyId(key.publicKey) } : info;
}

/** What a PEM file holds, in words, for the import refusal (ARCHITECTURE.md §8: a Capgo key). */
function describePemLabel(label: string): string {
  switch (label) {
    case 'PRIVATE KEY':
      return 'a PKCS#8 private key (BEGIN PRIVATE KEY); convert it with "openssl rsa -in KEY -traditional -out KEY.pkcs1.pem"';
    case 'ENCRYPTED PRIVATE KEY':
      return 'a passphrase-protected PKCS#8 private key (BEGIN ENCRYPTED PRIVATE KEY)';
    case 'RSA PUBLIC KEY':
    case 'PUBLIC KEY':
      return `a public key (BEGIN ${label}), not a private key`;
    case 'EC PRIVATE KEY':
      return 'an elliptic-curve private key (BEGIN EC PRIVATE KEY), not RSA';
    case 'OPENSSH PRIVATE KEY':
      return 'an OpenSSH private key (BEGIN OPENSSH PRIVATE KEY)';
    case 'CERTIFICATE':
      return 'a certificate (BEGIN CERTIFICATE)';
    default:
      return `a PEM block labelled "${label}"`;
  }
}

function refuseImport(found: string, cause?: unknown): AirlockError<'KEY_INVALID'> {
  return new AirlockError(
    'KEY_INVALID',
    `Airlock imports an RSA-${BUNDLE_RSA_BITS} private key in PKCS#1 PEM (BEGIN RSA PRIVATE KEY), as Capgo's .capgo_key_v2, but found ${found}.`,
    cause === undefined ? undefined : { cause },
  );
}

/** The one PKCS#1 RSA private key block in `text`, normalized; KEY_INVALID saying what was found. */
function parseBundlePrivatePem(text: unknown): KeyObject {
  if (typeof text !== 'string') throw refuseImport('no text');
  // Attacker-controlled file: only the BEGIN labels are looked at, and only [A-Z0-9 ] is echoed.
  const labels = [...text.matchAll(/-----BEGIN ([A-Z0-9 ]{1,40})-----/g)].map((m) => m[1] ?? '');
  if (labels.length === 0) throw refuseImport('no PEM block (no "-----BEGIN" line)');
  if (labels.length > 1) throw refuseImport(`${labels.length} PEM blocks instead of one`);
  const label = labels[0] ?? '';
  if (label !== 'RSA PRIVATE KEY') throw refuseImport(describePemLabel(label));
  const block = /-----BEGIN RSA PRIVATE KEY-----[\s\S]*?-----END RSA PRIVATE KEY-----/.exec(
    text,
  )?.[0];
  if (block === undefined) throw refuseImport('a PKCS#1 block without its END line');
  if (/Proc-Type:\s*4,\s*ENCRYPTED/i.test(block)) {
    throw refuseImport('a passphrase-protected PKCS#1 key (Proc-Type: 4,ENCRYPTED)');
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: block, format: 'pem', type: 'pkcs1' });
  } catch (error) {
    throw refuseImport('a PKCS#1 block that does not parse', error);
  }
  if (key.asymmetricKeyType !== 'rsa')
    throw refuseImport(`a ${key.asymmetricKeyType ?? 'non-RSA'} key`);
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits !== BUNDLE_RSA_BITS) {
    throw refuseImport(
      `an RSA-${bits} key (Capgo devices on iOS accept only RSA-${BUNDLE_RSA_BITS})`,
    );
  }
  return key;
}

function generateRsaKeyPair(): Promise<{ publicKey: KeyObject; privateKey: KeyObject }> {
  // Asynchronous: RSA generation takes a moment and must not freeze the console's main process.
  return new Promise((resolve, reject) => {
    generateKeyPair('rsa', { modulusLength: BUNDLE_RSA_BITS }, (error, publicKey, privateKey) => {
      if (error) {
        reject(new AirlockError('INTERNAL', 'RSA key generation failed.', { cause: error }));
      } else {
        resolve({ publicKey, privateKey });
      }
    });
  });
}

/**
 * The key store over a `Keychain` (ARCHITECTURE.md §2, ARCHITECTURE.md rule 10). Private keys are created here,
 * stored only in the keychain, and never returned: not by any method, not in an error message.
 * @example
 * const store = new KeyStore(createOsKeychain());
 * const { keyId } = await store.create('identity', 'alice');
 * const signer = await store.identitySigner(keyId);
 */
export class KeyStore {
  readonly #keychain: Keychain;

  constructor(keychain: Keychain) {
    this.#keychain = keychain;
  }

  /** Creates a key inside this process and stores it in the keychain. */
  async create(type: KeyType, label?: string): Promise<KeyInfo> {
    checkType(type);
    const checkedLabel = checkLabel(label);
    const createdAt = new Date().toISOString();
    let key: StoredKey;
    if (type === 'identity') {
      const pair = generateIdentityKeyPair();
      const privateKey = bytesToHex(pair.seed);
      pair.seed.fill(0);
      const keyId = identityKeyId(pair.publicKey);
      key = {
        v: 1,
        type,
        keyId,
        label: checkedLabel,
        createdAt,
        publicKey: bytesToHex(pair.publicKey),
        privateKey,
      };
    } else {
      const pair = await generateRsaKeyPair();
      key = {
        v: 1,
        type,
        keyId: bundleKeyIdFromPublicKey(pair.publicKey),
        label: checkedLabel,
        createdAt,
        publicKey: pair.publicKey.export({ format: 'pem', type: 'pkcs1' }).toString(),
        privateKey: pair.privateKey.export({ format: 'pem', type: 'pkcs1' }).toString(),
      };
    }
    await this.#store(key);
    return toInfo(key);
  }

  /** Every usable key, oldest first. Entries that do not parse are skipped, not fatal. */
  async list(): Promise<KeyInfo[]> {
    const keys: KeyInfo[] = [];
    for (const entry of await this.#entries()) {
      const parsed = parseStored(entry);
      if (parsed.ok) keys.push(toInfo(parsed.key));
    }
    return keys.sort(
      (a, b) => a.createdAt.localeCompare(b.createdAt) || a.keyId.localeCompare(b.keyId),
    );
  }

  /**
   * One key by its keyId or a unique prefix of at least 8 hex characters (spaces, as in a
   * fingerprint, are ignored). KEY_NOT_FOUND when none matches; INVALID_INPUT listing the matches
   * when several do; KEY_INVALID when the keychain entry is damaged.
   */
  async get(keyId: string): Promise<KeyInfo> {
    return toInfo(await this.#load(keyId));
  }

  /**
   * A key's public part. Identity: `hex` is the raw 32-byte key, `pem` is SPKI (BEGIN PUBLIC KEY).
   * Bundle: `pem` is PKCS#1 (BEGIN RSA PUBLIC KEY), the form capacitor.config takes; `hex` is the
   * PKCS#1 DER.
   */
  async exportPublic(keyId: string, format: 'pem' | 'hex'): Promise<string> {
    if (format !== 'pem' && format !== 'hex') {
      throw new AirlockError('INVALID_INPUT', 'A public key export format is "pem" or "hex".');
    }
    const key = await this.#load(keyId);
    if (key.type === 'identity') {
      if (format === 'hex') return key.publicKey;
      const x = Buffer.from(key.publicKey, 'hex').toString('base64url');
      return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' })
        .export({ format: 'pem', type: 'spki' })
        .toString();
    }
    const publicKey = createPublicKey({ key: key.publicKey, format: 'pem', type: 'pkcs1' });
    if (format === 'pem') return publicKey.export({ format: 'pem', type: 'pkcs1' }).toString();
    return publicKey.export({ format: 'der', type: 'pkcs1' }).toString('hex');
  }

  /**
   * Imports an existing bundle key: PKCS#1 PEM (BEGIN RSA PRIVATE KEY) of at least 2048 bits, as
   * Capgo's `.capgo_key_v2`. Anything else is KEY_INVALID saying what was found; a key already in
   * the keychain is ALREADY_EXISTS.
   */
  async importBundleKey(pem: string, label?: string): Promise<KeyInfo> {
    const checkedLabel = checkLabel(label);
    const privateKey = parseBundlePrivatePem(pem)
      .export({ format: 'pem', type: 'pkcs1' })
      .toString();
    let derived: { publicKey: string; keyId: string };
    try {
      derived = derivePublicKey('bundle', privateKey);
    } catch (error) {
      throw refuseImport(
        'a PKCS#1 key whose parts do not form one RSA key (a damaged file)',
        error,
      );
    }
    const key: StoredKey = {
      v: 1,
      type: 'bundle',
      keyId: derived.keyId,
      label: checkedLabel,
      createdAt: new Date().toISOString(),
      publicKey: derived.publicKey,
      privateKey,
    };
    await this.#refuseExisting(key);
    await this.#store(key);
    return toInfo(key);
  }

  /** Removes a key (by keyId or unique prefix) from the keychain, damaged entries included. */
  async delete(keyId: string): Promise<void> {
    const entry = await this.#resolve(keyId);
    if (!(await this.#keychain.delete(entry.account))) {
      throw new AirlockError('KEY_NOT_FOUND', `No key ${short(entry.keyId)} is in the keychain.`);
    }
  }

  /** An encrypted backup of a key (ARCHITECTURE.md §2: the only export of a private key). */
  async backup(keyId: string, passphrase: string): Promise<KeyBackupEnvelope> {
    const key = await this.#load(keyId);
    return sealKeyBackup(
      {
        type: key.type,
        keyId: key.keyId,
        label: key.label,
        publicKey: key.publicKey,
        privateKey: key.privateKey,
        createdAt: key.createdAt,
      },
      passphrase,
    );
  }

  /**
   * Puts a backed-up key back into the keychain. ALREADY_EXISTS when the key is there and intact
   * (a damaged entry for the same key is replaced). Errors of `openKeyBackup` pass through.
   */
  async restore(envelope: unknown, passphrase: string): Promise<KeyInfo> {
    const opened = await openKeyBackup(envelope, passphrase);
    const key: StoredKey = {
      v: 1,
      type: opened.type,
      keyId: opened.keyId,
      label: opened.label,
      createdAt: opened.createdAt,
      publicKey: opened.publicKey,
      privateKey: opened.privateKey,
    };
    await this.#refuseExisting(key);
    await this.#store(key);
    return toInfo(key);
  }

  /** Signs with a bundle key for Capgo encryption v2; the RSA KeyObject stays in the closure. */
  async bundleSigner(keyId: string): Promise<RsaPrivateSigner> {
    const key = await this.#load(keyId, 'bundle');
    // The KeyObject lives only in the signer's closure (capgo-crypto's rsaSignerFromPrivateKey).
    return rsaSignerFromPrivateKey(
      createPrivateKey({ key: key.privateKey, format: 'pem', type: 'pkcs1' }),
    );
  }

  /** Signs with an identity key; the seed stays in the closure. */
  async identitySigner(keyId: string): Promise<IdentitySigner> {
    const key = await this.#load(keyId, 'identity');
    const seed = hexToBytes(key.privateKey, 32);
    const publicKey = hexToBytes(key.publicKey, 32);
    return Object.freeze({
      keyId: key.keyId,
      get publicKey(): Uint8Array {
        return publicKey.slice();
      },
      sign(message: Uint8Array): Uint8Array {
        return ed25519Sign(message, seed);
      },
    });
  }

  async #store(key: StoredKey): Promise<void> {
    await this.#keychain.set(accountOf(key.type, key.keyId), JSON.stringify(key));
  }

  async #refuseExisting(key: StoredKey): Promise<void> {
    const account = accountOf(key.type, key.keyId);
    const secret = await this.#keychain.get(account);
    if (secret === null) return;
    if (parseStored({ account, type: key.type, keyId: key.keyId, secret }).ok) {
      throw new AirlockError(
        'ALREADY_EXISTS',
        `The ${key.type} key ${short(key.keyId)} is already in the keychain.`,
      );
    }
  }

  async #entries(): Promise<Entry[]> {
    const entries: Entry[] = [];
    for (const { account, secret } of await this.#keychain.list()) {
      const match = ACCOUNT.exec(account);
      if (match === null) continue; // not one of ours
      entries.push({ account, type: match[1] as KeyType, keyId: match[2] as string, secret });
    }
    return entries;
  }

  /** The keychain entry for a keyId or unique prefix, without parsing it. */
  async #resolve(query: string): Promise<Entry> {
    const prefix = typeof query === 'string' ? query.replace(/\s+/g, '').toLowerCase() : '';
    if (!KEY_ID_QUERY.test(prefix)) {
      throw new AirlockError(
        'INVALID_INPUT',
        'A key id is 64 hex characters, or a unique prefix of at least 8.',
      );
    }
    const matches = (await this.#entries()).filter((entry) => entry.keyId.startsWith(prefix));
    const [first, ...others] = matches;
    if (first === undefined) {
      throw new AirlockError('KEY_NOT_FOUND', `No key with id ${prefix} is in the keychain.`);
    }
    if (others.length > 0) {
      const list = matches.map((entry) => `${entry.type} ${short(entry.keyId)}`).join(', ');
      throw new AirlockError(
        'INVALID_INPUT',
        `The key id ${prefix} matches ${matches.length} keys (${list}); give more characters.`,
      );
    }
    return first;
  }

  /** A parsed, consistent key; KEY_INVALID for a damaged entry, KEY_TYPE_MISMATCH for the wrong kind. */
  async #load(query: string, type?: KeyType): Promise<StoredKey> {
    const entry = await this.#resolve(query);
    const parsed = parseStored(entry);
    if (!parsed.ok) {
      throw new AirlockError(
        'KEY_INVALID',
        `The keychain entry for ${entry.type} key ${short(entry.keyId)} is damaged (${parsed.reason}); delete it, or restore the key from a backup.`,
      );
    }
    if (type !== undefined && parsed.key.type !== type) {
      throw new AirlockError(
        'KEY_TYPE_MISMATCH',
        `Key ${short(entry.keyId)} is ${parsed.key.type === 'identity' ? 'an identity' : 'a bundle'} key; this needs ${type === 'identity' ? 'an identity' : 'a bundle'} key.`,
      );
    }
    return parsed.key;
  }
}
