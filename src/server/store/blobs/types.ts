import type { Readable } from 'node:stream';
import { AirlockError } from '../../../core';

/**
 * Where bundle bytes live (issue 15, item 2): content-addressed blobs named by the lowercase hex
 * SHA-256 of their bytes, behind one interface with a folder and an S3-compatible implementation.
 *
 * The contract (test/integration/server/blob-store.test.ts runs it against both):
 * 1. `put` streams the body to a temporary location, hashing it (SHA-256) as it goes. The blob
 *    becomes visible under its final name only after the hash equals the expected one and the
 *    size stayed within `maxBytes`; otherwise it refuses with `BUNDLE_MISMATCH` or
 *    `PAYLOAD_TOO_LARGE`, nothing becomes visible, and the temporary copy is removed. A crash
 *    mid-upload leaves at most a temporary copy, never a partial blob.
 * 2. Putting bytes that are already stored is not an error: `created: false`. Concurrent puts of
 *    the same bytes all succeed and leave one blob (more than one of them may say `created`).
 * 3. `stat`, `read` and `delete` take an attacker-controlled name (it comes from URLs and
 *    statements): anything but 64 lowercase hex characters is not found (`stat` → null, `read` →
 *    `NOT_FOUND`, `delete` → nothing).
 * 4. A range is inclusive at both ends (as in an HTTP `Range: bytes=start-end` header) and must lie
 *    inside the blob: `0 <= start <= end < size`, else `INVALID_ARGUMENT` (the HTTP layer answers
 *    416 before asking).
 * 5. Failures of the backend itself are `IO_ERROR` with the backend's error as `cause`.
 */
export interface BlobStore {
  /** What the blob names look like to a person (`s3://bucket/prefix`, a folder): for logs. */
  readonly location: string;

  /**
   * Streams `body` in, verifies it, and publishes it under `sha256` (rule 1).
   * @example const { created } = await blobs.put(sha, request.body, 50 * 1024 * 1024);
   */
  put(sha256: string, body: AsyncIterable<Uint8Array>, maxBytes: number): Promise<BlobPutResult>;

  /** The size of the blob, or null when there is none (or the name is not a SHA-256). */
  stat(sha256: string): Promise<{ size: number } | null>;

  /**
   * The blob's bytes, or the inclusive `range` of them. Rejects before any byte is read:
   * `NOT_FOUND` when there is no such blob, `INVALID_ARGUMENT` for a range outside it.
   */
  read(sha256: string, range?: BlobRange): Promise<Readable>;

  /** Removes the blob; removing one that is not there is not an error. */
  delete(sha256: string): Promise<void>;

  /**
   * A URL that serves the blob without credentials for `seconds` seconds, where the backend can
   * sign one (S3 can; a folder cannot, so the folder store has no such method).
   */
  presignedUrl?(sha256: string, seconds: number): Promise<string>;

  /** Releases the backend's connections (S3's client), where it holds any. */
  close?(): void;
}

export interface BlobPutResult {
  /** False when the blob was already stored when this put was verified. */
  readonly created: boolean;
  readonly size: number;
}

/** Bytes `start` to `end`, both included (RFC 9110 §14.1.2 byte ranges). */
export interface BlobRange {
  readonly start: number;
  readonly end: number;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** True for a blob name: 64 lowercase hex characters. Attacker-controlled input (rule 3). */
export function isBlobName(name: string): boolean {
  return SHA256_HEX.test(name);
}

/**
 * Refuses a range that is not one (rule 4): integers with `0 <= start <= end`, and `end < size`
 * when the size is known (a backend that learns it from the answer checks that part itself).
 * @example checkRange({ start: 0, end: 99 }, 100) // passes; { start: 0, end: 100 } throws
 */
export function checkRange(range: BlobRange, size?: number): void {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new AirlockError('INVALID_ARGUMENT', `Not a byte range: ${start}-${end}.`);
  }
  if (size !== undefined && end >= size) throw outsideBlob(range, size);
}

/** The refusal for a range that reaches past the end of a blob (of `size` bytes, when known). */
export function outsideBlob(range: BlobRange, size?: number): AirlockError {
  const length = size === undefined ? '' : ` (${size} bytes)`;
  return new AirlockError(
    'INVALID_ARGUMENT',
    `The range ${range.start}-${range.end} lies outside the blob${length}.`,
  );
}

/** Rule 5: a backend failure, unless it already is one of ours. */
export function backendError(doing: string, error: unknown): AirlockError {
  if (error instanceof AirlockError) return error as AirlockError;
  const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new AirlockError('IO_ERROR', `The bundle store failed while ${doing} (${reason}).`, {
    cause: error,
  });
}
