import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle, encryptBundle, rsaSignerFromPrivateKey } from '../../../../src/core/bundle';
import type { BundleRef } from '../../../../src/shared/schemas';
import { handleDeviceRequest } from '../../../../src/server/routes/device';
import {
  generateTestRsaKey,
  makeTempDir,
  sampleWebBuild,
  writeTree,
  type TempDir,
  type TestRsaKey,
} from '../../../helpers/bundle-fixtures';
import { DeviceSim } from '../../../helpers/device-sim';
import { FakeStore, fakeRelease } from './fake-store';

/**
 * The device simulator against the device endpoints over an in-memory store, with a real encrypted
 * bundle: the plugin's whole install path (decrypt, V3 checksum, unzip rules) and its stats.
 */

const APP = 'com.example.sim';
let dir: TempDir;
let key: TestRsaKey;
let bundle: BundleRef;
let store: FakeStore;
let server: Server;
let base: string;

beforeAll(async () => {
  dir = makeTempDir('airlock-sim-');
  key = generateTestRsaKey(); // TEST-ONLY
  writeTree(join(dir.path, 'www'), sampleWebBuild());
  await buildBundle(join(dir.path, 'www'), join(dir.path, 'bundle.zip'));
  const signer = rsaSignerFromPrivateKey(key.privateKey);
  bundle = await encryptBundle(join(dir.path, 'bundle.zip'), join(dir.path, 'bundle.enc'), signer);
  store = new FakeStore().addApp(APP, ['production'], bundle.keyId);
  store.bundles.set(bundle.encryptedSha256, {
    path: join(dir.path, 'bundle.enc'),
    size: bundle.encryptedSize,
  });
  server = createServer((req, res) => {
    handleDeviceRequest(req, res, {
      store,
      publicUrl: () => base,
      nowMs: Date.now,
      log: () => undefined,
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  dir.cleanup();
});

function device(): DeviceSim {
  return new DeviceSim({ baseUrl: base, appId: APP, publicKeyPem: key.publicKeyPem });
}

describe('DeviceSim', () => {
  it('installs an encrypted release and reports download_complete + set as one batch', async () => {
    store.update(APP, 'production', { current: fakeRelease('1.1.0', { bundle }) });
    const sim = device();
    const outcome = await sim.update();
    expect(outcome).toEqual({ result: 'installed', version: '1.1.0', files: bundle.files });
    expect(sim.versionName).toBe('1.1.0');
    expect(sim.sentStats).toHaveLength(1);
    expect(sim.sentStats[0]?.events.map((e) => e.action)).toEqual(['download_complete', 'set']);
    expect(sim.sentStats[0]?.status).toBe(200);
    expect(await sim.update()).toMatchObject({ result: 'no_update', kind: 'up_to_date' });
  });

  it('reports checksum_fail when the checksum was signed by another key', async () => {
    const other = rsaSignerFromPrivateKey(generateTestRsaKey().privateKey); // TEST-ONLY
    const checksum = other.privateEncrypt(Buffer.from(bundle.sha256, 'hex')).toString('hex');
    store.update(APP, 'production', {
      current: fakeRelease('1.2.0', { bundle: { ...bundle, checksum } }),
    });
    expect(await device().update()).toMatchObject({ result: 'failed', stat: 'checksum_fail' });
  });

  it('reports checksum_fail when the signed checksum is of another zip', async () => {
    const signer = rsaSignerFromPrivateKey(key.privateKey);
    const checksum = signer.privateEncrypt(Buffer.alloc(32, 1)).toString('hex');
    store.update(APP, 'production', {
      current: fakeRelease('1.2.1', { bundle: { ...bundle, checksum } }),
    });
    expect(await device().update()).toMatchObject({ result: 'failed', stat: 'checksum_fail' });
  });

  it('reports decrypt_fail when the session key was wrapped by another key', async () => {
    const [iv = ''] = bundle.sessionKey.split(':');
    const wrapped = Buffer.alloc(256, 7).toString('base64');
    const tampered = { ...bundle, sessionKey: `${iv}:${wrapped}` };
    store.update(APP, 'production', { current: fakeRelease('1.3.0', { bundle: tampered }) });
    const sim = device();
    expect(await sim.update()).toMatchObject({ result: 'failed', stat: 'decrypt_fail' });
    expect(sim.sentStats[0]?.events[0]).toMatchObject({
      action: 'decrypt_fail',
      version_name: '1.3.0',
    });
  });

  it('sends download_fail for a failed answer, like the plugin', async () => {
    const sim = new DeviceSim({ baseUrl: base, appId: 'com.unknown.app' });
    expect(await sim.update()).toMatchObject({ result: 'no_update', error: 'app_not_found' });
    expect(sim.sentStats[0]?.events[0]?.action).toBe('download_fail');
  });

  it('sends the plugin User-Agent', () => {
    expect(device().headers['user-agent']).toBe(`CapacitorUpdater/8.51.14 (${APP}) android/14`);
  });
});
