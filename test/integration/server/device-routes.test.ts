import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calcKeyId, rsaSignerFromPrivateKey } from '../../../src/core/bundle';
import { generateTestRsaKey, makeTempDir, type TempDir } from '../../helpers/bundle-fixtures';
import {
  ReleaseDesk,
  makeEncryptedBundle,
  seededDeviceIds,
  type BundleInfo,
} from '../../helpers/device-sim';
import { startTestServer, testIdentity, type TestServer } from '../../helpers/server';

/**
 * The device endpoints of a real server (in process, over loopback): shapes of every answer, error
 * codes, limits, security headers and the per-request log (PROTOCOL.md §3–6).
 */

const APP = 'com.example.routes';
const alice = testIdentity('device-routes proposer'); // TEST-ONLY
const bob = testIdentity('device-routes approver'); // TEST-ONLY
const key = generateTestRsaKey(); // TEST-ONLY bundle key
const [DEVICE = '', OTHER = '', REPEAT = ''] = seededDeviceIds('device-routes', 3);
const INFO = {
  platform: 'android',
  device_id: DEVICE,
  app_id: APP,
  version_build: '1.0.0',
  version_code: '10',
  version_os: '14',
  version_name: 'builtin',
  plugin_version: '8.51.14',
  is_emulator: false,
  is_prod: true,
  key_id: calcKeyId(key.publicKeyPem),
};

let dir: TempDir;
let server: TestServer;
let desk: ReleaseDesk;
let release: BundleInfo;
let bytes: Buffer;
const logs: Record<string, unknown>[] = [];

beforeAll(async () => {
  dir = makeTempDir('airlock-device-routes-');
  server = await startTestServer({
    admins: [alice, bob],
    logger: (line) => logs.push(JSON.parse(line) as Record<string, unknown>),
    start: { deviceLimits: { updatesPerDevice: { burst: 10, perSecond: 0.01 } } },
  });
  desk = new ReleaseDesk(() => server.url, alice, bob);
  await desk.createApp(APP, key.publicKeyPem, [
    { name: 'production' },
    { name: 'beta', settings: { allowSelfSet: true } },
    { name: 'hidden', settings: { public: false } },
  ]);
  const signer = rsaSignerFromPrivateKey(key.privateKey);
  const bundle = await makeEncryptedBundle(dir.path, signer, 'routes');
  release = bundle.info;
  bytes = readFileSync(bundle.path);
  await desk.release(APP, 'production', '1.4.2', bundle);
});

afterAll(async () => {
  await server.dispose();
  dir.cleanup();
});

async function post(path: string, body: unknown, method = 'POST'): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function json(response: Response): Promise<Record<string, unknown>> {
  return (await response.json()) as Record<string, unknown>;
}

/** The log lines written for requests to `path` since `from`. */
function logged(path: string, from: number): Record<string, unknown>[] {
  return logs.slice(from).filter((line) => line.path === path);
}

describe('POST /updates', () => {
  it('answers the release in the plugin format (PROTOCOL.md §3.1)', async () => {
    const from = logs.length;
    const response = await post('/updates', INFO);
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({
      version: '1.4.2',
      url: `${server.url}/bundles/${release.encryptedSha256}`,
      session_key: release.sessionKey,
      checksum: release.checksum,
    });
    const [line] = logged('/updates', from);
    expect(line).toMatchObject({ method: 'POST', path: '/updates', status: 200 });
    expect(typeof line?.ms).toBe('number');
  });

  it('sends nosniff and a deny-all CSP with every answer', async () => {
    for (const response of [await post('/updates', INFO), await post('/updates', '{bad')]) {
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
      await response.arrayBuffer();
    }
  });

  it('answers "no update" as HTTP 200 {error, message, kind} (§3.2)', async () => {
    const response = await post('/updates', { ...INFO, version_name: '1.4.2' });
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({
      error: 'no_new_version_available',
      message: expect.any(String) as string,
      kind: 'up_to_date',
    });
  });

  it('falls back to the default channel for an unknown defaultChannel', async () => {
    const response = await post('/updates', { ...INFO, defaultChannel: 'nope' });
    expect(await json(response)).toMatchObject({ version: '1.4.2' });
    const beta = await post('/updates', { ...INFO, defaultChannel: 'beta' });
    expect(await json(beta)).toMatchObject({ error: 'no_release', kind: 'up_to_date' });
  });

  it('answers app_not_found for an unknown app', async () => {
    const response = await post('/updates', { ...INFO, app_id: 'com.other.app' });
    expect(await json(response)).toMatchObject({ error: 'app_not_found', kind: 'failed' });
  });

  it('rejects bad input with 4xx JSON', async () => {
    const cases: [unknown, number, string][] = [
      ['{not json', 400, 'invalid_json'],
      ['', 400, 'invalid_json'],
      [[INFO], 400, 'invalid_body'],
      [{ ...INFO, device_id: 'x' }, 400, 'invalid_device_id'],
      [{ ...INFO, custom_id: 'x'.repeat(20_000) }, 413, 'body_too_large'],
    ];
    for (const [body, status, code] of cases) {
      const response = await post('/updates', body);
      expect(response.status).toBe(status);
      expect(await json(response)).toMatchObject({
        error: code,
        message: expect.any(String) as unknown,
      });
    }
  });

  it('takes JSON only: a page cannot post a simple (text/plain) request', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data']) {
      const response = await fetch(`${server.url}/updates`, {
        method: 'POST',
        headers: { 'content-type': type, origin: 'https://evil.example' },
        body: JSON.stringify(INFO),
      });
      expect(response.status).toBe(415);
      expect(await json(response)).toMatchObject({ error: 'unsupported_media_type' });
      expect(response.headers.get('access-control-allow-origin')).toBeNull();
    }
  });

  it('grants no CORS preflight', async () => {
    const response = await fetch(`${server.url}/updates`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://evil.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(response.status).toBe(405);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(response.headers.get('access-control-allow-headers')).toBeNull();
  });

  it('refuses other methods with 405 and an Allow header', async () => {
    const response = await fetch(`${server.url}/updates`);
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
  });

  it('refuses compressed bodies', async () => {
    const response = await fetch(`${server.url}/updates`, {
      method: 'POST',
      headers: { 'content-encoding': 'gzip', 'content-type': 'application/json' },
      body: 'xx',
    });
    expect(response.status).toBe(415);
  });

  it('limits each device and says when to retry', async () => {
    const body = { ...INFO, device_id: OTHER };
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await post('/updates', body)).status);
    expect(statuses).toEqual([...Array<number>(10).fill(200), 429]);
    const limited = await post('/updates', body);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await json(limited)).toMatchObject({ error: 'too_many_requests' });
    expect((await post('/updates', { ...INFO, device_id: REPEAT })).status).toBe(200);
  });
});

describe('POST /stats', () => {
  const event = { ...INFO, action: 'set', version_name: '1.4.2', old_version_name: 'builtin' };

  /** Counted `set` events of 1.4.2 (the health route's totals are the hourly counters). */
  async function successes(): Promise<number> {
    const versions = (await server.store?.channelHealth(APP, 'production', 0)) ?? [];
    return versions.find((entry) => entry.version === '1.4.2')?.successes ?? 0;
  }

  it('accepts a single event and answers {status: "ok"}', async () => {
    const before = await successes();
    const response = await post('/stats', event);
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({ status: 'ok' });
    expect(await successes()).toBe(before + 1);
  });

  it('answers a batch entry by entry and aggregates the counters', async () => {
    const before = await successes();
    const response = await post('/stats', [
      event,
      { ...event, action: 'not_an_action' },
      event,
      { ...event, action: 'download_complete' },
    ]);
    expect(await json(response)).toEqual({
      status: 'ok',
      results: [
        { status: 'ok', index: 0 },
        {
          status: 'error',
          index: 1,
          error: 'unknown_action',
          message: expect.any(String) as unknown,
        },
        { status: 'ok', index: 2 },
        { status: 'ok', index: 3 },
      ],
    });
    expect(await successes()).toBe(before + 2);
  });

  it('rejects an unknown action in a single event', async () => {
    const response = await post('/stats', { ...event, action: 'hack' });
    expect(response.status).toBe(400);
    expect(await json(response)).toMatchObject({ error: 'unknown_action' });
  });

  it('rejects mixed app ids and oversized batches', async () => {
    const mixed = await post('/stats', [event, { ...event, app_id: 'com.other.app' }]);
    expect(await json(mixed)).toMatchObject({ error: 'mixed_app_ids' });
    const many = await post(
      '/stats',
      Array.from({ length: 201 }, () => event),
    );
    expect(many.status).toBe(400);
    expect(await json(many)).toMatchObject({ error: 'too_many_events' });
  });

  it('counts an outcome as evidence once per device, and never for another version', async () => {
    const before = await server.store?.evidence(APP, 'production');
    await post('/stats', [
      event,
      event,
      { ...event, action: 'update_fail', version_name: '1.4.1' },
    ]);
    const after = await server.store?.evidence(APP, 'production');
    // DEVICE was handed 1.4.2 above; its repeated `set` is one device, the 1.4.1 failure none.
    expect(after?.devices).toBe(Math.max(1, before?.devices ?? 0));
    expect(after?.failures).toBe(0);
  });
});

describe('/channel_self', () => {
  it('lets a device move to a self-set channel (POST)', async () => {
    const ok = await post('/channel_self', { ...INFO, channel: 'beta' });
    expect(await json(ok)).toEqual({ status: 'ok', allowSet: true });
    const back = await post('/channel_self', { ...INFO, channel: 'production' });
    expect(await json(back)).toEqual({ status: 'ok', unset: true, allowSet: true });
  });

  it('answers the plugin error codes (POST)', async () => {
    const cases: [unknown, string][] = [
      [{ ...INFO, channel: 'hidden' }, 'channel_self_set_not_allowed'],
      [{ ...INFO, channel: 'missing' }, 'channel_not_found'],
      [{ ...INFO, channel: 'Bad Name' }, 'channel_not_found'],
      [INFO, 'missing_channel'],
    ];
    for (const [body, code] of cases) {
      const response = await post('/channel_self', body);
      expect(response.status).toBe(400);
      expect(await json(response)).toMatchObject({ error: code });
    }
  });

  it('reports the device channel (PUT)', async () => {
    const override = await post('/channel_self', { ...INFO, defaultChannel: 'beta' }, 'PUT');
    expect(await json(override)).toEqual({ channel: 'beta', status: 'override', allowSet: true });
    const fallback = await post('/channel_self', INFO, 'PUT');
    expect(await json(fallback)).toEqual({
      channel: 'production',
      status: 'default',
      allowSet: false,
    });
  });

  it('lists public channels with numeric ids (GET)', async () => {
    const from = logs.length;
    const query = new URLSearchParams(
      Object.entries(INFO).map(([k, v]): [string, string] => [k, String(v)]),
    ).toString();
    const response = await fetch(`${server.url}/channel_self?${query}`);
    const listed = (await response.json()) as { id: unknown; name: string }[];
    expect(listed.map((entry) => entry.name)).toEqual(['production', 'beta']);
    expect(listed.every((entry) => typeof entry.id === 'number')).toBe(true);
    expect(logged('/channel_self', from)[0]).toMatchObject({ status: 200 });
  });

  it('refuses DELETE', async () => {
    const response = await fetch(`${server.url}/channel_self`, { method: 'DELETE' });
    expect(response.status).toBe(405);
  });
});

describe('GET /bundles/<sha>', () => {
  const path = (): string => `${server.url}/bundles/${release.encryptedSha256}`;

  it('serves the file with immutable caching, a strong ETag and nosniff', async () => {
    const response = await fetch(path());
    expect(response.status).toBe(200);
    expect(Buffer.from(await response.arrayBuffer())).toEqual(bytes);
    expect(response.headers.get('etag')).toBe(`"${release.encryptedSha256}"`);
    expect(response.headers.get('cache-control')).toContain('immutable');
    expect(response.headers.get('accept-ranges')).toBe('bytes');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('answers HEAD without a body', async () => {
    const response = await fetch(path(), { method: 'HEAD' });
    expect(response.headers.get('content-length')).toBe(String(bytes.length));
  });

  it('honours a single range, as the plugin resumes downloads', async () => {
    const size = bytes.length;
    const cases: [string, number, number][] = [
      ['bytes=100-199', 100, 199],
      [`bytes=${size - 100}-`, size - 100, size - 1],
      ['bytes=-10', size - 10, size - 1],
      [`bytes=${size - 10}-${size + 5000}`, size - 10, size - 1],
    ];
    for (const [range, start, end] of cases) {
      const response = await fetch(path(), { headers: { range } });
      expect(response.status).toBe(206);
      expect(response.headers.get('content-range')).toBe(`bytes ${start}-${end}/${size}`);
      expect(Buffer.from(await response.arrayBuffer())).toEqual(bytes.subarray(start, end + 1));
    }
  });

  it('answers 416 past the end, and the whole file for several ranges', async () => {
    const past = await fetch(path(), { headers: { range: `bytes=${bytes.length}-` } });
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe(`bytes */${bytes.length}`);
    const multi = await fetch(path(), { headers: { range: 'bytes=0-1,5-6' } });
    expect(multi.status).toBe(200);
    await multi.arrayBuffer();
  });

  it('answers 304 to a matching If-None-Match', async () => {
    const response = await fetch(path(), {
      headers: { 'if-none-match': `"${release.encryptedSha256}"` },
    });
    expect(response.status).toBe(304);
  });

  it('answers 404 JSON for unknown or malformed hashes', async () => {
    for (const missing of [
      `/bundles/${'e'.repeat(64)}`,
      '/bundles/..%2F..%2Fetc%2Fpasswd',
      '/bundles/',
    ]) {
      const response = await fetch(`${server.url}${missing}`);
      expect(response.status).toBe(404);
      expect(await json(response)).toMatchObject({ error: 'bundle_not_found' });
    }
  });
});
