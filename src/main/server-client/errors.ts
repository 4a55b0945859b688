import { AirlockError } from '../../core/errors';
import { isErrorCode, type ErrorCode } from '../../shared/errors';

/**
 * An error answer of an Airlock server (`{error, message}`, ARCHITECTURE.md §6), as an AirlockError whose
 * message is the server's own sentence. `serverCode` is the server's stable `error` code; `code` is
 * the same when it is one of ours, else derived from the HTTP status.
 */
export class ServerApiError extends AirlockError {
  readonly status: number;
  readonly serverCode: string;

  constructor(status: number, serverCode: string, message: string) {
    super(codeFor(status, serverCode), message);
    this.name = 'ServerApiError';
    this.status = status;
    this.serverCode = serverCode;
  }
}

function codeFor(status: number, serverCode: string): ErrorCode {
  if (isErrorCode(serverCode)) return serverCode;
  if (status === 404) return 'NOT_FOUND';
  if (status === 409) return 'ALREADY_EXISTS';
  if (status === 401 || status === 403) return 'SIGNATURE_INVALID';
  if (status >= 400 && status < 500) return 'INVALID_INPUT';
  return 'INTERNAL';
}

/** The server could not be reached at all (DNS, refused, reset, timeout): one clear sentence. */
export function unreachable(baseUrl: string, cause: unknown): AirlockError<'IO_ERROR'> {
  const reason = networkReason(cause);
  return new AirlockError(
    'IO_ERROR',
    `Cannot reach the Airlock server at ${baseUrl} (${reason}); check --server and that the server is running.`,
    { cause },
  );
}

/** The most specific reason Node's fetch gives (it nests the system error in `cause`). */
function networkReason(error: unknown): string {
  let current: unknown = error;
  let message = 'network error';
  for (let depth = 0; depth < 4 && current !== null && typeof current === 'object'; depth += 1) {
    const { code, name } = current as { code?: unknown; name?: unknown };
    if (typeof code === 'string' && code !== '') return code;
    if (name === 'TimeoutError' || name === 'AbortError') return 'timed out';
    const text = (current as { message?: unknown }).message;
    if (depth > 0 && typeof text === 'string' && text !== '') message = text;
    current = (current as { cause?: unknown }).cause;
  }
  return message;
}
