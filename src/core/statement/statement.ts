import {
  SignedTrustRootSchema,
  StatementSchema,
  TrustRootSchema,
  type Approval,
  type Role,
  type RootSignature,
  type SignedTrustRoot,
  type Statement,
  type TrustRoot,
  type TrustRootInput,
} from '../../shared/schemas';
import { AirlockError } from '../errors';
import {
  base64ToBytes,
  bytesToBase64,
  canonicalize,
  ed25519Verify,
  identityKeyId,
  parseIdentityPublicKey,
  sha256Hex,
  utf8Bytes,
} from '../crypto';

/**
 * Statements, approvals and trust roots (ARCHITECTURE.md §3, §4): the signed byte strings, their ids, and
 * signature checks. ARCHITECTURE.md rule 7: `statementSigningBytes` and `rootSigningBytes` are the only
 * functions that produce the bytes Airlock signs; the domain prefix keeps a signature over one kind
 * of document from ever being valid for another.
 */

/** Domain separator of statement signatures: the signed bytes are this + JCS(statement). */
export const STATEMENT_PREFIX = 'airlock/statement/v1\n';
/** Domain separator of trust-root signatures: the signed bytes are this + JCS(root). */
export const ROOT_PREFIX = 'airlock/root/v1\n';

const SIGNATURE_BYTES = 64;

/** Something that signs with an identity key; the private key stays behind it (ARCHITECTURE.md rule 10). */
export interface IdentitySigner {
  /** Lowercase hex SHA-256 of `publicKey`. */
  readonly keyId: string;
  /** Raw 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  /** Ed25519 signature (64 bytes) over `message`. */
  sign(message: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

// ---------------------------------------------------------------------------------------------
// Parsing

interface SchemaIssue {
  readonly code: string;
  readonly path: readonly PropertyKey[];
  readonly message: string;
  readonly keys?: readonly string[];
  readonly expected?: string;
}

/** True when `path` leads to no value in `input` (a field left out, not a wrong one). */
function isAbsent(input: unknown, path: readonly PropertyKey[]): boolean {
  let value = input;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return true;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value === undefined;
}

/**
 * One sentence naming the first bad field, e.g. `Statement field "seq" must be at least 1.` Built
 * from the issue's code and the input, not from zod's default wording: the schemas use zod/mini,
 * which loads no locale where nothing else does (the device guard).
 */
function describeIssues(subject: string, issues: readonly SchemaIssue[], input: unknown): string {
  const issue = issues[0];
  if (issue === undefined) return `${subject} is invalid.`;
  const field = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys' && issue.keys !== undefined) {
    const names = issue.keys.map((key) => `"${field === '' ? key : `${field}.${key}`}"`);
    return `${subject} has an unknown field ${names.join(', ')}.`;
  }
  const where = field === '' ? subject : `${subject} field "${field}"`;
  if (issue.message.startsWith('must ')) return `${where} ${issue.message}.`;
  if (issue.code === 'invalid_type' && isAbsent(input, issue.path)) return `${where} is missing.`;
  if (issue.code === 'invalid_type' && issue.expected !== undefined) {
    return `${where} must be of type ${issue.expected}.`;
  }
  return `${where} is invalid: ${issue.message}.`;
}

/**
 * Parses an untrusted statement (ARCHITECTURE.md §3). Throws AirlockError STATEMENT_INVALID with a sentence
 * naming the bad field.
 * @example const statement = parseStatement(JSON.parse(text));
 */
export function parseStatement(input: unknown): Statement {
  const result = StatementSchema.safeParse(input);
  if (!result.success) {
    throw new AirlockError(
      'STATEMENT_INVALID',
      describeIssues('Statement', result.error.issues, input),
    );
  }
  return result.data;
}

/**
 * Parses an untrusted trust root (ARCHITECTURE.md §4), filling in defaults. Throws AirlockError INVALID_INPUT
 * with a sentence naming the bad field.
 * @example const root = parseTrustRoot(JSON.parse(text));
 */
export function parseTrustRoot(input: unknown): TrustRoot {
  const result = TrustRootSchema.safeParse(input);
  if (!result.success) {
    throw new AirlockError(
      'INVALID_INPUT',
      describeIssues('Trust root', result.error.issues, input),
    );
  }
  return result.data;
}

/**
 * Parses an untrusted signed trust root. Parsing checks shape only: call `verifyRootUpdate` or
 * `verifyRootSelfSigned` before trusting it. Throws AirlockError INVALID_INPUT.
 * @example const signed = parseSignedTrustRoot(await response.json());
 */
export function parseSignedTrustRoot(input: unknown): SignedTrustRoot {
  const result = SignedTrustRootSchema.safeParse(input);
  if (!result.success) {
    throw new AirlockError(
      'INVALID_INPUT',
      describeIssues('Signed trust root', result.error.issues, input),
    );
  }
  return result.data;
}

// ---------------------------------------------------------------------------------------------
// Signed bytes and ids

/**
 * The bytes an approval signs: UTF-8 of `"airlock/statement/v1\n" + JCS(statement)` (ARCHITECTURE.md §3).
 * The statement is validated first, so a malformed statement can never be signed. Throws AirlockError
 * STATEMENT_INVALID (or CANONICAL_JSON_UNSUPPORTED for a field set to undefined).
 * @example const bytes = statementSigningBytes(statement);
 */
export function statementSigningBytes(statement: Statement): Uint8Array {
  const parsed = parseStatement(statement);
  return utf8Bytes(STATEMENT_PREFIX + canonicalize(parsed));
}

/**
 * A statement's id: lowercase hex SHA-256 of its signed bytes (ARCHITECTURE.md §3).
 * @example const id = statementId(statement); // '9f2c…'
 */
export function statementId(statement: Statement): string {
  return sha256Hex(statementSigningBytes(statement));
}

/** An RFC 3339 UTC timestamp without milliseconds, as statements and trust roots carry them. */
export function timestamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The fields every statement kind shares (ARCHITECTURE.md §3). */
export type StatementHeader = Omit<Extract<Statement, { kind: 'resume' }>, 'kind'>;

/**
 * The shared fields of the next statement on a channel whose log stands at `position` (seq and
 * head): `seq` is the next, `prev` the head (ARCHITECTURE.md §3), valid for `lifetimeMs` from `createdAt`.
 * @example { ...nextStatementHeader(app, channel, head, key.keyId, now, DAY_MS), kind: 'pause' }
 */
export function nextStatementHeader(
  app: string,
  channel: string,
  position: { readonly seq: number; readonly head: string | null },
  proposer: string,
  createdAt: Date,
  lifetimeMs: number,
): StatementHeader {
  return {
    v: 1,
    app,
    channel,
    seq: position.seq + 1,
    prev: position.head,
    createdAt: timestamp(createdAt),
    expiresAt: timestamp(new Date(createdAt.getTime() + lifetimeMs)),
    proposer,
  };
}

/**
 * The bytes an admin signs: UTF-8 of `"airlock/root/v1\n" + JCS(root)` (ARCHITECTURE.md §4), over the parsed
 * root so that defaults (`proposerCounts: false`) are always spelled out in what is signed.
 * Throws AirlockError INVALID_INPUT for an invalid root.
 * @example const bytes = rootSigningBytes(root);
 */
export function rootSigningBytes(root: TrustRootInput): Uint8Array {
  const parsed = parseTrustRoot(root);
  return utf8Bytes(ROOT_PREFIX + canonicalize(parsed));
}

/**
 * A trust root's id (its fingerprint for out-of-band comparison): hex SHA-256 of its signed bytes.
 * @example const id = rootId(root);
 */
export function rootId(root: TrustRootInput): string {
  return sha256Hex(rootSigningBytes(root));
}

// ---------------------------------------------------------------------------------------------
// Signing

async function signBytes(
  bytes: Uint8Array,
  signer: IdentitySigner,
): Promise<{ keyId: string; sig: string }> {
  // Never trust a listed key id (ARCHITECTURE.md §3): it must be the hash of the key that signs.
  const keyId = identityKeyId(signer.publicKey);
  if (keyId !== signer.keyId) {
    throw new AirlockError('KEY_INVALID', 'The signer key id does not match its public key.');
  }
  const signature = await signer.sign(bytes);
  // A signer backed by a keychain could hold another key than it claims: check before handing out.
  if (!ed25519Verify(signature, bytes, signer.publicKey)) {
    throw new AirlockError(
      'SIGNATURE_INVALID',
      'The signer produced a signature that does not verify with its public key.',
    );
  }
  return { keyId, sig: bytesToBase64(signature) };
}

/**
 * Approves `statement` with `signer`'s identity key. Throws AirlockError STATEMENT_INVALID for a
 * malformed statement, KEY_INVALID if the signer's key id is not its key's, SIGNATURE_INVALID if the
 * signer's signature does not verify.
 * @example const approval = await createApproval(statement, signer);
 */
export async function createApproval(
  statement: Statement,
  signer: IdentitySigner,
): Promise<Approval> {
  const bytes = statementSigningBytes(statement);
  const { keyId, sig } = await signBytes(bytes, signer);
  return { statement: sha256Hex(bytes), keyId, sig };
}

/**
 * An admin signature over `root`. Same errors as `createApproval` (INVALID_INPUT for a bad root).
 * @example const signature = await signRoot(root, adminSigner);
 */
export async function signRoot(
  root: TrustRootInput,
  signer: IdentitySigner,
): Promise<RootSignature> {
  return signBytes(rootSigningBytes(root), signer);
}

// ---------------------------------------------------------------------------------------------
// Verification (never throws on bad input: returns false or a verdict)

/** Decodes a base64 signature of exactly 64 bytes, or null. Attacker-controlled input. */
export function decodeSignature(sig: string): Uint8Array | null {
  try {
    return base64ToBytes(sig, SIGNATURE_BYTES);
  } catch {
    return null;
  }
}

/** True when an RFC 3339 `expiresAt` is at or before `now`; an unparseable time counts as expired. */
export function hasExpired(expiresAt: string, now: Date): boolean {
  const expires = Date.parse(expiresAt);
  // ARCHITECTURE.md §11: an unparseable expiry must never mean "never expires".
  return Number.isNaN(expires) || now.getTime() >= expires;
}

/**
 * True only if `approval` is for exactly this statement (id recomputed), its key id is the hash of
 * `publicKey`, and its signature verifies strictly (RFC 8032 §5.1.7). Never throws.
 * @example verifyApproval(statement, approval, member.publicKey) // true
 */
export function verifyApproval(
  statement: Statement,
  approval: Approval,
  publicKey: Uint8Array,
): boolean {
  try {
    const bytes = statementSigningBytes(statement);
    // Ids and key ids are public values: a plain comparison leaks nothing secret.
    if (approval.statement !== sha256Hex(bytes)) return false;
    if (approval.keyId !== identityKeyId(publicKey)) return false;
    const signature = decodeSignature(approval.sig);
    return signature !== null && ed25519Verify(signature, bytes, publicKey);
  } catch {
    return false;
  }
}

/** A trust-root member as verifiers see it: id recomputed from the key, roles merged per key. */
export interface TrustedMember {
  readonly keyId: string;
  readonly publicKey: Uint8Array;
  readonly roles: ReadonlySet<Role>;
  readonly names: readonly string[];
}

/**
 * The members of `root`, keyed by key id recomputed from each public key. A member whose listed
 * `keyId` is not the hash of its key, or whose key is not a valid point, is left out; a key listed
 * twice becomes one entry with the union of its roles. This is what makes "one key, one vote": a
 * threshold counted over these entries cannot be met twice by one key (the TUF key-id bug class).
 * @example trustedMembers(root).get(approval.keyId)?.roles.has('signing_officer')
 */
export function trustedMembers(root: TrustRoot): ReadonlyMap<string, TrustedMember> {
  const members = new Map<string, TrustedMember>();
  for (const member of root.members) {
    let publicKey: Uint8Array;
    try {
      publicKey = parseIdentityPublicKey(member.publicKey);
    } catch {
      continue;
    }
    const keyId = identityKeyId(publicKey);
    if (keyId !== member.keyId) continue;
    const existing = members.get(keyId);
    members.set(keyId, {
      keyId,
      publicKey,
      roles: new Set([...(existing?.roles ?? []), ...member.roles]),
      names: [...(existing?.names ?? []), member.name],
    });
  }
  return members;
}

/**
 * The distinct admins of `signerRoot` whose signatures over `root` verify strictly, in the order
 * they first appear. Unknown keys, non-admins, bad signatures and repeats are skipped; an invalid
 * `root` yields no valid signatures. Never throws.
 * @example verifyRootSignatures(next.root, next.signatures, trustedRoot).valid.length
 */
export function verifyRootSignatures(
  root: TrustRootInput,
  signatures: readonly RootSignature[],
  signerRoot: TrustRoot,
): { valid: string[] } {
  let bytes: Uint8Array;
  try {
    bytes = rootSigningBytes(root);
  } catch {
    return { valid: [] };
  }
  const admins = trustedMembers(signerRoot);
  const valid: string[] = [];
  for (const { keyId, sig } of signatures) {
    const admin = admins.get(keyId);
    if (admin === undefined || !admin.roles.has('admin') || valid.includes(admin.keyId)) continue;
    const signature = decodeSignature(sig);
    if (signature !== null && ed25519Verify(signature, bytes, admin.publicKey)) {
      valid.push(admin.keyId);
    }
  }
  return { valid };
}

/** The outcome of checking a new trust root. `valid` is true only when `reasons` is empty. */
export interface RootVerdict {
  readonly valid: boolean;
  readonly reasons: readonly string[];
  /** Admins of the trusted (previous) root whose signatures verified; empty for a first contact. */
  readonly signedByPrevious: readonly string[];
  /** Admins of the new root whose signatures verified. */
  readonly signedByNext: readonly string[];
}

function thresholdReason(which: string, valid: number, threshold: number): string | null {
  // A threshold below 1 in an unparsed root must not mean "no signature needed".
  const required = Math.max(1, threshold);
  return valid >= required
    ? null
    : `${valid}/${required} valid admin signatures from the ${which} root`;
}

/** Checks that hold for any root a client accepts: valid, self-signed by threshold, not expired. */
function checkRoot(
  next: SignedTrustRoot,
  now: Date,
): { reasons: string[]; signedByNext: string[] } {
  const reasons: string[] = [];
  try {
    rootSigningBytes(next.root);
  } catch (error) {
    reasons.push(error instanceof AirlockError ? error.message : 'The new root is invalid.');
  }
  const signedByNext = verifyRootSignatures(next.root, next.signatures, next.root).valid;
  const nextReason = thresholdReason('new', signedByNext.length, next.root.rootThreshold);
  if (nextReason !== null) reasons.push(nextReason);
  // TUF 5.3.10: check for a freeze attack.
  if (hasExpired(next.root.expiresAt, now)) {
    reasons.push(`root version ${next.root.version} expired at ${next.root.expiresAt}`);
  }
  return { reasons, signedByNext };
}

/**
 * Checks that `next` may replace `previous` (ARCHITECTURE.md §4, TUF specification 5.3.4–5.3.5): version
 * exactly previous + 1; signed by `rootThreshold` admins of the previous root AND by `rootThreshold`
 * admins of the new root; not expired at `now`. The previous root may itself be expired (TUF
 * updates root before checking its expiry). Never throws.
 * @example if (!verifyRootUpdate(pinned, candidate, new Date()).valid) refuse();
 */
export function verifyRootUpdate(
  previous: TrustRoot,
  next: SignedTrustRoot,
  now: Date,
): RootVerdict {
  const reasons: string[] = [];
  // TUF 5.3.5: check for a rollback attack; versions move by exactly one, no skipping.
  if (next.root.version !== previous.version + 1) {
    reasons.push(`root version ${next.root.version} does not follow version ${previous.version}`);
  }
  // TUF 5.3.4: check for an arbitrary software attack, first with the keys already trusted…
  const signedByPrevious = verifyRootSignatures(next.root, next.signatures, previous).valid;
  const previousReason = thresholdReason(
    'previous',
    signedByPrevious.length,
    previous.rootThreshold,
  );
  if (previousReason !== null) reasons.push(previousReason);
  // …then with the new root's own keys and threshold.
  const self = checkRoot(next, now);
  reasons.push(...self.reasons);
  return {
    valid: reasons.length === 0,
    reasons,
    signedByPrevious,
    signedByNext: self.signedByNext,
  };
}

/**
 * Checks a root accepted on first contact (trust on first use, ARCHITECTURE.md §4): valid, signed by
 * `rootThreshold` of its own admins, not expired. The caller must still show its fingerprint
 * (`rootId`) for out-of-band comparison. Never throws.
 * @example const verdict = verifyRootSelfSigned(signedRoot, new Date());
 */
export function verifyRootSelfSigned(signed: SignedTrustRoot, now: Date): RootVerdict {
  const { reasons, signedByNext } = checkRoot(signed, now);
  return { valid: reasons.length === 0, reasons, signedByPrevious: [], signedByNext };
}
