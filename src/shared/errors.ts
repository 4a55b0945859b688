/**
 * Stable error codes: what scripts, the UI and the server's JSON errors match on. Messages are for
 * people and may change; codes may not. Add a code here before using it anywhere.
 */
export const ERROR_CODES = [
  // input
  'INVALID_ARGUMENT',
  'INVALID_INPUT',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'IO_ERROR',
  // keys and the keychain
  'KEYCHAIN_UNAVAILABLE',
  'KEY_NOT_FOUND',
  'KEY_INVALID',
  'KEY_TYPE_MISMATCH',
  'BACKUP_INVALID',
  'BACKUP_WRONG_PASSPHRASE',
  'PASSPHRASE_REQUIRED',
  // bundles
  'BUNDLE_NO_INDEX',
  'BUNDLE_PATH_REJECTED',
  'BUNDLE_SPECIAL_FILE',
  'BUNDLE_SYMLINK_OUTSIDE',
  'BUNDLE_NATIVE_CODE',
  'BUNDLE_EMPTY',
  'BUNDLE_TOO_LARGE',
  'BUNDLE_LIMIT_EXCEEDED',
  'BUNDLE_KEY_MISSING',
  'ZIP_INVALID',
  'SESSION_KEY_INVALID',
  'DECRYPT_FAILED',
  'CHECKSUM_INVALID',
  'CHECKSUM_MISMATCH',
  'PUBLIC_KEY_INVALID',
  // canonical JSON, statements, policy
  'CANONICAL_JSON_UNSUPPORTED',
  'STATEMENT_INVALID',
  'SIGNATURE_INVALID',
  'POLICY_NOT_FOUND',
  // console store
  'DB_FROM_FUTURE',
  'REQUEST_FILE_INVALID',
  'APPROVAL_FILE_INVALID',
  'DUPLICATE_APPROVAL',
  // server (admin API, ARCHITECTURE.md §6)
  'SIGNATURE_MISSING',
  'SIGNATURE_EXPIRED',
  'CLOCK_SKEW',
  'DIGEST_MISMATCH',
  'UNKNOWN_KEY',
  'NONCE_REUSED',
  'FORBIDDEN',
  'RATE_LIMITED',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'REQUEST_TIMEOUT',
  'METHOD_NOT_ALLOWED',
  'STALE',
  'SEQ_CONFLICT',
  'ROOT_CHANGED',
  'STATEMENT_EXPIRED',
  'STATEMENT_LIFETIME_TOO_LONG',
  'POLICY_NOT_SATISFIED',
  'APPROVAL_WRONG_STATEMENT',
  'APPROVAL_BY_PROPOSER',
  'APPROVAL_NOT_COUNTED',
  'BUNDLE_MISSING',
  'BUNDLE_MISMATCH',
  'VERSION_NOT_GREATER',
  'ROLLBACK_TARGET_INVALID',
  'NO_RELEASE',
  'INVALID_TRANSITION',
  'ROOT_UPDATE_INVALID',
  'DATA_DIR_EXISTS',
  'SERVER_KEY_UNSAFE',
  // anything else
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** The serializable form of an error: the only shape that leaves a process. */
export interface AppErrorShape {
  readonly code: ErrorCode;
  readonly message: string;
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}
