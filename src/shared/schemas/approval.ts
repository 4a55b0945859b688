import { z } from 'zod/mini';
import { KeyIdSchema, StatementIdSchema } from './statement';

// Canonical standard base64 (RFC 4648 §4, padded) of exactly 64 bytes: 85 free characters, then a
// last character whose unused low 4 bits are zero, then '=='. One signature, one spelling.
const SIGNATURE_BASE64 = /^[A-Za-z0-9+/]{85}[AQgw]==$/;

/** Base64 (RFC 4648 §4, canonical, padded) of a 64-byte Ed25519 signature. */
export const SignatureBase64Schema = z
  .string()
  .check(z.regex(SIGNATURE_BASE64, 'must be the canonical base64 of a 64-byte signature'));

/**
 * An approval (ARCHITECTURE.md §3): an Ed25519 signature by `keyId` over the signed bytes of the statement
 * whose id is `statement`. It is valid for that exact statement only.
 */
export const ApprovalSchema = z.strictObject({
  statement: StatementIdSchema,
  keyId: KeyIdSchema,
  sig: SignatureBase64Schema,
});
export type Approval = z.infer<typeof ApprovalSchema>;
