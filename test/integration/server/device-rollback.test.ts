import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rsaSignerFromPrivateKey } from '../../../src/core/bundle';
import { generateTestRsaKey, makeTempDir, type TempDir } from '../../helpers/bundle-fixtures';
import {
  DeviceSim,
  ReleaseDesk,
  makeEncryptedBundle,
  type BundleInfo,
} from '../../helpers/device-sim';
import { startTestServer, testIdentity, type TestServer } from '../../helpers/server';

/**
 * Rollback and minNativeVersion over HTTP (ARCHITECTURE.md §3, §6): a rollback moves a device on the newer
 * release back to the older one, and a release that needs a newer native shell is blocked
 * (`disable_auto_update_under_native`) for devices with an older `version_build`.
 */

const APP = 'com.example.rollback';
const alice = testIdentity('device-rollback proposer'); // TEST-ONLY
const bob = testIdentity('device-rollback approver'); // TEST-ONLY
const key = generateTestRsaKey(); // TEST-ONLY bundle key
let server: TestServer;
let dir: TempDir;
let desk: ReleaseDesk;
let bundles: Record<'a' | 'b' | 'native', { path: string; info: BundleInfo }>;

beforeAll(async () => {
  dir = makeTempDir('airlock-device-rollback-');
  server = await startTestServer({ admins: [alice, bob] });
  desk = new ReleaseDesk(() => server.url, alice, bob);
  await desk.createApp(APP, key.publicKeyPem, [{ name: 'production' }, { name: 'native' }]);
  const signer = rsaSignerFromPrivateKey(key.privateKey);
  bundles = {
    a: await makeEncryptedBundle(dir.path, signer, 'a'),
    b: await makeEncryptedBundle(dir.path, signer, 'b'),
    native: await makeEncryptedBundle(dir.path, signer, 'native'),
  };
});

afterAll(async () => {
  await server.dispose();
  dir.cleanup();
});

function phone(options: { versionBuild?: string; defaultChannel?: string } = {}): DeviceSim {
  return new DeviceSim({
    baseUrl: server.url,
    appId: APP,
    publicKeyPem: key.publicKeyPem,
    ...options,
  });
}

describe('rollback', () => {
  it('moves a device on the newer release back to the older one', async () => {
    const first = await desk.release(APP, 'production', '1.1.0', bundles.a);
    const device = phone();
    expect(await device.update()).toMatchObject({ result: 'installed', version: '1.1.0' });
    await desk.release(APP, 'production', '1.2.0', bundles.b);
    expect(await device.update()).toMatchObject({ result: 'installed', version: '1.2.0' });

    await desk.rollback(APP, 'production', first);
    const status = await desk.channelStatus(APP, 'production');
    expect(status).toMatchObject({ rolledBack: true, current: { version: '1.1.0' } });
    expect(await device.update()).toMatchObject({ result: 'installed', version: '1.1.0' });
    expect(device.versionName).toBe('1.1.0');
    expect(await device.update()).toMatchObject({ error: 'no_new_version_available' });
  });

  it('gives the rolled-back release to new devices', async () => {
    expect(await phone().update()).toMatchObject({ result: 'installed', version: '1.1.0' });
  });

  it('records the rollback in the public log with its approval', async () => {
    const log = await desk.log(APP, 'production');
    const last = log.entries.at(-1);
    expect(last?.statement.kind).toBe('rollback');
    expect(last?.approvals.map((approval) => approval.keyId)).toEqual([bob.keyId]);
  });
});

describe('minNativeVersion', () => {
  beforeAll(async () => {
    await desk.release(APP, 'native', '2.5.0', bundles.native, { minNativeVersion: '2.0.0' });
  });

  it('blocks devices with an older native version', async () => {
    const old = phone({ versionBuild: '1.9.9', defaultChannel: 'native' });
    expect(await old.update()).toMatchObject({
      result: 'no_update',
      kind: 'blocked',
      error: 'disable_auto_update_under_native',
    });
    expect(old.versionName).toBe('builtin');
  });

  it('installs on devices at or above it', async () => {
    for (const versionBuild of ['2.0.0', '2.1.3']) {
      const device = phone({ versionBuild, defaultChannel: 'native' });
      expect(await device.update()).toMatchObject({ result: 'installed', version: '2.5.0' });
    }
  });

  it('never downgrades a device whose native bundle is newer', async () => {
    const newer = phone({ versionBuild: '3.0.0', defaultChannel: 'native' });
    expect(await newer.update()).toMatchObject({ error: 'no_new_version_available' });
  });
});
