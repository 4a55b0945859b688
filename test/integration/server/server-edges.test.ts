import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256, signRequest } from '../../../src/core';
import { startServer, type RunningServer } from '../../../src/server';
import { makeTempDir, type TempDir } from '../../helpers/bundle-fixtures';
import { mapLimit } from '../../helpers/device-sim';
import { startTestServer, testIdentity, type TestServer } from '../../helpers/server';

/**
 * The server's edges, as a hostile client meets them (ARCHITECTURE.md "Clean edges",
 * "A signature is bound to this server"): requests signed for another server, what Node's parser
 * refuses, bodies far over their limit, and TLS.
 */

const admin = testIdentity('edges admin'); // TEST-ONLY
let dir: TempDir;

beforeAll(() => {
  dir = makeTempDir('airlock-edges-');
});

afterAll(() => {
  dir.cleanup();
});

interface RawAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
}

/** One request with node:http, so that Host and framing are what the test says. */
function send(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string | number>;
    body?: Buffer | string;
    chunked?: boolean;
    localAddress?: string;
  } = {},
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? 'GET',
        headers: options.headers ?? {},
        agent: false,
        ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (options.body === undefined) req.end();
    else if (options.chunked === true) {
      const body = Buffer.from(options.body);
      for (let at = 0; at < body.length; at += 64 * 1024) req.write(body.subarray(at, at + 65536));
      req.end();
    } else req.end(options.body);
  });
}

/** Raw bytes on a socket; resolves with everything the server sent before it closed. */
function rawExchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(bytes));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
  });
}

function jsonBodyOf(raw: string): { status: number; type: string; body: unknown } {
  const [head = '', body = ''] = raw.split('\r\n\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
  const type = /content-type: ([^\r\n]+)/i.exec(head)?.[1] ?? '';
  return { status, type, body: JSON.parse(body) as unknown };
}

describe('a signature is bound to this server (RFC 9421 @target-uri)', () => {
  /** POST /api/v1/apps signed for `origin`, sent with that origin's host as the Host header. */
  async function createAppSignedFor(
    server: { url: string },
    origin: string,
    app: string,
  ): Promise<RawAnswer> {
    const body = JSON.stringify({ app, channels: [{ name: 'production' }] });
    const signed = await signRequest(
      { method: 'POST', url: `${origin}/api/v1/apps`, bodySha256: sha256(Buffer.from(body)) },
      admin,
    );
    return send(`${server.url}/api/v1/apps`, {
      method: 'POST',
      headers: { ...signed, 'content-type': 'application/json', host: new URL(origin).host },
      body,
    });
  }

  it('refuses a request signed for another server, sent with its Host (no --public-url)', async () => {
    const server = await startTestServer({ admins: [admin] });
    try {
      const replay = await createAppSignedFor(server, 'http://staging.example:8787', 'com.a.one');
      expect(replay.status).toBe(401);
      expect(JSON.parse(replay.text)).toMatchObject({ error: 'SIGNATURE_INVALID' });
      // The same request signed for this server's own address is accepted.
      expect((await createAppSignedFor(server, server.url, 'com.a.one')).status).toBe(201);
    } finally {
      await server.dispose();
    }
  });

  it('refuses it with --public-url too, and accepts only the public origin', async () => {
    const server = await startTestServer({
      admins: [admin],
      start: { publicUrl: 'https://updates.example.com' },
    });
    try {
      const staging = await createAppSignedFor(server, 'https://staging.example.com', 'com.a.two');
      expect(staging.status).toBe(401);
      const local = await createAppSignedFor(server, server.url, 'com.a.two');
      expect(local.status).toBe(401);
      const proper = await createAppSignedFor(server, 'https://updates.example.com', 'com.a.two');
      expect(proper.status).toBe(201);
    } finally {
      await server.dispose();
    }
  });

  it('will not listen on every interface without a public URL', async () => {
    const server = await startTestServer({ admins: [admin] });
    await server.stop();
    await expect(
      startServer({ dataDir: server.dataDir, host: '0.0.0.0', port: 0 }),
    ).rejects.toThrow(/--public-url/);
    await server.dispose();
  });
});

describe("what Node's HTTP parser refuses is answered in JSON", () => {
  let server: TestServer;
  let port: number;

  beforeAll(async () => {
    server = await startTestServer({ admins: [admin] });
    port = Number(new URL(server.url).port);
  });

  afterAll(async () => {
    await server.dispose();
  });

  it('answers a request line that is not HTTP with 400 JSON', async () => {
    const answer = jsonBodyOf(await rawExchange(port, 'HELLO THERE\r\n\r\n'));
    expect(answer).toMatchObject({ status: 400, body: { error: 'bad_request' } });
    expect(answer.type).toContain('application/json');
  });

  it('answers headers over 16 KiB with 431 JSON', async () => {
    const huge = `POST /updates HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`;
    expect(jsonBodyOf(await rawExchange(port, huge))).toMatchObject({
      status: 431,
      body: { error: 'headers_too_large' },
    });
  });

  it('answers bad framing (Content-Length and chunked together, a broken chunk) with 400 JSON', async () => {
    const both =
      'POST /updates HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n';
    expect(jsonBodyOf(await rawExchange(port, both)).status).toBe(400);
    const broken =
      'POST /updates HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n';
    expect(jsonBodyOf(await rawExchange(port, broken))).toMatchObject({
      status: 400,
      body: { error: 'bad_request' },
    });
  });
});

describe('bodies over their limit', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ admins: [admin] });
  });

  afterAll(async () => {
    await server.dispose();
  });

  it('get their 413 on every try, never a reset connection (300 tries)', async () => {
    const KiB = 1024;
    // Sizes over each endpoint's limit (16 KiB; 512 KiB for /stats), up to beyond what is drained.
    const over: Record<string, readonly number[]> = {
      '/updates': [17 * KiB, 100 * KiB, 600 * KiB, 1024 * KiB, 2048 * KiB, 3072 * KiB],
      '/stats': [600 * KiB, 1024 * KiB, 3072 * KiB],
      '/channel_self': [17 * KiB, 256 * KiB, 2048 * KiB],
    };
    const paths = Object.keys(over);
    const tries = Array.from({ length: 300 }, (_, i) => {
      const path = paths[i % paths.length] as string;
      const sizes = over[path] as readonly number[];
      return {
        path,
        size: sizes[Math.floor(i / 3) % sizes.length] as number,
        chunked: i % 2 === 0,
      };
    });
    const failures: string[] = [];
    await mapLimit(tries, 12, async (attempt, i) => {
      const body = Buffer.from(`{"platform":"${'a'.repeat(attempt.size)}"}`);
      try {
        const answer = await send(`${server.url}${attempt.path}`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(attempt.chunked ? {} : { 'content-length': body.length }),
          },
          body,
          chunked: attempt.chunked,
          localAddress: `127.0.0.${2 + (i % 50)}`,
        });
        const code = (JSON.parse(answer.text) as { error?: unknown }).error;
        if (answer.status !== 413 || code !== 'body_too_large') {
          failures.push(`${attempt.path} ${attempt.size} → ${answer.status} ${answer.text}`);
        }
      } catch (error) {
        failures.push(`${attempt.path} ${attempt.size}: ${(error as NodeJS.ErrnoException).code}`);
      }
    });
    expect(failures).toEqual([]);
  }, 120_000);

  it('answers an admin body over 1 MiB with 413 too', async () => {
    const body = Buffer.alloc(2 * 1024 * 1024, 0x20);
    const answer = await send(`${server.url}/api/v1/apps`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': body.length },
      body,
    });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.text)).toMatchObject({ error: 'PAYLOAD_TOO_LARGE' });
  });
});

describe('TLS', () => {
  let server: RunningServer;
  let base: TestServer;
  let cert: string;

  beforeAll(async () => {
    const key = join(dir.path, 'tls.key');
    const crt = join(dir.path, 'tls.crt');
    // A TEST-ONLY self-signed certificate for 127.0.0.1.
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        crt,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    cert = readFileSync(crt, 'utf8');
    base = await startTestServer({ admins: [admin] });
    await base.stop();
    server = await startServer({
      dataDir: base.dataDir,
      port: 0,
      tls: { cert, key: readFileSync(key, 'utf8') },
    });
  });

  afterAll(async () => {
    await server.close();
    await base.dispose();
  });

  function handshake(options: {
    ciphers: string;
    maxVersion: 'TLSv1.2' | 'TLSv1.3';
  }): Promise<string> {
    const port = Number(new URL(server.url).port);
    return new Promise((resolve) => {
      const socket = tlsConnect(
        {
          host: '127.0.0.1',
          port,
          ca: cert,
          ciphers: options.ciphers,
          maxVersion: options.maxVersion,
        },
        () => {
          const cipher = socket.getCipher().name;
          socket.end();
          resolve(cipher);
        },
      );
      socket.on('error', (error: NodeJS.ErrnoException) =>
        resolve(`refused: ${error.code ?? error.message}`),
      );
    });
  }

  it('offers TLS 1.2 only with ECDHE and an AEAD', async () => {
    expect(await handshake({ ciphers: 'AES128-SHA', maxVersion: 'TLSv1.2' })).toMatch(/^refused/);
    expect(await handshake({ ciphers: 'AES128-GCM-SHA256', maxVersion: 'TLSv1.2' })).toMatch(
      /^refused/,
    );
    expect(await handshake({ ciphers: 'ECDHE-RSA-AES128-SHA', maxVersion: 'TLSv1.2' })).toMatch(
      /^refused/,
    );
    expect(await handshake({ ciphers: 'ECDHE-RSA-AES128-GCM-SHA256', maxVersion: 'TLSv1.2' })).toBe(
      'ECDHE-RSA-AES128-GCM-SHA256',
    );
    expect(await handshake({ ciphers: 'ECDHE-RSA-CHACHA20-POLY1305', maxVersion: 'TLSv1.2' })).toBe(
      'ECDHE-RSA-CHACHA20-POLY1305',
    );
  });

  it('speaks TLS 1.3 and sends HSTS on every answer', async () => {
    expect(await handshake({ ciphers: 'DEFAULT', maxVersion: 'TLSv1.3' })).toMatch(/^TLS_/);
    const answers = await Promise.all(
      ['/healthz', '/updates', '/api/v1/root'].map(
        (path) =>
          new Promise<Record<string, unknown>>((resolve, reject) => {
            const req = httpsRequest(`${server.url}${path}`, { ca: cert, agent: false }, (res) => {
              res.resume();
              resolve(res.headers);
            });
            req.on('error', reject);
            req.end();
          }),
      ),
    );
    for (const headers of answers) {
      expect(headers['strict-transport-security']).toMatch(/max-age=\d+/);
      expect(headers['x-content-type-options']).toBe('nosniff');
    }
  });
});
