import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rsaSignerFromPrivateKey } from '../../../src/core/bundle';
import { generateTestRsaKey, makeTempDir, type TempDir } from '../../helpers/bundle-fixtures';
import { runCli } from '../../helpers/cli';
import {
  DeviceSim,
  makeEncryptedBundle,
  ReleaseDesk,
  type BundleInfo,
} from '../../helpers/device-sim';
import { startS3Server, type S3TestServer } from '../../helpers/s3-server';
import { startTestServer, testIdentity, type TestServer } from '../../helpers/server';

/**
 * `airlock server start --bundles s3://BUCKET/PREFIX` (issue 15, item 1): the built CLI in a child
 * process keeps bundles in a real S3-protocol server (test/helpers/s3-server.ts, SigV4 checked),
 * credentials from the AWS_* variables only. An upload lands in the bucket and not in the data
 * directory; the push's content check reads it back from the bucket; a device downloads it
 * (whole, and resumed with Range) through the server and installs it with its own steps.
 */

const APP = 'com.example.s3';
const CHANNEL = 'production';
const alice = testIdentity('s3 bundles alice'); // TEST-ONLY
const bob = testIdentity('s3 bundles bob'); // TEST-ONLY
const key = generateTestRsaKey(); // TEST-ONLY bundle key

let s3: S3TestServer;
let server: TestServer;
let dir: TempDir;
let desk: ReleaseDesk;
let bundle: { path: string; info: BundleInfo };

beforeAll(async () => {
  dir = makeTempDir('airlock-s3-bundles-');
  s3 = await startS3Server();
  server = await startTestServer({
    admins: [alice, bob],
    spawn: true,
    env: { ...s3.env, AWS_EC2_METADATA_DISABLED: 'true' },
    args: [
      '--bundles',
      `s3://${s3.bucket}/airlock/bundles`,
      '--s3-endpoint',
      s3.endpoint,
      '--s3-region',
      s3.region,
    ],
  });
  desk = new ReleaseDesk(() => server.url, alice, bob);
  await desk.createApp(APP, key.publicKeyPem, [{ name: CHANNEL }]);
  bundle = await makeEncryptedBundle(dir.path, rsaSignerFromPrivateKey(key.privateKey), 's3');
}, 60_000);

afterAll(async () => {
  await server?.dispose();
  await s3?.stop();
  dir?.cleanup();
});

/** Every file under the server's data directory, relative to it. */
function dataFiles(): string[] {
  return readdirSync(server.dataDir, { recursive: true, encoding: 'utf8' });
}

describe('bundles in an S3-compatible bucket', () => {
  it('keeps an upload in the bucket, under the prefix, and not in the data directory', async () => {
    await desk.uploadBundle(bundle);
    const sha = bundle.info.encryptedSha256;
    expect(s3.objects()).toContain(`airlock/bundles/${sha.slice(0, 2)}/${sha}`);
    expect(s3.objects().some((object) => object.includes('/tmp/'))).toBe(false);
    expect(dataFiles().some((name) => name.includes(sha))).toBe(false);
    // The server itself wrote it, with SigV4 the store checks (test/helpers/s3-server.ts).
    expect(s3.requests.some((request) => request.method === 'PUT' && request.status < 300)).toBe(
      true,
    );
  });

  it('checks the bundle from the bucket at push, and a device installs it through the server', async () => {
    await desk.release(APP, CHANNEL, '1.1.0', bundle);
    const device = new DeviceSim({
      baseUrl: server.url,
      appId: APP,
      publicKeyPem: key.publicKeyPem,
      deviceId: '00000000-0000-4000-8000-000000000051',
      defaultChannel: CHANNEL,
      versionBuild: '1.0.0',
    });
    const outcome = await device.update();
    expect(outcome, JSON.stringify(outcome)).toMatchObject({
      result: 'installed',
      version: '1.1.0',
    });
  });

  it('answers a resumed download (Range) with the right bytes, and 416 past the end', async () => {
    const sha = bundle.info.encryptedSha256;
    const bytes = readFileSync(bundle.path);
    const url = `${server.url}/bundles/${sha}`;
    const partial = await fetch(url, { headers: { range: 'bytes=100-' } });
    expect(partial.status).toBe(206);
    expect(partial.headers.get('content-range')).toBe(
      `bytes 100-${bytes.length - 1}/${bytes.length}`,
    );
    expect(Buffer.from(await partial.arrayBuffer()).equals(bytes.subarray(100))).toBe(true);
    const first = await fetch(url, { headers: { range: 'bytes=0-0' } });
    expect(first.status).toBe(206);
    expect(Buffer.from(await first.arrayBuffer()).equals(bytes.subarray(0, 1))).toBe(true);
    const past = await fetch(url, { headers: { range: `bytes=${bytes.length}-` } });
    expect(past.status).toBe(416);
  });

  it('refuses --s3-* options without --bundles, naming the missing flag', async () => {
    const result = await runCli([
      'server',
      'start',
      '--data',
      join(dir.path, 'none'),
      '--s3-endpoint',
      s3.endpoint,
    ]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('--bundles s3://BUCKET/PREFIX');
  });
});

describe('bundle downloads redirected to the bucket (--bundle-redirect-seconds)', () => {
  let redirecting: TestServer;
  let redirectDesk: ReleaseDesk;

  beforeAll(async () => {
    redirecting = await startTestServer({
      admins: [alice, bob],
      spawn: true,
      env: { ...s3.env, AWS_EC2_METADATA_DISABLED: 'true' },
      args: [
        '--bundles',
        `s3://${s3.bucket}/redirected`,
        '--s3-endpoint',
        s3.endpoint,
        '--s3-region',
        s3.region,
        '--bundle-redirect-seconds',
        '600',
      ],
    });
    redirectDesk = new ReleaseDesk(() => redirecting.url, alice, bob);
    await redirectDesk.createApp(APP, key.publicKeyPem, [{ name: CHANNEL }]);
    await redirectDesk.uploadBundle(bundle);
    await redirectDesk.release(APP, CHANNEL, '1.1.0', bundle);
  }, 60_000);

  afterAll(async () => {
    await redirecting?.dispose();
  });

  it('answers GET with a 302 to a presigned URL of the bucket, and HEAD itself', async () => {
    const sha = bundle.info.encryptedSha256;
    const url = `${redirecting.url}/bundles/${sha}`;
    const answer = await fetch(url, { redirect: 'manual' });
    expect(answer.status).toBe(302);
    const location = answer.headers.get('location') ?? '';
    expect(location.startsWith(`${s3.endpoint}/${s3.bucket}/redirected/`)).toBe(true);
    expect(location).toContain('X-Amz-Signature=');
    const fromBucket = await fetch(location);
    expect(Buffer.from(await fromBucket.arrayBuffer()).equals(readFileSync(bundle.path))).toBe(
      true,
    );
    const head = await fetch(url, { method: 'HEAD', redirect: 'manual' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(bundle.info.encryptedSize));
  });

  it('still refuses a bundle no statement names, and a device installs through the redirect', async () => {
    const unnamed = '0'.repeat(64);
    const refused = await fetch(`${redirecting.url}/bundles/${unnamed}`, { redirect: 'manual' });
    expect(refused.status).toBe(404);
    const device = new DeviceSim({
      baseUrl: redirecting.url,
      appId: APP,
      publicKeyPem: key.publicKeyPem,
      deviceId: '00000000-0000-4000-8000-000000000052',
      defaultChannel: CHANNEL,
      versionBuild: '1.0.0',
    });
    const outcome = await device.update();
    expect(outcome, JSON.stringify(outcome)).toMatchObject({
      result: 'installed',
      version: '1.1.0',
    });
  });
});
