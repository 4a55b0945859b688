/**
 * HTTP Message Signatures (RFC 9421) with Ed25519 identity keys, and Content-Digest (RFC 9530), as
 * the admin API uses them (ARCHITECTURE.md §6). One profile only, and everything else is refused:
 *
 * - label `sig1`; covered components exactly `("@method" "@target-uri" "content-digest")`;
 * - parameters `created`, `expires`, `nonce`, `keyid` (the identity key id, ARCHITECTURE.md §2) and
 *   `alg="ed25519"`, each exactly once;
 * - `content-digest: sha-256=:<base64>:` (RFC 9530 §2), the only digest accepted.
 *
 * Verification recomputes the signature base from the request itself, verifies strictly (RFC 8032
 * §5.1.7), checks the time window and compares the digest with the body's real SHA-256. Nonce
 * replay is the caller's job: it needs storage.
 */
import { randomBytes } from 'node:crypto';
import {
  base64ToBytes,
  bytesToBase64,
  constantTimeEqual,
  ed25519Verify,
  identityKeyId,
  utf8Bytes,
} from './crypto';
import type { IdentitySigner } from './statement';

export interface SignableRequest {
  readonly method: string;
  /** The absolute target URI (RFC 9110 §7.1), e.g. `https://airlock.example/api/v1/apps`. */
  readonly url: string;
  /** SHA-256 of the exact body bytes (of the empty string when there is no body). */
  readonly bodySha256: Uint8Array;
}

// A type alias (not an interface) so that it fits `Record<string, string>` header bags.
export type SignedHeaders = {
  'content-digest': string;
  'signature-input': string;
  signature: string;
};

export type SignatureErrorCode =
  | 'SIGNATURE_MISSING'
  | 'SIGNATURE_INVALID'
  | 'CLOCK_SKEW'
  | 'DIGEST_MISMATCH'
  | 'UNKNOWN_KEY'
  | 'SIGNATURE_EXPIRED';

export type SignatureCheck =
  | { ok: true; keyId: string; nonce: string; created: number; expires: number }
  | { ok: false; code: SignatureErrorCode; message: string };

export interface VerifiableRequest {
  readonly method: string;
  /** The absolute target URI as the server knows it (its public URL + the request target). */
  readonly url: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly bodySha256: Uint8Array;
}

/** The one signature label this profile uses. */
export const SIGNATURE_LABEL = 'sig1';
/** The covered components, in order (RFC 9421 §2). */
export const COVERED_COMPONENTS = ['@method', '@target-uri', 'content-digest'] as const;
/** Default clock-skew allowance: ARCHITECTURE.md §6 refuses a skew beyond 5 minutes. */
export const DEFAULT_MAX_SKEW_SECONDS = 300;
/** Longest accepted lifetime (expires - created): keeps the nonce store bounded. */
export const MAX_LIFETIME_SECONDS = 600;

const DEFAULT_EXPIRES_IN_SECONDS = 60;
const NONCE = /^[A-Za-z0-9_-]{16,128}$/;
const KEY_ID = /^[0-9a-f]{64}$/;
const SHA256_BYTES = 32;
const SIGNATURE_BYTES = 64;

// ---------------------------------------------------------------------------------------------
// Content-Digest (RFC 9530)

/**
 * The Content-Digest field value for a body SHA-256: `sha-256=:<base64>:` (RFC 9530 §2, a
 * Dictionary with one Byte Sequence member).
 * @example contentDigest(sha256(body)) // 'sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:'
 */
export function contentDigest(bodySha256: Uint8Array): string {
  return `sha-256=:${bytesToBase64(bodySha256)}:`;
}

/**
 * The SHA-256 named by a Content-Digest value, or null unless it is exactly one `sha-256` member
 * holding 32 bytes in canonical base64. Attacker-controlled input.
 * @example parseContentDigest(request.headers['content-digest'])
 */
export function parseContentDigest(value: string | string[] | undefined): Uint8Array | null {
  const text = headerValue(value);
  if (text === null) return null;
  const match = /^sha-256=:([A-Za-z0-9+/=]+):$/.exec(text.trim());
  if (match === null) return null;
  try {
    return base64ToBytes(match[1] as string, SHA256_BYTES);
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// The signature base (RFC 9421 §2.5)

interface SignatureParams {
  readonly components: readonly string[];
  /** Parameters in the order they were given: RFC 9421 §2.3 serializes them as received. */
  readonly params: readonly (readonly [string, string | number])[];
}

/** RFC 8941 §4.1.6 sf-string serialization (values here are printable ASCII without `"` `\`). */
function serializeString(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** RFC 9421 §2.3: the `@signature-params` value, an inner list with its parameters. */
function serializeParams({ components, params }: SignatureParams): string {
  const list = `(${components.map(serializeString).join(' ')})`;
  const tail = params
    .map(([key, value]) => `;${key}=${typeof value === 'number' ? value : serializeString(value)}`)
    .join('');
  return list + tail;
}

/** The WHATWG-normalized absolute URI, so client and server spell it the same way. */
function normalizeUri(url: string): string {
  return new URL(url).href;
}

/**
 * RFC 9421 §2.5: one line per covered component, `"<name>": <value>`, then the
 * `"@signature-params"` line, joined by LF with no trailing newline.
 */
function signatureBase(
  request: { method: string; url: string; digest: string },
  params: SignatureParams,
): Uint8Array {
  const lines = [
    `"@method": ${request.method}`, // §2.2.1: the method as-is (case-sensitive)
    `"@target-uri": ${normalizeUri(request.url)}`, // §2.2.2
    `"content-digest": ${request.digest}`, // §2.1: the field value, trimmed
    `"@signature-params": ${serializeParams(params)}`,
  ];
  return utf8Bytes(lines.join('\n'));
}

// ---------------------------------------------------------------------------------------------
// Signing

function defaultNonce(): string {
  return randomBytes(16).toString('base64url');
}

/**
 * Signs an admin API request with an identity key. Returns the three headers to send.
 * @example
 * const headers = await signRequest(
 *   { method: 'POST', url: 'https://airlock.example/api/v1/apps', bodySha256: sha256(body) },
 *   signer,
 * );
 */
export async function signRequest(
  req: SignableRequest,
  signer: IdentitySigner,
  opts: { now?: Date; expiresInSeconds?: number; nonce?: string } = {},
): Promise<SignedHeaders> {
  const created = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  const expires = created + (opts.expiresInSeconds ?? DEFAULT_EXPIRES_IN_SECONDS);
  const params: SignatureParams = {
    components: COVERED_COMPONENTS,
    params: [
      ['created', created],
      ['expires', expires],
      ['nonce', opts.nonce ?? defaultNonce()],
      ['keyid', identityKeyId(signer.publicKey)],
      ['alg', 'ed25519'],
    ],
  };
  const digest = contentDigest(req.bodySha256);
  const base = signatureBase({ method: req.method, url: req.url, digest }, params);
  const signature = await signer.sign(base);
  return {
    'content-digest': digest,
    'signature-input': `${SIGNATURE_LABEL}=${serializeParams(params)}`,
    signature: `${SIGNATURE_LABEL}=:${bytesToBase64(signature)}:`,
  };
}

// ---------------------------------------------------------------------------------------------
// Strict structured-field parsing (RFC 8941), only what this profile needs

type BareItem = { type: 'string'; value: string } | { type: 'integer'; value: number };

/** A tiny cursor over a field value; every method throws SyntaxError on anything unexpected. */
class FieldParser {
  private index = 0;

  constructor(private readonly text: string) {}

  get done(): boolean {
    return this.index >= this.text.length;
  }

  private peek(): string {
    return this.text[this.index] ?? '';
  }

  expect(char: string): void {
    if (this.peek() !== char) throw new SyntaxError(`expected "${char}" at ${this.index}`);
    this.index += 1;
  }

  skipSpaces(): void {
    while (this.peek() === ' ') this.index += 1;
  }

  /** RFC 8941 §4.2.1.2: optional whitespace around dictionary commas. */
  skipOws(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.index += 1;
  }

  /** RFC 8941 §4.2.3.3 key: lcalpha / "*" first, then lcalpha, digits, "_-.*". */
  key(): string {
    const match = /^[a-z*][a-z0-9_.*-]*/.exec(this.text.slice(this.index));
    if (match === null) throw new SyntaxError(`expected a key at ${this.index}`);
    this.index += match[0].length;
    return match[0];
  }

  /** RFC 8941 §4.2.5 sf-string: printable ASCII, with `\"` and `\\` escapes only. */
  string(): string {
    this.expect('"');
    let out = '';
    for (;;) {
      const char = this.peek();
      if (char === '') throw new SyntaxError('unterminated string');
      this.index += 1;
      if (char === '"') return out;
      if (char === '\\') {
        const next = this.peek();
        if (next !== '"' && next !== '\\') throw new SyntaxError('bad escape in string');
        out += next;
        this.index += 1;
        continue;
      }
      const code = char.charCodeAt(0);
      if (code < 0x20 || code > 0x7e) throw new SyntaxError('non-printable character in string');
      out += char;
    }
  }

  /** RFC 8941 §4.2.4 sf-integer, non-negative here (times are seconds since the epoch). */
  integer(): number {
    const match = /^\d{1,15}/.exec(this.text.slice(this.index));
    if (match === null) throw new SyntaxError(`expected an integer at ${this.index}`);
    this.index += match[0].length;
    return Number(match[0]);
  }

  /** RFC 8941 §4.2.7 sf-binary: `:base64:`, canonical padded base64 only. */
  bytes(): Uint8Array {
    this.expect(':');
    const end = this.text.indexOf(':', this.index);
    if (end < 0) throw new SyntaxError('unterminated byte sequence');
    const encoded = this.text.slice(this.index, end);
    this.index = end + 1;
    return base64ToBytes(encoded);
  }

  bareItem(): BareItem {
    if (this.peek() === '"') return { type: 'string', value: this.string() };
    return { type: 'integer', value: this.integer() };
  }

  /** RFC 8941 §4.2.3.2 parameters: `;key=value`, each key at most once here (stricter). */
  parameters(): [string, BareItem][] {
    const params: [string, BareItem][] = [];
    while (this.peek() === ';') {
      this.index += 1;
      this.skipSpaces();
      const key = this.key();
      this.expect('=');
      if (params.some(([seen]) => seen === key)) throw new SyntaxError(`repeated parameter ${key}`);
      params.push([key, this.bareItem()]);
    }
    return params;
  }

  /** RFC 8941 §4.2.1.2 inner list of sf-strings without parameters. */
  innerListOfStrings(): string[] {
    this.expect('(');
    const items: string[] = [];
    for (;;) {
      this.skipSpaces();
      if (this.peek() === ')') {
        this.index += 1;
        return items;
      }
      items.push(this.string());
      if (this.peek() === ';') throw new SyntaxError('component parameters are not supported');
      if (this.peek() !== ' ' && this.peek() !== ')') throw new SyntaxError('bad inner list');
    }
  }

  /** RFC 8941 §4.2.2 dictionary; `member` parses the value after `key=`. Repeated keys refused. */
  dictionary<T>(member: () => T): Map<string, T> {
    const entries = new Map<string, T>();
    this.skipSpaces();
    while (!this.done) {
      const key = this.key();
      this.expect('=');
      if (entries.has(key)) throw new SyntaxError(`repeated member ${key}`);
      entries.set(key, member());
      this.skipOws();
      if (this.done) break;
      this.expect(',');
      this.skipOws();
      if (this.done) throw new SyntaxError('trailing comma');
    }
    return entries;
  }
}

/** Joins a header that arrived more than once, as RFC 9110 §5.3 combines field lines. */
function headerValue(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(', ') : value;
}

interface ParsedInput {
  readonly params: SignatureParams;
  readonly created: number;
  readonly expires: number;
  readonly nonce: string;
  readonly keyId: string;
}

const REQUIRED_PARAMS = {
  created: 'integer',
  expires: 'integer',
  nonce: 'string',
  keyid: 'string',
  alg: 'string',
} as const;

/** Signature-Input: exactly `sig1`, exactly our components, exactly our parameters. */
function parseSignatureInput(text: string): ParsedInput | string {
  let dictionary: Map<string, { components: string[]; params: [string, BareItem][] }>;
  try {
    const parser = new FieldParser(text);
    dictionary = parser.dictionary(() => ({
      components: parser.innerListOfStrings(),
      params: parser.parameters(),
    }));
  } catch (error) {
    return `Signature-Input is not a valid structured field (${(error as Error).message}).`;
  }
  const entry = dictionary.get(SIGNATURE_LABEL);
  if (entry === undefined || dictionary.size !== 1) {
    return `Signature-Input must hold exactly one signature labelled ${SIGNATURE_LABEL}.`;
  }
  const expected = COVERED_COMPONENTS.join(' ');
  if (entry.components.join(' ') !== expected || entry.components.length !== 3) {
    return `The signature must cover exactly ("@method" "@target-uri" "content-digest").`;
  }
  const values = new Map(entry.params);
  const names = Object.keys(REQUIRED_PARAMS) as (keyof typeof REQUIRED_PARAMS)[];
  if (entry.params.length !== names.length) {
    return 'The signature parameters must be exactly created, expires, nonce, keyid and alg.';
  }
  for (const name of names) {
    if (values.get(name)?.type !== REQUIRED_PARAMS[name]) {
      return `The signature parameter "${name}" is missing or has the wrong type.`;
    }
  }
  const param = (name: keyof typeof REQUIRED_PARAMS): string | number =>
    (values.get(name) as BareItem).value;
  const nonce = param('nonce') as string;
  const keyId = param('keyid') as string;
  if (param('alg') !== 'ed25519') return 'The signature algorithm must be ed25519.';
  if (!NONCE.test(nonce)) return 'The signature nonce must be 16 to 128 base64url characters.';
  if (!KEY_ID.test(keyId)) return 'The signature keyid must be an identity key id (64 hex).';
  return {
    params: {
      components: entry.components,
      params: entry.params.map(([key, item]) => [key, item.value] as const),
    },
    created: param('created') as number,
    expires: param('expires') as number,
    nonce,
    keyId,
  };
}

/** Signature: exactly `sig1=:<64 bytes>:`. */
function parseSignature(text: string): Uint8Array | string {
  try {
    const parser = new FieldParser(text);
    const dictionary = parser.dictionary(() => {
      const bytes = parser.bytes();
      if (parser.parameters().length > 0) throw new SyntaxError('unexpected parameters');
      return bytes;
    });
    const signature = dictionary.get(SIGNATURE_LABEL);
    if (signature === undefined || dictionary.size !== 1) {
      return `Signature must hold exactly one signature labelled ${SIGNATURE_LABEL}.`;
    }
    if (signature.byteLength !== SIGNATURE_BYTES) return 'The signature is not 64 bytes.';
    return signature;
  } catch (error) {
    return `Signature is not a valid structured field (${(error as Error).message}).`;
  }
}

// ---------------------------------------------------------------------------------------------
// Verification

function failure(code: SignatureErrorCode, message: string): SignatureCheck {
  return { ok: false, code, message };
}

/** Time checks: RFC 9421 §3.2.1 (created/expires), ARCHITECTURE.md §6 (skew beyond 5 minutes refused). */
function timeProblem(input: ParsedInput, now: Date, maxSkew: number): SignatureCheck | null {
  const nowSeconds = Math.floor(now.getTime() / 1000);
  if (input.expires <= input.created || input.expires - input.created > MAX_LIFETIME_SECONDS) {
    return failure(
      'SIGNATURE_INVALID',
      `The signature must expire after it was created and within ${MAX_LIFETIME_SECONDS} seconds.`,
    );
  }
  if (Math.abs(nowSeconds - input.created) > maxSkew) {
    return failure(
      'CLOCK_SKEW',
      `The signature was created ${nowSeconds - input.created} seconds from the server's clock; at most ${maxSkew} are allowed.`,
    );
  }
  if (input.expires <= nowSeconds) return failure('SIGNATURE_EXPIRED', 'The signature expired.');
  return null;
}

/**
 * Verifies an RFC 9421 signature of the profile above. Never throws: returns the key id and
 * nonce on success (the caller must refuse a nonce it has seen before), or a stable code.
 * @example
 * const check = verifyRequestSignature(
 *   { method: req.method, url: publicUrl + req.url, headers: req.headers, bodySha256 },
 *   (keyId) => members.get(keyId)?.publicKey ?? null,
 *   { now: new Date() },
 * );
 */
export function verifyRequestSignature(
  req: VerifiableRequest,
  lookupKey: (keyId: string) => Uint8Array | null,
  opts: { now: Date; maxSkewSeconds?: number },
): SignatureCheck {
  try {
    return verifyUnsafe(req, lookupKey, opts);
  } catch {
    // Defence in depth: any surprise in attacker-controlled input is a plain refusal.
    return failure('SIGNATURE_INVALID', 'The request signature could not be checked.');
  }
}

function verifyUnsafe(
  req: VerifiableRequest,
  lookupKey: (keyId: string) => Uint8Array | null,
  opts: { now: Date; maxSkewSeconds?: number },
): SignatureCheck {
  const inputText = headerValue(req.headers['signature-input']);
  const signatureText = headerValue(req.headers['signature']);
  const digestText = headerValue(req.headers['content-digest']);
  if (inputText === null || signatureText === null || digestText === null) {
    return failure(
      'SIGNATURE_MISSING',
      'The request must carry Signature-Input, Signature and Content-Digest headers (RFC 9421).',
    );
  }
  const input = parseSignatureInput(inputText);
  if (typeof input === 'string') return failure('SIGNATURE_INVALID', input);
  const signature = parseSignature(signatureText);
  if (typeof signature === 'string') return failure('SIGNATURE_INVALID', signature);
  const claimed = parseContentDigest(digestText);
  if (claimed === null) {
    return failure('DIGEST_MISMATCH', 'Content-Digest must be exactly sha-256=:<base64>:.');
  }
  const publicKey = lookupKey(input.keyId);
  // Never trust a listed key id (ARCHITECTURE.md §3): it must be the hash of the key that verifies.
  if (publicKey === null || identityKeyId(publicKey) !== input.keyId) {
    return failure('UNKNOWN_KEY', 'The signing key is not a member of the trust root.');
  }
  const base = signatureBase(
    { method: req.method, url: req.url, digest: digestText.trim() },
    input.params,
  );
  // RFC 9421 §3.2 step 8, with strict RFC 8032 §5.1.7 verification.
  if (!ed25519Verify(signature, base, publicKey)) {
    return failure('SIGNATURE_INVALID', 'The request signature does not verify.');
  }
  const time = timeProblem(input, opts.now, opts.maxSkewSeconds ?? DEFAULT_MAX_SKEW_SECONDS);
  if (time !== null) return time;
  // RFC 9530 §2: the digest is of the content actually received.
  if (!constantTimeEqual(claimed, req.bodySha256)) {
    return failure('DIGEST_MISMATCH', 'The body does not match its Content-Digest.');
  }
  return {
    ok: true,
    keyId: input.keyId,
    nonce: input.nonce,
    created: input.created,
    expires: input.expires,
  };
}
