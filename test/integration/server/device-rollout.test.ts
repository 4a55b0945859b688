import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rsaSignerFromPrivateKey } from '../../../src/core/bundle';
import { generateTestRsaKey, makeTempDir, type TempDir } from '../../helpers/bundle-fixtures';
import {
  DeviceSim,
  ReleaseDesk,
  makeEncryptedBundle,
  mapLimit,
  seededDeviceIds,
  type UpdateCheck,
} from '../../helpers/device-sim';
import { startTestServer, testIdentity, type TestServer } from '../../helpers/server';

/**
 * Rollout cohorts, pause and resume over HTTP (ARCHITECTURE.md §6). 10,000 simulated devices ask the real
 * server; each answer must match the cohort rule computed here independently, about P % must get
 * the release, and a device gets the same answer every time.
 */

const APP = 'com.example.rollout';
const DEVICES = 10_000;
const CONCURRENCY = 32;
const alice = testIdentity('device-rollout proposer'); // TEST-ONLY
const bob = testIdentity('device-rollout approver'); // TEST-ONLY
const key = generateTestRsaKey(); // TEST-ONLY bundle key
const ids = seededDeviceIds('device-rollout', DEVICES);
let server: TestServer;
let dir: TempDir;
let desk: ReleaseDesk;
let releaseId: string;

beforeAll(async () => {
  dir = makeTempDir('airlock-device-rollout-');
  server = await startTestServer({ admins: [alice, bob] });
  desk = new ReleaseDesk(() => server.url, alice, bob);
  await desk.createApp(APP, key.publicKeyPem, [{ name: 'production' }]);
  const bundle = await makeEncryptedBundle(dir.path, rsaSignerFromPrivateKey(key.privateKey), 'r');
  releaseId = await desk.release(APP, 'production', '1.1.0', bundle, { percent: 30 });
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

/** ARCHITECTURE.md §6, written out here rather than imported: uint32be(sha256(id:statement)[0..4]) mod 10000. */
function expectedIn(deviceId: string, percent: number): boolean {
  const digest = createHash('sha256').update(`${deviceId}:${releaseId}`).digest();
  return digest.readUInt32BE(0) % 10_000 < percent * 100;
}

async function checkAll(deviceIds: readonly string[]): Promise<UpdateCheck[]> {
  return mapLimit(deviceIds, CONCURRENCY, (id) => phone(id).checkForUpdate());
}

function installs(checks: readonly UpdateCheck[]): boolean[] {
  return checks.map((check) => check.available);
}

describe('rollout cohorts', () => {
  let first: boolean[];

  it('gives a 30 % release to about 30 % of 10,000 devices, exactly per the cohort rule', async () => {
    const checks = await checkAll(ids);
    expect(checks.every((check) => check.status === 200)).toBe(true);
    first = installs(checks);
    const share = first.filter(Boolean).length / DEVICES;
    expect(share).toBeGreaterThan(0.28);
    expect(share).toBeLessThan(0.32);
    const mismatches = ids.filter((id, i) => first[i] !== expectedIn(id, 30));
    expect(mismatches).toEqual([]);
    const outside = checks.find((check) => !check.available);
    expect(outside?.body).toMatchObject({ error: 'no_new_version_available', kind: 'up_to_date' });
  });

  it('gives each device the same answer every time', async () => {
    const again = installs(await checkAll(ids.slice(0, 2000)));
    expect(again).toEqual(first.slice(0, 2000));
  });

  it('only adds devices when the rollout grows to 60 %', async () => {
    await desk.rollout(APP, 'production', 60);
    const now = installs(await checkAll(ids));
    const share = now.filter(Boolean).length / DEVICES;
    expect(share).toBeGreaterThan(0.58);
    expect(share).toBeLessThan(0.62);
    expect(ids.filter((_, i) => first[i] === true && now[i] !== true)).toEqual([]);
    expect(ids.filter((id, i) => now[i] !== expectedIn(id, 60))).toEqual([]);
  });
});

describe('pause and resume', () => {
  const inCohort = (): string => ids.find((id) => expectedIn(id, 60)) as string;

  it('stops new installs while paused, and leaves installed devices alone', async () => {
    const installed = phone(inCohort());
    expect(await installed.update()).toMatchObject({ result: 'installed', version: '1.1.0' });
    await desk.pause(APP, 'production');
    const fresh = phone(ids.filter((id) => expectedIn(id, 60))[1] as string);
    expect(await fresh.update()).toMatchObject({
      result: 'no_update',
      kind: 'up_to_date',
      error: 'channel_paused',
    });
    expect(await installed.update()).toMatchObject({ error: 'no_new_version_available' });
    expect((await desk.channelStatus(APP, 'production')).paused).toBe(true);
  });

  it('installs again after a resume', async () => {
    await desk.resume(APP, 'production');
    const fresh = phone(ids.filter((id) => expectedIn(id, 60))[1] as string);
    expect(await fresh.update()).toMatchObject({ result: 'installed', version: '1.1.0' });
  });
});
