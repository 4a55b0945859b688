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
 * The automatic pause (ARCHITECTURE.md "Automatic pause") is a control action taken on
 * unauthenticated input, so these tests play the attacker as well as the fleet, over HTTP, with
 * devices on distinct loopback addresses (127.0.x.y) standing for distinct networks:
 *
 * - one source inventing 200 devices, each of which first checks /updates and is handed the
 *   release, cannot pause (a source adds at most `maxDevicesPerSource` devices);
 * - 200 devices from 200 addresses, a real failure wave, pause with a server-signed statement;
 * - a device counts once however many events it sends, and only if it was handed the release;
 * - an approved resume is not undone by one event (counting restarts at the resume);
 * - `text/plain` stats (what a web page can send without a CORS preflight) are refused.
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
    {
      name: 'production',
      settings: { autoPause: { failureThreshold: 0.2, minSamples: 20, maxDevicesPerSource: 5 } },
    },
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

function phone(deviceId: string, localAddress?: string): DeviceSim {
  return new DeviceSim({
    baseUrl: server.url,
    appId: APP,
    publicKeyPem: key.publicKeyPem,
    deviceId,
    ...(localAddress === undefined ? {} : { localAddress }),
  });
}

/**
 * Checks /updates and, when handed the release, reports it broken without installing. Returns
 * whether it was handed the release (not once the channel is paused).
 */
async function checkAndFail(device: DeviceSim): Promise<boolean> {
  const check = await device.checkForUpdate();
  if (!check.available) return false;
  const { status } = await device.sendStats([device.statEvent('update_fail', '1.1.0')]);
  expect(status).toBe(200);
  return true;
}

async function paused(): Promise<boolean> {
  return (await desk.channelStatus(APP, 'production')).paused;
}

async function evidence(): Promise<{ devices: number; failures: number; since: number }> {
  const found = await server.store?.evidence(APP, 'production');
  if (found === null || found === undefined) throw new Error('no evidence for production');
  return found;
}

describe('automatic pause: what cannot steer it', () => {
  it('refuses stats a web page could send (text/plain, no preflight)', async () => {
    const device = phone(seededDeviceIds('text-plain', 1)[0] as string);
    const response = await fetch(`${server.url}/stats`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', origin: 'https://evil.example' },
      body: JSON.stringify(
        Array.from({ length: 60 }, () => device.statEvent('update_fail', '1.1.0')),
      ),
    });
    expect(response.status).toBe(415);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect((await evidence()).devices).toBe(0);
  });

  it('counts a device once, however many failures it sends in one request', async () => {
    const device = phone(seededDeviceIds('one-device', 1)[0] as string, '127.0.0.2');
    await device.checkForUpdate();
    const events = Array.from({ length: 60 }, () => device.statEvent('update_fail', '1.1.0'));
    expect((await device.sendStats(events)).status).toBe(200);
    expect(await evidence()).toMatchObject({ devices: 1, failures: 1 });
    expect(await paused()).toBe(false);
  });

  it('does not count a device that was never handed the release', async () => {
    const stranger = phone(seededDeviceIds('stranger', 1)[0] as string, '127.0.0.3');
    await stranger.sendStats([stranger.statEvent('update_fail', '1.1.0')]);
    expect(await evidence()).toMatchObject({ devices: 1, failures: 1 });
  });

  it('cannot be paused by one source inventing 200 devices that each check first', async () => {
    const invented = seededDeviceIds('one-source', 200).map((id) => phone(id, '127.0.0.4'));
    expect(await mapLimit(invented, 16, checkAndFail)).not.toContain(false);
    const after = await evidence();
    // At most 5 of the 200 count (maxDevicesPerSource); the channel keeps running.
    expect(after.devices).toBe(1 + 5);
    expect(await paused()).toBe(false);
  });
});

describe('automatic pause: a real failure wave', () => {
  it('pauses when 200 devices on 200 networks report failures', async () => {
    const fleet = seededDeviceIds('real-wave', 200).map((id, i) =>
      phone(id, `127.0.${10 + Math.floor(i / 100)}.${1 + (i % 100)}`),
    );
    await mapLimit(fleet, 16, checkAndFail);
    expect(await paused()).toBe(true);
    const last = (await desk.log(APP, 'production')).entries.at(-1);
    expect(last?.statement).toMatchObject({ kind: 'pause', automatic: true });
    expect(last?.approvals).toEqual([]);
    expect(last?.statement.proposer).toBe(server.serverKey.keyId);
    const signature = base64ToBytes(last?.serverSig ?? '');
    const serverKey = hexToBytes(server.serverKey.publicKey);
    expect(ed25519Verify(signature, statementSigningBytes(last!.statement), serverKey)).toBe(true);
    // Decided once: the log holds one automatic pause.
    const pauses = (await desk.log(APP, 'production')).entries.filter(
      (entry) => entry.statement.kind === 'pause',
    );
    expect(pauses).toHaveLength(1);
  });

  it('stops new installs once paused', async () => {
    expect(await phone(seededDeviceIds('after-pause', 1)[0] as string).update()).toMatchObject({
      result: 'no_update',
      error: 'channel_paused',
    });
  });
});

describe('automatic pause: after an approved resume', () => {
  it('is not undone by one event, nor by one source, right after the resume', async () => {
    await desk.resume(APP, 'production');
    const status = await desk.channelStatus(APP, 'production');
    expect(status.paused).toBe(false);
    expect((await evidence()).since).toBe(status.seq);
    expect(await evidence()).toMatchObject({ devices: 0, failures: 0 });
    // One device of the earlier wave (handed the release before the pause) reports again.
    const [again = ''] = seededDeviceIds('real-wave', 1);
    await phone(again, '127.0.10.1').sendStats([phone(again).statEvent('update_fail', '1.1.0')]);
    expect(await paused()).toBe(false);
    const burst = seededDeviceIds('after-resume', 50).map((id) => phone(id, '127.0.0.5'));
    expect(await mapLimit(burst, 16, checkAndFail)).not.toContain(false);
    expect(await paused()).toBe(false);
    expect((await evidence()).devices).toBeLessThanOrEqual(1 + 5);
  });
});
