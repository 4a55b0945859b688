import { z } from 'zod';
import { MAX_FILE_TEXT_BYTES } from '../files';
import { ApprovalSchema } from '../schemas/approval';
import { RequestSummarySchema } from '../schemas/airgap';
import { HEALTH_HOURS_DEFAULT, HEALTH_HOURS_MAX, VerdictSchema } from '../schemas/server-api';
import {
  AppIdSchema,
  BundleRefSchema,
  ChannelSchema,
  KeyIdSchema,
  RolloutSchema,
  SemverSchema,
  StatementIdSchema,
  StatementKindSchema,
  StatementSchema,
} from '../schemas/statement';
import { KeyTypeSchema } from '../schemas/keys';
import { RoleSchema } from '../schemas/trust-root';
import { IpcChannels, type IpcChannel } from './channels';

/**
 * The request and response schema of every IPC channel (ARCHITECTURE.md rule 3): the single source of truth
 * for what crosses the boundary between the window and main.
 *
 * Requests are strict (an unknown field is refused) and parsed as `unknown` in main before any
 * handler runs (ARCHITECTURE.md rule 4). Responses are non-strict objects on purpose: main parses every answer
 * with its schema before it leaves, which drops any field the schema does not name, so a handler
 * that returned too much (a stray internal) cannot leak it. Private keys never appear here at all:
 * the window sees key ids, fingerprints and public keys only (ARCHITECTURE.md rule 10).
 */

// ---------------------------------------------------------------------------------------------
// Building blocks

/** No input: every request is an object, so the preload always sends `{}`. */
const Empty = z.strictObject({});
const Done = z.object({});

/** A server base URL as the user typed it; the server client normalizes and checks it. */
const ServerUrl = z.string().trim().min(1, 'must not be empty').max(2048);
/** A key id or a unique prefix of at least 8 hex characters (spaces, as in fingerprints, allowed). */
const KeyIdQuery = z
  .string()
  .trim()
  .regex(/^[0-9a-fA-F ]{8,80}$/, 'must be a key id or a prefix of at least 8 hex characters');
/** Lets the window match progress events to the call that caused them. */
const OperationId = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1 to 64 letters, digits, _ or -');
/** Request and approval files travel as text; they are small (src/main/services/airgap.ts). */
const FileText = z
  .string()
  .min(1, 'must not be empty')
  .max(MAX_FILE_TEXT_BYTES, 'must be at most 8 MiB');
const Passphrase = z
  .string()
  .min(8, 'must be at least 8 characters')
  .max(1024, 'must be at most 1024 characters');
/** How long a new statement stays valid, in hours (default 7 days, at most a year). */
const ExpiresInHours = z.int().min(1).max(8760).default(168);
const Count = z.int().min(0);

/** A text file the window offers to save (the name is a suggestion). */
export const FileOfferSchema = z.object({ fileName: z.string(), content: z.string() });
export type FileOffer = z.infer<typeof FileOfferSchema>;

export const KeyViewSchema = z.object({
  keyId: z.string(),
  type: KeyTypeSchema,
  label: z.string(),
  fingerprint: z.string(),
  createdAt: z.string(),
  /** Identity: 64 hex characters. Bundle: PKCS#1 PEM. */
  publicKey: z.string(),
  capgoKeyId: z.string().optional(),
});
export type KeyView = z.infer<typeof KeyViewSchema>;

export const FindingViewSchema = z.object({
  server: z.string(),
  kind: z.string(),
  app: z.string(),
  channel: z.string(),
  seq: z.int().nullable(),
  message: z.string(),
  foundAt: z.string().optional(),
});
export type FindingView = z.infer<typeof FindingViewSchema>;

/** Where a statement stands, as this console knows it. */
export const StatementStateSchema = z.enum(['queued', 'pending', 'applied', 'stale']);
export type StatementState = z.infer<typeof StatementStateSchema>;

/** The answer to every proposal (release, rollout, pause, resume, rollback). */
export const ProposeResultSchema = z.object({
  statementId: StatementIdSchema,
  seq: z.int(),
  /** `queued`: the server could not be reached; the statement waits in the outbox. */
  state: StatementStateSchema,
  verdict: z.nullable(VerdictSchema),
  /** A signing request for air-gapped approvers, when asked for (ARCHITECTURE.md §5). */
  request: FileOfferSchema.nullable(),
  /** Things the user should know that are not errors (e.g. built on the mirror's head offline). */
  warnings: z.array(z.string()),
  /** What the person types to confirm a push (the version on a signing-officer channel), or null. */
  confirmText: z.string().nullable(),
});
export type ProposeResult = z.infer<typeof ProposeResultSchema>;

/** Fields shared by every proposal. */
const proposalShape = {
  server: ServerUrl,
  app: AppIdSchema,
  channel: ChannelSchema,
  /** The identity key that signs; default: the only identity key in the keychain. */
  identity: KeyIdQuery.optional(),
  expiresInHours: ExpiresInHours,
  /** Also return a signing request file for air-gapped approvers. */
  exportRequest: z.boolean().default(false),
  operationId: OperationId.optional(),
};

export const PushResultViewSchema = z.object({
  seq: z.int(),
  alreadyApplied: z.boolean(),
  /** The server-signed checkpoint time; the checkpoint was verified against the pinned key. */
  checkpointTime: z.string(),
});

/** Progress of long work, sent to the window as `IpcEvents.progress`. */
export const PROGRESS_PHASES = [
  'scan',
  'zip',
  'encrypt',
  'hash',
  'upload',
  'deliver',
  'verify',
] as const;
export const ProgressUpdateSchema = z.object({
  phase: z.enum(PROGRESS_PHASES),
  done: z.number().min(0),
  total: z.number().min(0),
  unit: z.enum(['files', 'bytes', 'items', 'entries']),
  /** What is being worked on, e.g. `com.example.app/production`. */
  label: z.string().nullable(),
});
export type ProgressUpdate = z.infer<typeof ProgressUpdateSchema>;

export const ProgressEventSchema = ProgressUpdateSchema.extend({
  channel: z.string(),
  operationId: z.string().nullable(),
});
export type ProgressEvent = z.infer<typeof ProgressEventSchema>;

// ---------------------------------------------------------------------------------------------
// Status and dialogs

export const StatusSchema = z.object({
  dataDir: z.string(),
  platform: z.string(),
  appVersion: z.string(),
  keychain: z.object({ available: z.boolean(), message: z.string().nullable() }),
  keys: z.object({ identity: Count, bundle: Count }),
  servers: z.array(
    z.object({ url: z.string(), reachable: z.boolean(), error: z.string().nullable() }),
  ),
  /** True when at least one connected server answered. */
  online: z.boolean(),
  outbox: z.object({ pending: Count, failed: Count }),
});

// ---------------------------------------------------------------------------------------------
// Servers, apps, history

/** One approval policy of a trust root (src/shared/schemas/trust-root.ts PolicySchema). */
export const PolicyViewSchema = z.object({
  app: z.string(),
  channel: z.string(),
  kind: StatementKindSchema,
  threshold: z.int(),
  roles: z.array(RoleSchema),
  /** Role → approvals needed at least from that role. */
  require: z.partialRecord(RoleSchema, z.int()),
  proposerCounts: z.boolean(),
});
export type PolicyView = z.infer<typeof PolicyViewSchema>;

export const ServerViewSchema = z.object({
  url: z.string(),
  /** Trust root version 1, pinned on first contact (compare out of band). */
  pinnedRootId: z.string(),
  fingerprint: z.string(),
  rootVersion: z.int(),
  serverKeyId: z.string(),
  /** Admin signatures a new trust-root version needs, and when the current version expires. */
  rootThreshold: z.int(),
  rootExpiresAt: z.string(),
  members: z.array(
    z.object({
      keyId: z.string(),
      name: z.string(),
      roles: z.array(RoleSchema),
      /** The key id formatted for people (main computes it; the window computes nothing). */
      fingerprint: z.string(),
    }),
  ),
  /** The approval policies of the current trust root, as the root states them. */
  policies: z.array(PolicyViewSchema),
});

const ChannelLiveSchema = z.object({
  seq: z.int(),
  head: z.string().nullable(),
  current: z
    .object({
      statementId: z.string(),
      version: z.string(),
      rolloutPercent: z.number(),
      minNativeVersion: z.string(),
    })
    .nullable(),
  paused: z.boolean(),
  rolledBack: z.boolean(),
});

export const ChannelOverviewSchema = z.object({
  server: z.string(),
  app: z.string(),
  channel: z.string(),
  /** What the verified mirror says (always available, offline too). */
  mirror: z.object({
    seq: z.int(),
    head: z.string().nullable(),
    currentVersion: z.string().nullable(),
  }),
  /** What the server says now; null when it was not asked or did not answer. */
  live: ChannelLiveSchema.nullable(),
  /** Statements this console holds for the channel that are not in the log yet. */
  pendingStatements: Count,
});

const HistoryEntrySchema = z.object({
  seq: z.int(),
  id: z.string(),
  kind: z.string(),
  appliedAt: z.string(),
  proposer: z.string(),
  approvals: Count,
  version: z.string().nullable(),
  rolloutPercent: z.number().nullable(),
  /** Rollback: the release statement it returns to. */
  target: z.string().nullable(),
  /** A pause the server issued by itself (failure spike). */
  automatic: z.boolean(),
});

/** Adoption and failures of the versions released on a channel, as its server counts them. */
export const HealthSeriesSchema = z.object({
  server: z.string(),
  app: z.string(),
  channel: z.string(),
  hours: z.int(),
  /** Start of the first hour of the window. */
  since: z.string(),
  currentVersion: z.string().nullable(),
  /** The channel's automatic-pause threshold (failure rate) and sample floor; null when off. */
  failureThreshold: z.number().nullable(),
  minSamples: z.int().nullable(),
  /** In release order, oldest first. */
  versions: z.array(
    z.object({
      version: z.string(),
      /** Since the release (what the automatic pause judges). */
      totals: z.object({
        successes: Count,
        failures: Count,
        successRate: z.number().nullable(),
        /** Wilson lower bound (95 %) of the failure rate. */
        failureLowerBound: z.number().nullable(),
      }),
      /** Hours of the window with outcomes, oldest first. */
      series: z.array(z.object({ hour: z.string(), successes: Count, failures: Count })),
    }),
  ),
});
export type HealthSeries = z.infer<typeof HealthSeriesSchema>;

// ---------------------------------------------------------------------------------------------
// Approvals

export const InboxItemSchema = z.object({
  statementId: z.string(),
  server: z.string().nullable(),
  statement: StatementSchema,
  approvals: z.array(ApprovalSchema),
  /** Under the pinned trust root; null when the statement is not tied to a server. */
  verdict: z.nullable(VerdictSchema),
  state: StatementStateSchema,
});

export const ReviewSchema = z.object({
  statementId: z.string(),
  statement: StatementSchema,
  approvals: z.array(ApprovalSchema),
  /** Evaluated here under the trust root, never taken from the server or the file. */
  verdict: VerdictSchema,
  /** The server's state (server reviews only). */
  state: z.enum(['pending', 'applied', 'stale']).nullable(),
  rootFingerprint: z.string(),
  rootVersion: z.int(),
  /**
   * Request files: how the file's root chain compares with the chain pinned here for its server:
   * the same (match), a verified extension of it (match, the pin moves on approval), an older
   * prefix (stale: export the request again), another chain (mismatch) or a server never pinned
   * here (unknown: compare the fingerprint out of band).
   */
  rootPinned: z.enum(['match', 'mismatch', 'stale', 'unknown']),
  /** Why the comparison came out as it did, in one sentence. */
  rootMessage: z.string(),
  expired: z.boolean(),
  /**
   * What is signed, derived here from the statement and the verified mirror (a server review) or
   * from the statement and the request's checked evidence (a request file).
   */
  summary: RequestSummarySchema,
  /** Names of the proposer and approvers in the trust root, by key id. */
  names: z.record(z.string(), z.string()),
  /** What the person types to confirm (the version on a signing-officer channel), or null. */
  confirmText: z.string().nullable(),
  /** The identity key that would sign an approval here, or null when none is chosen. */
  signer: z
    .object({ keyId: z.string(), fingerprint: z.string(), name: z.string().nullable() })
    .nullable(),
  notes: z.array(z.string()),
});
export type Review = z.infer<typeof ReviewSchema>;

// ---------------------------------------------------------------------------------------------
// The contract

export interface ChannelContract {
  readonly request: z.core.$ZodType;
  readonly response: z.core.$ZodType;
}

export const contract = {
  [IpcChannels.appStatus]: { request: Empty, response: StatusSchema },

  [IpcChannels.dialogChooseFolder]: {
    request: z.strictObject({ purpose: z.enum(['web-build']) }),
    response: z.object({ path: z.string().nullable() }),
  },

  [IpcChannels.keysList]: {
    request: Empty,
    response: z.object({ keys: z.array(KeyViewSchema) }),
  },
  [IpcChannels.keysCreate]: {
    request: z.strictObject({
      type: KeyTypeSchema,
      label: z.string().max(200).optional(),
    }),
    response: KeyViewSchema,
  },
  [IpcChannels.keysExportPublic]: {
    request: z.strictObject({ keyId: KeyIdQuery, format: z.enum(['pem', 'hex']).default('pem') }),
    response: z.object({ text: z.string() }),
  },
  [IpcChannels.keysBackup]: {
    request: z.strictObject({ keyId: KeyIdQuery, passphrase: Passphrase }),
    response: FileOfferSchema,
  },
  [IpcChannels.keysRestore]: {
    request: z.strictObject({ content: FileText, passphrase: Passphrase }),
    response: KeyViewSchema,
  },

  [IpcChannels.serversConnect]: {
    request: z.strictObject({
      url: ServerUrl,
      /** The root id (fingerprint) the user got out of band; refused when it differs. */
      expectRootId: z
        .string()
        .regex(/^[0-9a-f]{64}$/)
        .optional(),
    }),
    response: z.object({
      url: z.string(),
      firstContact: z.boolean(),
      rootId: z.string(),
      fingerprint: z.string(),
      rootVersion: z.int(),
      findings: z.array(FindingViewSchema),
    }),
  },
  [IpcChannels.serversList]: {
    request: Empty,
    response: z.object({ servers: z.array(ServerViewSchema) }),
  },

  [IpcChannels.appsOverview]: {
    request: z.strictObject({
      server: ServerUrl.optional(),
      /** Ask the servers too (needs an identity key); false reads the mirror only. */
      live: z.boolean().default(true),
      identity: KeyIdQuery.optional(),
    }),
    response: z.object({
      channels: z.array(ChannelOverviewSchema),
      servers: z.array(
        z.object({ url: z.string(), reachable: z.boolean(), error: z.string().nullable() }),
      ),
    }),
  },

  [IpcChannels.deviceTrust]: {
    request: z.strictObject({
      server: ServerUrl,
      app: AppIdSchema,
      /** The channel the snippets name; the app's first channel by default. */
      channel: z.optional(ChannelSchema),
      /** Add this machine's admin signature when the newest root lacks its admins' threshold. */
      sign: z.boolean().default(false),
      identity: KeyIdQuery.optional(),
    }),
    response: z.object({
      /** `trust.json`, checked with the phone's own verifier (ARCHITECTURE.md §11). */
      file: FileOfferSchema,
      rootVersion: z.int(),
      /** Id of trust root version 1, and its grouped form: what people compare out of band. */
      rootId: z.string(),
      fingerprint: z.string(),
      serverKeyId: z.string(),
      signed: z.boolean(),
      capacitorConfig: z.string(),
      appCode: z.string(),
      warning: z.string().nullable(),
    }),
  },

  [IpcChannels.bundlesBuild]: {
    request: z.strictObject({
      /** A folder the user picked with `dialog:choose-folder` (others are refused). */
      webDir: z.string().min(1).max(4096),
      bundleKeyId: KeyIdQuery,
      operationId: OperationId.optional(),
    }),
    response: z.object({
      /** What a release statement carries; `encryptedSha256` names the bundle from now on. */
      bundle: BundleRefSchema,
      /** The encrypted file in the data directory. */
      path: z.string(),
    }),
  },

  [IpcChannels.releasesPropose]: {
    request: z.strictObject({
      ...proposalShape,
      version: SemverSchema,
      /** `encryptedSha256` of a bundle built by this console (`bundles:build`). */
      bundle: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters'),
      rolloutPercent: z._default(RolloutSchema.shape.percent, 100),
      minNativeVersion: z._default(SemverSchema, '0.0.0'),
      notes: z.string().max(4096).optional(),
    }),
    response: ProposeResultSchema,
  },
  [IpcChannels.releasesPush]: {
    request: z.strictObject({
      server: ServerUrl,
      statementId: StatementIdSchema,
      identity: KeyIdQuery.optional(),
      operationId: OperationId.optional(),
    }),
    response: z.object({
      statementId: z.string(),
      /** True when the server could not be reached: the push waits in the outbox. */
      queued: z.boolean(),
      applied: PushResultViewSchema.nullable(),
    }),
  },
  [IpcChannels.rolloutChange]: {
    request: z.strictObject({
      ...proposalShape,
      change: z.discriminatedUnion('kind', [
        z.strictObject({ kind: z.literal('percent'), percent: RolloutSchema.shape.percent }),
        z.strictObject({ kind: z.literal('pause') }),
        z.strictObject({ kind: z.literal('resume') }),
      ]),
    }),
    response: ProposeResultSchema,
  },
  [IpcChannels.rollbackPropose]: {
    request: z.strictObject({
      ...proposalShape,
      /** A version, or the statement id of a release applied on this channel (from the mirror). */
      to: z.string().trim().min(1).max(128),
    }),
    response: ProposeResultSchema,
  },

  [IpcChannels.approvalsInbox]: {
    request: z.strictObject({
      server: ServerUrl.optional(),
      /**
       * Ask the servers for what waits for approval there and for approvals gathered elsewhere
       * (needs an identity key).
       */
      refresh: z.boolean().default(false),
      identity: KeyIdQuery.optional(),
      limit: z.int().min(1).max(1000).default(200),
    }),
    response: z.object({ items: z.array(InboxItemSchema) }),
  },
  [IpcChannels.approvalsReview]: {
    request: z.discriminatedUnion('source', [
      z.strictObject({
        source: z.literal('server'),
        server: ServerUrl,
        statementId: StatementIdSchema,
        identity: KeyIdQuery.optional(),
      }),
      z.strictObject({
        source: z.literal('request'),
        content: FileText,
        identity: KeyIdQuery.optional(),
      }),
    ]),
    response: ReviewSchema,
  },
  [IpcChannels.approvalsApprove]: {
    request: z.discriminatedUnion('mode', [
      z.strictObject({
        mode: z.literal('online'),
        server: ServerUrl,
        statementId: StatementIdSchema,
        identity: KeyIdQuery.optional(),
      }),
      z.strictObject({
        mode: z.literal('request'),
        content: FileText,
        identity: KeyIdQuery.optional(),
        /**
         * The server's fingerprint, as its administrator gave it: required when this console has
         * never pinned the request's server (ARCHITECTURE.md §5).
         */
        rootFingerprint: z.string().trim().max(200).optional(),
      }),
    ]),
    response: z.object({
      statementId: z.string(),
      /** Online: the server's state and verdict after the approval. */
      state: z.enum(['pending', 'applied', 'stale']).nullable(),
      verdict: z.nullable(VerdictSchema),
      /** Request files: the approval file to carry back to the proposer's console. */
      approvalFile: FileOfferSchema.nullable(),
    }),
  },
  [IpcChannels.approvalsImport]: {
    request: z.strictObject({
      content: FileText,
      identity: KeyIdQuery.optional(),
      /** Push at once when the approvals known here and on the server satisfy the policy. */
      push: z.boolean().default(false),
      operationId: OperationId.optional(),
    }),
    response: z.object({
      statementId: z.string(),
      server: z.string(),
      app: z.string(),
      channel: z.string(),
      approver: z.string(),
      /** Over every approval known here and on the server, under the pinned root. */
      verdict: z.nullable(VerdictSchema),
      /** The approvals satisfy the policy: a push would apply the statement. */
      pushable: z.boolean(),
      /** What the person types to confirm the push, or null. */
      confirmText: z.string().nullable(),
      /** What the statement does, in a few words, for the confirmation. */
      kind: z.string(),
      /** A push was asked for and is queued (the server could not be reached) or went through. */
      pushQueued: z.boolean(),
      /** The push went through now. */
      applied: PushResultViewSchema.nullable(),
      /** Items still waiting in the outbox. */
      queued: Count,
    }),
  },
  [IpcChannels.approvalsExportRequest]: {
    /** A signing request (ARCHITECTURE.md §5) for a statement this console holds, for air-gapped approvers. */
    request: z.strictObject({ server: ServerUrl, statementId: StatementIdSchema }),
    response: FileOfferSchema,
  },

  [IpcChannels.historyList]: {
    request: z.strictObject({
      server: ServerUrl,
      app: AppIdSchema,
      channel: ChannelSchema,
      /** Newest first: offset 0 is the head. */
      offset: z.int().min(0).default(0),
      limit: z.int().min(1).max(500).default(100),
      /** Only the entries that match every criterion given; offset and total count those. */
      filter: z
        .strictObject({
          kind: z.optional(StatementKindSchema),
          /** Part of the release's version, in any case. */
          version: z.string().max(128).optional(),
          /** Proposed by one of these keys (from `proposers`), or, with automatic, a server pause. */
          proposers: z.array(KeyIdSchema).max(1000).optional(),
          automatic: z.boolean().optional(),
        })
        .optional(),
    }),
    response: z.object({
      /** Entries that match the filter (all of them without one). */
      total: Count,
      /** Every entry of the channel. */
      all: Count,
      /** Every key that proposed an entry of the channel, for filtering by name. */
      proposers: z.array(z.string()),
      /**
       * Whether the pinned root's rollback policy for the channel needs a signing officer: the
       * person then types the version to confirm a rollback (typedConfirmation's rule).
       */
      rollbackNeedsOfficer: z.boolean(),
      entries: z.array(HistoryEntrySchema),
    }),
  },

  [IpcChannels.healthSeries]: {
    request: z.strictObject({
      server: ServerUrl,
      app: AppIdSchema,
      channel: ChannelSchema,
      /** The window, in hours back from now (24 h, 7 days, 30 days…). */
      hours: z.int().min(1).max(HEALTH_HOURS_MAX).default(HEALTH_HOURS_DEFAULT),
      identity: KeyIdQuery.optional(),
    }),
    response: HealthSeriesSchema,
  },

  [IpcChannels.syncRun]: {
    request: z.strictObject({
      server: ServerUrl.optional(),
      app: z.optional(AppIdSchema),
      channel: z.optional(ChannelSchema),
      identity: KeyIdQuery.optional(),
      operationId: OperationId.optional(),
    }),
    response: z.object({
      servers: z.array(
        z.object({
          url: z.string(),
          delivered: Count,
          failed: z.array(
            z.object({ id: z.int(), kind: z.string(), error: z.string(), code: z.string() }),
          ),
          /** Why delivery stopped (server unreachable); the rest waits in the outbox. */
          waiting: z.string().nullable(),
          channels: z.array(
            z.object({
              app: z.string(),
              channel: z.string(),
              added: Count,
              seq: Count,
              findings: z.array(FindingViewSchema),
            }),
          ),
          /** Set when this server could not be synced at all. */
          error: z.string().nullable(),
        }),
      ),
    }),
  },

  [IpcChannels.outboxList]: {
    request: Empty,
    response: z.object({
      items: z.array(
        z.object({
          id: z.int(),
          kind: z.string(),
          statementId: z.string().nullable(),
          server: z.string(),
          state: z.enum(['pending', 'delivered', 'failed']),
          attempts: Count,
          lastError: z.string().nullable(),
          /** The stable error code of the last refusal or failure (src/shared/errors.ts). */
          lastErrorCode: z.string().nullable(),
          nextAttemptAt: z.string(),
          createdAt: z.string(),
        }),
      ),
    }),
  },
  [IpcChannels.outboxRetry]: {
    request: z.strictObject({ id: z.int().min(1) }),
    response: Done,
  },

  [IpcChannels.auditList]: {
    request: z.strictObject({
      afterSeq: z.int().min(0).default(0),
      limit: z.int().min(1).max(1000).default(200),
    }),
    response: z.object({
      entries: z.array(
        z.object({
          seq: z.int(),
          time: z.string(),
          actor: z.string(),
          action: z.string(),
          details: z.record(z.string(), z.unknown()),
          hash: z.string(),
        }),
      ),
    }),
  },
  [IpcChannels.auditVerify]: {
    request: Empty,
    response: z.object({
      ok: z.boolean(),
      entries: Count,
      head: z.string().nullable(),
      brokenAt: z.int().nullable(),
      reason: z.string().nullable(),
    }),
  },

  [IpcChannels.findingsList]: {
    request: z.strictObject({ server: ServerUrl.optional() }),
    response: z.object({ findings: z.array(FindingViewSchema) }),
  },
} as const satisfies { readonly [C in IpcChannel]: ChannelContract };

export type Contract = typeof contract;

/** What the window passes (defaults not applied yet). */
export type IpcRequestInput<C extends IpcChannel> = z.input<Contract[C]['request']>;
/** What a handler receives: the parsed request, defaults applied. */
export type IpcRequest<C extends IpcChannel> = z.output<Contract[C]['request']>;
/** What a handler returns (before main parses it with the response schema). */
export type IpcResponseInput<C extends IpcChannel> = z.input<Contract[C]['response']>;
/** What the window receives in `{ ok: true, value }`. */
export type IpcResponse<C extends IpcChannel> = z.output<Contract[C]['response']>;
