import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { createInterface } from 'node:readline';

/**
 * A real S3-protocol server for tests: `@20minutes/s3rver` 4.0.x (a maintained fork of s3rver) in
 * a child process on 127.0.0.1, on a port the kernel picks, storing into a fresh temporary folder,
 * with one bucket and one access key whose secret is random per start. `stop()` ends it by PID and
 * removes the folder; the child also exits when its stdin closes, so a crashed test leaves no server.
 *
 * Why this server:
 * - s3rver 3.7.1, the last release of the original package, accepts any SigV4 signature: its
 *   authentication middleware leaves the "Signature version 4 calculation" unimplemented and
 *   admits the account from the Credential field alone. The 4.0 fork computes the SigV4 canonical
 *   request, signing key and HMAC, for the `Authorization` header and for presigned query strings
 *   (with their expiry), and answers `SignatureDoesNotMatch` otherwise (blob-store.test.ts proves
 *   it with a wrong secret, a changed presigned signature and an expired URL). Its 5.x needs Node 24.
 * - It speaks what the blob store uses: PutObject, multipart (Create / UploadPart / Complete),
 *   CopyObject, HeadObject, GetObject with `Range` (206 + Content-Range; 416 past the end),
 *   DeleteObject; from npm alone (no Debian package, no JVM, no container).
 * - Ceph's `radosgw` (Debian) checks more but needs a RADOS cluster (monitor + OSD) to start.
 *
 * What it does not do, so tests must not rely on it:
 * - check the payload hash (`x-amz-content-sha256`) against the body, or aws-chunked chunk
 *   signatures; it refuses the SDK's `STREAMING-UNSIGNED-PAYLOAD-TRAILER` bodies outright (what a
 *   streamed PutObject sends with the SDK's default flexible checksums);
 * - AbortMultipartUpload (its router answers 405): the guard below implements it, after the
 *   fork verified the request's signature, so that an aborted upload's parts really go;
 * - ListObjects: bucket-level requests fail SigV4 (it signs `/bucket` where the SDK signs
 *   `/bucket/`), so `objects()` and `pendingUploads()` read the server's folder instead;
 * - `Range: bytes=0-0` (it treats an end of 0 as open and sends the whole object);
 * - access control: it would serve anonymous requests. The guard refuses any request carrying no
 *   signature (403 AccessDenied), like a private bucket, so a presigned URL is the only way in
 *   without keys.
 */

export interface S3TestServer {
  /** `http://127.0.0.1:PORT` */
  readonly endpoint: string;
  readonly bucket: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** The folder the server stores into (removed by `stop`). */
  readonly dir: string;
  readonly pid: number;
  /** Every request the server received, in order (method, path with query, payload hash header). */
  readonly requests: readonly S3Request[];
  /** The keys of every object in the bucket, sorted, read from the server's own folder. */
  objects(): string[];
  /** Multipart uploads started and neither completed nor aborted (their parts are on disk). */
  pendingUploads(): string[];
  /** The standard variables the SDK's default credential chain reads, for this server's key. */
  readonly env: Readonly<Record<string, string>>;
  stop(): Promise<void>;
}

export interface S3Request {
  readonly method: string;
  readonly url: string;
  readonly contentSha256: string | null;
  readonly status: number;
}

const require = createRequire(import.meta.url);

// The child: CommonJS run with `node -e`, configured through one environment variable.
const CHILD = `
const config = JSON.parse(process.env.AIRLOCK_S3_TEST_CONFIG);
const S3rver = require(config.main);
const AWSAccount = require(config.account);
AWSAccount.DUMMY_ACCOUNT.revokeAccessKey('S3RVER');
AWSAccount.DUMMY_ACCOUNT.createKeyPair(config.accessKeyId, config.secretAccessKey);
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory: config.dir,
  vhostBuckets: false,
  configureBuckets: [{ name: config.bucket }],
});
const denied = '<?xml version="1.0" encoding="UTF-8"?>\\n<Error><Code>AccessDenied</Code>' +
  '<Message>Anonymous access is not allowed</Message></Error>';
server.middleware.unshift(async (ctx, next) => {
  let status = 200;
  try {
    const signed = 'authorization' in ctx.headers || 'X-Amz-Algorithm' in ctx.query ||
      'Signature' in ctx.query;
    if (!signed) {
      ctx.status = 403;
      ctx.type = 'application/xml';
      ctx.body = denied;
      return;
    }
    try {
      await next();
    } catch (error) {
      // The fork lacks AbortMultipartUpload: its router answers MethodNotAllowed, which it only
      // reaches once the signature was verified. Do what S3 does: drop the upload and its parts.
      const uploadId = String(ctx.query.uploadId ?? '');
      if (ctx.method !== 'DELETE' || error.code !== 'MethodNotAllowed' || !/^[0-9a-f]{32}$/.test(uploadId)) {
        throw error;
      }
      const uploads = server.store.getResourcePath(config.bucket, undefined, 'uploads');
      require('node:fs').rmSync(require('node:path').join(uploads, uploadId), { recursive: true, force: true });
      ctx.status = 204;
      ctx.body = null;
    }
  } catch (error) {
    status = error.status || 500;
    throw error;
  } finally {
    if (status === 200) status = ctx.status;
    const line = { method: ctx.method, url: ctx.url, status,
      contentSha256: ctx.get('x-amz-content-sha256') || null };
    process.stdout.write('request ' + JSON.stringify(line) + '\\n');
  }
});
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
server.run().then(
  (address) => process.stdout.write('ready ' + address.port + '\\n'),
  (error) => { console.error(error); process.exit(1); },
);
`;

/**
 * Starts the server and resolves once it listens.
 * @example const s3 = await startS3Server(); … await s3.stop();
 */
export async function startS3Server(options: { bucket?: string } = {}): Promise<S3TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-s3-'));
  const bucket = options.bucket ?? 'airlock-test';
  const region = 'us-east-1';
  const accessKeyId = `TEST${randomBytes(8).toString('hex').toUpperCase()}`;
  const secretAccessKey = randomBytes(20).toString('base64url');
  const config = {
    main: require.resolve('@20minutes/s3rver'),
    account: require.resolve('@20minutes/s3rver/lib/models/account'),
    dir,
    bucket,
    accessKeyId,
    secretAccessKey,
  };
  const child: ChildProcess = spawn(process.execPath, ['-e', CHILD], {
    env: { PATH: process.env.PATH ?? '', AIRLOCK_S3_TEST_CONFIG: JSON.stringify(config) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const requests: S3Request[] = [];
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`S3 server did not start: ${stderr}`)), 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`S3 server exited (${String(code)}) before listening: ${stderr}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('ready ')) {
        clearTimeout(timer);
        resolve(Number(line.slice('ready '.length)));
      } else if (line.startsWith('request ')) {
        requests.push(JSON.parse(line.slice('request '.length)) as S3Request);
      }
    });
  }).catch((error: unknown) => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  });

  const pid = child.pid!;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    region,
    accessKeyId,
    secretAccessKey,
    dir,
    pid,
    requests,
    objects: () => storedObjects(join(dir, bucket)),
    pendingUploads: () => {
      const uploads = join(dir, bucket, UPLOADS);
      return existsSync(uploads) ? readdirSync(uploads).sort() : [];
    },
    env: {
      AWS_ACCESS_KEY_ID: accessKeyId,
      AWS_SECRET_ACCESS_KEY: secretAccessKey,
      AWS_REGION: region,
      // Never ask an instance-metadata address for credentials from a test.
      AWS_EC2_METADATA_DISABLED: 'true',
    },
    async stop(): Promise<void> {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        process.kill(pid, 'SIGTERM');
        const timer = setTimeout(() => {
          if (child.exitCode === null) process.kill(pid, 'SIGKILL');
        }, 5_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// The fork's layout: an object `a/b` is the file `<bucket>/a/b._S3rver_object` (beside its
// metadata), and multipart uploads in progress live in `<bucket>/._S3rver_uploads/<uploadId>/`.
const OBJECT_SUFFIX = '._S3rver_object';
const UPLOADS = '._S3rver_uploads';

function storedObjects(bucketDir: string): string[] {
  if (!existsSync(bucketDir)) return [];
  return readdirSync(bucketDir, { recursive: true, encoding: 'utf8' })
    .filter((path) => path.endsWith(OBJECT_SUFFIX) && !path.startsWith(UPLOADS))
    .map((path) => path.slice(0, -OBJECT_SUFFIX.length).split(sep).join('/'))
    .sort();
}
