import { createHash } from 'node:crypto';
import {
  identityKeyId,
  publicKeyFromSeed,
  ed25519Sign,
  bytesToHex,
} from '../../../src/core/crypto';
import type { IdentitySigner } from '../../../src/core/statement';
import type { Member, Role, Statement, TrustRoot } from '../../../src/shared/schemas';

/**
 * TEST-ONLY identities and sample documents shared by the statement and policy tests.
 * Seeds are derived from public labels, so they are deterministic and worthless outside tests.
 */

export interface TestIdentity extends IdentitySigner {
  readonly name: string;
  /** TEST-ONLY private seed. */
  readonly seed: Uint8Array;
  readonly publicKeyHex: string;
}

/** A TEST-ONLY identity whose seed is SHA-256("airlock TEST-ONLY identity <name>"). */
export function testIdentity(name: string): TestIdentity {
  const seed = new Uint8Array(
    createHash('sha256').update(`airlock TEST-ONLY identity ${name}`).digest(),
  );
  const publicKey = publicKeyFromSeed(seed);
  return {
    name,
    seed,
    publicKey,
    publicKeyHex: bytesToHex(publicKey),
    keyId: identityKeyId(publicKey),
    sign: (message) => ed25519Sign(message, seed),
  };
}

export function memberOf(identity: TestIdentity, roles: Role[]): Member {
  return { keyId: identity.keyId, publicKey: identity.publicKeyHex, name: identity.name, roles };
}

export const NOW = new Date('2026-11-24T10:00:00Z');

/** A valid release statement proposed by `proposer` (seq 42, expires 2026-11-30). */
export function releaseStatement(proposer: string): Statement {
  return {
    v: 1,
    kind: 'release',
    app: 'com.example.app',
    channel: 'production',
    seq: 42,
    prev: 'a'.repeat(64),
    createdAt: '2026-11-23T10:00:00Z',
    expiresAt: '2026-11-30T10:00:00Z',
    proposer,
    release: {
      version: '1.4.2',
      minNativeVersion: '1.0.0',
      notes: 'Fixes the login screen.',
      rollout: { percent: 10 },
      bundle: {
        sha256: 'b'.repeat(64),
        size: 123,
        encryptedSha256: 'c'.repeat(64),
        encryptedSize: 128,
        sessionKey: 'AAAAAAAAAAAAAAAAAAAAAA==:BBBB',
        checksum: 'd'.repeat(512),
        keyId: 'MIIBCgKCAQEAqJikYizo',
        files: 87,
      },
    },
  };
}

/** A trust root (version 1, expires 2027-01-01) with the given members and policies. */
export function trustRoot(members: Member[], policies: TrustRoot['policies']): TrustRoot {
  return {
    v: 1,
    version: 1,
    expiresAt: '2027-01-01T00:00:00Z',
    members,
    policies,
    rootThreshold: 1,
  };
}
