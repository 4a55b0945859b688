import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalize } from '../../../../src/core/crypto';
import {
  ROOT_PREFIX,
  parseSignedTrustRoot,
  parseTrustRoot,
  rootId,
  rootSigningBytes,
  signRoot,
  trustedMembers,
  verifyRootSelfSigned,
  verifyRootSignatures,
  verifyRootUpdate,
} from '../../../../src/core/statement';
import type {
  RootSignature,
  SignedTrustRoot,
  TrustRoot,
  TrustRootInput,
} from '../../../../src/shared/schemas';
import { NOW, memberOf, testIdentity, type TestIdentity } from '../test-identities';

// TEST-ONLY identities.
const [ada, ben, cyd, dan, eve] = ['ada', 'ben', 'cyd', 'dan', 'eve'].map(testIdentity) as [
  TestIdentity,
  TestIdentity,
  TestIdentity,
  TestIdentity,
  TestIdentity,
];

/** Version 1: admins ada, ben, cyd; two of them must sign the next root. */
const root1: TrustRoot = {
  v: 1,
  version: 1,
  expiresAt: '2027-01-01T00:00:00Z',
  members: [
    memberOf(ada, ['admin']),
    memberOf(ben, ['admin']),
    memberOf(cyd, ['admin', 'release_manager']),
    memberOf(dan, ['release_manager']),
  ],
  policies: [
    {
      app: '*',
      channel: '*',
      kind: 'release',
      threshold: 2,
      roles: ['release_manager'],
      proposerCounts: false,
    },
  ],
  rootThreshold: 2,
};

/** Version 2: cyd leaves, dan becomes an admin; still two signatures needed. */
const root2: TrustRoot = {
  ...root1,
  version: 2,
  members: [memberOf(ada, ['admin']), memberOf(ben, ['admin']), memberOf(dan, ['admin'])],
};

async function signedBy(root: TrustRoot, signers: TestIdentity[]): Promise<SignedTrustRoot> {
  const signatures: RootSignature[] = [];
  for (const signer of signers) signatures.push(await signRoot(root, signer));
  return { root, signatures };
}

describe('#rootSigningBytes', () => {
  it('is "airlock/root/v1\\n" followed by the canonical JSON of the root', () => {
    expect(ROOT_PREFIX).toBe('airlock/root/v1\n');
    expect(new TextDecoder().decode(rootSigningBytes(root1))).toBe(
      `airlock/root/v1\n${canonicalize(root1)}`,
    );
  });

  it('spells out defaults, so an omitted proposerCounts signs the same bytes as false', () => {
    const { proposerCounts: _omitted, ...policy } = root1.policies[0]!;
    const input: TrustRootInput = { ...root1, policies: [policy] };
    expect(new TextDecoder().decode(rootSigningBytes(input))).toContain('"proposerCounts":false');
    expect(rootId(input)).toBe(rootId(root1));
  });

  it('throws INVALID_INPUT for an invalid root', () => {
    expect(() => rootSigningBytes({ ...root1, rootThreshold: 0 })).toThrowWithCode('INVALID_INPUT');
  });
});

describe('#rootId', () => {
  it('is the hex SHA-256 of the signed bytes', () => {
    const expected = createHash('sha256')
      .update(`airlock/root/v1\n${canonicalize(root1)}`, 'utf8')
      .digest('hex');
    expect(rootId(root1)).toBe(expected);
  });

  it('changes when a member changes', () => {
    expect(rootId(root2)).not.toBe(rootId(root1));
  });
});

describe('#parseTrustRoot', () => {
  it('fills in proposerCounts: false', () => {
    const { proposerCounts: _omitted, ...policy } = root1.policies[0]!;
    expect(parseTrustRoot({ ...root1, policies: [policy] }).policies[0]?.proposerCounts).toBe(
      false,
    );
  });

  it('throws INVALID_INPUT naming the bad field', () => {
    const bad = { ...root1, members: [{ ...memberOf(ada, ['admin']), publicKey: 'zz' }] };
    expect(() => parseTrustRoot(bad)).toThrowWithCode('INVALID_INPUT');
    expect(() => parseTrustRoot(bad)).toThrow('Trust root field "members.0.publicKey"');
  });
});

describe('#parseSignedTrustRoot', () => {
  it('accepts a signed root', async () => {
    const signed = await signedBy(root1, [ada, ben]);
    expect(parseSignedTrustRoot(JSON.parse(JSON.stringify(signed)))).toEqual(signed);
  });

  it('throws INVALID_INPUT for a signature that is not base64 of 64 bytes', () => {
    const bad = { root: root1, signatures: [{ keyId: ada.keyId, sig: 'AAAA' }] };
    expect(() => parseSignedTrustRoot(bad)).toThrowWithCode('INVALID_INPUT');
  });
});

describe('#trustedMembers', () => {
  it('keys members by the id recomputed from their public key', () => {
    expect([...trustedMembers(root1).keys()]).toEqual([ada.keyId, ben.keyId, cyd.keyId, dan.keyId]);
  });

  it('leaves out a member whose listed key id is not the hash of its key', () => {
    const root = { ...root1, members: [{ ...memberOf(ada, ['admin']), keyId: ben.keyId }] };
    expect(trustedMembers(root).size).toBe(0);
  });

  it('leaves out a member whose key is not a valid point', () => {
    const identity = `01${'00'.repeat(31)}`;
    const keyId = createHash('sha256').update(Buffer.from(identity, 'hex')).digest('hex');
    const root = {
      ...root1,
      members: [{ keyId, publicKey: identity, name: 'identity point', roles: ['admin' as const] }],
    };
    expect(trustedMembers(root).size).toBe(0);
  });

  it('merges a key listed twice into one member with both roles', () => {
    const root = {
      ...root1,
      members: [memberOf(dan, ['developer']), memberOf(dan, ['signing_officer'])],
    };
    const members = trustedMembers(root);
    expect(members.size).toBe(1);
    expect([...(members.get(dan.keyId)?.roles ?? [])]).toEqual(['developer', 'signing_officer']);
  });
});

describe('#verifyRootSignatures', () => {
  it('lists the admins whose signatures verify', async () => {
    const { root, signatures } = await signedBy(root1, [ada, ben]);
    expect(verifyRootSignatures(root, signatures, root1).valid).toEqual([ada.keyId, ben.keyId]);
  });

  it('counts one admin once however often it signs', async () => {
    const { root, signatures } = await signedBy(root1, [ada, ada, ada]);
    expect(verifyRootSignatures(root, signatures, root1).valid).toEqual([ada.keyId]);
  });

  it('skips a member who is not an admin', async () => {
    const { root, signatures } = await signedBy(root1, [dan]);
    expect(verifyRootSignatures(root, signatures, root1).valid).toEqual([]);
  });

  it('skips a key that is not a member', async () => {
    const { root, signatures } = await signedBy(root1, [eve]);
    expect(verifyRootSignatures(root, signatures, root1).valid).toEqual([]);
  });

  it('skips a signature over another root', async () => {
    const { signatures } = await signedBy(root2, [ada, ben]);
    expect(verifyRootSignatures(root1, signatures, root1).valid).toEqual([]);
  });

  it('skips a signature with a flipped byte', async () => {
    const { root, signatures } = await signedBy(root1, [ada]);
    const bytes = Buffer.from(signatures[0]?.sig ?? '', 'base64');
    bytes[10] = (bytes[10] ?? 0) ^ 0x80;
    const tampered = [{ keyId: ada.keyId, sig: bytes.toString('base64') }];
    expect(verifyRootSignatures(root, tampered, root1).valid).toEqual([]);
  });

  it('skips a signature filed under another admin key id', async () => {
    const { root, signatures } = await signedBy(root1, [ada]);
    const relabelled = [{ keyId: ben.keyId, sig: signatures[0]?.sig ?? '' }];
    expect(verifyRootSignatures(root, relabelled, root1).valid).toEqual([]);
  });
});

describe('#verifyRootUpdate', () => {
  it('accepts version 2 signed by two admins of version 1 and two of version 2', async () => {
    const next = await signedBy(root2, [ada, ben]);
    const verdict = verifyRootUpdate(root1, next, NOW);
    expect(verdict).toEqual({
      valid: true,
      reasons: [],
      signedByPrevious: [ada.keyId, ben.keyId],
      signedByNext: [ada.keyId, ben.keyId],
    });
  });

  it('accepts the update even when the previous root has expired (TUF 5.3)', async () => {
    const expired1 = { ...root1, expiresAt: '2026-01-01T00:00:00Z' };
    const next = await signedBy(root2, [ada, ben]);
    expect(verifyRootUpdate(expired1, next, NOW).valid).toBe(true);
  });

  describe('when the chain is broken', () => {
    it('refuses a root signed only by admins the previous root does not know', async () => {
      // The attacker's own admins, a threshold of one, signed by themselves.
      const hijacked: TrustRoot = {
        ...root1,
        version: 2,
        members: [memberOf(eve, ['admin'])],
        rootThreshold: 1,
      };
      const verdict = verifyRootUpdate(root1, await signedBy(hijacked, [eve]), NOW);
      expect(verdict.valid).toBe(false);
      expect(verdict.reasons).toEqual(['0/2 valid admin signatures from the previous root']);
    });

    it('refuses a root with too few signatures from its own admins', async () => {
      // cyd is an admin of version 1 but not of version 2.
      const verdict = verifyRootUpdate(root1, await signedBy(root2, [ada, cyd]), NOW);
      expect(verdict.valid).toBe(false);
      expect(verdict.signedByPrevious).toEqual([ada.keyId, cyd.keyId]);
      expect(verdict.reasons).toEqual(['1/2 valid admin signatures from the new root']);
    });

    it('refuses a root that skips a version', async () => {
      const root3 = { ...root2, version: 3 };
      const verdict = verifyRootUpdate(root1, await signedBy(root3, [ada, ben]), NOW);
      expect(verdict.valid).toBe(false);
      expect(verdict.reasons).toEqual(['root version 3 does not follow version 1']);
    });

    it('refuses a replay of the same version', async () => {
      const verdict = verifyRootUpdate(root1, await signedBy(root1, [ada, ben]), NOW);
      expect(verdict.valid).toBe(false);
      expect(verdict.reasons).toEqual(['root version 1 does not follow version 1']);
    });

    it('refuses an expired root', async () => {
      const stale = { ...root2, expiresAt: '2026-11-24T10:00:00Z' };
      const verdict = verifyRootUpdate(root1, await signedBy(stale, [ada, ben]), NOW);
      expect(verdict.valid).toBe(false);
      expect(verdict.reasons).toEqual(['root version 2 expired at 2026-11-24T10:00:00Z']);
    });

    it('refuses a root whose expiry cannot be parsed', async () => {
      const next = await signedBy(root2, [ada, ben]);
      const garbled = { ...next, root: { ...next.root, expiresAt: 'never' } };
      expect(verifyRootUpdate(root1, garbled, NOW).valid).toBe(false);
    });

    it('refuses a root edited after it was signed', async () => {
      const next = await signedBy(root2, [ada, ben]);
      const edited = { ...next, root: { ...next.root, rootThreshold: 1 } };
      const verdict = verifyRootUpdate(root1, edited, NOW);
      expect(verdict.valid).toBe(false);
      expect(verdict.signedByPrevious).toEqual([]);
    });
  });
});

describe('#verifyRootSelfSigned', () => {
  it('accepts a root signed by a threshold of its own admins', async () => {
    const verdict = verifyRootSelfSigned(await signedBy(root1, [ben, cyd]), NOW);
    expect(verdict.valid).toBe(true);
    expect(verdict.signedByNext).toEqual([ben.keyId, cyd.keyId]);
  });

  it('refuses a root with too few admin signatures', async () => {
    const verdict = verifyRootSelfSigned(await signedBy(root1, [ben, dan]), NOW);
    expect(verdict.valid).toBe(false);
    expect(verdict.reasons).toEqual(['1/2 valid admin signatures from the new root']);
  });

  it('refuses an invalid root even when signed', async () => {
    const signed = await signedBy(root1, [ada, ben]);
    const invalid = { ...signed, root: { ...signed.root, rootThreshold: 9 } };
    const verdict = verifyRootSelfSigned(invalid, NOW);
    expect(verdict.valid).toBe(false);
    expect(verdict.reasons[0]).toMatch(/^Trust root field "rootThreshold"/);
  });
});
