import { describe, expect, it } from 'vitest';
import { evaluatePolicy, findPolicy } from '../../../../src/core/policy';
import { createApproval, statementId } from '../../../../src/core/statement';
import type {
  Approval,
  Member,
  Policy,
  Statement,
  TrustRoot,
} from '../../../../src/shared/schemas';
import {
  NOW,
  memberOf,
  releaseStatement,
  testIdentity,
  trustRoot,
  type TestIdentity,
} from '../test-identities';

// TEST-ONLY identities.
const pat = testIdentity('pat'); // proposer, release manager
const rita = testIdentity('rita'); // release manager
const sam = testIdentity('sam'); // signing officer
const sue = testIdentity('sue'); // signing officer
const dev = testIdentity('dev'); // developer
const aud = testIdentity('aud'); // auditor
const mallory = testIdentity('mallory'); // not a member

const members: Member[] = [
  memberOf(pat, ['release_manager']),
  memberOf(rita, ['release_manager']),
  memberOf(sam, ['signing_officer']),
  memberOf(sue, ['signing_officer']),
  memberOf(dev, ['developer']),
  memberOf(aud, ['auditor']),
];

/** ARCHITECTURE.md §3's example: 2 distinct approvers, at least 1 signing officer, proposer excluded. */
const productionRelease: Policy = {
  app: 'com.example.app',
  channel: 'production',
  kind: 'release',
  threshold: 2,
  roles: ['release_manager', 'signing_officer'],
  require: { signing_officer: 1 },
  proposerCounts: false,
};

const root = trustRoot(members, [productionRelease]);
const statement = releaseStatement(pat.keyId);

function approve(signers: TestIdentity[], target: Statement = statement): Promise<Approval[]> {
  return Promise.all(signers.map((signer) => createApproval(target, signer)));
}

function withPolicy(changes: Partial<Policy>): TrustRoot {
  return trustRoot(members, [{ ...productionRelease, ...changes }]);
}

function policy(app: string, channel: string, threshold: number): Policy {
  return { app, channel, kind: 'release', threshold, roles: ['admin'], proposerCounts: false };
}

describe('#findPolicy', () => {
  const policies = [
    policy('*', '*', 1),
    policy('com.*', '*', 2),
    policy('com.example.*', '*', 3),
    policy('com.example.app', '*', 4),
    policy('com.example.app', 'beta-*', 5),
    policy('com.example.app', 'beta-eu', 6),
    policy('*', 'staging', 7),
  ];
  const lookup = (app: string, channel: string, list = policies): number | undefined =>
    findPolicy(trustRoot([], list), app, channel, 'release')?.threshold;

  it('prefers an exact app to a prefix glob, and a prefix glob to *', () => {
    expect(lookup('com.example.app', 'production')).toBe(4);
    expect(lookup('com.example.web', 'production')).toBe(3);
    expect(lookup('org.example.app', 'production')).toBe(1);
  });

  it('prefers the longer of two matching prefix globs', () => {
    expect(lookup('com.other.app', 'production')).toBe(2);
  });

  it('does not let a prefix glob match the bare prefix', () => {
    expect(lookup('com.example', 'production')).toBe(2);
  });

  it('prefers an exact channel to a channel glob once the app pattern ties', () => {
    expect(lookup('com.example.app', 'beta-eu')).toBe(6);
    expect(lookup('com.example.app', 'beta-us')).toBe(5);
  });

  it('lets the app pattern decide before the channel pattern', () => {
    expect(lookup('com.example.app', 'staging')).toBe(4);
    expect(lookup('org.example.app', 'staging')).toBe(7);
  });

  it('does not depend on the order of the policies', () => {
    const reversed = [...policies].reverse();
    expect(lookup('com.example.app', 'beta-eu', reversed)).toBe(6);
    expect(lookup('com.other.app', 'production', reversed)).toBe(2);
  });

  it('only returns a policy of the same kind', () => {
    expect(findPolicy(trustRoot([], policies), 'com.example.app', 'beta-eu', 'pause')).toBeNull();
  });

  it('returns null when nothing matches', () => {
    expect(
      findPolicy(trustRoot([], [policy('org.*', '*', 1)]), 'com.x.y', 'p', 'release'),
    ).toBeNull();
  });
});

describe('#evaluatePolicy', () => {
  describe('when enough distinct, eligible members approve', () => {
    it('is satisfied and says so', async () => {
      const verdict = evaluatePolicy(statement, await approve([rita, sam]), root, { now: NOW });
      expect(verdict).toEqual({
        satisfied: true,
        threshold: 2,
        counted: [rita.keyId, sam.keyId],
        rejected: [],
        missingRoles: {},
        reasons: [],
        summary: '2/2 approvals: satisfied',
      });
    });

    it('still counts the valid ones when others are rejected', async () => {
      const approvals = await approve([dev, rita, mallory, sam]);
      const verdict = evaluatePolicy(statement, approvals, root, { now: NOW });
      expect(verdict.satisfied).toBe(true);
      expect(verdict.rejected.map((rejection) => rejection.keyId)).toEqual([
        dev.keyId,
        mallory.keyId,
      ]);
    });
  });

  describe('when a required role is missing', () => {
    it('names the role in the summary', async () => {
      const verdict = evaluatePolicy(statement, await approve([rita]), root, { now: NOW });
      expect(verdict.satisfied).toBe(false);
      expect(verdict.missingRoles).toEqual({ signing_officer: 1 });
      expect(verdict.summary).toBe('1/2 approvals: missing signing_officer');
      expect(verdict.reasons).toEqual([
        'needs 1 more approval from role signing_officer',
        '1/2 distinct approvals count',
      ]);
    });

    it('is not satisfied by reaching the threshold with the wrong mix of roles', async () => {
      const rootWithTwoManagers = trustRoot(
        [...members, memberOf(testIdentity('rob'), ['release_manager'])],
        [productionRelease],
      );
      const approvals = await approve([rita, testIdentity('rob')]);
      const verdict = evaluatePolicy(statement, approvals, rootWithTwoManagers, { now: NOW });
      expect(verdict.counted).toHaveLength(2);
      expect(verdict.satisfied).toBe(false);
      expect(verdict.summary).toBe('2/2 approvals: missing signing_officer');
    });

    it('checks a minimum above one', async () => {
      const strict = withPolicy({ require: { signing_officer: 2 } });
      const verdict = evaluatePolicy(statement, await approve([rita, sam]), strict, { now: NOW });
      expect(verdict.missingRoles).toEqual({ signing_officer: 1 });
      expect(verdict.satisfied).toBe(false);
      expect(
        evaluatePolicy(statement, await approve([sam, sue]), strict, { now: NOW }).satisfied,
      ).toBe(true);
    });

    it('checks minimums over approvals that count only', async () => {
      // sam is the proposer here, so his signing_officer approval does not count.
      const bySam = releaseStatement(sam.keyId);
      const verdict = evaluatePolicy(bySam, await approve([rita, sam], bySam), root, { now: NOW });
      expect(verdict.missingRoles).toEqual({ signing_officer: 1 });
    });

    it('summarizes the approvals still needed beyond the roles', () => {
      const verdict = evaluatePolicy(statement, [], root, { now: NOW });
      expect(verdict.summary).toBe(
        '0/2 approvals: missing signing_officer; missing 1 more approval',
      );
      const noRequire = withPolicy({ require: undefined });
      expect(evaluatePolicy(statement, [], noRequire, { now: NOW }).summary).toBe(
        '0/2 approvals: missing 2 approvals',
      );
    });
  });

  describe('when the proposer approves their own statement', () => {
    it('does not count it by default', async () => {
      const verdict = evaluatePolicy(statement, await approve([pat, sam]), root, { now: NOW });
      expect(verdict.counted).toEqual([sam.keyId]);
      expect(verdict.rejected).toEqual([
        { keyId: pat.keyId, reason: "the proposer's own approval does not count" },
      ]);
      expect(verdict.summary).toBe('1/2 approvals: missing 1 approval');
    });

    it('counts it when the policy says proposerCounts', async () => {
      const lenient = withPolicy({ proposerCounts: true });
      const verdict = evaluatePolicy(statement, await approve([pat, sam]), lenient, { now: NOW });
      expect(verdict.counted).toEqual([pat.keyId, sam.keyId]);
      expect(verdict.satisfied).toBe(true);
    });
  });

  describe('when an approver is not eligible', () => {
    it.each([
      ['a developer', dev],
      ['an auditor', aud],
    ])('does not count %s', async (_label, signer) => {
      const verdict = evaluatePolicy(statement, await approve([signer]), root, { now: NOW });
      expect(verdict.counted).toEqual([]);
      expect(verdict.rejected).toEqual([
        {
          keyId: signer.keyId,
          reason: 'role does not count: needs release_manager or signing_officer',
        },
      ]);
    });

    it('does not count a key that is not a member', async () => {
      const verdict = evaluatePolicy(statement, await approve([mallory]), root, { now: NOW });
      expect(verdict.rejected).toEqual([
        { keyId: mallory.keyId, reason: 'key is not a member of the trust root' },
      ]);
    });

    it('does not count a revoked member (removed from the root)', async () => {
      const approvals = await approve([rita, sam]);
      const revoked = trustRoot(
        members.filter((member) => member.keyId !== sam.keyId),
        [productionRelease],
      );
      const verdict = evaluatePolicy(statement, approvals, revoked, { now: NOW });
      expect(verdict.counted).toEqual([rita.keyId]);
      expect(verdict.rejected).toEqual([
        { keyId: sam.keyId, reason: 'key is not a member of the trust root' },
      ]);
      expect(verdict.satisfied).toBe(false);
    });
  });

  describe('when an approval is not genuine', () => {
    it('rejects a signature with a flipped byte', async () => {
      const [approval] = await approve([sam]);
      const bytes = Buffer.from(approval?.sig ?? '', 'base64');
      bytes[5] = (bytes[5] ?? 0) ^ 0x01;
      const tampered = { ...approval!, sig: bytes.toString('base64') };
      const verdict = evaluatePolicy(statement, [tampered], root, { now: NOW });
      expect(verdict.rejected).toEqual([{ keyId: sam.keyId, reason: 'signature does not verify' }]);
    });

    it('rejects a signature made with a wrong key', async () => {
      const [byMallory] = await approve([mallory]);
      const forged = { ...byMallory!, keyId: sam.keyId };
      const verdict = evaluatePolicy(statement, [forged], root, { now: NOW });
      expect(verdict.rejected).toEqual([{ keyId: sam.keyId, reason: 'signature does not verify' }]);
    });

    it('rejects an approval of another statement', async () => {
      const other = { ...statement, seq: 43 };
      const verdict = evaluatePolicy(statement, await approve([sam], other), root, { now: NOW });
      expect(verdict.rejected).toEqual([
        { keyId: sam.keyId, reason: 'approval is for another statement' },
      ]);
    });

    it('rejects an approval of another statement relabelled with this id', async () => {
      const other = { ...statement, seq: 43 };
      const [approval] = await approve([sam], other);
      const relabelled = { ...approval!, statement: statementId(statement) };
      const verdict = evaluatePolicy(statement, [relabelled], root, { now: NOW });
      expect(verdict.rejected).toEqual([{ keyId: sam.keyId, reason: 'signature does not verify' }]);
    });

    it('rejects, without throwing, a signature that is not base64 of 64 bytes', async () => {
      const [approval] = await approve([sam]);
      const verdict = evaluatePolicy(statement, [{ ...approval!, sig: 'not base64!' }], root, {
        now: NOW,
      });
      expect(verdict.rejected).toEqual([
        { keyId: sam.keyId, reason: 'signature is not base64 of 64 bytes' },
      ]);
    });

    it('lets a valid approval count after a bad one from the same key', async () => {
      const [approval] = await approve([sam]);
      const bad = { ...approval!, sig: `A${approval!.sig.slice(1)}` };
      const verdict = evaluatePolicy(statement, [bad, approval!], root, { now: NOW });
      expect(verdict.counted).toEqual([sam.keyId]);
    });
  });

  describe('when one key tries to count more than once', () => {
    it('counts the same approval twice once', async () => {
      const approvals = await approve([sam, sam]);
      const verdict = evaluatePolicy(statement, approvals, root, { now: NOW });
      expect(verdict.counted).toEqual([sam.keyId]);
      expect(verdict.rejected).toEqual([
        { keyId: sam.keyId, reason: 'duplicate approval from the same key' },
      ]);
      expect(verdict.summary).toBe('1/2 approvals: missing 1 approval');
    });

    it('counts one key listed under two ids once (the TUF key-id bug class)', async () => {
      // A second entry lists sam's public key under a made-up key id and another role.
      const fakeId = 'f'.repeat(64);
      const doubled = trustRoot(
        [...members, { ...memberOf(sam, ['release_manager']), keyId: fakeId }],
        [withPolicy({ require: undefined }).policies[0]!],
      );
      const [approval] = await approve([sam]);
      const approvals = [approval!, { ...approval!, keyId: fakeId }];
      const verdict = evaluatePolicy(statement, approvals, doubled, { now: NOW });
      expect(verdict.counted).toEqual([sam.keyId]);
      expect(verdict.rejected).toEqual([
        { keyId: fakeId, reason: 'key is not a member of the trust root' },
      ]);
      expect(verdict.satisfied).toBe(false);
    });

    it('does not let an entry with a wrong key id grant its key a role', async () => {
      // dev's key listed again, under a made-up id, as a signing officer.
      const escalated = trustRoot(
        [...members, { ...memberOf(dev, ['signing_officer']), keyId: 'f'.repeat(64) }],
        [productionRelease],
      );
      const verdict = evaluatePolicy(statement, await approve([dev]), escalated, { now: NOW });
      expect(verdict.counted).toEqual([]);
      expect(verdict.rejected).toEqual([
        {
          keyId: dev.keyId,
          reason: 'role does not count: needs release_manager or signing_officer',
        },
      ]);
    });

    it('counts the same public key listed as two members once', async () => {
      const twice = trustRoot(
        [
          memberOf(sam, ['signing_officer']),
          { ...memberOf(sam, ['signing_officer']), name: 'Sam (laptop)' },
        ],
        [withPolicy({ require: undefined, roles: ['signing_officer'] }).policies[0]!],
      );
      const verdict = evaluatePolicy(statement, await approve([sam, sam]), twice, { now: NOW });
      expect(verdict.counted).toEqual([sam.keyId]);
      expect(verdict.summary).toBe('1/2 approvals: missing 1 approval');
    });

    it('ignores a member whose listed key id is not its key', async () => {
      // rita's entry claims sam's key id: neither a vote for rita nor a second one for sam.
      const mislabelled = trustRoot(
        [
          memberOf(sam, ['signing_officer']),
          { ...memberOf(rita, ['release_manager']), keyId: sam.keyId },
        ],
        [productionRelease],
      );
      const [byRita] = await approve([rita]);
      const verdict = evaluatePolicy(
        statement,
        [...(await approve([sam])), { ...byRita!, keyId: sam.keyId }],
        mislabelled,
        { now: NOW },
      );
      expect(verdict.counted).toEqual([sam.keyId]);
      expect(verdict.rejected).toEqual([{ keyId: sam.keyId, reason: 'signature does not verify' }]);
    });
  });

  describe('when time has run out', () => {
    it('is not satisfied from the moment the statement expires', async () => {
      const approvals = await approve([rita, sam]);
      const at = new Date('2026-11-30T10:00:00Z');
      const verdict = evaluatePolicy(statement, approvals, root, { now: at });
      expect(verdict.satisfied).toBe(false);
      expect(verdict.reasons).toEqual(['statement expired at 2026-11-30T10:00:00Z']);
      expect(verdict.summary).toBe('2/2 approvals: statement expired');
    });

    it('is satisfied one millisecond before', async () => {
      const approvals = await approve([rita, sam]);
      const before = new Date(Date.parse('2026-11-30T10:00:00Z') - 1);
      expect(evaluatePolicy(statement, approvals, root, { now: before }).satisfied).toBe(true);
    });

    it('is not satisfied under an expired trust root', async () => {
      const stale = { ...root, expiresAt: '2026-11-01T00:00:00Z' };
      const verdict = evaluatePolicy(statement, await approve([rita, sam]), stale, { now: NOW });
      expect(verdict.satisfied).toBe(false);
      expect(verdict.reasons).toEqual(['trust root version 1 expired at 2026-11-01T00:00:00Z']);
    });

    it('treats an unparseable root expiry as expired', async () => {
      const garbled = { ...root, expiresAt: 'never' };
      const verdict = evaluatePolicy(statement, await approve([rita, sam]), garbled, { now: NOW });
      expect(verdict.satisfied).toBe(false);
    });
  });

  describe('when no policy applies', () => {
    it('is not satisfied and names the kind, app and channel', async () => {
      const rollback: Statement = {
        v: 1,
        kind: 'rollback',
        app: 'com.example.app',
        channel: 'production',
        seq: 43,
        prev: 'a'.repeat(64),
        createdAt: '2026-11-23T10:00:00Z',
        expiresAt: '2026-11-30T10:00:00Z',
        proposer: pat.keyId,
        target: 'e'.repeat(64),
      };
      const approvals = await approve([rita, sam], rollback);
      const verdict = evaluatePolicy(rollback, approvals, root, { now: NOW });
      expect(verdict.satisfied).toBe(false);
      expect(verdict.threshold).toBe(0);
      expect(verdict.counted).toEqual([]);
      expect(verdict.reasons).toEqual(['no policy for rollback on com.example.app/production']);
      expect(verdict.summary).toBe('no policy for rollback on com.example.app/production');
    });
  });

  describe('when the statement is a rollout change', () => {
    const rollout: Statement = {
      v: 1,
      kind: 'rollout',
      app: 'com.example.app',
      channel: 'production',
      seq: 43,
      prev: 'a'.repeat(64),
      createdAt: '2026-11-23T10:00:00Z',
      expiresAt: '2026-11-30T10:00:00Z',
      proposer: pat.keyId,
      rollout: { percent: 5 },
    };
    const rolloutRoot = trustRoot(members, [
      productionRelease,
      { ...productionRelease, kind: 'rollout', threshold: 1, require: undefined },
    ]);

    it('uses the rollout policy whichever way the percent moves', async () => {
      const approvals = await approve([rita], rollout);
      const decrease = evaluatePolicy(rollout, approvals, rolloutRoot, {
        now: NOW,
        context: { previousRolloutPercent: 50 },
      });
      const increase = evaluatePolicy(rollout, approvals, rolloutRoot, {
        now: NOW,
        context: { previousRolloutPercent: 1 },
      });
      expect(decrease.summary).toBe('1/1 approvals: satisfied');
      expect(increase).toEqual(decrease);
    });
  });

  describe('when the inputs are unusual', () => {
    it('treats a threshold below 1 in an unparsed root as 1', () => {
      const zero = withPolicy({ threshold: 0, require: undefined });
      const verdict = evaluatePolicy(statement, [], zero, { now: NOW });
      expect(verdict.satisfied).toBe(false);
      expect(verdict.threshold).toBe(1);
    });

    it('skips a member whose public key is not a valid point', async () => {
      const broken = trustRoot(
        [{ ...memberOf(dev, ['signing_officer']), publicKey: 'zz' }, ...members.slice(1)],
        [productionRelease],
      );
      const verdict = evaluatePolicy(statement, await approve([rita, sam]), broken, { now: NOW });
      expect(verdict.satisfied).toBe(true);
    });

    it('does not modify its inputs', async () => {
      const approvals = Object.freeze(await approve([rita, sam]));
      const frozenRoot = Object.freeze(structuredClone(root));
      const before = JSON.stringify([statement, approvals, frozenRoot]);
      evaluatePolicy(statement, approvals, frozenRoot, { now: NOW });
      expect(JSON.stringify([statement, approvals, frozenRoot])).toBe(before);
    });

    it('throws STATEMENT_INVALID for a malformed statement', async () => {
      const approvals = await approve([rita, sam]);
      const bad = { ...statement, seq: 0 };
      expect(() => evaluatePolicy(bad, approvals, root, { now: NOW })).toThrow(
        expect.objectContaining({ code: 'STATEMENT_INVALID' }),
      );
    });
  });
});
