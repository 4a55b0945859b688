import type { Checkpoint, SignedCheckpoint } from '../../shared/schemas/server-api';
import { CheckpointSchema } from '../../shared/schemas/server-api';
import {
  bytesToBase64,
  canonicalize,
  ed25519Verify,
  identityKeyId,
  sha256Hex,
  utf8Bytes,
} from '../crypto';
import { AirlockError } from '../errors';
import { decodeSignature, type IdentitySigner } from '../statement';

/** Domain separation for checkpoints, like statements and roots (ARCHITECTURE.md §3). */
export const CHECKPOINT_PREFIX = 'airlock/checkpoint/v1\n';

/**
 * The bytes the server signs for a checkpoint: UTF-8 of `"airlock/checkpoint/v1\n" + JCS(checkpoint)`.
 * Throws AirlockError INVALID_INPUT for a malformed checkpoint.
 */
export function checkpointSigningBytes(checkpoint: Checkpoint): Uint8Array {
  const parsed = CheckpointSchema.safeParse(checkpoint);
  if (!parsed.success) throw new AirlockError('INVALID_INPUT', 'The checkpoint is malformed.');
  return utf8Bytes(CHECKPOINT_PREFIX + canonicalize(parsed.data));
}

/** Signs `checkpoint` with the server key. */
export async function signCheckpoint(
  checkpoint: Checkpoint,
  signer: IdentitySigner,
): Promise<SignedCheckpoint> {
  const sig = await signer.sign(checkpointSigningBytes(checkpoint));
  return { checkpoint, keyId: signer.keyId, sig: bytesToBase64(sig) };
}

/**
 * True only when `signed` is signed by `serverPublicKey` (key id recomputed, strict RFC 8032
 * verification). Never throws.
 */
export function verifyCheckpoint(signed: SignedCheckpoint, serverPublicKey: Uint8Array): boolean {
  try {
    if (signed.keyId !== identityKeyId(serverPublicKey)) return false;
    const signature = decodeSignature(signed.sig);
    return (
      signature !== null &&
      ed25519Verify(signature, checkpointSigningBytes(signed.checkpoint), serverPublicKey)
    );
  } catch {
    return false;
  }
}

/** Hex SHA-256 of a checkpoint's signed bytes (to compare two checkpoints cheaply). */
export function checkpointId(checkpoint: Checkpoint): string {
  return sha256Hex(checkpointSigningBytes(checkpoint));
}
