import { z } from 'zod/mini';
import { SignatureBase64Schema } from './approval';
import { KeyIdSchema, StatementKindSchema, TimestampSchema } from './statement';

/**
 * The trust root (ARCHITECTURE.md §4): who may do what, and how many of them must agree. Version N+1 is valid
 * only when signed by `rootThreshold` admins of version N and of version N+1 (TUF's root chain).
 * Signed bytes: `"airlock/root/v1\n" + JCS(root)`, over the parsed root (defaults filled in).
 */

export const ROLES = [
  'admin',
  'release_manager',
  'signing_officer',
  'developer',
  'auditor',
] as const;
export const RoleSchema = z.enum(ROLES);
export type Role = z.infer<typeof RoleSchema>;

/** A raw 32-byte Ed25519 public key as 64 lowercase hex characters. */
export const PublicKeyHexSchema = z
  .string()
  .check(
    z.regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters (a raw Ed25519 public key)'),
  );

const roleList = z.array(RoleSchema).check(
  z.minLength(1, 'must name at least one role'),
  z.maxLength(ROLES.length),
  z.refine((roles) => new Set(roles).size === roles.length, 'must not repeat a role'),
);

const atLeastOne = z.int('must be an integer').check(z.minimum(1, 'must be at least 1'));

/**
 * A member of the trust root. `keyId` is informative only: verifiers recompute it from `publicKey`
 * and ignore a member whose listed id does not match (ARCHITECTURE.md §3).
 */
export const MemberSchema = z.strictObject({
  keyId: KeyIdSchema,
  publicKey: PublicKeyHexSchema,
  name: z
    .string()
    .check(z.minLength(1, 'must not be empty'), z.maxLength(128, 'must be at most 128 characters')),
  roles: roleList,
});
export type Member = z.infer<typeof MemberSchema>;

/** App pattern: `*`, an exact app id, or a prefix glob ending in `.*` such as `com.example.*`. */
export const AppPatternSchema = z
  .string()
  .check(
    z.maxLength(255, 'must be at most 255 characters'),
    z.regex(
      /^(?:\*|[A-Za-z][A-Za-z0-9_-]*(?:\.[A-Za-z][A-Za-z0-9_-]*)*\.\*|[A-Za-z][A-Za-z0-9_-]*(?:\.[A-Za-z][A-Za-z0-9_-]*)+)$/,
      'must be *, an app id, or a prefix glob such as com.example.*',
    ),
  );

/** Channel pattern: `*`, an exact channel name, or a prefix glob such as `beta-*`. */
export const ChannelPatternSchema = z
  .string()
  .check(
    z.regex(
      /^(?:\*|[a-z0-9][a-z0-9._-]{0,62}\*|[a-z0-9][a-z0-9._-]{0,63})$/,
      'must be *, a channel name, or a prefix glob such as beta-*',
    ),
  );

/**
 * An approval policy: for statements of `kind` on matching app/channel, `threshold` distinct approvers
 * holding one of `roles`, including at least `require[role]` approvers of each listed role. The
 * proposer's own approval counts only when `proposerCounts` is true.
 */
export const PolicySchema = z
  .strictObject({
    app: AppPatternSchema,
    channel: ChannelPatternSchema,
    kind: StatementKindSchema,
    threshold: atLeastOne,
    roles: roleList,
    require: z.optional(z.partialRecord(RoleSchema, atLeastOne)),
    proposerCounts: z._default(z.boolean(), false),
  })
  .check(
    z.superRefine((policy, ctx) => {
      for (const role of Object.keys(policy.require ?? {})) {
        if (!(policy.roles as readonly string[]).includes(role)) {
          ctx.addIssue({
            code: 'custom',
            path: ['require', role],
            message: `names role ${role}, which is not among the roles that count`,
          });
        }
      }
    }),
  );
export type Policy = z.infer<typeof PolicySchema>;

export const TrustRootSchema = z
  .strictObject({
    v: z.literal(1, 'must be 1'),
    version: atLeastOne,
    expiresAt: TimestampSchema,
    members: z.array(MemberSchema).check(z.maxLength(1000, 'must have at most 1000 members')),
    policies: z.array(PolicySchema).check(z.maxLength(1000, 'must have at most 1000 policies')),
    rootThreshold: atLeastOne,
  })
  .check(
    z.superRefine((root, ctx) => {
      const keyIds = new Set<string>();
      const publicKeys = new Set<string>();
      root.members.forEach((member, index) => {
        if (keyIds.has(member.keyId) || publicKeys.has(member.publicKey)) {
          ctx.addIssue({
            code: 'custom',
            path: ['members', index],
            message: 'lists a key that an earlier member already has',
          });
        }
        keyIds.add(member.keyId);
        publicKeys.add(member.publicKey);
      });
      const scopes = new Set<string>();
      root.policies.forEach((policy, index) => {
        const scope = `${policy.kind} ${policy.app} ${policy.channel}`;
        if (scopes.has(scope)) {
          ctx.addIssue({
            code: 'custom',
            path: ['policies', index],
            message: 'repeats the app, channel and kind of an earlier policy',
          });
        }
        scopes.add(scope);
      });
      const admins = root.members.filter((member) => member.roles.includes('admin')).length;
      if (root.rootThreshold > admins) {
        ctx.addIssue({
          code: 'custom',
          path: ['rootThreshold'],
          message: `is ${root.rootThreshold} but the root has only ${admins} admin(s), so it could never be updated`,
        });
      }
    }),
  );
export type TrustRoot = z.infer<typeof TrustRootSchema>;
/** What a trust root looks like before parsing fills in defaults (`proposerCounts`). */
export type TrustRootInput = z.input<typeof TrustRootSchema>;

/** One admin's Ed25519 signature over a root's signed bytes. */
export const RootSignatureSchema = z.strictObject({
  keyId: KeyIdSchema,
  sig: SignatureBase64Schema,
});
export type RootSignature = z.infer<typeof RootSignatureSchema>;

/** A trust root with the admin signatures that make it valid. */
export const SignedTrustRootSchema = z.strictObject({
  root: TrustRootSchema,
  signatures: z
    .array(RootSignatureSchema)
    .check(z.maxLength(1000, 'must have at most 1000 signatures')),
});
export type SignedTrustRoot = z.infer<typeof SignedTrustRootSchema>;
