import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rsaSignerFromPrivateKey } from '../../../src/core';
import { OTHER_VERSION } from '../../../src/server/device/stats';
import { wilsonLowerBound } from '../../../src/server/device/wilson';
import { ChannelHealthSchema, type ChannelHealth } from '../../../src/shared/schemas/server-api';
import { generateTestRsaKey, makeTempDir, type TempDir } from '../../helpers/bundle-fixtures';
import {
  DeviceSim,
  ReleaseDesk,
  makeEncryptedBundle,
  mapLimit,
  seededDeviceIds,
} from '../../helpers/device-sim';
import {
  addMembers,
  callApi,
  startTestServer,
  testIdentity,
  type TestServer,
} from '../../helpers/server';

/**
 * `GET /api/v1/apps/<app>/channels/<channel>/health` over real HTTP (ARCHITECTURE.md §6 stats, §7 health
 * charts): devices report installs and failures to `POST /stats` at different hours of the server's
 * clock, then a member reads adoption and failures per released version, hour by hour.
 */

const APP = 'com.example.health';
const HOUR = 3_600_000;
const alice = testIdentity('health proposer'); // TEST-ONLY
const bob = testIdentity('health approver'); // TEST-ONLY
const audrey = testIdentity('health auditor'); // TEST-ONLY
const key = generateTestRsaKey(); // TEST-ONLY bundle key

/** Server clock = real clock + offset; admin calls run at offset 0 (signatures allow 5 min). */
let offset = 0;
let server: TestServer;
let dir: TempDir;
/** The hour the test started in; the stats hours below are relative to it. */
let thisHour = 0;

/** Moves the server's clock to the middle of `hoursAgo` hours before `thisHour`. */
function serverAt(hoursAgo: number): number {
  const target = thisHour - hoursAgo * HOUR;
  offset = target + HOUR / 2 - Date.now();
  return target;
}

function phone(index: number, channel?: string): DeviceSim {
  return new DeviceSim({
    baseUrl: server.url,
    appId: APP,
    publicKeyPem: key.publicKeyPem,
    deviceId: seededDeviceIds('health', 40)[index],
    ...(channel === undefined ? {} : { defaultChannel: channel }),
  });
}

/** One device posts `action` about `version`, `times` times in one batch, as the plugin flushes. */
async function report(device: DeviceSim, version: string, action: string, times = 1) {
  const answer = await device.sendStats(
    Array.from({ length: times }, () => device.statEvent(action, version)),
  );
  expect(answer.status).toBe(200);
}

function health<T = ChannelHealth>(query = '', signer = alice, channel = 'production') {
  return callApi<T>(server.url, `/api/v1/apps/${APP}/channels/${channel}/health${query}`, {
    signer,
  });
}

const hourIso = (time: number): string => new Date(time).toISOString();

beforeAll(async () => {
  thisHour = Math.floor(Date.now() / HOUR) * HOUR;
  dir = makeTempDir('airlock-health-');
  server = await startTestServer({
    admins: [alice, bob],
    now: () => new Date(Date.now() + offset),
  });
  await addMembers(server.url, [alice], [{ signer: audrey, roles: ['auditor'] }]);
  const desk = new ReleaseDesk(() => server.url, alice, bob);
  await desk.createApp(APP, key.publicKeyPem, [
    // A sample floor out of reach: these failures must be counted, not pause the channel.
    { name: 'production', settings: { autoPause: { failureThreshold: 0.2, minSamples: 1000 } } },
    { name: 'beta', settings: { autoPause: null } },
  ]);
  const signer = rsaSignerFromPrivateKey(key.privateKey);
  await desk.release(APP, 'production', '1.0.0', await makeEncryptedBundle(dir.path, signer, 'a'));
  await desk.release(APP, 'production', '1.1.0', await makeEncryptedBundle(dir.path, signer, 'b'));

  // 50 hours ago (inside 7 days, outside 24 h): five installs of 1.0.0.
  serverAt(50);
  await report(phone(0), '1.0.0', 'set', 5);
  // Two hours ago: 1.0.0 3 installs + 1 failure; 1.1.0 4 installs + 2 crashes; noise that must not
  // count: progress events, a version no release named, and 1.1.0 reported on another channel.
  serverAt(2);
  await report(phone(1), '1.0.0', 'set', 3);
  await report(phone(1), '1.0.0', 'update_fail');
  await report(phone(2), '1.1.0', 'set', 4);
  await report(phone(2), '1.1.0', 'app_crash', 2);
  await report(phone(2), '1.1.0', 'download_complete', 7);
  await report(phone(3), '9.9.9', 'set', 11);
  await report(phone(4, 'beta'), '1.1.0', 'set', 13);
  // This hour: six real installs of 1.1.0 (update → download → verify → set), then failures.
  serverAt(0);
  const installs = await mapLimit([10, 11, 12, 13, 14, 15], 6, (index) => phone(index).update());
  expect(installs.map((outcome) => outcome.result)).toEqual(Array(6).fill('installed'));
  const broken = phone(16);
  broken.versionName = '1.1.0'; // it installed 1.1.0, which then failed to start
  expect(await broken.reportBroken('update_fail')).toBe(200);
  await report(phone(17), '1.1.0', 'checksum_fail');
  offset = 0;
});

afterAll(async () => {
  await server?.dispose();
  dir?.cleanup();
});

describe('GET /api/v1/apps/<app>/channels/<channel>/health', () => {
  it('reports totals since each release and the hourly series of the last 7 days by default', async () => {
    const { status, json } = await health();
    expect(status).toBe(200);
    const parsed = ChannelHealthSchema.parse(json);
    expect(parsed).toMatchObject({
      app: APP,
      channel: 'production',
      hours: 168,
      since: hourIso(thisHour - 167 * HOUR),
      currentVersion: '1.1.0',
      failureThreshold: 0.2,
      minSamples: 1000,
    });
    expect(parsed.versions).toEqual([
      {
        version: '1.0.0',
        totals: {
          successes: 8,
          failures: 1,
          successRate: 8 / 9,
          failureLowerBound: wilsonLowerBound(1, 9),
        },
        series: [
          { hour: hourIso(thisHour - 50 * HOUR), successes: 5, failures: 0 },
          { hour: hourIso(thisHour - 2 * HOUR), successes: 3, failures: 1 },
        ],
      },
      {
        version: '1.1.0',
        totals: {
          successes: 10,
          failures: 4,
          successRate: 10 / 14,
          failureLowerBound: wilsonLowerBound(4, 14),
        },
        series: [
          { hour: hourIso(thisHour - 2 * HOUR), successes: 4, failures: 2 },
          { hour: hourIso(thisHour), successes: 6, failures: 2 },
        ],
      },
    ]);
  });

  it('narrows the series to the window, keeping the totals since the release', async () => {
    const day = await health('?hours=24');
    expect(day.status).toBe(200);
    expect(day.json.since).toBe(hourIso(thisHour - 23 * HOUR));
    expect(day.json.versions.map((version) => version.series.map((point) => point.hour))).toEqual([
      [hourIso(thisHour - 2 * HOUR)],
      [hourIso(thisHour - 2 * HOUR), hourIso(thisHour)],
    ]);
    expect(day.json.versions[0]?.totals.successes).toBe(8);

    const hour = await health('?hours=1');
    expect(hour.json.versions.map((version) => version.series)).toEqual([
      [],
      [{ hour: hourIso(thisHour), successes: 6, failures: 2 }],
    ]);
  });

  it('answers any member of the trust root (an auditor here)', async () => {
    const { status, json } = await health('?hours=720', audrey);
    expect(status).toBe(200);
    expect(json.hours).toBe(720);
    expect(json.versions).toHaveLength(2);
  });

  it('reports a channel without releases, with automatic pause off, as empty', async () => {
    const { status, json } = await health('', alice, 'beta');
    expect(status).toBe(200);
    expect(json).toMatchObject({
      channel: 'beta',
      currentVersion: null,
      failureThreshold: null,
      minSamples: null,
      versions: [],
    });
  });

  it('refuses an hours value outside 1..720', async () => {
    for (const query of ['?hours=0', '?hours=721', '?hours=abc', '?hours=-1', '?hours=1.5']) {
      const { status, json } = await health<{ error: string }>(query);
      expect({ query, status, error: json.error }).toEqual({
        query,
        status: 400,
        error: 'INVALID_INPUT',
      });
    }
  });

  it('answers 404 for an unknown channel or app', async () => {
    const channel = await health<{ error: string }>('', alice, 'nightly');
    expect(channel.status).toBe(404);
    expect(channel.json.error).toBe('NOT_FOUND');
    const app = await callApi(
      server.url,
      '/api/v1/apps/com.example.nope/channels/production/health',
      {
        signer: alice,
      },
    );
    expect(app.status).toBe(404);
    expect(app.json.error).toBe('NOT_FOUND');
  });

  it('counts stats about versions the channel never released under one bucket', async () => {
    // version_name comes from unauthenticated devices: 200 made-up names must not make 200 rows.
    const device = phone(20);
    const answer = await device.sendStats(
      Array.from({ length: 200 }, (_, index) => device.statEvent('set', `made-up-${index}`)),
    );
    expect(answer.status).toBe(200);
    const versions = (
      await server.query<{ version: string }>(
        'SELECT DISTINCT version FROM stats WHERE app = ? ORDER BY version',
        [APP],
      )
    ).map((row) => row.version);
    expect(versions).toEqual([OTHER_VERSION, '1.0.0', '1.1.0']);
  });

  it('refuses an unsigned request (401)', async () => {
    const { status, json } = await callApi(
      server.url,
      `/api/v1/apps/${APP}/channels/production/health`,
    );
    expect(status).toBe(401);
    expect(json.error).toBe('SIGNATURE_MISSING');
  });
});
