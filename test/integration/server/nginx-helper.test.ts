import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNginx, type NginxLb } from '../../helpers/nginx';

/**
 * The nginx test helper (test/helpers/nginx.ts) against two tiny HTTP servers: nginx spreads
 * requests over both, passes the client's address in X-Forwarded-For, never replays a POST whose
 * upstream died on the other one, fails GETs over from a stopped upstream, and `stop()` leaves no
 * process and no folder behind.
 */

interface Upstream {
  readonly name: string;
  readonly url: string;
  /** `127.0.0.1:PORT`, as nginx's access log names it. */
  readonly address: string;
  /** `METHOD /path` of every request that reached this server. */
  readonly seen: string[];
  close(): Promise<void>;
}

interface Answer {
  readonly name: string;
  readonly xff: string | null;
}

/** Answers `{ name, xff }`; with `dieOnPost`, destroys the socket of every POST instead. */
async function startUpstream(name: string, dieOnPost = false): Promise<Upstream> {
  const seen: string[] = [];
  const server: Server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (dieOnPost && req.method === 'POST') {
      req.socket.destroy();
      return;
    }
    req.resume();
    req.on('end', () => {
      const header = req.headers['x-forwarded-for'];
      const xff = Array.isArray(header) ? header.join(', ') : (header ?? null);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ name, xff } satisfies Answer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    address: `127.0.0.1:${port}`,
    seen,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}

async function get(lb: NginxLb, path: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${lb.url}${path}`, { headers });
  const body = await response.text();
  return { status: response.status, answer: response.ok ? (JSON.parse(body) as Answer) : null };
}

/** The access log line of `request` (e.g. `POST /push/1`), once nginx has written it. */
async function logLine(lb: NginxLb, request: string): Promise<string> {
  for (let tries = 0; tries < 100; tries++) {
    const line = lb
      .accessLog()
      .split('\n')
      .find((entry) => entry.includes(`"${request} HTTP/1.1"`));
    if (line !== undefined) return line;
    await sleep(20);
  }
  throw new Error(`No access log line for ${request} in:\n${lb.accessLog()}`);
}

/** The upstream(s) an access log line names: more than one when nginx tried the next. */
function upstreamsOf(line: string): string[] {
  const match = /upstream=(.*?) upstream_status=/.exec(line);
  return (match?.[1] ?? '').split(', ');
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

describe('startNginx: a load balancer in front of two upstreams', () => {
  let a: Upstream;
  let b: Upstream;
  let lb: NginxLb;

  beforeAll(async () => {
    a = await startUpstream('A', true);
    b = await startUpstream('B');
    lb = await startNginx({ upstreams: [a.url, b.url] });
  });

  afterAll(async () => {
    await lb?.stop();
    await Promise.all([a?.close(), b?.close()]);
  });

  it('writes its config into its own folder and spreads GETs over both upstreams in turn', async () => {
    expect(lb.url).toBe(`http://127.0.0.1:${lb.port}`);
    expect(lb.config).toContain(`server ${a.address};`);
    expect(lb.config).toContain(`server ${b.address};`);
    expect(lb.config).toContain(`access_log ${lb.dir}/access.log airlock;`);

    const names: string[] = [];
    for (let i = 0; i < 6; i++) {
      const { status, answer } = await get(lb, `/round/${i}`);
      expect(status).toBe(200);
      names.push(answer!.name);
    }
    expect(new Set(names)).toEqual(new Set(['A', 'B']));
    // Round robin over equal weights alternates.
    for (let i = 1; i < names.length; i++) expect(names[i]).not.toBe(names[i - 1]);
    expect(a.seen.filter((seen) => seen.startsWith('GET /round/'))).toHaveLength(3);
    expect(b.seen.filter((seen) => seen.startsWith('GET /round/'))).toHaveLength(3);
    const line = await logLine(lb, 'GET /round/0');
    expect([a.address, b.address]).toContain(upstreamsOf(line)[0]);
  });

  it('passes the client address in X-Forwarded-For, after any the client sent', async () => {
    const { answer } = await get(lb, '/xff');
    expect(answer!.xff).toBe('127.0.0.1');
    const forwarded = await get(lb, '/xff', { 'x-forwarded-for': '203.0.113.7' });
    expect(forwarded.answer!.xff).toBe('203.0.113.7, 127.0.0.1');
  });
});

describe('startNginx: failures', () => {
  it('does not replay a POST whose upstream died mid-request on the other upstream', async () => {
    const a = await startUpstream('A', true);
    const b = await startUpstream('B');
    // A fresh balancer: no upstream marked failed by an earlier test.
    const lb = await startNginx({ upstreams: [a.url, b.url] });
    try {
      expect(lb.config).toContain('proxy_next_upstream error timeout;');
      expect(lb.config).not.toContain('non_idempotent');
      // Round robin sends one of the first two POSTs to A; one that went to B first is B's own.
      let died: string | undefined;
      for (let i = 0; i < 2 && died === undefined; i++) {
        const push = `/push/${i}`;
        const response = await fetch(`${lb.url}${push}`, {
          method: 'POST',
          body: 'x'.repeat(4096),
        });
        await response.arrayBuffer();
        if (a.seen.includes(`POST ${push}`)) {
          expect(response.status).toBe(502);
          died = push;
        } else {
          expect(response.status).toBe(200);
        }
      }
      expect(died).toBeDefined();
      expect(b.seen).not.toContain(`POST ${died}`);
      expect(upstreamsOf(await logLine(lb, `POST ${died}`))).toEqual([a.address]);
    } finally {
      await lb.stop();
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('still answers GETs through the other upstream when one is stopped entirely', async () => {
    const c = await startUpstream('C');
    const d = await startUpstream('D');
    const lb = await startNginx({ upstreams: [c.url, d.url] });
    try {
      const before = await Promise.all([get(lb, '/before/0'), get(lb, '/before/1')]);
      expect(new Set(before.map(({ answer }) => answer?.name))).toEqual(new Set(['C', 'D']));

      await c.close();
      for (let i = 0; i < 4; i++) {
        const { status, answer } = await get(lb, `/after/${i}`);
        expect(status).toBe(200);
        expect(answer!.name).toBe('D');
      }
      // The first GET after the stop was refused by C and went on to D; C then sat out.
      const tried = await Promise.all(
        [0, 1, 2, 3].map(async (i) => upstreamsOf(await logLine(lb, `GET /after/${i}`))),
      );
      expect(tried).toContainEqual([c.address, d.address]);
      for (const upstreams of tried) expect(upstreams.at(-1)).toBe(d.address);
    } finally {
      await lb.stop();
      await Promise.all([c.close(), d.close()]);
    }
  });
});

describe('startNginx: stop()', () => {
  it('ends the nginx process and its workers and removes the folder', async () => {
    const e = await startUpstream('E');
    try {
      const lb = await startNginx({ upstreams: [e.url], balance: 'least_conn' });
      expect(lb.config).toContain('least_conn;');
      expect((await get(lb, '/alive')).answer!.name).toBe('E');
      expect(() => process.kill(lb.pid, 0)).not.toThrow();
      expect(existsSync(lb.dir)).toBe(true);

      await lb.stop();
      expect(() => process.kill(lb.pid, 0)).toThrow();
      expect(existsSync(lb.dir)).toBe(false);
      // No worker holds the port either.
      expect(await accepts(lb.port)).toBe(false);
      await lb.stop(); // a second stop() is a no-op
    } finally {
      await e.close();
    }
  });
});
