import { describe, expect, it } from 'vitest';
import { fileListSha256 } from '../../../src/core/bundle';
import { evaluatePolicy } from '../../../src/core/policy';
import { signCheckpoint } from '../../../src/core/log';
import { rootId, signRoot, statementId } from '../../../src/core/statement';
import type { ServerRecord } from '../../../src/main/db/repositories/servers.repo';
import {
  approveSigningRequest,
  createSigningRequest,
  readApprovalFile,
  reviewSigningRequest,
} from '../../../src/main/services/airgap';
import type {
  LogEntry,
  SignedTrustRoot,
  SigningRequest,
  Statement,
  TrustRoot,
} from '../../../src/shared/schemas';
import { NOW, memberOf, releaseStatement, testIdentity, trustRoot } from '../core/test-identities';

const proposer = testIdentity('proposer');
const officer = testIdentity('officer');
const manager = testIdentity('manager');
const auditor = testIdentity('auditor');
const admin = testIdentity('admin');
const serverKey = testIdentity('server key');
const URL = 'https://updates.example.com';

const policy = {
  app: '*',
  channel: 'production',
  kind: 'release' as const,
  threshold: 2,
  roles: ['release_manager' as const, 'signing_officer' as const],
  require: { signing_officer: 1 },
  proposerCounts: false,
};
const anyKind = (['rollback', 'pause'] as const).map((kind) => ({
  ...policy,
  kind,
  threshold: 1,
  require: {},
}));

async function signed(root: TrustRoot, by = [admin]): Promise<SignedTrustRoot> {
  return { root, signatures: await Promise.all(by.map((signer) => signRoot(root, signer))) };
}

/** Version 1 (without the manager), version 2 adds the manager: a routine member change. */
const v1 = await signed(
  trustRoot(
    [
      memberOf(proposer, ['release_manager']),
      memberOf(officer, ['signing_officer']),
      memberOf(auditor, ['auditor']),
      memberOf(admin, ['admin']),
    ],
    [policy, ...anyKind],
  ),
);
const v2 = await signed({
  ...v1.root,
  version: 2,
  members: [...v1.root.members, memberOf(manager, ['release_manager'])],
});
const chain = [v1, v2];

/** A server-signed log entry of the channel (the evidence a request carries). */
async function logged(statement: Statement, seq: number): Promise<LogEntry> {
  const id = statementId(statement);
  return {
    seq,
    id,
    statement,
    approvals: [],
    appliedAt: '2026-11-20T10:00:00Z',
    checkpoint: await signCheckpoint(
      {
        app: statement.app,
        channel: statement.channel,
        seq,
        head: id,
        time: '2026-11-20T10:00:00Z',
      },
      serverKey,
    ),
  };
}

const OLD_FILES = [
  { name: 'index.html', size: 10, crc32: 1 },
  { name: 'old.js', size: 20, crc32: 2 },
];
const NEW_FILES = [
  { name: 'a.js', size: 5, crc32: 3 },
  { name: 'index.html', size: 11, crc32: 4 },
];

/** A release statement whose bundle names `files` by their SHA-256 (the approved list). */
function releaseWith(
  files: typeof OLD_FILES,
  change: { seq: number; version: string; notes?: string },
): Statement {
  const base = releaseStatement(proposer.keyId);
  if (base.kind !== 'release') throw new Error('release expected');
  const { notes: _notes, ...release } = base.release;
  return {
    ...base,
    seq: change.seq,
    release: {
      ...release,
      version: change.version,
      ...(change.notes === undefined ? {} : { notes: change.notes }),
      bundle: { ...release.bundle, fileListSha256: fileListSha256(files) },
    },
  };
}

const earlier = releaseWith(OLD_FILES, { seq: 41, version: '1.4.1', notes: 'Earlier.' });
const current = await logged(earlier, 41);
const statement = releaseWith(NEW_FILES, {
  seq: 42,
  version: '1.4.2',
  notes: 'Fixes the login screen.',
});
const FILES = { current: OLD_FILES, next: NEW_FILES };

function request(overrides: Partial<SigningRequest> = {}, roots = chain): SigningRequest {
  return {
    ...createSigningRequest({
      statement,
      approvals: [],
      roots,
      serverKey: { keyId: serverKey.keyId, publicKey: serverKey.publicKeyHex },
      server: URL,
      evidence: { current, target: null, files: FILES },
      now: NOW,
    }),
    ...overrides,
  };
}

function pinned(roots: SignedTrustRoot[]): ServerRecord {
  return {
    id: 1,
    url: URL,
    pinnedRootId: rootId(v1.root),
    roots,
    root: (roots.at(-1) as SignedTrustRoot).root,
    serverKeyId: serverKey.keyId,
    serverPublicKey: serverKey.publicKeyHex,
  };
}

const text = (value: unknown): string => JSON.stringify(value);
const review = (value: unknown, pin: ServerRecord | null = pinned(chain)) =>
  reviewSigningRequest(typeof value === 'string' ? value : text(value), { now: NOW, pinned: pin });

describe('air-gapped signing files (ARCHITECTURE.md §5)', () => {
  it('round trip: request → offline review → approval file → import → policy progress', async () => {
    const seen = review(request());
    expect(seen.rootId).toBe(rootId(v1.root));
    expect(seen.root.version).toBe(2);
    expect(seen.rootPinned).toBe('match');
    expect(seen.verdict.summary).toMatch(/^0\/2 approvals: .*missing signing_officer/);
    expect(seen.summary).toMatchObject({
      version: '1.4.2',
      notes: 'Fixes the login screen.',
      replaces: { version: '1.4.1', statementId: current.id },
      bundle: { sha256: 'b'.repeat(64), encryptedSha256: 'c'.repeat(64), files: 87 },
      fileDiff: { added: ['a.js'], removed: ['old.js'], changed: ['index.html'], unchanged: 0 },
    });
    expect(seen.notes).toEqual([]);

    const file = await approveSigningRequest(seen, officer, { now: NOW, name: 'Officer' });
    expect(file.statementId).toBe(statementId(statement));
    const approval = readApprovalFile(text(file), statement, v2.root);
    // The manager joined in version 2: a request carrying the current chain lets them approve.
    const second = await approveSigningRequest(
      review(request({ approvals: [approval] })),
      manager,
      {
        now: NOW,
      },
    );
    const approvals = [approval, readApprovalFile(text(second), statement, v2.root, [approval])];
    expect(evaluatePolicy(statement, approvals, v2.root, { now: NOW }).satisfied).toBe(true);
  });

  describe('compares the chain with the one pinned for the server (every link, not the first)', () => {
    it('a chain that extends the pin is a match (the pin moves on approval)', () => {
      const seen = review(request(), pinned([v1]));
      expect(seen.rootPinned).toBe('match');
      expect(seen.rootMessage).toMatch(/extends the pinned one to version 2/);
    });

    it('a chain older than the pin is stale, and is not signed', async () => {
      const seen = review(request({}, [v1]), pinned(chain));
      expect(seen.rootPinned).toBe('stale');
      await expect(approveSigningRequest(seen, officer, { now: NOW })).rejects.toThrowWithCode(
        'REQUEST_FILE_INVALID',
      );
    });

    it('another chain for the same server is a mismatch', async () => {
      const forked = await signed({
        ...v2.root,
        rootThreshold: 1,
        expiresAt: '2027-01-02T00:00:00Z',
      });
      const seen = review(request({}, [v1, forked]), pinned(chain));
      expect(seen.rootPinned).toBe('mismatch');
      await expect(approveSigningRequest(seen, officer, { now: NOW })).rejects.toThrowWithCode(
        'REQUEST_FILE_INVALID',
      );
    });

    it('an unknown server needs the fingerprint given out of band', async () => {
      const seen = review(request(), null);
      expect(seen.rootPinned).toBe('unknown');
      await expect(approveSigningRequest(seen, officer, { now: NOW })).rejects.toThrowWithCode(
        'REQUEST_FILE_INVALID',
      );
      await expect(
        approveSigningRequest(seen, officer, { now: NOW, expectRootId: 'f'.repeat(16) }),
      ).rejects.toThrowWithCode('REQUEST_FILE_INVALID');
      const id = rootId(v1.root);
      const file = await approveSigningRequest(seen, officer, {
        now: NOW,
        expectRootId: `${id.slice(0, 4)} ${id.slice(4, 8)} ${id.slice(8, 12)} ${id.slice(12, 16)}`,
      });
      expect(file.approval.keyId).toBe(officer.keyId);
    });
  });

  describe('refuses an edited request, naming the field', () => {
    const refuse = (value: unknown, field: RegExp): void => {
      expect(() => review(value)).toThrowWithCode('REQUEST_FILE_INVALID', field);
    };

    it('forged notes on a release whose statement has none', () => {
      const plain = releaseWith(NEW_FILES, { seq: 42, version: '1.4.2' });
      const honest = createSigningRequest({
        ...{ statement: plain, approvals: [], roots: chain, server: URL },
        serverKey: { keyId: serverKey.keyId, publicKey: serverKey.publicKeyHex },
        evidence: { current, target: null, files: { current: null, next: null } },
        now: NOW,
      });
      refuse(
        {
          ...honest,
          summary: {
            ...honest.summary,
            notes: 'Security fix CVE-2026-1234, already reviewed by the CTO',
          },
        },
        /summary field "notes".*the release has no notes/,
      );
    });

    it('a file list that is not the approved one, or an edited diff', () => {
      const hidden = { current: OLD_FILES, next: NEW_FILES.filter((file) => file.name !== 'a.js') };
      refuse(
        request({ evidence: { current, target: null, files: hidden } }),
        /file list of the release .* not the one its statement names/,
      );
      const diff = { added: [], removed: ['old.js'], changed: ['index.html'], unchanged: 0 };
      refuse({ ...request(), summary: { ...request().summary, fileDiff: diff } }, /"fileDiff"/);
    });

    it('a summary field that disagrees with the statement or the evidence', () => {
      refuse(
        { ...request(), summary: { ...request().summary, rolloutPercent: 100 } },
        /"rolloutPercent"/,
      );
      refuse({ ...request(), summary: { ...request().summary, replaces: null } }, /"replaces"/);
    });

    it('extra summary fields on a pause', () => {
      const pause: Statement = {
        v: 1,
        kind: 'pause',
        app: statement.app,
        channel: statement.channel,
        seq: 42,
        prev: statement.prev,
        createdAt: statement.createdAt,
        expiresAt: statement.expiresAt,
        proposer: proposer.keyId,
      };
      const honest = createSigningRequest({
        statement: pause,
        approvals: [],
        roots: chain,
        serverKey: { keyId: serverKey.keyId, publicKey: serverKey.publicKeyHex },
        server: URL,
        evidence: { current, target: null, files: { current: null, next: null } },
        now: NOW,
      });
      expect(review(honest).summary).toEqual({
        app: pause.app,
        channel: pause.channel,
        kind: 'pause',
      });
      refuse(
        { ...honest, summary: { ...honest.summary, version: '9.9.9' } },
        /"version".*the pause has no version/,
      );
      refuse({ ...honest, summary: { ...honest.summary, rolloutPercent: 5 } }, /"rolloutPercent"/);
      refuse({ ...honest, summary: { ...honest.summary, colour: 'red' } }, /"summary.colour"/);
    });

    it("a rollback whose version is not the target's", async () => {
      const target = await logged(earlier, 41);
      const rollback: Statement = {
        v: 1,
        kind: 'rollback',
        app: statement.app,
        channel: statement.channel,
        seq: 43,
        prev: 'e'.repeat(64),
        createdAt: statement.createdAt,
        expiresAt: statement.expiresAt,
        proposer: proposer.keyId,
        target: target.id,
      };
      const honest = createSigningRequest({
        statement: rollback,
        approvals: [],
        roots: chain,
        serverKey: { keyId: serverKey.keyId, publicKey: serverKey.publicKeyHex },
        server: URL,
        evidence: {
          current: await logged(statement, 42),
          target,
          files: { current: NEW_FILES, next: OLD_FILES },
        },
        now: NOW,
      });
      expect(review(honest).summary).toMatchObject({
        version: '1.4.1',
        replaces: { version: '1.4.2' },
      });
      refuse({ ...honest, summary: { ...honest.summary, version: '1.4.0' } }, /"version"/);
      // Evidence for another release than the statement's target.
      refuse(
        { ...honest, evidence: { ...honest.evidence, target: await logged(statement, 42) } },
        /rollback target .* not the release the statement names/,
      );
    });

    it('server: null (with a chain of its own), or no server at all', async () => {
      const stranger = testIdentity('stranger admin');
      const forged = await signed(trustRoot([memberOf(stranger, ['admin'])], [policy]), [stranger]);
      refuse({ ...request({}, [forged]), server: null }, /field "server"/);
      const { server: _gone, ...rest } = request();
      refuse(rest, /field "server"/);
    });

    it('evidence not signed by the server key, or an unknown field', async () => {
      const other = testIdentity('other server');
      const fake = {
        ...current,
        checkpoint: await signCheckpoint(current.checkpoint.checkpoint, other),
      };
      refuse(
        request({ evidence: { current: fake, target: null, files: FILES } }),
        /not signed by the server/,
      );
      refuse({ ...request(), extra: true }, /field "extra" is not part of a signing request/);
    });

    it('a statement field, the policy shown, or a gathered approval', async () => {
      const edited = structuredClone(request());
      if (edited.statement.kind !== 'release') throw new Error('release expected');
      edited.statement.release.version = '9.9.9';
      refuse(edited, /does not match its id/);
      refuse({ ...request(), policy: { ...policy, threshold: 1 } }, /policy shown/);
      const file = await approveSigningRequest(review(request()), officer, { now: NOW });
      const sig = Buffer.from(file.approval.sig, 'base64');
      sig[5] = (sig[5] ?? 0) ^ 1;
      refuse(
        request({ approvals: [{ ...file.approval, sig: sig.toString('base64') }] }),
        /does not verify/,
      );
      refuse(request({ approvals: [file.approval, file.approval] }), /two approvals/);
    });

    it('a request of format version 1', () => {
      refuse({ ...request(), v: 1 }, /format version 1/);
    });
  });

  describe('will not sign what could not count', () => {
    it("the proposer's own approval", async () => {
      await expect(
        approveSigningRequest(review(request()), proposer, { now: NOW }),
      ).rejects.toThrowWithCode('APPROVAL_BY_PROPOSER');
    });

    it('a second approval by the same key', async () => {
      const first = await approveSigningRequest(review(request()), officer, { now: NOW });
      await expect(
        approveSigningRequest(review(request({ approvals: [first.approval] })), officer, {
          now: NOW,
        }),
      ).rejects.toThrowWithCode('DUPLICATE_APPROVAL');
    });

    it('a role the policy does not count, or a key outside the trust root', async () => {
      const seen = review(request());
      await expect(approveSigningRequest(seen, auditor, { now: NOW })).rejects.toThrowWithCode(
        'APPROVAL_NOT_COUNTED',
      );
      await expect(
        approveSigningRequest(seen, testIdentity('stranger'), { now: NOW }),
      ).rejects.toThrowWithCode('KEY_NOT_FOUND');
    });

    it('an expired statement', async () => {
      const later = new Date('2026-12-01T00:00:00Z');
      const seen = reviewSigningRequest(text(request()), { now: later, pinned: pinned(chain) });
      expect(seen.expired).toBe(true);
      await expect(approveSigningRequest(seen, officer, { now: later })).rejects.toThrowWithCode(
        'STATEMENT_INVALID',
      );
    });
  });

  describe('refuses an approval file that', () => {
    async function approvalFile(): Promise<Record<string, unknown>> {
      return { ...(await approveSigningRequest(review(request()), officer, { now: NOW })) };
    }

    it('is for another statement', async () => {
      const file = await approvalFile();
      expect(() =>
        readApprovalFile(text(file), { ...statement, seq: 43 }, v2.root),
      ).toThrowWithCode('APPROVAL_FILE_INVALID');
    });

    it('was tampered with: a signature byte, the approver, an unknown field', async () => {
      const file = (await approvalFile()) as { approval: { sig: string; keyId: string } };
      const sig = Buffer.from(file.approval.sig, 'base64');
      sig[0] = (sig[0] ?? 0) ^ 1;
      const tampered = { ...file, approval: { ...file.approval, sig: sig.toString('base64') } };
      expect(() => readApprovalFile(text(tampered), statement, v2.root)).toThrowWithCode(
        'APPROVAL_FILE_INVALID',
      );
      expect(() =>
        readApprovalFile(
          text({ ...file, approver: { keyId: manager.keyId, name: null } }),
          statement,
          v2.root,
        ),
      ).toThrowWithCode('APPROVAL_FILE_INVALID');
      expect(() =>
        readApprovalFile(text({ ...file, note: 'hi' }), statement, v2.root),
      ).toThrowWithCode('APPROVAL_FILE_INVALID');
    });

    it('repeats an approval already held', async () => {
      const file = await approvalFile();
      const approval = readApprovalFile(text(file), statement, v2.root);
      expect(() => readApprovalFile(text(file), statement, v2.root, [approval])).toThrowWithCode(
        'DUPLICATE_APPROVAL',
      );
    });

    it('is signed by a key outside the trust root', async () => {
      const file = await approvalFile();
      const strangers = trustRoot([memberOf(admin, ['admin'])], []);
      expect(() => readApprovalFile(text(file), statement, strangers)).toThrowWithCode(
        'APPROVAL_FILE_INVALID',
      );
    });
  });
});
