import { z } from 'zod/mini';
import { ApprovalSchema } from './approval';
import { LogEntrySchema, ServerKeySchema } from './server-api';
import {
  BundleFileListSchema,
  KeyIdSchema,
  Sha256HexSchema,
  StatementIdSchema,
  StatementKindSchema,
  StatementSchema,
} from './statement';
import { PolicySchema, SignedTrustRootSchema } from './trust-root';

/**
 * Air-gapped signing files (ARCHITECTURE.md §5). A signing request carries everything an officer needs to
 * review and approve offline; an approval file carries one signature back. Both are strict: an
 * unknown field is refused, because a reviewer must never be shown something nobody checked.
 */

export const SIGNING_REQUEST_FORMAT = 'airlock-signing-request';
/** Version 2 carries the root chain and server-signed evidence (v1 requests are refused). */
export const SIGNING_REQUEST_VERSION = 2;
export const APPROVAL_FILE_FORMAT = 'airlock-approval';

const pathList = z.array(z.string().check(z.maxLength(1024))).check(z.maxLength(100_000));

/** The release a summary names: its version and statement id (from the verified log). */
const ReleaseRefSchema = z.strictObject({
  version: z.string().check(z.maxLength(128)),
  statementId: StatementIdSchema,
});

/** The facts of a bundle a reviewer compares with the proposer's build. */
const BundleFactsSchema = z.strictObject({
  sha256: Sha256HexSchema,
  encryptedSha256: Sha256HexSchema,
  size: z.int().check(z.minimum(0)),
  encryptedSize: z.int().check(z.minimum(0)),
  files: z.int().check(z.minimum(0)),
});

/**
 * What the reviewer is shown. Every field is derived, by `summarizeRequest` (src/main/services/
 * airgap.ts), from the statement and the request's evidence; the reviewing console derives it
 * again and refuses a request whose summary differs in any field (it names the field), so nothing
 * shown is taken from the file on trust. The file-list difference too: it is computed from the two
 * file lists in the evidence, each checked against the `fileListSha256` its approved statement
 * carries.
 */
export const RequestSummarySchema = z.strictObject({
  app: z.string(),
  channel: z.string(),
  kind: StatementKindSchema,
  /** Release: its version. Rollback: the version it returns to. */
  version: z.optional(z.string()),
  /** Release only. */
  minNativeVersion: z.optional(z.string()),
  /** Release and rollout. */
  rolloutPercent: z.optional(z.number()),
  /** Release: the notes in the statement (and only those). */
  notes: z.optional(z.string().check(z.maxLength(4096))),
  /** Release: its bundle; rollback: the bundle it returns to. */
  bundle: z.optional(BundleFactsSchema),
  /** The release the channel's verified head runs now (release and rollback), or null. */
  replaces: z.optional(z.nullable(ReleaseRefSchema)),
  /**
   * The file-list difference against the release it replaces (release) or the release it leaves
   * (rollback), from the evidence's two file lists; null when one of them is not known.
   */
  fileDiff: z.optional(
    z.nullable(
      z.strictObject({
        added: pathList,
        removed: pathList,
        changed: pathList,
        unchanged: z.int().check(z.minimum(0)),
      }),
    ),
  ),
});
export type RequestSummary = z.infer<typeof RequestSummarySchema>;

/**
 * Log entries the summary relies on, server-signed: `current` is the release the channel's
 * verified head runs (after rollbacks), `target` a rollback's target release. A reviewer checks
 * each: its id recomputed, its checkpoint signed by `serverKey` for that id and seq.
 */
export const RequestEvidenceSchema = z.strictObject({
  current: z.nullable(LogEntrySchema),
  target: z.nullable(LogEntrySchema),
  /**
   * The file lists of the current release's bundle and of the bundle devices would get (the
   * release's, or the rollback target's), each matching its statement's `fileListSha256`.
   */
  files: z.strictObject({
    current: z.nullable(BundleFileListSchema),
    next: z.nullable(BundleFileListSchema),
  }),
});
export type RequestEvidence = z.infer<typeof RequestEvidenceSchema>;

export const SigningRequestSchema = z.strictObject({
  format: z.literal(SIGNING_REQUEST_FORMAT),
  v: z.literal(SIGNING_REQUEST_VERSION),
  statementId: StatementIdSchema,
  statement: StatementSchema,
  /** Approvals gathered so far. */
  approvals: z.array(ApprovalSchema).check(z.maxLength(1000)),
  /**
   * The server's verified trust-root chain, version 1 first (its id is the server's fingerprint).
   * A reviewing console verifies every link and compares the chain with the one it pinned.
   */
  roots: z.array(SignedTrustRootSchema).check(z.minLength(1), z.maxLength(256)),
  /** The server's checkpoint key (for the evidence). */
  serverKey: ServerKeySchema,
  /** The policy that applies, for the reviewer (re-derived from the newest root and compared). */
  policy: z.nullable(PolicySchema),
  evidence: RequestEvidenceSchema,
  summary: RequestSummarySchema,
  /** The server the statement is for: whose pinned root the reviewer compares. */
  server: z.url({ protocol: /^https?$/ }).check(z.maxLength(2048)),
  createdAt: z.string().check(z.maxLength(64)),
});
export type SigningRequest = z.infer<typeof SigningRequestSchema>;

export const ApprovalFileSchema = z.strictObject({
  format: z.literal(APPROVAL_FILE_FORMAT),
  v: z.literal(1),
  statementId: StatementIdSchema,
  approval: ApprovalSchema,
  approver: z.strictObject({
    keyId: KeyIdSchema,
    name: z.nullable(z.string().check(z.maxLength(128))),
  }),
  createdAt: z.string().check(z.maxLength(64)),
});
export type ApprovalFile = z.infer<typeof ApprovalFileSchema>;
