import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  FsBlobStore,
  parseBundlesUrl,
  S3BlobStore,
  type BlobStore,
} from '../../../src/server/store/blobs';
import { makeTempDir } from '../../helpers/bundle-fixtures';
import { startS3Server, type S3TestServer } from '../../helpers/s3-server';

/**
 * The BlobStore contract (src/server/store/blobs/types.ts) against both implementations: a
 * folder, and a real S3-protocol server over HTTP with SigV4 (test/helpers/s3-server.ts). Every
 * refusal is checked where it matters: by listing what the backend holds afterwards.
 */

const MiB = 1024 * 1024;
const LIMIT = 64 * MiB;

interface BlobHarness {
  readonly store: BlobStore;
  /** Where the backend keeps the blob `sha256`, in the terms of `stored()`. */
  keyOf(sha256: string): string;
  /** Everything the backend holds for this store, temporary objects and files included. */
  stored(): string[];
  /** Multipart uploads neither completed nor aborted (a folder has none). */
  pending(): string[];
  dispose(): Promise<void>;
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The bytes as a stream of `chunkSize` pieces, as an HTTP request body arrives. */
async function* chunked(bytes: Uint8Array, chunkSize = 64 * 1024): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < bytes.byteLength; offset += chunkSize) {
    await Promise.resolve();
    yield bytes.subarray(offset, offset + chunkSize);
  }
}

/** A body that delivers `bytes` and then fails, as a client that goes away mid-upload. */
async function* failingAfter(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield* chunked(bytes);
  throw new Error('the client went away');
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function describeBlobStore(name: string, make: () => Promise<BlobHarness>): void {
  describe(name, () => {
    let h: BlobHarness;

    beforeEach(async () => {
      h = await make();
    });

    afterEach(async () => {
      await h.dispose();
    });

    /** A refused put left nothing: no blob under any of `names`, no object or file, no upload. */
    async function expectNothingLeft(...names: string[]): Promise<void> {
      for (const name of names) expect(await h.store.stat(name)).toBeNull();
      expect(h.stored()).toEqual([]);
      expect(h.pending()).toEqual([]);
    }

    describe('#put', () => {
      it('publishes the bytes under their SHA-256, then stat and read answer for them', async () => {
        const bytes = randomBytes(100_000);
        const sha = sha256Hex(bytes);
        expect(await h.store.stat(sha)).toBeNull();

        expect(await h.store.put(sha, chunked(bytes), LIMIT)).toEqual({
          created: true,
          size: bytes.byteLength,
        });

        expect(h.stored()).toEqual([h.keyOf(sha)]);
        expect(await h.store.stat(sha)).toEqual({ size: bytes.byteLength });
        expect((await readAll(await h.store.read(sha))).equals(bytes)).toBe(true);
        const part = await readAll(await h.store.read(sha, { start: 10, end: 1009 }));
        expect(part.equals(bytes.subarray(10, 1010))).toBe(true);
      });

      it('stores an empty blob', async () => {
        const empty = new Uint8Array();
        const sha = sha256Hex(empty);
        expect(await h.store.put(sha, chunked(empty), LIMIT)).toEqual({ created: true, size: 0 });
        expect(await h.store.stat(sha)).toEqual({ size: 0 });
        expect((await readAll(await h.store.read(sha))).byteLength).toBe(0);
      });

      it('refuses bytes whose SHA-256 is not the expected one, leaving nothing behind', async () => {
        const bytes = randomBytes(50_000);
        const claimed = sha256Hex(randomBytes(32));

        await expect(h.store.put(claimed, chunked(bytes), LIMIT)).rejects.toThrowWithCode(
          'BUNDLE_MISMATCH',
        );

        await expectNothingLeft(claimed, sha256Hex(bytes));
      });

      it('refuses a multipart-sized body with a wrong SHA-256 after its parts were sent, leaving nothing', async () => {
        const bytes = randomBytes(12 * MiB);
        const claimed = sha256Hex(bytes);
        const last = bytes.byteLength - 1;
        bytes[last] = (bytes[last] ?? 0) ^ 0x01; // the last byte: known only once everything was sent

        await expect(h.store.put(claimed, chunked(bytes), LIMIT)).rejects.toThrowWithCode(
          'BUNDLE_MISMATCH',
        );

        await expectNothingLeft(claimed, sha256Hex(bytes));
      });

      it('refuses a body one byte over the limit with PAYLOAD_TOO_LARGE, leaving nothing', async () => {
        const bytes = randomBytes(1001);
        const sha = sha256Hex(bytes);

        await expect(h.store.put(sha, chunked(bytes, 100), 1000)).rejects.toThrowWithCode(
          'PAYLOAD_TOO_LARGE',
        );

        await expectNothingLeft(sha);
      });

      it('accepts a body of exactly the limit', async () => {
        const bytes = randomBytes(1000);
        const sha = sha256Hex(bytes);
        expect(await h.store.put(sha, chunked(bytes, 100), 1000)).toEqual({
          created: true,
          size: 1000,
        });
        expect(h.stored()).toEqual([h.keyOf(sha)]);
      });

      it('refuses a multipart-sized body over the limit after parts were sent, leaving nothing', async () => {
        const bytes = randomBytes(12 * MiB);
        const sha = sha256Hex(bytes);

        await expect(h.store.put(sha, chunked(bytes), 11 * MiB)).rejects.toThrowWithCode(
          'PAYLOAD_TOO_LARGE',
        );

        await expectNothingLeft(sha);
      });

      it('is idempotent: the same bytes again are not created twice', async () => {
        const bytes = randomBytes(20_000);
        const sha = sha256Hex(bytes);
        expect(await h.store.put(sha, chunked(bytes), LIMIT)).toEqual({
          created: true,
          size: 20_000,
        });

        expect(await h.store.put(sha, chunked(bytes), LIMIT)).toEqual({
          created: false,
          size: 20_000,
        });

        expect(h.stored()).toEqual([h.keyOf(sha)]);
        expect((await readAll(await h.store.read(sha))).equals(bytes)).toBe(true);
      });

      it('still checks the hash of bytes claiming a name that is already stored', async () => {
        const bytes = randomBytes(20_000);
        const sha = sha256Hex(bytes);
        await h.store.put(sha, chunked(bytes), LIMIT);

        await expect(h.store.put(sha, chunked(randomBytes(20_000)), LIMIT)).rejects.toThrowWithCode(
          'BUNDLE_MISMATCH',
        );

        expect(h.stored()).toEqual([h.keyOf(sha)]);
        expect((await readAll(await h.store.read(sha))).equals(bytes)).toBe(true);
      });

      it('round-trips a multipart-sized body (12 MiB, three 5 MiB parts)', async () => {
        const bytes = randomBytes(12 * MiB);
        const sha = sha256Hex(bytes);

        expect(await h.store.put(sha, chunked(bytes), LIMIT)).toEqual({
          created: true,
          size: 12 * MiB,
        });

        expect(h.stored()).toEqual([h.keyOf(sha)]);
        expect(h.pending()).toEqual([]);
        expect(sha256Hex(await readAll(await h.store.read(sha)))).toBe(sha);
        const across = { start: 5 * MiB - 10, end: 5 * MiB + 9 }; // spans the first part boundary
        const part = await readAll(await h.store.read(sha, across));
        expect(part.equals(bytes.subarray(across.start, across.end + 1))).toBe(true);
      });

      it('lets concurrent puts of the same bytes all succeed, leaving one blob', async () => {
        const bytes = randomBytes(6 * MiB);
        const sha = sha256Hex(bytes);

        const results = await Promise.all(
          [1, 2, 3].map(() => h.store.put(sha, chunked(bytes), LIMIT)),
        );

        for (const result of results) expect(result.size).toBe(6 * MiB);
        expect(results.some((result) => result.created)).toBe(true);
        expect(h.stored()).toEqual([h.keyOf(sha)]);
        expect(h.pending()).toEqual([]);
        expect(sha256Hex(await readAll(await h.store.read(sha)))).toBe(sha);
      });

      it('fails with IO_ERROR when the body itself fails midway, leaving nothing', async () => {
        const bytes = randomBytes(7 * MiB);
        const sha = sha256Hex(bytes);

        await expect(h.store.put(sha, failingAfter(bytes), LIMIT)).rejects.toThrowWithCode(
          'IO_ERROR',
          /went away/,
        );

        await expectNothingLeft(sha);
      });

      it('refuses a name that is not a lowercase hex SHA-256', async () => {
        const bytes = randomBytes(10);
        const upper = sha256Hex(bytes).toUpperCase();
        await expect(h.store.put(upper, chunked(bytes), LIMIT)).rejects.toThrowWithCode(
          'INVALID_INPUT',
        );
        await expect(h.store.put('../../etc', chunked(bytes), LIMIT)).rejects.toThrowWithCode(
          'INVALID_INPUT',
        );
        expect(h.stored()).toEqual([]);
      });
    });

    describe('#read', () => {
      const bytes = randomBytes(4096);
      const sha = sha256Hex(bytes);

      beforeEach(async () => {
        await h.store.put(sha, chunked(bytes), LIMIT);
      });

      it('reads single bytes at both ends', async () => {
        const first = await readAll(await h.store.read(sha, { start: 0, end: 0 }));
        const last = await readAll(await h.store.read(sha, { start: 4095, end: 4095 }));
        expect([...first]).toEqual([bytes[0]]);
        expect([...last]).toEqual([bytes[4095]]);
      });

      it('refuses ranges outside the blob or not ranges at all (INVALID_ARGUMENT)', async () => {
        for (const range of [
          { start: 0, end: 4096 },
          { start: 4000, end: 5000 },
          { start: 5000, end: 6000 },
          { start: 10, end: 9 },
          { start: -1, end: 5 },
          { start: 0.5, end: 5 },
        ]) {
          await expect(h.store.read(sha, range), JSON.stringify(range)).rejects.toThrowWithCode(
            'INVALID_ARGUMENT',
          );
        }
      });

      it('answers NOT_FOUND for a blob that is not stored, or a name that is no SHA-256', async () => {
        await expect(h.store.read(sha256Hex(randomBytes(8)))).rejects.toThrowWithCode('NOT_FOUND');
        await expect(h.store.read('../' + sha)).rejects.toThrowWithCode('NOT_FOUND');
        await expect(h.store.read(sha.toUpperCase())).rejects.toThrowWithCode('NOT_FOUND');
        expect(await h.store.stat(sha.toUpperCase())).toBeNull();
        expect(await h.store.stat(sha.slice(0, 63))).toBeNull();
      });
    });

    describe('#delete', () => {
      it('removes the blob; deleting it again, or a name that is no SHA-256, is no error', async () => {
        const keep = randomBytes(1000);
        const gone = randomBytes(1000);
        await h.store.put(sha256Hex(keep), chunked(keep), LIMIT);
        await h.store.put(sha256Hex(gone), chunked(gone), LIMIT);

        await h.store.delete(sha256Hex(gone));

        expect(await h.store.stat(sha256Hex(gone))).toBeNull();
        await expect(h.store.read(sha256Hex(gone))).rejects.toThrowWithCode('NOT_FOUND');
        expect(h.stored()).toEqual([h.keyOf(sha256Hex(keep))]);
        await h.store.delete(sha256Hex(gone));
        await h.store.delete('not-a-sha');
        expect(await h.store.stat(sha256Hex(keep))).toEqual({ size: 1000 });
      });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The folder

/** Every file under `root`, relative, with forward slashes. */
function filesUnder(root: string): string[] {
  return readdirSync(root, { recursive: true, encoding: 'utf8' })
    .filter((path) => statSync(join(root, path)).isFile())
    .map((path) => path.split(sep).join('/'))
    .sort();
}

describeBlobStore('FsBlobStore', () => {
  const dir = makeTempDir('airlock-blobs-');
  const store = new FsBlobStore(join(dir.path, 'bundles'));
  return Promise.resolve({
    store,
    keyOf: (sha) => `${sha.slice(0, 2)}/${sha}`,
    stored: () => filesUnder(join(dir.path, 'bundles')),
    pending: () => [],
    dispose: () => Promise.resolve(dir.cleanup()),
  });
});

describe('FsBlobStore', () => {
  it('offers no presigned URLs', () => {
    const dir = makeTempDir('airlock-blobs-');
    try {
      const store: BlobStore = new FsBlobStore(dir.path);
      expect('presignedUrl' in store).toBe(false);
    } finally {
      dir.cleanup();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The S3-protocol server

let s3: S3TestServer;
const savedEnv = { ...process.env };
let prefixes = 0;

/** Sets the standard AWS_* variables (the SDK's default chain reads them at the first request). */
function useCredentials(env: Readonly<Record<string, string>>): void {
  for (const name of Object.keys(process.env)) {
    if (name.startsWith('AWS_')) Reflect.deleteProperty(process.env, name);
  }
  Object.assign(process.env, env);
}

/** Runs `use` with a store on `prefix`, closed afterwards. */
async function withStore(
  prefix: string,
  use: (store: S3BlobStore) => Promise<void>,
): Promise<void> {
  const store = s3Store(prefix);
  try {
    await use(store);
  } finally {
    store.close();
  }
}

function s3Store(prefix: string): S3BlobStore {
  return new S3BlobStore({
    bucket: s3.bucket,
    prefix,
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
  });
}

beforeAll(async () => {
  s3 = await startS3Server();
  useCredentials(s3.env);
});

afterAll(async () => {
  process.env = savedEnv;
  await s3?.stop();
});

describeBlobStore('S3BlobStore', () => {
  prefixes += 1;
  const prefix = `contract/t${prefixes}`;
  const store = s3Store(prefix);
  const earlier = new Set(s3.pendingUploads());
  return Promise.resolve({
    store,
    keyOf: (sha) => `${prefix}/${sha.slice(0, 2)}/${sha}`,
    stored: () => s3.objects().filter((key) => key.startsWith(`${prefix}/`)),
    pending: () => s3.pendingUploads().filter((id) => !earlier.has(id)),
    dispose: () => Promise.resolve(store.close()),
  });
});

describe('S3BlobStore against the S3 server', () => {
  /** The requests the server received from `from` on (method and path, query included). */
  function requestsSince(from: number): string[] {
    return s3.requests.slice(from).map((request) => `${request.method} ${request.url}`);
  }

  it('is refused by the server with a wrong secret key: SigV4 is checked, not just parsed', async () => {
    const bytes = randomBytes(1000);
    const sha = sha256Hex(bytes);
    useCredentials({ ...s3.env, AWS_SECRET_ACCESS_KEY: `${s3.secretAccessKey}x` });
    const wrong = s3Store('sigv4');
    const from = s3.requests.length;
    try {
      await expect(wrong.put(sha, chunked(bytes), LIMIT)).rejects.toThrowWithCode(
        'IO_ERROR',
        /SignatureDoesNotMatch/,
      );
      await expect(wrong.stat(sha)).rejects.toThrowWithCode('IO_ERROR');
    } finally {
      wrong.close();
      useCredentials(s3.env);
    }
    const answers = s3.requests.slice(from).map((request) => request.status);
    expect(answers.length).toBeGreaterThan(0);
    expect(answers.every((status) => status === 403)).toBe(true);
    expect(s3.objects().filter((key) => key.startsWith('sigv4/'))).toEqual([]);

    // The same request with the right key passes: the refusal was the signature's.
    const right = s3Store('sigv4');
    try {
      expect(await right.put(sha, chunked(bytes), LIMIT)).toEqual({ created: true, size: 1000 });
    } finally {
      right.close();
    }

    // An access key the server does not know is refused too.
    const stranger = new S3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: 'AKIANOBODY', secretAccessKey: s3.secretAccessKey },
    });
    try {
      await expect(
        stranger.send(
          new GetObjectCommand({ Bucket: s3.bucket, Key: `sigv4/${sha.slice(0, 2)}/${sha}` }),
        ),
      ).rejects.toMatchObject({ name: 'InvalidAccessKeyId' });
    } finally {
      stranger.destroy();
    }
  });

  it('serves a presigned URL to plain HTTP; a changed signature, an unsigned or an expired URL is refused', async () => {
    await withStore('presign', async (store) => {
      const bytes = randomBytes(3000);
      const sha = sha256Hex(bytes);
      await store.put(sha, chunked(bytes), LIMIT);

      const url = await store.presignedUrl(sha, 60);
      const answer = await fetch(url);
      expect(answer.status).toBe(200);
      expect(Buffer.from(await answer.arrayBuffer()).equals(bytes)).toBe(true);
      const ranged = await fetch(url, { headers: { range: 'bytes=100-199' } });
      expect(ranged.status).toBe(206);
      expect(Buffer.from(await ranged.arrayBuffer()).equals(bytes.subarray(100, 200))).toBe(true);

      const signature = /X-Amz-Signature=([0-9a-f]{64})/.exec(url)?.[1] ?? '';
      const flipped = `${signature.slice(0, -1)}${signature.endsWith('0') ? '1' : '0'}`;
      expect((await fetch(url.replace(signature, flipped))).status).toBe(403);
      expect((await fetch(url.split('?')[0]!)).status).toBe(403);

      const brief = await store.presignedUrl(sha, 1);
      await sleep(2100);
      expect((await fetch(brief)).status).toBe(403);

      await expect(store.presignedUrl(sha, 0)).rejects.toThrowWithCode('INVALID_ARGUMENT');
      await expect(store.presignedUrl(sha, 8 * 24 * 3600)).rejects.toThrowWithCode(
        'INVALID_ARGUMENT',
      );
    });
  });

  it('uploads in signed 5 MiB parts to a temporary key and copies only the verified object', async () => {
    await withStore('flow', async (store) => {
      const bytes = randomBytes(12 * MiB);
      const sha = sha256Hex(bytes);
      const from = s3.requests.length;

      await store.put(sha, chunked(bytes), LIMIT);

      const seen = s3.requests.slice(from);
      const lines = requestsSince(from);
      const temp = /^POST \/[^/]+\/(flow\/tmp\/[0-9a-f]{24}\.part)\?uploads/.exec(
        lines[0] ?? '',
      )?.[1];
      expect(temp, lines.join('\n')).toBeDefined();
      const parts = seen.filter((request) => request.url.includes('x-id=UploadPart'));
      expect(parts.map((request) => /partNumber=(\d+)/.exec(request.url)?.[1]).sort()).toEqual([
        '1',
        '2',
        '3',
      ]);
      // Each part's SHA-256 is in the signature (a real store checks the body against it).
      for (const part of parts) expect(part.contentSha256).toMatch(/^[0-9a-f]{64}$/);
      const complete = lines.findIndex((line) => /^POST .*\?uploadId=/.test(line));
      const copy = lines.findIndex((line) =>
        line.startsWith(`PUT /${s3.bucket}/flow/${sha.slice(0, 2)}/${sha}?x-id=CopyObject`),
      );
      const removeTemp = lines.findIndex((line) => line.startsWith(`DELETE /${s3.bucket}/${temp}`));
      expect(complete).toBeGreaterThan(0);
      expect(copy).toBeGreaterThan(complete);
      expect(removeTemp).toBeGreaterThan(copy);
      expect(s3.objects().filter((key) => key.startsWith('flow/'))).toEqual([
        `flow/${sha.slice(0, 2)}/${sha}`,
      ]);
    });
  });

  it('never completes an upload whose bytes fail the hash: the multipart upload is aborted', async () => {
    await withStore('abort', async (store) => {
      const bytes = randomBytes(12 * MiB);
      const claimed = sha256Hex(randomBytes(32));
      const from = s3.requests.length;
      const earlier = new Set(s3.pendingUploads());

      await expect(store.put(claimed, chunked(bytes), LIMIT)).rejects.toThrowWithCode(
        'BUNDLE_MISMATCH',
      );

      const lines = requestsSince(from);
      expect(lines.some((line) => /^POST .*\?uploads/.test(line))).toBe(true);
      expect(lines.some((line) => /^POST .*\?uploadId=/.test(line))).toBe(false); // no Complete
      expect(lines.some((line) => /x-id=(PutObject|CopyObject)/.test(line))).toBe(false);
      expect(lines.some((line) => /^DELETE .*uploadId=/.test(line))).toBe(true); // the abort
      expect(s3.pendingUploads().filter((id) => !earlier.has(id))).toEqual([]);
    });
  });

  it('keeps every key under its prefix, and a prefix-less store at the bucket root', async () => {
    const bytes = randomBytes(500);
    const sha = sha256Hex(bytes);
    const rooted = s3Store('');
    try {
      await rooted.put(sha, chunked(bytes), LIMIT);
      expect(s3.objects()).toContain(`${sha.slice(0, 2)}/${sha}`);
      await rooted.delete(sha);
      expect(s3.objects()).not.toContain(`${sha.slice(0, 2)}/${sha}`);
    } finally {
      rooted.close();
    }
    expect(rooted.location).toBe(`s3://${s3.bucket}/`);
    expect(() => s3Store('/lead')).toThrowWithCode('INVALID_ARGUMENT');
    expect(() => s3Store('trail/')).toThrowWithCode('INVALID_ARGUMENT');
  });
});

describe('parseBundlesUrl', () => {
  it('reads the bucket and the prefix', () => {
    expect(parseBundlesUrl('s3://airlock-bundles/prod/eu')).toEqual({
      bucket: 'airlock-bundles',
      prefix: 'prod/eu',
    });
    expect(parseBundlesUrl('s3://airlock.bundles/prod/')).toEqual({
      bucket: 'airlock.bundles',
      prefix: 'prod',
    });
    expect(parseBundlesUrl('s3://abc')).toEqual({ bucket: 'abc', prefix: '' });
    expect(parseBundlesUrl('s3://abc/')).toEqual({ bucket: 'abc', prefix: '' });
  });

  it('refuses other schemes, bad bucket names, credentials and unusable prefixes', () => {
    for (const url of [
      'https://bucket/prefix',
      'S3://bucket/prefix',
      's3://',
      's3://ab',
      's3://Upper/prefix',
      's3://-bucket/x',
      's3://bucket-/x',
      's3://a..b/x',
      's3://key:secret@bucket/x',
      's3://bucket/x?versionId=1',
      's3://bucket/x#y',
      's3://bucket//x',
      's3://bucket/a//b',
      's3://bucket/a/../b',
      's3://bucket/./b',
      's3://bucket/a b',
      `s3://${'a'.repeat(64)}/x`,
    ]) {
      expect(() => parseBundlesUrl(url), url).toThrowWithCode('INVALID_ARGUMENT');
    }
    expect(() => parseBundlesUrl('s3://key:secret@bucket/x')).toThrowWithCode(
      'INVALID_ARGUMENT',
      /environment/,
    );
  });
});
