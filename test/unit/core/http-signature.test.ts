import { describe, expect, it } from 'vitest';
import { bytesToBase64, sha256 } from '../../../src/core/crypto';
import {
  contentDigest,
  parseContentDigest,
  signRequest,
  verifyRequestSignature,
  type SignedHeaders,
} from '../../../src/core/http-signature';
import { testIdentity } from './test-identities';

// TEST-ONLY identities.
const alice = testIdentity('http-sig-alice');
const mallory = testIdentity('http-sig-mallory');

const NOW = new Date('2026-11-24T10:00:00Z');
const URL_ = 'https://airlock.example/api/v1/statements?x=1';
const BODY = new TextEncoder().encode('{"hello":"world"}');
const NONCE = 'AAAAAAAAAAAAAAAAAAAAAA';

function lookup(keyId: string): Uint8Array | null {
  return keyId === alice.keyId ? alice.publicKey : null;
}

async function signed(overrides: { now?: Date; nonce?: string; expiresInSeconds?: number } = {}) {
  return signRequest({ method: 'POST', url: URL_, bodySha256: sha256(BODY) }, alice, {
    now: NOW,
    nonce: NONCE,
    ...overrides,
  });
}

function verify(
  headers: Partial<SignedHeaders> & Record<string, string | undefined>,
  changes: { method?: string; url?: string; body?: Uint8Array; now?: Date } = {},
) {
  return verifyRequestSignature(
    {
      method: changes.method ?? 'POST',
      url: changes.url ?? URL_,
      headers,
      bodySha256: sha256(changes.body ?? BODY),
    },
    lookup,
    { now: changes.now ?? NOW },
  );
}

function codeOf(check: ReturnType<typeof verify>): string {
  return check.ok ? 'OK' : check.code;
}

describe('#signRequest', () => {
  it('produces the RFC 9421 / RFC 9530 header shapes', async () => {
    const headers = await signed();
    const created = NOW.getTime() / 1000;
    expect(headers['content-digest']).toBe(`sha-256=:${bytesToBase64(sha256(BODY))}:`);
    expect(headers['signature-input']).toBe(
      `sig1=("@method" "@target-uri" "content-digest");created=${created};expires=${created + 60};nonce="${NONCE}";keyid="${alice.keyId}";alg="ed25519"`,
    );
    expect(headers.signature).toMatch(/^sig1=:[A-Za-z0-9+/]{86}==:$/);
  });

  it('is deterministic for a fixed clock and nonce (Ed25519 is)', async () => {
    expect(await signed()).toEqual(await signed());
  });

  it('picks a fresh random nonce by default', async () => {
    const a = await signRequest({ method: 'GET', url: URL_, bodySha256: sha256(BODY) }, alice);
    const b = await signRequest({ method: 'GET', url: URL_, bodySha256: sha256(BODY) }, alice);
    expect(a['signature-input']).not.toBe(b['signature-input']);
  });
});

describe('#verifyRequestSignature', () => {
  it('accepts its own signature and reports key, nonce and times', async () => {
    const check = verify(await signed());
    expect(check).toEqual({
      ok: true,
      keyId: alice.keyId,
      nonce: NONCE,
      created: NOW.getTime() / 1000,
      expires: NOW.getTime() / 1000 + 60,
    });
  });

  it('accepts the same URI spelled differently but equivalently (WHATWG normalization)', async () => {
    const check = verify(await signed(), {
      url: 'HTTPS://AIRLOCK.example:443/api/v1/statements?x=1',
    });
    expect(check.ok).toBe(true);
  });

  it('accepts a header that arrived as two lines of one field', async () => {
    const headers = await signed();
    const check = verifyRequestSignature(
      {
        method: 'POST',
        url: URL_,
        headers: { ...headers, signature: [headers.signature] },
        bodySha256: sha256(BODY),
      },
      lookup,
      { now: NOW },
    );
    expect(check.ok).toBe(true);
  });

  describe('when an input was tampered with', () => {
    it('refuses another method', async () => {
      expect(codeOf(verify(await signed(), { method: 'PUT' }))).toBe('SIGNATURE_INVALID');
    });

    it('refuses another target URI (path, query, host)', async () => {
      const headers = await signed();
      for (const url of [
        'https://airlock.example/api/v1/statements?x=2',
        'https://airlock.example/api/v1/apps?x=1',
        'https://evil.example/api/v1/statements?x=1',
        'http://airlock.example/api/v1/statements?x=1',
      ]) {
        expect(codeOf(verify(headers, { url }))).toBe('SIGNATURE_INVALID');
      }
    });

    it('refuses a body that does not match the digest', async () => {
      const body = new TextEncoder().encode('{"hello":"mallory"}');
      expect(codeOf(verify(await signed(), { body }))).toBe('DIGEST_MISMATCH');
    });

    it('refuses a digest header changed to match another body', async () => {
      const body = new TextEncoder().encode('{"hello":"mallory"}');
      const headers = { ...(await signed()), 'content-digest': contentDigest(sha256(body)) };
      expect(codeOf(verify(headers, { body }))).toBe('SIGNATURE_INVALID');
    });

    it.each([
      ['created', /created=(\d+)/, (m: string) => `created=${Number(m) + 1}`],
      ['expires', /expires=(\d+)/, (m: string) => `expires=${Number(m) + 1}`],
      ['nonce', /nonce="[^"]+"/, () => 'nonce="BBBBBBBBBBBBBBBBBBBBBB"'],
      ['alg', /alg="ed25519"/, () => 'alg="ed25519 "'],
    ])('refuses a changed %s parameter', async (_name, pattern, replace) => {
      const headers = await signed();
      const input = headers['signature-input'].replace(pattern, (match) =>
        replace(match.replace(/^\w+=/, '')),
      );
      expect(input).not.toBe(headers['signature-input']);
      expect(verify({ ...headers, 'signature-input': input }).ok).toBe(false);
    });

    it('refuses a keyid swapped for another member key', async () => {
      const headers = await signed();
      const input = headers['signature-input'].replace(alice.keyId, mallory.keyId);
      const check = verifyRequestSignature(
        {
          method: 'POST',
          url: URL_,
          headers: { ...headers, 'signature-input': input },
          bodySha256: sha256(BODY),
        },
        (keyId) => (keyId === mallory.keyId ? mallory.publicKey : null),
        { now: NOW },
      );
      expect(codeOf(check)).toBe('SIGNATURE_INVALID');
    });

    it('refuses every flipped signature byte', async () => {
      const headers = await signed();
      const raw = Buffer.from(headers.signature.slice(6, -1), 'base64');
      for (const index of [0, 31, 32, 63]) {
        const copy = Buffer.from(raw);
        copy[index] = (copy[index] ?? 0) ^ 0x01;
        const signature = `sig1=:${copy.toString('base64')}:`;
        expect(codeOf(verify({ ...headers, signature }))).toBe('SIGNATURE_INVALID');
      }
    });

    it('refuses a signature made with a key other than the one named (wrong key)', async () => {
      const forged = await signRequest(
        { method: 'POST', url: URL_, bodySha256: sha256(BODY) },
        { ...mallory, keyId: alice.keyId, publicKey: alice.publicKey },
        { now: NOW, nonce: NONCE },
      );
      expect(codeOf(verify(forged))).toBe('SIGNATURE_INVALID');
    });

    it('refuses an unknown key', async () => {
      const headers = await signRequest(
        { method: 'POST', url: URL_, bodySha256: sha256(BODY) },
        mallory,
        { now: NOW, nonce: NONCE },
      );
      expect(codeOf(verify(headers))).toBe('UNKNOWN_KEY');
    });
  });

  describe('when the time is off', () => {
    it('accepts a skew of up to 5 minutes either way', async () => {
      const headers = await signed({ expiresInSeconds: 600 });
      expect(verify(headers, { now: new Date(NOW.getTime() + 299_000) }).ok).toBe(true);
      expect(verify(headers, { now: new Date(NOW.getTime() - 300_000) }).ok).toBe(true);
    });

    it('refuses a signature created more than 5 minutes from the server clock', async () => {
      const headers = await signed({ expiresInSeconds: 600 });
      expect(codeOf(verify(headers, { now: new Date(NOW.getTime() + 301_000) }))).toBe(
        'CLOCK_SKEW',
      );
      expect(codeOf(verify(headers, { now: new Date(NOW.getTime() - 301_000) }))).toBe(
        'CLOCK_SKEW',
      );
    });

    it('refuses an expired signature', async () => {
      const headers = await signed({ expiresInSeconds: 60 });
      expect(codeOf(verify(headers, { now: new Date(NOW.getTime() + 60_000) }))).toBe(
        'SIGNATURE_EXPIRED',
      );
    });

    it('refuses a lifetime above 10 minutes or not after creation', async () => {
      expect(codeOf(verify(await signed({ expiresInSeconds: 601 })))).toBe('SIGNATURE_INVALID');
      expect(codeOf(verify(await signed({ expiresInSeconds: 0 })))).toBe('SIGNATURE_INVALID');
    });
  });

  describe('when headers are missing or malformed', () => {
    it.each(['signature', 'signature-input', 'content-digest'])(
      'refuses a request without %s',
      async (name) => {
        const headers: Record<string, string | undefined> = { ...(await signed()) };
        delete headers[name];
        expect(codeOf(verify(headers))).toBe('SIGNATURE_MISSING');
      },
    );

    it('refuses duplicate, missing, reordered or extra components', async () => {
      const headers = await signed();
      for (const components of [
        '("@method" "@method" "@target-uri" "content-digest")',
        '("@method" "@target-uri")',
        '("@target-uri" "@method" "content-digest")',
        '("@method" "@target-uri" "content-digest" "content-type")',
        '("@method" "@target-uri" "content-digest";sf)',
        '()',
      ]) {
        const input = headers['signature-input'].replace(/\([^)]*\)/, components);
        expect(codeOf(verify({ ...headers, 'signature-input': input }))).toBe('SIGNATURE_INVALID');
      }
    });

    it('refuses extra, repeated or missing parameters and other labels', async () => {
      const headers = await signed();
      const input = headers['signature-input'];
      for (const bad of [
        `${input};tag="x"`,
        `${input};nonce="CCCCCCCCCCCCCCCCCCCCCC"`,
        input.replace(/;alg="ed25519"/, ''),
        input.replace('alg="ed25519"', 'alg="rsa-pss-sha512"'),
        input.replace(/^sig1=/, 'sig2='),
        `${input}, sig2=("@method");created=1`,
        `${input}, sig1=("@method")`,
        input.replace(/created=(\d+)/, 'created="$1"'),
        input.replace(/nonce="[^"]+"/, 'nonce="short"'),
        `${input} garbage`,
      ]) {
        expect(codeOf(verify({ ...headers, 'signature-input': bad }))).toBe('SIGNATURE_INVALID');
      }
    });

    it('refuses a malformed Signature field', async () => {
      const headers = await signed();
      const value = headers.signature.slice(6, -1);
      for (const bad of [
        `sig2=:${value}:`,
        `sig1=:${value}`,
        `sig1=:${value.replace(/==$/, '')}:`,
        `sig1=:${value}:;x=1`,
        `sig1=:${value}:, sig1=:${value}:`,
        `sig1=:AAAA:`,
      ]) {
        expect(codeOf(verify({ ...headers, signature: bad }))).toBe('SIGNATURE_INVALID');
      }
    });

    it('refuses a digest of another algorithm or with several members', async () => {
      const headers = await signed();
      const digest = headers['content-digest'];
      for (const bad of [
        digest.replace('sha-256', 'sha-512'),
        `${digest}, sha-512=:AAAA:`,
        'sha-256=:AAAA:',
      ]) {
        expect(codeOf(verify({ ...headers, 'content-digest': bad }))).toBe('DIGEST_MISMATCH');
      }
    });
  });
});

describe('#parseContentDigest', () => {
  it('reads exactly one sha-256 member of 32 bytes', () => {
    const digest = sha256(BODY);
    expect(parseContentDigest(contentDigest(digest))).toEqual(new Uint8Array(digest));
    expect(parseContentDigest(undefined)).toBeNull();
    expect(parseContentDigest('sha-256=:AAAA:')).toBeNull();
    expect(parseContentDigest(`sha-256=${bytesToBase64(digest)}`)).toBeNull();
  });
});
