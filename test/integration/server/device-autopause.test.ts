import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  base64ToBytes,
  ed25519Verify,
  hexToBytes,
  rsaSignerFromPrivateKey,
  statementSigningBytes,
} from '../../../src/core';
import { generateTestRsaKey, makeTempDir, type TempDir } from '../../helpers/bundle-fixtures';
import {
  DeviceSim,
  ReleaseDesk,
  makeEncryptedBundle,
  mapLimit,
  seededDeviceIds,
} from '../../helpers/device-sim';
import { startTestServer, testIdentity, type TestServer } from '../../helpers/server';

/**
 * Automatic pause (DESIGN §6) over HTTP: devices install a release and report failures; once the
 * Wilson lower bound of the failure rate passes the channel's threshold, the server pauses the
 * channel with a statement it signs itself, marked `automatic: true`, and new installs stop.
 */

const APP = 'com.example.autopause';
const alice = testIdentity('device-autopause proposer'); // TEST-ONLY
const bob = testIdentity('device-autopause approver'); // TEST-ONLY
const key = generateTestRsaKey(); // TEST-ONLY bundle key
let server: TestServer;
let dir: TempDir;
let desk: ReleaseDesk;

beforeAll(async () => {
  dir = makeTempDir('airlock-device-autopause-');
  server = await startTestServer({ admins: [alice, bob] });
  desk = new ReleaseDesk(() => server.url, alice, bob);
  await desk.createApp(APP, key.publicKeyPem, [
    { name: 'production', settings: { autoPause: { failureThreshold: 0.2, minSamples: 20 } } },
  ]);
  const bundle = await makeEncryptedBundle(
    dir.path,
    rsaSignerFromPrivateKey(key.privateKey),
    'broken',
  );
  await desk.release(APP, 'production', '1.1.0', bundle);
});

afterAll(async () => {
  await server.dispose();
  dir.cleanup();
});

function phone(deviceId: string): DeviceSim {
  return new DeviceSim({
    baseUrl: server.url,
    appId: APP,
    publicKeyPem: key.publicKeyPem,
    deviceId,
  });
}

describe('automatic pause', () => {
  const ids = seededDeviceIds('device-autopause', 40);

  it('does not pause on a few early failures', async () => {
    const devices = ids.slice(0, 10).map(phone);
    await mapLimit(devices, 8, (device) => device.update());
    await mapLimit(devices.slice(0, 3), 8, (device) => device.reportBroken());
    expect((await desk.channelStatus(APP, 'production')).paused).toBe(false);
  });

  it('pauses with a server-signed automatic statement when failures spike', async () => {
    const devices = ids.slice(10, 30).map(phone);
    await mapLimit(devices, 8, (device) => device.update());
    // 30 installs; 3 + 20 update_fail → 23/53 failures: Wilson lower bound ≈ 0.31 > 0.2.
    await mapLimit(devices, 8, (device) => device.reportBroken('update_fail'));
    const status = await desk.channelStatus(APP, 'production');
    expect(status.paused).toBe(true);
    const last = (await desk.log(APP, 'production')).entries.at(-1);
    expect(last?.statement).toMatchObject({ kind: 'pause', automatic: true });
    expect(last?.approvals).toEqual([]);
    expect(last?.statement.proposer).toBe(server.serverKey.keyId);
    const signature = base64ToBytes(last?.serverSig ?? '');
    const serverKey = hexToBytes(server.serverKey.publicKey);
    expect(ed25519Verify(signature, statementSigningBytes(last!.statement), serverKey)).toBe(true);
  });

  it('stops new installs once paused', async () => {
    expect(await phone(ids[35] as string).update()).toMatchObject({
      result: 'no_update',
      error: 'channel_paused',
    });
  });
});
