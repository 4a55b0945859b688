import type { AppErrorShape, ErrorCode } from '../shared/errors';

/**
 * Typed errors inside core and the services (ARCHITECTURE.md rule 6, after sigstore's `BaseError`): a stable
 * `code` from src/shared/errors.ts, a sentence a person understands, and the `cause` kept.
 * Tests assert the code, not the message.
 */
export class AirlockError<C extends ErrorCode = ErrorCode> extends Error {
  readonly code: C;

  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'AirlockError';
  }

  toShape(): AppErrorShape {
    return { code: this.code, message: this.message };
  }
}

/** Turns anything thrown into the boundary shape; unknown errors never leak their internals. */
export function toErrorShape(error: unknown): AppErrorShape {
  if (error instanceof AirlockError) return error.toShape();
  return { code: 'INTERNAL', message: 'An unexpected internal error occurred.' };
}
