/**
 * Why a check refused (ARCHITECTURE.md §11: every refusal names its rule). Stable codes: apps branch on them
 * and tests assert them; the message is for people. The checklist row each enforces is in brackets.
 */
export const REFUSAL_CODES = [
  'TRUST_BUNDLE_INVALID', // [B2] missing, unparseable, another app, chain or self-signature bad
  'STATE_INVALID', // stored state unreadable or for another app/channel
  'SERVER_KEY_MISMATCH', // the server names another checkpoint key than the pinned one
  'ROOT_CHAIN_INVALID', // [R1–R4] a root that is not exactly N+1, wrongly signed, or invalid
  'ROOT_FORK', // the server's root of a version already trusted differs from it
  'ROOT_EXPIRED', // [TUF 5.3.10] the newest root has expired
  'ROOT_CHAIN_TOO_LONG', // [R5] more root steps or bytes than one check allows
  'LOG_INVALID', // [L1–L4] an entry fails verification (the message names the rule and seq)
  'LOG_SCOPE_MISMATCH', // [L3] a page of another app or channel
  'LOG_PAGE_TOO_LARGE', // [L5] a page with more entries or bytes than asked for
  'LOG_TOO_LONG', // [L5] more pages than one check allows
  'CHECKPOINT_INVALID', // [C1] head checkpoint not the server's or not naming the verified head
  'CHECKPOINT_FORK', // [L2] another head at a seq already verified
  'CHECKPOINT_ROLLBACK', // [C2] a lower seq or an older time than the stored checkpoint
  'CHECKPOINT_STALE', // [C3, C4] older than maxCheckpointAgeSeconds
  'ROLLBACK_TARGET_UNKNOWN', // a rollback to a statement the verified log never released
  'BUNDLE_SIZE_MISMATCH', // [I4] the served bundle is not the size the statement says
  'TIMEOUT', // [T1] a request or the whole check took too long
  'NETWORK_ERROR', // [T2] the server could not be reached
  'SERVER_ERROR', // [T2] the server answered with an error status
  'RESPONSE_INVALID', // an answer that is not the JSON document asked for
  'UPDATER_FAILED', // the plugin failed to report, download or schedule
  'STORAGE_FAILED', // the state could not be read or written
] as const;
export type RefusalCode = (typeof REFUSAL_CODES)[number];

/** A refusal on its way out of the check; `check()` turns it into `{action: 'refused'}`. */
export class GuardRefusal extends Error {
  readonly code: RefusalCode;

  constructor(code: RefusalCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'GuardRefusal';
  }
}

/** Throws a refusal: the check stops here, nothing is stored, the updater is not called. */
export function refuse(code: RefusalCode, message: string, cause?: unknown): never {
  throw new GuardRefusal(code, message, cause === undefined ? undefined : { cause });
}
