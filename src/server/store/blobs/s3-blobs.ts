import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { AirlockError } from '../../../core';
import {
  backendError,
  checkRange,
  isBlobName,
  outsideBlob,
  type BlobPutResult,
  type BlobRange,
  type BlobStore,
} from './types';

/**
 * Bundles in any S3-compatible object store (AWS S3, MinIO, Ceph RGW, R2…) through the official
 * AWS SDK v3, under `<prefix>/<aa>/<sha256>`.
 *
 * A put (BlobStore rule 1):
 * 1. streams the body to a temporary key `<prefix>/tmp/<random>.part` through lib-storage's
 *    `Upload` (multipart in 5 MiB parts above that size, one PutObject below), counting and hashing
 *    every byte on the way;
 * 2. refuses past `maxBytes`, or at the end of the body when the SHA-256 differs, by failing the
 *    body itself: lib-storage then never sends the last part nor completes the upload, and aborts
 *    the multipart upload, so an unverified object never exists even under the temporary key;
 * 3. only after the whole body was verified, copies the temporary object to the final key
 *    (CopyObject is atomic: a reader sees no object or the whole one) unless it is already there,
 *    and deletes the temporary one.
 * A process killed mid-upload leaves at most an unfinished multipart upload or a `tmp/` object:
 * give the bucket a lifecycle rule that aborts incomplete multipart uploads and expires `tmp/`.
 *
 * Credentials come only from the SDK's default chain (the standard `AWS_*` environment variables,
 * the shared config files, a web identity or instance role), never from options or flags.
 *
 * Checksums: SDK releases since January 2025 send CRC32 checksums by default, with
 * aws-chunked trailers for streamed bodies, which several S3-compatible stores refuse. The default
 * here is to send them only where an operation requires one ('when-required'): every part is a
 * buffer, so SigV4 signs its SHA-256 (`x-amz-content-sha256`) and the store checks it.
 */
export interface S3BlobStoreOptions {
  readonly bucket: string;
  /** Key prefix, without leading or trailing slashes ('' for the bucket's root). */
  readonly prefix?: string;
  /** The store's URL, for anything but AWS itself (e.g. `https://minio.example:9000`). */
  readonly endpoint?: string;
  /** Defaults to the SDK's (`AWS_REGION`, then the shared config). */
  readonly region?: string;
  /** Path-style requests (`endpoint/bucket/key`), as MinIO and Ceph RGW usually need. */
  readonly forcePathStyle?: boolean;
  /** When to send flexible checksums (see above). */
  readonly checksums?: 'when-required' | 'when-supported';
}

/** lib-storage's smallest part: S3 refuses smaller parts except the last. */
const PART_SIZE = 5 * 1024 * 1024;
/** Parts in flight per upload: the memory one upload holds is about (this + 1) × PART_SIZE. */
const QUEUE_SIZE = 2;
/** CopyObject copies at most 5 GiB in one request (S3 API reference, CopyObject). */
const MAX_COPY_BYTES = 5 * 1024 * 1024 * 1024;
/** SigV4 presigned URLs live at most seven days. */
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

export class S3BlobStore implements BlobStore {
  readonly location: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly base: string;

  /**
   * @example new S3BlobStore({ bucket: 'airlock', prefix: 'bundles', endpoint: 'http://127.0.0.1:9000', forcePathStyle: true })
   */
  constructor(options: S3BlobStoreOptions) {
    const prefix = options.prefix ?? '';
    if (prefix.startsWith('/') || prefix.endsWith('/')) {
      throw new AirlockError('INVALID_ARGUMENT', 'An S3 prefix has no leading or trailing slash.');
    }
    const checksums = options.checksums === 'when-supported' ? 'WHEN_SUPPORTED' : 'WHEN_REQUIRED';
    this.bucket = options.bucket;
    this.base = prefix === '' ? '' : `${prefix}/`;
    this.location = `s3://${options.bucket}/${prefix}`;
    this.client = new S3Client({
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
      ...(options.region === undefined ? {} : { region: options.region }),
      forcePathStyle: options.forcePathStyle ?? false,
      requestChecksumCalculation: checksums,
      responseChecksumValidation: checksums,
    });
  }

  /** Closes the client's sockets. */
  close(): void {
    this.client.destroy();
  }

  private keyOf(sha256: string): string {
    return `${this.base}${sha256.slice(0, 2)}/${sha256}`;
  }

  async put(
    sha256: string,
    body: AsyncIterable<Uint8Array>,
    maxBytes: number,
  ): Promise<BlobPutResult> {
    if (!isBlobName(sha256)) {
      throw new AirlockError('INVALID_INPUT', 'A bundle is named by its lowercase hex SHA-256.');
    }
    const limit = Math.min(maxBytes, MAX_COPY_BYTES);
    const tempKey = `${this.base}tmp/${randomBytes(12).toString('hex')}.part`;
    const source = verifying(body, sha256, limit);
    const stream = Readable.from(source.chunks, { objectMode: false });
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.bucket,
        Key: tempKey,
        Body: stream,
        ContentType: 'application/octet-stream',
      },
      partSize: PART_SIZE,
      queueSize: QUEUE_SIZE,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (error) {
      stream.destroy(); // stops reading the body, if the upload failed before its end
      await this.deleteKey(tempKey).catch(() => undefined);
      // The body's own refusal wins over whatever the upload reported afterwards (e.g. an abort).
      throw source.failure() ?? backendError('uploading a bundle', error);
    }
    const size = source.size();
    try {
      const existing = await this.stat(sha256);
      if (existing !== null) return { created: false, size: existing.size };
      await this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: this.keyOf(sha256),
          CopySource: `${this.bucket}/${tempKey}`.split('/').map(encodeURIComponent).join('/'),
        }),
      );
      return { created: true, size };
    } catch (error) {
      throw backendError('publishing a bundle', error);
    } finally {
      await this.deleteKey(tempKey).catch(() => undefined);
    }
  }

  async stat(sha256: string): Promise<{ size: number } | null> {
    if (!isBlobName(sha256)) return null;
    try {
      const head = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.keyOf(sha256) }),
      );
      return { size: head.ContentLength ?? 0 };
    } catch (error) {
      if (statusOf(error) === 404) return null;
      throw backendError('looking up a bundle', error);
    }
  }

  async read(sha256: string, range?: BlobRange): Promise<Readable> {
    if (range !== undefined) checkRange(range);
    if (!isBlobName(sha256)) throw notFound(sha256);
    let response;
    try {
      response = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.keyOf(sha256),
          ...(range === undefined ? {} : { Range: `bytes=${range.start}-${range.end}` }),
        }),
      );
    } catch (error) {
      const status = statusOf(error);
      if (status === 404) throw notFound(sha256);
      if (status === 416 && range !== undefined) throw outsideBlob(range);
      throw backendError('reading a bundle', error);
    }
    const stream = response.Body;
    if (!(stream instanceof Readable)) {
      throw new AirlockError('IO_ERROR', 'The object store answered without a readable body.');
    }
    return range === undefined ? stream : exactly(stream, range, response);
  }

  async delete(sha256: string): Promise<void> {
    if (!isBlobName(sha256)) return;
    try {
      await this.deleteKey(this.keyOf(sha256));
    } catch (error) {
      throw backendError('deleting a bundle', error);
    }
  }

  /**
   * A GET URL signed with SigV4 query parameters, valid `seconds` (1 to 604 800) from now. It does
   * not check that the blob exists: the caller serves only blobs it knows.
   */
  async presignedUrl(sha256: string, seconds: number): Promise<string> {
    if (!isBlobName(sha256)) throw notFound(sha256);
    if (!Number.isSafeInteger(seconds) || seconds < 1 || seconds > MAX_PRESIGN_SECONDS) {
      throw new AirlockError(
        'INVALID_ARGUMENT',
        `A presigned URL lives 1 to ${MAX_PRESIGN_SECONDS} seconds.`,
      );
    }
    try {
      return await getSignedUrl(
        this.client,
        new GetObjectCommand({ Bucket: this.bucket, Key: this.keyOf(sha256) }),
        { expiresIn: seconds },
      );
    } catch (error) {
      throw backendError('signing a bundle URL', error);
    }
  }

  private async deleteKey(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }
}

interface VerifyingSource {
  readonly chunks: AsyncGenerator<Uint8Array>;
  /** The refusal the body ended with (size, hash, or the body's own failure), if any. */
  failure(): AirlockError | undefined;
  size(): number;
}

/**
 * The body, counted and hashed as it passes. It fails instead of ending when the size exceeds
 * `limit` or the bytes do not hash to `expected`; attacker-controlled bytes, so both are checked
 * before the consumer sees the end of the stream.
 */
function verifying(
  body: AsyncIterable<Uint8Array>,
  expected: string,
  limit: number,
): VerifyingSource {
  let failure: AirlockError | undefined;
  let size = 0;
  async function* chunks(): AsyncGenerator<Uint8Array> {
    const hash = createHash('sha256');
    try {
      for await (const chunk of body) {
        size += chunk.byteLength;
        if (size > limit) {
          throw new AirlockError('PAYLOAD_TOO_LARGE', `A bundle may be at most ${limit} bytes.`);
        }
        hash.update(chunk);
        yield chunk;
      }
    } catch (error) {
      failure = backendError('receiving a bundle', error);
      throw failure;
    }
    const actual = hash.digest('hex');
    if (actual !== expected) {
      failure = new AirlockError(
        'BUNDLE_MISMATCH',
        `The uploaded bytes have SHA-256 ${actual}, not ${expected}.`,
      );
      throw failure;
    }
  }
  return { chunks: chunks(), failure: () => failure, size: () => size };
}

/**
 * The requested bytes and no others, whatever the store sent. S3 answers a range that ends past
 * the object shortened: refused here, as the folder store does. Some stores send more than asked
 * (the whole object for `bytes=0-0`, or for any range when they ignore Range): trimmed here.
 */
function exactly(
  stream: Readable,
  range: BlobRange,
  response: { ContentRange?: string; ContentLength?: number },
): Readable {
  const served = parseContentRange(response.ContentRange) ?? wholeObject(response.ContentLength);
  if (
    served === null ||
    range.end >= served.size ||
    served.start > range.start ||
    served.end < range.end
  ) {
    stream.destroy();
    if (served !== null && range.end >= served.size) throw outsideBlob(range, served.size);
    throw new AirlockError(
      'IO_ERROR',
      'The object store answered with other bytes than asked for.',
    );
  }
  if (served.start === range.start && served.end === range.end) return stream;
  return Readable.from(slice(stream, range.start - served.start, range.end - range.start + 1), {
    objectMode: false,
  });
}

function wholeObject(
  length: number | undefined,
): { start: number; end: number; size: number } | null {
  return length === undefined ? null : { start: 0, end: length - 1, size: length };
}

/** `length` bytes of `source` after skipping `skip`; stops (and so destroys) the source then. */
async function* slice(source: Readable, skip: number, length: number): AsyncGenerator<Buffer> {
  let toSkip = skip;
  let left = length;
  for await (const chunk of source) {
    let bytes = chunk as Buffer;
    if (toSkip > 0) {
      const skipped = Math.min(toSkip, bytes.byteLength);
      bytes = bytes.subarray(skipped);
      toSkip -= skipped;
    }
    if (bytes.byteLength === 0) continue;
    const taken = bytes.subarray(0, left);
    left -= taken.byteLength;
    yield taken;
    if (left === 0) return;
  }
}

function notFound(sha256: string): AirlockError {
  const name = isBlobName(sha256) ? sha256 : 'that name';
  return new AirlockError('NOT_FOUND', `No bundle ${name} is stored.`);
}

function statusOf(error: unknown): number | undefined {
  return error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
}

/** `bytes 0-9/100` → { start: 0, end: 9, size: 100 }; anything else → null. */
function parseContentRange(
  header: string | undefined,
): { start: number; end: number; size: number } | null {
  const match = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(header?.trim() ?? '');
  if (match === null) return null;
  return { start: Number(match[1]), end: Number(match[2]), size: Number(match[3]) };
}
