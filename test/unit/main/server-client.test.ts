import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../../src/core/crypto';
import { parseContentDigest, verifyRequestSignature } from '../../../src/core/http-signature';
import { createServerClient, ServerApiError } from '../../../src/main/server-client';
import { resolveIdentity } from '../../../src/main/identity';
import type { KeyStore } from '../../../src/main/keys/key-store';
import { testIdentity } from '../core/test-identities';

// TEST-ONLY identity.
const alice = testIdentity('client-alice');
const work = mkdtempSync(join(tmpdir(), 'airlock-client-'));

afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Seen {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: Buffer;
}

/** A fetch that records the request and answers `status` with `body`. */
function fakeFetch(status: number, body: unknown, seen: Seen[] = []): typeof fetch {
  return async (input: string | URL | Request, init?: RequestInit) => {
    const chunks: Buffer[] = [];
    const payload = init?.body;
    if (typeof payload === 'string') chunks.push(Buffer.from(payload));
    else if (payload instanceof ReadableStream) {
      for await (const chunk of payload as ReadableStream<Uint8Array>)
        chunks.push(Buffer.from(chunk));
    }
    seen.push({
      url: input instanceof Request ? input.url : input.toString(),
      method: init?.method ?? 'GET',
      headers: init?.headers as Record<string, string>,
      body: Buffer.concat(chunks),
    });
    return new Response(typeof body === 'string' ? body : JSON.stringify(body), { status });
  };
}

describe('#createServerClient', () => {
  it('signs admin requests so that the server-side check accepts them', async () => {
    const seen: Seen[] = [];
    const client = createServerClient({
      baseUrl: 'http://127.0.0.1:8787/',
      signer: alice,
      fetch: fakeFetch(201, { app: 'com.example.app', channels: ['production'] }, seen),
    });
    const answer = await client.createApp({
      app: 'com.example.app',
      channels: [{ name: 'production' }],
    });
    expect(answer.app).toBe('com.example.app');
    const request = seen[0] as Seen;
    expect(request.url).toBe('http://127.0.0.1:8787/api/v1/apps');
    const check = verifyRequestSignature(
      {
        method: request.method,
        url: request.url,
        headers: request.headers,
        bodySha256: Buffer.from(sha256Hex(request.body), 'hex'),
      },
      (keyId) => (keyId === alice.keyId ? alice.publicKey : null),
      { now: new Date() },
    );
    expect(check).toMatchObject({ ok: true, keyId: alice.keyId });
  });

  it('does not sign public reads', async () => {
    const seen: Seen[] = [];
    const client = createServerClient({ baseUrl: 'http://h', fetch: fakeFetch(500, {}, seen) });
    await expect(client.getRootChain()).rejects.toThrow();
    expect(seen[0]?.headers['signature']).toBeUndefined();
  });

  it("turns {error, message} into an AirlockError with the server's sentence", async () => {
    const client = createServerClient({
      baseUrl: 'http://h',
      signer: alice,
      fetch: fakeFetch(409, {
        error: 'POLICY_NOT_SATISFIED',
        message: '1/2 approvals: missing signing_officer.',
      }),
    });
    const error = await client.push('a'.repeat(64)).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ServerApiError);
    expect(error).toMatchObject({ status: 409, serverCode: 'POLICY_NOT_SATISFIED' });
    expect((error as Error).message).toBe('1/2 approvals: missing signing_officer.');
  });

  it('refuses answers that do not match the API, and non-JSON answers', async () => {
    const wrong = createServerClient({ baseUrl: 'http://h', fetch: fakeFetch(200, { roots: [] }) });
    await expect(wrong.getRootChain()).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    const html = createServerClient({ baseUrl: 'http://h', fetch: fakeFetch(200, '<html>') });
    await expect(html.getRootChain()).rejects.toThrow(/not JSON/);
  });

  it('says clearly when the server cannot be reached', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const client = createServerClient({ baseUrl: `http://127.0.0.1:${port}` });
    const error = await client.getRootChain().catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'IO_ERROR' });
    expect((error as Error).message).toMatch(
      /^Cannot reach the Airlock server at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/,
    );
  });

  it('streams a bundle upload signed with the digest of the file', async () => {
    const file = join(work, 'bundle.enc');
    const content = Buffer.alloc(200_000, 7);
    writeFileSync(file, content);
    const digest = sha256Hex(content);
    const seen: Seen[] = [];
    const client = createServerClient({
      baseUrl: 'http://h',
      signer: alice,
      fetch: fakeFetch(201, { encryptedSha256: digest, size: content.length, created: true }, seen),
    });
    const phases = new Set<string>();
    await client.uploadBundle(digest, file, (progress) => phases.add(progress.phase));
    expect(phases).toEqual(new Set(['hash', 'upload']));
    expect(seen[0]?.body.equals(content)).toBe(true);
    expect(
      Buffer.from(parseContentDigest(seen[0]?.headers['content-digest']) ?? []).toString('hex'),
    ).toBe(digest);
    await expect(client.uploadBundle('0'.repeat(64), file)).rejects.toMatchObject({
      code: 'CHECKSUM_MISMATCH',
    });
  });
});

describe('#resolveIdentity', () => {
  const store =
    (keys: string[]): (() => KeyStore) =>
    () =>
      ({
        list: () => Promise.resolve(keys.map((keyId) => ({ keyId, type: 'identity', label: '' }))),
        identitySigner: (keyId: string) =>
          Promise.resolve({ keyId, publicKey: new Uint8Array(32), sign: () => new Uint8Array(64) }),
      }) as unknown as KeyStore;
  const seed = Buffer.from(alice.seed).toString('base64');

  it('takes --identity, then AIRLOCK_IDENTITY, then the only key', async () => {
    const keys = ['a'.repeat(64), 'b'.repeat(64)];
    await expect(
      resolveIdentity(store(keys), { keyId: 'bbbbbbbb', env: {} }),
    ).resolves.toMatchObject({ keyId: 'bbbbbbbb' });
    await expect(
      resolveIdentity(store(keys), { env: { AIRLOCK_IDENTITY: 'aaaaaaaa' } }),
    ).resolves.toMatchObject({ keyId: 'aaaaaaaa' });
    await expect(resolveIdentity(store(keys.slice(0, 1)), { env: {} })).resolves.toMatchObject({
      keyId: keys[0],
    });
  });

  it('lists the keys when there are several and no choice, and says when there is none', async () => {
    await expect(
      resolveIdentity(store(['a'.repeat(64), 'b'.repeat(64)]), { env: {} }),
    ).rejects.toThrow(/2 identity keys \(aaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbb\)/);
    await expect(resolveIdentity(store([]), { env: {} })).rejects.toMatchObject({
      code: 'KEY_NOT_FOUND',
    });
  });

  it('uses AIRLOCK_IDENTITY_KEY only where allowed, with a warning', async () => {
    const warnings: string[] = [];
    const signer = await resolveIdentity(store([]), {
      env: { AIRLOCK_IDENTITY_KEY: seed },
      allowEnvironmentKey: true,
      warn: (text) => warnings.push(text),
    });
    expect(signer.keyId).toBe(alice.keyId);
    expect(warnings[0]).toContain('AIRLOCK_IDENTITY_KEY');
    await expect(
      resolveIdentity(store([]), { env: { AIRLOCK_IDENTITY_KEY: seed } }),
    ).rejects.toThrow(/may only be used to propose/);
  });
});
