import { z } from 'zod/mini';
import {
  AppIdSchema,
  ChannelSchema,
  ReleaseStatementSchema,
  StatementIdSchema,
  TimestampSchema,
} from './statement';
import { ServerKeySchema, SignedCheckpointSchema } from './server-api';
import { SignedTrustRootSchema } from './trust-root';

/**
 * The device guard's files (ARCHITECTURE.md §11, ARCHITECTURE.md §11): the trust bundle built into the app, and the
 * state the guard stores between checks. Both strict, both versioned.
 */

/** The most root versions a trust bundle or one check may hold (checklist R5). */
export const MAX_ROOT_STEPS = 256;

/**
 * `trust.json`, written by `airlock device trust` (and the console): the verified root chain up to
 * the current version, version 1 first, and the server's checkpoint key. The app is built with it.
 * The chain from version 1 is kept, not only the newest root, so that a first check can judge log
 * entries applied under older roots by the same rules (checklist B1, L1).
 */
export const TrustBundleSchema = z.strictObject({
  format: z.literal('airlock-device-trust/v1'),
  /** The app this bundle is for; the guard refuses a bundle of another app. */
  app: AppIdSchema,
  /** Hex SHA-256 of root version 1: what people compare out of band. */
  rootFingerprint: z.string().check(z.regex(/^[0-9a-f]{64}$/)),
  roots: z.array(SignedTrustRootSchema).check(z.minLength(1), z.maxLength(MAX_ROOT_STEPS)),
  /** Signs every checkpoint and automatic pause. */
  serverKey: ServerKeySchema,
  createdAt: TimestampSchema,
});
export type TrustBundle = z.infer<typeof TrustBundleSchema>;

const ChannelStateSchema = z.strictObject({
  seq: z.int().check(z.minimum(0)),
  head: z.nullable(StatementIdSchema),
  currentRelease: z.nullable(StatementIdSchema),
  rolloutPercent: z.nullable(z.number().check(z.gt(0), z.lte(100))),
  paused: z.boolean(),
  rolledBack: z.boolean(),
  countingSince: z.int().check(z.minimum(0)),
});

/**
 * What the guard stores after a check that passed (checklist I5: only then, and at once). The newest
 * verified root continues the chain; the head and its checkpoint continue the log (L2, C2); the
 * channel state and the release it names are what the device was allowed to install; the seq of
 * every release lets a later rollback find its target.
 */
export const GuardStateSchema = z.strictObject({
  format: z.literal('airlock-device-state/v1'),
  app: AppIdSchema,
  channel: ChannelSchema,
  root: SignedTrustRootSchema,
  head: z.nullable(
    z.strictObject({
      seq: z.int().check(z.minimum(1)),
      id: StatementIdSchema,
      rootVersion: z.int().check(z.minimum(1)),
    }),
  ),
  checkpoint: z.nullable(SignedCheckpointSchema),
  state: ChannelStateSchema,
  current: z.nullable(z.strictObject({ id: StatementIdSchema, statement: ReleaseStatementSchema })),
  releases: z.record(StatementIdSchema, z.int().check(z.minimum(1))),
});
export type GuardState = z.infer<typeof GuardStateSchema>;
