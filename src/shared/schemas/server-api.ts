import { z } from 'zod/mini';
import { ApprovalSchema, SignatureBase64Schema } from './approval';
import {
  AppIdSchema,
  ChannelSchema,
  KeyIdSchema,
  Sha256HexSchema,
  StatementIdSchema,
  StatementSchema,
  TimestampSchema,
} from './statement';
import { PublicKeyHexSchema, SignedTrustRootSchema } from './trust-root';

/**
 * The server's admin and log API (ARCHITECTURE.md §6), shared by the server, the CLI and the console. Every
 * body is strict. Requests under `/api/v1` other than the public GETs carry an RFC 9421 signature
 * (see src/core/http-signature). Every error is `{error, message}` with a stable `error` code.
 */

// ---------------------------------------------------------------------------------------------
// Checkpoints and the log (ARCHITECTURE.md §3)

/**
 * What the server signs after applying a statement: `"airlock/checkpoint/v1\n" + JCS(checkpoint)`
 * with its own Ed25519 key. `head` is the id of the statement at `seq` on app/channel.
 */
export const CheckpointSchema = z.strictObject({
  app: AppIdSchema,
  channel: ChannelSchema,
  seq: z.int().check(z.minimum(1)),
  head: StatementIdSchema,
  time: TimestampSchema,
  /**
   * The trust-root version the entry at `seq` was applied under (ARCHITECTURE.md §11). Signed with the
   * rest, so that nobody without the server key can move an entry under another root. Absent only
   * in checkpoints signed before servers recorded it.
   */
  rootVersion: z.optional(z.int().check(z.minimum(1))),
});
export type Checkpoint = z.infer<typeof CheckpointSchema>;

export const SignedCheckpointSchema = z.strictObject({
  checkpoint: CheckpointSchema,
  /** The server key's id (SHA-256 of its raw public key). */
  keyId: KeyIdSchema,
  sig: SignatureBase64Schema,
});
export type SignedCheckpoint = z.infer<typeof SignedCheckpointSchema>;

/**
 * One applied statement. `approvals` are the ones that satisfied the policy when it was applied.
 * An automatic pause (ARCHITECTURE.md §6) carries no approvals; it is signed by the server key instead
 * (`serverSig`, over the statement's signed bytes), and only a `pause` with `automatic: true`
 * may be applied that way: it only reduces exposure.
 */
export const LogEntrySchema = z.strictObject({
  seq: z.int().check(z.minimum(1)),
  id: StatementIdSchema,
  statement: StatementSchema,
  approvals: z.array(ApprovalSchema).check(z.maxLength(1000)),
  serverSig: z.optional(SignatureBase64Schema),
  appliedAt: TimestampSchema,
  /** The trust-root version the server judged the approvals under; its checkpoint names it too. */
  rootVersion: z.optional(z.int().check(z.minimum(1))),
  checkpoint: SignedCheckpointSchema,
});
export type LogEntry = z.infer<typeof LogEntrySchema>;

/** `GET /api/v1/apps/<app>/channels/<channel>/log?after=N&limit=M` (public; limit ≤ 1000). */
export const LogPageSchema = z.strictObject({
  app: AppIdSchema,
  channel: ChannelSchema,
  entries: z.array(LogEntrySchema),
  /** The latest checkpoint of the channel, or null when nothing was applied yet. */
  head: z.nullable(SignedCheckpointSchema),
  /** True when more entries follow the last one returned. */
  more: z.boolean(),
});
export type LogPage = z.infer<typeof LogPageSchema>;

/** The server's own signing key (checkpoints, automatic pauses). */
export const ServerKeySchema = z.strictObject({
  keyId: KeyIdSchema,
  publicKey: PublicKeyHexSchema,
});
export type ServerKey = z.infer<typeof ServerKeySchema>;

/** `GET /api/v1/root` (public): the whole root chain, version 1 first, and the server key. */
export const RootChainSchema = z.strictObject({
  roots: z.array(SignedTrustRootSchema).check(z.minLength(1)),
  server: ServerKeySchema,
  /** What this server accepts, so that clients refuse early what it would refuse. */
  limits: z.optional(
    z.strictObject({
      /** The longest statement lifetime (expiresAt − createdAt) accepted. */
      maxStatementLifetimeSeconds: z.int().check(z.minimum(1)),
    }),
  ),
});
export type RootChain = z.infer<typeof RootChainSchema>;

// ---------------------------------------------------------------------------------------------
// Apps and channels

export const ChannelSettingsSchema = z.strictObject({
  /** Devices may move themselves onto this channel with `setChannel` (POST /channel_self). */
  allowSelfSet: z._default(z.boolean(), false),
  /** Listed by `listChannels` (GET /channel_self). */
  public: z._default(z.boolean(), true),
  /**
   * Automatic pause: when at least `minSamples` devices reported an outcome of the current release
   * and the Wilson lower bound (95 %) of its failure rate exceeds `failureThreshold`, the server
   * pauses. One source (address, IPv6 /64, or the client a trusted proxy names) adds at most
   * `maxDevicesPerSource` devices to that count. null turns it off.
   */
  autoPause: z._default(
    z.nullable(
      z.strictObject({
        failureThreshold: z.number().check(z.gt(0), z.lt(1)),
        minSamples: z.int().check(z.minimum(1), z.maximum(1_000_000)),
        maxDevicesPerSource: z._default(z.int().check(z.minimum(1), z.maximum(1_000_000)), 5),
      }),
    ),
    { failureThreshold: 0.2, minSamples: 50, maxDevicesPerSource: 5 },
  ),
});
export type ChannelSettings = z.infer<typeof ChannelSettingsSchema>;
/** What a client may send as settings (defaults filled in by the server). */
export type ChannelSettingsInput = z.input<typeof ChannelSettingsSchema>;

/** `POST /api/v1/apps` (admin or release_manager). */
export const CreateAppRequestSchema = z.strictObject({
  app: AppIdSchema,
  /**
   * The bundle public key (PKCS#1 PEM) devices hold; the server checks every bundle with it (or
   * with the channel's own). A release is refused where neither is set.
   */
  bundlePublicKey: z.optional(z.string().check(z.maxLength(4096))),
  /**
   * Created with the app; the first is the app's default channel. A channel may name a bundle key
   * of its own: its releases are then encrypted for (and checked with) that key, so that devices
   * built with another key cannot use them (channels are not access control).
   */
  channels: z
    .array(
      z.strictObject({
        name: ChannelSchema,
        settings: z.optional(ChannelSettingsSchema),
        bundlePublicKey: z.optional(z.string().check(z.maxLength(4096))),
      }),
    )
    .check(z.minLength(1), z.maxLength(100)),
});
export type CreateAppRequest = z.input<typeof CreateAppRequestSchema>;

/** `POST /api/v1/apps/<app>/channels` (admin or release_manager). */
export const CreateChannelRequestSchema = z.strictObject({
  name: ChannelSchema,
  settings: z.optional(ChannelSettingsSchema),
  /** A bundle key of the channel's own (see CreateAppRequestSchema). */
  bundlePublicKey: z.optional(z.string().check(z.maxLength(4096))),
});

/** `GET /api/v1/apps/<app>/channels/<channel>` (any member): what devices get right now. */
export const ChannelStatusSchema = z.strictObject({
  app: AppIdSchema,
  channel: ChannelSchema,
  settings: ChannelSettingsSchema,
  seq: z.int().check(z.minimum(0)),
  head: z.nullable(StatementIdSchema),
  /** The release devices are moved to, after rollbacks; null before the first release. */
  current: z.nullable(
    z.strictObject({
      statementId: StatementIdSchema,
      version: z.string(),
      minNativeVersion: z.string(),
      rolloutPercent: z.number(),
      encryptedSha256: Sha256HexSchema,
    }),
  ),
  paused: z.boolean(),
  /** True when the head is a rollback: devices above `current` are moved down to it. */
  rolledBack: z.boolean(),
});
export type ChannelStatus = z.infer<typeof ChannelStatusSchema>;

/** The `?hours=N` window of the health route: default one week, at most 30 days. */
export const HEALTH_HOURS_DEFAULT = 168;
export const HEALTH_HOURS_MAX = 720;

const OutcomeCount = z.int().check(z.minimum(0));

/** Successful installs and failures of one version in one hour. */
export const HealthPointSchema = z.strictObject({
  /** Start of the hour (UTC), as the server counted it: its receive time, not the device's. */
  hour: TimestampSchema,
  successes: OutcomeCount,
  failures: OutcomeCount,
});
export type HealthPoint = z.infer<typeof HealthPointSchema>;

/** One version released on the channel: outcomes since its release, and per hour in the window. */
export const VersionHealthSchema = z.strictObject({
  version: z.string(),
  /** Every outcome since the version was released (what the automatic pause judges). */
  totals: z.strictObject({
    successes: OutcomeCount,
    failures: OutcomeCount,
    /** successes / (successes + failures); null with no outcomes. */
    successRate: z.nullable(z.number().check(z.minimum(0), z.maximum(1))),
    /** Wilson lower bound (95 %) of the failure rate; null with no outcomes. */
    failureLowerBound: z.nullable(z.number().check(z.minimum(0), z.maximum(1))),
  }),
  /** Hours of the window that have outcomes, oldest first. */
  series: z.array(HealthPointSchema),
});
export type VersionHealth = z.infer<typeof VersionHealthSchema>;

/**
 * `GET /api/v1/apps/<app>/channels/<channel>/health?hours=N` (any member; 1 ≤ N ≤ 720, default
 * 168): adoption and failures per version released on the channel (ARCHITECTURE.md §6, §7 health charts).
 * Success and failure are the outcome rules of src/server/device/stats-actions.ts.
 */
export const ChannelHealthSchema = z.strictObject({
  app: AppIdSchema,
  channel: ChannelSchema,
  hours: z.int().check(z.minimum(1), z.maximum(HEALTH_HOURS_MAX)),
  /** Start of the first hour of the window. */
  since: TimestampSchema,
  /** The version devices are moved to now; null before the first release. */
  currentVersion: z.nullable(z.string()),
  /** The channel's automatic-pause threshold and sample floor; null when it is turned off. */
  failureThreshold: z.nullable(z.number().check(z.gt(0), z.lt(1))),
  minSamples: z.nullable(z.int().check(z.minimum(1))),
  /** Versions in release order (oldest first); only versions the channel's log released. */
  versions: z.array(VersionHealthSchema),
});
export type ChannelHealth = z.infer<typeof ChannelHealthSchema>;

// ---------------------------------------------------------------------------------------------
// Statements, approvals, pushes

/** `POST /api/v1/statements`: submit a proposal (signed by its proposer). */
export const SubmitStatementRequestSchema = z.strictObject({
  statement: StatementSchema,
  approvals: z._default(z.array(ApprovalSchema).check(z.maxLength(100)), []),
});

/** `POST /api/v1/statements/<id>/approvals`. */
export const AddApprovalsRequestSchema = z.strictObject({
  approvals: z.array(ApprovalSchema).check(z.minLength(1), z.maxLength(100)),
});

/** `POST /api/v1/statements/<id>/push`: apply now if the policy is satisfied (idempotent). */
export const PushRequestSchema = z.strictObject({
  approvals: z._default(z.array(ApprovalSchema).check(z.maxLength(100)), []),
});

export const VerdictSchema = z.strictObject({
  satisfied: z.boolean(),
  threshold: z.int(),
  counted: z.array(KeyIdSchema),
  rejected: z.array(z.strictObject({ keyId: z.string(), reason: z.string() })),
  missingRoles: z.record(z.string(), z.int()),
  reasons: z.array(z.string()),
  summary: z.string(),
});

export const STATEMENT_STATES = ['pending', 'applied', 'stale'] as const;

/** `GET /api/v1/statements/<id>` and the answer of submit/approve. */
export const StatementStatusSchema = z.strictObject({
  id: StatementIdSchema,
  statement: StatementSchema,
  approvals: z.array(ApprovalSchema),
  /** `stale`: its seq/prev no longer fits the log (another statement took the place). */
  state: z.enum(STATEMENT_STATES),
  verdict: VerdictSchema,
});
export type StatementStatus = z.infer<typeof StatementStatusSchema>;

/** The most statements `GET …/channels/<channel>/pending` lists. */
export const PENDING_LIST_MAX = 100;

/**
 * `GET /api/v1/apps/<app>/channels/<channel>/pending` (any member): the statements that fit the
 * channel's next position and have not expired, with their approvals and verdict, so that an
 * approver's console finds what waits for it without being handed an id.
 */
export const PendingStatementsSchema = z.strictObject({
  statements: z.array(StatementStatusSchema).check(z.maxLength(PENDING_LIST_MAX)),
});
export type PendingStatements = z.infer<typeof PendingStatementsSchema>;

/** Answer of a push. `alreadyApplied` is true on a retry of a push that went through. */
export const PushResultSchema = z.strictObject({
  id: StatementIdSchema,
  seq: z.int().check(z.minimum(1)),
  alreadyApplied: z.boolean(),
  checkpoint: SignedCheckpointSchema,
});
export type PushResult = z.infer<typeof PushResultSchema>;

/** `POST /api/v1/root` (admin signatures decide, not the request signer's roles alone). */
export const RootUpdateRequestSchema = z.strictObject({ signed: SignedTrustRootSchema });

// ---------------------------------------------------------------------------------------------
// Errors

/** Every error the server answers, device endpoints included: a stable code and one sentence. */
export const ApiErrorSchema = z.object({
  error: z.string().check(z.maxLength(64)),
  message: z.string().check(z.maxLength(1000)),
});
export type ApiError = z.infer<typeof ApiErrorSchema>;
