import { AirlockError } from '../../core';
import type { ErrorCode } from '../../shared/errors';

/**
 * Errors at the HTTP edge (ARCHITECTURE.md rule 13, after Hono's HTTPException): a stable code, a sentence,
 * and the status. Errors thrown by core and the store carry a code only; `statusOf` maps it.
 */
export class HttpError<C extends ErrorCode = ErrorCode> extends AirlockError<C> {
  readonly status: number;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    code: C,
    message: string,
    options?: { cause?: unknown; headers?: Record<string, string> },
  ) {
    super(code, message, options);
    this.name = 'HttpError';
    this.status = status;
    this.headers = options?.headers ?? {};
  }
}

const STATUS: Partial<Record<ErrorCode, number>> = {
  INVALID_ARGUMENT: 400,
  INVALID_INPUT: 400,
  STATEMENT_INVALID: 400,
  CANONICAL_JSON_UNSUPPORTED: 400,
  DIGEST_MISMATCH: 400,
  APPROVAL_WRONG_STATEMENT: 400,
  SIGNATURE_MISSING: 401,
  SIGNATURE_INVALID: 401,
  SIGNATURE_EXPIRED: 401,
  CLOCK_SKEW: 401,
  UNKNOWN_KEY: 401,
  NONCE_REUSED: 401,
  FORBIDDEN: 403,
  POLICY_NOT_SATISFIED: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  ALREADY_EXISTS: 409,
  STALE: 409,
  SEQ_CONFLICT: 409,
  ROOT_CHANGED: 409,
  STATEMENT_EXPIRED: 409,
  INVALID_TRANSITION: 409,
  NO_RELEASE: 409,
  BUNDLE_MISSING: 409,
  VERSION_NOT_GREATER: 409,
  REQUEST_TIMEOUT: 408,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  IO_ERROR: 500,
};

/**
 * The HTTP status for an error code. Codes not listed (bundle and key checks from core, such as
 * CHECKSUM_MISMATCH or BUNDLE_NATIVE_CODE) are well-formed requests the server refuses: 422.
 * @example statusOf('STALE') // 409
 */
export function statusOf(code: ErrorCode): number {
  return STATUS[code] ?? 422;
}
