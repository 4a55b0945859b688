import { request, Agent } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rsaSignerFromPrivateKey } from '../../../src/core/bundle';
import { generateTestRsaKey, makeTempDir, type TempDir } from '../../helpers/bundle-fixtures';
import {
  DeviceSim,
  ReleaseDesk,
  makeEncryptedBundle,
  mapLimit,
  type BundleInfo,
} from '../../helpers/device-sim';
import { startTestServer, testIdentity, type TestServer } from '../../helpers/server';
import { prng } from '../../helpers/prng';

/**
 * Fuzzing the device endpoints (ARCHITECTURE.md §6: every input validated, errors JSON with a stable code,
 * never a 5xx for bad input). A seeded generator makes a few thousand malformed requests: bad JSON,
 * wrong types, huge strings, deep nesting, arrays for objects, oversized and compressed bodies,
 * odd methods, headers, query strings and bundle paths. Every answer must be JSON below 500, every
 * 4xx must carry `{error, message}`, and the server must still answer a real device afterwards.
 * Set AIRLOCK_FUZZ_SEED to replay a run; AIRLOCK_FUZZ_CASES to change its size.
 */

const SEED = Number(process.env.AIRLOCK_FUZZ_SEED ?? 20261123);
const CASES = Number(process.env.AIRLOCK_FUZZ_CASES ?? 3000);
const APP = 'com.example.fuzz';
const alice = testIdentity('fuzz proposer'); // TEST-ONLY
const bob = testIdentity('fuzz approver'); // TEST-ONLY
const key = generateTestRsaKey(); // TEST-ONLY bundle key
let server: TestServer;
let dir: TempDir;
let bundle: { path: string; info: BundleInfo };

interface FuzzCase {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer | null;
  /** Send without Content-Length (chunked), to exercise the streaming size limit. */
  readonly chunked: boolean;
  readonly label: string;
}

class Generator {
  constructor(private readonly random: () => number) {}

  int(max: number): number {
    return Math.floor(this.random() * max);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  uuid(): string {
    const hex = Array.from({ length: 32 }, () => this.int(16).toString(16)).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`;
  }

  text(max: number): string {
    const alphabet = ['a', 'Z', '0', '.', '-', '/', '\\', '"', '\u0000', 'é', '😀', ' ', '%', '\n'];
    return Array.from({ length: this.int(max) }, () => this.pick(alphabet)).join('');
  }

  info(): Record<string, unknown> {
    return {
      platform: this.pick(['android', 'ios']),
      device_id: this.uuid(),
      app_id: APP,
      custom_id: '',
      version_build: this.pick(['1.0.0', '2.3.4', '1.0']),
      version_code: '7',
      version_os: '14',
      version_name: this.pick(['builtin', '1.0.0', '1.1.0']),
      plugin_version: '8.51.14',
      is_emulator: false,
      is_prod: true,
      key_id: bundle.info.keyId,
      defaultChannel: this.pick(['production', 'beta', undefined]),
    };
  }

  /** Any JSON value, small or huge, flat or nested. */
  weirdValue(): unknown {
    switch (this.int(12)) {
      case 0:
        return null;
      case 1:
        return this.int(2) === 0;
      case 2:
        return this.pick([0, -1, 1e308, -0, 3.14, Number.MAX_SAFE_INTEGER + 2]);
      case 3:
        return this.text(40);
      case 4:
        return 'x'.repeat(this.pick([100, 4000, 15_000]));
      case 5:
        return [this.text(5), 1, null];
      case 6:
        return { nested: { deeper: [this.text(3)] } };
      case 7:
        return [];
      case 8:
        return {};
      case 9:
        return this.pick(['builtin', '', ' ', '..', '__proto__', 'constructor']);
      case 10:
        return this.uuid().toUpperCase();
      default:
        return this.pick(['999999999999.9.9', '1.0.0-' + 'a'.repeat(200), 'v1.2.3', '1.2.3.4']);
    }
  }

  /** The info object (or a stat event) with one field changed, removed or added. */
  mutated(base: Record<string, unknown>): Record<string, unknown> {
    const copy: Record<string, unknown> = { ...base };
    const keys = [...Object.keys(copy), 'channel', 'action', 'metadata', '__proto__', 'extra'];
    for (let i = 0, n = 1 + this.int(3); i < n; i++) {
      const field = this.pick(keys);
      if (this.int(5) === 0) delete copy[field];
      else copy[field] = this.weirdValue();
    }
    return copy;
  }

  deep(depth: number, open: string, close: string): string {
    return open.repeat(depth) + close.repeat(depth);
  }

  badJson(): string | Buffer {
    const valid = JSON.stringify(this.info());
    switch (this.int(10)) {
      case 0:
        return valid.slice(0, this.int(valid.length));
      case 1:
        return Buffer.from(Array.from({ length: this.int(200) }, () => this.int(256)));
      case 2:
        return this.pick(['{', '[', '"', 'nul', 'NaN', '{"a":1,}', '\ufeff{}', '{}}', "{'a':1}"]);
      case 3:
        return this.deep(this.pick([100, 2000, 7000]), '[', ']');
      case 4:
        return this.deep(this.pick([100, 1000]), '{"a":', '}').replace(/}$/, '1}');
      case 5:
        return Buffer.concat([Buffer.from(valid.slice(0, 20)), Buffer.from([0xff, 0xfe, 0xc3])]);
      case 6:
        return this.pick(['1', '"text"', 'true', 'null', '[]', '[1,2,3]', '[[]]', '[null]']);
      case 7:
        return `[${Array.from({ length: 300 }, () => valid).join(',')}]`.slice(0, 15_000);
      case 8:
        return valid.replace(/"/g, '');
      default:
        return '';
    }
  }

  body(path: string): string | Buffer {
    const info = this.info();
    switch (this.int(6)) {
      case 0:
        return this.badJson();
      case 1: {
        const event = { ...info, action: this.pick(['set', 'download_fail', 'x', '']) };
        if (path === '/stats') {
          const events = Array.from({ length: 1 + this.int(5) }, () => this.mutated(event));
          return JSON.stringify(this.int(2) === 0 ? events : events[0]);
        }
        return JSON.stringify(this.mutated({ ...info, channel: this.pick(['beta', 'x']) }));
      }
      case 2:
        return JSON.stringify([info, info]);
      case 3:
        return JSON.stringify(this.pick([[[info]], [1, 'a', null], { events: [info] }]));
      case 4:
        return JSON.stringify(this.mutated(info));
      default:
        return JSON.stringify({ ...info, app_id: this.pick(['com.unknown.app', 'bad', APP]) });
    }
  }

  oversized(): Buffer {
    const size = this.pick([17 * 1024, 600 * 1024, 2 * 1024 * 1024]);
    return Buffer.from(`{"platform":"${'a'.repeat(size)}"}`);
  }

  headers(): Record<string, string> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    switch (this.int(8)) {
      case 0:
        headers['content-encoding'] = this.pick(['gzip', 'br', 'deflate, gzip', 'identity']);
        break;
      case 1:
        headers['content-type'] = this.pick([
          'text/plain',
          'application/x-www-form-urlencoded',
          '',
        ]);
        break;
      case 2:
        headers['user-agent'] = `CapacitorUpdater/${this.text(20).replace(/[^\x20-\x7e]/g, '')}`;
        break;
      case 3:
        headers.range = this.pick(['bytes=', 'bytes=-0', 'bytes=5-1', 'bytes=0-0,1-1', 'pages=1']);
        break;
      case 4:
        headers['if-none-match'] = this.pick(['*', 'W/"x"', '""', ',,,']);
        break;
      default:
        break;
    }
    return headers;
  }

  path(): string {
    const endpoint = this.pick(['/updates', '/stats', '/channel_self', '/bundles/']);
    if (endpoint !== '/bundles/') return endpoint + (this.int(6) === 0 ? `?${this.text(30)}` : '');
    return (
      endpoint +
      this.pick([
        bundle.info.encryptedSha256,
        bundle.info.encryptedSha256.toUpperCase(),
        'f'.repeat(64),
        '..%2F..%2Fserver.db',
        '../../etc/passwd',
        encodeURIComponent(this.text(40)),
        '',
      ])
    );
  }

  query(): string {
    const params = new URLSearchParams();
    for (const [field, value] of Object.entries(this.mutated(this.info()))) {
      params.append(field, typeof value === 'string' ? value : (JSON.stringify(value) ?? ''));
    }
    return params.toString().slice(0, 12_000);
  }

  next(index: number): FuzzCase {
    const path = this.path();
    const headers = this.headers();
    const roll = this.int(20);
    if (roll === 0) {
      return {
        method: 'POST',
        path,
        headers,
        body: this.oversized(),
        chunked: this.int(2) === 0,
        label: `${index} oversized`,
      };
    }
    if (roll === 1) {
      const method = this.pick(['DELETE', 'PATCH', 'OPTIONS', 'PUT', 'HEAD']);
      return { method, path, headers, body: null, chunked: false, label: `${index} ${method}` };
    }
    if (path.startsWith('/bundles/') || (path === '/channel_self' && roll < 8)) {
      const query = path === '/channel_self' ? `?${this.query()}` : '';
      return {
        method: 'GET',
        path: path + query,
        headers,
        body: null,
        chunked: false,
        label: `${index} GET`,
      };
    }
    const method = path.startsWith('/channel_self') ? this.pick(['POST', 'PUT']) : 'POST';
    const raw = this.body(path.split('?')[0] as string);
    const body = typeof raw === 'string' ? Buffer.from(raw) : raw;
    return { method, path, headers, body, chunked: this.int(10) === 0, label: `${index} body` };
  }
}

interface Answer {
  readonly status: number;
  readonly contentType: string;
  readonly text: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: 16 });

/**
 * Requests come from several loopback addresses (127.0.0.2–9), so that the per-IP rate limit
 * (ARCHITECTURE.md §6), which stays on, leaves most cases to reach the validators.
 */
function send(base: string, fuzz: FuzzCase, index: number): Promise<Answer> {
  const url = new URL(fuzz.path, base);
  const localAddress = `127.0.0.${2 + (index % 8)}`;
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...fuzz.headers };
    if (fuzz.body !== null && !fuzz.chunked) headers['content-length'] = fuzz.body.length;
    const req = request(url, { method: fuzz.method, headers, agent, localAddress }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          contentType: String(res.headers['content-type'] ?? ''),
          text: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', reject);
    });
    // Every request gets its answer: an oversized body is drained before its 413 goes out.
    req.on('error', reject);
    if (fuzz.body !== null) req.end(fuzz.body);
    else req.end();
  });
}

beforeAll(async () => {
  dir = makeTempDir('airlock-fuzz-');
  server = await startTestServer({ admins: [alice, bob] });
  const desk = new ReleaseDesk(() => server.url, alice, bob);
  await desk.createApp(APP, key.publicKeyPem, [
    { name: 'production' },
    { name: 'beta', settings: { allowSelfSet: true } },
  ]);
  bundle = await makeEncryptedBundle(dir.path, rsaSignerFromPrivateKey(key.privateKey), 'fuzz');
  await desk.release(APP, 'production', '1.1.0', bundle, { percent: 50 });
});

afterAll(async () => {
  agent.destroy();
  await server.dispose();
  dir.cleanup();
});

describe(`device endpoints under fuzzing (seed ${SEED}, ${CASES} cases)`, () => {
  it('answers every malformed request with JSON below 500, and 4xx with {error, message}', async () => {
    const generator = new Generator(prng(SEED));
    const cases = Array.from({ length: CASES }, (_, i) => generator.next(i));
    const answers = await mapLimit(cases, 8, (fuzz, i) => send(server.url, fuzz, i));
    const problems: string[] = [];
    const statuses = new Map<number, number>();
    answers.forEach((answer, i) => {
      const fuzz = cases[i] as FuzzCase;
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      const where = `case ${fuzz.label}: ${fuzz.method} ${fuzz.path.slice(0, 80)}`;
      if (answer.status >= 500) problems.push(`${where} → ${answer.status} ${answer.text}`);
      const isBundle = answer.contentType === 'application/octet-stream';
      if (isBundle || answer.status === 304 || fuzz.method === 'HEAD') return;
      if (!answer.contentType.startsWith('application/json')) {
        problems.push(`${where} → ${answer.status} not JSON (${answer.contentType})`);
        return;
      }
      if (answer.status >= 400) {
        const body = JSON.parse(answer.text) as { error?: unknown; message?: unknown };
        if (typeof body.error !== 'string' || typeof body.message !== 'string') {
          problems.push(`${where} → ${answer.status} without {error, message}: ${answer.text}`);
        }
        if (/\bat .*:\d+:\d+|Error:/.test(answer.text)) problems.push(`${where} leaks a trace`);
      }
    });
    expect(problems).toEqual([]);
    const fourxx = [...statuses].filter(([s]) => s >= 400).reduce((n, [, c]) => n + c, 0);
    expect(fourxx / CASES).toBeGreaterThan(0.6);
    // The rate limit answered a few at most: the rest reached the validators.
    expect((statuses.get(429) ?? 0) / CASES).toBeLessThan(0.05);
  });

  it('still serves a real device afterwards', async () => {
    const device = new DeviceSim({
      baseUrl: server.url,
      appId: APP,
      publicKeyPem: key.publicKeyPem,
    });
    const check = await device.checkForUpdate();
    expect(check.status).toBe(200);
    expect(check.available || check.error === 'no_new_version_available').toBe(true);
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
  });
});
