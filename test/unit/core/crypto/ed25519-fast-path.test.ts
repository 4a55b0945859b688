import * as ed from '@noble/ed25519';
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  randomBytes,
  sign as nodeSign,
  verify as nodeVerify,
} from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ed25519Sign,
  ed25519Verify,
  parseIdentityPublicKey,
  publicKeyFromSeed,
} from '../../../../src/core/crypto/ed25519';
import { bytesToHex } from '../../../../src/core/crypto/encoding';

/**
 * ed25519Verify checks valid signatures with node:crypto first and falls back to noble's strict
 * branch. These tests pin that the answer is always noble's `zip215: false`, including for inputs
 * where OpenSSL and noble disagree. All keys here are TEST-ONLY.
 */

const L = 2n ** 252n + 27742317777372353535851937790883648493n;

function noble(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  try {
    return ed.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

function toLittleEndian(value: bigint): Uint8Array {
  const bytes = new Uint8Array(32);
  for (let index = 0; index < 32; index += 1) {
    bytes[index] = Number((value >> BigInt(8 * index)) & 0xffn);
  }
  return bytes;
}

function fromLittleEndian(bytes: Uint8Array): bigint {
  let value = 0n;
  for (let index = bytes.length - 1; index >= 0; index -= 1) {
    value = (value << 8n) | BigInt(bytes[index] ?? 0);
  }
  return value;
}

function seedOf(label: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(`TEST-ONLY fast path ${label}`).digest());
}

describe('#ed25519Verify fast path', () => {
  it('agrees with noble on valid and tampered signatures over random messages', () => {
    for (let round = 0; round < 50; round += 1) {
      const seed = seedOf(String(round));
      const publicKey = publicKeyFromSeed(seed);
      const message = randomBytes(round * 7);
      const signature = ed25519Sign(message, seed);
      expect(ed25519Verify(signature, message, publicKey)).toBe(true);
      const tampered = Uint8Array.from(signature);
      const index = round % 64;
      tampered[index] = (tampered[index] ?? 0) ^ (1 << (round % 8));
      expect(ed25519Verify(tampered, message, publicKey)).toBe(noble(tampered, message, publicKey));
    }
  });

  it('accepts what node:crypto signs, exactly as noble does', () => {
    const seed = seedOf('node');
    const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
    const key = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
    const message = new TextEncoder().encode('signed by OpenSSL');
    const signature = new Uint8Array(nodeSign(null, message, key));
    expect(ed25519Verify(signature, message, publicKeyFromSeed(seed))).toBe(true);
  });

  it('refuses S + L, which OpenSSL without its own check would accept', () => {
    const seed = seedOf('malleable');
    const message = new TextEncoder().encode('m');
    const signature = ed25519Sign(message, seed);
    const s = fromLittleEndian(signature.subarray(32));
    if (s + L >= 2n ** 256n) return; // cannot be encoded; try another seed if this ever happens
    const malleated = Uint8Array.from(signature);
    malleated.set(toLittleEndian(s + L), 32);
    expect(ed25519Verify(malleated, message, publicKeyFromSeed(seed))).toBe(false);
  });

  it('refuses a non-canonical public key encoding that OpenSSL decodes', () => {
    // y = p + 1 ≡ 1 is the identity: OpenSSL reads it, noble's strict decoding does not.
    const p = 2n ** 255n - 19n;
    const publicKey = toLittleEndian(p + 1n);
    const signature = new Uint8Array(64);
    signature.set(toLittleEndian(1n), 0);
    expect(ed25519Verify(signature, new Uint8Array([1]), publicKey)).toBe(false);
    expect(() => parseIdentityPublicKey(bytesToHex(publicKey))).toThrow();
  });

  it('still accepts a signature that only the cofactored equation accepts (noble is the reference)', () => {
    // A mixed-order key A = [a]B + T (T of order 8): R + [k]A - [S]B = [k]T, a torsion point.
    // OpenSSL's cofactorless check refuses it when 8 does not divide k; noble's cofactored one
    // accepts. The fast path must fall back to noble and say yes.
    const torsion = ed.Point.fromBytes(
      Uint8Array.from(
        Buffer.from('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', 'hex'),
      ),
      false,
    );
    expect(torsion.isSmallOrder()).toBe(true);
    const a = 123456789n;
    const A = ed.Point.BASE.multiply(a).add(torsion);
    const publicKey = A.toBytes();
    let found = false;
    for (let attempt = 1n; attempt < 64n && !found; attempt += 1n) {
      const message = new TextEncoder().encode(`mixed order ${attempt}`);
      const r = 1000n + attempt;
      const R = ed.Point.BASE.multiply(r).toBytes();
      const digest = createHash('sha512').update(R).update(publicKey).update(message).digest();
      const k = fromLittleEndian(digest) % L;
      if (k % 8n === 0n) continue;
      const S = (r + k * a) % L;
      const signature = new Uint8Array(64);
      signature.set(R, 0);
      signature.set(toLittleEndian(S), 32);
      const x = Buffer.from(publicKey).toString('base64url');
      const keyObject = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
      expect(nodeVerify(null, message, keyObject, signature)).toBe(false);
      expect(noble(signature, message, publicKey)).toBe(true);
      expect(ed25519Verify(signature, message, publicKey)).toBe(true);
      found = true;
    }
    expect(found).toBe(true);
  });

  it('refuses a small-order public key even when cached', () => {
    const identity = toLittleEndian(1n);
    const signature = new Uint8Array(64);
    signature.set(identity, 0);
    const message = new TextEncoder().encode('any');
    expect(ed25519Verify(signature, message, identity)).toBe(false);
    expect(ed25519Verify(signature, message, identity)).toBe(false);
    expect(() => parseIdentityPublicKey(bytesToHex(identity))).toThrow(/small-order/);
    expect(() => parseIdentityPublicKey(bytesToHex(identity))).toThrow(/small-order/);
  });
});
