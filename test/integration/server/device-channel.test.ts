import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rsaSignerFromPrivateKey } from '../../../src/core/bundle';
import { generateTestRsaKey, makeTempDir, type TempDir } from '../../helpers/bundle-fixtures';
import { DeviceSim, ReleaseDesk, makeEncryptedBundle } from '../../helpers/device-sim';
import { startTestServer, testIdentity, type TestServer } from '../../helpers/server';

/**
 * Channel self-assignment over HTTP (PROTOCOL.md §4): setChannel (POST), getChannel (PUT) and
 * listChannels (GET), and the channel a device then gets its updates from.
 */

const APP = 'com.example.channels';
const alice = testIdentity('device-channel proposer'); // TEST-ONLY
const bob = testIdentity('device-channel approver'); // TEST-ONLY
const key = generateTestRsaKey(); // TEST-ONLY bundle key
let server: TestServer;
let dir: TempDir;

beforeAll(async () => {
  dir = makeTempDir('airlock-device-channel-');
  server = await startTestServer({ admins: [alice, bob] });
  const desk = new ReleaseDesk(() => server.url, alice, bob);
  await desk.createApp(APP, key.publicKeyPem, [
    { name: 'production' },
    { name: 'beta', settings: { allowSelfSet: true } },
    { name: 'internal', settings: { public: false } },
  ]);
  const signer = rsaSignerFromPrivateKey(key.privateKey);
  await desk.release(APP, 'production', '1.1.0', await makeEncryptedBundle(dir.path, signer, 'p'));
  await desk.release(APP, 'beta', '1.2.0-beta.1', await makeEncryptedBundle(dir.path, signer, 'b'));
});

afterAll(async () => {
  await server.dispose();
  dir.cleanup();
});

function phone(): DeviceSim {
  return new DeviceSim({ baseUrl: server.url, appId: APP, publicKeyPem: key.publicKeyPem });
}

describe('/channel_self', () => {
  it('reports the default channel to a device without an override', async () => {
    expect((await phone().getChannel()).body).toEqual({
      channel: 'production',
      status: 'default',
      allowSet: false,
    });
  });

  it('lists the public channels with numeric ids', async () => {
    const { status, body } = await phone().listChannels();
    expect(status).toBe(200);
    const list = body as { id: unknown; name: string; public: boolean; allow_self_set: boolean }[];
    expect(list.map((entry) => [entry.name, entry.public, entry.allow_self_set])).toEqual([
      ['production', true, false],
      ['beta', true, true],
    ]);
    expect(list.every((entry) => typeof entry.id === 'number')).toBe(true);
  });

  it('moves a device to a self-set channel, which then serves its updates', async () => {
    const device = phone();
    expect((await device.setChannel('beta')).body).toEqual({ status: 'ok', allowSet: true });
    expect(device.defaultChannel).toBe('beta');
    expect((await device.getChannel()).body).toEqual({
      channel: 'beta',
      status: 'override',
      allowSet: true,
    });
    expect(await device.update()).toMatchObject({ result: 'installed', version: '1.2.0-beta.1' });
  });

  it('refuses channels that do not allow it, or do not exist', async () => {
    const device = phone();
    const refused = await device.setChannel('internal');
    expect(refused).toMatchObject({ status: 400, body: { error: 'channel_self_set_not_allowed' } });
    const missing = await device.setChannel('nightly');
    expect(missing).toMatchObject({ status: 400, body: { error: 'channel_not_found' } });
    expect(device.defaultChannel).toBeUndefined();
    expect(await device.update()).toMatchObject({ result: 'installed', version: '1.1.0' });
  });

  it('lets a device go back to the default channel', async () => {
    const device = phone();
    await device.setChannel('beta');
    const back = await device.setChannel('production');
    expect(back.body).toEqual({ status: 'ok', unset: true, allowSet: true });
    expect(device.defaultChannel).toBeUndefined();
  });
});
