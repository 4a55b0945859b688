import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, testIdentity, type TestServer } from '../../helpers/server';

/**
 * The access log of `airlock server start` (the built CLI): one JSON line per request on stdout
 * (ARCHITECTURE.md §6), device and admin endpoints alike, with nothing internal in it, and none lost when
 * the server is stopped right after a burst of requests (the lines are written a turn at a time).
 */

const admin = testIdentity('access log admin'); // TEST-ONLY
let server: TestServer;
const lines: string[] = [];

interface LogLine {
  readonly time: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly ms: number;
  readonly [field: string]: unknown;
}

/** The request lines so far (stdout also carries event lines, such as the start's "listening"). */
function logLines(): LogLine[] {
  return lines
    .map((line) => JSON.parse(line) as LogLine)
    .filter((line) => typeof line.method === 'string');
}

async function waitForLines(count: number): Promise<LogLine[]> {
  for (let tries = 0; tries < 100 && logLines().length < count; tries++) await sleep(50);
  return logLines();
}

beforeAll(async () => {
  server = await startTestServer({ admins: [admin], spawn: true, logger: (l) => lines.push(l) });
});

afterAll(async () => {
  await server.dispose();
});

describe('airlock server start: the access log', () => {
  it('writes JSON lines only to stdout, the start included', () => {
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(() => JSON.parse(line) as unknown).not.toThrow();
    const start = JSON.parse(lines[0] as string) as Record<string, unknown>;
    expect(start).toMatchObject({ event: 'listening', url: server.url });
  });

  it('writes one JSON line per request, with the status that was answered', async () => {
    const requests: { method: string; path: string; body?: string }[] = [
      { method: 'POST', path: '/updates', body: JSON.stringify({ app_id: 'com.unknown' }) },
      { method: 'POST', path: '/updates', body: '{not json' },
      { method: 'POST', path: '/stats', body: '[]' },
      { method: 'GET', path: '/api/v1/root' },
      { method: 'GET', path: '/api/v1/apps' },
      { method: 'GET', path: '/no/such/path?x=1' },
    ];
    const before = logLines().length;
    const statuses: number[] = [];
    for (const { method, path, body } of requests) {
      const response = await fetch(`${server.url}${path}`, {
        method,
        ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/json' } }),
      });
      await response.arrayBuffer();
      statuses.push(response.status);
    }
    expect(statuses).toContain(200);
    expect(statuses.some((status) => status >= 400)).toBe(true);

    const logged = (await waitForLines(before + requests.length)).slice(before);
    expect(logged).toHaveLength(requests.length);
    for (const [i, line] of logged.entries()) {
      const sent = requests[i] as (typeof requests)[number];
      expect(line.method).toBe(sent.method);
      expect(line.path).toBe(sent.path.split('?')[0]);
      expect(line.status).toBe(statuses[i]);
      expect(Number.isNaN(Date.parse(line.time))).toBe(false);
      expect(typeof line.ms).toBe('number');
      // Nothing internal leaks, even into the log: no stack, no file system path.
      const text = JSON.stringify(line);
      expect(text).not.toMatch(/\bat \S+ \(|stack/);
      expect(text).not.toContain(server.dataDir);
    }
  });

  it('loses no line when the server is stopped right after a burst', async () => {
    const before = logLines().length;
    const burst = 200;
    await Promise.all(
      Array.from({ length: burst }, (_, i) =>
        fetch(`${server.url}/updates`, {
          method: 'POST',
          body: JSON.stringify({ app_id: `com.burst.n${i}` }),
          headers: { 'content-type': 'application/json' },
        }).then((response) => response.arrayBuffer()),
      ),
    );
    await server.stop();
    const logged = (await waitForLines(before + burst)).slice(before);
    expect(logged).toHaveLength(burst);
    expect(logged.every((line) => line.path === '/updates' && line.status < 500)).toBe(true);
    await server.restart();
  });
});
