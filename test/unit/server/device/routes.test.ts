import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DeviceContext } from '../../../../src/server/device/context';
import { handleDeviceRequest } from '../../../../src/server/routes/device';
import { DEFAULT_SETTINGS, FakeStore, fakeRelease } from './fake-store';

/**
 * The device endpoints in process over loopback, against an in-memory store: shapes of every
 * answer, error codes, limits and the per-request log.
 */

const APP = 'com.example.app';
const KEY_ID = 'MIIBCgKCAQEAqJikYizo';
const DEVICE = '6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab';
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
  key_id: KEY_ID,
};

let store: FakeStore;
let server: Server;
let base: string;
let logs: Record<string, unknown>[];
let ctx: DeviceContext;
let dir: string;
const BUNDLE = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
const SHA = 'c'.repeat(64);

function setupStore(): void {
  store = new FakeStore().addApp(APP, ['production', 'beta', 'hidden']);
  store.update(APP, 'production', { current: fakeRelease('1.4.2') });
  store.update(APP, 'beta', { settings: { ...DEFAULT_SETTINGS, allowSelfSet: true } });
  store.update(APP, 'hidden', { settings: { ...DEFAULT_SETTINGS, public: false } });
  store.bundles.set(SHA, { path: join(dir, 'bundle.enc'), size: BUNDLE.length });
  logs = [];
  ctx = {
    store,
    publicUrl: () => 'https://updates.example.com/',
    nowMs: Date.now,
    log: (fields) => logs.push(fields),
    limits: { updatesPerDevice: { burst: 5, perSecond: 0.01 } },
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'airlock-device-routes-'));
  writeFileSync(join(dir, 'bundle.enc'), BUNDLE);
  server = createServer((req, res) => {
    if (!handleDeviceRequest(req, res, ctx)) {
      res.writeHead(404);
      res.end('not mine');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(setupStore);

async function post(path: string, body: unknown, method = 'POST'): Promise<Response> {
  return fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function json(response: Response): Promise<Record<string, unknown>> {
  return (await response.json()) as Record<string, unknown>;
}

describe('POST /updates', () => {
  it('answers the release in the plugin format (capgo-protocol §3.1)', async () => {
    const response = await post('/updates', INFO);
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({
      version: '1.4.2',
      url: `https://updates.example.com/bundles/${SHA}`,
      session_key: 'AAAAAAAAAAAAAAAAAAAAAA==:QkJCQg==',
      checksum: 'd'.repeat(512),
    });
    expect(logs).toEqual([
      expect.objectContaining({ method: 'POST', path: '/updates', status: 200 }),
    ]);
    expect(typeof logs[0]?.ms).toBe('number');
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

  it('refuses other methods with 405 and an Allow header', async () => {
    const response = await fetch(`${base}/updates`);
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
  });

  it('refuses compressed bodies', async () => {
    const response = await fetch(`${base}/updates`, {
      method: 'POST',
      headers: { 'content-encoding': 'gzip' },
      body: 'xx',
    });
    expect(response.status).toBe(415);
  });

  it('limits each device and says when to retry', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await post('/updates', INFO)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    const limited = await post('/updates', INFO);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await json(limited)).toMatchObject({ error: 'too_many_requests' });
    const other = await post('/updates', { ...INFO, device_id: DEVICE.replace('6f', '7f') });
    expect(other.status).toBe(200);
  });

  it('answers a repeated check the same way until the channel changes', async () => {
    const body = { ...INFO, device_id: DEVICE.replace('6f', '1f') };
    expect(await json(await post('/updates', body))).toMatchObject({ version: '1.4.2' });
    expect(await json(await post('/updates', body))).toMatchObject({ version: '1.4.2' });
    store.update(APP, 'production', { paused: true });
    expect(await json(await post('/updates', body))).toMatchObject({ error: 'channel_paused' });
    store.update(APP, 'production', { paused: false, current: fakeRelease('1.5.0') });
    expect(await json(await post('/updates', body))).toMatchObject({ version: '1.5.0' });
  });

  it('leaves other paths to the server', async () => {
    const response = await fetch(`${base}/api/v1/root`);
    expect(await response.text()).toBe('not mine');
    expect(logs).toEqual([]);
  });
});

describe('POST /stats', () => {
  const event = { ...INFO, action: 'set', version_name: '1.4.2', old_version_name: 'builtin' };

  it('accepts a single event and answers {status: "ok"}', async () => {
    const response = await post('/stats', event);
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({ status: 'ok' });
    expect(store.stats).toEqual([
      expect.objectContaining({
        app: APP,
        channel: 'production',
        version: '1.4.2',
        action: 'set',
        count: 1,
      }),
    ]);
    expect((store.stats[0]?.hour ?? 1) % 3_600_000).toBe(0);
  });

  it('answers a batch entry by entry and aggregates the counters', async () => {
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
    expect(store.stats.find((row) => row.action === 'set')?.count).toBe(2);
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

  it('pauses the channel automatically when failures spike (DESIGN §6)', async () => {
    const fail = { ...event, action: 'update_fail' };
    await post(
      '/stats',
      Array.from({ length: 30 }, () => event),
    );
    expect(store.pauses).toEqual([]);
    await post(
      '/stats',
      Array.from({ length: 30 }, () => fail),
    );
    expect(store.pauses).toEqual([expect.objectContaining({ app: APP, channel: 'production' })]);
    expect(logs.at(-1)).toMatchObject({
      automaticPauses: [expect.objectContaining({ channel: 'production', applied: true })],
    });
  });

  it('does not count failures of other versions toward the pause', async () => {
    const old = { ...event, action: 'update_fail', version_name: '1.4.1' };
    await post(
      '/stats',
      Array.from({ length: 100 }, () => old),
    );
    expect(store.pauses).toEqual([]);
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
    const query = new URLSearchParams(
      Object.entries(INFO).map(([k, v]): [string, string] => [k, String(v)]),
    ).toString();
    const response = await fetch(`${base}/channel_self?${query}`);
    expect(await response.json()).toEqual([
      { id: 1, name: 'production', public: true, allow_self_set: false },
      { id: 2, name: 'beta', public: true, allow_self_set: true },
    ]);
    expect(logs[0]).toMatchObject({ path: '/channel_self', status: 200 });
  });

  it('refuses DELETE', async () => {
    const response = await fetch(`${base}/channel_self`, { method: 'DELETE' });
    expect(response.status).toBe(405);
  });
});

describe('GET /bundles/<sha>', () => {
  it('serves the file with immutable caching and a strong ETag', async () => {
    const response = await fetch(`${base}/bundles/${SHA}`);
    expect(response.status).toBe(200);
    expect(Buffer.from(await response.arrayBuffer())).toEqual(BUNDLE);
    expect(response.headers.get('etag')).toBe(`"${SHA}"`);
    expect(response.headers.get('cache-control')).toContain('immutable');
    expect(response.headers.get('accept-ranges')).toBe('bytes');
  });

  it('answers HEAD without a body', async () => {
    const response = await fetch(`${base}/bundles/${SHA}`, { method: 'HEAD' });
    expect(response.headers.get('content-length')).toBe(String(BUNDLE.length));
  });

  it('honours a single range, as the plugin resumes downloads', async () => {
    const cases: [string, number, number][] = [
      ['bytes=100-199', 100, 199],
      ['bytes=900-', 900, 999],
      ['bytes=-10', 990, 999],
      ['bytes=990-5000', 990, 999],
    ];
    for (const [range, start, end] of cases) {
      const response = await fetch(`${base}/bundles/${SHA}`, { headers: { range } });
      expect(response.status).toBe(206);
      expect(response.headers.get('content-range')).toBe(`bytes ${start}-${end}/1000`);
      expect(Buffer.from(await response.arrayBuffer())).toEqual(BUNDLE.subarray(start, end + 1));
    }
  });

  it('answers 416 past the end, and the whole file for several ranges', async () => {
    const past = await fetch(`${base}/bundles/${SHA}`, { headers: { range: 'bytes=1000-' } });
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe('bytes */1000');
    const multi = await fetch(`${base}/bundles/${SHA}`, { headers: { range: 'bytes=0-1,5-6' } });
    expect(multi.status).toBe(200);
  });

  it('answers 304 to a matching If-None-Match', async () => {
    const response = await fetch(`${base}/bundles/${SHA}`, {
      headers: { 'if-none-match': `"${SHA}"` },
    });
    expect(response.status).toBe(304);
  });

  it('answers 404 JSON for unknown or malformed hashes', async () => {
    for (const path of [
      `/bundles/${'e'.repeat(64)}`,
      '/bundles/..%2F..%2Fetc%2Fpasswd',
      '/bundles/',
    ]) {
      const response = await fetch(`${base}${path}`);
      expect(response.status).toBe(404);
      expect(await json(response)).toMatchObject({ error: 'bundle_not_found' });
    }
  });
});
