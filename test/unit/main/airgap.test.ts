import { describe, expect, it } from 'vitest';
import { AirlockError } from '../../../src/core/errors';
import { evaluatePolicy } from '../../../src/core/policy';
import { rootId, statementId } from '../../../src/core/statement';
import {
  approveSigningRequest,
  createSigningRequest,
  readApprovalFile,
  reviewSigningRequest,
} from '../../../src/main/services/airgap';
import type { SignedTrustRoot, SigningRequest } from '../../../src/shared/schemas';
import { NOW, memberOf, releaseStatement, testIdentity, trustRoot } from '../core/test-identities';

const proposer = testIdentity('proposer');
const officer = testIdentity('officer');
const manager = testIdentity('manager');
const auditor = testIdentity('auditor');
const admin = testIdentity('admin');

const root: SignedTrustRoot = {
  root: trustRoot(
    [
      memberOf(proposer, ['release_manager']),
      memberOf(officer, ['signing_officer']),
      memberOf(manager, ['release_manager']),
      memberOf(auditor, ['auditor']),
      memberOf(admin, ['admin']),
    ],
    [
      {
        app: '*',
        channel: 'production',
        kind: 'release',
        threshold: 2,
        roles: ['release_manager', 'signing_officer'],
        require: { signing_officer: 1 },
        proposerCounts: false,
      },
    ],
  ),
  signatures: [],
};
const statement = releaseStatement(proposer.keyId);

function request(overrides: Partial<SigningRequest> = {}): SigningRequest {
  return {
    ...createSigningRequest({
      statement,
      approvals: [],
      root,
      server: 'https://updates.example.com',
      extras: {
        currentVersion: '1.4.1',
        fileDiff: { added: ['a.js'], removed: [], changed: ['index.html'], unchanged: 85 },
      },
      now: NOW,
    }),
    ...overrides,
  };
}

const text = (value: unknown): string => JSON.stringify(value);

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof AirlockError) return (error as AirlockError).code;
    throw error;
  }
  throw new Error('expected an AirlockError');
}

async function asyncCodeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AirlockError) return (error as AirlockError).code;
    throw error;
  }
  throw new Error('expected an AirlockError');
}

describe('air-gapped signing files (ARCHITECTURE.md §5)', () => {
  it('round trip: request → offline review → approval file → import → policy progress', async () => {
    const review = reviewSigningRequest(text(request()), { now: NOW });
    expect(review.rootId).toBe(rootId(root.root));
    expect(review.rootPinned).toBe('unknown');
    expect(review.verdict.summary).toMatch(/^0\/2 approvals: .*missing signing_officer/);
    expect(review.request.summary).toMatchObject({
      version: '1.4.2',
      currentVersion: '1.4.1',
      rolloutPercent: 10,
      files: 87,
    });
    expect(review.notes[0]).toMatch(/cannot be checked/);

    const file = await approveSigningRequest(review, officer, { now: NOW, name: 'Officer' });
    expect(file.statementId).toBe(statementId(statement));
    const approval = readApprovalFile(text(file), statement, root.root);
    const second = await approveSigningRequest(
      reviewSigningRequest(text(request({ approvals: [approval] })), { now: NOW }),
      manager,
      { now: NOW },
    );
    const approvals = [approval, readApprovalFile(text(second), statement, root.root, [approval])];
    expect(evaluatePolicy(statement, approvals, root.root, { now: NOW }).satisfied).toBe(true);
  });

  it('compares the trust root with the one this console pinned', async () => {
    const matching = reviewSigningRequest(text(request()), {
      now: NOW,
      pinnedRootIds: [rootId(root.root)],
    });
    expect(matching.rootPinned).toBe('match');
    const other = reviewSigningRequest(text(request()), {
      now: NOW,
      pinnedRootIds: ['f'.repeat(64)],
    });
    expect(other.rootPinned).toBe('mismatch');
    expect(await asyncCodeOf(approveSigningRequest(other, officer, { now: NOW }))).toBe(
      'REQUEST_FILE_INVALID',
    );
  });

  describe('refuses a request that was altered', () => {
    const refuse = (value: unknown): string =>
      codeOf(() =>
        reviewSigningRequest(typeof value === 'string' ? value : text(value), { now: NOW }),
      );

    it('not JSON, or an approval file given instead', async () => {
      expect(refuse('{not json')).toBe('REQUEST_FILE_INVALID');
      const file = await approveSigningRequest(
        reviewSigningRequest(text(request()), { now: NOW }),
        officer,
        { now: NOW },
      );
      expect(refuse(file)).toBe('REQUEST_FILE_INVALID');
    });

    it('an unknown field', () => {
      expect(refuse({ ...request(), extra: true })).toBe('REQUEST_FILE_INVALID');
    });

    it('a statement field (the version)', () => {
      const edited = structuredClone(request());
      if (edited.statement.kind !== 'release') throw new Error('release expected');
      edited.statement.release.version = '9.9.9';
      edited.summary.version = '9.9.9';
      expect(refuse(edited)).toBe('REQUEST_FILE_INVALID');
    });

    it('a summary field that disagrees with the statement', () => {
      expect(refuse({ ...request(), summary: { ...request().summary, rolloutPercent: 100 } })).toBe(
        'REQUEST_FILE_INVALID',
      );
      expect(refuse({ ...request(), summary: { ...request().summary, version: '2.0.0' } })).toBe(
        'REQUEST_FILE_INVALID',
      );
      expect(refuse({ ...request(), summary: { ...request().summary, bundleSize: 1 } })).toBe(
        'REQUEST_FILE_INVALID',
      );
    });

    it('the policy shown', () => {
      const policy = { ...request().policy!, threshold: 1 };
      expect(refuse({ ...request(), policy })).toBe('REQUEST_FILE_INVALID');
    });

    it('a gathered approval: a signature byte, another statement, a repeat', async () => {
      const file = await approveSigningRequest(
        reviewSigningRequest(text(request()), { now: NOW }),
        officer,
        { now: NOW },
      );
      const sig = Buffer.from(file.approval.sig, 'base64');
      sig[5] = (sig[5] ?? 0) ^ 1;
      expect(
        refuse(request({ approvals: [{ ...file.approval, sig: sig.toString('base64') }] })),
      ).toBe('REQUEST_FILE_INVALID');
      expect(
        refuse(request({ approvals: [{ ...file.approval, statement: 'e'.repeat(64) }] })),
      ).toBe('REQUEST_FILE_INVALID');
      expect(refuse(request({ approvals: [file.approval, file.approval] }))).toBe(
        'REQUEST_FILE_INVALID',
      );
    });
  });

  describe('will not sign what could not count', () => {
    it("the proposer's own approval", async () => {
      const review = reviewSigningRequest(text(request()), { now: NOW });
      expect(await asyncCodeOf(approveSigningRequest(review, proposer, { now: NOW }))).toBe(
        'INVALID_ARGUMENT',
      );
    });

    it('a second approval by the same key', async () => {
      const first = await approveSigningRequest(
        reviewSigningRequest(text(request()), { now: NOW }),
        officer,
        { now: NOW },
      );
      const review = reviewSigningRequest(text(request({ approvals: [first.approval] })), {
        now: NOW,
      });
      expect(await asyncCodeOf(approveSigningRequest(review, officer, { now: NOW }))).toBe(
        'DUPLICATE_APPROVAL',
      );
    });

    it('a role the policy does not count, or a key outside the trust root', async () => {
      const review = reviewSigningRequest(text(request()), { now: NOW });
      expect(await asyncCodeOf(approveSigningRequest(review, auditor, { now: NOW }))).toBe(
        'INVALID_ARGUMENT',
      );
      expect(
        await asyncCodeOf(approveSigningRequest(review, testIdentity('stranger'), { now: NOW })),
      ).toBe('KEY_NOT_FOUND');
    });

    it('an expired statement', async () => {
      const later = new Date('2026-12-01T00:00:00Z');
      const review = reviewSigningRequest(text(request()), { now: later });
      expect(review.expired).toBe(true);
      expect(await asyncCodeOf(approveSigningRequest(review, officer, { now: later }))).toBe(
        'STATEMENT_INVALID',
      );
    });
  });

  describe('refuses an approval file that', () => {
    async function approvalFile(): Promise<Record<string, unknown>> {
      return {
        ...(await approveSigningRequest(
          reviewSigningRequest(text(request()), { now: NOW }),
          officer,
          { now: NOW },
        )),
      };
    }

    it('is for another statement', async () => {
      const other = { ...statement, seq: 43 };
      const file = await approvalFile();
      expect(codeOf(() => readApprovalFile(text(file), other, root.root))).toBe(
        'APPROVAL_FILE_INVALID',
      );
    });

    it('was tampered with: a signature byte, the approver, an unknown field', async () => {
      const file = (await approvalFile()) as { approval: { sig: string; keyId: string } };
      const sig = Buffer.from(file.approval.sig, 'base64');
      sig[0] = (sig[0] ?? 0) ^ 1;
      expect(
        codeOf(() =>
          readApprovalFile(
            text({ ...file, approval: { ...file.approval, sig: sig.toString('base64') } }),
            statement,
            root.root,
          ),
        ),
      ).toBe('APPROVAL_FILE_INVALID');
      expect(
        codeOf(() =>
          readApprovalFile(
            text({ ...file, approver: { keyId: manager.keyId, name: null } }),
            statement,
            root.root,
          ),
        ),
      ).toBe('APPROVAL_FILE_INVALID');
      expect(
        codeOf(() => readApprovalFile(text({ ...file, note: 'hi' }), statement, root.root)),
      ).toBe('APPROVAL_FILE_INVALID');
    });

    it('repeats an approval already held', async () => {
      const file = await approvalFile();
      const approval = readApprovalFile(text(file), statement, root.root);
      expect(codeOf(() => readApprovalFile(text(file), statement, root.root, [approval]))).toBe(
        'DUPLICATE_APPROVAL',
      );
    });

    it('is signed by a key outside the trust root', async () => {
      const file = await approvalFile();
      const stranger = trustRoot([memberOf(admin, ['admin'])], []);
      expect(codeOf(() => readApprovalFile(text(file), statement, stranger))).toBe(
        'APPROVAL_FILE_INVALID',
      );
    });
  });
});
