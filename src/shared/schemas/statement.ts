import { z } from 'zod/mini';

/**
 * Statements (ARCHITECTURE.md §3): everything that changes what devices receive. The wire format is exact:
 * every object is strict (unknown fields are refused) because the signed bytes are the canonical
 * JSON of the whole object, and a field a verifier silently dropped would be signed but unchecked.
 * Keys and strings that identify things are ASCII on purpose (ARCHITECTURE.md §11: non-ASCII keys are
 * canonicalized differently across languages).
 */

const HEX_64 = /^[0-9a-f]{64}$/;
const HEX_512 = /^[0-9a-f]{512}$/;

/** An identity key id: lowercase hex SHA-256 of the raw 32-byte Ed25519 public key (ARCHITECTURE.md §2). */
export const KeyIdSchema = z.string().check(z.regex(HEX_64, 'must be 64 lowercase hex characters'));
export type KeyId = z.infer<typeof KeyIdSchema>;

/** A statement id: lowercase hex SHA-256 of the statement's signed bytes (ARCHITECTURE.md §3). */
export const StatementIdSchema = z
  .string()
  .check(z.regex(HEX_64, 'must be 64 lowercase hex characters'));
export type StatementId = z.infer<typeof StatementIdSchema>;

/** Lowercase hex SHA-256 of some bytes. */
export const Sha256HexSchema = z
  .string()
  .check(z.regex(HEX_64, 'must be 64 lowercase hex characters'));

// RFC 3339 §5.6 date-time, restricted to UTC ('Z') and at most millisecond precision.
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z$/;

/** True when `value` names a real instant (no 2026-02-30, no 25:00) in the TIMESTAMP shape. */
function isRealInstant(value: string): boolean {
  const date = new Date(value);
  // A round trip through Date catches calendar-invalid fields that the regex lets through.
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 19) === value.slice(0, 19);
}

/** An RFC 3339 UTC timestamp such as `2026-11-23T10:00:00Z` (optional .sss fraction). */
export const TimestampSchema = z
  .string()
  .check(
    z.regex(TIMESTAMP, 'must be an RFC 3339 UTC timestamp such as 2026-11-23T10:00:00Z'),
    z.refine(isRealInstant, 'must be a real calendar date and time'),
  );
export type Timestamp = z.infer<typeof TimestampSchema>;

// Reverse-domain app id (Capacitor appId): at least two dot-separated segments, each starting with a
// letter. Same shape on Android (package name) and iOS (bundle id).
const APP_ID = /^[A-Za-z][A-Za-z0-9_-]*(?:\.[A-Za-z][A-Za-z0-9_-]*)+$/;

/** A Capacitor app id in reverse-domain form, e.g. `com.example.app` (at most 255 characters). */
export const AppIdSchema = z
  .string()
  .check(
    z.maxLength(255, 'must be at most 255 characters'),
    z.regex(APP_ID, 'must be a reverse-domain app id such as com.example.app'),
  );
export type AppId = z.infer<typeof AppIdSchema>;

/** A channel name: `[a-z0-9][a-z0-9._-]{0,63}`, e.g. `production`. */
export const ChannelSchema = z
  .string()
  .check(z.regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'must match [a-z0-9][a-z0-9._-]{0,63}'));
export type Channel = z.infer<typeof ChannelSchema>;

// semver.org 2.0.0 recommended regular expression (numbered capture groups removed).
const SEMVER =
  /^(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)(?:-(?:(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+(?:[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

/** A semantic version (semver 2.0.0), at most 128 characters. */
export const SemverSchema = z
  .string()
  .check(
    z.maxLength(128, 'must be at most 128 characters'),
    z.regex(SEMVER, 'must be a semantic version such as 1.4.2'),
  );

export const STATEMENT_KINDS = ['release', 'rollback', 'rollout', 'pause', 'resume'] as const;
export const StatementKindSchema = z.enum(STATEMENT_KINDS);
export type StatementKind = z.infer<typeof StatementKindSchema>;

/** Share of devices that receive a release: 0 < percent ≤ 100. */
export const RolloutSchema = z.strictObject({
  percent: z.number().check(z.gt(0, 'must be greater than 0'), z.lte(100, 'must be at most 100')),
});
export type Rollout = z.infer<typeof RolloutSchema>;

const positiveSize = z.int('must be an integer').check(z.minimum(1, 'must be at least 1'));

/** What a device downloads: the Capgo-compatible encrypted bundle and its checks. */
export const BundleRefSchema = z.strictObject({
  /** Hex SHA-256 of the plaintext zip. */
  sha256: Sha256HexSchema,
  size: positiveSize,
  /** Hex SHA-256 of the encrypted zip, as served. */
  encryptedSha256: Sha256HexSchema,
  encryptedSize: positiveSize,
  /** Capgo `session_key`: `<iv base64>:<RSA-wrapped AES key base64>`. */
  sessionKey: z
    .string()
    .check(
      z.maxLength(1024, 'must be at most 1024 characters'),
      z.regex(
        /^[A-Za-z0-9+/]+={0,2}:[A-Za-z0-9+/]+={0,2}$/,
        'must be <iv base64>:<wrapped key base64>',
      ),
    ),
  /** Capgo V3 checksum: 512 hex characters (RSA-2048 signature over the SHA-256). */
  checksum: z.string().check(z.regex(HEX_512, 'must be 512 lowercase hex characters')),
  /** Capgo `key_id`: the first 20 characters of the bundle public key's base64 body. */
  keyId: z.string().check(z.regex(/^[A-Za-z0-9+/=]{1,20}$/, 'must be 1 to 20 base64 characters')),
  /** Number of entries in the zip. */
  files: positiveSize,
  /**
   * SHA-256 of the zip's file list (src/core/bundle/file-list.ts): binds the names, sizes and
   * CRC-32s to the approved statement, so a reviewer's file diff is checked, not believed
   * (ARCHITECTURE.md §5). The server refuses a bundle whose list differs.
   */
  fileListSha256: z.optional(Sha256HexSchema),
});
export type BundleRef = z.infer<typeof BundleRefSchema>;

/** One file of a bundle: its path, size and CRC-32 from the zip (src/core/bundle/file-list.ts). */
export const BundleFileSchema = z.strictObject({
  name: z.string().check(z.minLength(1), z.maxLength(1024)),
  size: z.int().check(z.minimum(0)),
  crc32: z.int().check(z.minimum(0), z.maximum(0xffffffff)),
});
export const BundleFileListSchema = z.array(BundleFileSchema).check(z.maxLength(100_000));

export const ReleaseSchema = z.strictObject({
  version: SemverSchema,
  minNativeVersion: SemverSchema,
  notes: z.optional(z.string().check(z.maxLength(4096, 'must be at most 4096 characters'))),
  rollout: RolloutSchema,
  bundle: BundleRefSchema,
});
export type Release = z.infer<typeof ReleaseSchema>;

/** Fields every statement carries, whatever its kind. */
const baseShape = {
  v: z.literal(1, 'must be 1'),
  app: AppIdSchema,
  channel: ChannelSchema,
  seq: z.int('must be an integer').check(z.minimum(1, 'must be at least 1')),
  prev: z.nullable(StatementIdSchema),
  createdAt: TimestampSchema,
  expiresAt: TimestampSchema,
  proposer: KeyIdSchema,
};

export const ReleaseStatementSchema = z.strictObject({
  ...baseShape,
  kind: z.literal('release'),
  release: ReleaseSchema,
});
export const RollbackStatementSchema = z.strictObject({
  ...baseShape,
  kind: z.literal('rollback'),
  /** Id of an earlier release statement on this app/channel. */
  target: StatementIdSchema,
});
export const RolloutStatementSchema = z.strictObject({
  ...baseShape,
  kind: z.literal('rollout'),
  rollout: RolloutSchema,
});
export const PauseStatementSchema = z.strictObject({
  ...baseShape,
  kind: z.literal('pause'),
  /** Set only on pauses the server issues by itself (e.g. on a crash spike). */
  automatic: z.optional(z.literal(true, 'must be true when present')),
});
export const ResumeStatementSchema = z.strictObject({
  ...baseShape,
  kind: z.literal('resume'),
});

/**
 * A statement of any kind. Cross-field rules: `prev` is null exactly when `seq` is 1, and
 * `expiresAt` is strictly after `createdAt`.
 */
export const StatementSchema = z
  .discriminatedUnion('kind', [
    ReleaseStatementSchema,
    RollbackStatementSchema,
    RolloutStatementSchema,
    PauseStatementSchema,
    ResumeStatementSchema,
  ])
  .check(
    z.superRefine((statement, ctx) => {
      if ((statement.seq === 1) !== (statement.prev === null)) {
        ctx.addIssue({
          code: 'custom',
          path: ['prev'],
          message: 'must be null when seq is 1 and a statement id otherwise',
        });
      }
      if (Date.parse(statement.expiresAt) <= Date.parse(statement.createdAt)) {
        ctx.addIssue({ code: 'custom', path: ['expiresAt'], message: 'must be after createdAt' });
      }
    }),
  );

export type Statement = z.infer<typeof StatementSchema>;
export type ReleaseStatement = z.infer<typeof ReleaseStatementSchema>;
export type RollbackStatement = z.infer<typeof RollbackStatementSchema>;
export type RolloutStatement = z.infer<typeof RolloutStatementSchema>;
export type PauseStatement = z.infer<typeof PauseStatementSchema>;
export type ResumeStatement = z.infer<typeof ResumeStatementSchema>;
