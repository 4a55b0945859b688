import { bytesToBase64 } from '../../../../src/core/crypto';
import { signCheckpoint } from '../../../../src/core/log';
import {
  createApproval,
  signRoot,
  statementId,
  statementSigningBytes,
} from '../../../../src/core/statement';
import type {
  LogEntry,
  Policy,
  SignedTrustRoot,
  Statement,
  StatementKind,
  TrustRoot,
} from '../../../../src/shared/schemas';
import { testIdentity, type TestIdentity } from '../test-identities';

/**
 * Builds TEST-ONLY signed release logs the way an honest server would: each statement approved,
 * chained on the previous head, and checkpointed with the server key. Tests then tamper with them.
 */

export const APP = 'com.example.app';
export const CHANNEL = 'production';

// TEST-ONLY identities.
export const server = testIdentity('log-server');
export const admin = testIdentity('log-admin');
export const pat = testIdentity('log-pat'); // release manager, usual proposer
export const rita = testIdentity('log-rita'); // release manager
export const sam = testIdentity('log-sam'); // signing officer
export const otto = testIdentity('log-otto'); // signing officer added in root version 2

const BUNDLE = {
  sha256: 'b'.repeat(64),
  size: 123,
  encryptedSha256: 'c'.repeat(64),
  encryptedSize: 128,
  sessionKey: 'AAAAAAAAAAAAAAAAAAAAAA==:BBBB',
  checksum: 'd'.repeat(512),
  keyId: 'MIIBCgKCAQEAqJikYizo',
  files: 87,
};

function member(identity: TestIdentity, roles: TrustRoot['members'][number]['roles']) {
  return { keyId: identity.keyId, publicKey: identity.publicKeyHex, name: identity.name, roles };
}

function policy(kind: StatementKind, threshold: number): Policy {
  return {
    app: APP,
    channel: '*',
    kind,
    threshold,
    roles: ['release_manager', 'signing_officer'],
    ...(kind === 'release' ? { require: { signing_officer: 1 } } : {}),
    proposerCounts: false,
  };
}

const POLICIES: Policy[] = [
  policy('release', 2),
  policy('rollback', 1),
  policy('rollout', 1),
  policy('pause', 1),
  policy('resume', 1),
];

/** Root version 1: admin, pat and rita (release managers), sam (signing officer). Unsigned. */
export const root1: TrustRoot = {
  v: 1,
  version: 1,
  expiresAt: '2027-06-01T00:00:00Z',
  members: [
    member(admin, ['admin']),
    member(pat, ['release_manager']),
    member(rita, ['release_manager']),
    member(sam, ['signing_officer']),
  ],
  policies: POLICIES,
  rootThreshold: 1,
};

/** Root version 2: sam is removed, otto becomes the signing officer. Signed by the admin. */
export const root2: TrustRoot = {
  ...root1,
  version: 2,
  members: [
    member(admin, ['admin']),
    member(pat, ['release_manager']),
    member(rita, ['release_manager']),
    member(otto, ['signing_officer']),
  ],
};

export async function signedRoots(): Promise<SignedTrustRoot[]> {
  return [
    { root: root1, signatures: [] },
    { root: root2, signatures: [await signRoot(root2, admin)] },
  ];
}

export interface Step {
  readonly kind: StatementKind;
  readonly approvers?: TestIdentity[];
  readonly proposer?: TestIdentity;
  /** Minutes after 2026-11-23T10:00Z the statement is created; applied one minute later. */
  readonly minute?: number;
  readonly version?: string;
  readonly percent?: number;
  readonly automatic?: boolean;
  readonly app?: string;
  readonly channel?: string;
  /** Overrides `prev` (to build a forked log). */
  readonly prev?: string | null;
  /** Overrides the application time. */
  readonly appliedAt?: string;
}

const BASE = Date.parse('2026-11-23T10:00:00Z');

function at(minute: number): string {
  return new Date(BASE + minute * 60_000).toISOString().replace('.000Z', 'Z');
}

function statementFor(step: Step, seq: number, prev: string | null, target: string): Statement {
  const minute = step.minute ?? seq * 10;
  const base = {
    v: 1 as const,
    app: step.app ?? APP,
    channel: step.channel ?? CHANNEL,
    seq,
    prev: step.prev === undefined ? prev : step.prev,
    createdAt: at(minute),
    expiresAt: at(minute + 7 * 24 * 60),
    proposer: (step.automatic === true ? server : (step.proposer ?? pat)).keyId,
  };
  switch (step.kind) {
    case 'release':
      return {
        ...base,
        kind: 'release',
        release: {
          version: step.version ?? `1.0.${seq}`,
          minNativeVersion: '1.0.0',
          rollout: { percent: step.percent ?? 100 },
          bundle: BUNDLE,
        },
      };
    case 'rollback':
      return { ...base, kind: 'rollback', target };
    case 'rollout':
      return { ...base, kind: 'rollout', rollout: { percent: step.percent ?? 50 } };
    case 'pause':
      return step.automatic === true
        ? { ...base, kind: 'pause', automatic: true }
        : { ...base, kind: 'pause' };
    case 'resume':
      return { ...base, kind: 'resume' };
  }
}

/** The default approvers of a kind under root 1. */
function defaultApprovers(kind: StatementKind): TestIdentity[] {
  return kind === 'release' ? [rita, sam] : [rita];
}

/** Builds a log from `steps`, continuing after `after` (the last entry of an earlier build). */
export async function buildLog(
  steps: readonly Step[],
  after: LogEntry | null = null,
  signer: TestIdentity = server,
): Promise<LogEntry[]> {
  const entries: LogEntry[] = [];
  let previous = after;
  let firstRelease = '';
  for (const step of steps) {
    const seq = (previous?.seq ?? 0) + 1;
    const statement = statementFor(step, seq, previous?.id ?? null, firstRelease || 'e'.repeat(64));
    const id = statementId(statement);
    if (statement.kind === 'release' && firstRelease === '') firstRelease = id;
    const approvals =
      step.automatic === true
        ? []
        : await Promise.all(
            (step.approvers ?? defaultApprovers(step.kind)).map((who) =>
              createApproval(statement, who),
            ),
          );
    const appliedAt = step.appliedAt ?? at((step.minute ?? seq * 10) + 1);
    const checkpoint = await signCheckpoint(
      { app: statement.app, channel: statement.channel, seq, head: id, time: appliedAt },
      signer,
    );
    const entry: LogEntry = { seq, id, statement, approvals, appliedAt, checkpoint };
    if (step.automatic === true) {
      entry.serverSig = bytesToBase64(await signer.sign(statementSigningBytes(statement)));
    }
    entries.push(entry);
    previous = entry;
  }
  return entries;
}

/** A deep copy to tamper with. */
export function clone<T>(value: T): T {
  return structuredClone(value);
}
