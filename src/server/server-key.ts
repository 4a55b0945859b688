import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import {
  AirlockError,
  base64ToBytes,
  bytesToBase64,
  bytesToHex,
  ed25519Sign,
  generateIdentityKeyPair,
  identityKeyId,
  publicKeyFromSeed,
  type IdentitySigner,
} from '../core';
import type { ServerKey } from '../shared/schemas/server-api';

/**
 * The server's own Ed25519 key (ARCHITECTURE.md §3 checkpoints, §6 automatic pauses). A server has no
 * desktop keychain, so the seed lives in `server-key.json` with mode 0600, and the server refuses
 * to start when the file is readable by group or others (as ssh does with private keys).
 */

const KeyFileSchema = z.strictObject({
  format: z.literal('airlock-server-key'),
  v: z.literal(1),
  /** TEST-ONLY in fixtures; in a data directory this is the server's private seed. */
  seed: z.string(),
  publicKey: z.string(),
  keyId: z.string(),
});

/** The server key, able to sign synchronously (inside a SQLite transaction). */
export interface ServerSigner extends IdentitySigner {
  readonly info: ServerKey;
  signSync(message: Uint8Array): Uint8Array;
}

function signerFromSeed(seed: Uint8Array): ServerSigner {
  const publicKey = publicKeyFromSeed(seed);
  const keyId = identityKeyId(publicKey);
  const signSync = (message: Uint8Array): Uint8Array => ed25519Sign(message, seed);
  return {
    keyId,
    publicKey,
    info: { keyId, publicKey: bytesToHex(publicKey) },
    signSync,
    sign: signSync,
  };
}

/**
 * Creates `path` with a fresh key, mode 0600; fails if the file exists (flag `wx`).
 * @example const { keyId } = createServerKeyFile(paths.serverKey);
 */
export function createServerKeyFile(path: string): ServerKey {
  const { seed, publicKey } = generateIdentityKeyPair();
  const keyId = identityKeyId(publicKey);
  const file = {
    format: 'airlock-server-key',
    v: 1,
    seed: bytesToBase64(seed),
    publicKey: bytesToHex(publicKey),
    keyId,
  };
  writeFileSync(path, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  seed.fill(0);
  return { keyId, publicKey: file.publicKey };
}

/**
 * Loads the server key. Throws AirlockError SERVER_KEY_UNSAFE when the file is group- or
 * world-accessible, KEY_INVALID when it is malformed or its key id does not match.
 * @example const signer = loadServerKey(paths.serverKey);
 */
export function loadServerKey(path: string): ServerSigner {
  let text: string;
  try {
    if (process.platform !== 'win32' && (statSync(path).mode & 0o077) !== 0) {
      throw new AirlockError(
        'SERVER_KEY_UNSAFE',
        `${path} is readable by other users; run "chmod 600 ${path}" first.`,
      );
    }
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (error instanceof AirlockError) throw error;
    throw new AirlockError('KEY_NOT_FOUND', `Cannot read the server key ${path}.`, {
      cause: error,
    });
  }
  let seed: Uint8Array;
  let listed: string;
  try {
    const file = KeyFileSchema.parse(JSON.parse(text));
    seed = base64ToBytes(file.seed, 32);
    listed = file.keyId;
  } catch (error) {
    throw new AirlockError('KEY_INVALID', `The server key ${path} is malformed.`, { cause: error });
  }
  const signer = signerFromSeed(seed);
  if (signer.keyId !== listed) {
    throw new AirlockError('KEY_INVALID', `The server key ${path} does not match its key id.`);
  }
  return signer;
}
