import { describe, expect, it } from 'vitest';
import {
  ApprovalSchema,
  PolicySchema,
  SignedTrustRootSchema,
  StatementSchema,
  TrustRootSchema,
  type Policy,
  type Statement,
  type TrustRoot,
} from '../../../src/shared/schemas';

const KEY_A = 'a'.repeat(64);
const KEY_B = 'b'.repeat(64);
// 64 zero bytes in canonical base64.
const SIG = `${'A'.repeat(86)}==`;

const base = {
  v: 1,
  app: 'com.example.app',
  channel: 'production',
  seq: 2,
  prev: 'e'.repeat(64),
  createdAt: '2026-11-23T10:00:00Z',
  expiresAt: '2026-11-30T10:00:00Z',
  proposer: KEY_A,
};

const release = {
  ...base,
  kind: 'release',
  release: {
    version: '1.4.2',
    minNativeVersion: '1.0.0',
    notes: 'Fixes the login screen.',
    rollout: { percent: 10 },
    bundle: {
      sha256: '1'.repeat(64),
      size: 123,
      encryptedSha256: '2'.repeat(64),
      encryptedSize: 128,
      sessionKey: 'AAAAAAAAAAAAAAAAAAAAAA==:BBBB',
      checksum: '3'.repeat(512),
      keyId: 'MIIBCgKCAQEAqJikYizo',
      files: 87,
    },
  },
};

const REMOVE = Symbol('remove');

/** A deep copy of `value` with the field at dotted `path` set to `next` (or removed). */
function withField(value: object, path: string, next: unknown): unknown {
  const copy = structuredClone(value) as Record<string, unknown>;
  const keys = path.split('.');
  const last = keys.pop() ?? '';
  let target = copy;
  for (const key of keys) target = target[key] as Record<string, unknown>;
  if (next === REMOVE) delete target[last];
  else target[last] = next;
  return copy;
}

function statementError(input: unknown): string | null {
  const result = StatementSchema.safeParse(input);
  if (result.success) return null;
  const issue = result.error.issues[0];
  return `${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''}`;
}

describe('StatementSchema', () => {
  describe('when the statement is valid', () => {
    it.each([
      ['a release', release],
      ['a release without notes', withField(release, 'release.notes', REMOVE)],
      ['a rollback', { ...base, kind: 'rollback', target: KEY_B }],
      ['a rollout', { ...base, kind: 'rollout', rollout: { percent: 50 } }],
      ['a pause', { ...base, kind: 'pause' }],
      ['a server-issued pause', { ...base, kind: 'pause', automatic: true }],
      ['a resume', { ...base, kind: 'resume' }],
      ['the first statement of a log', { ...base, kind: 'resume', seq: 1, prev: null }],
    ])('accepts %s', (_label, input) => {
      expect(statementError(input)).toBeNull();
    });

    it('returns the statement with the right type', () => {
      const parsed: Statement = StatementSchema.parse(release);
      expect(parsed.kind === 'release' && parsed.release.version).toBe('1.4.2');
    });
  });

  describe('when a field is outside the format', () => {
    it.each([
      ['v', 2],
      ['kind', 'delete'],
      ['app', 'example'],
      ['app', 'com..example'],
      ['app', '1com.example'],
      ['app', 'com.exa mple'],
      ['app', `com.${'a'.repeat(252)}`],
      ['channel', 'Production'],
      ['channel', '-beta'],
      ['channel', 'a'.repeat(65)],
      ['channel', ''],
      ['seq', 0],
      ['seq', 2.5],
      ['seq', '2'],
      ['prev', 'E'.repeat(64)],
      ['createdAt', '2026-11-23T10:00:00+01:00'],
      ['createdAt', '2026-11-23 10:00:00Z'],
      ['createdAt', '2026-11-23T10:00:00'],
      ['createdAt', '2026-02-30T10:00:00Z'],
      ['createdAt', '2026-11-23T24:00:00Z'],
      ['createdAt', '2026-11-23T10:00:00.1234Z'],
      ['proposer', 'a'.repeat(63)],
      ['release.version', '1.4'],
      ['release.version', 'v1.4.2'],
      ['release.version', '01.4.2'],
      ['release.minNativeVersion', ''],
      ['release.notes', 'x'.repeat(4097)],
      ['release.rollout.percent', 0],
      ['release.rollout.percent', -5],
      ['release.rollout.percent', 100.5],
      ['release.bundle.sha256', 'A'.repeat(64)],
      ['release.bundle.size', 0],
      ['release.bundle.size', 1.5],
      ['release.bundle.encryptedSize', -1],
      ['release.bundle.sessionKey', 'no-colon'],
      ['release.bundle.checksum', '3'.repeat(511)],
      ['release.bundle.keyId', 'M'.repeat(21)],
      ['release.bundle.keyId', ''],
      ['release.bundle.files', 0],
    ])('refuses %s = %j', (path, value) => {
      expect(statementError(withField(release, path, value))).toMatch(
        new RegExp(`^${path.replace(/\./g, '\\.')}: `),
      );
    });

    it.each([
      ['a release without its release', withField(release, 'release', REMOVE)],
      ['a rollback without a target', { ...base, kind: 'rollback' }],
      ['a pause with automatic: false', { ...base, kind: 'pause', automatic: false }],
      ['a resume with a target', { ...base, kind: 'resume', target: KEY_B }],
      ['a missing field', withField(release, 'channel', REMOVE)],
    ])('refuses %s', (_label, input) => {
      expect(statementError(input)).not.toBeNull();
    });
  });

  describe('when an unknown field is present', () => {
    it.each(['extra', 'release.extra', 'release.bundle.url', 'release.rollout.steps'])(
      'refuses %s',
      (path) => {
        expect(StatementSchema.safeParse(withField(release, path, 1)).success).toBe(false);
      },
    );
  });

  it('accepts the boundaries of the limits', () => {
    expect(statementError(withField(release, 'release.rollout.percent', 100))).toBeNull();
    expect(statementError(withField(release, 'release.rollout.percent', 0.5))).toBeNull();
    expect(statementError(withField(release, 'release.notes', 'x'.repeat(4096)))).toBeNull();
    expect(statementError(withField(release, 'channel', `a${'-'.repeat(63)}`))).toBeNull();
    expect(statementError(withField(release, 'createdAt', '2026-11-23T10:00:00.123Z'))).toBeNull();
    expect(
      statementError(withField(release, 'release.version', '1.0.0-beta.1+build.5')),
    ).toBeNull();
  });

  describe('when the cross-field rules are broken', () => {
    it('refuses seq 1 with a prev', () => {
      expect(statementError({ ...base, kind: 'resume', seq: 1 })).toBe(
        'prev: must be null when seq is 1 and a statement id otherwise',
      );
    });

    it('refuses a later seq without a prev', () => {
      expect(statementError({ ...base, kind: 'resume', prev: null })).toBe(
        'prev: must be null when seq is 1 and a statement id otherwise',
      );
    });

    it.each(['2026-11-23T10:00:00Z', '2026-11-22T10:00:00Z'])(
      'refuses expiresAt %s, not after createdAt',
      (expiresAt) => {
        expect(statementError({ ...base, kind: 'resume', expiresAt })).toBe(
          'expiresAt: must be after createdAt',
        );
      },
    );
  });
});

describe('ApprovalSchema', () => {
  const approval = { statement: KEY_A, keyId: KEY_B, sig: SIG };

  it('accepts an approval', () => {
    expect(ApprovalSchema.parse(approval)).toEqual(approval);
  });

  it.each([
    ['a signature of 63 bytes', { ...approval, sig: `${'A'.repeat(83)}A=` }],
    ['a signature of 65 bytes', { ...approval, sig: `${'A'.repeat(87)}=` }],
    ['non-zero padding bits', { ...approval, sig: `${'A'.repeat(85)}B==` }],
    ['URL-safe base64', { ...approval, sig: `${'_'.repeat(85)}A==` }],
    ['a statement id in uppercase', { ...approval, statement: 'A'.repeat(64) }],
    ['a short key id', { ...approval, keyId: 'b'.repeat(63) }],
    ['an unknown field', { ...approval, at: '2026-11-23T10:00:00Z' }],
  ])('refuses %s', (_label, input) => {
    expect(ApprovalSchema.safeParse(input).success).toBe(false);
  });
});

const member = { keyId: KEY_A, publicKey: '4'.repeat(64), name: 'Ada', roles: ['admin'] };
const policy = {
  app: 'com.example.*',
  channel: 'production',
  kind: 'release',
  threshold: 2,
  roles: ['release_manager', 'signing_officer'],
  require: { signing_officer: 1 },
};
const root = {
  v: 1,
  version: 1,
  expiresAt: '2027-01-01T00:00:00Z',
  members: [member],
  policies: [policy],
  rootThreshold: 1,
};

function rootError(input: unknown): string | null {
  const result = TrustRootSchema.safeParse(input);
  if (result.success) return null;
  const issue = result.error.issues[0];
  return `${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''}`;
}

describe('PolicySchema', () => {
  it('fills in proposerCounts: false', () => {
    const parsed: Policy = PolicySchema.parse(policy);
    expect(parsed.proposerCounts).toBe(false);
  });

  it.each([
    ['app', '*'],
    ['app', 'com.*'],
    ['app', 'com.example.app'],
    ['channel', '*'],
    ['channel', 'beta-*'],
    ['channel', 'beta'],
  ])('accepts the pattern %s = %s', (field, pattern) => {
    expect(PolicySchema.safeParse({ ...policy, [field]: pattern }).success).toBe(true);
  });

  it.each([
    ['app', 'com.ex*'],
    ['app', '*.example.app'],
    ['app', 'com.*.app'],
    ['app', '**'],
    ['channel', '*beta'],
    ['channel', 'be*ta'],
    ['channel', 'Beta-*'],
  ])('refuses the pattern %s = %s', (field, pattern) => {
    expect(PolicySchema.safeParse({ ...policy, [field]: pattern }).success).toBe(false);
  });

  it.each([
    ['a threshold of 0', { ...policy, threshold: 0 }],
    ['no roles', { ...policy, roles: [] }],
    ['a repeated role', { ...policy, roles: ['signing_officer', 'signing_officer'] }],
    ['an unknown role', { ...policy, roles: ['owner'] }],
    ['a minimum for an unknown role', { ...policy, require: { owner: 1 } }],
    ['a minimum of 0', { ...policy, require: { signing_officer: 0 } }],
    ['an unknown kind', { ...policy, kind: 'delete' }],
    ['an unknown field', { ...policy, note: 'x' }],
  ])('refuses %s', (_label, input) => {
    expect(PolicySchema.safeParse(input).success).toBe(false);
  });

  it('refuses a minimum for a role whose approvals do not count', () => {
    const result = PolicySchema.safeParse({ ...policy, require: { auditor: 1 } });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toBe(
      'names role auditor, which is not among the roles that count',
    );
  });
});

describe('TrustRootSchema', () => {
  it('accepts a root', () => {
    const parsed: TrustRoot = TrustRootSchema.parse(root);
    expect(parsed.policies[0]?.proposerCounts).toBe(false);
    expect(parsed.members[0]?.name).toBe('Ada');
  });

  it('refuses a key listed twice', () => {
    const twice = { ...root, members: [member, { ...member, name: 'Ada again' }] };
    expect(rootError(twice)).toBe('members.1: lists a key that an earlier member already has');
  });

  it('refuses two policies for the same app, channel and kind', () => {
    const twice = { ...root, policies: [policy, { ...policy, threshold: 3 }] };
    expect(rootError(twice)).toBe(
      'policies.1: repeats the app, channel and kind of an earlier policy',
    );
  });

  it('refuses a root threshold no set of admins can meet', () => {
    expect(rootError({ ...root, rootThreshold: 2 })).toBe(
      'rootThreshold: is 2 but the root has only 1 admin(s), so it could never be updated',
    );
  });

  it.each([
    ['v', 2],
    ['version', 0],
    ['expiresAt', 'tomorrow'],
    ['rootThreshold', 0],
    ['members.0.publicKey', 'zz'],
    ['members.0.roles', []],
    ['members.0.name', ''],
    ['members.0.roles', ['admin', 'admin']],
  ])('refuses %s = %j', (path, value) => {
    expect(rootError(withField(root, path, value))).toMatch(
      new RegExp(`^${path.replace(/\./g, '\\.')}: `),
    );
  });
});

describe('SignedTrustRootSchema', () => {
  it('accepts a root with signatures', () => {
    const signed = { root, signatures: [{ keyId: KEY_A, sig: SIG }] };
    expect(SignedTrustRootSchema.safeParse(signed).success).toBe(true);
  });

  it('refuses an unknown field on a signature', () => {
    const signed = { root, signatures: [{ keyId: KEY_A, sig: SIG, alg: 'ed25519' }] };
    expect(SignedTrustRootSchema.safeParse(signed).success).toBe(false);
  });
});
