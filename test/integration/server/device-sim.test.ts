import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rsaSignerFromPrivateKey } from '../../../src/core/bundle';
import {
  generateTestRsaKey,
  makeTempDir,
  type TempDir,
  type TestRsaKey,
} from '../../helpers/bundle-fixtures';
import {
  DeviceSim,
  ReleaseDesk,
  makeEncryptedBundle,
  type BundleInfo,
} from '../../helpers/device-sim';
import { startTamperProxy, type TamperProxy } from '../../helpers/tamper-proxy';
import { startTestServer, testIdentity, type TestServer } from '../../helpers/server';

/**
 * The device simulator (test/helpers/device-sim.ts) against a real server: the plugin's whole
 * install path (decrypt, V3 checksum, unzip rules) and its stats. Its failure reports need answers
 * an honest server never gives, so those come through a tampering proxy in front of it, the way a
 * compromised server or network would send them.
 */

const APP = 'com.example.sim';
const alice = testIdentity('device-sim proposer'); // TEST-ONLY
const bob = testIdentity('device-sim approver'); // TEST-ONLY
let dir: TempDir;
let key: TestRsaKey;
let bundle: BundleInfo;
let server: TestServer;
let proxy: TamperProxy;

beforeAll(async () => {
  dir = makeTempDir('airlock-sim-');
  key = generateTestRsaKey(); // TEST-ONLY
  server = await startTestServer({ admins: [alice, bob] });
  proxy = await startTamperProxy(() => server.url);
  const desk = new ReleaseDesk(() => server.url, alice, bob);
  await desk.createApp(APP, key.publicKeyPem, [{ name: 'production' }]);
  const built = await makeEncryptedBundle(dir.path, rsaSignerFromPrivateKey(key.privateKey), 'a');
  bundle = built.info;
  await desk.release(APP, 'production', '1.1.0', built);
});

afterAll(async () => {
  await proxy.close();
  await server.dispose();
  dir.cleanup();
});

function device(baseUrl = server.url): DeviceSim {
  return new DeviceSim({ baseUrl, appId: APP, publicKeyPem: key.publicKeyPem });
}

/** A device whose update checks go through the proxy, which rewrites the answer with `edit`. */
function tampered(edit: (answer: Record<string, unknown>) => Record<string, unknown>): DeviceSim {
  proxy.tamperUpdates = edit;
  return device(proxy.url);
}

describe('DeviceSim', () => {
  it('installs an encrypted release and reports download_complete + set as one batch', async () => {
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
    const sim = tampered((answer) => ({ ...answer, checksum }));
    expect(await sim.update()).toMatchObject({ result: 'failed', stat: 'checksum_fail' });
  });

  it('reports checksum_fail when the signed checksum is of another zip', async () => {
    const signer = rsaSignerFromPrivateKey(key.privateKey);
    const checksum = signer.privateEncrypt(Buffer.alloc(32, 1)).toString('hex');
    const sim = tampered((answer) => ({ ...answer, checksum }));
    expect(await sim.update()).toMatchObject({ result: 'failed', stat: 'checksum_fail' });
  });

  it('reports decrypt_fail when the session key was wrapped by another key', async () => {
    const [iv = ''] = bundle.sessionKey.split(':');
    const wrapped = Buffer.alloc(256, 7).toString('base64');
    const sim = tampered((answer) => ({ ...answer, session_key: `${iv}:${wrapped}` }));
    expect(await sim.update()).toMatchObject({ result: 'failed', stat: 'decrypt_fail' });
    expect(sim.sentStats[0]?.events[0]).toMatchObject({
      action: 'decrypt_fail',
      version_name: '1.1.0',
    });
  });

  it('sends download_fail for a failed answer, like the plugin', async () => {
    proxy.tamperUpdates = null;
    const sim = new DeviceSim({ baseUrl: server.url, appId: 'com.unknown.app' });
    expect(await sim.update()).toMatchObject({ result: 'no_update', error: 'app_not_found' });
    expect(sim.sentStats[0]?.events[0]?.action).toBe('download_fail');
  });

  it('sends the plugin User-Agent', () => {
    expect(device().headers['user-agent']).toBe(`CapacitorUpdater/8.51.14 (${APP}) android/14`);
  });
});
