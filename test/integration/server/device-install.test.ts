import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rsaSignerFromPrivateKey } from '../../../src/core/bundle';
import { generateTestRsaKey, makeTempDir, type TempDir } from '../../helpers/bundle-fixtures';
import {
  DeviceSim,
  ReleaseDesk,
  makeEncryptedBundle,
  type BundleInfo,
} from '../../helpers/device-sim';
import { runCli } from '../../helpers/cli';
import { startNginx } from '../../helpers/nginx';
import { freePort, startTestServer, testIdentity, type TestServer } from '../../helpers/server';

/**
 * A stock-plugin device against the real server over loopback HTTP (ARCHITECTURE.md §10): two people
 * release an encrypted bundle; the device checks, downloads, decrypts, verifies the V3 checksum,
 * applies the unzip rules and reports its install; the server counts it.
 */

const APP = 'com.example.install';
const alice = testIdentity('device-install proposer'); // TEST-ONLY
const bob = testIdentity('device-install approver'); // TEST-ONLY
const key = generateTestRsaKey(); // TEST-ONLY bundle key
let server: TestServer;
let dir: TempDir;
let desk: ReleaseDesk;
let v1: { path: string; info: BundleInfo };

beforeAll(async () => {
  dir = makeTempDir('airlock-device-install-');
  server = await startTestServer({ admins: [alice, bob] });
  desk = new ReleaseDesk(() => server.url, alice, bob);
  await desk.createApp(APP, key.publicKeyPem, [{ name: 'production' }]);
  v1 = await makeEncryptedBundle(dir.path, rsaSignerFromPrivateKey(key.privateKey), 'v1');
});

afterAll(async () => {
  await server.dispose();
  dir.cleanup();
});

function phone(): DeviceSim {
  return new DeviceSim({ baseUrl: server.url, appId: APP, publicKeyPem: key.publicKeyPem });
}

describe('install over HTTP', () => {
  it('answers no_release before anything is released', async () => {
    expect(await phone().update()).toMatchObject({ result: 'no_update', error: 'no_release' });
  });

  it('installs an approved release and counts the install', async () => {
    await desk.release(APP, 'production', '1.1.0', v1);
    const device = phone();
    expect(await device.update()).toEqual({
      result: 'installed',
      version: '1.1.0',
      files: v1.info.files,
    });
    expect(device.sentStats.map((batch) => batch.status)).toEqual([200]);
    expect(await device.update()).toMatchObject({
      result: 'no_update',
      kind: 'up_to_date',
      error: 'no_new_version_available',
    });
    // The install counts once as evidence for the automatic pause (the device was handed it).
    expect(await server.store?.evidence(APP, 'production')).toMatchObject({
      devices: 1,
      successes: 1,
      failures: 0,
    });
  });

  it('serves the bundle URL it announces, with resume support', async () => {
    const check = await phone().checkForUpdate();
    const url = check.body.url as string;
    expect(url).toBe(`${server.url}/bundles/${v1.info.encryptedSha256}`);
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.headers.get('content-length')).toBe(String(v1.info.encryptedSize));
    expect(head.headers.get('etag')).toBe(`"${v1.info.encryptedSha256}"`);
    const tail = await fetch(url, { headers: { range: 'bytes=16-' } });
    expect(tail.status).toBe(206);
    expect((await tail.arrayBuffer()).byteLength).toBe(v1.info.encryptedSize - 16);
  });

  it('blocks a device whose public key differs (key_id_mismatch)', async () => {
    const other = generateTestRsaKey(); // TEST-ONLY
    const device = new DeviceSim({
      baseUrl: server.url,
      appId: APP,
      publicKeyPem: other.publicKeyPem,
    });
    expect(await device.update()).toMatchObject({
      result: 'no_update',
      kind: 'blocked',
      error: 'key_id_mismatch',
    });
  });
});

describe('bundles through a CDN (--bundle-base-url)', () => {
  it('announces bundle URLs on the CDN, which fetches them from the server', async () => {
    // nginx stands in for the CDN: its origin is the server, so only servable bundles exist.
    const port = await freePort();
    const cdn = await startNginx({ upstreams: [`http://127.0.0.1:${port}`] });
    const behind = await startTestServer({
      admins: [alice, bob],
      spawn: true,
      port,
      args: ['--bundle-base-url', `${cdn.url}/`],
    });
    try {
      const cdnDesk = new ReleaseDesk(() => behind.url, alice, bob);
      await cdnDesk.createApp(APP, key.publicKeyPem, [{ name: 'production' }]);
      await cdnDesk.release(APP, 'production', '1.1.0', v1);
      const device = new DeviceSim({
        baseUrl: behind.url,
        appId: APP,
        publicKeyPem: key.publicKeyPem,
      });
      const check = await device.checkForUpdate();
      expect(check.body.url).toBe(`${cdn.url}/bundles/${v1.info.encryptedSha256}`);
      expect(await device.update()).toMatchObject({ result: 'installed', version: '1.1.0' });
      expect(cdn.accessLog()).toContain(`GET /bundles/${v1.info.encryptedSha256}`);
    } finally {
      await behind.dispose();
      await cdn.stop();
    }
  });

  it('refuses a base URL that is not http(s)', async () => {
    const refused = await runCli([
      'server',
      'start',
      '--data',
      server.dataDir,
      '--bundle-base-url',
      'ftp://cdn.example.com',
    ]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/--bundle-base-url must be a URL/);
  });
});
