import { z } from 'zod';
import { ApprovalSchema } from './approval';
import { KeyIdSchema, StatementIdSchema, StatementKindSchema, StatementSchema } from './statement';
import { PolicySchema, SignedTrustRootSchema } from './trust-root';

/**
 * Air-gapped signing files (ARCHITECTURE.md §5). A signing request carries everything an officer needs to
 * review and approve offline; an approval file carries one signature back. Both are strict: an
 * unknown field is refused, because a reviewer must never be shown something nobody checked.
 */

export const SIGNING_REQUEST_FORMAT = 'airlock-signing-request';
export const APPROVAL_FILE_FORMAT = 'airlock-approval';

const pathList = z.array(z.string().max(1024)).max(100_000);

/** The human summary shown to the reviewer. Fields derivable from the statement are re-checked. */
export const RequestSummarySchema = z.strictObject({
  app: z.string(),
  channel: z.string(),
  kind: StatementKindSchema,
  /** The release's version (release), or the version rolled back to (rollback, when known). */
  version: z.string().optional(),
  /** What the channel runs now, as far as the proposer's console knows. */
  currentVersion: z.string().nullable().optional(),
  rolloutPercent: z.number().optional(),
  bundleSize: z.int().optional(),
  encryptedSize: z.int().optional(),
  files: z.int().optional(),
  /**
   * The file-list difference against the channel's current release, computed by the proposer's
   * console. It cannot be checked offline unless the bundle comes along: shown as such.
   */
  fileDiff: z
    .strictObject({
      added: pathList,
      removed: pathList,
      changed: pathList,
      unchanged: z.int().min(0),
    })
    .nullable()
    .optional(),
  notes: z.string().max(4096).optional(),
});
export type RequestSummary = z.infer<typeof RequestSummarySchema>;

export const SigningRequestSchema = z.strictObject({
  format: z.literal(SIGNING_REQUEST_FORMAT),
  v: z.literal(1),
  statementId: StatementIdSchema,
  statement: StatementSchema,
  /** Approvals gathered so far. */
  approvals: z.array(ApprovalSchema).max(1000),
  /** The trust root in force at the server, for offline policy checks; compare its fingerprint. */
  root: SignedTrustRootSchema,
  /** The policy that applies, for the reviewer (re-derived from `root` and compared). */
  policy: PolicySchema.nullable(),
  summary: RequestSummarySchema,
  /** Where the request came from (informative). */
  server: z.string().max(2048).nullable(),
  createdAt: z.string().max(64),
});
export type SigningRequest = z.infer<typeof SigningRequestSchema>;

export const ApprovalFileSchema = z.strictObject({
  format: z.literal(APPROVAL_FILE_FORMAT),
  v: z.literal(1),
  statementId: StatementIdSchema,
  approval: ApprovalSchema,
  approver: z.strictObject({ keyId: KeyIdSchema, name: z.string().max(128).nullable() }),
  createdAt: z.string().max(64),
});
export type ApprovalFile = z.infer<typeof ApprovalFileSchema>;
