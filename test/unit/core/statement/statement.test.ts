import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bytesToBase64, ed25519Sign } from '../../../../src/core/crypto';
import {
  STATEMENT_PREFIX,
  createApproval,
  parseStatement,
  statementId,
  statementSigningBytes,
  verifyApproval,
  type IdentitySigner,
} from '../../../../src/core/statement';
import type { Approval, Statement } from '../../../../src/shared/schemas';
import { releaseStatement, testIdentity } from '../test-identities';

const alice = testIdentity('alice');
const bob = testIdentity('bob');

const REMOVE = Symbol('remove');

/** A deep copy of `statement` with the field at dotted `path` set to `value` (or removed). */
function edited(statement: Statement, path: string, value: unknown): Statement {
  const copy = structuredClone(statement) as unknown as Record<string, unknown>;
  const keys = path.split('.');
  const last = keys.pop() ?? '';
  let target = copy;
  for (const key of keys) target = target[key] as Record<string, unknown>;
  if (value === REMOVE) delete target[last];
  else target[last] = value;
  return copy as unknown as Statement;
}

const PROPOSER = '1'.repeat(64);
const statement = releaseStatement(PROPOSER);

// The exact canonical text of `statement`: keys sorted, no whitespace (RFC 8785).
const EXPECTED_CANONICAL =
  '{"app":"com.example.app","channel":"production","createdAt":"2026-11-23T10:00:00Z",' +
  '"expiresAt":"2026-11-30T10:00:00Z","kind":"release","prev":"' +
  'a'.repeat(64) +
  `","proposer":"${PROPOSER}","release":{"bundle":{"checksum":"` +
  'd'.repeat(512) +
  '","encryptedSha256":"' +
  'c'.repeat(64) +
  '","encryptedSize":128,"files":87,"keyId":"MIIBCgKCAQEAqJikYizo",' +
  '"sessionKey":"AAAAAAAAAAAAAAAAAAAAAA==:BBBB","sha256":"' +
  'b'.repeat(64) +
  '","size":123},"minNativeVersion":"1.0.0","notes":"Fixes the login screen.",' +
  '"rollout":{"percent":10},"version":"1.4.2"},"seq":42,"v":1}';

describe('#statementSigningBytes', () => {
  it('is "airlock/statement/v1\\n" followed by the canonical JSON of the statement', () => {
    expect(STATEMENT_PREFIX).toBe('airlock/statement/v1\n');
    expect(new TextDecoder().decode(statementSigningBytes(statement))).toBe(
      `airlock/statement/v1\n${EXPECTED_CANONICAL}`,
    );
  });

  it('does not depend on the order of the keys in the object', () => {
    const reordered = Object.fromEntries(Object.entries(statement).reverse()) as Statement;
    expect(Buffer.from(statementSigningBytes(reordered)).toString('hex')).toBe(
      Buffer.from(statementSigningBytes(statement)).toString('hex'),
    );
  });

  describe('when the statement is malformed', () => {
    it('throws STATEMENT_INVALID for an unknown field', () => {
      const extra = edited(statement, 'extra', true);
      expect(() => statementSigningBytes(extra)).toThrowWithCode('STATEMENT_INVALID');
    });

    it('throws STATEMENT_INVALID for a bad field', () => {
      const bad = edited(statement, 'seq', 0);
      expect(() => statementSigningBytes(bad)).toThrowWithCode('STATEMENT_INVALID');
    });

    it('throws CANONICAL_JSON_UNSUPPORTED for an optional field set to undefined', () => {
      const bad = edited(statement, 'release.notes', undefined);
      expect(() => statementSigningBytes(bad)).toThrowWithCode('CANONICAL_JSON_UNSUPPORTED');
    });
  });
});

describe('#statementId', () => {
  it('is the lowercase hex SHA-256 of the signed bytes', () => {
    const expected = createHash('sha256')
      .update(`airlock/statement/v1\n${EXPECTED_CANONICAL}`, 'utf8')
      .digest('hex');
    expect(statementId(statement)).toBe(expected);
  });

  describe('when any one field changes', () => {
    const edits: [string, unknown][] = [
      ['app', 'com.example.other'],
      ['channel', 'beta'],
      ['seq', 43],
      ['prev', 'e'.repeat(64)],
      ['createdAt', '2026-11-23T10:00:01Z'],
      ['expiresAt', '2026-12-30T10:00:00Z'],
      ['proposer', '2'.repeat(64)],
      ['release.version', '1.4.3'],
      ['release.minNativeVersion', '1.0.1'],
      ['release.notes', 'Fixes the login screen!'],
      ['release.notes', REMOVE],
      ['release.rollout.percent', 11],
      ['release.bundle.sha256', 'f'.repeat(64)],
      ['release.bundle.size', 124],
      ['release.bundle.encryptedSha256', 'f'.repeat(64)],
      ['release.bundle.encryptedSize', 129],
      ['release.bundle.sessionKey', 'AAAAAAAAAAAAAAAAAAAAAA==:BBBC'],
      ['release.bundle.checksum', `${'d'.repeat(511)}e`],
      ['release.bundle.keyId', 'MIIBCgKCAQEAqJikYizp'],
      ['release.bundle.files', 88],
    ];

    it.each(edits)('changes the id and voids approvals when %s becomes %s', async (path, value) => {
      const original = releaseStatement(alice.keyId);
      const approval = await createApproval(original, bob);
      const changed = edited(original, path, value);
      expect(statementId(changed)).not.toBe(statementId(original));
      expect(verifyApproval(changed, approval, bob.publicKey)).toBe(false);
      expect(verifyApproval(original, approval, bob.publicKey)).toBe(true);
    });
  });

  it('differs between kinds with the same log position', () => {
    const base = {
      v: 1 as const,
      app: 'com.example.app',
      channel: 'production',
      seq: 1,
      prev: null,
      createdAt: '2026-11-23T10:00:00Z',
      expiresAt: '2026-11-30T10:00:00Z',
      proposer: PROPOSER,
    };
    const ids = new Set([
      statementId({ ...base, kind: 'pause' }),
      statementId({ ...base, kind: 'pause', automatic: true }),
      statementId({ ...base, kind: 'resume' }),
      statementId({ ...base, kind: 'rollout', rollout: { percent: 50 } }),
      statementId({ ...base, kind: 'rollout', rollout: { percent: 51 } }),
      statementId({ ...base, kind: 'rollback', target: 'a'.repeat(64) }),
      statementId({ ...base, kind: 'rollback', target: 'b'.repeat(64) }),
    ]);
    expect(ids.size).toBe(7);
  });
});

describe('#parseStatement', () => {
  it('returns a valid statement unchanged', () => {
    expect(parseStatement(JSON.parse(JSON.stringify(statement)))).toEqual(statement);
  });

  describe('when the statement is invalid', () => {
    it('throws STATEMENT_INVALID naming the bad field', () => {
      const bad = edited(statement, 'release.bundle.sha256', 'XYZ');
      expect(() => parseStatement(bad)).toThrowWithCode('STATEMENT_INVALID');
      expect(() => parseStatement(bad)).toThrow(
        'Statement field "release.bundle.sha256" must be 64 lowercase hex characters.',
      );
    });

    it('names an unknown field', () => {
      const bad = edited(statement, 'release.bundle.url', 'https://example.com/');
      expect(() => parseStatement(bad)).toThrow(
        'Statement has an unknown field "release.bundle.url".',
      );
    });

    it('names a missing field', () => {
      const bad = edited(statement, 'channel', REMOVE);
      expect(() => parseStatement(bad)).toThrow('Statement field "channel" is missing.');
    });

    it('refuses something that is not an object', () => {
      expect(() => parseStatement('release')).toThrowWithCode('STATEMENT_INVALID');
      expect(() => parseStatement(null)).toThrowWithCode('STATEMENT_INVALID');
    });
  });
});

describe('#createApproval', () => {
  it('signs the statement id with the signer key', async () => {
    const approval = await createApproval(statement, bob);
    expect(approval.statement).toBe(statementId(statement));
    expect(approval.keyId).toBe(bob.keyId);
    expect(Buffer.from(approval.sig, 'base64')).toHaveLength(64);
    expect(approval.sig).toBe(
      bytesToBase64(ed25519Sign(statementSigningBytes(statement), bob.seed)),
    );
  });

  it('accepts a signer that signs asynchronously', async () => {
    const asyncSigner: IdentitySigner = {
      keyId: bob.keyId,
      publicKey: bob.publicKey,
      sign: (message) => Promise.resolve(bob.sign(message)),
    };
    const approval = await createApproval(statement, asyncSigner);
    expect(verifyApproval(statement, approval, bob.publicKey)).toBe(true);
  });

  describe('when the signer is inconsistent', () => {
    it('throws KEY_INVALID when its key id is not the hash of its public key', async () => {
      const liar: IdentitySigner = { ...bob, keyId: alice.keyId };
      await expect(createApproval(statement, liar)).rejects.toThrowWithCode('KEY_INVALID');
    });

    it('throws SIGNATURE_INVALID when it signs with another key than it claims', async () => {
      const mixedUp: IdentitySigner = {
        keyId: bob.keyId,
        publicKey: bob.publicKey,
        sign: (message) => alice.sign(message),
      };
      await expect(createApproval(statement, mixedUp)).rejects.toThrowWithCode('SIGNATURE_INVALID');
    });
  });

  it('throws STATEMENT_INVALID for a malformed statement', async () => {
    const bad = edited(statement, 'v', 2);
    await expect(createApproval(bad, bob)).rejects.toThrowWithCode('STATEMENT_INVALID');
  });
});

describe('#verifyApproval', () => {
  it('accepts a genuine approval', async () => {
    const approval = await createApproval(statement, bob);
    expect(verifyApproval(statement, approval, bob.publicKey)).toBe(true);
  });

  describe('when one input is tampered with', () => {
    it.each([0, 31, 32, 63])(
      'rejects a signature with one bit flipped in byte %i',
      async (index) => {
        const approval = await createApproval(statement, bob);
        const bytes = Buffer.from(approval.sig, 'base64');
        bytes[index] = (bytes[index] ?? 0) ^ 0x04;
        const tampered: Approval = { ...approval, sig: bytes.toString('base64') };
        expect(verifyApproval(statement, tampered, bob.publicKey)).toBe(false);
      },
    );

    it('rejects the approval under a wrong key', async () => {
      const approval = await createApproval(statement, bob);
      expect(verifyApproval(statement, approval, alice.publicKey)).toBe(false);
    });

    it('rejects an approval whose key id names another key', async () => {
      const approval = await createApproval(statement, bob);
      expect(verifyApproval(statement, { ...approval, keyId: alice.keyId }, bob.publicKey)).toBe(
        false,
      );
    });

    it('rejects an approval of another statement', async () => {
      const other = edited(statement, 'seq', 43);
      const approval = await createApproval(other, bob);
      expect(verifyApproval(statement, approval, bob.publicKey)).toBe(false);
    });

    it('rejects a genuine signature filed under another statement id', async () => {
      const approval = await createApproval(statement, bob);
      const misfiled = { ...approval, statement: 'e'.repeat(64) };
      expect(verifyApproval(statement, misfiled, bob.publicKey)).toBe(false);
    });

    it('rejects a valid signature relabelled with this statement id', async () => {
      const other = edited(statement, 'seq', 43);
      const approval = await createApproval(other, bob);
      const relabelled = { ...approval, statement: statementId(statement) };
      expect(verifyApproval(statement, relabelled, bob.publicKey)).toBe(false);
    });
  });

  describe('when the inputs are malformed', () => {
    it('returns false, without throwing, for a signature that is not base64', async () => {
      const approval = await createApproval(statement, bob);
      expect(verifyApproval(statement, { ...approval, sig: '%%%' }, bob.publicKey)).toBe(false);
    });

    it('returns false, without throwing, for a malformed statement', async () => {
      const approval = await createApproval(statement, bob);
      const bad = edited(statement, 'extra', 1);
      expect(verifyApproval(bad, approval, bob.publicKey)).toBe(false);
    });

    it('returns false, without throwing, for a public key of the wrong length', async () => {
      const approval = await createApproval(statement, bob);
      expect(verifyApproval(statement, approval, bob.publicKey.subarray(1))).toBe(false);
    });
  });
});
