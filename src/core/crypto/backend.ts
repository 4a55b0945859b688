import { sha256 as nobleSha256, sha512 as nobleSha512 } from '@noble/hashes/sha2';

/**
 * The primitives core hashes and verifies with, chosen once at load (ARCHITECTURE.md §11). Core runs
 * in three places: Node (server, CLI, console main), the Electron renderer, and the app's WebView
 * (`airlock/device`). The portable backend is @noble/hashes and WebCrypto's random source, so no
 * file of core imports a Node built-in. Under Node, `process.getBuiltinModule` (no static import,
 * so a browser bundle never sees it) swaps in node:crypto where the benchmarks show it matters:
 * SHA-256 on the device hot path (the cohort function, `npm run bench:server`) and Ed25519
 * verification of long logs (`npm run bench:log`). The answers are the same; only the speed differs.
 */

/** node:crypto's few functions core uses, typed locally so that core compiles without @types/node. */
interface NodeCryptoSubset {
  hash(algorithm: string, data: string | Uint8Array, encoding: 'hex'): string;
  createHash(algorithm: string): {
    update(data: Uint8Array | string): { digest(): Uint8Array };
  };
  createPublicKey(input: { key: { kty: string; crv: string; x: string }; format: 'jwk' }): unknown;
  verify(algorithm: null, data: Uint8Array, key: unknown, signature: Uint8Array): boolean;
}

interface ProcessWithBuiltins {
  getBuiltinModule?: (id: string) => unknown;
}

function loadNodeCrypto(): NodeCryptoSubset | null {
  const proc = (globalThis as { process?: ProcessWithBuiltins }).process;
  try {
    const module = proc?.getBuiltinModule?.('node:crypto');
    return (module as NodeCryptoSubset | undefined) ?? null;
  } catch {
    return null;
  }
}

/** node:crypto when running under Node ≥ 20.16, null in a browser or WebView. */
export const nodeCrypto: NodeCryptoSubset | null = loadNodeCrypto();

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

/** Lowercase hex without Buffer (the portable path). */
export function portableHex(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += HEX[byte] as string;
  return out;
}

const encoder = new TextEncoder();

function toBytes(input: Uint8Array | string): Uint8Array {
  return typeof input === 'string' ? encoder.encode(input) : input;
}

/** The portable functions, whatever the platform (tests compare them with node:crypto's). */
export const portable = {
  sha256Bytes: (input: Uint8Array | string): Uint8Array => nobleSha256(toBytes(input)),
  sha256HexOf: (input: Uint8Array | string): string => portableHex(nobleSha256(toBytes(input))),
  sha512Bytes: (input: Uint8Array): Uint8Array => nobleSha512(input),
};

/** SHA-256 of bytes (a string is hashed as UTF-8). */
export const sha256Bytes: (input: Uint8Array | string) => Uint8Array =
  nodeCrypto === null
    ? portable.sha256Bytes
    : (input) => {
        const digest = nodeCrypto.createHash('sha256').update(input).digest();
        return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
      };

/** Lowercase hex SHA-256 (a string is hashed as UTF-8). */
export const sha256HexOf: (input: Uint8Array | string) => string =
  nodeCrypto === null
    ? portable.sha256HexOf
    : // One-shot crypto.hash is ~3× cheaper than createHash().update().digest() for short inputs.
      (input) => nodeCrypto.hash('sha256', input, 'hex');

/** SHA-512 (what Ed25519 needs, RFC 8032 §5.1). */
export const sha512Bytes: (input: Uint8Array) => Uint8Array<ArrayBuffer> =
  nodeCrypto === null
    ? (input) => new Uint8Array(nobleSha512(input))
    : (input) => new Uint8Array(nodeCrypto.createHash('sha512').update(input).digest());

/** `length` bytes from the platform's CSPRNG (WebCrypto, which Node 20 also has). */
export function randomBytes(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  globalThis.crypto.getRandomValues(bytes);
  return bytes;
}
