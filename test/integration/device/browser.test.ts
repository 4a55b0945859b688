import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rsaSignerFromPrivateKey } from '../../../src/core/bundle';
import { generateTestRsaKey, makeTempDir, type TempDir } from '../../helpers/bundle-fixtures';
import { openDevicePage, type DevicePage } from '../../helpers/device-page';
import { serverTrustBundle, SimUpdater } from '../../helpers/device-log';
import {
  DeviceSim,
  makeEncryptedBundle,
  ReleaseDesk,
  type BundleInfo,
} from '../../helpers/device-sim';
import { startTamperProxy, type TamperProxy } from '../../helpers/tamper-proxy';
import { startTestServer, testIdentity, type TestServer } from '../../helpers/server';

/**
 * The built `out/device` bundle in Chromium (ARCHITECTURE.md §11): a page standing in for the app's WebView,
 * on its own origin, runs the guard against a real server (cross-origin, as in an app); the plugin
 * bridge stand-in downloads and opens each bundle with the device simulator's steps. A legitimate
 * release installs, a rollback is followed, a tampered log is refused.
 */

const APP = 'com.example.webview';
const CHANNEL = 'production';
const alice = testIdentity('guard-browser alice'); // TEST-ONLY
const bob = testIdentity('guard-browser bob'); // TEST-ONLY
const key = generateTestRsaKey(); // TEST-ONLY bundle key
let dir: TempDir;
let server: TestServer;
let proxy: TamperProxy;
let desk: ReleaseDesk;
let sim: DeviceSim;
let device: DevicePage;
let bundles: Record<'a' | 'b', { path: string; info: BundleInfo }>;

beforeAll(async () => {
  dir = makeTempDir('airlock-guard-browser-');
  const signer = rsaSignerFromPrivateKey(key.privateKey);
  bundles = {
    a: await makeEncryptedBundle(dir.path, signer, 'a'),
    b: await makeEncryptedBundle(dir.path, signer, 'b'),
  };
  server = await startTestServer({ admins: [alice, bob] });
  desk = new ReleaseDesk(() => server.url, alice, bob);
  await desk.createApp(APP, key.publicKeyPem, [{ name: CHANNEL }]);
  proxy = await startTamperProxy(() => server.url);
  sim = new DeviceSim({ baseUrl: server.url, appId: APP, publicKeyPem: key.publicKeyPem });
  device = await openDevicePage(new SimUpdater(sim));
  const trust = await serverTrustBundle(server.url, APP, alice);
  await device.makeGuard({ server: proxy.url, app: APP, channel: CHANNEL, trust });
});

afterAll(async () => {
  await device?.close();
  await proxy?.close();
  await server?.dispose();
  dir?.cleanup();
});

describe('the device guard in Chromium', () => {
  it('fetches the public reads cross-origin (the server allows any origin to read them)', async () => {
    const response = await fetch(`${server.url}/api/v1/root`);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    const signed = await fetch(`${server.url}/api/v1/statements/${'0'.repeat(64)}`);
    expect(signed.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('installs a legitimate release', async () => {
    const first = await desk.release(APP, CHANNEL, '1.0.1', bundles.a);
    expect((await device.check()).result).toEqual({ action: 'installed', version: '1.0.1' });
    expect(sim.versionName).toBe('1.0.1');
    expect((await device.check()).result).toMatchObject({ action: 'up_to_date', version: '1.0.1' });
    await desk.release(APP, CHANNEL, '1.1.0', bundles.b);
    expect((await device.check()).result).toEqual({ action: 'installed', version: '1.1.0' });
    // A rollback is followed: the device goes back down to exactly the target.
    await desk.rollback(APP, CHANNEL, first);
    expect((await device.check()).result).toEqual({ action: 'installed', version: '1.0.1' });
    expect(sim.versionName).toBe('1.0.1');
  });

  it('refuses a tampered log and keeps its state, then follows the honest log again', async () => {
    await desk.release(APP, CHANNEL, '1.2.0', bundles.b);
    proxy.tamper = (page) => ({
      ...page,
      entries: page.entries.map((entry) =>
        entry.statement.kind === 'release'
          ? {
              ...entry,
              statement: {
                ...entry.statement,
                release: { ...entry.statement.release, notes: 'edited on the way' },
              },
            }
          : entry,
      ),
    });
    const stored = await device.page.evaluate(() =>
      JSON.stringify((globalThis as unknown as { localStorage: object }).localStorage),
    );
    expect((await device.check()).result).toMatchObject({ action: 'refused', code: 'LOG_INVALID' });
    expect(sim.versionName).toBe('1.0.1');
    expect(
      await device.page.evaluate(() =>
        JSON.stringify((globalThis as unknown as { localStorage: object }).localStorage),
      ),
    ).toBe(stored);
    proxy.tamper = null;
    expect((await device.check()).result).toEqual({ action: 'installed', version: '1.2.0' });
  });
});
