import { beforeAll, describe, expect, it } from 'vitest';
import { signCheckpoint } from '../../../../src/core/log';
import {
  compareCheckpoints,
  serverKeyBytes,
  verifyLogEntries,
  verifyRootChain,
  type VerifyLogOptions,
} from '../../../../src/core/log/verify';
import { rootId, signRoot } from '../../../../src/core/statement';
import type { LogEntry, SignedTrustRoot } from '../../../../src/shared/schemas';
import { testIdentity } from '../test-identities';
import {
  APP,
  CHANNEL,
  admin,
  buildLog,
  clone,
  otto,
  pat,
  rita,
  root1,
  root2,
  sam,
  server,
  signedRoots,
  type Step,
} from './log-builder';

// TEST-ONLY: every log here is built and signed in the test (log-builder.ts).

const NOW = new Date('2026-12-01T00:00:00Z');

/** release → rollout → automatic pause → resume → rollback, all under root version 1. */
const STEPS: Step[] = [
  { kind: 'release', percent: 10 },
  { kind: 'rollout', percent: 50 },
  { kind: 'pause', automatic: true },
  { kind: 'resume' },
  { kind: 'rollback' },
];

let roots: SignedTrustRoot[];
let log: LogEntry[];

function options(overrides: Partial<VerifyLogOptions> = {}): VerifyLogOptions {
  return { roots, serverKey: server.publicKey, previous: null, now: NOW, ...overrides };
}

function verify(entries: readonly LogEntry[], overrides: Partial<VerifyLogOptions> = {}) {
  return verifyLogEntries(entries, options(overrides));
}

function at(index: number): LogEntry {
  const entry = log[index];
  if (entry === undefined) throw new Error(`no entry ${index}`);
  return clone(entry);
}

function withEntry(index: number, change: (entry: LogEntry) => void): LogEntry[] {
  const entries = clone(log);
  change(entries[index] as LogEntry);
  return entries;
}

beforeAll(async () => {
  roots = await signedRoots();
  log = await buildLog(STEPS);
});

describe('#verifyLogEntries', () => {
  describe('when the log is intact', () => {
    it('verifies every statement and returns the head', () => {
      const last = at(4);
      expect(verify(log)).toEqual({
        ok: true,
        verified: 5,
        head: { seq: 5, head: last.id, rootVersion: 1 },
      });
    });

    it('verifies incrementally from a stored head to the same result', () => {
      const first = verify(log.slice(0, 2));
      expect(first.ok).toBe(true);
      if (!first.ok) return;
      const rest = verify(log.slice(2), { previous: first.head, app: APP, channel: CHANNEL });
      expect(rest).toEqual({ ...verify(log), verified: 3 });
    });

    it('returns the previous head for no new entries, and null for an empty log', () => {
      const previous = { seq: 5, head: at(4).id, rootVersion: 1 };
      expect(verify([], { previous })).toEqual({ ok: true, verified: 0, head: previous });
      expect(verify([])).toEqual({ ok: true, verified: 0, head: null });
    });

    it('reports progress after each entry', () => {
      const seen: number[] = [];
      verify(log, { onProgress: (done) => seen.push(done) });
      expect(seen).toEqual([1, 2, 3, 4, 5]);
    });
  });

  describe('when an entry was tampered with', () => {
    it('refuses a changed statement field (ID_MISMATCH)', () => {
      const entries = withEntry(1, (entry) => {
        if (entry.statement.kind === 'rollout') entry.statement.rollout.percent = 100;
      });
      expect(verify(entries)).toMatchObject({ ok: false, seq: 2, problem: 'ID_MISMATCH' });
    });

    it('refuses a changed release version even with the id recomputed (CHECKPOINT_INVALID)', async () => {
      const [forged] = await buildLog([{ kind: 'release', version: '9.9.9' }]);
      const entries = withEntry(0, (entry) => {
        entry.statement = clone((forged as LogEntry).statement);
        entry.id = (forged as LogEntry).id;
      });
      expect(verify(entries)).toMatchObject({ ok: false, seq: 1, problem: 'CHECKPOINT_INVALID' });
    });

    it('refuses a flipped byte in an approval signature (POLICY_NOT_SATISFIED)', () => {
      const entries = withEntry(0, (entry) => {
        const approval = entry.approvals[1];
        if (approval === undefined) throw new Error('no approval');
        const bytes = Buffer.from(approval.sig, 'base64');
        bytes[10] = (bytes[10] ?? 0) ^ 0x01;
        approval.sig = bytes.toString('base64');
      });
      const result = verify(entries);
      expect(result).toMatchObject({ ok: false, seq: 1, problem: 'POLICY_NOT_SATISFIED' });
      expect(!result.ok && result.message).toContain('1/2 approvals');
    });

    it('refuses a dropped entry (SEQ_GAP)', () => {
      const entries = [...log.slice(0, 2), ...log.slice(3)];
      expect(verify(entries)).toMatchObject({ ok: false, seq: 4, problem: 'SEQ_GAP' });
    });

    it('refuses reordered entries (SEQ_GAP)', () => {
      const entries = [at(0), at(2), at(1), at(3), at(4)];
      expect(verify(entries)).toMatchObject({ ok: false, seq: 3, problem: 'SEQ_GAP' });
    });

    it('refuses an entry whose seq disagrees with its statement (SEQ_GAP)', () => {
      const entries = withEntry(1, (entry) => {
        entry.seq = 7;
      });
      expect(verify(entries.slice(0, 2))).toMatchObject({ ok: false, problem: 'SEQ_GAP' });
    });

    it('refuses a statement chained on another head (PREV_MISMATCH)', async () => {
      const forked = await buildLog([{ kind: 'rollout', prev: 'f'.repeat(64) }], at(0));
      expect(verify([at(0), ...forked])).toMatchObject({
        ok: false,
        seq: 2,
        problem: 'PREV_MISMATCH',
      });
    });

    it('refuses entries that do not continue the stored head (PREV_MISMATCH)', () => {
      const previous = { seq: 1, head: 'f'.repeat(64) };
      expect(verify(log.slice(1), { previous })).toMatchObject({
        ok: false,
        seq: 2,
        problem: 'PREV_MISMATCH',
      });
    });

    it("refuses another entry's checkpoint (CHECKPOINT_INVALID)", () => {
      const entries = withEntry(1, (entry) => {
        entry.checkpoint = at(0).checkpoint;
      });
      expect(verify(entries)).toMatchObject({ ok: false, seq: 2, problem: 'CHECKPOINT_INVALID' });
    });

    it('refuses a checkpoint naming another seq, even when signed (CHECKPOINT_INVALID)', async () => {
      const entry = at(1);
      entry.checkpoint = await signCheckpoint({ ...entry.checkpoint.checkpoint, seq: 3 }, server);
      expect(verify([at(0), entry])).toMatchObject({
        ok: false,
        seq: 2,
        problem: 'CHECKPOINT_INVALID',
      });
    });

    it('refuses an application time the checkpoint does not sign (CHECKPOINT_INVALID)', () => {
      const entries = withEntry(0, (entry) => {
        entry.appliedAt = '2026-11-23T10:05:00Z';
      });
      expect(verify(entries)).toMatchObject({ ok: false, seq: 1, problem: 'CHECKPOINT_INVALID' });
    });

    it('refuses checkpoints signed by another server key (CHECKPOINT_INVALID)', async () => {
      const impostor = testIdentity('log-impostor');
      const entries = await buildLog(STEPS, null, impostor);
      expect(verify(entries)).toMatchObject({ ok: false, seq: 1, problem: 'CHECKPOINT_INVALID' });
      expect(verify(log, { serverKey: impostor.publicKey })).toMatchObject({
        ok: false,
        seq: 1,
        problem: 'CHECKPOINT_INVALID',
      });
    });

    it('refuses an entry of another channel spliced in (APP_CHANNEL_MISMATCH)', async () => {
      const [beta] = await buildLog([{ kind: 'rollout', channel: 'beta' }], at(0));
      expect(verify([at(0), beta as LogEntry])).toMatchObject({
        ok: false,
        seq: 2,
        problem: 'APP_CHANNEL_MISMATCH',
      });
      expect(verify(log, { app: 'com.example.other' })).toMatchObject({
        ok: false,
        seq: 1,
        problem: 'APP_CHANNEL_MISMATCH',
      });
    });

    it('refuses a statement applied after it expired (POLICY_NOT_SATISFIED)', async () => {
      const late = await buildLog([{ kind: 'release', appliedAt: '2026-12-24T00:00:00Z' }]);
      const result = verify(late);
      expect(result).toMatchObject({ ok: false, seq: 1, problem: 'POLICY_NOT_SATISFIED' });
      expect(!result.ok && result.message).toContain('statement expired');
    });

    it('refuses approvals below the threshold (POLICY_NOT_SATISFIED)', () => {
      const entries = withEntry(0, (entry) => {
        entry.approvals = entry.approvals.slice(0, 1);
      });
      const result = verify(entries);
      expect(result).toMatchObject({ ok: false, seq: 1, problem: 'POLICY_NOT_SATISFIED' });
      expect(!result.ok && result.message).toContain('missing signing_officer');
    });

    it("does not count the proposer's own approval (POLICY_NOT_SATISFIED)", async () => {
      const own = await buildLog([{ kind: 'release', approvers: [pat, sam] }]);
      expect(verify(own)).toMatchObject({ ok: false, seq: 1, problem: 'POLICY_NOT_SATISFIED' });
    });

    it('refuses a manual statement that carries only a server signature (POLICY_NOT_SATISFIED)', () => {
      const entries = withEntry(3, (entry) => {
        entry.approvals = [];
        entry.serverSig = at(2).serverSig;
      });
      expect(verify(entries)).toMatchObject({ ok: false, seq: 4, problem: 'POLICY_NOT_SATISFIED' });
    });

    it('refuses an automatic pause with a wrong or missing server signature (SERVER_SIG_INVALID)', () => {
      const wrong = withEntry(2, (entry) => {
        entry.serverSig = at(0).approvals[0]?.sig;
      });
      expect(verify(wrong)).toMatchObject({ ok: false, seq: 3, problem: 'SERVER_SIG_INVALID' });
      const missing = withEntry(2, (entry) => {
        delete entry.serverSig;
      });
      expect(verify(missing)).toMatchObject({ ok: false, seq: 3, problem: 'SERVER_SIG_INVALID' });
    });

    it('refuses a statement that does not parse (STATEMENT_INVALID)', () => {
      const entries = withEntry(0, (entry) => {
        (entry.statement as { seq: number }).seq = 1;
        (entry.statement as { expiresAt: string }).expiresAt = entry.statement.createdAt;
      });
      expect(verify(entries)).toMatchObject({ ok: false, seq: 1, problem: 'STATEMENT_INVALID' });
    });
  });

  describe('when the trust root changes', () => {
    it('judges each entry under the root in force, never going back to an older one', async () => {
      // seq 1 needs root 1 (sam), seq 2 needs root 2 (otto), seq 3 leans on sam again.
      const entries = await buildLog([
        { kind: 'release', approvers: [rita, sam] },
        { kind: 'release', approvers: [rita, otto] },
        { kind: 'release', approvers: [rita, sam] },
      ]);
      expect(verify(entries.slice(0, 2))).toMatchObject({
        ok: true,
        head: { seq: 2, rootVersion: 2 },
      });
      const result = verify(entries);
      expect(result).toMatchObject({ ok: false, seq: 3, problem: 'POLICY_NOT_SATISFIED' });
      expect(!result.ok && result.message).toContain('trust root version 2');
    });

    it('carries the root version across incremental runs', async () => {
      const entries = await buildLog([
        { kind: 'release', approvers: [rita, otto] },
        { kind: 'release', approvers: [rita, sam] },
      ]);
      const first = verify(entries.slice(0, 1));
      expect(first).toMatchObject({ ok: true, head: { rootVersion: 2 } });
      const previous = first.ok ? first.head : null;
      expect(verify(entries.slice(1), { previous })).toMatchObject({
        ok: false,
        seq: 2,
        problem: 'POLICY_NOT_SATISFIED',
      });
    });
  });

  it('verifies a long log in one call (speed is measured by npm run bench:log, not here)', async () => {
    const steps: Step[] = Array.from({ length: 200 }, (_, index) => ({
      kind: 'rollout',
      percent: (index % 100) + 1,
      approvers: [rita, sam],
    }));
    expect(verify(await buildLog(steps))).toMatchObject({ ok: true, verified: 200 });
  });
});

describe('#verifyRootChain', () => {
  it('trusts the newest root through the chain and names the first root', () => {
    const result = verifyRootChain(roots);
    expect(result).toEqual({ ok: true, root: root2, firstRootId: rootId(root1), pinned: false });
    expect(verifyRootChain(roots, rootId(root1))).toMatchObject({ ok: true, pinned: true });
  });

  it('refuses a first root other than the pinned one', () => {
    const result = verifyRootChain(roots, 'a'.repeat(64));
    expect(result).toMatchObject({ ok: false, version: 1 });
    expect(!result.ok && result.message).toContain('not the pinned');
  });

  it('refuses a version signed by someone who is not an admin of the previous root', async () => {
    const forged: SignedTrustRoot = { root: root2, signatures: [await signRoot(root2, rita)] };
    const result = verifyRootChain([roots[0] as SignedTrustRoot, forged]);
    expect(result).toMatchObject({ ok: false, version: 2 });
    expect(!result.ok && result.message).toContain('0/1 valid admin signatures');
  });

  it('refuses a skipped version and a chain that does not start at 1', async () => {
    const root3 = { ...root2, version: 3 };
    const skipping: SignedTrustRoot = { root: root3, signatures: [await signRoot(root3, admin)] };
    expect(verifyRootChain([roots[0] as SignedTrustRoot, skipping])).toMatchObject({
      ok: false,
      version: 3,
    });
    expect(verifyRootChain(roots.slice(1))).toMatchObject({ ok: false, version: 2 });
    expect(verifyRootChain([])).toMatchObject({ ok: false });
  });

  it('accepts versions that have expired since they were replaced', async () => {
    const old = { ...root1, expiresAt: '2026-01-01T00:00:00Z' };
    const next = { ...root2, expiresAt: '2026-06-01T00:00:00Z' };
    const chain: SignedTrustRoot[] = [
      { root: old, signatures: [] },
      { root: next, signatures: [await signRoot(next, admin)] },
    ];
    expect(verifyRootChain(chain)).toMatchObject({ ok: true, root: next });
  });
});

describe('#compareCheckpoints', () => {
  it('tells same, ahead, rollback and fork apart', async () => {
    const [one, two] = [at(0).checkpoint, at(1).checkpoint];
    const other = await signCheckpoint({ ...two.checkpoint, head: 'f'.repeat(64) }, server);
    expect(compareCheckpoints(two, two)).toBe('same');
    expect(compareCheckpoints(one, two)).toBe('ahead');
    expect(compareCheckpoints(two, one)).toBe('rollback');
    expect(compareCheckpoints(two, other)).toBe('fork');
  });

  it('refuses to compare checkpoints of different logs', async () => {
    const beta = await signCheckpoint({ ...at(0).checkpoint.checkpoint, channel: 'beta' }, server);
    expect(() => compareCheckpoints(at(0).checkpoint, beta)).toThrow(/cannot be compared/);
  });
});

describe('#serverKeyBytes', () => {
  it('returns the key when its id matches, and refuses a mismatch', () => {
    const keyId = server.keyId;
    expect(serverKeyBytes({ keyId, publicKey: server.publicKeyHex })).toEqual(server.publicKey);
    expect(() => serverKeyBytes({ keyId: pat.keyId, publicKey: server.publicKeyHex })).toThrow();
  });
});
